//! Business hours: the workspace's weekly schedule with its holidays, overridden per inbox and per
//! team, and what rules, auto-replies and reports ask of it (open now? when next?). The four
//! auto-replies that set customers' expectations live here too (`replies`, `react`).

mod api;
pub mod react;
pub mod replies;
pub mod spec;
pub mod wait;

use parley_core::hours::Schedule;
use parley_core::ids::TeamId;
use parley_store::{InboxRow, StoreError};

use crate::http::routes::route;
use crate::state::App;
pub use spec::{HoursSpec, Source};

/// How far back `{{expected_wait}}` looks for first responses.
const WAIT_WINDOW_MS: i64 = 3_600_000;

/// The schedule that holds for a conversation in `inbox` (handled by `team`, when it has one): the
/// team's override, else the inbox's, else the workspace's. `None` when none is set: always open.
pub async fn schedule_of(
    app: &App,
    inbox: &InboxRow,
    team: Option<TeamId>,
) -> Result<Option<Schedule>, StoreError> {
    Ok(effective(app, inbox, team).await?.map(|e| e.schedule))
}

/// A schedule in force, with its zone and where it was set.
pub struct Effective {
    pub schedule: Schedule,
    pub spec: HoursSpec,
    pub source: Source,
}

/// The schedule in force for `inbox` (and `team`), with where it comes from; `None`: always open.
pub async fn effective(
    app: &App,
    inbox: &InboxRow,
    team: Option<TeamId>,
) -> Result<Option<Effective>, StoreError> {
    let ws = app.workspace(inbox.workspace_id).await?;
    let candidates = [
        team.map(|t| (spec::team_spec(&ws.row, t), Source::Team)),
        Some((spec::inbox_spec(inbox), Source::Inbox)),
        Some((spec::workspace_spec(&ws.row), Source::Workspace)),
    ];
    for (found, source) in candidates.into_iter().flatten() {
        let Some(spec) = found else { continue };
        match spec.schedule() {
            Ok(schedule) => {
                return Ok(Some(Effective {
                    schedule,
                    spec,
                    source,
                }))
            }
            // Checked when saved; a zone the time-zone database has since dropped is skipped.
            Err(e) => {
                tracing::warn!(inbox = %inbox.id, reason = %e, "stored business hours unreadable")
            }
        }
    }
    Ok(None)
}

/// The expected wait a customer writing to `inbox` now is told (`{{expected_wait}}`): the median
/// first-response time of the last hour in that inbox while open, or when it next opens.
pub async fn expected_wait(
    app: &App,
    inbox: &InboxRow,
    now: parley_core::Timestamp,
) -> Result<String, StoreError> {
    wait_for(app, inbox, None, now).await
}

/// `expected_wait` for a conversation `team` handles: the team's hours decide when it opens.
pub async fn wait_for(
    app: &App,
    inbox: &InboxRow,
    team: Option<TeamId>,
    now: parley_core::Timestamp,
) -> Result<String, StoreError> {
    if let Some(e) = effective(app, inbox, team).await? {
        if !e.schedule.is_open(now) {
            let next = e.schedule.next_open(now);
            return Ok(wait::opening(&e.spec.time_zone, now, next));
        }
    }
    let since = parley_core::Timestamp(now.0 - WAIT_WINDOW_MS);
    let until = parley_core::Timestamp(now.0 + 1);
    let mut pace = app
        .store
        .inbox_pace(inbox.workspace_id, inbox.id, since, until)
        .await?;
    let default = replies::AutoReplies::of(inbox).default_wait;
    Ok(wait::phrase(
        wait::median(&mut pace.first_responses_ms),
        &default,
    ))
}

/// The business hours' routes.
pub fn routes() -> Vec<crate::http::routes::Route> {
    use crate::http::routes::Answer;
    vec![
        route!(get "/api/v1/business-hours" => api::get_workspace, "hours", Member, "The workspace's business hours (`hours`: null when none are set: always open)", response = api::HoursView),
        route!(put "/api/v1/business-hours" => api::put_workspace, "hours", Admin, "Set the workspace's business hours: an IANA `time_zone`, `weekly` intervals per day (`mon`…`sun`: [[\"09:00\", \"17:00\"]], several a day, `22:00`–`02:00` runs past midnight) and `special_days` (`YYYY-MM-DD`: [] closed, or other hours)", body = HoursSpec, response = api::HoursView),
        route!(delete "/api/v1/business-hours" => api::delete_workspace, "hours", Admin, "Remove the workspace's business hours (always open)", answer = Answer::NoContent),
        route!(get "/api/v1/business-hours/status" => api::status, "hours", Member, "For each inbox you work: open now, when it next opens, its zone and where its hours come from (`inbox`, `workspace` or `none`)", response = crate::views::Items<api::InboxHoursStatus>),
        route!(get "/api/v1/inboxes/{id}/business-hours" => api::get_inbox, "hours", Member, "An inbox's own business hours, overriding the workspace's (`hours`: null when it has none)", response = api::HoursView),
        route!(put "/api/v1/inboxes/{id}/business-hours" => api::put_inbox, "hours", Admin, "Set an inbox's own business hours (as for the workspace)", body = HoursSpec, response = api::HoursView),
        route!(delete "/api/v1/inboxes/{id}/business-hours" => api::delete_inbox, "hours", Admin, "Remove an inbox's own business hours: the workspace's hold", answer = Answer::NoContent),
        route!(get "/api/v1/teams/{id}/business-hours" => api::get_team, "hours", Member, "A team's own business hours, overriding its inboxes' for the conversations it handles (`hours`: null when it has none)", response = api::HoursView),
        route!(put "/api/v1/teams/{id}/business-hours" => api::put_team, "hours", Admin, "Set a team's own business hours (as for the workspace)", body = HoursSpec, response = api::HoursView),
        route!(delete "/api/v1/teams/{id}/business-hours" => api::delete_team, "hours", Admin, "Remove a team's own business hours", answer = Answer::NoContent),
        route!(get "/api/v1/inboxes/{id}/auto-replies" => replies::get_auto_replies, "hours", Member, "An inbox's four auto-replies (normal, peak, after hours, overnight urgent): each on/off with its text, and when each applies", response = replies::AutoReplies),
        route!(put "/api/v1/inboxes/{id}/auto-replies" => replies::put_auto_replies, "hours", Admin, "Set an inbox's auto-replies; texts may use merge fields (`{{first_name | there}}`, `{{expected_wait}}`, …)", body = replies::AutoReplies, response = replies::AutoReplies),
    ]
}
