//! Inboxes and their channels: administration and membership, the channel settings an inbox
//! holds, email's listener and poller, and the website chat widget.

pub mod api;
pub mod channels;
pub mod email;
pub mod members;
pub mod provider;
pub mod requests;
pub mod settings;
pub mod test_customer;
pub mod views;
pub mod widget;

use crate::http::routes::route;

/// The inboxes' routes: administration, membership, templates, connection tests; and the widget's socket.
pub fn routes() -> Vec<crate::http::routes::Route> {
    use crate::http::routes::Answer;
    use crate::inboxes::test_customer as tc;
    use crate::inboxes::{api as d, members as m, provider as pr, requests as rq, views as v};
    vec![
        route!(get "/api/v1/inboxes" => d::list_inboxes, "inboxes", Member, "Inboxes you work (admins: all, each with its outbox `backlog`: `queued`, `in_flight`, `oldest_due`)", response = crate::views::Items<v::InboxView>),
        route!(post "/api/v1/inboxes" => d::create_inbox, "inboxes", Admin, "Create an inbox; for kind `api`, returns its signing secret and webhook URL", body = rq::CreateInboxRequest, created = v::InboxView),
        route!(get "/api/v1/inboxes/{id}" => d::get_inbox, "inboxes", Member, "One inbox (admins also see its outbox `backlog`: `queued`, `in_flight`, `oldest_due`)", response = v::InboxView),
        route!(patch "/api/v1/inboxes/{id}" => d::update_inbox, "inboxes", Admin, "Rename an inbox, change its callback URL, its sending rate limit, a widget's site, greeting, colour and pre-chat form, or the channel's credentials and addresses (named as when adding it; those left out stay, and Meta's verify token and Telegram's secret stay); audited without the values", body = rq::UpdateInboxRequest, response = v::InboxView),
        route!(get "/api/v1/inboxes/{id}/templates" => pr::inbox_templates, "inboxes", Member, "A WhatsApp inbox's approved message templates (needs its `waba_id`): name, language, category, body and parameter names, as Meta lists them", response = v::TemplatesView),
        route!(post "/api/v1/inboxes/{id}/test" => pr::test_inbox, "inboxes", Admin, "Ask the provider whether the inbox's credentials work (a read that changes nothing; for email, a login to the SMTP relay and the IMAP mailbox); `ok` and the provider's answer", response = v::ConnectionTestView),
        route!(get "/api/v1/inboxes/{id}/members" => m::inbox_members, "inboxes", Member, "Agents who work an inbox", response = crate::views::Items<crate::views::UserView>),
        route!(put "/api/v1/inboxes/{id}/members/{user_id}" => m::add_inbox_member, "inboxes", Admin, "Let a user work an inbox", answer = Answer::NoContent),
        route!(delete "/api/v1/inboxes/{id}/members/{user_id}" => m::remove_inbox_member, "inboxes", Admin, "Take a user off an inbox", answer = Answer::NoContent),
        route!(get "/api/v1/inboxes/{id}/test-customer" => tc::get_test_customer, "inboxes", Admin, "Your test customer in an inbox: its conversation and newest messages both ways, with their delivery status (`test: true`)", response = tc::TestCustomerView),
        route!(post "/api/v1/inboxes/{id}/test-customer/messages" => tc::send_test_message, "inboxes", Admin, "Write to an inbox as your test customer (a contact named \"Test customer\", field `test_customer: true`): taken in as any customer's message; what is sent back never reaches a provider and is marked delivered", body = tc::TestMessageRequest, created = tc::TestSentView),
        route!(delete "/api/v1/inboxes/{id}/test-customer" => tc::reset_test_customer, "inboxes", Admin, "Reset your test customer in an inbox: the test contact is erased, its conversation kept anonymised; the next message starts afresh", answer = Answer::NoContent),
        route!(get "/widget/{inbox_id}/socket" => crate::inboxes::widget::socket::visitor_socket, "widget", Public, "A website visitor's chat WebSocket; `?token=` continues their thread", query = crate::inboxes::widget::socket::SocketQuery, answer = Answer::Other("websocket")),
    ]
}
