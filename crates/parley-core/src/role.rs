//! Roles a user holds in a workspace, and what each may do.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Settings, users, exports; sees every inbox.
    Admin,
    /// All conversations of their inboxes, reports, reassignment.
    Supervisor,
    /// Their inboxes.
    Agent,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Supervisor => "supervisor",
            Role::Agent => "agent",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "supervisor" => Some(Role::Supervisor),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }

    /// Whether this role sees every inbox of the workspace rather than only those it is a member of.
    pub fn sees_all_inboxes(self) -> bool {
        matches!(self, Role::Admin)
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Role::Admin)
    }
}
