//! The messages Parley sends itself: answers to HELP, opt-in and opt-out confirmations, and the
//! double opt-in request that asks a customer to confirm a subscription made elsewhere.

use parley_core::compliance::{Kind, Outbound, Verdict};
use parley_core::consent::{self, Action, Purpose, State};
use parley_core::{ContactId, InboxId, MessageId, Timestamp};
use parley_store::{
    ConsentContext, ConsentEvent, InboxRow, NewConsent, NewOutbound, Scope, StoreError,
    WorkspaceRow,
};
use serde::Serialize;
use serde_json::{json, Value};

use super::gate::{address_on, verdict_for};
use super::settings::Settings;
use super::{consent_channel, ComplianceError};
use crate::state::App;

/// The notice kind of a double opt-in request.
pub(super) const CONFIRM_REQUEST: &str = "confirm_request";

/// Sends a message from Parley itself (a HELP answer, a confirmation) in the contact's
/// conversation on this inbox. The gate lets notices through; nothing else may use this.
pub async fn notice(
    app: &App,
    inbox: &InboxRow,
    contact: ContactId,
    kind: &str,
    body: String,
) -> Result<Option<MessageId>, StoreError> {
    queue_notice(app, inbox, contact, json!({ "notice": kind }), body).await
}

async fn queue_notice(
    app: &App,
    inbox: &InboxRow,
    contact: ContactId,
    meta: Value,
    body: String,
) -> Result<Option<MessageId>, StoreError> {
    let scope = Scope::parley(inbox.workspace_id);
    let out = app
        .store
        .start_conversation(
            &scope,
            NewOutbound {
                inbox: inbox.id,
                contact,
                sender: None,
                body,
                meta: Some(meta),
            },
            app.now(),
        )
        .await?;
    app.dispatch_bell.notify_one();
    Ok(out.message.map(|m| m.id))
}

/// What became of a double opt-in request: `sent` (queued to go now), `held` (until quiet hours
/// end at the customer), `refused` (with the gate's code and reason, or why there is no way to
/// text them), or `not_needed`.
// Fields in alphabetical order, the order this answer has always had.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Confirmation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The SMS inbox the request goes (or would have gone) out from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbox_id: Option<InboxId>,
    /// The request queued (`sent` and `held`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Option<MessageId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub sent: bool,
    pub status: &'static str,
    /// When a held request goes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

impl Confirmation {
    fn refused(code: &str, reason: &str, inbox_id: Option<InboxId>) -> Self {
        Self {
            code: Some(code.into()),
            inbox_id,
            message_id: None,
            reason: Some(reason.into()),
            sent: false,
            status: "refused",
            until: None,
        }
    }
}

/// A subscription from a form, an import or the API, under double opt-in: recorded as pending,
/// and the request to confirm it texted from the SMS inbox `request_inbox` picks, as far as the
/// gate allows. A customer who opted out by text is refused.
pub async fn request_subscription(
    app: &App,
    ws: &WorkspaceRow,
    contact: ContactId,
    purpose: Purpose,
    source: &str,
    evidence: Value,
) -> Result<(ConsentEvent, Confirmation), ComplianceError> {
    let ctx = app.store.consent_context(ws.id, contact).await?;
    let entries: Vec<_> = ctx.ledger.iter().map(|e| e.entry()).collect();
    let current = consent::deciding(&entries, purpose, "sms");
    if current.is_some_and(|e| e.action == Action::Grant) {
        // Already subscribed: nothing to confirm, and no second request.
        let e = ctx
            .ledger
            .iter()
            .rev()
            .find(|l| l.purpose == purpose && l.action == Action::Grant)
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let answer = Confirmation {
            code: None,
            inbox_id: None,
            message_id: None,
            reason: Some("already subscribed".into()),
            sent: false,
            status: "not_needed",
            until: None,
        };
        return Ok((e, answer));
    }
    if consent::state(&entries, purpose, "sms") == State::Revoked {
        return Err(ComplianceError::OptedOut);
    }
    let e = app
        .store
        .record_consent(
            ws.id,
            NewConsent {
                contact,
                purpose,
                action: Action::Request,
                source: source.into(),
                channel: Some("sms".into()),
                evidence,
                at: app.now(),
                conversation: None,
            },
        )
        .await?;
    let answer = send_request(app, ws, contact, purpose, &ctx).await?;
    Ok((e, answer))
}

/// Texts the request to confirm a pending subscription, as far as the gate allows.
async fn send_request(
    app: &App,
    ws: &WorkspaceRow,
    contact: ContactId,
    purpose: Purpose,
    ctx: &ConsentContext,
) -> Result<Confirmation, StoreError> {
    if ctx.phone.is_none() {
        return Ok(Confirmation::refused(
            "no_phone",
            "the contact has no phone number",
            None,
        ));
    }
    let Some(inbox) = request_inbox(app, ws, contact, &ctx.ledger).await? else {
        let reason = "the workspace has no SMS inbox";
        return Ok(Confirmation::refused("no_sms_inbox", reason, None));
    };
    // The number the request will go to, which may not be the contact's stored phone (they wrote
    // from another one): the gate judges that number, as the dispatcher will.
    let Some(address) = address_on(app, &inbox, contact).await? else {
        let reason = "the contact has no number this inbox can text";
        return Ok(Confirmation::refused("no_phone", reason, None));
    };
    // The gate decides at once, so the answer never claims a text the gate would stop.
    let msg = Outbound {
        purpose,
        channel: consent_channel(&inbox),
        customer_started: false,
        kind: Kind::ConsentRequest,
        channel_closed: None,
    };
    let verdict = verdict_for(app, ws.id, contact, &msg, Some(&address)).await?;
    let (sent, status, until, reason) = match verdict {
        Verdict::Deny { code, reason } => {
            return Ok(Confirmation::refused(code, &reason, Some(inbox.id)));
        }
        Verdict::Hold { until, reason } => (false, "held", Some(until), Some(reason)),
        Verdict::Allow => (true, "sent", None, None),
    };
    let body = Settings::of(ws).confirm_request_text(ws);
    let meta = json!({ "notice": CONFIRM_REQUEST, "compliance": { "purpose": purpose, "customer_started": msg.customer_started } });
    let id = queue_notice(app, &inbox, contact, meta, body).await?;
    Ok(Confirmation {
        code: None,
        inbox_id: Some(inbox.id),
        message_id: Some(id),
        reason,
        sent,
        status,
        until,
    })
}

/// The SMS inbox a double opt-in request goes out from: the one where the customer last answered
/// by text about consent (their latest STOP, START or CONFIRM names it), else the one of their
/// most recently active SMS conversation, else the workspace's first SMS inbox. The ledger's wins
/// because providers keep opt-outs per sending number (Twilio blocks the number that got the
/// STOP): the number that took their latest keyword is the one whose state at the provider
/// matches the ledger, while a number they once stopped and later wrote to may still be blocked.
async fn request_inbox(
    app: &App,
    ws: &WorkspaceRow,
    contact: ContactId,
    ledger: &[ConsentEvent],
) -> Result<Option<InboxRow>, StoreError> {
    let scope = Scope::parley(ws.id);
    let mut sms: Vec<InboxRow> = app
        .store
        .list_inboxes(&scope)
        .await?
        .into_iter()
        .filter(|i| consent_channel(i) == "sms")
        .collect();
    sms.sort_by_key(|i| (i.created_at, i.id));
    let find = |id: &str| sms.iter().find(|i| i.id.to_string() == id).cloned();
    let by_ledger = ledger
        .iter()
        .filter(|e| e.channel.as_deref().is_none_or(|c| c == "sms"))
        .filter_map(|e| Some((e.at, find(e.evidence["inbox_id"].as_str()?)?)))
        .max_by_key(|(at, _)| *at)
        .map(|(_, i)| i);
    if by_ledger.is_some() {
        return Ok(by_ledger);
    }
    let q = parley_store::ConversationQuery {
        contact: Some(contact),
        sort: parley_store::Sort::Activity,
        limit: 100,
        ..Default::default()
    };
    let convs = app.store.list_conversations(&scope, &q).await?.items;
    let by_conversation = convs
        .iter()
        .find_map(|c| sms.iter().find(|i| i.id == c.inbox_id).cloned());
    Ok(by_conversation.or_else(|| sms.into_iter().next()))
}
