//! The `Store` trait on PostgreSQL: each method is one transaction, run by `db` with the module
//! that knows its tables. Writes to conversations, contacts and identities hold the event lock
//! (`Db::write`); the rest run without it (`Db::run`).

use async_trait::async_trait;
use parley_core::contact::IdentityKind;
use parley_core::{
    ContactId, ConversationId, IdentityId, InboxId, ListId, OutboxId, TeamId, Timestamp, TokenId,
    UserId, WorkspaceId,
};
use parley_store::*;

use crate::db::query_opt;
use crate::rows::{id, opt_id};
use crate::{
    account, commands, contacts, conversations, directory, lists, outbox, queries, rows,
    PostgresStore,
};

#[async_trait]
impl Store for PostgresStore {
    fn keyring(&self) -> Option<std::sync::Arc<parley_store::crypt::Keyring>> {
        self.db.keys()
    }

    async fn add_data_key(&self, at: Timestamp) -> StoreResult<u32> {
        let master = self.master().cloned().ok_or_else(|| StoreError::Invalid {
            field: "master_key",
            reason: "encryption at rest is off: no master key is configured".into(),
        })?;
        let id = self
            .db()
            .keys()
            .map_or(1, |k| k.ids().last().copied().unwrap_or(0) + 1);
        let wrapped = master.new_data_key(id);
        self.db()
            .run(move |tx| Box::pin(crate::db::add_data_key(tx, id, wrapped, at.0)))
            .await?;
        self.load_keys(&master).await?;
        Ok(id)
    }

    async fn rewrap_data_keys(&self, new: &parley_store::crypt::MasterKey) -> StoreResult<u32> {
        let old = self.master().cloned().ok_or_else(|| StoreError::Invalid {
            field: "master_key",
            reason: "encryption at rest is off: no master key is configured".into(),
        })?;
        let new = new.clone();
        self.db()
            .run(move |tx| {
                Box::pin(async move {
                    let keys = crate::db::data_keys(tx).await?;
                    for (id, wrapped) in &keys {
                        let again = new.rewrap(&old, *id, wrapped).map_err(|e| {
                            StoreError::Other(anyhow::anyhow!("data key {id}: {e}"))
                        })?;
                        crate::db::exec(
                            tx,
                            "UPDATE data_key SET wrapped = $2 WHERE id = $1",
                            &[&i64::from(*id), &again],
                        )
                        .await?;
                    }
                    Ok(keys.len() as u32)
                })
            })
            .await
    }

    async fn refresh_keys(&self) -> StoreResult<bool> {
        match self.master() {
            Some(m) => self.load_keys(m).await,
            None => Ok(false),
        }
    }

    async fn reseal(&self, limit: u32) -> StoreResult<u64> {
        let at = parley_store::plan::now_ms();
        self.db()
            .write(move |tx, _| Box::pin(crate::db::reseal(tx, limit, at)))
            .await
    }

    async fn finish_sealing(&self) -> StoreResult<()> {
        self.db()
            .run(|tx| {
                Box::pin(async move {
                    crate::db::exec(tx, "DELETE FROM sealing_pending", &[]).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn message_files(
        &self,
        after: Option<parley_core::MessageId>,
        limit: u32,
    ) -> StoreResult<Vec<MessageFiles>> {
        let after = after.map(|m| m.as_uuid());
        self.db()
            .run(move |tx| Box::pin(crate::db::message_files(tx, after, limit)))
            .await
    }

    async fn is_empty(&self) -> StoreResult<bool> {
        self.db
            .run(|tx| Box::pin(async move { Ok(account::workspace(tx, None).await?.is_none()) }))
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
            .run(move |tx| {
                Box::pin(async move { account::create_workspace(tx, &name, &tz, admin, at).await })
            })
            .await
    }

    async fn workspace(&self, ws: WorkspaceId) -> StoreResult<WorkspaceRow> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    account::workspace(tx, Some(ws))
                        .await?
                        .ok_or(StoreError::NotFound)
                })
            })
            .await
    }

    async fn first_workspace(&self) -> StoreResult<Option<WorkspaceRow>> {
        self.db
            .run(|tx| Box::pin(account::workspace(tx, None)))
            .await
    }

    async fn list_workspaces(&self) -> StoreResult<Vec<WorkspaceRow>> {
        self.db
            .run(|tx| Box::pin(crate::retention::list_workspaces(tx)))
            .await
    }

    async fn set_workspace_settings(
        &self,
        ws: WorkspaceId,
        settings: serde_json::Value,
    ) -> StoreResult<WorkspaceRow> {
        self.db
            .write(move |tx, _| {
                Box::pin(async move { account::set_workspace_settings(tx, ws, &settings).await })
            })
            .await
    }

    async fn create_user(
        &self,
        ws: WorkspaceId,
        user: NewUser,
        at: Timestamp,
    ) -> StoreResult<UserView> {
        self.db
            .run(move |tx| Box::pin(account::create_user(tx, ws, user, at)))
            .await
    }

    async fn list_users(&self, ws: WorkspaceId) -> StoreResult<Vec<UserView>> {
        self.db
            .run(move |tx| Box::pin(account::list_users(tx, ws)))
            .await
    }

    async fn update_user(
        &self,
        ws: WorkspaceId,
        id: UserId,
        patch: UserPatch,
    ) -> StoreResult<UserView> {
        self.db
            .run(move |tx| Box::pin(account::update_user(tx, ws, id, patch)))
            .await
    }

    async fn remove_user(&self, ws: WorkspaceId, id: UserId) -> StoreResult<()> {
        self.db
            .run(move |tx| Box::pin(account::remove_user(tx, ws, id)))
            .await
    }

    async fn credentials_by_email(&self, email: &str) -> StoreResult<Option<(Principal, String)>> {
        let email = email.to_owned();
        self.db
            .run(move |tx| Box::pin(async move { account::credentials_by_email(tx, &email).await }))
            .await
    }

    async fn principal(&self, ws: WorkspaceId, user: UserId) -> StoreResult<Principal> {
        self.db
            .run(move |tx| Box::pin(account::principal(tx, ws, user)))
            .await
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        self.db
            .run(move |tx| Box::pin(account::create_session(tx, session)))
            .await
    }

    async fn session_principal(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<(Principal, String)>> {
        let h = token_hash.to_owned();
        self.db
            .run(move |tx| Box::pin(async move { account::session_principal(tx, &h, now).await }))
            .await
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        let h = token_hash.to_owned();
        self.db
            .run(move |tx| Box::pin(async move { account::delete_session(tx, &h).await }))
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
            .run(move |tx| {
                Box::pin(async move { account::create_token(tx, ws, user, &name, &h, at).await })
            })
            .await
    }

    async fn list_tokens(&self, ws: WorkspaceId, user: UserId) -> StoreResult<Vec<TokenView>> {
        self.db
            .run(move |tx| Box::pin(account::list_tokens(tx, ws, user)))
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
            .run(move |tx| Box::pin(account::revoke_token(tx, ws, user, id, at)))
            .await
    }

    async fn last_access_change(&self) -> StoreResult<i64> {
        self.db
            .run(move |tx| Box::pin(account::last_access_change(tx)))
            .await
    }

    async fn access_changes(&self, after: i64, limit: u32) -> StoreResult<Vec<AccessChange>> {
        self.db
            .run(move |tx| Box::pin(account::access_changes(tx, after, limit)))
            .await
    }

    async fn token_principal(&self, token_hash: &str) -> StoreResult<Option<Principal>> {
        let h = token_hash.to_owned();
        self.db
            .run(move |tx| Box::pin(async move { account::token_principal(tx, &h).await }))
            .await
    }

    async fn record_audit(&self, entry: AuditEntry) -> StoreResult<()> {
        self.db
            .run(move |tx| Box::pin(account::record_audit(tx, entry)))
            .await
    }

    async fn list_audit(&self, ws: WorkspaceId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.db
            .run(move |tx| Box::pin(account::list_audit(tx, ws, limit)))
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
            .run(move |tx| Box::pin(async move { directory::create_team(tx, ws, &name, at).await }))
            .await
    }

    async fn list_teams(&self, ws: WorkspaceId) -> StoreResult<Vec<TeamView>> {
        self.db
            .run(move |tx| Box::pin(directory::list_teams(tx, ws)))
            .await
    }

    async fn rename_team(&self, ws: WorkspaceId, id: TeamId, name: &str) -> StoreResult<TeamView> {
        let name = name.to_owned();
        self.db
            .run(move |tx| Box::pin(async move { directory::rename_team(tx, ws, id, &name).await }))
            .await
    }

    async fn delete_team(&self, ws: WorkspaceId, id: TeamId) -> StoreResult<()> {
        self.db
            .write(move |tx, _| Box::pin(directory::delete_team(tx, ws, id)))
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
            .run(move |tx| Box::pin(directory::set_team_member(tx, ws, team, user, member)))
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
            .run(move |tx| Box::pin(async move { lists::create(tx, ws, &name, at).await }))
            .await
    }

    async fn list_lists(&self, ws: WorkspaceId) -> StoreResult<Vec<ListView>> {
        self.db.run(move |tx| Box::pin(lists::all(tx, ws))).await
    }

    async fn rename_list(&self, ws: WorkspaceId, id: ListId, name: &str) -> StoreResult<ListView> {
        let name = name.to_owned();
        self.db
            .run(move |tx| Box::pin(async move { lists::rename(tx, ws, id, &name).await }))
            .await
    }

    async fn delete_list(&self, ws: WorkspaceId, id: ListId) -> StoreResult<()> {
        self.db
            .run(move |tx| Box::pin(lists::delete(tx, ws, id)))
            .await
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
            .run(move |tx| Box::pin(lists::set_member(tx, ws, list, contact, member, at)))
            .await
    }

    async fn contact_lists(&self, scope: &Scope, contact: ContactId) -> StoreResult<Vec<ListView>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| Box::pin(async move { lists::of_contact(tx, &scope, contact).await }))
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
            .run(move |tx| {
                Box::pin(async move { lists::members(tx, &scope, list, cursor, limit).await })
            })
            .await
    }

    async fn create_inbox(
        &self,
        ws: WorkspaceId,
        inbox: NewInbox,
        at: Timestamp,
    ) -> StoreResult<InboxRow> {
        self.db
            .run(move |tx| Box::pin(directory::create_inbox(tx, ws, inbox, at)))
            .await
    }

    async fn list_inboxes(&self, scope: &Scope) -> StoreResult<Vec<InboxRow>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| Box::pin(async move { directory::list_inboxes(tx, &scope).await }))
            .await
    }

    async fn inbox(&self, scope: &Scope, id: InboxId) -> StoreResult<InboxRow> {
        if !scope.can_see(id) {
            return Err(StoreError::NotFound);
        }
        let ws = scope.workspace;
        self.db
            .run(move |tx| Box::pin(directory::inbox(tx, ws, id)))
            .await
    }

    async fn update_inbox(
        &self,
        ws: WorkspaceId,
        id: InboxId,
        patch: InboxPatch,
    ) -> StoreResult<InboxRow> {
        self.db
            .run(move |tx| Box::pin(directory::update_inbox(tx, ws, id, patch)))
            .await
    }

    async fn inbox_for_hook(&self, id: InboxId) -> StoreResult<Option<InboxRow>> {
        self.db
            .run(move |tx| Box::pin(directory::inbox_for_hook(tx, id)))
            .await
    }

    async fn inboxes_of_kind(&self, kind: &str) -> StoreResult<Vec<InboxRow>> {
        let kind = kind.to_string();
        self.db
            .run(move |tx| Box::pin(async move { directory::inboxes_of_kind(tx, &kind).await }))
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
            .run(move |tx| Box::pin(directory::set_inbox_member(tx, ws, inbox, user, member)))
            .await
    }

    async fn inbox_members(&self, ws: WorkspaceId, inbox: InboxId) -> StoreResult<Vec<UserView>> {
        self.db
            .run(move |tx| Box::pin(directory::inbox_members(tx, ws, inbox)))
            .await
    }

    async fn create_contact(
        &self,
        ws: WorkspaceId,
        contact: NewContact,
        at: Timestamp,
    ) -> StoreResult<ContactView> {
        self.db
            .write(move |tx, _| Box::pin(contacts::create_contact(tx, ws, contact, at)))
            .await
    }

    async fn contact(&self, scope: &Scope, id: ContactId) -> StoreResult<ContactView> {
        let scope = scope.clone();
        self.db
            .run(move |tx| Box::pin(async move { rows::visible_contact(tx, &scope, id).await }))
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
            .write(move |tx, _| Box::pin(contacts::update_contact(tx, ws, id, patch, at)))
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
            .write(move |tx, _| Box::pin(contacts::set_blocked(tx, ws, id, blocked, at)))
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
            .run(move |tx| {
                Box::pin(async move { contacts::search(tx, &scope, &q, cursor, limit).await })
            })
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
            .write(move |tx, _| Box::pin(contacts::add_identity(tx, ws, contact, identity, at)))
            .await
    }

    async fn remove_identity(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        identity: IdentityId,
    ) -> StoreResult<ContactView> {
        // Under the event lock: the check that no conversation replies to the identity must not
        // race an inbound message that makes one.
        self.db
            .write(move |tx, _| Box::pin(contacts::remove_identity(tx, ws, contact, identity)))
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
        let m = contacts::Merge {
            kept,
            absorbed,
            actor,
            at,
        };
        self.db
            .write(move |tx, ev| Box::pin(contacts::merge(tx, ws, m, ev)))
            .await
    }

    async fn record_consent(
        &self,
        ws: WorkspaceId,
        consent: NewConsent,
    ) -> StoreResult<ConsentEvent> {
        self.db
            .write(move |tx, ev| {
                Box::pin(async move { contacts::record_consent(tx, ws, consent, ev).await })
            })
            .await
    }

    async fn consent_history(
        &self,
        scope: &Scope,
        contact: ContactId,
    ) -> StoreResult<Vec<ConsentEvent>> {
        let scope = scope.clone();
        self.db
            .run(move |tx| {
                Box::pin(async move { contacts::consent_history(tx, &scope, contact).await })
            })
            .await
    }

    async fn consent_context(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> StoreResult<ConsentContext> {
        self.db
            .run(move |tx| Box::pin(contacts::consent_context(tx, ws, contact)))
            .await
    }

    async fn erase_contact(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
        at: Timestamp,
    ) -> StoreResult<Erasure> {
        self.db
            .write(move |tx, _| Box::pin(crate::erasure::erase(tx, ws, contact, at)))
            .await
    }

    async fn last_inbound(
        &self,
        ws: WorkspaceId,
        contact: ContactId,
    ) -> StoreResult<Option<Timestamp>> {
        self.db
            .run(move |tx| Box::pin(contacts::last_inbound(tx, ws, contact)))
            .await
    }

    async fn inactive_contacts(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<InactiveContact>> {
        self.db
            .run(move |tx| Box::pin(contacts::inactive_contacts(tx, ws, before, limit)))
            .await
    }

    async fn apply_inbound(&self, msg: InboundMessage) -> StoreResult<InboundOutcome> {
        self.inbound.apply(msg).await
    }

    async fn identity_conversation(
        &self,
        inbox: InboxId,
        kind: IdentityKind,
        external_id: &str,
    ) -> StoreResult<Option<(ContactId, Option<ConversationId>)>> {
        let external_id = external_id.to_string();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let row = query_opt(
                        tx,
                        "SELECT i.contact_id, (SELECT v.id FROM conversation v WHERE v.inbox_id = i.inbox_id AND v.contact_id = i.contact_id) \
                         FROM contact_identity i WHERE i.inbox_id = $1 AND i.kind = $2 AND i.external_id = $3",
                        &[
                            &inbox.as_uuid(),
                            &kind.as_str(),
                            &crate::contacts::identity_key(tx.keys(), kind, &external_id),
                        ],
                    )
                    .await?;
                    match row {
                        Some(r) => Ok(Some((id(&r, 0)?, opt_id(&r, 1)?))),
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn conversation_by_external_ids(
        &self,
        inbox: InboxId,
        external_ids: &[String],
    ) -> StoreResult<Option<ConversationId>> {
        let ids: Vec<String> = external_ids.iter().take(100).cloned().collect();
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    let row = query_opt(
                        tx,
                        "SELECT conversation_id FROM message WHERE inbox_id = $1 \
                         AND direction IN ('inbound', 'outbound') AND external_id = ANY($2) \
                         ORDER BY created_at DESC LIMIT 1",
                        &[&inbox.as_uuid(), &ids],
                    )
                    .await?;
                    match row {
                        Some(r) => Ok(Some(id(&r, 0)?)),
                        None => Ok(None),
                    }
                })
            })
            .await
    }

    async fn list_conversations(
        &self,
        scope: &Scope,
        q: &ConversationQuery,
    ) -> StoreResult<Page<ConversationView>> {
        let (scope, q) = (scope.clone(), q.clone());
        self.db
            .run(move |tx| Box::pin(async move { queries::list(tx, &scope, &q).await }))
            .await
    }

    async fn conversation_counts(&self, scope: &Scope) -> StoreResult<ConversationCounts> {
        let scope = scope.clone();
        self.db
            .run(move |tx| Box::pin(async move { queries::counts(tx, &scope).await }))
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
            .write(move |tx, _| {
                Box::pin(async move { crate::seen::mark(tx, &scope, conversation, at).await })
            })
            .await
    }

    async fn seen_at(
        &self,
        scope: &Scope,
        conversations: &[ConversationId],
    ) -> StoreResult<std::collections::HashMap<ConversationId, Timestamp>> {
        let (scope, ids) = (scope.clone(), conversations.to_vec());
        self.db
            .run(move |tx| Box::pin(async move { crate::seen::read(tx, &scope, &ids).await }))
            .await
    }

    async fn conversation(
        &self,
        scope: &Scope,
        id: ConversationId,
    ) -> StoreResult<ConversationView> {
        let scope = scope.clone();
        self.db
            .run(move |tx| {
                Box::pin(async move { conversations::load_scoped(tx, &scope, id).await })
            })
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
            .run(move |tx| {
                Box::pin(async move { queries::timeline(tx, &scope, id, before, limit).await })
            })
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
            .write(move |tx, ev| {
                Box::pin(async move { commands::act(tx, &scope, id, actor, cmd, at, ev).await })
            })
            .await
    }

    async fn start_conversation(
        &self,
        scope: &Scope,
        msg: NewOutbound,
        at: Timestamp,
    ) -> StoreResult<ActOutcome> {
        let scope = scope.clone();
        let s = commands::Start { msg, at };
        self.db
            .write(move |tx, ev| Box::pin(async move { commands::start(tx, &scope, s, ev).await }))
            .await
    }

    async fn expiring_messages(
        &self,
        ws: WorkspaceId,
        before: Timestamp,
    ) -> StoreResult<(u64, Option<Timestamp>)> {
        self.db
            .run(move |tx| Box::pin(crate::retention::expiring(tx, ws, before)))
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
            .write(move |tx, _| {
                Box::pin(async move { crate::retention::expire(tx, ws, before, limit, at).await })
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
            .write(move |tx, ev| {
                Box::pin(async move {
                    commands::record_survey_answer(tx, ws, conv, sent_at, data, at, ev).await
                })
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
            .run(move |tx| Box::pin(commands::stored_survey_key(tx, ws)))
            .await?;
        if let Some(key) = found {
            return Ok(key);
        }
        self.db
            .write(move |tx, _| {
                Box::pin(async move { commands::survey_key(tx, ws, candidate, at).await })
            })
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
            .write(move |tx, ev| {
                Box::pin(async move {
                    commands::record_conversation_event(tx, ws, conv, kind, data, at, ev).await
                })
            })
            .await
    }

    async fn wake_snoozed(&self, now: Timestamp) -> StoreResult<usize> {
        self.db
            .write(move |tx, ev| Box::pin(commands::wake_snoozed(tx, now, ev)))
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
            .run(move |tx| {
                Box::pin(async move { queries::events_since(tx, &scope, after_seq, limit).await })
            })
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
            .run(move |tx| Box::pin(outbox::claim(tx, now, limit, lease_ms, per_inbox)))
            .await
    }

    async fn node_heartbeat(&self, node: NodeRow, fresh_ms: i64) -> StoreResult<Vec<NodeRow>> {
        self.db
            .run(move |tx| {
                Box::pin(async move { directory::node_heartbeat(tx, &node, fresh_ms).await })
            })
            .await
    }

    async fn node_leave(&self, id: String) -> StoreResult<()> {
        self.db
            .run(move |tx| {
                Box::pin(async move {
                    crate::db::exec(tx, "DELETE FROM node WHERE id = $1", &[&id])
                        .await
                        .map(drop)
                })
            })
            .await
    }

    async fn outbox_backlog(
        &self,
        ws: WorkspaceId,
        now: Timestamp,
    ) -> StoreResult<Vec<InboxBacklog>> {
        self.db
            .run(move |tx| Box::pin(outbox::backlog(tx, ws, now)))
            .await
    }

    async fn finish_outbox(
        &self,
        id: OutboxId,
        result: OutboxResult,
        at: Timestamp,
    ) -> StoreResult<()> {
        self.db
            .write(move |tx, ev| Box::pin(outbox::finish(tx, id, result, at, ev)))
            .await
    }

    async fn read_until(
        &self,
        conversation: ConversationId,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<usize> {
        self.db
            .write(move |tx, ev| Box::pin(outbox::read_until(tx, conversation, until, now, ev)))
            .await
    }

    async fn next_outbox_due(&self) -> StoreResult<Option<Timestamp>> {
        self.db.run(|tx| Box::pin(outbox::next_due(tx))).await
    }

    async fn record_delivery(&self, report: DeliveryReport) -> StoreResult<bool> {
        self.db
            .write(move |tx, ev| Box::pin(outbox::record_delivery(tx, report, ev)))
            .await
    }

    async fn release_claims(&self) -> StoreResult<u64> {
        self.db.run(|tx| Box::pin(outbox::release_claims(tx))).await
    }
}
