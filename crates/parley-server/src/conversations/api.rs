//! Conversations: the filtered, sorted list, the timeline, and every agent command (reply, note,
//! assign, status, priority, labels, typing).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use parley_core::consent::Purpose;
use parley_core::conversation::{parse_label, Priority, Status};
use parley_core::message::{self, parse_body, Resolved};
use parley_core::{ContactId, ConversationId, InboxId, TeamId, Timestamp, UserId};
use parley_store::{ActOutcome, AssigneeFilter, Command, ConversationQuery, Principal, Sort};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::account::auth::{is_supervisor_or_admin, Auth};
use crate::http::error::{ApiError, ApiResult, Json, Path, Query};
use crate::http::routes::double_option;
use crate::state::App;
use crate::views::{ConversationPage, ConversationView, SentView};

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    assignee: Option<String>,
    inbox: Option<String>,
    team: Option<String>,
    label: Option<String>,
    priority: Option<String>,
    sort: Option<String>,
    cursor: Option<String>,
    limit: Option<u32>,
}

fn bad_query(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_query", message)
}

fn parse_id<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ApiError> {
    v.parse()
        .map_err(|_| bad_query(format!("{name} must be an id")))
}

fn list_query(p: &Principal, q: ListQuery) -> Result<ConversationQuery, ApiError> {
    let mut out = ConversationQuery {
        limit: crate::http::routes::limit(q.limit, 25, 100)?,
        ..Default::default()
    };
    if let Some(s) = q.status.as_deref().filter(|s| !s.is_empty() && *s != "all") {
        out.statuses = s
            .split(',')
            .map(|x| {
                Status::parse(x.trim()).ok_or_else(|| {
                    bad_query("status must be open, pending, snoozed, resolved or all")
                })
            })
            .collect::<Result<_, _>>()?;
    }
    out.assignee = match q.assignee.as_deref() {
        None | Some("anyone") | Some("any") => AssigneeFilter::Anyone,
        Some("me") => AssigneeFilter::User(p.user_id),
        Some("none") => AssigneeFilter::Nobody,
        Some(id) => AssigneeFilter::User(
            parse_id::<UserId>("assignee", id)
                .map_err(|_| bad_query("assignee must be me, none, anyone or a user id"))?,
        ),
    };
    out.inbox = q
        .inbox
        .as_deref()
        .map(|v| parse_id::<InboxId>("inbox", v))
        .transpose()?;
    out.team = q
        .team
        .as_deref()
        .map(|v| parse_id::<TeamId>("team", v))
        .transpose()?;
    out.label = q
        .label
        .as_deref()
        .map(|l| parse_label(l).map_err(|e| bad_query(format!("label: {}", e.reason))))
        .transpose()?;
    out.priority = q
        .priority
        .as_deref()
        .map(|v| {
            Priority::parse(v)
                .ok_or_else(|| bad_query("priority must be urgent, high, normal or low"))
        })
        .transpose()?;
    out.sort = match q.sort.as_deref() {
        None | Some("waiting") => Sort::Waiting,
        Some("activity") | Some("newest") => Sort::Activity,
        Some("priority") => Sort::Priority,
        Some(_) => return Err(bad_query("sort must be waiting, activity or priority")),
    };
    out.cursor = crate::http::routes::cursor(q.cursor.as_deref())?;
    Ok(out)
}

/// `GET /api/v1/conversations/counts`: how many conversations each view of the inbox holds for
/// the caller (mine, unassigned, by status; open ones by inbox, team and label).
pub async fn counts(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Value>> {
    let counts = app.store.conversation_counts(&p.scope()).await?;
    Ok(Json(serde_json::to_value(counts).unwrap_or_default()))
}

pub async fn list_conversations(
    State(app): State<App>,
    Auth(p): Auth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<ConversationPage>> {
    let query = list_query(&p, q)?;
    let page = app
        .store
        .list_conversations(&p.scope(), &query)
        .await
        .map_err(|e| match e {
            parley_store::StoreError::Invalid {
                field: "cursor", ..
            } => ApiError::bad_request("invalid_cursor", "the cursor belongs to another sort"),
            other => other.into(),
        })?;
    // Unread for this user: the customer is waiting and something happened since they last
    // opened it.
    let ids: Vec<ConversationId> = page.items.iter().map(|c| c.id).collect();
    let seen = app.store.seen_at(&p.scope(), &ids).await?;
    let ws = app.workspace(p.workspace_id).await?;
    let now = app.now();
    let items = page
        .items
        .into_iter()
        .map(|c| {
            let unread = c.waiting_since.is_some()
                && seen.get(&c.id).is_none_or(|s| *s < c.last_activity_at);
            ConversationView {
                unread: Some(unread),
                ..with_sla(&ws.sla, c, now)
            }
        })
        .collect();
    Ok(Json(ConversationPage {
        items,
        next_cursor: page.next_cursor.map(|c| c.encode()),
    }))
}

/// `POST /api/v1/conversations/{id}/seen`: the caller has looked at the conversation as it is now;
/// it is no longer unread for them (for no one else).
pub async fn seen(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<StatusCode> {
    let scope = p.scope();
    let conv = app.store.conversation(&scope, id).await?;
    // As the conversation is now: the newest thing in it, or the present if later.
    let at = conv.last_activity_at.max(app.now());
    app.store.mark_seen(&scope, id, at).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn get_conversation(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Response> {
    let conv = app.store.conversation(&p.scope(), id).await?;
    let ws = app.workspace(p.workspace_id).await?;
    Ok(Json(with_sla(&ws.sla, conv, app.now())).into_response())
}

/// A conversation as the API shows it, with `sla`: the answer its waiting customer is owed under
/// the workspace's policies and by when (`null` when none is).
fn with_sla(
    policies: &[parley_core::sla::SlaPolicy],
    c: parley_store::ConversationView,
    now: Timestamp,
) -> ConversationView {
    let due = parley_core::sla::due(
        policies,
        c.inbox_id,
        c.priority,
        c.status,
        c.waiting_since,
        c.first_reply_at,
        now,
    );
    ConversationView {
        sla: Some(due),
        ..c.into()
    }
}

#[derive(Deserialize)]
pub struct TimelineQuery {
    /// An event's sequence number.
    before: Option<i64>,
    limit: Option<u32>,
}

impl TimelineQuery {
    /// The page size and the `before` sequence number.
    pub(crate) fn parse(&self) -> ApiResult<(u32, Option<i64>)> {
        let limit = crate::http::routes::limit(self.limit, 50, 200)?;
        Ok((limit, self.before))
    }
}

/// A timeline entry as the API shows it. A message's `data.message.status` and `error` are its
/// current delivery status, not the ones it was created with: the one place a client reads them.
pub(crate) fn timeline_item(e: parley_store::TimelineEntry) -> ApiResult<Value> {
    let mut data: Value =
        serde_json::from_str(&e.event.data).map_err(|err| ApiError::Internal(err.into()))?;
    if let Some((status, error)) = e.delivery {
        if let Some(m) = data.get_mut("message").and_then(Value::as_object_mut) {
            m.insert("status".into(), json!(status));
            m.insert("error".into(), json!(error));
        }
    }
    Ok(json!({ "seq": e.event.seq, "type": e.event.kind, "at": e.event.at, "data": data }))
}

pub async fn timeline(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Query(q): Query<TimelineQuery>,
) -> ApiResult<Json<Value>> {
    let (limit, before) = q.parse()?;
    let entries = app.store.timeline(&p.scope(), id, before, limit).await?;
    let more = entries.len() == limit as usize;
    let first_seq = entries.first().map(|e| e.event.seq);
    let items = entries
        .into_iter()
        .map(timeline_item)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(
        json!({ "items": items, "before": if more { first_seq } else { None } }),
    ))
}

/// Runs a command and wakes whoever needs to know.
async fn run(app: &App, p: &Principal, id: ConversationId, cmd: Command) -> ApiResult<ActOutcome> {
    let is_reply = matches!(cmd, Command::Reply { .. } | Command::BotReply { .. });
    let resolving = matches!(
        cmd,
        Command::SetStatus {
            to: Status::Resolved,
            ..
        }
    );
    let out = app
        .store
        .act(&p.scope(), id, p.user_id, cmd, app.now())
        .await?;
    if is_reply {
        app.dispatch_bell.notify_one();
    }
    if resolving {
        // The satisfaction survey, when the workspace sends one, goes after the answer.
        let (app, p, conv) = (app.clone(), p.clone(), out.conversation.clone());
        tokio::spawn(
            async move { crate::conversations::survey::after_resolve(&app, &p, &conv).await },
        );
    }
    Ok(out)
}

pub async fn reply(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<crate::conversations::compose::ReplyRequest>,
) -> ApiResult<Response> {
    let scope = p.scope();
    let conv = app.store.conversation(&scope, id).await?;
    let inbox = app.store.inbox(&scope, conv.inbox_id).await?;
    let files = crate::conversations::attachments::for_reply(
        &app,
        &inbox,
        req.attachments.as_deref().unwrap_or_default(),
    )
    .await?;
    let composed = crate::conversations::compose::compose(&inbox, &req, &files)?;
    // A reply the channel would refuse (outside WhatsApp's or Messenger's window) is refused now,
    // with the reason, rather than failing later in the outbox.
    crate::inboxes::channels::check_reply(&app, &scope, &inbox, id, composed.template, !p.bot)
        .await?;
    let facts = crate::compliance::gate::facts(&app, &scope, Some(id)).await?;
    let purpose = req.purpose.unwrap_or(Purpose::Conversational);
    let admitted = crate::compliance::gate::admit(
        &app,
        &inbox,
        conv.contact_id,
        purpose,
        facts,
        composed.body,
    )
    .await?;
    let verdict = admitted.verdict();
    let (meta, body) = (admitted.meta(composed.meta), admitted.body);
    // A bot's reply is the bot's on the timeline.
    let cmd = if p.bot {
        Command::BotReply { meta, body }
    } else {
        Command::Reply { meta, body }
    };
    let out = run(&app, &p, id, cmd).await?;
    Ok((
        StatusCode::CREATED,
        Json(SentView {
            compliance: verdict,
            conversation: out.conversation.into(),
            message: out.message.map(Into::into),
        }),
    )
        .into_response())
}

/// What the conversation's channel can carry and whether a free-form reply may be sent now, so
/// the composer can say so before the agent writes.
pub async fn channel(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Json<Value>> {
    let scope = p.scope();
    let conv = app.store.conversation(&scope, id).await?;
    let inbox = app.store.inbox(&scope, conv.inbox_id).await?;
    let window = crate::inboxes::channels::window(&app, &scope, &inbox, id).await?;
    let (state, reason) = match window {
        None => ("open", None),
        Some(parley_channels::meta::WindowVerdict::Open) => ("open", None),
        Some(parley_channels::meta::WindowVerdict::HumanAgentTag) => (
            "human_agent",
            Some("Past the 24-hour window: a reply from a person goes out with Meta's HUMAN_AGENT tag (up to 7 days).".to_string()),
        ),
        Some(parley_channels::meta::WindowVerdict::TemplateOnly { reason }) => {
            ("template_only", Some(reason))
        }
        Some(parley_channels::meta::WindowVerdict::Closed { reason }) => ("closed", Some(reason)),
    };
    let facts = crate::compliance::gate::facts(&app, &scope, Some(id)).await?;
    let closed = matches!(state, "template_only" | "closed")
        .then(|| reason.clone())
        .flatten();
    let gate =
        crate::compliance::gate::preview(&app, &inbox, conv.contact_id, facts, closed).await?;
    Ok(Json(json!({
        "kind": inbox.kind,
        "capabilities": crate::inboxes::channels::kind_of(&inbox).and_then(parley_channels::ChannelKind::capabilities),
        "window": { "state": state, "reason": reason },
        "compliance": gate,
    })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversationRequest {
    inbox_id: InboxId,
    contact_id: ContactId,
    body: String,
    /// Why the business writes: `informational` (default for a new conversation) or
    /// `promotional`; `conversational` only continues a conversation the customer started.
    #[serde(default)]
    purpose: Option<Purpose>,
}

pub async fn create_conversation(
    State(app): State<App>,
    Auth(p): Auth,
    Json(req): Json<CreateConversationRequest>,
) -> ApiResult<Response> {
    let body = parse_body("body", &req.body)?;
    let scope = p.scope();
    let inbox = app.store.inbox(&scope, req.inbox_id).await?;
    // Writing to a contact the caller may not see would make it visible to them.
    crate::contacts::api::visible(&app, &p, req.contact_id).await?;
    let existing = app
        .store
        .list_conversations(
            &scope,
            &parley_store::ConversationQuery {
                inbox: Some(inbox.id),
                contact: Some(req.contact_id),
                limit: 1,
                ..Default::default()
            },
        )
        .await?
        .items
        .into_iter()
        .next();
    if let Some(conv) = &existing {
        crate::inboxes::channels::check_reply(&app, &scope, &inbox, conv.id, false, !p.bot).await?;
    }
    let facts = crate::compliance::gate::facts(&app, &scope, existing.map(|c| c.id)).await?;
    // Starting a conversation is the business writing first.
    let purpose = req.purpose.unwrap_or(Purpose::Informational);
    let admitted =
        crate::compliance::gate::admit(&app, &inbox, req.contact_id, purpose, facts, body).await?;
    let verdict = admitted.verdict();
    let out = crate::compliance::gate::start_admitted(
        &app,
        &scope,
        &inbox,
        req.contact_id,
        p.user_id,
        admitted,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(SentView {
            compliance: verdict,
            conversation: out.conversation.into(),
            message: out.message.map(Into::into),
        }),
    )
        .into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    body: String,
    #[serde(default)]
    mentions: Vec<UserId>,
}

pub async fn note(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<NoteRequest>,
) -> ApiResult<Response> {
    let body = parse_body("body", &req.body)?;
    let users = app.store.list_users(p.workspace_id).await?;
    let mut mentions: Vec<UserId> = Vec::new();
    for id in &req.mentions {
        if !users.iter().any(|u| u.id == *id) {
            return Err(ApiError::invalid(
                "mentions",
                format!("{id} is not a user of this workspace"),
            ));
        }
        mentions.push(*id);
    }
    let people: Vec<(UserId, &str, &str)> = users
        .iter()
        .map(|u| (u.id, u.name.as_str(), u.email.as_str()))
        .collect();
    let (mut unresolved, mut ambiguous) = (Vec::new(), Vec::new());
    for m in message::mentions(&body) {
        match message::resolve_mention(&m.key, &people) {
            Resolved::One(id) => {
                if !mentions.contains(&id) {
                    mentions.push(id);
                }
            }
            Resolved::Ambiguous(ids) => {
                let candidates: Vec<Value> = users
                    .iter()
                    .filter(|u| ids.contains(&u.id))
                    .map(|u| json!({ "id": u.id, "name": u.name, "email": u.email }))
                    .collect();
                ambiguous.push(json!({ "mention": m.written, "candidates": candidates }));
            }
            Resolved::Nobody => unresolved.push(m.written),
        }
    }
    let out = run(&app, &p, id, Command::Note { body, mentions }).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "note": out.note,
            "conversation": out.conversation,
            "unresolved_mentions": unresolved,
            "ambiguous_mentions": ambiguous,
        })),
    )
        .into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    #[serde(default, deserialize_with = "double_option")]
    assignee_id: Option<Option<UserId>>,
    #[serde(default, deserialize_with = "double_option")]
    team_id: Option<Option<TeamId>>,
}

async fn assign_to(
    app: &App,
    p: &Principal,
    id: ConversationId,
    assignee: Option<Option<UserId>>,
    team: Option<Option<TeamId>>,
) -> ApiResult<Response> {
    let current = app.store.conversation(&p.scope(), id).await?;
    let assignee = assignee.unwrap_or(current.assignee_id);
    let team = team.unwrap_or(current.team_id);
    // Agents pick up or put down their own work; reassigning others is for supervisors and admins.
    if !is_supervisor_or_admin(p) {
        let others_before = current.assignee_id.is_some_and(|a| a != p.user_id);
        let others_after = assignee.is_some_and(|a| a != p.user_id);
        if others_before || others_after {
            return Err(ApiError::forbidden(
                "agents may assign conversations only to themselves",
            ));
        }
    }
    let out = run(app, p, id, Command::Assign { assignee, team }).await?;
    Ok(Json(ConversationView::from(out.conversation)).into_response())
}

pub async fn assign(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<AssignRequest>,
) -> ApiResult<Response> {
    if req.assignee_id.is_none() && req.team_id.is_none() {
        return Err(ApiError::invalid(
            "assignee_id",
            "give assignee_id, team_id or both",
        ));
    }
    assign_to(&app, &p, id, req.assignee_id, req.team_id).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffRequest {
    #[serde(default)]
    team_id: Option<TeamId>,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/v1/conversations/{id}/handoff`: a bot (or an agent) passes the conversation to
/// people: its note for them, then the conversation unassigned (to the team given, if any) and
/// open, waiting in their views. Everything is checked before anything is written.
pub async fn handoff(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<HandoffRequest>,
) -> ApiResult<Response> {
    let note = req
        .note
        .as_deref()
        .map(|n| parse_body("note", n))
        .transpose()?;
    let current = app.store.conversation(&p.scope(), id).await?;
    if let Some(team) = req.team_id {
        if !app
            .store
            .list_teams(p.workspace_id)
            .await?
            .iter()
            .any(|t| t.id == team)
        {
            return Err(ApiError::invalid(
                "team_id",
                "no such team in this workspace",
            ));
        }
    }
    // Agents (bots are agents) hand off only what is theirs or nobody's.
    if !is_supervisor_or_admin(&p) && current.assignee_id.is_some_and(|a| a != p.user_id) {
        return Err(ApiError::forbidden(
            "agents may hand off only conversations assigned to them or to nobody",
        ));
    }
    let team = req.team_id.or(current.team_id);
    let reassign = current.assignee_id.is_some() || team != current.team_id;
    if let Some(body) = note {
        run(
            &app,
            &p,
            id,
            Command::Note {
                body,
                mentions: Vec::new(),
            },
        )
        .await?;
    }
    if reassign {
        run(
            &app,
            &p,
            id,
            Command::Assign {
                assignee: None,
                team,
            },
        )
        .await?;
    }
    if current.status != Status::Open {
        run(
            &app,
            &p,
            id,
            Command::SetStatus {
                to: Status::Open,
                snoozed_until: None,
            },
        )
        .await?;
    }
    let conv = app.store.conversation(&p.scope(), id).await?;
    Ok(Json(ConversationView::from(conv)).into_response())
}

pub async fn unassign(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Response> {
    assign_to(&app, &p, id, Some(None), None).await
}

pub(crate) async fn set_status(
    app: &App,
    p: &Principal,
    id: ConversationId,
    to: Status,
    until: Option<Timestamp>,
) -> ApiResult<Response> {
    let out = run(
        app,
        p,
        id,
        Command::SetStatus {
            to,
            snoozed_until: until,
        },
    )
    .await?;
    Ok(Json(ConversationView::from(out.conversation)).into_response())
}

pub async fn resolve(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Response> {
    set_status(&app, &p, id, Status::Resolved, None).await
}

pub async fn reopen(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
) -> ApiResult<Response> {
    set_status(&app, &p, id, Status::Open, None).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeRequest {
    until: Timestamp,
}

pub async fn snooze(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<SnoozeRequest>,
) -> ApiResult<Response> {
    set_status(&app, &p, id, Status::Snoozed, Some(req.until)).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchRequest {
    #[serde(default)]
    priority: Option<Priority>,
    #[serde(default)]
    status: Option<Status>,
    #[serde(default)]
    snoozed_until: Option<Timestamp>,
}

pub async fn update_conversation(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<PatchRequest>,
) -> ApiResult<Response> {
    if req.priority.is_none() && req.status.is_none() {
        return Err(ApiError::invalid(
            "priority",
            "give priority, status or both",
        ));
    }
    let mut conv = None;
    if let Some(pr) = req.priority {
        conv = Some(
            run(&app, &p, id, Command::SetPriority(pr))
                .await?
                .conversation,
        );
    }
    if let Some(st) = req.status {
        conv = Some(
            run(
                &app,
                &p,
                id,
                Command::SetStatus {
                    to: st,
                    snoozed_until: req.snoozed_until,
                },
            )
            .await?
            .conversation,
        );
    }
    Ok(Json(conv.map(ConversationView::from)).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelsRequest {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

pub async fn change_labels(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    Json(req): Json<LabelsRequest>,
) -> ApiResult<Response> {
    if req.add.len() + req.remove.len() > 50 {
        return Err(ApiError::invalid("labels", "at most 50 labels at once"));
    }
    let add = req
        .add
        .iter()
        .map(|l| parse_label(l))
        .collect::<Result<Vec<_>, _>>()?;
    let remove = req
        .remove
        .iter()
        .map(|l| parse_label(l))
        .collect::<Result<Vec<_>, _>>()?;
    let out = run(&app, &p, id, Command::Labels { add, remove }).await?;
    Ok(Json(ConversationView::from(out.conversation)).into_response())
}

pub async fn remove_label(
    State(app): State<App>,
    Auth(p): Auth,
    Path((id, label)): Path<(ConversationId, String)>,
) -> ApiResult<Response> {
    let label = parse_label(&label)?;
    let out = run(
        &app,
        &p,
        id,
        Command::Labels {
            add: vec![],
            remove: vec![label],
        },
    )
    .await?;
    Ok(Json(ConversationView::from(out.conversation)).into_response())
}

#[derive(Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingRequest {
    /// False while writing an internal note: only other agents are told.
    #[serde(default)]
    to_customer: Option<bool>,
}

pub async fn typing(
    State(app): State<App>,
    Auth(p): Auth,
    Path(id): Path<ConversationId>,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    // The body is optional: an empty one means a reply.
    let req: TypingRequest = if body.iter().all(u8::is_ascii_whitespace) {
        TypingRequest::default()
    } else {
        crate::http::error::parse_json(&body)?
    };
    let to_customer = req.to_customer.unwrap_or(true);
    crate::realtime::announce_typing(&app, &p, id, to_customer).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    text: String,
}

/// What a draft costs as SMS: its encoding (GSM-7 or UCS-2), units and segments.
pub async fn sms_segments(
    Auth(_): Auth,
    Json(req): Json<DraftRequest>,
) -> ApiResult<Json<parley_core::sms::Segments>> {
    if req.text.chars().count() > parley_core::message::MAX_BODY_CHARS {
        return Err(ApiError::invalid("text", "too long to be a message"));
    }
    Ok(Json(parley_core::sms::segments(&req.text)))
}
