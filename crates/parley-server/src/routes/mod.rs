//! The REST API under `/api/v1`, as one table: each route's method, path, handler, access and
//! summary. The router and the OpenAPI document are both built from it, so they cannot disagree.

pub mod account;
pub mod bots;
pub mod compliance;
pub mod contacts;
pub mod conversations;
pub mod directory;
pub mod exports;
pub mod lists;
pub mod reach;
pub mod workspace;

use axum::routing::MethodRouter;
use serde::{Deserialize, Deserializer};

use crate::state::App;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials.
    Public,
    /// Any signed-in member of the workspace (agent, supervisor, admin); scoped to their inboxes.
    Member,
    /// Supervisors and admins.
    Supervisor,
    /// Admins only.
    Admin,
    /// A provider or integrating system, proven by the request signature.
    Signature,
}

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// The JSON Schema of the request body, for routes that take one: derived from the type its
    /// handler's `Json` reads.
    pub body: Option<SchemaFn>,
    /// The JSON Schema of the answer, derived from the type the handler returns.
    pub response: Option<SchemaFn>,
    /// The query parameters the route takes, read from the struct its handler's `Query` reads;
    /// under `/api/v1` any other parameter is refused.
    pub query: &'static [&'static str],
    /// Each query parameter's JSON Schema type, in the order of `query`.
    pub query_types: fn() -> Vec<&'static str>,
    pub handler: MethodRouter<App>,
}

/// Adds the schema of a type to the document's generator and answers it (a `$ref` for named types).
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// The [`SchemaFn`] of `T`.
pub fn schema<T: schemars::JsonSchema>(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
    g.subschema_for::<T>()
}

macro_rules! route {
    ($m:ident $path:literal => $h:path, $tag:literal, $access:ident, $summary:literal $(, query = $q:ty)? $(, body = $body:ty)? $(, response = $resp:ty)?) => {
        Route {
            method: stringify!($m),
            path: $path,
            tag: $tag,
            access: Access::$access,
            summary: $summary,
            body: None $(.or(Some(schema::<$body> as SchemaFn)))?,
            response: None $(.or(Some(schema::<$resp> as SchemaFn)))?,
            query: crate::error::query_params::<route!(@query $($q)?)>(),
            query_types: crate::error::query_types::<route!(@query $($q)?)>,
            handler: axum::routing::$m($h),
        }
    };
    (@query) => { crate::error::NoQuery };
    (@query $q:ty) => { $q };
}

pub fn routes() -> Vec<Route> {
    use account as a;
    use contacts as k;
    use conversations as c;
    use directory as d;
    vec![
        route!(get "/api/v1/health" => a::health, "meta", Public, "Liveness: answers when the server and its database answer; `other_nodes` and `warning` when another Parley node serves the same database"),
        route!(get "/api/v1/openapi.json" => crate::openapi::openapi_json, "meta", Public, "This document"),
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
        route!(get "/api/v1/audit" => a::list_audit, "users", Admin, "The audit log, newest first", query = account::AuditQuery),
        route!(get "/api/v1/audit/export" => compliance::export_audit, "users", Admin, "Export the whole audit log (`?format=json` or `csv`)", query = compliance::ExportQuery),
        route!(get "/api/v1/replies" => workspace::list_replies, "settings", Member, "Saved replies: the texts agents insert by typing `/shortcut`", response = workspace::RepliesView),
        route!(put "/api/v1/replies" => workspace::put_replies, "settings", Admin, "Replace the saved replies", body = workspace::RepliesRequest, response = workspace::RepliesView),
        route!(get "/api/v1/bots" => bots::list_bots, "bots", Admin, "The workspace's bots", response = crate::views::Items<crate::views::UserView>),
        route!(post "/api/v1/bots" => bots::create_bot, "bots", Admin, "Add a bot working the inboxes named; answers its API token once (a bot never signs in; remove it as a user)", body = bots::CreateBotRequest),
        route!(get "/api/v1/survey" => workspace::get_survey, "settings", Member, "The satisfaction survey: whether resolving a conversation sends the customer a link to rate it, and the message (`{link}` is the link)", response = crate::survey::SurveySettings),
        route!(put "/api/v1/survey" => workspace::put_survey, "settings", Admin, "Turn the satisfaction survey on or off and set its message", body = crate::survey::SurveySettings, response = crate::survey::SurveySettings),
        route!(get "/survey/{inbox_id}/{conversation_id}" => crate::survey::page, "surveys", Public, "The page a customer rates a conversation on (`?at=&sig=` from the link they were sent)", query = crate::survey::LinkQuery),
        route!(post "/survey/{inbox_id}/{conversation_id}" => crate::survey::answer, "surveys", Public, "A customer's rating (`rating` 1 to 5, optional `comment`, form-encoded): recorded on the timeline as `survey.answered`", query = crate::survey::LinkQuery),
        route!(get "/api/v1/sla" => workspace::get_sla, "settings", Member, "SLA policies: how soon a waiting customer must be answered, by inbox and priority", response = workspace::SlaView),
        route!(put "/api/v1/sla" => workspace::put_sla, "settings", Admin, "Replace the SLA policies", body = workspace::SlaRequest, response = workspace::SlaView),
        route!(get "/api/v1/encryption" => workspace::encryption, "settings", Admin, "Whether values are sealed at rest, and under which data keys"),
        route!(get "/api/v1/presence" => a::presence, "users", Member, "Users with an open realtime connection", response = crate::views::PresenceView),
        route!(get "/api/v1/teams" => d::list_teams, "teams", Member, "Teams and their members", response = crate::views::Items<crate::views::TeamView>),
        route!(post "/api/v1/teams" => d::create_team, "teams", Admin, "Create a team", body = d::TeamRequest, response = crate::views::TeamView),
        route!(patch "/api/v1/teams/{id}" => d::rename_team, "teams", Admin, "Rename a team", body = d::TeamRequest, response = crate::views::TeamView),
        route!(delete "/api/v1/teams/{id}" => d::delete_team, "teams", Admin, "Delete a team (its conversations keep their agents)"),
        route!(put "/api/v1/teams/{id}/members/{user_id}" => d::add_team_member, "teams", Admin, "Add a user to a team", response = crate::views::TeamView),
        route!(delete "/api/v1/teams/{id}/members/{user_id}" => d::remove_team_member, "teams", Admin, "Remove a user from a team", response = crate::views::TeamView),
        route!(get "/api/v1/inboxes" => d::list_inboxes, "inboxes", Member, "Inboxes you work (admins: all, each with its outbox `backlog`: `queued`, `in_flight`, `oldest_due`)", response = crate::views::Items<crate::views::InboxView>),
        route!(post "/api/v1/inboxes" => d::create_inbox, "inboxes", Admin, "Create an inbox; for kind `api`, returns its signing secret and webhook URL", body = d::CreateInboxRequest, response = crate::views::InboxView),
        route!(get "/api/v1/inboxes/{id}" => d::get_inbox, "inboxes", Member, "One inbox (admins also see its outbox `backlog`: `queued`, `in_flight`, `oldest_due`)", response = crate::views::InboxView),
        route!(patch "/api/v1/inboxes/{id}" => d::update_inbox, "inboxes", Admin, "Rename an inbox, change its callback URL, its sending rate limit, a widget's site, greeting, colour and pre-chat form, or the channel's credentials and addresses (named as when adding it; those left out stay, and Meta's verify token and Telegram's secret stay); audited without the values", body = d::UpdateInboxRequest, response = crate::views::InboxView),
        Route {
            method: "post",
            path: "/api/v1/inboxes/{id}/attachments",
            tag: "attachments",
            access: Access::Member,
            summary: "Upload a file to attach to a reply: the raw bytes as the body, its type in Content-Type, `?filename=`; up to 25 MB",
            body: None,
            response: None,
            query: crate::error::query_params::<crate::attachments::UploadQuery>(),
            query_types: crate::error::query_types::<crate::attachments::UploadQuery>,
            handler: axum::routing::post(crate::attachments::upload)
                .layer(axum::extract::DefaultBodyLimit::max(crate::attachments::MAX_BYTES)),
        },
        route!(get "/api/v1/inboxes/{id}/attachments/{attachment}" => crate::attachments::download, "attachments", Member, "Download an attachment of the inbox"),
        route!(get "/media/{inbox_id}/{attachment}" => crate::attachments::public, "attachments", Public, "An attachment by signed link (`exp`, `sig`), for providers and widget visitors", query = crate::attachments::SignedQuery),
        route!(get "/api/v1/inboxes/{id}/templates" => d::inbox_templates, "inboxes", Member, "A WhatsApp inbox's approved message templates (needs its `waba_id`): name, language, category, body and parameter names, as Meta lists them"),
        route!(post "/api/v1/inboxes/{id}/test" => d::test_inbox, "inboxes", Admin, "Ask the provider whether the inbox's credentials work (a read that changes nothing; for email, a login to the SMTP relay and the IMAP mailbox); `ok` and the provider's answer"),
        route!(get "/api/v1/inboxes/{id}/members" => d::inbox_members, "inboxes", Member, "Agents who work an inbox", response = crate::views::Items<crate::views::UserView>),
        route!(put "/api/v1/inboxes/{id}/members/{user_id}" => d::add_inbox_member, "inboxes", Admin, "Let a user work an inbox"),
        route!(delete "/api/v1/inboxes/{id}/members/{user_id}" => d::remove_inbox_member, "inboxes", Admin, "Take a user off an inbox"),
        route!(get "/api/v1/contacts" => k::search_contacts, "contacts", Member, "Search contacts by name, phone or email (`q`), paginated by `cursor`", query = contacts::SearchQuery, response = crate::views::ContactPage),
        route!(post "/api/v1/contacts" => k::create_contact, "contacts", Member, "Create a contact with optional identities", body = k::CreateContactRequest, response = crate::views::ContactView),
        route!(get "/api/v1/contacts/{id}" => k::get_contact, "contacts", Member, "One contact with its identities", response = crate::views::ContactView),
        route!(delete "/api/v1/contacts/{id}" => compliance::erase_contact, "contacts", Admin, "Erase the contact (GDPR/CCPA): name, addresses, fields, message and note content, and files go; conversations stay anonymised; revocations stay so an opted-out number is still refused; audited"),
        route!(patch "/api/v1/contacts/{id}" => k::update_contact, "contacts", Member, "Change a contact; null clears a field; custom fields merge", body = k::UpdateContactRequest, response = crate::views::ContactView),
        route!(post "/api/v1/contacts/{id}/identities" => k::add_identity, "contacts", Member, "Add an address (phone, email, a channel id) to a contact", body = k::IdentityRequest, response = crate::views::ContactView),
        route!(delete "/api/v1/contacts/{id}/identities/{identity_id}" => k::remove_identity, "contacts", Member, "Remove an address from a contact", response = crate::views::ContactView),
        route!(post "/api/v1/contacts/{id}/merge" => k::merge_contact, "contacts", Member, "Merge another contact into this one (identities and conversations move here)", body = k::MergeRequest, response = crate::views::ContactView),
        route!(post "/api/v1/contacts/{id}/block" => k::block_contact, "contacts", Supervisor, "Block the contact: their messages are still kept (an opt-out in them still counts) but no longer reopen a conversation or wait for an answer; their open conversations in inboxes you work are resolved; audited"),
        route!(delete "/api/v1/contacts/{id}/block" => k::unblock_contact, "contacts", Supervisor, "Unblock the contact"),
        route!(get "/api/v1/contacts/{id}/consent" => k::contact_consent, "contacts", Member, "The contact's consent ledger (grants and revocations with source and evidence) and the channels they opted out of"),
        route!(post "/api/v1/contacts/{id}/consent" => k::record_consent, "contacts", Member, "Record a grant or revocation of consent (source agent, web_form, api, pos or ivr) with its evidence", body = k::RecordConsentRequest),
        route!(get "/api/v1/contacts/{id}/consent/export" => compliance::export_consent, "compliance", Admin, "Export the contact's consent ledger with its evidence (`?format=json` or `csv`)", query = compliance::ExportQuery),
        route!(get "/api/v1/compliance/settings" => compliance::get_settings, "compliance", Member, "The workspace's texting rules (help text, extra keywords, double opt-in, quiet hours, inactivity period, cross-channel revocation) and the texts they produce"),
        route!(put "/api/v1/compliance/settings" => compliance::put_settings, "compliance", Admin, "Replace the workspace's texting rules; fields left out take their defaults", body = crate::compliance::Settings),
        route!(get "/api/v1/retention" => compliance::retention, "compliance", Admin, "The retention period (`retention_days` in the compliance settings) and what the next hourly run will empty: how many messages, the oldest"),
        route!(get "/api/v1/compliance/inactive" => compliance::inactive, "compliance", Supervisor, "Contacts whose number has been silent longer than the inactivity period (their consent for business-initiated messages is suspended)", query = compliance::InactiveQuery),
        route!(post "/api/v1/compliance/inactive/purge" => compliance::purge, "compliance", Admin, "Forget the phone numbers of listed inactive contacts", body = compliance::PurgeRequest),
        route!(get "/api/v1/contacts/{id}/timeline" => reach::contact_timeline, "contacts", Member, "The contact's timeline across all their conversations you may see, each entry marked with its channel; `?before=<seq>` pages back; a message's `data.message.status` is its current delivery status", query = conversations::TimelineQuery),
        route!(get "/api/v1/contacts/{id}/channels" => reach::contact_channels, "contacts", Member, "Channels a reply to the contact can go out on: the one they last wrote on first, each with its window"),
        route!(post "/api/v1/contacts/{id}/messages" => reach::contact_reply, "contacts", Member, "Reply to the contact on a channel (`inbox_id`), by default the one they last wrote on", body = reach::ContactReply),
        route!(get "/api/v1/contacts/{id}/lists" => lists::contact_lists, "lists", Member, "The lists the contact is on, by name", response = crate::views::Items<crate::views::ListView>),
        route!(get "/api/v1/lists" => lists::list_lists, "lists", Member, "The workspace's contact lists by name, each with its size", response = crate::views::Items<crate::views::ListView>),
        route!(post "/api/v1/lists" => lists::create_list, "lists", Supervisor, "Create a contact list (names are unique); audited", body = lists::ListRequest, response = crate::views::ListView),
        route!(patch "/api/v1/lists/{id}" => lists::rename_list, "lists", Supervisor, "Rename a list; audited", body = lists::ListRequest, response = crate::views::ListView),
        route!(delete "/api/v1/lists/{id}" => lists::delete_list, "lists", Supervisor, "Delete a list (its contacts stay); audited"),
        route!(get "/api/v1/lists/{id}/contacts" => lists::list_members, "lists", Member, "The contacts on a list, the most recently added first, paginated by `cursor`", query = lists::MembersQuery, response = crate::views::ContactPage),
        route!(put "/api/v1/lists/{id}/contacts/{contact_id}" => lists::add_member, "lists", Member, "Put a contact on a list (again: no change); an erased contact is refused; answers the list", response = crate::views::ListView),
        route!(delete "/api/v1/lists/{id}/contacts/{contact_id}" => lists::remove_member, "lists", Member, "Take a contact off a list; answers the list", response = crate::views::ListView),
        route!(get "/api/v1/contacts/{id}/conversations" => k::contact_conversations, "contacts", Member, "A contact's conversations in inboxes you work", response = crate::views::Items<crate::views::ConversationView>),
        route!(get "/api/v1/conversations" => c::list_conversations, "conversations", Member, "List conversations: filter by status, assignee (me, none, anyone, a user id), inbox, team, label, priority; sort by waiting, activity or priority; paginate by cursor", query = conversations::ListQuery, response = crate::views::ConversationPage),
        route!(get "/api/v1/conversations/counts" => c::counts, "conversations", Member, "How many conversations each view holds for you: mine and unassigned (open), by status, and open ones by inbox, team and label"),
        route!(post "/api/v1/conversations" => c::create_conversation, "conversations", Member, "Start (or continue) a contact's conversation in an inbox with a message", body = c::CreateConversationRequest, response = crate::views::SentView),
        route!(get "/api/v1/conversations/{id}" => c::get_conversation, "conversations", Member, "One conversation", response = crate::views::ConversationView),
        route!(patch "/api/v1/conversations/{id}" => c::update_conversation, "conversations", Member, "Change priority or status", body = c::PatchRequest, response = crate::views::ConversationView),
        route!(get "/api/v1/conversations/{id}/export" => exports::conversation, "exports", Admin, "Export a conversation's whole timeline (`?format=json` or `csv`)", query = exports::ExportQuery),
        route!(get "/api/v1/exports/conversations" => exports::range, "exports", Admin, "Export every thread active in a date range (`?from=&to=` in RFC 3339, `format=json` or `csv`), with the entries in that range", query = exports::ExportQuery),
        route!(get "/api/v1/conversations/{id}/timeline" => c::timeline, "conversations", Member, "The timeline: messages, notes, status changes and assignments, oldest first; `before` pages back. A message's `data.message.status` (queued, sent, delivered, read, failed) and `error` are its current delivery status", query = conversations::TimelineQuery),
        route!(get "/api/v1/conversations/{id}/channel" => c::channel, "conversations", Member, "The channel of a conversation: what it can carry and whether a free-form reply may be sent now (customer-service windows)"),
        route!(post "/api/v1/conversations/{id}/messages" => c::reply, "conversations", Member, "Reply to the customer (queued for delivery): text, choices to pick from, or a WhatsApp template", body = crate::compose::ReplyRequest, response = crate::views::SentView),
        route!(post "/api/v1/conversations/{id}/notes" => c::note, "conversations", Member, "Add an internal note; mentions (`@maya-x` by email, `@Maya` by a first name only one teammate has, `@\"Maya Chen\"` by full name) notify agents; the answer lists `unresolved_mentions` and `ambiguous_mentions` (with their candidates), which notify nobody", body = c::NoteRequest),
        route!(post "/api/v1/conversations/{id}/assign" => c::assign, "conversations", Member, "Assign to an agent and/or team (agents may assign only themselves)", body = c::AssignRequest, response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/handoff" => c::handoff, "conversations", Member, "Hand the conversation to people (what a bot does when it cannot help): an optional note for them, then unassigned (to `team_id` if given) and open", body = c::HandoffRequest, response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/unassign" => c::unassign, "conversations", Member, "Remove the assigned agent", response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/resolve" => c::resolve, "conversations", Member, "Resolve", response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/reopen" => c::reopen, "conversations", Member, "Reopen", response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/snooze" => c::snooze, "conversations", Member, "Snooze until a time; a customer message wakes it early", body = c::SnoozeRequest, response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/labels" => c::change_labels, "conversations", Member, "Add and remove labels", body = c::LabelsRequest, response = crate::views::ConversationView),
        route!(delete "/api/v1/conversations/{id}/labels/{label}" => c::remove_label, "conversations", Member, "Remove one label", response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/seen" => c::seen, "conversations", Member, "Mark the conversation seen by you: lists show `unread` per user (the customer waits and something happened since you last looked)"),
        route!(post "/api/v1/conversations/{id}/typing" => c::typing, "conversations", Member, "Tell other agents you are typing; a reply (not `to_customer: false`, a note) also shows the customer where the channel can (Telegram, WhatsApp, Messenger, Instagram, LINE, the widget)", body = c::TypingRequest),
        route!(post "/api/v1/sms/segments" => c::sms_segments, "conversations", Member, "The SMS encoding (GSM-7 or UCS-2), units and segments a draft would cost", body = c::DraftRequest, response = parley_core::sms::Segments),
        route!(get "/api/v1/realtime" => crate::realtime::realtime, "realtime", Member, "WebSocket of events for your inboxes; `?since=<seq>` replays what you missed", query = crate::realtime::RealtimeQuery),
        route!(get "/widget/{inbox_id}/socket" => crate::widget::socket, "widget", Public, "A website visitor's chat WebSocket; `?token=` continues their thread", query = crate::widget::SocketQuery),
        route!(post "/hooks/telegram/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "Telegram: bot updates, with X-Telegram-Bot-Api-Secret-Token"),
        route!(get "/hooks/whatsapp/{inbox_id}" => crate::inbound::hook::handshake, "hooks", Signature, "WhatsApp: the webhook verification handshake (hub.challenge)", query = crate::inbound::hook::HandshakeQuery),
        route!(post "/hooks/whatsapp/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "WhatsApp Cloud API: messages and statuses, signed with X-Hub-Signature-256"),
        route!(get "/hooks/messenger/{inbox_id}" => crate::inbound::hook::handshake, "hooks", Signature, "Messenger: the webhook verification handshake (hub.challenge)", query = crate::inbound::hook::HandshakeQuery),
        route!(post "/hooks/messenger/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "Messenger: messages, postbacks, deliveries and reads, signed with X-Hub-Signature-256"),
        route!(get "/hooks/instagram/{inbox_id}" => crate::inbound::hook::handshake, "hooks", Signature, "Instagram: the webhook verification handshake (hub.challenge)", query = crate::inbound::hook::HandshakeQuery),
        route!(post "/hooks/instagram/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "Instagram messaging: messages and reads, signed with X-Hub-Signature-256"),
        route!(post "/hooks/line/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "LINE Messaging API: events, signed with X-Line-Signature"),
        route!(post "/hooks/twilio/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "Twilio: inbound SMS/MMS and status callbacks, signed with X-Twilio-Signature"),
        route!(post "/hooks/api/{inbox_id}" => crate::inbound::hook::receive, "hooks", Signature, "API channel: a customer message, signed with X-Parley-Signature: sha256=HMAC(secret, body)", body = crate::inbound::hook::ApiHookBody),
    ]
}

/// Refuses query parameters the route does not take, before its handler runs: a route with no
/// `Query` of its own would otherwise ignore them.
pub(crate) async fn check_query(
    axum::extract::State(allowed): axum::extract::State<&'static [&'static str]>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match crate::error::check_query(req.uri().query().unwrap_or(""), allowed) {
        Ok(()) => {
            req.extensions_mut().insert(crate::error::QueryChecked);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Deserializes a field that may be absent (outer `None`), null (`Some(None)`) or set.
pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Checks a `limit` query parameter: 1 to `max`, `default` when absent.
pub(crate) fn limit(v: Option<u32>, default: u32, max: u32) -> Result<u32, crate::error::ApiError> {
    match v {
        None => Ok(default),
        Some(n) => Some(n).filter(|n| (1..=max).contains(n)).ok_or_else(|| {
            crate::error::ApiError::bad_request(
                "invalid_query",
                format!("limit must be a number from 1 to {max}"),
            )
        }),
    }
}

/// Decodes a pagination cursor, answering 400 `invalid_cursor`.
pub(crate) fn cursor(
    v: Option<&str>,
) -> Result<Option<parley_store::Cursor>, crate::error::ApiError> {
    match v {
        None | Some("") => Ok(None),
        Some(s) => parley_store::Cursor::decode(s).map(Some).ok_or_else(|| {
            crate::error::ApiError::bad_request(
                "invalid_cursor",
                "the cursor is not one this server gave out",
            )
        }),
    }
}
