//! The account's answers: the signed-in user and their session, tokens, presence, setup, health,
//! bots, the audit log and encryption at rest. Fields in alphabetical order where the answer was
//! first written as a JSON object, the order those answers have always had.

use parley_core::role::Role;
use parley_core::{InboxId, Timestamp, TokenId, UserId, WorkspaceId};
use parley_store::Principal;
use schemars::JsonSchema;
use serde::Serialize;

/// The signed-in user, their role and the inboxes they work. Fields in alphabetical order, the
/// order this answer has always had.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MeView {
    pub email: String,
    pub id: UserId,
    pub inboxes: Vec<InboxId>,
    pub name: String,
    pub role: Role,
    pub workspace_id: WorkspaceId,
}

impl From<&Principal> for MeView {
    fn from(p: &Principal) -> Self {
        Self {
            email: p.email.clone(),
            id: p.user_id,
            inboxes: p.inboxes.clone(),
            name: p.name.clone(),
            role: p.role,
            workspace_id: p.workspace_id,
        }
    }
}

/// A new session: who signed in, and the token every cookie-authenticated write must carry in
/// `X-CSRF-Token`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SignedInView {
    pub csrf_token: String,
    pub user: MeView,
}

/// A personal API token (never its secret).
#[derive(Debug, Serialize, JsonSchema)]
pub struct TokenView {
    pub id: TokenId,
    pub name: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl From<parley_store::TokenView> for TokenView {
    fn from(t: parley_store::TokenView) -> Self {
        Self {
            id: t.id,
            name: t.name,
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A token just created, with its secret (`pat_…`), shown this once.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NewTokenView {
    pub created_at: Timestamp,
    pub id: TokenId,
    pub name: String,
    pub token: String,
}

/// Who has an open realtime connection.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PresenceView {
    pub online: Vec<UserId>,
}

/// Liveness: `other_nodes` and `warning` only when another Parley node serves the same database.
#[derive(Debug, Serialize, JsonSchema)]
pub struct HealthView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_nodes: Option<usize>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<&'static str>,
}

/// A workspace as setup answers it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WorkspaceView {
    pub created_at: Timestamp,
    pub id: parley_core::WorkspaceId,
    pub name: String,
    pub timezone: String,
}

impl From<parley_store::WorkspaceRow> for WorkspaceView {
    fn from(w: parley_store::WorkspaceRow) -> Self {
        Self {
            created_at: w.created_at,
            id: w.id,
            name: w.name,
            timezone: w.timezone,
        }
    }
}

/// A user just created by setup or as a bot, fields in alphabetical order (unlike
/// `views::UserView`, which other answers use).
#[derive(Debug, Serialize, JsonSchema)]
pub struct CreatedUserView {
    /// A bot: works through its API token, never signs in.
    pub bot: bool,
    pub created_at: Timestamp,
    pub email: String,
    pub id: UserId,
    pub name: String,
    pub role: Role,
}

impl From<parley_store::UserView> for CreatedUserView {
    fn from(u: parley_store::UserView) -> Self {
        Self {
            bot: u.bot,
            created_at: u.created_at,
            email: u.email,
            id: u.id,
            name: u.name,
            role: u.role,
        }
    }
}

/// The first workspace and its admin, signed in: the CSRF token goes with the session cookie.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SetupView {
    pub csrf_token: String,
    pub user: CreatedUserView,
    pub workspace: WorkspaceView,
}

/// A bot just added, with its API token, shown this once.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NewBotView {
    pub bot: CreatedUserView,
    pub inbox_ids: Vec<InboxId>,
    pub token: String,
}

/// One entry of the audit log: who did what to what, from where.
#[derive(Debug, Serialize, JsonSchema)]
pub struct AuditEntryView {
    pub action: String,
    pub actor_id: Option<UserId>,
    pub at: Timestamp,
    /// What the action changed, as the action records it.
    pub detail: serde_json::Value,
    pub ip: Option<String>,
    pub target: String,
    pub workspace_id: WorkspaceId,
}

impl From<parley_store::AuditEntry> for AuditEntryView {
    fn from(e: parley_store::AuditEntry) -> Self {
        Self {
            action: e.action,
            actor_id: e.actor_id,
            at: e.at,
            detail: e.detail,
            ip: e.ip,
            target: e.target,
            workspace_id: e.workspace_id,
        }
    }
}

/// Whether values are sealed at rest, under which data keys, and which seals new values.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EncryptionView {
    pub current_key: Option<u32>,
    pub data_keys: Vec<u32>,
    pub enabled: bool,
}
