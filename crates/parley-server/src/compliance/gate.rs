//! The gate every sender asks before queueing a message, and the dispatcher asks again before
//! sending: consent, quiet hours and lapsed numbers, judged by `parley_core::compliance`.

use parley_core::compliance::{self, Kind, Outbound, Recipient, Verdict};
use parley_core::consent::Purpose;
use parley_core::keywords;
use parley_core::message::{Direction, SenderKind};
use parley_core::{ContactId, ConversationId};
use parley_store::{ConsentContext, InboxRow, NewOutbound, OutboxJob, Scope, StoreError};
use serde_json::{json, Value};

use super::notices::CONFIRM_REQUEST;
use super::settings::OPT_OUT_FOOTER;
use super::{consent_channel, ComplianceError};
use crate::state::App;

/// What a conversation's history says about a new outbound message in it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts {
    /// The customer has written in it.
    pub customer_started: bool,
    /// A business-initiated text already went out in it (so it carried the opt-out footer).
    pub business_texted: bool,
}

/// Reads the conversation's recent history for `Facts`.
pub async fn facts(
    app: &App,
    scope: &Scope,
    conversation: Option<ConversationId>,
) -> Result<Facts, StoreError> {
    let Some(id) = conversation else {
        return Ok(Facts::default());
    };
    let entries = app.store.timeline(scope, id, None, 200).await?;
    let mut f = Facts::default();
    for e in entries.iter().filter(|e| e.event.kind == "message.created") {
        let Ok(v) = serde_json::from_str::<Value>(&e.event.data) else {
            continue;
        };
        let m = &v["message"];
        if m["direction"] == Direction::Inbound.as_str() {
            f.customer_started = true;
        } else if m["meta"]["compliance"]["business"] == true {
            f.business_texted = true;
        }
    }
    Ok(f)
}

/// The recipient's number for the gate: the channel's own address when it is a phone number.
fn recipient_phone(channel: &str, address: Option<&str>, ctx: &ConsentContext) -> Option<String> {
    match (channel, address) {
        ("sms", Some(a)) => Some(a.to_string()),
        ("whatsapp", Some(a)) if a.bytes().all(|b| b.is_ascii_digit()) => Some(format!("+{a}")),
        _ => ctx.phone.clone(),
    }
}

/// The address a message from `inbox` to `contact` goes to: the identity the store sends it to
/// (`plan::reach`, as when a conversation is started or continued). Whoever asks the gate before
/// queuing passes it, as the dispatcher passes the job's identity, so both judge the same number
/// (its area code places the recipient for quiet hours). `None` when the inbox cannot reach them.
pub(super) async fn address_on(
    app: &App,
    inbox: &InboxRow,
    contact: ContactId,
) -> Result<Option<String>, StoreError> {
    let scope = Scope::parley(inbox.workspace_id);
    let k = match app.store.contact(&scope, contact).await {
        Ok(k) => k,
        // An erased or unknown contact: the gate's own answer (denied) is the one to give.
        Err(StoreError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(parley_store::plan::reach(inbox, &k).map(|r| match r {
        parley_store::plan::Reach::Existing(i) => i.external_id.clone(),
        parley_store::plan::Reach::New(n) => n.external_id,
    }))
}

/// The gate's verdict for one message to `contact`.
pub(super) async fn verdict_for(
    app: &App,
    ws: parley_core::WorkspaceId,
    contact: ContactId,
    msg: &Outbound<'_>,
    address: Option<&str>,
) -> Result<Verdict, StoreError> {
    let mut v = verdicts(app, ws, contact, std::slice::from_ref(msg), address).await?;
    Ok(v.pop().unwrap_or(Verdict::Allow))
}

/// The gate's verdicts for messages to `contact`, with the facts read once.
async fn verdicts(
    app: &App,
    ws: parley_core::WorkspaceId,
    contact: ContactId,
    msgs: &[Outbound<'_>],
    address: Option<&str>,
) -> Result<Vec<Verdict>, StoreError> {
    let ctx = app.store.consent_context(ws, contact).await?;
    if ctx.erased {
        let deny = || Verdict::Deny {
            code: "contact_erased",
            reason: "this contact was erased; nothing can be sent to them".into(),
        };
        return Ok(msgs.iter().map(|_| deny()).collect());
    }
    let workspace = app.workspace(ws).await?;
    let policy = workspace.rules.policy(&workspace.row);
    let ledger: Vec<_> = ctx.ledger.iter().map(|e| e.entry()).collect();
    let now = app.now();
    let mut last_inbound = None;
    let mut out = Vec::with_capacity(msgs.len());
    for msg in msgs {
        let phone = recipient_phone(msg.channel, address, &ctx);
        let mut to = Recipient {
            phone: phone.as_deref(),
            timezone: ctx.timezone.as_deref(),
            last_inbound: None,
        };
        let mut v = compliance::check(msg, &ledger, &to, &policy, now);
        // Their last message can only revive a lapsed consent, so it is read only for a lapse:
        // the common path (answers, fresh consent) never pays for it.
        if matches!(v, Verdict::Deny { code, .. } if code == "inactive_number") {
            if last_inbound.is_none() {
                last_inbound = Some(app.store.last_inbound(ws, contact).await?);
            }
            to.last_inbound = last_inbound.flatten();
            v = compliance::check(msg, &ledger, &to, &policy, now);
        }
        out.push(v);
    }
    Ok(out)
}

/// A message the gate let through at compose time: its text (with the opt-out footer when it
/// needs one), the `compliance` block for its meta, and the hold when quiet hours delay it.
pub struct Admitted {
    pub body: String,
    pub block: Value,
    pub hold: Option<Value>,
}

impl Admitted {
    /// What the sender is told: allowed, or held until when and why.
    pub fn verdict(&self) -> Value {
        self.hold
            .clone()
            .unwrap_or_else(|| json!({ "verdict": "allow" }))
    }

    /// The message's meta with the compliance block added.
    pub fn meta(&self, meta: Option<Value>) -> Option<Value> {
        let mut m = meta.unwrap_or_else(|| json!({}));
        m["compliance"] = self.block.clone();
        Some(m)
    }
}

/// Asks the gate about a message an agent (or the API) is about to queue. A denial comes back
/// with the gate's code and reason, for the sender to see.
pub async fn admit(
    app: &App,
    inbox: &InboxRow,
    contact: ContactId,
    purpose: Purpose,
    facts: Facts,
    body: String,
) -> Result<Admitted, ComplianceError> {
    let channel = consent_channel(inbox);
    let msg = Outbound {
        purpose,
        channel,
        customer_started: facts.customer_started,
        kind: Kind::Message,
        channel_closed: None,
    };
    let address = address_on(app, inbox, contact).await?;
    let hold = match verdict_for(app, inbox.workspace_id, contact, &msg, address.as_deref()).await?
    {
        Verdict::Deny { code, reason } => return Err(ComplianceError::Denied { code, reason }),
        Verdict::Hold { until, reason } => {
            Some(json!({ "verdict": "hold", "until": until, "reason": reason }))
        }
        Verdict::Allow => None,
    };
    let effective = compliance::effective_purpose(&msg);
    let business = effective != Purpose::Conversational;
    let footer = business
        && channel == "sms"
        && !facts.business_texted
        && !keywords::normalize(&body).split(' ').any(|w| w == "STOP");
    let body = if footer {
        format!("{}\n\n{OPT_OUT_FOOTER}", body.trim_end())
    } else {
        body
    };
    Ok(Admitted {
        body,
        block: json!({
            "purpose": effective,
            "customer_started": facts.customer_started,
            "business": business,
            "opt_out_footer": footer,
        }),
        hold,
    })
}

/// Starts (or continues) a contact's conversation with a message the gate admitted, from an agent.
pub async fn start_admitted(
    app: &App,
    scope: &Scope,
    inbox: &InboxRow,
    contact: ContactId,
    sender: parley_core::UserId,
    admitted: Admitted,
) -> Result<parley_store::ActOutcome, StoreError> {
    let msg = NewOutbound {
        inbox: inbox.id,
        contact,
        sender: Some(sender),
        meta: admitted.meta(None),
        body: admitted.body,
    };
    let out = app.store.start_conversation(scope, msg, app.now()).await?;
    app.dispatch_bell.notify_one();
    Ok(out)
}

/// The gate's verdict on each purpose for a conversation, for the composer to show before the
/// agent writes.
pub async fn preview(
    app: &App,
    inbox: &InboxRow,
    contact: ContactId,
    facts: Facts,
    channel_closed: Option<String>,
) -> Result<Value, StoreError> {
    let msgs: Vec<Outbound<'_>> = Purpose::ALL
        .into_iter()
        .map(|purpose| Outbound {
            purpose,
            channel: consent_channel(inbox),
            customer_started: facts.customer_started,
            kind: Kind::Message,
            channel_closed: channel_closed.clone(),
        })
        .collect();
    let address = address_on(app, inbox, contact).await?;
    let found = verdicts(app, inbox.workspace_id, contact, &msgs, address.as_deref()).await?;
    let mut out = json!({});
    for (msg, v) in msgs.iter().zip(&found) {
        out[msg.purpose.as_str()] = verdict_json(v);
    }
    Ok(out)
}

/// A verdict as the composer shows it.
pub fn verdict_json(v: &Verdict) -> Value {
    match v {
        Verdict::Allow => json!({ "verdict": "allow" }),
        Verdict::Hold { until, reason } => {
            json!({ "verdict": "hold", "until": until, "reason": reason })
        }
        Verdict::Deny { code, reason } => {
            json!({ "verdict": "deny", "code": code, "reason": reason })
        }
    }
}

/// The dispatcher's check right before sending: a revocation, a lapse or quiet hours that came
/// while the message waited still stop or hold it.
pub async fn recheck(app: &App, job: &OutboxJob) -> Result<Verdict, StoreError> {
    let meta = job.message.meta.as_ref();
    let block = meta.map(|m| &m["compliance"]);
    let purpose = block
        .and_then(|b| b["purpose"].as_str())
        .and_then(Purpose::parse)
        .unwrap_or(Purpose::Conversational);
    let msg = Outbound {
        purpose,
        channel: consent_channel(&job.inbox),
        customer_started: block
            .and_then(|b| b["customer_started"].as_bool())
            .unwrap_or(true),
        kind: notice_kind(job.message.sender_kind, meta),
        channel_closed: None,
    };
    let address = Some(job.identity.external_id.as_str());
    verdict_for(app, job.inbox.workspace_id, job.contact_id, &msg, address).await
}

/// What the gate makes of a queued message: Parley's own notices (answers to HELP, STOP and
/// START, which always go, and the double opt-in request, which has its own rule) or a message.
fn notice_kind(sender: SenderKind, meta: Option<&Value>) -> Kind {
    match meta.map(|m| &m["notice"]) {
        _ if sender != SenderKind::System => Kind::Message,
        Some(Value::String(k)) if k == CONFIRM_REQUEST => Kind::ConsentRequest,
        Some(Value::String(_)) => Kind::Notice,
        _ => Kind::Message,
    }
}
