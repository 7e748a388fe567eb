//! What an agent's command on a conversation writes — an outbound message, or a change of the
//! conversation's state (a note among them) — and the event the change appends, decided once for
//! both backends.

use parley_core::conversation::Change;
use parley_core::message::SenderKind;
use parley_core::{TeamId, Timestamp, UserId};

use super::events::{change_json, conversation_updated, note_created};
use crate::{Attribution, Command, ConversationView, NoteView, StoreError};

/// What a command writes, decided before any write.
pub enum Act {
    /// An outbound message queued for delivery.
    Send(Outbound),
    /// A change of the conversation's state, with the note it writes when it is one.
    Change(StateChange),
}

/// An outbound message: who it is from (`actor` is `None` when Parley itself writes it), the text
/// and the meta.
pub struct Outbound {
    pub sender: SenderKind,
    pub actor: Option<UserId>,
    pub body: String,
    pub meta: Option<serde_json::Value>,
}

/// A change to fold into the conversation and record as an event.
pub struct StateChange {
    pub change: Change,
    /// The note written with the change (a `Note` command).
    pub note: Option<NoteView>,
    /// An assignment's assignee and team, which the backend checks before writing.
    pub assign: Option<(Option<UserId>, Option<TeamId>)>,
    /// Whether the labels change.
    pub labels: bool,
    actor: UserId,
    /// The rule or macro that gave the command.
    by: Option<Attribution>,
}

impl Act {
    /// What `cmd` by `actor` writes on `conv` at `at`, or why it is refused.
    pub fn of(
        conv: &ConversationView,
        cmd: Command,
        actor: UserId,
        at: Timestamp,
    ) -> Result<Act, StoreError> {
        if let Command::Attributed { by, cmd } = cmd {
            return Ok(match Act::of(conv, *cmd, actor, at)? {
                Act::Send(mut out) => {
                    let mut meta = out.meta.take().unwrap_or_else(|| serde_json::json!({}));
                    by.mark(&mut meta);
                    out.meta = Some(meta);
                    Act::Send(out)
                }
                Act::Change(mut state) => {
                    state.by = Some(by);
                    Act::Change(state)
                }
            });
        }
        let change = command_change(conv, &cmd, at)?;
        let send = |sender, by, body, meta| {
            Act::Send(Outbound {
                sender,
                actor: by,
                body,
                meta,
            })
        };
        let mut state = StateChange {
            change,
            note: None,
            assign: None,
            labels: false,
            actor,
            by: None,
        };
        match cmd {
            Command::Reply { body, meta } => {
                return Ok(send(SenderKind::Agent, Some(actor), body, meta))
            }
            Command::BotReply { body, meta } => {
                return Ok(send(SenderKind::Bot, Some(actor), body, meta))
            }
            Command::Automated { body, meta } => {
                return Ok(send(SenderKind::Automation, None, body, meta))
            }
            Command::Note { body, mentions } => {
                let id = uuid::Uuid::now_v7();
                state.note = Some(NoteView::on(id, conv, actor, body, mentions, at));
            }
            Command::Assign { assignee, team } => state.assign = Some((assignee, team)),
            Command::Labels { .. } => state.labels = true,
            Command::SetStatus { .. } | Command::SetPriority(_) => {}
            // Unwrapped above.
            Command::Attributed { .. } => {}
        }
        Ok(Act::Change(state))
    }
}

impl StateChange {
    /// The event the change appends once saved: its kind and payload.
    pub fn event(&self, conv: &ConversationView) -> (&'static str, String) {
        let (kind, data) = self.plain_event(conv);
        match &self.by {
            None => (kind, data),
            Some(by) => {
                let mut v: serde_json::Value =
                    serde_json::from_str(&data).unwrap_or(serde_json::Value::Null);
                by.mark(&mut v);
                (kind, v.to_string())
            }
        }
    }

    fn plain_event(&self, conv: &ConversationView) -> (&'static str, String) {
        match &self.note {
            Some(note) => ("note.created", note_created(note, conv)),
            None => (
                "conversation.updated",
                conversation_updated(&change_json(&self.change), Some(self.actor.as_uuid()), conv),
            ),
        }
    }
}

/// The state change a non-message command makes, or why it is refused. Reply and Note are handled by
/// the caller (they write a message or a note and change only activity and waiting-since).
fn command_change(
    conv: &ConversationView,
    cmd: &Command,
    now: Timestamp,
) -> Result<Change, StoreError> {
    let state = conv.state();
    match cmd {
        Command::Reply { .. } => Ok(Change::Outbound),
        Command::BotReply { .. } => Ok(Change::Outbound),
        Command::Automated { .. } => Ok(Change::Note),
        Command::Note { .. } => Ok(Change::Note),
        Command::SetStatus { to, snoozed_until } => {
            Ok(state.status_change(*to, *snoozed_until, now)?)
        }
        Command::Assign { assignee, team } => {
            if *assignee == state.assignee_id && *team == state.team_id {
                return Err(parley_core::conversation::ConversationError::NoChange.into());
            }
            Ok(Change::Assignment {
                assignee_id: *assignee,
                team_id: *team,
            })
        }
        Command::SetPriority(p) => {
            if *p == state.priority {
                return Err(parley_core::conversation::ConversationError::NoChange.into());
            }
            Ok(Change::Priority { priority: *p })
        }
        Command::Labels { add, remove } => Ok(state.label_change(add, remove)?),
        Command::Attributed { cmd, .. } => command_change(conv, cmd, now),
    }
}
