//! A visitor's token: their id signed with the inbox's secret, kept in their browser so their
//! thread survives page loads; a token another inbox issued, or one tampered with, does not verify.

use parley_channels::api;
use parley_store::InboxRow;

fn visitor_message(inbox: &InboxRow, visitor: &str) -> String {
    format!("parley-widget/{}/{visitor}", inbox.id)
}

/// A visitor's token: their id and a signature under the inbox's secret.
pub(super) fn issue_token(inbox: &InboxRow, visitor: &str) -> String {
    let sig = api::sign(&inbox.secret, visitor_message(inbox, visitor).as_bytes());
    format!("{visitor}.{}", sig.trim_start_matches("sha256="))
}

/// The visitor id of a token this inbox issued.
pub(super) fn check_token(inbox: &InboxRow, token: &str) -> Option<String> {
    let (visitor, sig) = token.split_once('.')?;
    let visitor = uuid::Uuid::parse_str(visitor).ok()?.to_string();
    let header = format!("sha256={sig}");
    api::verify(
        &inbox.secret,
        Some(&header),
        visitor_message(inbox, &visitor).as_bytes(),
    )
    .ok()?;
    Some(visitor)
}
