//! The workspace and who works in it: first-start setup, sign-in and sessions, API tokens, users,
//! bots and teams, the audit log, workspace-wide settings, and encryption keys at rest.

pub mod audit;
pub mod auth;
pub mod bots;
pub mod keys;
pub mod sessions;
pub mod setup;
pub mod teams;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod views;
pub mod workspace;

use crate::http::routes::route;

/// The account's routes: setup, sign-in, tokens, users, bots, teams, audit and workspace settings.
pub fn routes() -> Vec<crate::http::routes::Route> {
    use crate::account::{audit, bots, sessions, setup, tokens, users, views, workspace};
    use crate::http::routes::Answer;
    vec![
        route!(get "/api/v1/health" => setup::health, "meta", Public, "Liveness: answers when the server and its database answer; `other_nodes` and `warning` when another Parley node serves the same database", response = views::HealthView),
        route!(post "/api/v1/setup" => setup::setup, "account", Public, "Create the first workspace and admin with the one-time setup token; signs the admin in as sign-in does (session cookie, CSRF token)", body = setup::SetupRequest, created = views::SetupView),
        route!(post "/api/v1/auth/sign-in" => sessions::sign_in, "account", Public, "Sign in with email and password; sets the session cookie and returns the CSRF token", body = sessions::SignInRequest, response = views::SignedInView),
        route!(post "/api/v1/auth/sign-out" => sessions::sign_out, "account", Member, "End the current session", answer = Answer::NoContent),
        route!(get "/api/v1/me" => sessions::me, "account", Member, "The signed-in user, their role and inboxes", response = views::MeView),
        route!(get "/api/v1/tokens" => tokens::list_tokens, "account", Member, "Your personal API tokens", response = crate::views::Items<views::TokenView>),
        route!(post "/api/v1/tokens" => tokens::create_token, "account", Member, "Create a personal API token; the token is shown once", body = tokens::CreateTokenRequest, created = views::NewTokenView),
        route!(delete "/api/v1/tokens/{id}" => tokens::revoke_token, "account", Member, "Revoke one of your tokens", answer = Answer::NoContent),
        route!(get "/api/v1/users" => users::list_users, "users", Member, "Users of the workspace with their roles", response = crate::views::Items<crate::views::UserView>),
        route!(post "/api/v1/users" => users::create_user, "users", Admin, "Add a user with a role", body = users::CreateUserRequest, created = crate::views::UserView),
        route!(patch "/api/v1/users/{id}" => users::update_user, "users", Member, "Change a user's name, password (your own with current_password; anyone's as admin) or role (admin)", body = users::UpdateUserRequest, response = crate::views::UserView),
        route!(delete "/api/v1/users/{id}" => users::remove_user, "users", Admin, "Remove a user from the workspace", answer = Answer::NoContent),
        route!(get "/api/v1/audit" => audit::list_audit, "users", Admin, "The audit log, newest first", query = audit::AuditQuery, response = crate::views::Items<views::AuditEntryView>),
        route!(get "/api/v1/replies" => workspace::list_replies, "settings", Member, "Saved replies: the texts agents insert by typing `/shortcut`", response = workspace::RepliesView),
        route!(put "/api/v1/replies" => workspace::put_replies, "settings", Admin, "Replace the saved replies", body = workspace::RepliesRequest, response = workspace::RepliesView),
        route!(get "/api/v1/bots" => bots::list_bots, "bots", Admin, "The workspace's bots", response = crate::views::Items<crate::views::UserView>),
        route!(post "/api/v1/bots" => bots::create_bot, "bots", Admin, "Add a bot working the inboxes named; answers its API token once (a bot never signs in; remove it as a user)", body = bots::CreateBotRequest, created = views::NewBotView),
        route!(get "/api/v1/survey" => workspace::get_survey, "settings", Member, "The satisfaction survey: whether resolving a conversation sends the customer a link to rate it, and the message (`{link}` is the link)", response = crate::conversations::survey::SurveySettings),
        route!(put "/api/v1/survey" => workspace::put_survey, "settings", Admin, "Turn the satisfaction survey on or off and set its message", body = crate::conversations::survey::SurveySettings, response = crate::conversations::survey::SurveySettings),
        route!(get "/api/v1/sla" => workspace::get_sla, "settings", Member, "SLA policies: how soon a waiting customer must be answered, by inbox and priority", response = workspace::SlaView),
        route!(put "/api/v1/sla" => workspace::put_sla, "settings", Admin, "Replace the SLA policies", body = workspace::SlaRequest, response = workspace::SlaView),
        route!(get "/api/v1/encryption" => workspace::encryption, "settings", Admin, "Whether values are sealed at rest, and under which data keys", response = views::EncryptionView),
        route!(get "/api/v1/presence" => audit::presence, "users", Member, "Users with an open realtime connection", response = views::PresenceView),
        route!(get "/api/v1/teams" => crate::account::teams::list_teams, "teams", Member, "Teams and their members", response = crate::views::Items<crate::account::teams::TeamView>),
        route!(post "/api/v1/teams" => crate::account::teams::create_team, "teams", Admin, "Create a team", body = crate::account::teams::TeamRequest, created = crate::account::teams::TeamView),
        route!(patch "/api/v1/teams/{id}" => crate::account::teams::rename_team, "teams", Admin, "Rename a team", body = crate::account::teams::TeamRequest, response = crate::account::teams::TeamView),
        route!(delete "/api/v1/teams/{id}" => crate::account::teams::delete_team, "teams", Admin, "Delete a team (its conversations keep their agents)", answer = crate::http::routes::Answer::NoContent),
        route!(put "/api/v1/teams/{id}/members/{user_id}" => crate::account::teams::add_team_member, "teams", Admin, "Add a user to a team", response = crate::account::teams::TeamView),
        route!(delete "/api/v1/teams/{id}/members/{user_id}" => crate::account::teams::remove_team_member, "teams", Admin, "Remove a user from a team", response = crate::account::teams::TeamView),
    ]
}
