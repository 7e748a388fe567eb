//! Texting law in the server: each workspace's compliance settings, the gate every sender asks
//! before queueing (and the dispatcher asks again before sending), and the notices Parley sends
//! itself (HELP answers, opt-in and opt-out confirmations, double opt-in requests). Keywords in
//! customers' messages are recognised and answered on the inbound path (`inbound::keywords`).

pub mod api;
pub mod gate;
pub mod notices;
pub mod privacy;
pub mod settings;
pub mod views;

use parley_core::ContactId;
use parley_store::{InboxRow, StoreError};

use crate::http::routes::route;

const DAY_MS: i64 = 86_400_000;

/// The consent channel of an inbox: SMS for Twilio numbers, else its kind.
pub fn consent_channel(inbox: &InboxRow) -> &str {
    crate::inboxes::channels::kind_of(inbox).map_or(inbox.kind.as_str(), |k| k.consent_channel())
}

/// Why compliance refused something a sender or an admin asked.
#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    /// The gate refused the message: its code and reason.
    #[error("{reason}")]
    Denied { code: &'static str, reason: String },
    /// A subscription for a customer who opted out by text.
    #[error("This customer opted out by text; they must text START before a new subscription can be confirmed.")]
    OptedOut,
    /// A purge named a contact that is not on the inactive report.
    #[error("contact {0} is not on the inactive report (it wrote recently, has no phone, or does not exist)")]
    NotInactive(ContactId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The compliance routes: texting rules, inactive numbers, consent and audit exports, erasure.
pub fn routes() -> Vec<crate::http::routes::Route> {
    use crate::compliance::api as compliance;
    use crate::compliance::views as v;
    use crate::http::routes::Answer;
    vec![
        route!(get "/api/v1/audit/export" => compliance::export_audit, "users", Admin, "Export the whole audit log (`?format=json` or `csv`)", query = compliance::ExportQuery, answer = Answer::Other("text/csv")),
        route!(delete "/api/v1/contacts/{id}" => compliance::erase_contact, "contacts", Admin, "Erase the contact (GDPR/CCPA): name, addresses, fields, message and note content, and files go; conversations stay anonymised; revocations stay so an opted-out number is still refused; audited", response = v::ErasedView),
        route!(get "/api/v1/contacts/{id}/consent/export" => compliance::export_consent, "compliance", Admin, "Export the contact's consent ledger with its evidence (`?format=json` or `csv`)", query = compliance::ExportQuery, answer = Answer::Other("text/csv")),
        route!(get "/api/v1/compliance/settings" => compliance::get_settings, "compliance", Member, "The workspace's texting rules (help text, extra keywords, double opt-in, quiet hours, inactivity period, cross-channel revocation) and the texts they produce", response = v::SettingsView),
        route!(put "/api/v1/compliance/settings" => compliance::put_settings, "compliance", Admin, "Replace the workspace's texting rules; fields left out take their defaults", body = crate::compliance::settings::Settings, response = v::SettingsView),
        route!(get "/api/v1/retention" => compliance::retention, "compliance", Admin, "The retention period (`retention_days` in the compliance settings) and what the next hourly run will empty: how many messages, the oldest", response = v::RetentionView),
        route!(get "/api/v1/compliance/inactive" => compliance::inactive, "compliance", Supervisor, "Contacts whose number has been silent longer than the inactivity period (their consent for business-initiated messages is suspended)", query = compliance::InactiveQuery, response = v::InactiveView),
        route!(post "/api/v1/compliance/inactive/purge" => compliance::purge, "compliance", Admin, "Forget the phone numbers of listed inactive contacts", body = compliance::PurgeRequest, response = v::PurgedView),
    ]
}
