//! Conversations: the list and timeline, every agent command, replies composed for any channel,
//! attachments, satisfaction surveys and exports.

pub mod api;
pub mod attachments;
pub mod commands;
pub mod compose;
pub mod exports;
pub mod list;
pub mod replies;
pub mod scheduled;
pub mod sms;
pub mod survey;
pub mod timeline;
pub mod views;

use crate::http::routes::{route, Access, Route};

/// The conversations' routes: list, timeline, commands, attachments, surveys and exports.
pub fn routes() -> Vec<Route> {
    use crate::conversations::{
        api as c, attachments::api as files, exports, list, replies, scheduled,
    };
    use crate::conversations::{survey::page as survey, timeline, views};
    use crate::http::routes::Answer;
    vec![
        route!(get "/survey/{inbox_id}/{conversation_id}" => survey::page, "surveys", Public, "The page a customer rates a conversation on (`?at=&sig=` from the link they were sent)", query = survey::LinkQuery, answer = Answer::Other("text/html")),
        route!(post "/survey/{inbox_id}/{conversation_id}" => survey::answer, "surveys", Public, "A customer's rating (`rating` 1 to 5, optional `comment`, form-encoded): recorded on the timeline as `survey.answered`", query = survey::LinkQuery, answer = Answer::Other("text/html")),
        Route {
            method: "post",
            path: "/api/v1/inboxes/{id}/attachments",
            tag: "attachments",
            access: Access::Member,
            summary: "Upload a file to attach to a reply: the raw bytes as the body, its type in Content-Type, `?filename=`; up to 25 MB",
            body: None,
            answer: Answer::Json(201, crate::http::routes::schema::<crate::conversations::attachments::Attachment>),
            query: crate::http::query::query_params::<files::UploadQuery>(),
            query_types: crate::http::query::query_types::<files::UploadQuery>,
            handler: axum::routing::post(files::upload)
                .layer(axum::extract::DefaultBodyLimit::max(crate::conversations::attachments::MAX_BYTES)),
        },
        route!(get "/api/v1/inboxes/{id}/attachments/{attachment}" => files::download, "attachments", Member, "Download an attachment of the inbox", answer = Answer::Other("application/octet-stream")),
        route!(get "/media/{inbox_id}/{attachment}" => files::public, "attachments", Public, "An attachment by signed link (`exp`, `sig`), for providers and widget visitors", query = files::SignedQuery, answer = Answer::Other("application/octet-stream")),
        route!(get "/api/v1/conversations" => list::list_conversations, "conversations", Member, "List conversations: filter by status, assignee (me, none, anyone, a user id), inbox, team, label, priority; sort by waiting, activity or priority; paginate by cursor", query = list::ListQuery, response = views::ConversationPage),
        route!(get "/api/v1/conversations/counts" => list::counts, "conversations", Member, "How many conversations each view holds for you: mine and unassigned (open), by status, and open ones by inbox, team and label", response = views::CountsView),
        route!(post "/api/v1/conversations" => replies::create_conversation, "conversations", Member, "Start (or continue) a contact's conversation in an inbox with a message", body = replies::CreateConversationRequest, created = views::SentView),
        route!(get "/api/v1/conversations/{id}" => list::get_conversation, "conversations", Member, "One conversation", response = crate::views::ConversationView),
        route!(patch "/api/v1/conversations/{id}" => c::update_conversation, "conversations", Member, "Change priority or status", body = c::PatchRequest, response = crate::views::ConversationView),
        route!(get "/api/v1/conversations/{id}/export" => exports::conversation, "exports", Admin, "Export a conversation's whole timeline (`?format=json` or `csv`)", query = exports::ExportQuery, answer = Answer::Other("text/csv")),
        route!(get "/api/v1/exports/conversations" => exports::range, "exports", Admin, "Export every thread active in a date range (`?from=&to=` in RFC 3339, `format=json` or `csv`), with the entries in that range", query = exports::ExportQuery, answer = Answer::Other("text/csv")),
        route!(get "/api/v1/conversations/{id}/timeline" => timeline::timeline, "conversations", Member, "The timeline: messages, notes, status changes and assignments, oldest first; `before` pages back. A message's `data.message.status` (queued, sent, delivered, read, failed) and `error` are its current delivery status", query = timeline::TimelineQuery, response = views::TimelinePage),
        route!(get "/api/v1/conversations/{id}/channel" => replies::channel, "conversations", Member, "The channel of a conversation: what it can carry and whether a free-form reply may be sent now (customer-service windows)", response = views::ChannelView),
        route!(post "/api/v1/conversations/{id}/messages" => replies::reply, "conversations", Member, "Reply to the customer (queued for delivery): text, choices to pick from, or a WhatsApp template; with `send_at`, scheduled to go then (answered with `scheduled`), checked by the compliance gate when due", body = crate::conversations::compose::ReplyRequest, created = views::SentView),
        route!(get "/api/v1/conversations/{id}/scheduled" => scheduled::list_scheduled, "conversations", Member, "Replies scheduled to go later (`send_at` on a reply), the soonest first", response = scheduled::ScheduledPage),
        route!(patch "/api/v1/conversations/{id}/scheduled/{scheduled_id}" => scheduled::edit_scheduled, "conversations", Member, "Edit a scheduled reply before it goes: a new `body`, `send_at` or both", body = scheduled::ScheduledPatch, response = scheduled::ScheduledView),
        route!(delete "/api/v1/conversations/{id}/scheduled/{scheduled_id}" => scheduled::cancel_scheduled, "conversations", Member, "Cancel a scheduled reply before it goes", answer = Answer::NoContent),
        route!(post "/api/v1/conversations/{id}/notes" => c::note, "conversations", Member, "Add an internal note; mentions (`@maya-x` by email, `@Maya` by a first name only one teammate has, `@\"Maya Chen\"` by full name) notify agents; the answer lists `unresolved_mentions` and `ambiguous_mentions` (with their candidates), which notify nobody", body = c::NoteRequest, created = views::NoteWrittenView),
        route!(post "/api/v1/conversations/{id}/assign" => c::assign, "conversations", Member, "Assign to an agent and/or team (agents may assign only themselves)", body = c::AssignRequest, response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/handoff" => c::handoff, "conversations", Member, "Hand the conversation to people (what a bot does when it cannot help): an optional note for them, then unassigned (to `team_id` if given) and open", body = c::HandoffRequest, response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/unassign" => c::unassign, "conversations", Member, "Remove the assigned agent", response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/resolve" => c::resolve, "conversations", Member, "Resolve", response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/reopen" => c::reopen, "conversations", Member, "Reopen", response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/snooze" => c::snooze, "conversations", Member, "Snooze until a time; a customer message wakes it early", body = c::SnoozeRequest, response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/labels" => c::change_labels, "conversations", Member, "Add and remove labels", body = c::LabelsRequest, response = crate::views::ConversationView),
        route!(delete "/api/v1/conversations/{id}/labels/{label}" => c::remove_label, "conversations", Member, "Remove one label", response = crate::views::ConversationView),
        route!(post "/api/v1/conversations/{id}/seen" => c::seen, "conversations", Member, "Mark the conversation seen by you: lists show `unread` per user (the customer waits and something happened since you last looked)", answer = Answer::NoContent),
        route!(post "/api/v1/conversations/{id}/typing" => c::typing, "conversations", Member, "Tell other agents you are typing; a reply (not `to_customer: false`, a note) also shows the customer where the channel can (Telegram, WhatsApp, Messenger, Instagram, LINE, the widget)", body = c::TypingRequest, answer = Answer::NoContent),
        route!(post "/api/v1/sms/segments" => crate::conversations::sms::sms_segments, "conversations", Member, "The SMS encoding (GSM-7 or UCS-2), units and segments a draft would cost", body = crate::conversations::sms::DraftRequest, response = parley_core::sms::Segments),
    ]
}
