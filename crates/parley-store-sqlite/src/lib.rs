//! Parley's embedded store on SQLite (WAL): one writer thread that group-commits every write, and a
//! pool of read-only connections. The default backend: `parley serve` needs nothing else.

mod account;
mod contacts;
mod conversations;
mod db;
mod directory;
mod erasure;
mod lists;
mod migrate;
mod outbox;
mod retention;
mod rows;
mod sealing;
mod seen;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use parley_core::contact::IdentityKind;
use parley_core::{
    ContactId, ConversationId, IdentityId, InboxId, ListId, OutboxId, TeamId, Timestamp, TokenId,
    UserId, WorkspaceId,
};
use parley_store::*;

pub use db::Durability;

/// The SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    db: Arc<db::Db>,
    master: Option<parley_store::crypt::MasterKey>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub fn open(path: &Path, durability: Durability, sink: EventSink) -> anyhow::Result<Self> {
        Ok(Self {
            db: db::Db::open(path, durability, sink)?,
            master: None,
        })
    }

    /// Turns encryption at rest on with `master` (creating the first data key of a database that
    /// has none), or checks that the database needs no key. A database that already holds data
    /// is sealed only when `seal_existing` says so (`parley keys encrypt`).
    pub async fn with_master_key(
        mut self,
        master: Option<&parley_store::crypt::MasterKey>,
        seal_existing: bool,
    ) -> anyhow::Result<Self> {
        let mut stored = self.db.read(sealing::data_keys).await?;
        if let (Some(m), true) = (master, stored.is_empty()) {
            // Values already stored in plaintext must be sealed (and their blind indexes made)
            // before a server uses the key, or lookups would miss them.
            let existing = !parley_store::Store::is_empty(&self).await?;
            anyhow::ensure!(
                !existing || seal_existing,
                "this database holds data in plaintext: stop Parley and run `parley keys encrypt` once with the master key configured"
            );
            let wrapped = m.new_data_key(1);
            let at = parley_store::plan::now_ms();
            self.db
                .write(move |c, _| {
                    if existing {
                        sealing::begin_sealing(c, at)?;
                    }
                    sealing::add_data_key(c, 1, &wrapped, at)
                })
                .await?;
            stored = self.db.read(sealing::data_keys).await?;
        }
        let keys = parley_store::crypt::keyring_for(master, &stored)?;
        if keys.is_some() && !seal_existing {
            anyhow::ensure!(
                !self.db.read(sealing::sealing_pending).await?,
                "`parley keys encrypt` did not finish on this database: run it again"
            );
        }
        self.db.set_keys(keys.map(Arc::new)).await?;
        self.master = master.cloned();
        if seal_existing {
            for table in 0..sealing::sealed_tables() {
                let mut after = 0;
                loop {
                    let at = parley_store::plan::now_ms();
                    let done = self
                        .db
                        .write(move |c, _| sealing::seal_plaintext(c, table, after, 1000, at))
                        .await?;
                    match done {
                        Some(last) => after = last,
                        None => break,
                    }
                }
            }
        }
        Ok(self)
    }

    /// Rebuilds the keyring from the stored data keys when they differ from the loaded ones.
    async fn load_keys(&self, master: &parley_store::crypt::MasterKey) -> StoreResult<bool> {
        let stored = self.db.read(sealing::data_keys).await?;
        let loaded = self.db.keys().map(|k| k.ids()).unwrap_or_default();
        if stored.iter().map(|(id, _)| *id).collect::<Vec<_>>() == loaded {
            return Ok(false);
        }
        let keys = parley_store::crypt::Keyring::open_keys(master, &stored)
            .map_err(|e| StoreError::Other(anyhow::anyhow!("data keys: {e}")))?;
        self.db.set_keys(Some(Arc::new(keys))).await?;
        Ok(true)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn keyring(&self) -> Option<Arc<parley_store::crypt::Keyring>> {
        self.db.keys()
    }

    async fn add_data_key(&self, at: Timestamp) -> StoreResult<u32> {
        let master = self.master.clone().ok_or_else(|| StoreError::Invalid {
            field: "master_key",
            reason: "encryption at rest is off: no master key is configured".into(),
        })?;
        let id = self
            .db
            .keys()
            .map_or(1, |k| k.ids().last().copied().unwrap_or(0) + 1);
        let wrapped = master.new_data_key(id);
        self.db
            .write(move |c, _| sealing::add_data_key(c, id, &wrapped, at.0))
            .await?;
        self.load_keys(&master).await?;
        Ok(id)
    }

    async fn rewrap_data_keys(&self, new: &parley_store::crypt::MasterKey) -> StoreResult<u32> {
        let old = self.master.clone().ok_or_else(|| StoreError::Invalid {
            field: "master_key",
            reason: "encryption at rest is off: no master key is configured".into(),
        })?;
        let new = new.clone();
        self.db
            .write(move |c, _| sealing::rewrap(c, &old, &new))
            .await
    }

    async fn refresh_keys(&self) -> StoreResult<bool> {
        match &self.master {
            Some(m) => self.load_keys(m).await,
            None => Ok(false),
        }
    }

    async fn reseal(&self, limit: u32) -> StoreResult<u64> {
        let Some(current) = self.db.keys().map(|k| k.current()) else {
            return Ok(0);
        };
        let at = parley_store::plan::now_ms();
        self.db
            .write(move |c, _| sealing::reseal(c, current, limit, at))
            .await
    }

    async fn finish_sealing(&self) -> StoreResult<()> {
        self.db
            .write(|c, _| {
                c.execute("DELETE FROM sealing_pending", [])
                    .map_err(db::sql_err)?;
                Ok(())
            })
            .await
    }

    async fn message_files(
        &self,
        after: Option<parley_core::MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<MessageFiles>> {
        let after = after.map(|m| m.to_string());
        self.db
            .read(move |c| sealing::message_files(c, after, limit))
            .await
    }

    async fn is_empty(&self) -> StoreResult<bool> {
        self.db
            .read(|c| Ok(account::workspace(c, None)?.is_none()))
            .await
    }

    async fn create_workspace(
        &self,
        name: &str,
        timezone: &str,
        admin: NewUser,
        at: Timestamp,
    ) -> StoreResult<(WorkspaceRow, UserView)> {
        let (name, tz) = (name.to_owned(), timezone.to_owned());
        self.db
            .write(move |c, _| account::create_workspace(c, &name, &tz, admin, at))
            .await
    }

    async fn workspace(&self, ws: WorkspaceId) -> StoreResult<WorkspaceRow> {
        self.db
            .read(move |c| account::workspace(c, Some(ws))?.ok_or(StoreError::NotFound))
            .await
    }

    async fn first_workspace(&self) -> StoreResult<Option<WorkspaceRow>> {
        self.db.read(|c| account::workspace(c, None)).await
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<WorkspaceRow>> {
        self.db.read(retention::list_workspaces).await
    }

    async fn set_workspace_settings(
        &self,
        ws: WorkspaceId,
        settings: serde_json::Value,
    ) -> StoreResult<WorkspaceRow> {
        self.db
            .write(move |c, _| account::set_workspace_settings(c, ws, &settings))
            .await
    }

    async fn create_user(
        &self,
        ws: WorkspaceId,
        user: NewUser,
        at: Timestamp,
    ) -> StoreResult<UserView> {
        self.db
            .write(move |c, _| account::create_user(c, ws, user, at))
            .await
    }

    async fn list_users(&self, ws: WorkspaceId) -> StoreResult<Vec<UserView>> {
        self.db.read(move |c| account::list_users(c, ws)).await
    }

    async fn update_user(
        &self,
        ws: WorkspaceId,
        id: UserId,
        patch: UserPatch,
    ) -> StoreResult<UserView> {
        self.db
            .write(move |c, _| account::update_user(c, ws, id, patch))
            .await
    }

    async fn remove_user(&self, ws: WorkspaceId, id: UserId) -> StoreResult<()> {
        self.db
            .write(move |c, _| account::remove_user(c, ws, id))
            .await
    }

    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<(Principal, String)>> {
        let email = email.to_owned();
        self.db
            .read(move |c| account::credentials_by_email(c, &email))
            .await
    }

    async fn principal(&self, ws: WorkspaceId, user: UserId) -> StoreResult<Principal> {
        self.db.read(move |c| account::principal(c, ws, user)).await
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        self.db
            .write(move |c, _| account::create_session(c, session))
            .await
    }

    async fn session_principal(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(Principal, String)>> {
        let h = token_hash.to_owned();
        self.db
            .read(move |c| account::session_principal(c, &h, now))
            .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let h = token_hash.to_owned();
        self.db
            .write(move |c, _| account::delete_session(c, &h))
            .await
    }

    async fn create_token(
        &self,
        ws: WorkspaceId,
        user: UserId,
        name: &str,
        token_hash: &str,
        at: Timestamp,
    ) -> StoreResult<TokenView> {
        let (name, h) = (name.to_owned(), token_hash.to_owned());
        self.db
            .write(move |c, _| account::create_token(c, ws, user, &name, &h, at))
            .await
    }

    async fn list_tokens(&self, ws: WorkspaceId, user: UserId) -> StoreResult<Vec<TokenView>> {
        self.db
            .read(move |c| account::list_tokens(c, ws, user))
            .await
    }

    async fn revoke_token(
        &self,
        ws: WorkspaceId,
        user: UserId,
        id: TokenId,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.db
            .write(move |c, _| account::revoke_token(c, ws, user, id, at))
            .await
    }

    async fn last_access_change(&self) -> StoreResult<i64> {
        self.db.read(account::last_access_change).await
    }

    async fn access_changes(&self, after: i64, limit: u32) -> StoreResult<Vec<AccessChange>> {
        self.db
            .read(move |c| account::access_changes(c, after, limit))
            .await
    }

    async fn token_principal(&self, token_hash: &str) -> StoreResult<Option<Principal>> {
        let h = token_hash.to_owned();
        self.db.read(move |c| account::token_principal(c, &h)).await
    }

    async fn record_audit(&self, entry: AuditEntry) -> StoreResult<()> {
        self.db
            .write(move |c, _| account::record_audit(c, entry))
            .await
    }

    async fn list_audit(&self, ws: WorkspaceId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.db
            .read(move |c| account::list_audit(c, ws, limit))
            .await
    }

    async fn create_team(
        &self,
        ws: WorkspaceId,
        name: &str,
        at: Timestamp,
    ) -> StoreResult<TeamView> {
        let name = name.to_owned();
        self.db
            .write(move |c, _| directory::create_team(c, ws, &name, at))
            .await
    }

    async fn list_teams(&self, ws: WorkspaceId) -> StoreResult<Vec<TeamView>> {
        self.db.read(move |c| directory::list_teams(c, ws)).await
    }

    async fn rename_team(&self, ws: WorkspaceId, id: TeamId, name: &str) -> StoreResult<TeamView> {
        let name = name.to_owned();
        self.db
            .write(move |c, _| directory::rename_team(c, ws, id, &name))
            .await
    }

    async fn delete_team(&self, ws: WorkspaceId, id: TeamId) -> StoreResult<()> {
        self.db
            .write(move |c, _| directory::delete_team(c, ws, id))
            .await
    }

    async fn set_team_member(
        &self,
        ws: WorkspaceId,
        team: TeamId,
        user: UserId,
        member: bool,
    ) -> StoreResult<TeamView> {
        self.db
            .write(move |c, _| directory::set_team_member(c, ws, team, user, member))
            .await
    }

    async fn create_list(
        &self,
        ws: WorkspaceId,
        name: &str,
        at: Timestamp,
    ) -> StoreResult<ListView> {
        let name = name.to_owned();
        self.db
            .write(move |c, _| lists::create(c, ws, &name, at))
            .await
    }

    async fn list_lists(&self, ws: WorkspaceId) -> StoreResult<Vec<ListView>> {
        self.db.read(move |c| lists::all(c, ws)).await
    }

    async fn rename_list(&self, ws: WorkspaceId, id: ListId, name: &str) -> StoreResult<ListView> {
        let name = name.to_owned();
        self.db
            .write(move |c, _| lists::rename(c, ws, id, &name))
            .await
    }

    async fn delete_list(&self, ws: WorkspaceId, id: ListId) -> StoreResult<()> {
        self.db.write(move |c, _| lists::delete(c, ws, id)).await
    }

    async fn set_list_member(
        &self,
        ws: WorkspaceId,
        list: ListId,
        contact: ContactId,
        member: bool,
        at: Timestamp,
    ) -> StoreResult<ListView> {
        self.db
            .write(move |c, _| lists::set_member(c, ws, list, contact, member, at))
            .await
    }

    async fn contact_lists(&self, scope: &Scope, contact: ContactId) -> StoreResult<Vec<ListView>> {
        let scope = scope.clone();
        self.db
            .read(move |c| lists::of_contact(c, &scope, contact))
            .await
    }

    async fn list_members(
        &self,
        scope: &Scope,
        list: ListId,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Page<ContactView>> {
        let scope = scope.clone();
        self.db
            .read(move |c| lists::members(c, &scope, list, cursor, limit))
            .await
    }

    async fn create_inbox(
        &self,
        ws: WorkspaceId,
        inbox: NewInbox,
        at: Timestamp,
    ) -> StoreResult<InboxRow> {
        self.db
            .write(move |c, _| directory::create_inbox(c, ws, inbox, at))
            .await
    }

    async fn list_inboxes(&self, scope: &Scope) -> StoreResult<Vec<InboxRow>> {
        let scope = scope.clone();
        self.db
            .read(move |c| directory::list_inboxes(c, &scope))
            .await
    }

    async fn inbox(&self, scope: &Scope, id: InboxId) -> StoreResult<InboxRow> {
        if !scope.can_see(id) {
            return Err(StoreError::NotFound);
        }
        let ws = scope.workspace;
        self.db.read(move |c| directory::inbox(c, ws, id)).await
    }

    async fn update_inbox(
        &self,
        ws: WorkspaceId,
        id: InboxId,
        patch: InboxPatch,
    ) -> StoreResult<InboxRow> {
        self.db
            .write(move |c, _| directory::update_inbox(c, ws, id, patch))
            .await
    }

    async fn inbox_for_hook(&self, id: InboxId) -> StoreResult<Option<InboxRow>> {
        self.db
            .read(move |c| directory::inbox_for_hook(c, id))
            .await
    }

    async fn inboxes_of_kind(&self, kind: &str) -> StoreResult<Vec<InboxRow>> {
        let kind = kind.to_string();
        self.db
            .read(move |c| directory::inboxes_of_kind(c, &kind))
            .await
    }

    async fn set_inbox_member(
        &self,
        ws: WorkspaceId,
        inbox: InboxId,
        user: UserId,
        member: bool,
    ) -> StoreResult<()> {
        self.db
            .write(move |c, _| directory::set_inbox_member(c, ws, inbox, user, member))
            .await
    }

    async fn inbox_members(&self, ws: WorkspaceId, inbox: InboxId) -> StoreResult<Vec<UserView>> {
        self.db
            .read(move |c| directory::inbox_members(c, ws, inbox))
            .await
    }

    async fn create_contact(
        &self,
        ws: WorkspaceId,
        contact: NewContact,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |c, _| contacts::create_contact(c, ws, contact, at))
            .await
    }

    async fn contact(&self, scope: &Scope, id: ContactId) -> StoreResult<ContactView> {
        let scope = scope.clone();
        self.db
            .read(move |c| rows::visible_contact(c, &scope, id))
            .await
    }

    async fn update_contact(
        &self,
        ws: WorkspaceId,
        id: ContactId,
        patch: ContactPatch,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |c, _| contacts::update_contact(c, ws, id, patch, at))
            .await
    }

    async fn set_contact_blocked(
        &self,
        ws: WorkspaceId,
        id: ContactId,
        blocked: Option<Timestamp>,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |c, _| contacts::set_blocked(c, ws, id, blocked, at))
            .await
    }

    async fn search_contacts(
        &self,
        scope: &Scope,
        q: &str,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Page<ContactView>> {
        let (q, scope) = (q.to_owned(), scope.clone());
        self.db
            .read(move |c| contacts::search(c, &scope, &q, cursor, limit))
            .await
    }

    async fn add_identity(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        identity: NewIdentity,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |c, _| contacts::add_identity(c, ws, contact, identity, at))
            .await
    }

    async fn remove_identity(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        identity: IdentityId,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |c, _| contacts::remove_identity(c, ws, contact, identity))
            .await
    }

    async fn merge_contacts(
        &self,
        ws: WorkspaceId,
        kept: ContactId,
        absorbed: ContactId,
        actor: UserId,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |c, ev| contacts::merge(c, ws, kept, absorbed, actor, at, ev))
            .await
    }

    async fn record_consent(
        &self,
        ws: WorkspaceId,
        consent: NewConsent,
    ) -> StoreResult<ConsentEvent> {
        self.db
            .write(move |c, ev| contacts::record_consent(c, ws, consent, ev))
            .await
    }

    async fn consent_history(
        &self,
        scope: &Scope,
        contact: ContactId,
    ) -> StoreResult<Vec<ConsentEvent>> {
        let scope = scope.clone();
        self.db
            .read(move |c| contacts::consent_history(c, &scope, contact))
            .await
    }

    async fn consent_context(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> StoreResult<ConsentContext> {
        self.db
            .read(move |c| contacts::consent_context(c, ws, contact))
            .await
    }

    async fn erase_contact(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        at: Timestamp,
    ) -> StoreResult<Erasure> {
        let done = self
            .db
            .write(move |c, _| erasure::erase(c, ws, contact, at))
            .await?;
        // The WAL still holds the pages as they were before; copy it back and empty it, so the
        // erased data is in neither file.
        if !matches!(self.db.empty_wal().await, Ok(true)) {
            tracing::warn!("the WAL could not be emptied after an erasure; it holds the erased pages until it restarts");
        }
        Ok(done)
    }

    async fn last_inbound(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> StoreResult<Option<Timestamp>> {
        self.db
            .read(move |c| contacts::last_inbound(c, ws, contact))
            .await
    }

    async fn inactive_contacts(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<InactiveContact>> {
        self.db
            .read(move |c| contacts::inactive_contacts(c, ws, before, limit))
            .await
    }

    async fn apply_inbound(&self, msg: InboundMessage) -> StoreResult<InboundOutcome> {
        self.db
            .write(move |c, ev| conversations::apply_inbound(c, msg, ev))
            .await
    }

    async fn identity_conversation(
        &self,
        inbox: InboxId,
        kind: IdentityKind,
        external_id: &str,
    ) -> StoreResult<Option<(ContactId, Option<ConversationId>)>> {
        let external_id = external_id.to_string();
        self.db
            .read(move |c| conversations::identity_conversation(c, inbox, kind, &external_id))
            .await
    }

    async fn conversation_by_external_ids(
        &self,
        inbox: InboxId,
        external_ids: &[String],
    ) -> StoreResult<Option<ConversationId>> {
        let ids = external_ids.to_vec();
        self.db
            .read(move |c| conversations::conversation_by_external_ids(c, inbox, &ids))
            .await
    }

    async fn list_conversations(
        &self,
        scope: &Scope,
        q: &ConversationQuery,
    ) -> StoreResult<Page<ConversationView>> {
        let (scope, q) = (scope.clone(), q.clone());
        self.db
            .read(move |c| conversations::list(c, &scope, &q))
            .await
    }

    async fn conversation_counts(&self, scope: &Scope) -> StoreResult<ConversationCounts> {
        let scope = scope.clone();
        self.db
            .read(move |c| conversations::counts(c, &scope))
            .await
    }

    async fn mark_seen(
        &self,
        scope: &Scope,
        conversation: ConversationId,
        at: Timestamp,
    ) -> StoreResult<()> {
        let scope = scope.clone();
        self.db
            .write(move |c, _| seen::mark(c, &scope, conversation, at))
            .await
    }

    async fn seen_at(
        &self,
        scope: &Scope,
        conversations: &[ConversationId],
    ) -> StoreResult<std::collections::HashMap<ConversationId, Timestamp>> {
        let (scope, ids) = (scope.clone(), conversations.to_vec());
        self.db.read(move |c| seen::read(c, &scope, &ids)).await
    }

    async fn conversation(
        &self,
        scope: &Scope,
        id: ConversationId,
    ) -> StoreResult<ConversationView> {
        let scope = scope.clone();
        self.db
            .read(move |c| conversations::conversation(c, &scope, id))
            .await
    }

    async fn timeline(
        &self,
        scope: &Scope,
        id: ConversationId,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<TimelineEntry>> {
        let scope = scope.clone();
        self.db
            .read(move |c| conversations::timeline(c, &scope, id, before, limit))
            .await
    }

    async fn act(
        &self,
        scope: &Scope,
        id: ConversationId,
        actor: UserId,
        cmd: Command,
        at: Timestamp,
    ) -> StoreResult<ActOutcome> {
        let scope = scope.clone();
        self.db
            .write(move |c, ev| conversations::act(c, &scope, id, actor, cmd, at, ev))
            .await
    }

    async fn start_conversation(
        &self,
        scope: &Scope,
        msg: NewOutbound,
        at: Timestamp,
    ) -> StoreResult<ActOutcome> {
        let scope = scope.clone();
        self.db
            .write(move |c, ev| conversations::start(c, &scope, msg, at, ev))
            .await
    }

    async fn expiring_messages(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
    ) -> StoreResult<(u64, Option<Timestamp>)> {
        self.db
            .read(move |c| retention::expiring(c, ws, before))
            .await
    }

    async fn expire_messages(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
        limit: u32,
        at: Timestamp,
    ) -> StoreResult<Vec<ExpiredMessage>> {
        self.db
            .write(move |c, _| retention::expire(c, ws, before, limit, at))
            .await
    }

    async fn record_conversation_event(
        &self,
        ws: WorkspaceId,
        conv: ConversationId,
        kind: &'static str,
        data: serde_json::Value,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.db
            .write(move |c, ev| {
                conversations::record_conversation_event(c, ws, conv, kind, data, at, ev)
            })
            .await
    }

    async fn record_survey_answer(
        &self,
        ws: WorkspaceId,
        conv: ConversationId,
        sent_at: Timestamp,
        data: serde_json::Value,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.db
            .write(move |c, ev| {
                conversations::record_survey_answer(c, ws, conv, sent_at, data, at, ev)
            })
            .await
    }

    async fn survey_key(
        &self,
        ws: WorkspaceId,
        candidate: String,
        at: Timestamp,
    ) -> StoreResult<String> {
        // Read first: every opening of a survey page asks, and only the first use writes.
        let found = self
            .db
            .read(move |c| conversations::stored_survey_key(c, ws))
            .await?;
        if let Some(key) = found {
            return Ok(key);
        }
        self.db
            .write(move |c, _| conversations::survey_key(c, ws, candidate, at))
            .await
    }

    async fn wake_snoozed(&self, now: Timestamp) -> StoreResult<usize> {
        self.db
            .write(move |c, ev| conversations::wake_snoozed(c, now, ev))
            .await
    }

    async fn events_since(
        &self,
        scope: &Scope,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Published>> {
        let scope = scope.clone();
        self.db
            .read(move |c| conversations::events_since(c, &scope, after_seq, limit))
            .await
    }

    async fn claim_outbox_fair(
        &self,
        now: Timestamp,
        limit: u32,
        lease_ms: i64,
        per_inbox: u32,
    ) -> StoreResult<Vec<OutboxJob>> {
        self.db
            .write(move |c, _| outbox::claim(c, now, limit, lease_ms, per_inbox))
            .await
    }

    async fn outbox_backlog(
        &self,
        ws: WorkspaceId,
        now: Timestamp,
    ) -> StoreResult<Vec<InboxBacklog>> {
        self.db.read(move |c| outbox::backlog(c, ws, now)).await
    }

    async fn finish_outbox(
        &self,
        id: OutboxId,
        result: OutboxResult,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.db
            .write(move |c, ev| outbox::finish(c, id, result, at, ev))
            .await
    }

    async fn record_delivery(&self, report: DeliveryReport) -> StoreResult<bool> {
        self.db
            .write(move |c, ev| outbox::record_delivery(c, report, ev))
            .await
    }

    async fn read_until(
        &self,
        conversation: ConversationId,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<usize> {
        self.db
            .write(move |c, ev| outbox::read_until(c, conversation, until, now, ev))
            .await
    }

    async fn next_outbox_due(&self) -> StoreResult<Option<Timestamp>> {
        self.db.read(outbox::next_due).await
    }

    async fn node_heartbeat(&self, node: NodeRow, fresh_ms: i64) -> StoreResult<Vec<NodeRow>> {
        self.db
            .write(move |c, _| directory::node_heartbeat(c, &node, fresh_ms))
            .await
    }

    async fn node_leave(&self, id: String) -> StoreResult<()> {
        self.db
            .write(move |c, _| {
                c.execute("DELETE FROM node WHERE id = ?1", [id])
                    .map(drop)
                    .map_err(db::sql_err)
            })
            .await
    }

    async fn release_claims(&self) -> StoreResult<u64> {
        self.db
            .write(|c, _| {
                c.execute("UPDATE outbox SET claimed_until = NULL WHERE state = 'queued' AND claimed_until IS NOT NULL", [])
                    .map(|n| n as u64)
                    .map_err(db::sql_err)
            })
            .await
    }
}
