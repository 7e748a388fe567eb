//! Erasing a contact: what is removed from their events, how each rewritten event is stamped,
//! and the suppressions under their address digests by which their revocations outlive them.
//! The backends run `sql::erase` in the order it lists.

use parley_core::{ContactId, Timestamp};

use crate::ContactView;

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

/// Several addresses of one contact may carry the same erased contact's revocation.
pub fn dedup_suppressions(entries: &mut Vec<crate::ConsentEvent>) {
    entries.sort_by(|a, b| {
        (a.at, a.purpose.as_str(), &a.channel, &a.source).cmp(&(
            b.at,
            b.purpose.as_str(),
            &b.channel,
            &b.source,
        ))
    });
    entries.dedup_by(|a, b| {
        (a.at, a.purpose, &a.channel, &a.source) == (b.at, b.purpose, &b.channel, &b.source)
    });
}

impl crate::Erasure {
    /// The start of erasing `view`: nothing done yet, or, when it was erased before, the answer
    /// a repeated erasure gives.
    pub fn of(view: &ContactView, at: Timestamp) -> Self {
        Self {
            contact_id: view.id,
            erased_at: view.erased_at.unwrap_or(at),
            repeated: view.erased_at.is_some(),
            conversations: 0,
            messages: 0,
            identities: if view.erased_at.is_some() {
                0
            } else {
                view.identities.len() as u64
            },
            revocations_kept: 0,
            cancelled: 0,
            attachments: Vec::new(),
        }
    }
}

/// An event's data with everything it says about an erased contact removed: message and note
/// content, the conversation snapshot's name and preview, a consent change's evidence, and a
/// delivery error (a provider may quote the number it refused).
pub fn erase_event_data(data: &str) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&super::retention::redact_event_data(data)).unwrap_or_default();
    if let Some(m) = v.get_mut("message").filter(|m| m.is_object()) {
        m["error"] = serde_json::Value::Null;
    }
    if let Some(n) = v.get_mut("note").filter(|n| n.is_object()) {
        n["body"] = serde_json::json!("");
        n["redacted"] = serde_json::json!(true);
    }
    if let Some(c) = v.get_mut("conversation").filter(|c| c.is_object()) {
        c["contact_name"] = serde_json::Value::Null;
    }
    if let Some(c) = v.get_mut("consent").filter(|c| c.is_object()) {
        c["evidence"] = erased_evidence();
    }
    if v.get("error").is_some_and(|e| !e.is_null()) {
        v["error"] = serde_json::Value::Null;
    }
    v.to_string()
}

/// What an erased contact's kept revocation says instead of its evidence.
pub fn erased_evidence() -> serde_json::Value {
    serde_json::json!({ "erased": true })
}

/// The digests of the addresses a contact has (its phone and email, and each identity), under
/// which an erasure keeps its revocations. A phone number counts by its digits, so the SMS form
/// (+14155550100) and WhatsApp's (14155550100) agree; emails count in lower case; other channel
/// ids with their channel. The workspace is part of the digest.
pub fn address_digests(
    ws: parley_core::WorkspaceId,
    phone: Option<&str>,
    email: Option<&str>,
    identities: &[(parley_core::contact::IdentityKind, &str)],
) -> Vec<String> {
    use parley_core::contact::IdentityKind as K;
    let phone_key = |p: &str| {
        let digits: String = p.chars().filter(char::is_ascii_digit).collect();
        (!digits.is_empty()).then(|| format!("phone:{digits}"))
    };
    let email_key = |e: &str| {
        let e = e.trim().to_lowercase();
        (!e.is_empty()).then(|| format!("email:{e}"))
    };
    let mut keys: Vec<String> = phone
        .and_then(phone_key)
        .into_iter()
        .chain(email.and_then(email_key))
        .collect();
    for (kind, id) in identities {
        keys.extend(match kind {
            K::Phone => phone_key(id),
            K::Whatsapp if id.bytes().all(|b| b.is_ascii_digit()) => phone_key(id),
            K::Email => email_key(id),
            other => Some(format!("{}:{id}", other.as_str())),
        });
    }
    keys.sort();
    keys.dedup();
    keys.iter()
        .map(|k| {
            use sha2::Digest;
            let mut h = sha2::Sha256::new();
            h.update(b"parley suppression v1\0");
            h.update(ws.to_string().as_bytes());
            h.update(b"\0");
            h.update(k.as_bytes());
            hex::encode(h.finalize())
        })
        .collect()
}

/// A suppression read back as a revocation on the ledger of the contact who has the address now.
pub fn suppressed_revocation(
    id: uuid::Uuid,
    contact: ContactId,
    purpose: &str,
    source: String,
    channel: Option<String>,
    at: Timestamp,
) -> Option<crate::ConsentEvent> {
    Some(crate::ConsentEvent {
        id,
        contact_id: contact,
        purpose: parley_core::consent::Purpose::parse(purpose)?,
        action: parley_core::consent::Action::Revoke,
        source,
        channel,
        evidence: serde_json::json!({ "suppressed": "revoked by a contact since erased" }),
        at,
    })
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

    #[test]
    fn an_erasure_keeps_a_survey_rating_and_drops_the_customers_words() {
        let data = crate::plan::events::conversation_event(
            serde_json::json!({ "rating": 2, "comment": "Ask for Ana Silva, +1 555 0100" }),
            &crate::ConversationView::new_thread(
                uuid::Uuid::nil().into(),
                uuid::Uuid::nil().into(),
                uuid::Uuid::nil().into(),
                Some("Ana Silva".into()),
                uuid::Uuid::nil().into(),
                parley_core::Timestamp(0),
            ),
        );
        let erased = super::erase_event_data(&data);
        assert!(
            !erased.contains("Ana") && !erased.contains("555"),
            "{erased}"
        );
        let v: serde_json::Value = serde_json::from_str(&erased).unwrap_or_default();
        assert_eq!(
            (v["rating"].as_i64(), v["comment"].is_null()),
            (Some(2), true)
        );
    }
}
