//! Merging two contacts: what is refused, what a thread that absorbs another becomes, and what
//! the kept contact keeps. The backends move the rows (`sql::merge`) in the order they list.

use parley_core::conversation::Status;
use parley_core::{ContactId, Timestamp, UserId};

use crate::{ContactView, ConversationView, StoreError, StoreResult};

/// A contact cannot absorb itself.
pub fn check(kept: ContactId, absorbed: ContactId) -> StoreResult<()> {
    if kept == absorbed {
        return Err(StoreError::Invalid {
            field: "contact_id",
            reason: "a contact cannot be merged into itself".into(),
        });
    }
    Ok(())
}

/// Folds the absorbed contact's thread `from` into the kept contact's thread of the same inbox:
/// the earlier wait and first reply, the later activity, both threads' labels, open again when
/// someone waits. Answers the `conversation.updated` event's data.
pub fn fold_thread(
    into: &mut ConversationView,
    from: &ConversationView,
    keep: &ContactView,
    gone: &ContactView,
    actor: UserId,
    at: Timestamp,
) -> String {
    into.waiting_since = earlier(into.waiting_since, from.waiting_since);
    into.first_reply_at = earlier(into.first_reply_at, from.first_reply_at);
    into.last_activity_at = into.last_activity_at.max(from.last_activity_at).max(at);
    for l in &from.labels {
        if !into.labels.contains(l) {
            into.labels.push(l.clone());
        }
    }
    into.labels.sort();
    if into.waiting_since.is_some() {
        into.status = Status::Open;
        into.snoozed_until = None;
    }
    into.contact_name = keep.name.clone().or(gone.name.clone());
    let change = serde_json::json!({ "kind": "merge", "absorbed_conversation_id": from.id });
    super::events::conversation_updated(&change, Some(actor.as_uuid()), into)
}

fn earlier(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The kept contact after the merge: its own name and addresses, else the absorbed one's; custom
/// fields of both, its own winning.
pub fn merged_contact(keep: ContactView, gone: ContactView) -> ContactView {
    let mut fields = gone.custom_fields;
    fields.extend(keep.custom_fields);
    ContactView {
        name: keep.name.or(gone.name),
        email: keep.email.or(gone.email),
        phone: keep.phone.or(gone.phone),
        custom_fields: fields,
        ..keep
    }
}
