//! What the rules' conditions read about a conversation, assembled once per event, and the storm
//! guard's counts.

use parley_core::automation::{Condition, Facts, Guard, Rule};
use parley_core::consent::{self, Purpose, State};
use parley_core::{ContactId, ConversationId, ListId, Timestamp, WorkspaceId};
use parley_store::{ConversationView, InboxRow, Scope, StoreError};

use crate::state::App;

/// A conversation with its inbox and contact, as the conditions see them.
pub(crate) struct Snapshot {
    pub conv: ConversationView,
    pub inbox: InboxRow,
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub channel: String,
    pub lists: Vec<ListId>,
    pub consented: Vec<Purpose>,
    pub open_now: bool,
}

/// The scope automations act in: the whole workspace, as nobody in particular.
pub(crate) fn system_scope(ws: WorkspaceId) -> Scope {
    Scope::parley(ws)
}

/// Which facts beyond the conversation and its inbox the rules' conditions read: the others are
/// not read at all, so the common rule (a keyword, a label) costs two reads.
#[derive(Default, Clone, Copy)]
pub(crate) struct Needs {
    fields: bool,
    lists: bool,
    consent: bool,
    hours: bool,
}

impl Needs {
    pub fn of(rules: &[Rule]) -> Self {
        let mut n = Needs::default();
        let conditions = rules.iter().filter(|r| r.enabled);
        for c in conditions.flat_map(|r| &r.conditions.items) {
            match c {
                Condition::ContactField { .. } => n.fields = true,
                Condition::OnList { .. } => n.lists = true,
                Condition::Consent { .. } => n.consent = true,
                Condition::BusinessHours { .. } => n.hours = true,
                _ => {}
            }
        }
        n
    }
}

/// The purposes the contact consents to on `channel`: a conversational answer needs no grant,
/// only no revocation; the others need a grant.
async fn consented(
    app: &App,
    ws: WorkspaceId,
    contact: ContactId,
    channel: &str,
) -> Result<Vec<Purpose>, StoreError> {
    let ctx = app.store.consent_context(ws, contact).await?;
    let ledger: Vec<_> = ctx.ledger.iter().map(|e| e.entry()).collect();
    let all = [
        Purpose::Conversational,
        Purpose::Informational,
        Purpose::Promotional,
    ];
    Ok(all
        .into_iter()
        .filter(|p| match consent::state(&ledger, *p, channel) {
            State::Granted => true,
            State::Revoked => false,
            State::Pending | State::Unknown => *p == Purpose::Conversational,
        })
        .collect())
}

impl Snapshot {
    /// Reads the conversation's facts as they are now, those the rules need.
    pub async fn of(
        app: &App,
        ws: WorkspaceId,
        id: ConversationId,
        needs: Needs,
    ) -> Result<Self, StoreError> {
        let scope = system_scope(ws);
        let conv = app.store.conversation(&scope, id).await?;
        let inbox = app.store.inbox(&scope, conv.inbox_id).await?;
        let channel = crate::compliance::consent_channel(&inbox).to_string();
        let mut snap = Snapshot {
            fields: serde_json::Map::new(),
            lists: Vec::new(),
            consented: Vec::new(),
            open_now: true,
            channel,
            conv,
            inbox,
        };
        let contact = snap.conv.contact_id;
        if needs.fields {
            snap.fields = app.store.contact(&scope, contact).await?.custom_fields;
        }
        if needs.lists {
            let lists = app.store.contact_lists(&scope, contact).await?;
            snap.lists = lists.into_iter().map(|l| l.id).collect();
        }
        if needs.consent {
            snap.consented = consented(app, ws, contact, &snap.channel).await?;
        }
        if needs.hours {
            let schedule = crate::hours::schedule_of(app, &snap.inbox, snap.conv.team_id).await?;
            snap.open_now = schedule.is_none_or(|s| s.is_open(app.now()));
        }
        Ok(snap)
    }

    /// The facts for an event whose message (if any) says `text`.
    pub fn facts<'a>(&'a self, text: Option<&'a str>) -> Facts<'a> {
        Facts {
            inbox: self.conv.inbox_id,
            channel: &self.channel,
            contact_fields: &self.fields,
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
