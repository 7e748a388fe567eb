//! One path for every customer's message, whatever channel brought it: once a webhook, the SMTP
//! listener, the IMAP poller or the widget's socket has verified and parsed it, `ingest` stores it
//! with the consent its keywords change, answers the keywords, and hands it to what reacts to it.

pub mod hook;
mod keywords;

use parley_store::{InboundMessage, InboundOutcome, InboxRow, StoreError};

use crate::state::App;

/// Takes a verified, parsed customer message on `inbox` through everything that follows, in order:
///
/// 1. recognises a compliance keyword in its text (`keywords::recognise`);
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
    let out = app.store.apply_inbound(msg).await?;
    if let Some(keyword) = &keyword {
        keywords::answer(app, inbox, keyword, &out).await?;
    }
    if !out.duplicate {
        reactions(app, inbox, &out).await?;
    }
    Ok(out)
}

/// Where what reacts to a new customer message starts, once it is committed and its keywords are
/// answered: automations and routing go here. A redelivery is not new and never gets here.
/// Nothing reacts yet.
async fn reactions(app: &App, inbox: &InboxRow, out: &InboundOutcome) -> Result<(), StoreError> {
    let _ = (app, inbox, out);
    Ok(())
}
