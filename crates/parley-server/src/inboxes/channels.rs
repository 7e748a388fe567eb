//! The channels as the server sees them: inbox settings, an inbox's `Channel`, the
//! customer-service window that decides what an agent may send, and what a send needs from the
//! store. Their webhooks are `inbound::hook`.

use parley_channels::channel::{Lookups, Needs};
use parley_channels::settings::{Credentials, SettingsError};
use parley_channels::{meta, Channel, ChannelKind, SendOutcome};
use parley_core::message::Direction;
use parley_core::{ConversationId, Timestamp};
use parley_store::{ConversationView, InboxRow, OutboxJob, Scope, StoreError};
use serde_json::Value;

use crate::state::App;

/// Why a reply may not be queued in a conversation now.
#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    /// The channel would refuse a free-form message now (outside WhatsApp's or Messenger's
    /// window): the reason, in the customer-service rules' words.
    #[error("{0}")]
    Outside(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An inbox whose templates cannot be listed: the reason (not WhatsApp, or Meta's refusal).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoTemplates(pub String);

/// The channel of an inbox, read from its stored kind; `None` for a kind this build does not
/// know.
pub fn kind_of(inbox: &InboxRow) -> Option<ChannelKind> {
    ChannelKind::parse(&inbox.kind)
}

/// Settings and secret of a new Twilio, Telegram, WhatsApp, Messenger, Instagram or LINE inbox.
/// Send credentials live under `credentials`, which the API never shows again.
pub fn settings(kind: &str, c: &Credentials<'_>) -> Result<(Value, String), SettingsError> {
    let fresh = ChannelKind::parse(kind).and_then(|k| {
        parley_channels::settings::new_settings(k, c, crate::account::auth::random_token)
    });
    match fresh {
        Some(made) => made,
        None => {
            // The address is checked first, whatever the kind, as for the kinds above.
            if let Some(url) = c.api_base_url {
                parley_channels::settings::http_url(url)?;
            }
            Err(SettingsError {
                field: "kind",
                message: "must be one of: api, twilio, telegram, whatsapp, messenger, instagram, line, widget, email".into(),
            })
        }
    }
}

fn meta_channel(inbox: &InboxRow) -> Option<meta::Channel> {
    kind_of(inbox).and_then(ChannelKind::meta_channel)
}

/// When the customer last wrote in a conversation (the start of the channel's window).
pub(crate) async fn last_customer_message(
    app: &App,
    scope: &Scope,
    conversation: ConversationId,
) -> Result<Option<Timestamp>, StoreError> {
    let entries = app.store.timeline(scope, conversation, None, 200).await?;
    let inbound = Direction::Inbound.as_str();
    Ok(entries.iter().rev().find_map(|e| {
        let v: Value = serde_json::from_str(&e.event.data).ok()?;
        (e.event.kind == "message.created" && v["message"]["direction"] == inbound)
            .then_some(e.event.at)
    }))
}

/// What an agent may send in a conversation now, on channels with a customer-service window.
pub async fn window(
    app: &App,
    scope: &Scope,
    inbox: &InboxRow,
    conversation: ConversationId,
) -> Result<Option<meta::WindowVerdict>, StoreError> {
    window_for(app, scope, inbox, conversation, true).await
}

/// The window for a reply written by a person (`human`) or not (a bot, an automation): only a
/// person's reply may use Meta's HUMAN_AGENT tag past 24 hours.
async fn window_for(
    app: &App,
    scope: &Scope,
    inbox: &InboxRow,
    conversation: ConversationId,
    human: bool,
) -> Result<Option<meta::WindowVerdict>, StoreError> {
    let Some(channel) = meta_channel(inbox) else {
        return Ok(None);
    };
    let last = last_customer_message(app, scope, conversation).await?;
    Ok(Some(meta::window(
        channel,
        last.map(|t| t.0),
        app.now().0,
        human,
    )))
}

/// Refuses a free-form reply the channel would refuse, with the reason, before it is queued.
pub async fn check_reply(
    app: &App,
    scope: &Scope,
    inbox: &InboxRow,
    conversation: ConversationId,
    template: bool,
    human: bool,
) -> Result<(), WindowError> {
    match window_for(app, scope, inbox, conversation, human).await? {
        Some(meta::WindowVerdict::TemplateOnly { .. }) if template => Ok(()),
        Some(
            meta::WindowVerdict::TemplateOnly { reason } | meta::WindowVerdict::Closed { reason },
        ) => Err(WindowError::Outside(reason)),
        _ => Ok(()),
    }
}

/// What a send through the inbox's channel needs from the store, as the channel asked.
pub async fn look_up(app: &App, job: &OutboxJob, needs: Needs) -> Result<Lookups, SendOutcome> {
    let mut lookups = Lookups::default();
    match needs {
        Needs::ReplyToken => lookups.reply_token = line_reply_token(app, job).await,
        Needs::Window => lookups.window = send_window(app, job).await,
        Needs::Mail => {
            crate::inboxes::email::replies::reply_lookups(app, job, &mut lookups).await?
        }
        Needs::Nothing | Needs::InProcess => {}
    }
    Ok(lookups)
}

/// How long after the customer's message LINE's reply token is used: it works only briefly
/// (about half a minute has been seen), and a push is the fallback anyway.
const LINE_REPLY_TOKEN_MS: i64 = 20_000;

/// The reply token of the customer's last LINE message, when this reply is the first answer to
/// it and the token is fresh (it can be used once).
async fn line_reply_token(app: &App, job: &OutboxJob) -> Option<String> {
    let scope = Scope::parley(job.inbox.workspace_id);
    let entries = app
        .store
        .timeline(&scope, job.message.conversation_id, None, 20)
        .await
        .ok()?;
    let messages: Vec<Value> = entries
        .iter()
        .filter(|e| e.event.kind == "message.created")
        .filter_map(|e| serde_json::from_str::<Value>(&e.event.data).ok())
        .map(|v| v["message"].clone())
        .collect();
    let last_in = messages
        .iter()
        .rposition(|m| m["direction"] == Direction::Inbound.as_str())?;
    let first_reply = messages[last_in + 1..]
        .iter()
        .find(|m| m["direction"] == Direction::Outbound.as_str())?;
    if first_reply["id"] != job.message.id.to_string().as_str() {
        return None;
    }
    let at: Timestamp = serde_json::from_value(messages[last_in]["created_at"].clone()).ok()?;
    if app.now().0 - at.0 > LINE_REPLY_TOKEN_MS {
        return None;
    }
    messages[last_in]["meta"]["line"]["reply_token"]
        .as_str()
        .map(str::to_string)
}

/// The window of a queued Messenger or Instagram reply, judged when it is sent.
async fn send_window(app: &App, job: &OutboxJob) -> Option<meta::WindowVerdict> {
    let scope = Scope::parley(job.inbox.workspace_id);
    let last = last_customer_message(app, &scope, job.message.conversation_id)
        .await
        .ok()?;
    let channel = meta_channel(&job.inbox)?;
    let human = job.message.sender_kind == parley_core::message::SenderKind::Agent;
    Some(meta::window(channel, last.map(|t| t.0), app.now().0, human))
}

/// The interface to an inbox's channel; `None` for a kind this build does not know or settings
/// it cannot read.
pub fn channel_of(inbox: &InboxRow) -> Option<Channel<'_>> {
    let kind = kind_of(inbox)?;
    Channel::read(kind, &inbox.settings, &inbox.secret)
        .map_err(|e| tracing::warn!(error = %e, inbox = %inbox.id, "unreadable inbox settings"))
        .ok()
}

/// Asks the provider whether an inbox's credentials work, with a read that changes nothing:
/// Twilio's account, Telegram's `getMe`, the Graph API's phone number or page, LINE's bot info,
/// an email inbox's SMTP relay and IMAP mailbox. `None` for kinds with nothing to ask (API,
/// widget).
pub async fn test_connection(app: &App, inbox: &InboxRow) -> Option<Result<String, String>> {
    channel_of(inbox)?.test_connection(&app.http).await
}

/// A WhatsApp inbox's approved templates, as the composer offers them: name, language, category,
/// the body text and the names of its parameters in order (`1`, `2`, … for positional ones).
pub async fn whatsapp_templates(app: &App, inbox: &InboxRow) -> Result<Vec<Value>, NoTemplates> {
    let listed = match channel_of(inbox) {
        Some(channel) => channel.templates(&app.http).await,
        None => Err(format!(
            "{} inboxes have no message templates; WhatsApp inboxes do",
            inbox.kind
        )),
    };
    listed.map_err(NoTemplates)
}

/// Shows the customer that an agent is writing to them, where the channel can: Telegram's
/// "typing…", Messenger's and Instagram's typing bubble, WhatsApp's indicator (which also marks
/// their last message read), LINE's loading animation. Best effort: a refusal is only logged.
pub async fn typing_to_customer(app: &App, scope: &Scope, conv: &ConversationView) {
    let Ok(inbox) = app.store.inbox(scope, conv.inbox_id).await else {
        return;
    };
    let Some(channel) = channel_of(&inbox).filter(Channel::shows_typing) else {
        return;
    };
    let Ok(contact) = app.store.contact(scope, conv.contact_id).await else {
        return;
    };
    let Some(to) = contact
        .identities
        .iter()
        .find(|i| i.id == conv.identity_id)
        .map(|i| i.external_id.clone())
    else {
        return;
    };
    let last = match channel.typing_needs_last_message() {
        true => last_customer_message_id(app, scope, conv.id).await,
        false => None,
    };
    let Some(req) = channel.typing(&app.http, &to, last.as_deref()) else {
        return;
    };
    match req.send().await {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            tracing::debug!(status = r.status().as_u16(), kind = %inbox.kind, "the provider refused a typing indicator")
        }
        Err(e) => {
            // The client's errors leave out the URL: Telegram's carries the bot token.
            tracing::debug!(error = %e, kind = %inbox.kind, "could not send a typing indicator")
        }
    }
}

/// The provider's id of the customer's last message in a conversation.
async fn last_customer_message_id(
    app: &App,
    scope: &Scope,
    conversation: ConversationId,
) -> Option<String> {
    let entries = app
        .store
        .timeline(scope, conversation, None, 200)
        .await
        .ok()?;
    let inbound = Direction::Inbound.as_str();
    entries.iter().rev().find_map(|e| {
        let v: Value = serde_json::from_str(&e.event.data).ok()?;
        (e.event.kind == "message.created" && v["message"]["direction"] == inbound)
            .then(|| v["message"]["external_id"].as_str().map(str::to_string))
            .flatten()
    })
}
