//! Where business hours are kept: the workspace's in its settings document (`business_hours`),
//! each team's there too (`team_hours`, by team id: a team has no settings of its own), and an
//! inbox's in the inbox's settings (`business_hours`).

use std::collections::BTreeMap;

use parley_core::hours::{Schedule, ScheduleSpec};
use parley_core::ids::TeamId;
use parley_store::{InboxRow, WorkspaceRow};
use serde::{Deserialize, Serialize};

/// Business hours as an admin sets them: `{"time_zone": "Europe/Paris", "weekly": {"mon":
/// [["09:00", "12:00"], ["13:00", "17:00"]], "fri": [["22:00", "02:00"]]}, "special_days":
/// {"2026-12-25": [], "2026-12-24": [["09:00", "13:00"]]}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursSpec {
    /// An IANA time zone (`Europe/Paris`); the hours are wall-clock times there, DST included.
    pub time_zone: String,
    /// Per day (`mon` … `sun`), its intervals as `["HH:MM", "HH:MM"]`; an end at or before the
    /// start runs past midnight. A day left out is closed.
    #[serde(default)]
    pub weekly: BTreeMap<String, Vec<[String; 2]>>,
    /// Per date (`YYYY-MM-DD`), intervals that replace the weekday's: `[]` is closed (a holiday).
    #[serde(default)]
    pub special_days: BTreeMap<String, Vec<[String; 2]>>,
}

impl HoursSpec {
    /// The checked schedule; a refusal names the field (`time_zone`, `weekly`, `special_days`).
    pub fn schedule(&self) -> Result<Schedule, parley_core::Invalid> {
        Schedule::parse(&ScheduleSpec {
            time_zone: self.time_zone.clone(),
            weekly: self.weekly.clone(),
            special_days: self.special_days.clone(),
        })
    }
}

/// Where the hours in force come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Team,
    Inbox,
    Workspace,
    None,
}

/// The workspace settings part holding the workspace's hours.
pub(crate) const WORKSPACE_PART: &str = "business_hours";
/// The workspace settings part holding teams' hours, by team id.
pub(crate) const TEAMS_PART: &str = "team_hours";
/// The inbox settings key holding an inbox's hours.
pub(crate) const INBOX_KEY: &str = "business_hours";

fn read(v: &serde_json::Value) -> Option<HoursSpec> {
    if v.is_null() {
        return None;
    }
    serde_json::from_value(v.clone()).ok()
}

pub fn workspace_spec(ws: &WorkspaceRow) -> Option<HoursSpec> {
    read(&ws.settings[WORKSPACE_PART])
}

pub fn team_spec(ws: &WorkspaceRow, team: TeamId) -> Option<HoursSpec> {
    read(&ws.settings[TEAMS_PART][team.to_string()])
}

pub fn inbox_spec(inbox: &InboxRow) -> Option<HoursSpec> {
    read(&inbox.settings[INBOX_KEY])
}
