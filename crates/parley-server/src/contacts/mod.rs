//! Contacts: their identities on each channel, search and merge, contact lists, and one customer
//! reached across channels.

pub mod api;
pub mod block;
pub mod consent;
pub mod identities;
pub mod ledger;
pub mod lists;
pub mod reach;
pub mod views;

use crate::http::routes::route;

/// The contacts' routes: contacts, identities, consent, lists and reaching one customer across channels.
pub fn routes() -> Vec<crate::http::routes::Route> {
    use crate::contacts::{api as k, block, consent, identities, lists, reach, views as v};
    use crate::http::routes::Answer;
    vec![
        route!(get "/api/v1/contacts" => k::search_contacts, "contacts", Member, "Search contacts by name, phone or email (`q`), paginated by `cursor`", query = k::SearchQuery, response = crate::views::ContactPage),
        route!(post "/api/v1/contacts" => k::create_contact, "contacts", Member, "Create a contact with optional identities", body = k::CreateContactRequest, created = crate::views::ContactView),
        route!(get "/api/v1/contacts/{id}" => k::get_contact, "contacts", Member, "One contact with its identities", response = crate::views::ContactView),
        route!(patch "/api/v1/contacts/{id}" => k::update_contact, "contacts", Member, "Change a contact; null clears a field; custom fields merge", body = k::UpdateContactRequest, response = crate::views::ContactView),
        route!(post "/api/v1/contacts/{id}/identities" => identities::add_identity, "contacts", Member, "Add an address (phone, email, a channel id) to a contact", body = identities::IdentityRequest, created = crate::views::ContactView),
        route!(delete "/api/v1/contacts/{id}/identities/{identity_id}" => identities::remove_identity, "contacts", Member, "Remove an address from a contact", response = crate::views::ContactView),
        route!(post "/api/v1/contacts/{id}/merge" => identities::merge_contact, "contacts", Member, "Merge another contact into this one (identities and conversations move here)", body = identities::MergeRequest, response = crate::views::ContactView),
        route!(post "/api/v1/contacts/{id}/block" => block::block_contact, "contacts", Supervisor, "Block the contact: their messages are still kept (an opt-out in them still counts) but no longer reopen a conversation or wait for an answer; their open conversations in inboxes you work are resolved; audited", response = v::BlockView),
        route!(delete "/api/v1/contacts/{id}/block" => block::unblock_contact, "contacts", Supervisor, "Unblock the contact", response = v::BlockView),
        route!(get "/api/v1/contacts/{id}/consent" => consent::contact_consent, "contacts", Member, "The contact's consent ledger (grants and revocations with source and evidence) and the channels they opted out of", response = v::ConsentView),
        route!(post "/api/v1/contacts/{id}/consent" => consent::record_consent, "contacts", Member, "Record a grant or revocation of consent (source agent, web_form, api, pos or ivr) with its evidence", body = consent::RecordConsentRequest, created = v::ConsentRecordedView),
        route!(get "/api/v1/contacts/{id}/timeline" => reach::contact_timeline, "contacts", Member, "The contact's timeline across all their conversations you may see, each entry marked with its channel; `?before=<seq>` pages back; a message's `data.message.status` is its current delivery status", query = crate::conversations::timeline::TimelineQuery, response = v::ContactTimelineView),
        route!(get "/api/v1/contacts/{id}/channels" => reach::contact_channels, "contacts", Member, "Channels a reply to the contact can go out on: the one they last wrote on first, each with its window", response = crate::views::Items<v::ChannelOptionView>),
        route!(post "/api/v1/contacts/{id}/messages" => reach::contact_reply, "contacts", Member, "Reply to the contact on a channel (`inbox_id`), by default the one they last wrote on", body = reach::ContactReply, created = v::ContactReplyView),
        route!(get "/api/v1/contacts/{id}/lists" => lists::contact_lists, "lists", Member, "The lists the contact is on, by name", response = crate::views::Items<crate::views::ListView>),
        route!(get "/api/v1/lists" => lists::list_lists, "lists", Member, "The workspace's contact lists by name, each with its size", response = crate::views::Items<crate::views::ListView>),
        route!(post "/api/v1/lists" => lists::create_list, "lists", Supervisor, "Create a contact list (names are unique); audited", body = lists::ListRequest, created = crate::views::ListView),
        route!(patch "/api/v1/lists/{id}" => lists::rename_list, "lists", Supervisor, "Rename a list; audited", body = lists::ListRequest, response = crate::views::ListView),
        route!(delete "/api/v1/lists/{id}" => lists::delete_list, "lists", Supervisor, "Delete a list (its contacts stay); audited", answer = Answer::NoContent),
        route!(get "/api/v1/lists/{id}/contacts" => lists::list_members, "lists", Member, "The contacts on a list, the most recently added first, paginated by `cursor`", query = lists::MembersQuery, response = crate::views::ContactPage),
        route!(put "/api/v1/lists/{id}/contacts/{contact_id}" => lists::add_member, "lists", Member, "Put a contact on a list (again: no change); an erased contact is refused; answers the list", response = crate::views::ListView),
        route!(delete "/api/v1/lists/{id}/contacts/{contact_id}" => lists::remove_member, "lists", Member, "Take a contact off a list; answers the list", response = crate::views::ListView),
        route!(get "/api/v1/contacts/{id}/conversations" => k::contact_conversations, "contacts", Member, "A contact's conversations in inboxes you work", response = crate::views::Items<crate::views::ConversationView>),
    ]
}
