//! The workspace and who works in it: first-start setup, sign-in and sessions, API tokens, users,
//! bots and teams, the audit log, workspace-wide settings, and encryption keys at rest.

pub mod api;
pub mod auth;
pub mod bots;
pub mod keys;
pub mod teams;
pub mod throttle;
pub mod workspace;

use crate::http::routes::route;

/// The account's routes: setup, sign-in, tokens, users, bots, teams, audit and workspace settings.
pub fn routes() -> Vec<crate::http::routes::Route> {
    use crate::account::{api as a, bots, workspace};
    vec![
        route!(get "/api/v1/health" => a::health, "meta", Public, "Liveness: answers when the server and its database answer; `other_nodes` and `warning` when another Parley node serves the same database"),
        route!(post "/api/v1/setup" => a::setup, "account", Public, "Create the first workspace and admin with the one-time setup token; signs the admin in as sign-in does (session cookie, CSRF token)", body = a::SetupRequest),
        route!(post "/api/v1/auth/sign-in" => a::sign_in, "account", Public, "Sign in with email and password; sets the session cookie and returns the CSRF token", body = a::SignInRequest, response = crate::views::SignedInView),
        route!(post "/api/v1/auth/sign-out" => a::sign_out, "account", Member, "End the current session"),
        route!(get "/api/v1/me" => a::me, "account", Member, "The signed-in user, their role and inboxes", response = crate::views::MeView),
        route!(get "/api/v1/tokens" => a::list_tokens, "account", Member, "Your personal API tokens", response = crate::views::Items<crate::views::TokenView>),
        route!(post "/api/v1/tokens" => a::create_token, "account", Member, "Create a personal API token; the token is shown once", body = a::CreateTokenRequest, response = crate::views::NewTokenView),
        route!(delete "/api/v1/tokens/{id}" => a::revoke_token, "account", Member, "Revoke one of your tokens"),
        route!(get "/api/v1/users" => a::list_users, "users", Member, "Users of the workspace with their roles", response = crate::views::Items<crate::views::UserView>),
        route!(post "/api/v1/users" => a::create_user, "users", Admin, "Add a user with a role", body = a::CreateUserRequest, response = crate::views::UserView),
        route!(patch "/api/v1/users/{id}" => a::update_user, "users", Member, "Change a user's name, password (your own with current_password; anyone's as admin) or role (admin)", body = a::UpdateUserRequest, response = crate::views::UserView),
        route!(delete "/api/v1/users/{id}" => a::remove_user, "users", Admin, "Remove a user from the workspace"),
        route!(get "/api/v1/audit" => a::list_audit, "users", Admin, "The audit log, newest first", query = a::AuditQuery),
        route!(get "/api/v1/replies" => workspace::list_replies, "settings", Member, "Saved replies: the texts agents insert by typing `/shortcut`", response = workspace::RepliesView),
        route!(put "/api/v1/replies" => workspace::put_replies, "settings", Admin, "Replace the saved replies", body = workspace::RepliesRequest, response = workspace::RepliesView),
        route!(get "/api/v1/bots" => bots::list_bots, "bots", Admin, "The workspace's bots", response = crate::views::Items<crate::views::UserView>),
        route!(post "/api/v1/bots" => bots::create_bot, "bots", Admin, "Add a bot working the inboxes named; answers its API token once (a bot never signs in; remove it as a user)", body = bots::CreateBotRequest),
        route!(get "/api/v1/survey" => workspace::get_survey, "settings", Member, "The satisfaction survey: whether resolving a conversation sends the customer a link to rate it, and the message (`{link}` is the link)", response = crate::conversations::survey::SurveySettings),
        route!(put "/api/v1/survey" => workspace::put_survey, "settings", Admin, "Turn the satisfaction survey on or off and set its message", body = crate::conversations::survey::SurveySettings, response = crate::conversations::survey::SurveySettings),
        route!(get "/api/v1/sla" => workspace::get_sla, "settings", Member, "SLA policies: how soon a waiting customer must be answered, by inbox and priority", response = workspace::SlaView),
        route!(put "/api/v1/sla" => workspace::put_sla, "settings", Admin, "Replace the SLA policies", body = workspace::SlaRequest, response = workspace::SlaView),
        route!(get "/api/v1/encryption" => workspace::encryption, "settings", Admin, "Whether values are sealed at rest, and under which data keys"),
        route!(get "/api/v1/presence" => a::presence, "users", Member, "Users with an open realtime connection", response = crate::views::PresenceView),
        route!(get "/api/v1/teams" => crate::account::teams::list_teams, "teams", Member, "Teams and their members", response = crate::views::Items<crate::account::teams::TeamView>),
        route!(post "/api/v1/teams" => crate::account::teams::create_team, "teams", Admin, "Create a team", body = crate::account::teams::TeamRequest, created = crate::account::teams::TeamView),
        route!(patch "/api/v1/teams/{id}" => crate::account::teams::rename_team, "teams", Admin, "Rename a team", body = crate::account::teams::TeamRequest, response = crate::account::teams::TeamView),
        route!(delete "/api/v1/teams/{id}" => crate::account::teams::delete_team, "teams", Admin, "Delete a team (its conversations keep their agents)", answer = crate::http::routes::Answer::NoContent),
        route!(put "/api/v1/teams/{id}/members/{user_id}" => crate::account::teams::add_team_member, "teams", Admin, "Add a user to a team", response = crate::account::teams::TeamView),
        route!(delete "/api/v1/teams/{id}/members/{user_id}" => crate::account::teams::remove_team_member, "teams", Admin, "Remove a user from a team", response = crate::account::teams::TeamView),
    ]
}
