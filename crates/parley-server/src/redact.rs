//! Scrubs text that goes to the logs: providers' error messages quote phone numbers and email
//! addresses ("The 'To' number +1… is not a valid phone number"), and a token may ride along in
//! a URL. Numbers of seven digits or more, anything shaped like an email address, and API tokens
//! are replaced.

/// `text` with phone-like numbers, email addresses and `pat_` tokens replaced by placeholders.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if looks_like_email(word) {
            out.push_str("[email]");
        } else if let Some(at) = word.find("pat_") {
            out.push_str(&word[..at]);
            out.push_str("[token]");
        } else {
            out.push_str(word);
        }
    }
    numbers(&out)
}

fn looks_like_email(word: &str) -> bool {
    word.split_once('@')
        .is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
}

/// Replaces runs of digits (with the separators phone numbers use) holding seven digits or more.
fn numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit()
            || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        if !starts {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut j = i;
        let mut digits = 0;
        while j < chars.len() && (chars[j].is_ascii_digit() || "+-(). ".contains(chars[j])) {
            if chars[j].is_ascii_digit() {
                digits += 1;
            }
            j += 1;
        }
        // Separators at the end belong to the text around the number.
        while j > i && !chars[j - 1].is_ascii_digit() {
            j -= 1;
        }
        if digits >= 7 {
            out.push_str("[number]");
        } else {
            out.extend(&chars[i..j]);
        }
        i = j.max(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn numbers_addresses_and_tokens_are_replaced() {
        assert_eq!(
            redact("21211: The 'To' number +1 (212) 555-0199 is not a valid phone number."),
            "21211: The 'To' number [number] is not a valid phone number."
        );
        assert_eq!(
            redact("mailbox ann.lee@example.com is full"),
            "mailbox [email] is full"
        );
        assert_eq!(
            redact("GET /api/v1/realtime?token=pat_abcDEF123"),
            "GET /api/v1/realtime?token=[token]"
        );
        assert_eq!(
            redact("gave up after 4 attempts: HTTP 503"),
            "gave up after 4 attempts: HTTP 503"
        );
        assert_eq!(redact("order 123456 shipped"), "order 123456 shipped");
        assert_eq!(redact("wa_id 447700900123"), "wa_id [number]");
    }
}
