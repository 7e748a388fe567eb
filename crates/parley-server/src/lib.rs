//! Parley's server: the axum application (REST API, webhooks, realtime WebSocket, web pages) and
//! its background workers, over either store.
//!
//! Layout, by what each part is about: `inbound/` (every customer message's one path and the
//! webhooks), `conversations/`, `contacts/`, `inboxes/` (channels, email, the widget),
//! `compliance/`, `account/` (sign-in, users, teams, settings, keys), `automations/` (rules,
//! macros, time triggers, webhooks), `templates/`, `hours/` (business hours, auto-replies),
//! `realtime/` (the event hub and agents' sockets), `jobs/` (dispatcher, timers, retention) and
//! `http/` (the route table each part contributes to, errors, extractors, the listener and the
//! served pages).

pub mod account;
pub mod automations;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod contacts;
pub mod conversations;
pub mod hours;
pub mod http;
pub mod inbound;
pub mod inboxes;
pub mod jobs;
pub mod logging;
pub mod realtime;
pub mod redact;
pub mod state;
pub mod templates;
pub mod views;

use std::sync::Arc;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::Router;
use parley_core::role::Role;
use parley_store::crypt::MasterKey;
use parley_store::{DynStore, EventSink, NewUser};

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, Database, DispatchConfig, SmtpLimits, WidgetLimits};
pub use state::App;

/// Opens the configured store, with migrations applied and encryption at rest on when a master
/// key is given (an encrypted database refuses to open without its key). `seal_existing` seals
/// what a database held before encryption was turned on.
pub async fn open_store(
    db: &Database,
    sink: EventSink,
    master: Option<&MasterKey>,
    seal_existing: bool,
) -> anyhow::Result<DynStore> {
    Ok(match db {
        Database::Sqlite { path, durable } => {
            let durability = if *durable {
                parley_store_sqlite::Durability::Full
            } else {
                parley_store_sqlite::Durability::Normal
            };
            Arc::new(
                parley_store_sqlite::SqliteStore::open(path, durability, sink)?
                    .with_master_key(master, seal_existing)
                    .await?,
            )
        }
        Database::Postgres { url } => {
            use secrecy::ExposeSecret;
            Arc::new(
                parley_store_postgres::PostgresStore::connect(url.expose_secret(), sink)
                    .await?
                    .with_master_key(master, seal_existing)
                    .await?,
            )
        }
    })
}

/// Builds the application: store, hub and HTTP client. Workers are started by `start_workers`.
pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<App> {
    let hub = realtime::Hub::new();
    let sink_hub = hub.clone();
    let sink: EventSink = Arc::new(move |events| sink_hub.publish_committed(events));
    let store = open_store(
        &config.database,
        sink,
        config.master_key.as_ref(),
        config.seal_existing,
    )
    .await
    .context("opening the database")?;
    let policy = parley_channels::net::Policy::new(config.outbound_allow.clone());
    let http = parley_channels::net::Client::new(
        policy.clone(),
        std::time::Duration::from_millis(config.dispatch.timeout_ms),
    )
    .context("building the HTTP client")?;
    let blobs: Arc<dyn parley_blobs::Blobs> = match &config.s3 {
        Some(s3) => {
            // The endpoint is fixed: an address literal is checked once here, a host name at
            // every lookup by the client's resolver.
            if let Ok(url) = reqwest::Url::parse(s3.endpoint.trim()) {
                policy
                    .check_url(&url)
                    .map_err(|e| anyhow::anyhow!("attachments: the S3 endpoint is refused: {e}"))?;
            }
            Arc::new(
                parley_blobs::S3::new(s3.clone(), http.unchecked().clone())
                    .map_err(|e| anyhow::anyhow!("attachments: {e}"))?,
            )
        }
        None => Arc::new(parley_blobs::LocalDisk::new(config.attachments_dir.clone())),
    };
    let passwords = account::auth::Passwords::new(config.password_hash_concurrency);
    let widget_limits = Arc::new(inboxes::widget::limits::WidgetLimiter::new(
        config.widget.clone(),
    ));
    let node = Arc::new(jobs::nodes::Node::new(clock.now()));
    Ok(App {
        store,
        hub,
        clock,
        config: Arc::new(config),
        http,
        dispatch_bell: Arc::new(tokio::sync::Notify::new()),
        timer_bell: Arc::new(crate::jobs::timers::Bell::default()),
        node,
        setup_token: Arc::new(std::sync::Mutex::new(None)),
        hook_inboxes: Arc::default(),
        workspaces: Arc::default(),
        rules: Arc::default(),
        pacer: Arc::default(),
        sign_ins: Arc::default(),
        passwords,
        widget_limits,
        blobs,
        visitors: Arc::default(),
    })
}

/// What happened on first start.
pub enum FirstStart {
    /// The database already had a workspace.
    AlreadySetUp,
    /// A workspace and admin were created from the given email and password.
    AdminCreated { email: String },
    /// Nobody was given: open this link once to create the workspace and admin.
    SetupLink(String),
}

/// On an empty database, creates the first workspace and admin, or arms a one-time setup link.
pub async fn first_start(
    app: &App,
    admin_email: Option<&str>,
    admin_password: Option<&str>,
) -> anyhow::Result<FirstStart> {
    if !app.store.is_empty().await? {
        return Ok(FirstStart::AlreadySetUp);
    }
    match (admin_email, admin_password) {
        (Some(email), Some(password)) => {
            let email = parley_core::contact::Email::parse(email)
                .map_err(|e| anyhow::anyhow!("--admin-email {e}"))?;
            account::auth::check_password_strength(password)
                .map_err(|e| anyhow::anyhow!("PARLEY_ADMIN_PASSWORD {e}"))?;
            let hash = account::auth::hash_password(password.to_string())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let name = email.local_part().to_string();
            let admin = NewUser {
                email: email.as_str().to_string(),
                name,
                password_hash: hash,
                role: Role::Admin,
                bot: false,
            };
            app.store
                .create_workspace("My workspace", "UTC", admin, app.now())
                .await?;
            Ok(FirstStart::AdminCreated {
                email: email.into_string(),
            })
        }
        (Some(_), None) => {
            anyhow::bail!("--admin-email needs the password in PARLEY_ADMIN_PASSWORD")
        }
        _ => {
            let token = account::auth::random_token();
            if let Ok(mut t) = app.setup_token.lock() {
                *t = Some(token.clone());
            }
            Ok(FirstStart::SetupLink(format!(
                "{}/setup#{token}",
                app.config.public_url.trim_end_matches('/')
            )))
        }
    }
}

/// Starts the background workers. On the embedded database this server is the only one, so
/// deliveries its previous run had claimed when it stopped are released first.
pub async fn start_workers(app: &App) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    if matches!(app.config.database, Database::Sqlite { .. }) {
        let n = app.store.release_claims().await?;
        if n > 0 {
            tracing::info!(
                deliveries = n,
                "released deliveries claimed before the last stop"
            );
        }
        let n = app.store.release_timer_claims().await?;
        if n > 0 {
            tracing::info!(timers = n, "released timers claimed before the last stop");
        }
    }
    // A second node on the database is told at start, before it takes any work.
    if let Err(e) = jobs::nodes::beat(app).await {
        tracing::warn!(error = %e, "could not record this node's heartbeat");
    }
    Ok(jobs::spawn(app))
}

/// The complete HTTP application.
pub fn router(app: App) -> Router {
    let mut api = Router::new();
    for r in http::routes::routes() {
        let min = match r.access {
            http::routes::Access::Admin => Some(parley_core::role::Role::Admin),
            http::routes::Access::Supervisor => Some(parley_core::role::Role::Supervisor),
            _ => None,
        };
        let mut handler = match min {
            Some(role) => r.handler.layer(axum::middleware::from_fn_with_state(
                (app.clone(), role),
                http::caller::role_gate,
            )),
            None => r.handler,
        };
        if r.path.starts_with("/api/v1/") {
            handler = handler.layer(axum::middleware::from_fn_with_state(
                r.query,
                http::routes::check_query,
            ));
        }
        api = api.route(r.path, handler);
    }
    let limit = app.config.max_body_bytes;
    api.merge(http::web::router())
        .fallback(|| async {
            http::error::error_body(StatusCode::NOT_FOUND, "not_found", "no such route", None)
        })
        .method_not_allowed_fallback(|| async {
            http::error::error_body(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
                None,
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(http::layers::compression())
        .layer(axum::middleware::from_fn(http::layers::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(app.config.trusted_proxies.clone()),
            http::layers::client_address,
        ))
        .layer(axum::middleware::from_fn(http::layers::access_log))
        .with_state(app)
}

/// Serves until `shutdown` resolves. While serving, follows the database's access-change log so
/// that revocations made on any server reach the sockets open here.
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Read before the first connection, so no change after it is missed.
    let seen = app
        .store
        .last_access_change()
        .await
        .context("reading the access-change log")?;
    let watcher = AbortOnDrop(tokio::spawn(realtime::follow_access_changes(
        app.clone(),
        seen,
    )));
    let limits = http::listener::Limits::of(&app.config);
    http::listener::run(router(app), listener, limits, shutdown).await;
    drop(watcher);
    Ok(())
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
