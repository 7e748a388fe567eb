//! What the rules' conditions read about a conversation, assembled once per event, and the storm
//! guard's counts.

use parley_core::automation::{Facts, Guard, Rule};
use parley_core::consent::{self, Purpose, State};
use parley_core::{ConversationId, ListId, Timestamp, UserId, WorkspaceId};
use parley_store::{ContactView, ConversationView, InboxRow, Scope, StoreError};

use crate::state::App;

/// A conversation with its inbox and contact, as the conditions see them.
pub(crate) struct Snapshot {
    pub conv: ConversationView,
    pub inbox: InboxRow,
    pub contact: ContactView,
    pub channel: String,
    pub lists: Vec<ListId>,
    pub consented: Vec<Purpose>,
    pub open_now: bool,
}

/// The scope automations act in: the whole workspace, as nobody in particular.
pub(crate) fn system_scope(ws: WorkspaceId) -> Scope {
    Scope::system(ws, UserId(uuid::Uuid::nil()))
}

impl Snapshot {
    /// Reads the conversation's facts as they are now.
    pub async fn of(app: &App, ws: WorkspaceId, id: ConversationId) -> Result<Self, StoreError> {
        let scope = system_scope(ws);
        let conv = app.store.conversation(&scope, id).await?;
        let inbox = app.store.inbox(&scope, conv.inbox_id).await?;
        let contact = app.store.contact(&scope, conv.contact_id).await?;
        let lists = app
            .store
            .contact_lists(&scope, conv.contact_id)
            .await?
            .into_iter()
            .map(|l| l.id)
            .collect();
        let channel = crate::compliance::consent_channel(&inbox).to_string();
        let ctx = app.store.consent_context(ws, conv.contact_id).await?;
        let ledger: Vec<_> = ctx.ledger.iter().map(|e| e.entry()).collect();
        // A conversational answer needs no grant, only no revocation; the others need a grant.
        let consented = [
            Purpose::Conversational,
            Purpose::Informational,
            Purpose::Promotional,
        ]
        .into_iter()
        .filter(|p| match consent::state(&ledger, *p, &channel) {
            State::Granted => true,
            State::Revoked => false,
            State::Pending | State::Unknown => *p == Purpose::Conversational,
        })
        .collect();
        let open_now = crate::hours::schedule_of(app, &inbox, conv.team_id)
            .await?
            .is_none_or(|s| s.is_open(app.now()));
        Ok(Snapshot {
            conv,
            inbox,
            contact,
            channel,
            lists,
            consented,
            open_now,
        })
    }

    /// The facts for an event whose message (if any) says `text`.
    pub fn facts<'a>(&'a self, text: Option<&'a str>) -> Facts<'a> {
        Facts {
            inbox: self.conv.inbox_id,
            channel: &self.channel,
            contact_fields: &self.contact.custom_fields,
            lists: &self.lists,
            labels: &self.conv.labels,
            priority: self.conv.priority,
            status: self.conv.status,
            assignee: self.conv.assignee_id,
            team: self.conv.team_id,
            open_now: self.open_now,
            consented: &self.consented,
            text,
        }
    }
}

/// Per rule with a limit, the automatic messages it sent in the conversation within its period.
pub(crate) async fn guard(
    app: &App,
    ws: WorkspaceId,
    conv: ConversationId,
    rules: &[Rule],
    now: Timestamp,
) -> Result<Guard, StoreError> {
    let window = |secs: u32| Timestamp(now.0 - i64::from(secs) * 1000);
    let Some(longest) = rules
        .iter()
        .filter_map(|r| r.limit)
        .map(|l| l.per_secs)
        .max()
    else {
        return Ok(Guard::new());
    };
    let mut guard = Guard::new();
    for s in app.store.rule_sends(ws, conv, window(longest)).await? {
        let limit = rules
            .iter()
            .find(|r| r.id == s.rule_id)
            .and_then(|r| r.limit);
        if limit.is_some_and(|l| s.at >= window(l.per_secs)) {
            *guard.entry(s.rule_id).or_default() += s.messages;
        }
    }
    Ok(guard)
}
