//! Bots: users that work through an API token instead of signing in. A bot answers customers in
//! its inboxes (its replies are the bot's on the timeline), and hands a conversation to people
//! with `POST /api/v1/conversations/{id}/handoff`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use parley_core::role::Role;
use parley_core::InboxId;
use parley_store::NewUser;
use serde::Deserialize;
use serde_json::json;

use crate::account::auth::{random_token, require_admin, Auth};
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

/// `POST /api/v1/bots` (admins): a bot working the inboxes named, and its API token, shown once.
/// It cannot sign in; removing it is removing the user.
pub async fn create_bot(
    State(app): State<App>,
    headers: HeaderMap,
    Auth(p): Auth,
    Json(req): Json<CreateBotRequest>,
) -> ApiResult<Response> {
    require_admin(&p)?;
    let name = parley_core::contact::parse_name("name", &req.name)?;
    let inboxes = app.store.list_inboxes(&p.scope()).await?;
    if let Some(missing) = req
        .inbox_ids
        .iter()
        .find(|id| !inboxes.iter().any(|i| i.id == **id))
    {
        return Err(ApiError::invalid(
            "inbox_ids",
            format!("no inbox {missing} in this workspace"),
        ));
    }
    let now = app.now();
    let bot = app
        .store
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
            now,
        )
        .await?;
    for inbox in &req.inbox_ids {
        app.store
            .set_inbox_member(p.workspace_id, *inbox, bot.id, true)
            .await?;
    }
    let principal = app.store.principal(p.workspace_id, bot.id).await?;
    let (_, token) = crate::account::api::issue_token(&app, &principal, "bot").await?;
    crate::account::api::audit(
        &app,
        &p,
        &headers,
        "bot.create",
        bot.id,
        json!({ "name": bot.name, "inboxes": req.inbox_ids.len() }),
    )
    .await;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "bot": bot, "token": token, "inbox_ids": req.inbox_ids })),
    )
        .into_response())
}
