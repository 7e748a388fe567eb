//! One customer across channels: their timeline over every conversation you may see, each entry
//! marked with its channel; the channels a reply can go out on (the one they last used first);
//! and replying on the one the agent picks, or by default on the one the customer last used.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use parley_core::consent::Purpose;
use parley_core::message::parse_body;
use parley_core::{ContactId, ConversationId, InboxId, Timestamp};
use parley_store::{
    plan, ConversationQuery, ConversationView, InboxRow, Principal, Sort, StoreError,
};
use serde::Deserialize;
use serde_json::json;

use super::views::{
    ChannelOptionView, ChannelView, ContactReplyView, ContactTimelineView, WindowView,
};
use crate::compliance::ComplianceError;
use crate::conversations::timeline::{timeline_item, TimelineQuery};
use crate::http::caller::Auth;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::state::App;
use crate::views::Items;

/// Why a reply to the contact on a channel was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    #[error("is not a channel you work that can reach this contact (see GET …/channels)")]
    NotOffered,
    #[error("no inbox you work can reach this contact")]
    NoChannel,
    #[error("{0}")]
    OutsideWindow(String),
    #[error(transparent)]
    Compliance(#[from] ComplianceError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ReachError> for ApiError {
    fn from(e: ReachError) -> Self {
        let message = e.to_string();
        match e {
            ReachError::NotOffered => ApiError::invalid("inbox_id", message),
            ReachError::NoChannel => ApiError::Unprocessable {
                code: "no_channel",
                message,
                field: None,
            },
            ReachError::OutsideWindow(_) => ApiError::Unprocessable {
                code: "outside_window",
                message,
                field: None,
            },
            ReachError::Compliance(e) => e.into(),
            ReachError::Store(e) => e.into(),
        }
    }
}

/// The contact's conversations you may see (most recently active first) and their inboxes.
async fn conversations(
    app: &App,
    p: &Principal,
    contact: ContactId,
) -> Result<(Vec<ConversationView>, HashMap<InboxId, InboxRow>), StoreError> {
    crate::contacts::api::visible(app, p, contact).await?;
    let q = ConversationQuery {
        contact: Some(contact),
        sort: Sort::Activity,
        limit: 100,
        ..Default::default()
    };
    let convs = app.store.list_conversations(&p.scope(), &q).await?.items;
    let inboxes = app
        .store
        .list_inboxes(&p.scope())
        .await?
        .into_iter()
        .map(|i| (i.id, i))
        .collect();
    Ok((convs, inboxes))
}

/// `GET /api/v1/contacts/{id}/timeline`: every conversation's timeline merged in order.
pub async fn contact_timeline(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    Query(q): Query<TimelineQuery>,
) -> ApiResult<Json<ContactTimelineView>> {
    let (limit, before) = q.parse()?;
    Ok(Json(merged_timeline(&app, &p, id, limit, before).await?))
}

/// The last `limit` entries before `before` of every conversation of the contact the caller
/// may see, in order, each marked with its channel.
async fn merged_timeline(
    app: &App,
    p: &Principal,
    id: ContactId,
    limit: u32,
    before: Option<i64>,
) -> Result<ContactTimelineView, StoreError> {
    let (convs, inboxes) = conversations(app, p, id).await?;
    let scope = p.scope();
    let mut merged = Vec::new();
    let mut more = false;
    for c in &convs {
        let entries = app.store.timeline(&scope, c.id, before, limit).await?;
        more |= entries.len() == limit as usize;
        merged.extend(entries.into_iter().map(|e| (c.inbox_id, e)));
    }
    // Sequence numbers are global, so they order entries of different conversations too.
    merged.sort_by_key(|(_, e)| e.event.seq);
    if merged.len() > limit as usize {
        more = true;
        merged.drain(..merged.len() - limit as usize);
    }
    let first_seq = merged.first().map(|(_, e)| e.event.seq);
    let mut items = Vec::with_capacity(merged.len());
    for (inbox, e) in merged {
        let mut item = json!(timeline_item(e)?);
        item["channel"] = json!(inboxes.get(&inbox).map(ChannelView::from));
        items.push(item);
    }
    Ok(ContactTimelineView {
        before: if more { first_seq } else { None },
        items,
    })
}

/// An inbox a reply to the contact could go out on.
struct ReplyOption {
    inbox: InboxRow,
    conversation: Option<ConversationId>,
    last_customer_message: Option<Timestamp>,
}

/// The inboxes you work that can reach the contact, the one the customer last wrote on first.
async fn options(
    app: &App,
    p: &Principal,
    contact: ContactId,
) -> Result<Vec<ReplyOption>, StoreError> {
    let (convs, inboxes) = conversations(app, p, contact).await?;
    let view = app
        .store
        .contact(&crate::contacts::api::contact_scope(app, p).await?, contact)
        .await?;
    let scope = p.scope();
    let mut out = Vec::new();
    let mut ordered: Vec<&InboxRow> = inboxes.values().collect();
    ordered.sort_by_key(|i| (i.created_at, i.id));
    for inbox in ordered {
        if plan::reach(inbox, &view).is_none() {
            continue;
        }
        let conv = convs.iter().find(|c| c.inbox_id == inbox.id);
        let last = match conv {
            Some(c) => crate::inboxes::channels::last_customer_message(app, &scope, c.id).await?,
            None => None,
        };
        out.push(ReplyOption {
            inbox: inbox.clone(),
            conversation: conv.map(|c| c.id),
            last_customer_message: last,
        });
    }
    // Newest customer message first; channels they never wrote on keep their order, last.
    out.sort_by_key(|o| std::cmp::Reverse(o.last_customer_message.map(|t| t.0)));
    Ok(out)
}

/// What a free-form reply on this option would meet: open, or refused with the reason.
async fn verdict(
    app: &App,
    p: &Principal,
    o: &ReplyOption,
) -> Result<(&'static str, Option<String>), StoreError> {
    use parley_channels::meta::WindowVerdict as W;
    let Some(conv) = o.conversation else {
        // Meta's channels never allow a business to write first with free text.
        return Ok(
            if crate::inboxes::channels::kind_of(&o.inbox)
                .and_then(parley_channels::ChannelKind::meta_channel)
                .is_some()
            {
                (
                    "closed",
                    Some("The customer has not written on this channel yet.".into()),
                )
            } else {
                ("open", None)
            },
        );
    };
    Ok(
        match crate::inboxes::channels::window(app, &p.scope(), &o.inbox, conv).await? {
            None | Some(W::Open) | Some(W::HumanAgentTag) => ("open", None),
            Some(W::TemplateOnly { reason }) => ("template_only", Some(reason)),
            Some(W::Closed { reason }) => ("closed", Some(reason)),
        },
    )
}

/// `GET /api/v1/contacts/{id}/channels`: where a reply can go, the default first.
pub async fn contact_channels(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
) -> ApiResult<Json<Items<ChannelOptionView>>> {
    let opts = options(&app, &p, id).await?;
    let mut items = Vec::new();
    for (i, o) in opts.iter().enumerate() {
        let (state, reason) = verdict(&app, &p, o).await?;
        items.push(ChannelOptionView {
            conversation_id: o.conversation,
            default: i == 0,
            inbox_id: o.inbox.id,
            inbox_name: o.inbox.name.clone(),
            kind: o.inbox.kind.clone(),
            last_customer_message_at: o.last_customer_message,
            window: WindowView { reason, state },
        });
    }
    Ok(Json(Items { items }))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactReply {
    body: String,
    /// The channel to reply on; by default the one the customer last wrote on.
    #[serde(default)]
    inbox_id: Option<InboxId>,
    /// Why the business writes (see the conversation reply); the compliance gate checks it.
    #[serde(default)]
    purpose: Option<Purpose>,
}

/// `POST /api/v1/contacts/{id}/messages`: reply to the customer on a channel of your choice.
pub async fn contact_reply(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ContactId>,
    Json(req): Json<ContactReply>,
) -> ApiResult<(StatusCode, Json<ContactReplyView>)> {
    let body = parse_body("body", &req.body)?;
    let opts = options(&app, &p, id).await?;
    let chosen = choose(&opts, req.inbox_id)?;
    let purpose = req.purpose.unwrap_or(Purpose::Conversational);
    let view = reply_on(&app, &p, id, chosen, body, purpose).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The option a reply goes out on: the one named, else the one the customer last wrote on.
fn choose(opts: &[ReplyOption], inbox: Option<InboxId>) -> Result<&ReplyOption, ReachError> {
    Ok(match inbox {
        Some(inbox) => opts
            .iter()
            .find(|o| o.inbox.id == inbox)
            .ok_or(ReachError::NotOffered)?,
        None => opts.first().ok_or(ReachError::NoChannel)?,
    })
}

/// Sends the reply on `chosen` if its window is open and the compliance gate admits it.
async fn reply_on(
    app: &App,
    p: &Principal,
    id: ContactId,
    chosen: &ReplyOption,
    body: String,
    purpose: Purpose,
) -> Result<ContactReplyView, ReachError> {
    if let (_, Some(reason)) = verdict(app, p, chosen).await? {
        return Err(ReachError::OutsideWindow(reason));
    }
    let scope = p.scope();
    let facts = crate::compliance::gate::facts(app, &scope, chosen.conversation).await?;
    let admitted =
        crate::compliance::gate::admit(app, &chosen.inbox, id, purpose, facts, body).await?;
    let verdict = admitted.verdict();
    let out = crate::compliance::gate::start_admitted(
        app,
        &scope,
        &chosen.inbox,
        id,
        p.user_id,
        admitted,
    )
    .await?;
    Ok(ContactReplyView {
        channel: ChannelView::from(&chosen.inbox),
        compliance: verdict,
        conversation: out.conversation.into(),
        message: out.message.map(Into::into),
    })
}
