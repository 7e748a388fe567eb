//! Compliance keywords in customers' messages (STOP, START, HELP, CONFIRM and the workspace's own
//! words): recognised before the message is stored, so the store records the consent they change in
//! the message's transaction (`parley_store::plan::keywords`), and answered after the commit.

use parley_core::keywords::{self as words, Revocation};
use parley_store::{InboundMessage, InboundOutcome, InboxRow, Keyword, KeywordIntent, StoreError};
use serde_json::Value;

use parley_channels::settings::TwilioSettings;
use parley_channels::ChannelKind;

use crate::compliance::consent_channel;
use crate::compliance::notices::notice;
use crate::state::App;

/// What `msg` asks of its sender's consent, from its text and the workspace's keyword settings;
/// `None` for an ordinary message, and for mail whose sender's domain disowns it (DMARC failed,
/// `meta.unverified`): it is shown, marked, but acts on nothing, so a forged STOP unsubscribes
/// nobody.
pub(super) async fn recognise(
    app: &App,
    inbox: &InboxRow,
    msg: &InboundMessage,
) -> Result<Option<KeywordIntent>, StoreError> {
    if msg.meta.as_ref().is_some_and(|m| m["unverified"] == true) {
        return Ok(None);
    }
    let w = app.workspace(inbox.workspace_id).await?;
    let settings = &*w.rules;
    let text = msg.body.as_str();
    let k = &settings.keywords;
    let confirm = words::normalize(&settings.confirm_keyword);
    let is_confirm = !confirm.is_empty() && words::normalize(text) == confirm;
    let keyword = match words::keyword(text, &k.opt_out, &k.opt_in, &k.help) {
        _ if is_confirm => Keyword::Confirm,
        Some(words::Keyword::OptOut) => Keyword::OptOut,
        Some(words::Keyword::OptIn) => Keyword::OptIn,
        Some(words::Keyword::Help) => Keyword::Help,
        None => match words::revocation(text) {
            Some(Revocation::Clear) => Keyword::OptOut,
            Some(Revocation::Probable) => Keyword::ProbableOptOut,
            None => return Ok(None),
        },
    };
    let channel = consent_channel(inbox);
    Ok(Some(KeywordIntent {
        keyword,
        channel: channel.to_string(),
        everywhere: settings.revokes_everywhere(channel),
        at: app.now(),
    }))
}

/// Parley's answer to a keyword once its message is committed: the HELP text (once, even when the
/// provider redelivers it), or one confirmation of a change the store recorded (a probable
/// revocation waits for an agent and gets none).
pub(super) async fn answer(
    app: &App,
    inbox: &InboxRow,
    keyword: &KeywordIntent,
    out: &InboundOutcome,
) -> Result<(), StoreError> {
    let w = app.workspace(inbox.workspace_id).await?;
    let (ws, settings) = (&*w.row, &*w.rules);
    let (kind, body) = match keyword.keyword {
        Keyword::Help => {
            let skip =
                provider_answers(inbox) || (out.duplicate && answered(app, inbox, out).await?);
            if skip {
                return Ok(());
            }
            ("help", settings.help_text(ws))
        }
        // At most one confirmation: only a change gets one.
        _ if out.consent.is_empty() => return Ok(()),
        Keyword::Confirm => ("opt_in_confirmation", settings.opt_in_text(ws)),
        Keyword::ProbableOptOut => return Ok(()),
        _ if provider_answers(inbox) => return Ok(()),
        Keyword::OptOut => ("opt_out_confirmation", settings.opt_out_text(ws)),
        Keyword::OptIn => ("opt_in_confirmation", settings.opt_in_text(ws)),
    };
    notice(app, inbox, out.contact_id, kind, body).await?;
    Ok(())
}

/// Twilio answers STOP, START and HELP itself on long codes (channels reference 1.7) unless the
/// account turned its opt-out handling off; Parley then stays quiet so no one gets two answers.
fn provider_answers(inbox: &InboxRow) -> bool {
    use serde::Deserialize as _;
    crate::inboxes::channels::kind_of(inbox) == Some(ChannelKind::Twilio)
        && TwilioSettings::deserialize(&inbox.settings)
            .ok()
            .and_then(|t| t.provider_answers_keywords)
            .unwrap_or(true)
}

/// Whether Parley already sent a notice after this customer message (a redelivered HELP).
async fn answered(app: &App, inbox: &InboxRow, out: &InboundOutcome) -> Result<bool, StoreError> {
    let scope = parley_store::Scope::parley(inbox.workspace_id);
    let entries = app
        .store
        .timeline(&scope, out.conversation_id, None, 50)
        .await?;
    let id = out.message_id.to_string();
    let mut after = false;
    for e in entries.iter().filter(|e| e.event.kind == "message.created") {
        let v: Value = serde_json::from_str(&e.event.data).unwrap_or_default();
        if v["message"]["id"] == id.as_str() {
            after = true;
        } else if after && v["message"]["meta"]["notice"].is_string() {
            return Ok(true);
        }
    }
    Ok(false)
}
