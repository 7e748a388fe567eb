//! Texting law in the server: each workspace's compliance settings, the gate every sender asks
//! before queueing (and the dispatcher asks again before sending), and the notices Parley sends
//! itself (HELP answers, opt-in and opt-out confirmations, double opt-in requests). Keywords in
//! customers' messages are recognised and answered on the inbound path (`inbound::keywords`).

pub mod api;

use parley_core::compliance::{self, Kind, Outbound, Policy, Recipient, Verdict, Window};
use parley_core::consent::{self, Action, Purpose, State};
use parley_core::keywords::{self, Keyword};
use parley_core::message::{Direction, SenderKind};
use parley_core::{ContactId, ConversationId, MessageId};
use parley_store::{
    ConsentContext, InboxRow, NewConsent, NewOutbound, OutboxJob, Scope, StoreError, WorkspaceRow,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::http::error::ApiError;
use crate::http::routes::route;
use crate::state::App;

const DAY_MS: i64 = 86_400_000;

/// Appended to the first business-initiated text of a conversation (CTIA: opt-out instructions).
pub const OPT_OUT_FOOTER: &str = "Reply STOP to opt out.";

/// A workspace's compliance rules, kept under `compliance` in its settings. Empty texts mean the
/// defaults, which name the brand.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The name texts identify the sender by; empty: the workspace's name.
    pub brand: String,
    /// The answer to HELP / INFO.
    pub help_text: String,
    /// The one message confirming an opt-out.
    pub opt_out_confirmation: String,
    /// The message confirming an opt-in (START, or CONFIRM after a double opt-in request).
    pub opt_in_confirmation: String,
    /// Extra words in other languages, added to the built-in lists.
    pub keywords: ExtraKeywords,
    /// What a customer replies to confirm a subscription made elsewhere.
    pub confirm_keyword: String,
    /// Subscriptions from forms, imports and the API stay pending until confirmed by text.
    pub double_opt_in: bool,
    /// What the customer subscribes to, for the confirmation request.
    pub program: String,
    /// How often messages come, for the confirmation request.
    pub frequency: String,
    /// Channels whose revocations apply on every channel (the law requires it for SMS).
    pub cross_channel_revocation: Vec<String>,
    /// When business-initiated texts may arrive, recipient's local time.
    pub quiet_hours: QuietHours,
    /// Days without a word after which consent for business-initiated messages is suspended
    /// (the number may have been reassigned); 0: never.
    pub inactivity_days: u32,
    /// Days after which message bodies and attachments are deleted; 0: kept.
    pub retention_days: u32,
    /// Every agent sees every contact; otherwise an agent sees the contacts with a conversation
    /// in an inbox they work (supervisors and admins see all).
    pub contacts_visible_to_all_agents: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ExtraKeywords {
    pub opt_out: Vec<String>,
    pub opt_in: Vec<String>,
    pub help: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            brand: String::new(),
            help_text: String::new(),
            opt_out_confirmation: String::new(),
            opt_in_confirmation: String::new(),
            keywords: ExtraKeywords::default(),
            confirm_keyword: "CONFIRM".into(),
            double_opt_in: true,
            program: "account notifications".into(),
            frequency: "Message frequency varies".into(),
            cross_channel_revocation: vec!["sms".into()],
            quiet_hours: QuietHours {
                start: "08:00".into(),
                end: "21:00".into(),
            },
            inactivity_days: 180,
            retention_days: 0,
            contacts_visible_to_all_agents: false,
        }
    }
}

/// Consent channels a setting may name.
pub const CHANNELS: [&str; 9] = [
    "sms",
    "whatsapp",
    "messenger",
    "instagram",
    "telegram",
    "line",
    "email",
    "widget",
    "api",
];

impl Settings {
    /// The workspace's settings; a document that no longer parses gives the defaults.
    pub fn of(ws: &WorkspaceRow) -> Self {
        serde_json::from_value(ws.settings["compliance"].clone()).unwrap_or_default()
    }

    /// Checks what an admin sent, field by field.
    pub fn validate(&self) -> Result<(), ApiError> {
        let texts = [
            ("brand", &self.brand, 60),
            ("help_text", &self.help_text, 320),
            ("opt_out_confirmation", &self.opt_out_confirmation, 320),
            ("opt_in_confirmation", &self.opt_in_confirmation, 320),
            ("program", &self.program, 120),
            ("frequency", &self.frequency, 120),
        ];
        for (field, text, max) in texts {
            if text.chars().count() > max {
                return Err(ApiError::invalid(
                    field,
                    format!("must be at most {max} characters"),
                ));
            }
        }
        if self.program.trim().is_empty() || self.frequency.trim().is_empty() {
            return Err(ApiError::invalid(
                "program",
                "program and frequency must say what customers subscribe to and how often",
            ));
        }
        let mut seen: Vec<(String, &str)> = Vec::new();
        let lists = [
            ("keywords.opt_out", &self.keywords.opt_out),
            ("keywords.opt_in", &self.keywords.opt_in),
            ("keywords.help", &self.keywords.help),
            ("confirm_keyword", &vec![self.confirm_keyword.clone()]),
        ];
        for (field, words) in lists {
            if words.len() > 30 {
                return Err(ApiError::invalid(field, "at most 30 words"));
            }
            for w in words {
                let n = keywords::normalize(w);
                if n.is_empty() || w.chars().count() > 40 {
                    return Err(ApiError::invalid(
                        field,
                        format!("{w:?} must be a word or two of letters or digits"),
                    ));
                }
                let builtin = keywords::keyword(&n, &[], &[], &[]);
                let clash = seen.iter().find(|(s, _)| *s == n).map(|(_, f)| *f).or(
                    match (builtin, field) {
                        (Some(Keyword::OptOut), f) if f != "keywords.opt_out" => Some("STOP"),
                        (Some(Keyword::OptIn), f) if f != "keywords.opt_in" => Some("START"),
                        (Some(Keyword::Help), f) if f != "keywords.help" => Some("HELP"),
                        _ => None,
                    },
                );
                if let Some(other) = clash {
                    return Err(ApiError::invalid(
                        field,
                        format!("{w:?} already means something else ({other})"),
                    ));
                }
                seen.push((n, field));
            }
        }
        for c in &self.cross_channel_revocation {
            if !CHANNELS.contains(&c.as_str()) {
                return Err(ApiError::invalid(
                    "cross_channel_revocation",
                    format!("{c:?} is not a channel; use {}", CHANNELS.join(", ")),
                ));
            }
        }
        let w = Window::parse(&self.quiet_hours.start, &self.quiet_hours.end)
            .map_err(|e| ApiError::invalid("quiet_hours", e.reason))?;
        if w.start < Window::FEDERAL.start || w.end > Window::FEDERAL.end {
            return Err(ApiError::invalid(
                "quiet_hours",
                "may narrow the federal 08:00–21:00 window, not widen it",
            ));
        }
        if self.retention_days > 36_500 {
            return Err(ApiError::invalid(
                "retention_days",
                "must be at most 36500 (0 keeps messages)",
            ));
        }
        if self.inactivity_days > 3650 {
            return Err(ApiError::invalid(
                "inactivity_days",
                "must be at most 3650 (0 turns the suspension off)",
            ));
        }
        Ok(())
    }

    pub fn policy(&self, ws: &WorkspaceRow) -> Policy {
        Policy {
            // Never wider than the federal window, whatever a stored document says.
            quiet_hours: Window::parse(&self.quiet_hours.start, &self.quiet_hours.end)
                .map_or(Window::FEDERAL, |w| w.intersect(Window::FEDERAL)),
            inactivity_ms: (self.inactivity_days > 0)
                .then(|| i64::from(self.inactivity_days) * DAY_MS),
            timezone: ws.timezone.clone(),
        }
    }

    fn brand<'a>(&'a self, ws: &'a WorkspaceRow) -> &'a str {
        if self.brand.trim().is_empty() {
            &ws.name
        } else {
            self.brand.trim()
        }
    }

    fn or_default(text: &str, default: String) -> String {
        if text.trim().is_empty() {
            default
        } else {
            text.trim().to_string()
        }
    }

    pub fn help_text(&self, ws: &WorkspaceRow) -> String {
        Self::or_default(&self.help_text, format!(
            "{}: for help, reply to this message and a person will answer. Msg & data rates may apply. Reply STOP to opt out.",
            self.brand(ws)
        ))
    }

    pub fn opt_out_text(&self, ws: &WorkspaceRow) -> String {
        Self::or_default(&self.opt_out_confirmation, format!(
            "{}: you are unsubscribed and will receive no more messages. Reply START to resubscribe.",
            self.brand(ws)
        ))
    }

    pub fn opt_in_text(&self, ws: &WorkspaceRow) -> String {
        Self::or_default(&self.opt_in_confirmation, format!(
            "{}: you are subscribed to {}. {}. Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
            self.brand(ws), self.program, self.frequency
        ))
    }

    /// The double opt-in request: what, how often, that fees may apply, how to stop.
    pub fn confirm_request_text(&self, ws: &WorkspaceRow) -> String {
        format!(
            "{}: reply {} to get {}. {}. Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
            self.brand(ws),
            self.confirm_keyword.trim().to_uppercase(),
            self.program,
            self.frequency
        )
    }

    /// Whether a revocation on `channel` applies on every channel.
    pub(crate) fn revokes_everywhere(&self, channel: &str) -> bool {
        self.cross_channel_revocation.iter().any(|c| c == channel)
    }
}

/// The consent channel of an inbox: SMS for Twilio numbers, else its kind.
pub fn consent_channel(inbox: &InboxRow) -> &str {
    crate::inboxes::channels::kind_of(inbox).map_or(inbox.kind.as_str(), |k| k.consent_channel())
}

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
) -> Result<Facts, ApiError> {
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
async fn address_on(
    app: &App,
    inbox: &InboxRow,
    contact: ContactId,
) -> Result<Option<String>, StoreError> {
    let scope = Scope::system(inbox.workspace_id, parley_core::UserId(uuid::Uuid::nil()));
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
async fn verdict_for(
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

/// Asks the gate about a message an agent (or the API) is about to queue. A denial is the 422
/// the sender sees, with the gate's code and reason.
pub async fn admit(
    app: &App,
    inbox: &InboxRow,
    contact: ContactId,
    purpose: Purpose,
    facts: Facts,
    body: String,
) -> Result<Admitted, ApiError> {
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
        Verdict::Deny { code, reason } => {
            return Err(ApiError::Unprocessable {
                code,
                message: reason,
                field: None,
            })
        }
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
) -> Result<parley_store::ActOutcome, ApiError> {
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
) -> Result<Value, ApiError> {
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

/// The notice kind of a double opt-in request.
const CONFIRM_REQUEST: &str = "confirm_request";

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
    let scope = Scope::system(inbox.workspace_id, parley_core::UserId(uuid::Uuid::nil()));
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

/// A subscription from a form, an import or the API, under double opt-in: recorded as pending,
/// and the request to confirm it texted from the SMS inbox `request_inbox` picks, as far as the
/// gate allows. The answer says what became of the request: `sent` (queued to go now), `held`
/// (until quiet hours end at the customer), `refused` (with the gate's code and reason, or why
/// there is no way to text them), or `not_needed`.
pub async fn request_subscription(
    app: &App,
    ws: &WorkspaceRow,
    contact: ContactId,
    purpose: Purpose,
    source: &str,
    evidence: Value,
) -> Result<(parley_store::ConsentEvent, Value), ApiError> {
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
        return Ok((
            e,
            json!({ "sent": false, "status": "not_needed", "reason": "already subscribed" }),
        ));
    }
    if consent::state(&entries, purpose, "sms") == State::Revoked {
        return Err(ApiError::Unprocessable {
            code: "opted_out",
            message: "This customer opted out by text; they must text START before a new subscription can be confirmed.".into(),
            field: None,
        });
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
    let refused = |code: &str, reason: &str| json!({ "sent": false, "status": "refused", "code": code, "reason": reason });
    if ctx.phone.is_none() {
        return Ok((e, refused("no_phone", "the contact has no phone number")));
    }
    let Some(inbox) = request_inbox(app, ws, contact, &ctx.ledger).await? else {
        return Ok((e, refused("no_sms_inbox", "the workspace has no SMS inbox")));
    };
    // The number the request will go to, which may not be the contact's stored phone (they wrote
    // from another one): the gate judges that number, as the dispatcher will.
    let Some(address) = address_on(app, &inbox, contact).await? else {
        return Ok((
            e,
            refused("no_phone", "the contact has no number this inbox can text"),
        ));
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
    let (sent, status, mut answer) = match verdict {
        Verdict::Deny { code, reason } => {
            let mut r = refused(code, &reason);
            r["inbox_id"] = json!(inbox.id);
            return Ok((e, r));
        }
        Verdict::Hold { until, reason } => {
            (false, "held", json!({ "until": until, "reason": reason }))
        }
        Verdict::Allow => (true, "sent", json!({})),
    };
    let body = Settings::of(ws).confirm_request_text(ws);
    let meta = json!({ "notice": CONFIRM_REQUEST, "compliance": { "purpose": purpose, "customer_started": msg.customer_started } });
    let id = queue_notice(app, &inbox, contact, meta, body).await?;
    answer["sent"] = json!(sent);
    answer["status"] = json!(status);
    answer["inbox_id"] = json!(inbox.id);
    answer["message_id"] = json!(id);
    Ok((e, answer))
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
    ledger: &[parley_store::ConsentEvent],
) -> Result<Option<InboxRow>, StoreError> {
    let scope = Scope::system(ws.id, parley_core::UserId(uuid::Uuid::nil()));
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

/// The compliance routes: texting rules, inactive numbers, consent and audit exports, erasure.
pub fn routes() -> Vec<crate::http::routes::Route> {
    use crate::compliance::api as compliance;
    vec![
        route!(get "/api/v1/audit/export" => compliance::export_audit, "users", Admin, "Export the whole audit log (`?format=json` or `csv`)", query = compliance::ExportQuery),
        route!(delete "/api/v1/contacts/{id}" => compliance::erase_contact, "contacts", Admin, "Erase the contact (GDPR/CCPA): name, addresses, fields, message and note content, and files go; conversations stay anonymised; revocations stay so an opted-out number is still refused; audited"),
        route!(get "/api/v1/contacts/{id}/consent/export" => compliance::export_consent, "compliance", Admin, "Export the contact's consent ledger with its evidence (`?format=json` or `csv`)", query = compliance::ExportQuery),
        route!(get "/api/v1/compliance/settings" => compliance::get_settings, "compliance", Member, "The workspace's texting rules (help text, extra keywords, double opt-in, quiet hours, inactivity period, cross-channel revocation) and the texts they produce"),
        route!(put "/api/v1/compliance/settings" => compliance::put_settings, "compliance", Admin, "Replace the workspace's texting rules; fields left out take their defaults", body = crate::compliance::Settings),
        route!(get "/api/v1/retention" => compliance::retention, "compliance", Admin, "The retention period (`retention_days` in the compliance settings) and what the next hourly run will empty: how many messages, the oldest"),
        route!(get "/api/v1/compliance/inactive" => compliance::inactive, "compliance", Supervisor, "Contacts whose number has been silent longer than the inactivity period (their consent for business-initiated messages is suspended)", query = compliance::InactiveQuery),
        route!(post "/api/v1/compliance/inactive/purge" => compliance::purge, "compliance", Admin, "Forget the phone numbers of listed inactive contacts", body = compliance::PurgeRequest),
    ]
}
