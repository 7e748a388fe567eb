//! What Parley keeps about people, and for how long: the retention report, numbers silent long
//! enough to have been reassigned (and forgetting them), erasure, and the auditors' exports.

use parley_core::contact::IdentityKind;
use parley_core::{ContactId, WorkspaceId};
use parley_store::{AuditEntry, ConsentEvent, ContactPatch, Scope, StoreError, WorkspaceRow};

use super::settings::Settings;
use super::views::{ErasureView, ExpiringView, InactiveContactView, InactiveView, RetentionView};
use super::{ComplianceError, DAY_MS};
use crate::conversations::exports;
use crate::state::App;

/// The retention period of `ws` and what the next run will empty.
pub async fn retention_report(app: &App, ws: &WorkspaceRow) -> Result<RetentionView, StoreError> {
    let days = Settings::of(ws).retention_days;
    if days == 0 {
        return Ok(RetentionView {
            cutoff: None,
            next: ExpiringView {
                messages: 0,
                oldest: None,
            },
            retention_days: 0,
        });
    }
    let cutoff = app.now().plus_millis(-i64::from(days) * DAY_MS);
    let (messages, oldest) = app.store.expiring_messages(ws.id, cutoff).await?;
    Ok(RetentionView {
        cutoff: Some(cutoff),
        next: ExpiringView { messages, oldest },
        retention_days: days,
    })
}

/// Contacts of `ws` whose number has been silent longer than its inactivity period.
pub async fn inactive_report(
    app: &App,
    ws: &WorkspaceRow,
    limit: u32,
) -> Result<InactiveView, StoreError> {
    let days = Settings::of(ws).inactivity_days;
    if days == 0 {
        return Ok(InactiveView {
            inactivity_days: 0,
            items: Vec::new(),
            silent_since: None,
        });
    }
    let now = app.now();
    let cutoff = now.plus_millis(-i64::from(days) * DAY_MS);
    let items = app
        .store
        .inactive_contacts(ws.id, cutoff, limit)
        .await?
        .into_iter()
        .map(|c| InactiveContactView::new(c, now))
        .collect();
    Ok(InactiveView {
        inactivity_days: days,
        items,
        silent_since: Some(cutoff),
    })
}

/// Forgets the phone numbers (phone and WhatsApp addresses) of contacts on the inactive report,
/// so nothing can be sent to whoever has the number now. Every id is checked before anything
/// changes; the contacts, their history and their consent ledger stay.
pub async fn forget_numbers(
    app: &App,
    scope: &Scope,
    ws: &WorkspaceRow,
    ids: &[ContactId],
) -> Result<(), ComplianceError> {
    let days = Settings::of(ws).inactivity_days;
    let cutoff = app.now().plus_millis(-i64::from(days) * DAY_MS);
    let listed = if days == 0 {
        Vec::new()
    } else {
        app.store.inactive_contacts(ws.id, cutoff, 100_000).await?
    };
    if let Some(id) = ids.iter().find(|id| !listed.iter().any(|c| c.id == **id)) {
        return Err(ComplianceError::NotInactive(*id));
    }
    for id in ids {
        let contact = app.store.contact(scope, *id).await?;
        for ident in contact
            .identities
            .iter()
            .filter(|i| matches!(i.kind, IdentityKind::Phone | IdentityKind::Whatsapp))
        {
            app.store.remove_identity(ws.id, *id, ident.id).await?;
        }
        let patch = ContactPatch {
            phone: Some(None),
            ..ContactPatch::default()
        };
        app.store
            .update_contact(ws.id, *id, patch, app.now())
            .await?;
    }
    Ok(())
}

/// Erases the contact (GDPR/CCPA) and deletes their files; a file the blob store keeps is logged
/// and counted, never an error.
pub async fn erase(app: &App, ws: WorkspaceId, id: ContactId) -> Result<ErasureView, StoreError> {
    let done = app.store.erase_contact(ws, id, app.now()).await?;
    let mut files_left = 0;
    for (inbox, file) in &done.attachments {
        if let Err(e) = crate::conversations::attachments::delete(app, ws, *inbox, file).await {
            files_left += 1;
            tracing::warn!(error = %e, contact = %id, "could not delete an erased contact's file");
        }
    }
    Ok(ErasureView::new(&done, files_left))
}

/// The consent ledger as CSV, one entry a line.
pub fn consent_csv(ledger: &[ConsentEvent]) -> String {
    let mut csv = String::from("at,purpose,action,source,channel,evidence\r\n");
    for e in ledger {
        exports::csv_line(
            &mut csv,
            &[
                e.at.to_rfc3339(),
                e.purpose.as_str().to_string(),
                e.action.as_str().to_string(),
                e.source.clone(),
                e.channel.clone().unwrap_or_else(|| "all".into()),
                e.evidence.to_string(),
            ],
        );
    }
    csv
}

/// The audit log as CSV, one entry a line.
pub fn audit_csv(entries: &[AuditEntry]) -> String {
    let mut csv = String::from("at,actor_id,action,target,ip,detail\r\n");
    for e in entries {
        exports::csv_line(
            &mut csv,
            &[
                e.at.to_rfc3339(),
                e.actor_id.map(|a| a.to_string()).unwrap_or_default(),
                e.action.clone(),
                e.target.clone(),
                e.ip.clone().unwrap_or_default(),
                e.detail.to_string(),
            ],
        );
    }
    csv
}
