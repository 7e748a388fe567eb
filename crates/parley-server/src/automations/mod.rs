//! Automations: the rules an admin sets, evaluated (by `parley_core::automation`) when something
//! happens to a conversation, and their actions applied, attributed to the rule on the timeline.

use parley_core::ids::{ConversationId, WorkspaceId};
use parley_core::Timestamp;
use parley_store::StoreError;

use crate::state::App;

/// Something that happened to a conversation that rules may react to.
#[derive(Debug, Clone)]
pub enum Happened {
    /// A customer's message (`created`: it started the conversation), with its text.
    Received {
        created: bool,
        text: String,
    },
    Resolved,
    Reopened,
    AssignmentChanged,
    LabelsAdded {
        labels: Vec<String>,
    },
    /// A phone system reported a call from the contact.
    Call {
        from: String,
        at: Timestamp,
        answered: bool,
    },
}

/// Runs the workspace's rules for what happened to `conv`, after it was committed.
pub async fn react(
    app: &App,
    ws: WorkspaceId,
    conv: ConversationId,
    what: Happened,
) -> Result<(), StoreError> {
    let _ = (app, ws, conv, what);
    Ok(())
}

/// Runs a rule's time trigger whose timer fell due (`kind` "rule"), before the timer is deleted;
/// an error leaves the timer to be tried again.
pub async fn on_timer(app: &App, timer: &parley_store::TimerRow) -> Result<(), StoreError> {
    let _ = (app, timer);
    Ok(())
}
