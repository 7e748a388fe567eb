//! Contact search: the LIKE patterns SQL matches with, and the same match for values opened in
//! memory (encryption at rest).

/// LIKE patterns for a contact search: the text anywhere (with `%`, `_` and backslash escaped), and for
/// phone numbers the digits alone, so "555 0100" finds +14155550100.
pub fn search_patterns(q: &str) -> (String, String) {
    let like = |t: &str| {
        format!(
            "%{}%",
            t.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    };
    let q = q.trim().to_lowercase();
    let pattern = like(&q);
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let digit_pattern = if digits.len() >= 3 && !q.chars().any(char::is_alphabetic) {
        like(&digits)
    } else {
        pattern.clone()
    };
    (pattern, digit_pattern)
}

/// Whether a contact matches a search the way `search_patterns` match in SQL, for values that are
/// opened in memory (encryption at rest): the text anywhere in the name, email or an address, and
/// for phone numbers the digits alone.
pub fn search_matches(
    q: &str,
    name: Option<&str>,
    email: Option<&str>,
    phone: Option<&str>,
    addresses: &[String],
) -> bool {
    let q = q.trim().to_lowercase();
    if q.is_empty() {
        return true;
    }
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let phone_needle = if digits.len() >= 3 && !q.chars().any(char::is_alphabetic) {
        digits
    } else {
        q.clone()
    };
    let has = |v: Option<&str>, n: &str| v.is_some_and(|v| v.to_lowercase().contains(n));
    has(name, &q)
        || has(email, &q)
        || has(phone, &phone_needle)
        || addresses.iter().any(|a| a.to_lowercase().contains(&q))
}
