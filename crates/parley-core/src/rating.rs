//! A satisfaction rating typed as a reply ("5", "4/5", "five", "⭐⭐⭐⭐", 👍, "5 - great service"),
//! on the survey's scale of 1 to 5. Anything that is not clearly a rating is `None`, so an ordinary
//! message is never taken for one.

/// The survey's scale: ratings run from 1 to `SCALE`.
pub const SCALE: u8 = 5;

const WORDS: [(&str, u8); 5] = [
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
];

/// The rating a customer's reply gives, when the whole reply starts with one: a number or a
/// number word from 1 to 5 (optionally "/5", "out of 5" or "stars" after it) followed by nothing
/// or by a separator and a comment; a run of one to five stars (⭐ or ★); a thumbs up (the top of
/// the scale) or down (the bottom).
pub fn parse(text: &str) -> Option<u8> {
    let t = text.trim();
    if let Some(r) = thumbs(t).or_else(|| stars(t)) {
        return Some(r);
    }
    let (n, rest) = leading_number(t)?;
    let rest = after_scale(rest.trim_start_matches(SPACE));
    ends_the_rating(rest).then_some(n)
}

fn thumbs(t: &str) -> Option<u8> {
    if t.starts_with('👍') {
        Some(SCALE)
    } else if t.starts_with('👎') {
        Some(1)
    } else {
        None
    }
}

fn stars(t: &str) -> Option<u8> {
    let mut count = 0u8;
    for c in t.chars() {
        match c {
            '⭐' | '★' => count = count.saturating_add(1),
            // An emoji presentation selector, or spaces between the stars.
            '\u{FE0F}' | ' ' => {}
            _ => break,
        }
    }
    (1..=SCALE).contains(&count).then_some(count)
}

/// A digit or number word from 1 to 5 at the start, and what follows it.
fn leading_number(t: &str) -> Option<(u8, &str)> {
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 {
        let n: u8 = t[..digits].parse().ok()?;
        return (1..=SCALE).contains(&n).then_some((n, &t[digits..]));
    }
    let word_len = t.chars().take_while(|c| c.is_alphabetic()).count();
    let word: String = t.chars().take(word_len).collect();
    let (_, n) = WORDS.iter().find(|(w, _)| word.eq_ignore_ascii_case(w))?;
    Some((*n, &t[word.len()..]))
}

/// Spaces within a line; a line break ends the rating (a comment may follow on the next line).
const SPACE: [char; 2] = [' ', '\t'];

/// Skips "/5", "out of 5", "of 5" or "stars" after the number: the scale it is on must be ours.
fn after_scale(rest: &str) -> &str {
    let lower = rest.to_ascii_lowercase();
    for prefix in ["/", "out of", "of"] {
        if let Some(after) = lower.strip_prefix(prefix) {
            let skipped = rest.len() - after.len();
            let after = rest[skipped..].trim_start();
            return match after.strip_prefix('5') {
                Some(tail) if !tail.starts_with(|c: char| c.is_ascii_digit()) => {
                    tail.trim_start_matches(SPACE)
                }
                // "4/10" or "3 of them" is not on our scale: nothing may end the rating here.
                _ => "\u{0}",
            };
        }
    }
    for word in ["stars", "star"] {
        if lower.starts_with(word) {
            return rest[word.len()..].trim_start_matches(SPACE);
        }
    }
    rest
}

/// Whether what follows the rating leaves it a rating: nothing, or a separator or line break
/// before a comment ("5 - great service", "4! thanks", "5, lovely", "5\nQuick"). "4.5" or
/// "5 minutes late" is not a rating.
fn ends_the_rating(rest: &str) -> bool {
    let Some(first) = rest.chars().next() else {
        return true;
    };
    if !matches!(
        first,
        '-' | '–' | '—' | ':' | ',' | '.' | '!' | ')' | ';' | '\n' | '\r'
    ) {
        return false;
    }
    let after = rest[first.len_utf8()..].trim_start();
    !after.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ratings_in_the_ways_customers_type_them() {
        for (text, want) in [
            ("5", 5),
            (" 3 ", 3),
            ("4/5", 4),
            ("4 / 5", 4),
            ("2 out of 5", 2),
            ("5 stars", 5),
            ("1 star", 1),
            ("five", 5),
            ("Four!", 4),
            ("THREE", 3),
            ("⭐⭐⭐⭐", 4),
            ("⭐⭐⭐", 3),
            ("★★", 2),
            ("⭐️⭐️⭐️⭐️⭐️", 5),
            ("⭐ ⭐ ⭐", 3),
            ("⭐⭐⭐⭐ quick and kind", 4),
            ("👍", 5),
            ("👍🏽", 5),
            ("👎", 1),
            ("👍 thanks", 5),
            ("5 - great service", 5),
            ("4, quick but a bit curt", 4),
            ("3: ok", 3),
            ("5!", 5),
            ("4.", 4),
            ("1 — never again", 1),
            ("5\nQuick and kind", 5),
            ("4 stars\r\nthanks", 4),
            ("5\n\nOn Tue, Shop wrote:\n> How did we do?", 5),
        ] {
            assert_eq!(parse(text), Some(want), "{text:?}");
        }
    }

    #[test]
    fn anything_else_is_an_ordinary_message() {
        for text in [
            "",
            "thanks!",
            "0",
            "6",
            "10",
            "55",
            "4/10",
            "4.5",
            "5 minutes late",
            "2 more questions",
            "3 of them arrived broken",
            "one more thing",
            "five stars? no way",
            "onetwo",
            "my order 12345",
            "⭐⭐⭐⭐⭐⭐",
            "great ⭐",
            "call me at 555-1234",
            "+15551234567",
            "3\n4",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    fn no_number_words(s: &str) -> bool {
        let lower = s.to_lowercase();
        !WORDS.iter().any(|(w, _)| lower.contains(w))
    }

    proptest! {
        #[test]
        fn text_without_digits_stars_or_thumbs_is_no_rating(
            s in "[^0-9⭐★👍👎]{0,40}".prop_filter("no number words", |s| no_number_words(s))
        ) {
            prop_assert_eq!(parse(&s), None);
        }

        #[test]
        fn a_rating_with_any_comment_after_a_dash_is_that_rating(
            n in 1u8..=5,
            comment in "[a-zA-Z ]{0,30}"
        ) {
            prop_assert_eq!(parse(&format!("{n} - {comment}")), Some(n));
        }
    }
}
