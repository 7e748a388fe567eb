//! Statements whose text is the same on SQLite and PostgreSQL, written once. Parameters are `$1`,
//! `$2`, …; SQLite numbers `$n` by where each first appears, so in every statement here they
//! first appear in ascending order (a test checks), and both backends bind them by position.

/// One row when the user is an admin of the workspace or a member of the inbox.
/// `$1` workspace, `$2` user, `$3` inbox.
pub const ASSIGNEE_WORKS_INBOX: &str = "SELECT m.role FROM membership m \
     WHERE m.workspace_id = $1 AND m.user_id = $2 \
     AND (m.role = 'admin' OR EXISTS (SELECT 1 FROM inbox_member im WHERE im.inbox_id = $3 AND im.user_id = $2))";

/// Every shared statement, for the test of their parameter order.
pub const ALL: &[&str] = &[ASSIGNEE_WORKS_INBOX];

#[cfg(test)]
mod tests {
    /// SQLite gives `$n` the next free index where it first appears; that index must be `n`.
    #[test]
    fn parameters_first_appear_in_ascending_order() {
        for sql in super::ALL {
            let mut seen: Vec<u32> = Vec::new();
            let mut rest = *sql;
            while let Some(i) = rest.find('$') {
                rest = &rest[i + 1..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let Ok(n) = digits.parse::<u32>() else {
                    continue;
                };
                if !seen.contains(&n) {
                    assert_eq!(n as usize, seen.len() + 1, "{sql}");
                    seen.push(n);
                }
            }
        }
    }
}
