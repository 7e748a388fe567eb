//! The `Templates` trait: what each backend implements for saved texts with merge fields (in its
//! `templates.rs`).

use async_trait::async_trait;
use parley_core::{TemplateId, Timestamp, WorkspaceId};

use crate::types::*;
use crate::StoreResult;

/// A workspace's templates: the texts agents insert by `/shortcut`, automations send and the API
/// names by id. A shortcut is unique in its workspace (`Conflict` otherwise).
#[async_trait]
pub trait Templates: Send + Sync + 'static {
    async fn create_template(
        &self,
        ws: WorkspaceId,
        t: &NewTemplate,
        at: Timestamp,
    ) -> StoreResult<TemplateRow>;
    /// The workspace's templates by shortcut.
    async fn list_templates(&self, ws: WorkspaceId) -> StoreResult<Vec<TemplateRow>>;
    async fn template(&self, ws: WorkspaceId, id: TemplateId) -> StoreResult<TemplateRow>;
    /// Replaces a template's name, shortcut, text and channels; its use count stays.
    async fn update_template(
        &self,
        ws: WorkspaceId,
        id: TemplateId,
        t: &NewTemplate,
        at: Timestamp,
    ) -> StoreResult<TemplateRow>;
    async fn delete_template(&self, ws: WorkspaceId, id: TemplateId) -> StoreResult<()>;
    /// Counts one use of a template at `at`.
    async fn count_template_use(
        &self,
        ws: WorkspaceId,
        id: TemplateId,
        at: Timestamp,
    ) -> StoreResult<TemplateRow>;
    /// Makes the workspace's templates exactly `items`, matched by shortcut in one transaction: a
    /// template whose shortcut is listed keeps its id and count and takes the new text, one not
    /// listed goes, a new shortcut is added (what replacing the saved replies means).
    async fn replace_templates(
        &self,
        ws: WorkspaceId,
        items: &[NewTemplate],
        at: Timestamp,
    ) -> StoreResult<Vec<TemplateRow>>;
}
