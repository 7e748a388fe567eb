//! The SMTP listener: it takes mail for the email inboxes' addresses (and `+<anything>` on
//! them) and stores each mail in every inbox it is for.

use std::sync::Arc;
use std::time::Duration;

use parley_channels::email::{self, DeliveryError, ReceivedMail, SmtpHandler};
use parley_store::InboxRow;

use super::received::{store, Refused};
use super::{text_setting, KIND};
use crate::state::App;

/// The email inboxes that take mail for `recipient`: their address, or it with `+<anything>`.
async fn inboxes_for(app: &App, recipient: &str) -> Result<Vec<InboxRow>, DeliveryError> {
    let Some((local, domain)) = recipient
        .to_ascii_lowercase()
        .rsplit_once('@')
        .map(|(l, d)| (l.to_string(), d.to_string()))
    else {
        return Ok(Vec::new());
    };
    let base = local.split('+').next().unwrap_or_default().to_string();
    let want = format!("{base}@{domain}");
    let all = app
        .store
        .inboxes_of_kind(KIND)
        .await
        .map_err(|e| DeliveryError::Temporary(format!("mailbox lookup failed: {e}")))?;
    Ok(all
        .into_iter()
        .filter(|i| text_setting(i, &["address"]) == want)
        .collect())
}

/// The SMTP listener's view of Parley: recipients are email inboxes' addresses.
struct Listener {
    app: App,
}

#[async_trait::async_trait]
impl SmtpHandler for Listener {
    async fn accept_recipient(&self, recipient: &str) -> Result<bool, DeliveryError> {
        Ok(!inboxes_for(&self.app, recipient).await?.is_empty())
    }

    async fn deliver(&self, mail: ReceivedMail) -> Result<(), DeliveryError> {
        let mut seen = Vec::new();
        for r in &mail.recipients {
            for inbox in inboxes_for(&self.app, r).await? {
                if seen.contains(&inbox.id) {
                    continue;
                }
                seen.push(inbox.id);
                match store(&self.app, &inbox, &mail.data).await {
                    Ok(_) => {}
                    Err(Refused::Automatic) => {
                        tracing::info!(inbox = %inbox.id, "dropped an automatic reply or bounce");
                    }
                    Err(Refused::Malformed(e)) => return Err(DeliveryError::Permanent(e)),
                    Err(Refused::Unavailable(e)) => return Err(DeliveryError::Temporary(e)),
                }
            }
        }
        Ok(())
    }
}

/// Serves SMTP for the email inboxes on `listener` until the task is dropped.
pub async fn serve(app: App, listener: tokio::net::TcpListener) {
    let cfg = email::SmtpServerConfig {
        hostname: reqwest::Url::parse(&app.config.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "localhost".into()),
        session_timeout: Duration::from_secs(app.config.smtp_limits.session_secs),
        max_per_address: app.config.smtp_limits.connections_per_address,
        buffer_bytes: app.config.smtp_limits.buffer_bytes,
        ..Default::default()
    };
    email::serve_smtp(listener, cfg, Arc::new(Listener { app })).await;
}
