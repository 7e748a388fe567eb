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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The bytes a view writes are those of the JSON object the answer used to be built as.
    fn same_bytes(view: impl Serialize, old: serde_json::Value) {
        assert_eq!(
            serde_json::to_string(&view).unwrap(),
            serde_json::to_string(&old).unwrap()
        );
    }

    fn user() -> parley_store::UserView {
        parley_store::UserView {
            id: UserId(uuid::Uuid::nil()),
            email: "ann@acme.test".into(),
            name: "Ann".into(),
            role: Role::Admin,
            bot: false,
            created_at: Timestamp(1),
        }
    }

    #[test]
    fn object_answers_keep_their_bytes() {
        let ws = parley_store::WorkspaceRow {
            id: WorkspaceId(uuid::Uuid::nil()),
            name: "Acme".into(),
            timezone: "UTC".into(),
            settings: json!({ "replies": [] }),
            created_at: Timestamp(2),
        };
        let old = json!({ "workspace": ws, "user": user(), "csrf_token": "c" });
        let view = SetupView {
            csrf_token: "c".into(),
            user: user().into(),
            workspace: ws.into(),
        };
        same_bytes(view, old);
        let inbox_ids = vec![InboxId(uuid::Uuid::nil())];
        let old = json!({ "bot": user(), "token": "t", "inbox_ids": inbox_ids });
        let view = NewBotView {
            bot: user().into(),
            inbox_ids,
            token: "t".into(),
        };
        same_bytes(view, old);
        let entry = parley_store::AuditEntry {
            workspace_id: WorkspaceId(uuid::Uuid::nil()),
            actor_id: None,
            action: "auth.sign_in".into(),
            target: "x".into(),
            detail: json!({ "b": 1, "a": [2] }),
            ip: Some("127.0.0.1".into()),
            at: Timestamp(3),
        };
        let old = json!({ "items": [entry.clone()] });
        same_bytes(
            crate::views::Items {
                items: vec![AuditEntryView::from(entry)],
            },
            old,
        );
    }

    #[test]
    fn health_and_encryption_keep_their_bytes() {
        let view = |others: Option<usize>| HealthView {
            other_nodes: others,
            status: "ok",
            warning: others.map(|_| "w"),
        };
        same_bytes(view(None), json!({ "status": "ok" }));
        same_bytes(
            view(Some(2)),
            json!({ "status": "ok", "other_nodes": 2, "warning": "w" }),
        );
        same_bytes(
            EncryptionView {
                current_key: None,
                data_keys: vec![],
                enabled: false,
            },
            json!({ "enabled": false, "data_keys": [], "current_key": null }),
        );
        same_bytes(
            EncryptionView {
                current_key: Some(2),
                data_keys: vec![1, 2],
                enabled: true,
            },
            json!({ "enabled": true, "data_keys": [1, 2], "current_key": 2 }),
        );
    }
}
