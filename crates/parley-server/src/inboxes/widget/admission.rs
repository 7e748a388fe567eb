//! Who may open a visitor's socket: only on the site the widget is offered on, a token that
//! verifies continues its visitor's thread, and each visitor and address within their limits.

use std::net::IpAddr;

use parley_core::InboxId;
use parley_store::{InboxRow, StoreError};
use serde_json::Value;

use super::limits::Slot;
use super::KIND;
use crate::state::App;

/// Why a visitor's socket is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// No widget inbox has this id.
    #[error("not found")]
    NoWidget,
    /// The page is on another site than the one the widget is offered on.
    #[error("this chat is only offered on the business's own site")]
    OtherSite,
    /// Too many sockets for this visitor or address.
    #[error("{0}")]
    Limited(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A visitor let in: their inbox, who they are, and their place in the limits.
pub struct Admitted {
    pub inbox: InboxRow,
    pub visitor: String,
    pub slot: Slot,
}

/// Lets a visitor open a socket on the widget `inbox_id`, from a page at `origin`, continuing
/// the visitor `token` names when it verifies (otherwise a new visitor).
pub async fn admit(
    app: &App,
    inbox_id: InboxId,
    origin: Option<&str>,
    token: Option<&str>,
    ip: Option<IpAddr>,
) -> Result<Admitted, Refused> {
    let inbox = app
        .hook_inbox(inbox_id)
        .await?
        .filter(|i| i.kind == KIND)
        .ok_or(Refused::NoWidget)?;
    if let Some(allowed) = inbox.settings.get("website_origin").and_then(Value::as_str) {
        let own = super::settings::origin_of(&app.config.public_url).ok();
        if origin != Some(allowed) && origin.map(str::to_string) != own {
            return Err(Refused::OtherSite);
        }
    }
    // A token that does not verify (another inbox's, or tampered with) starts a new visitor.
    let visitor = token
        .and_then(|t| super::tokens::check_token(&inbox, t))
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let slot = app
        .widget_limits
        .open(&visitor, ip)
        .map_err(|r| Refused::Limited(r.0))?;
    Ok(Admitted {
        inbox,
        visitor,
        slot,
    })
}
