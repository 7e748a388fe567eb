//! The compliance routes' answers as types: the rules with their texts, the retention and
//! inactivity reports, a purge and an erasure. Keys come in alphabetical order, the order these
//! answers have always had.

use crate::views::sorted;
use parley_core::{ContactId, Timestamp};
use parley_store::{Erasure, InactiveContact, WorkspaceRow};
use schemars::JsonSchema;
use serde::Serialize;

use super::settings::{Settings, OPT_OUT_FOOTER};
use super::DAY_MS;

/// The workspace's texting rules and the texts they produce.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SettingsView {
    #[serde(serialize_with = "sorted")]
    pub settings: Settings,
    pub texts: TextsView,
}

/// The texts Parley sends under the rules.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TextsView {
    pub confirm_request: String,
    pub help: String,
    pub opt_in_confirmation: String,
    pub opt_out_confirmation: String,
    pub opt_out_footer: &'static str,
}

impl SettingsView {
    /// The rules of `ws` as stored, with their texts.
    pub fn of(ws: &WorkspaceRow) -> Self {
        let s = Settings::of(ws);
        let texts = TextsView {
            confirm_request: s.confirm_request_text(ws),
            help: s.help_text(ws),
            opt_in_confirmation: s.opt_in_text(ws),
            opt_out_confirmation: s.opt_out_text(ws),
            opt_out_footer: OPT_OUT_FOOTER,
        };
        Self { settings: s, texts }
    }
}

/// The retention period and what the next hourly run will empty.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RetentionView {
    /// Messages older than this are emptied; `null` when messages are kept.
    pub cutoff: Option<Timestamp>,
    pub next: ExpiringView,
    pub retention_days: u32,
}

/// The messages the next retention run will empty.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExpiringView {
    pub messages: u64,
    pub oldest: Option<Timestamp>,
}

/// Contacts silent longer than the inactivity period.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InactiveView {
    pub inactivity_days: u32,
    pub items: Vec<InactiveContactView>,
    /// Silent since before this; `null` when the suspension is off.
    pub silent_since: Option<Timestamp>,
}

/// A contact whose number has been silent too long.
#[derive(Debug, Serialize, JsonSchema)]
pub struct InactiveContactView {
    pub created_at: Timestamp,
    pub days_silent: i64,
    pub id: ContactId,
    /// `null`: never wrote.
    pub last_inbound_at: Option<Timestamp>,
    pub name: Option<String>,
    pub phone: String,
}

impl InactiveContactView {
    pub fn new(c: InactiveContact, now: Timestamp) -> Self {
        let last = c.last_inbound_at.unwrap_or(c.created_at);
        Self {
            created_at: c.created_at,
            days_silent: (now.0 - last.0) / DAY_MS,
            id: c.id,
            last_inbound_at: c.last_inbound_at,
            name: c.name,
            phone: c.phone,
        }
    }
}

/// How many contacts' numbers were forgotten.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PurgedView {
    pub purged: usize,
}

/// A contact erased.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErasedView {
    pub erasure: ErasureView,
}

/// What erasing a contact removed and kept, and what became of their files.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ErasureView {
    /// Queued replies that will not be sent.
    pub cancelled: u64,
    pub contact_id: ContactId,
    /// Conversations kept on the timeline, anonymised.
    pub conversations: u64,
    pub erased_at: Timestamp,
    pub files_deleted: usize,
    /// Files the blob store could not delete (logged).
    pub files_left: usize,
    /// Addresses (phone numbers, emails, channel ids) removed.
    pub identities: u64,
    /// Messages and notes whose content was removed.
    pub messages: u64,
    /// The contact had already been erased (at `erased_at`); nothing changed.
    pub repeated: bool,
    /// Revocations kept (with their evidence removed) and turned into suppressions.
    pub revocations_kept: u64,
}

impl ErasureView {
    pub fn new(done: &Erasure, files_left: usize) -> Self {
        Self {
            cancelled: done.cancelled,
            contact_id: done.contact_id,
            conversations: done.conversations,
            erased_at: done.erased_at,
            files_deleted: done.attachments.len() - files_left,
            files_left,
            identities: done.identities,
            messages: done.messages,
            repeated: done.repeated,
            revocations_kept: done.revocations_kept,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer's bytes are those `json!` gave: keys sorted all the way down.
    fn as_json_macro_wrote_it(v: &impl Serialize) {
        let text = serde_json::to_string(v).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(text, value.to_string());
    }

    #[test]
    fn the_settings_answer_keeps_its_key_order() {
        as_json_macro_wrote_it(&SettingsView {
            settings: Settings::default(),
            texts: TextsView {
                confirm_request: "c".into(),
                help: "h".into(),
                opt_in_confirmation: "i".into(),
                opt_out_confirmation: "o".into(),
                opt_out_footer: OPT_OUT_FOOTER,
            },
        });
        as_json_macro_wrote_it(&ErasedView {
            erasure: ErasureView {
                cancelled: 1,
                contact_id: ContactId(uuid::Uuid::nil()),
                conversations: 2,
                erased_at: Timestamp(0),
                files_deleted: 0,
                files_left: 0,
                identities: 3,
                messages: 4,
                repeated: false,
                revocations_kept: 5,
            },
        });
    }
}
