//! One path for every customer's message, whatever channel brought it: once a webhook, the SMTP
//! listener, the IMAP poller or the widget's socket has verified and parsed it, `ingest` stores it
//! with the consent its keywords change, answers the keywords, and hands it to what reacts to it.

pub mod call;
pub mod hook;
mod keywords;

use parley_store::{InboundMessage, InboundOutcome, InboxRow, StoreError};

use crate::http::routes::route;
use crate::state::App;

/// Takes a verified, parsed customer message on `inbox` through everything that follows, in order:
///
/// 1. recognises a compliance keyword in its text (`keywords::recognise`), and a rating that
///    answers the conversation's satisfaction survey (`survey::reply`): decided before storing,
///    so that the store keeps such an answer from reopening the conversation;
/// 2. stores it (`Store::apply_inbound`): one transaction, group-committed with its neighbours,
///    resolves the contact, finds or reopens the conversation, appends the message and writes the
///    ledger entries the keyword changes; the store's sink publishes the committed events to the
///    realtime hub before it returns;
/// 3. answers the keyword (the HELP text, one confirmation of a change): outbound notices, through
///    the gate, after the commit;
/// 4. hands a new message to its `reactions`.
///
/// A redelivery (a provider id already stored) is stored once and changes no consent; a HELP that
/// went unanswered is answered then. An error asks the caller to answer "try again" (a 5xx to a
/// provider, a temporary SMTP failure, the widget's `unavailable`): what was committed stays, and
/// the retry arrives as such a redelivery.
pub async fn ingest(
    app: &App,
    inbox: &InboxRow,
    mut msg: InboundMessage,
) -> Result<InboundOutcome, StoreError> {
    let keyword = keywords::recognise(app, inbox, &msg).await?;
    msg.keyword.clone_from(&keyword);
    let said = Said {
        text: msg.body.clone(),
        at: msg.at,
        keyword: keyword.is_some(),
        automated: automated(&msg),
    };
    msg.survey = crate::conversations::survey::reply::rating_reply(app, inbox, &msg).await?;
    let out = app.store.apply_inbound(msg).await?;
    if let Some(keyword) = &keyword {
        keywords::answer(app, inbox, keyword, &out).await?;
    }
    // A survey answer closes a conversation's business rather than asking for any.
    if !out.duplicate && !out.survey_answered {
        reactions(app, inbox, &out, said).await?;
    }
    Ok(out)
}

/// What a customer's message said, kept for what reacts to it once it is stored.
struct Said {
    text: String,
    at: parley_core::Timestamp,
    /// It was a compliance keyword (answered by `keywords`, never by an auto-reply).
    keyword: bool,
    /// A machine sent it (a channel marked it `auto_submitted` or `automated`).
    automated: bool,
}

fn automated(msg: &InboundMessage) -> bool {
    msg.meta
        .as_ref()
        .is_some_and(|m| m["auto_submitted"] == true || m["automated"] == true)
}

/// Where what reacts to a new customer message starts, once it is committed and its keywords are
/// answered: the auto-replies (`hours::react`), then the automation rules; routing goes here too.
/// A redelivery is not new and never gets here. Failures are logged, never a retry for the
/// provider (the message is stored).
async fn reactions(
    app: &App,
    inbox: &InboxRow,
    out: &InboundOutcome,
    said: Said,
) -> Result<(), StoreError> {
    if !said.keyword {
        crate::hours::react::after_customer_message(app, inbox, out, &said.text, said.automated)
            .await;
    }
    crate::automations::timed::on_customer_message(app, inbox.workspace_id, out.conversation_id)
        .await;
    rules_for_message(app, inbox, out, said).await
}

/// The automation rules for a customer's message: run only when one listens for messages (one
/// read otherwise).
async fn rules_for_message(
    app: &App,
    inbox: &InboxRow,
    out: &InboundOutcome,
    said: Said,
) -> Result<(), StoreError> {
    use crate::automations::{self as rules, Happened, Origin};
    let (ws, id) = (inbox.workspace_id, out.conversation_id);
    let origin = Origin {
        cause: Default::default(),
        automated_sender: said.automated,
    };
    if out.reopened {
        // The message reopened its conversation (a blocked sender's never does): the rules for
        // a reopen run first, as the timeline shows the reopen first.
        let r = rules::react_from(app, ws, id, Happened::Reopened, origin.clone()).await;
        rules::log_failure(id, r);
    }
    let received = parley_core::automation::Happening::Received { created: false };
    let Some(listening) = rules::listening(app, ws, &received).await? else {
        return Ok(());
    };
    // Most messages match no rule's words: then no fact is read.
    if !parley_core::automation::might_fire_on_message(&listening, inbox.id, &said.text) {
        return Ok(());
    }
    let scope = rules::facts::system_scope(ws);
    // A blocked sender asks nothing of anyone, the rules included.
    if app
        .store
        .contact(&scope, out.contact_id)
        .await?
        .blocked_at
        .is_some()
    {
        return Ok(());
    }
    let conv = app.store.conversation(&scope, id).await?;
    // A conversation the message started was created at the message's time.
    let created = conv.created_at == said.at;
    let what = Happened::Received {
        created,
        text: said.text,
    };
    rules::log_failure(
        id,
        rules::react_with(app, ws, id, what, origin, &listening).await,
    );
    Ok(())
}

/// The providers' webhooks, one line per kind.
pub fn routes() -> Vec<crate::http::routes::Route> {
    vec![
        route!(post "/hooks/telegram/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "Telegram: bot updates, with X-Telegram-Bot-Api-Secret-Token"),
        route!(get "/hooks/whatsapp/{inbox_id}" => crate::inbound::hook::handshake, "hooks", Signature, "WhatsApp: the webhook verification handshake (hub.challenge)", query = crate::inbound::hook::HandshakeQuery),
        route!(post "/hooks/whatsapp/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "WhatsApp Cloud API: messages and statuses, signed with X-Hub-Signature-256"),
        route!(get "/hooks/messenger/{inbox_id}" => crate::inbound::hook::handshake, "hooks", Signature, "Messenger: the webhook verification handshake (hub.challenge)", query = crate::inbound::hook::HandshakeQuery),
        route!(post "/hooks/messenger/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "Messenger: messages, postbacks, deliveries and reads, signed with X-Hub-Signature-256"),
        route!(get "/hooks/instagram/{inbox_id}" => crate::inbound::hook::handshake, "hooks", Signature, "Instagram: the webhook verification handshake (hub.challenge)", query = crate::inbound::hook::HandshakeQuery),
        route!(post "/hooks/instagram/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "Instagram messaging: messages and reads, signed with X-Hub-Signature-256"),
        route!(post "/hooks/line/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "LINE Messaging API: events, signed with X-Line-Signature"),
        route!(post "/hooks/twilio/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "Twilio: inbound SMS/MMS and status callbacks, signed with X-Twilio-Signature"),
        route!(post "/hooks/call/{inbox_id}" => crate::inbound::call::receive_call, "hooks", Signature, "A phone system's call notification (caller, time, answered or missed) for an SMS number or API inbox, signed with X-Parley-Signature: sha256=HMAC(secret, body); recorded once per call id as a `call` event", body = crate::inbound::call::CallHookBody),
        route!(post "/hooks/api/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "API channel: a customer message, signed with X-Parley-Signature: sha256=HMAC(secret, body)", body = crate::inbound::hook::ApiHookBody),
    ]
}
