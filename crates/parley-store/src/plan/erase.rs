//! Erasing a contact: what of their timeline counts as removed, how each rewritten event is
//! stamped, and which suppressions their revocations leave. The backends run `sql::erase` in the
//! order it lists, and rewrite each event of their conversations with `plan::erase_event_data`.

use parley_core::Timestamp;

/// When an event's erasure is stamped: now, or just after its previous redaction, since each
/// redaction of an event must be stamped later than the one before (the event trigger's rule).
pub fn redaction_stamp(previous: Option<i64>, at: Timestamp) -> i64 {
    previous.map_or(at.0, |r| at.0.max(r + 1))
}

/// Whether an erased event is a removed message of its own: a note is; a message is counted by
/// its row.
pub fn counts_as_message(kind: &str) -> bool {
    kind == "note.created"
}

/// The suppressions an erasure leaves: every revocation kept, once under each of the contact's
/// address digests, so a new contact with one of those addresses inherits it.
pub fn suppressions<'a, R>(
    revocations: &'a [R],
    digests: &'a [String],
) -> impl Iterator<Item = (&'a R, &'a String)> + 'a {
    revocations
        .iter()
        .flat_map(move |r| digests.iter().map(move |d| (r, d)))
}

#[cfg(test)]
mod tests {
    use parley_core::Timestamp;

    #[test]
    fn a_second_redaction_is_stamped_after_the_first() {
        assert_eq!(super::redaction_stamp(None, Timestamp(10)), 10);
        assert_eq!(super::redaction_stamp(Some(3), Timestamp(10)), 10);
        assert_eq!(super::redaction_stamp(Some(10), Timestamp(10)), 11);
    }
}
