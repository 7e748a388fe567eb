//! Bots: users that work through an API token instead of signing in. A bot answers customers in
//! its inboxes (its replies are the bot's on the timeline), and hands a conversation to people
//! with `POST /api/v1/conversations/{id}/handoff`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use parley_core::role::Role;
use parley_core::InboxId;
use parley_store::{NewUser, Principal, StoreError};
use serde::Deserialize;
use serde_json::json;

use crate::account::audit::audit;
use crate::account::auth::random_token;
use crate::account::tokens::{issue_token, TokenError};
use crate::account::views::NewBotView;
use crate::http::caller::{require_admin, Auth};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::Json;
use crate::state::App;
use crate::views::{Items, UserView};

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBotRequest {
    name: String,
    #[serde(default)]
    #[schemars(length(max = 100))]
    inbox_ids: Vec<InboxId>,
}

/// `GET /api/v1/bots`: the workspace's bots (admins).
pub async fn list_bots(State(app): State<App>, Auth(p): Auth) -> ApiResult<Json<Items<UserView>>> {
    require_admin(&p)?;
    let users = app.store.list_users(p.workspace_id).await?;
    Ok(Json(Items::users(users.into_iter().filter(|u| u.bot))))
}

/// Why a bot could not be added.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("no inbox {0} in this workspace")]
    UnknownInbox(InboxId),
    #[error(transparent)]
    Invalid(#[from] parley_core::Invalid),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BotError> for ApiError {
    fn from(e: BotError) -> Self {
        match e {
            BotError::UnknownInbox(_) => ApiError::invalid("inbox_ids", e.to_string()),
            BotError::Invalid(e) => e.into(),
            BotError::Token(e) => e.into(),
            BotError::Store(e) => e.into(),
        }
    }
}

/// `POST /api/v1/bots` (admins): a bot working the inboxes named, and its API token, shown once.
/// It cannot sign in; removing it is removing the user.
pub async fn create_bot(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<CreateBotRequest>,
) -> ApiResult<(StatusCode, Json<NewBotView>)> {
    require_admin(&p)?;
    let created = add_bot(&app, &p, req, &headers).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Creates the bot user, makes it a member of its inboxes, issues its token and audits it.
async fn add_bot(
    app: &App,
    p: &Principal,
    req: CreateBotRequest,
    headers: &HeaderMap,
) -> Result<NewBotView, BotError> {
    let name = parley_core::contact::parse_name("name", &req.name)?;
    let inboxes = app.store.list_inboxes(&p.scope()).await?;
    if let Some(missing) = req
        .inbox_ids
        .iter()
        .find(|id| !inboxes.iter().any(|i| i.id == **id))
    {
        return Err(BotError::UnknownInbox(*missing));
    }
    let bot = create_bot_user(app, p, name).await?;
    for inbox in &req.inbox_ids {
        app.store
            .set_inbox_member(p.workspace_id, *inbox, bot.id, true)
            .await?;
    }
    let principal = app.store.principal(p.workspace_id, bot.id).await?;
    let (_, token) = issue_token(app, &principal, "bot").await?;
    audit(
        app,
        p,
        headers,
        "bot.create",
        bot.id,
        json!({ "name": bot.name, "inboxes": req.inbox_ids.len() }),
    )
    .await;
    Ok(NewBotView {
        bot: bot.into(),
        inbox_ids: req.inbox_ids,
        token,
    })
}

/// The bot's user: an agent with a unique address no mail reaches and no password.
async fn create_bot_user(
    app: &App,
    p: &Principal,
    name: String,
) -> Result<parley_store::UserView, StoreError> {
    app.store
        .create_user(
            p.workspace_id,
            NewUser {
                // Unique, and no mailbox: a bot is never written to or signed in as.
                email: format!(
                    "bot-{}@bots.parley.invalid",
                    random_token()[..16].to_lowercase()
                ),
                name,
                // Not a password hash: no password ever matches it.
                password_hash: "!bot".into(),
                role: Role::Agent,
                bot: true,
            },
            app.now(),
        )
        .await
}
