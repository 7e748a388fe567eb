//! A real server on a random port over a fresh database (SQLite, or PostgreSQL when
//! PARLEY_TEST_POSTGRES_URL is set), or the same application driven in-process through its router;
//! a callback receiver standing in for an integrating system, and a WebSocket client for the
//! agent's side.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use crate::waits::Recorded;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parley_core::role::Role;
use parley_server::{App, Clock, Config, Database, SystemClock};
use parley_store::crypt::MasterKey;
use parley_store::NewUser;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub app: App,
    pub base: String,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub admin_token: String,
    database: Database,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// Set for an application driven in-process: requests go to it through `oneshot`, no socket.
    router: Option<axum::Router>,
    clock: Arc<dyn Clock>,
    master_key: Option<MasterKey>,
    _dir: Arc<tempfile::TempDir>,
}

pub fn postgres_url() -> Option<String> {
    std::env::var("PARLEY_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

fn config(database: Database) -> Config {
    let mut cfg = Config::new(SocketAddr::from(([127, 0, 0, 1], 0)), database);
    cfg.dispatch.backoff_base_ms = 50;
    cfg.dispatch.backoff_max_ms = 200;
    cfg.dispatch.max_attempts = 4;
    cfg.dispatch.timeout_ms = 2_000;
    cfg.max_body_bytes = 64 * 1024;
    // The fake providers and callback receivers listen on loopback.
    cfg.outbound_allow = parley_channels::net::parse_allow("127.0.0.0/8,::1/128").expect("allow");
    cfg.email_authserv_id = Some(MAIL_SERVER.into());
    // Tests stand in for a proxy on this host: their X-Forwarded-For names the client.
    cfg.trusted_proxies = parley_channels::net::parse_allow("127.0.0.0/8,::1").expect("networks");
    cfg
}

/// The mail server in front of Parley in tests, whose `Authentication-Results` are trusted.
pub const MAIL_SERVER: &str = "mx.acme.test";

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        let t = Self::spawn_empty(backend).await;
        t.with_admin().await
    }

    async fn with_admin(mut self) -> Self {
        let hash = parley_server::account::auth::hash_password("admin-password".into())
            .await
            .expect("hash");
        let admin = NewUser {
            email: "admin@acme.test".into(),
            name: "Admin".into(),
            password_hash: hash,
            role: Role::Admin,
            bot: false,
        };
        let (ws, user) = self
            .app
            .store
            .create_workspace("Acme", "UTC", admin, self.app.now())
            .await
            .expect("workspace");
        self.admin_token = self.token_for(ws.id, user.id).await;
        self
    }

    /// A server with an admin whose clock the test moves.
    pub async fn spawn_with_clock(backend: Backend, clock: Arc<dyn Clock>) -> Self {
        let (database, dir) = Self::database(backend).await;
        Self::start(database, dir, None, clock, None)
            .await
            .with_admin()
            .await
    }

    /// A server with an admin and settings of the test's own.
    pub async fn spawn_configured(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let (database, dir) = Self::database(backend).await;
        let mut cfg = config(database.clone());
        tweak(&mut cfg);
        Self::start_with(cfg, database, dir, None, Arc::new(SystemClock), None)
            .await
            .with_admin()
            .await
    }

    /// A server on an empty database: no workspace, no admin.
    pub async fn spawn_empty(backend: Backend) -> Self {
        let (database, dir) = Self::database(backend).await;
        Self::start(database, dir, None, Arc::new(SystemClock), None).await
    }

    /// The application with an admin, on no socket and with no workers: requests go straight into
    /// its router. For what a request alone decides (validation, error shapes, answers).
    pub async fn spawn_in_process(backend: Backend) -> Self {
        let (database, dir) = Self::database(backend).await;
        let mut cfg = config(database.clone());
        cfg.attachments_dir = dir.path().join("attachments");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let app = parley_server::build(cfg, Arc::clone(&clock))
            .await
            .expect("builds");
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        Self {
            router: Some(parley_server::router(app.clone())),
            app,
            base: format!("http://{addr}"),
            addr,
            http: reqwest::Client::new(),
            admin_token: String::new(),
            database,
            stop: None,
            server: None,
            workers: Vec::new(),
            clock,
            master_key: None,
            _dir: dir,
        }
        .with_admin()
        .await
    }

    async fn database(backend: Backend) -> (Database, Arc<tempfile::TempDir>) {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let database = match backend {
            Backend::Sqlite => Database::Sqlite {
                path: dir.path().join("parley.db"),
                durable: false,
            },
            Backend::Postgres => {
                let admin = postgres_url().expect("PARLEY_TEST_POSTGRES_URL");
                let url = parley_store_postgres::testing::fresh_database(&admin)
                    .await
                    .expect("fresh database");
                Database::Postgres { url: url.into() }
            }
        };
        (database, dir)
    }

    /// A server with an admin that may connect to no internal network at all, loopback included
    /// (what `outbound_allow` is by default).
    pub async fn spawn_strict(backend: Backend) -> Self {
        Self::spawn_tuned(backend, |c| c.outbound_allow.clear()).await
    }

    /// A server with an admin whose settings `tune` changes.
    pub async fn spawn_tuned(backend: Backend, tune: fn(&mut Config)) -> Self {
        let (database, dir) = Self::database(backend).await;
        Self::start_tuned(database, dir, None, Arc::new(SystemClock), None, tune)
            .await
            .with_admin()
            .await
    }

    /// Another server on this one's database (as a second node of a deployment), with the same
    /// admin token and settings `tune` changes.
    pub async fn second_node(&self, tune: fn(&mut Config)) -> Self {
        Self::start_tuned(
            self.database.clone(),
            Arc::clone(&self._dir),
            Some(self.admin_token.clone()),
            Arc::clone(&self.clock),
            self.master_key.clone(),
            tune,
        )
        .await
    }

    async fn start(
        database: Database,
        dir: Arc<tempfile::TempDir>,
        admin_token: Option<String>,
        clock: Arc<dyn Clock>,
        master_key: Option<MasterKey>,
    ) -> Self {
        Self::start_tuned(database, dir, admin_token, clock, master_key, |_| {}).await
    }

    async fn start_tuned(
        database: Database,
        dir: Arc<tempfile::TempDir>,
        admin_token: Option<String>,
        clock: Arc<dyn Clock>,
        master_key: Option<MasterKey>,
        tune: fn(&mut Config),
    ) -> Self {
        let mut cfg = config(database.clone());
        tune(&mut cfg);
        Self::start_with(cfg, database, dir, admin_token, clock, master_key).await
    }

    async fn start_with(
        mut cfg: Config,
        database: Database,
        dir: Arc<tempfile::TempDir>,
        admin_token: Option<String>,
        clock: Arc<dyn Clock>,
        master_key: Option<MasterKey>,
    ) -> Self {
        cfg.master_key = master_key.clone();
        cfg.attachments_dir = dir.path().join("attachments");
        let app = parley_server::build(cfg, Arc::clone(&clock))
            .await
            .expect("builds");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = app.clone();
        let server = tokio::spawn(async move {
            let _ = parley_server::serve(served, listener, async move {
                let _ = stopped.await;
            })
            .await;
        });
        let workers = parley_server::start_workers(&app).await.expect("workers");
        Self {
            app,
            base: format!("http://{addr}"),
            addr,
            http: reqwest::Client::new(),
            admin_token: admin_token.unwrap_or_default(),
            database,
            stop: Some(stop),
            server: Some(server),
            workers,
            router: None,
            clock,
            master_key,
            _dir: dir,
        }
    }

    /// Everything the database holds at rest, as text: the SQLite file and its WAL as bytes, or
    /// every row of every PostgreSQL table. What a thief of the disk or of a backup would read.
    pub async fn raw_contents(&self) -> String {
        match &self.database {
            Database::Sqlite { path, .. } => {
                let mut out = Vec::new();
                for p in [path.clone(), path.with_extension("db-wal")] {
                    out.extend(std::fs::read(&p).unwrap_or_default());
                }
                String::from_utf8_lossy(&out).into_owned()
            }
            Database::Postgres { url } => {
                use secrecy::ExposeSecret;
                let (client, conn) =
                    tokio_postgres::connect(url.expose_secret(), tokio_postgres::NoTls)
                        .await
                        .expect("connects");
                tokio::spawn(conn);
                let tables = client
                    .query(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
                        &[],
                    )
                    .await
                    .expect("tables");
                let mut out = String::new();
                for t in tables {
                    let name: String = t.get(0);
                    let sql = format!("SELECT x::text FROM \"{name}\" x");
                    for r in client.query(&sql, &[]).await.expect("rows") {
                        out.push_str(&r.get::<_, String>(0));
                        out.push('\n');
                    }
                }
                out
            }
        }
    }

    /// Every text value in every table's live rows (not the file's free pages or the WAL's
    /// history, which `raw_contents` includes).
    pub async fn live_rows(&self) -> String {
        match &self.database {
            Database::Sqlite { path, .. } => {
                let db = rusqlite::Connection::open(path).expect("opens");
                let tables: Vec<String> = db
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .unwrap()
                    .query_map([], |r| r.get(0))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let mut out = String::new();
                for t in tables {
                    let mut stmt = db.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
                    let n = stmt.column_count();
                    let mut rows = stmt.query([]).unwrap();
                    while let Some(r) = rows.next().unwrap() {
                        for i in 0..n {
                            if let Ok(Some(v)) = r.get::<_, Option<String>>(i) {
                                out.push_str(&v);
                                out.push('\n');
                            }
                        }
                    }
                }
                out
            }
            Database::Postgres { .. } => self.raw_contents().await,
        }
    }

    /// Stops the server and its workers, then starts a new one on the same database.
    pub async fn restart(mut self) -> Self {
        self.shutdown().await;
        let (db, dir, token) = (
            self.database.clone(),
            Arc::clone(&self._dir),
            self.admin_token.clone(),
        );
        let key = self.master_key.clone();
        Self::start(db, dir, Some(token), Arc::clone(&self.clock), key).await
    }

    /// Stops the server, then starts a new one on the same database with another master key.
    pub async fn restart_with(mut self, key: MasterKey) -> Self {
        self.master_key = Some(key);
        self.restart().await
    }

    /// A server with an admin, encrypting at rest under `key`.
    pub async fn spawn_encrypted(backend: Backend, key: MasterKey) -> Self {
        let (database, dir) = Self::database(backend).await;
        Self::start(
            database,
            dir,
            None,
            Arc::new(DaytimeClock::new()),
            Some(key),
        )
        .await
        .with_admin()
        .await
    }

    /// Stops this server and tries to build one on the same database with `key`: the error
    /// building it gives, if any.
    pub async fn reopen_error(mut self, key: Option<MasterKey>) -> Option<String> {
        self.shutdown().await;
        let mut cfg = config(self.database.clone());
        cfg.master_key = key;
        parley_server::build(cfg, Arc::clone(&self.clock))
            .await
            .err()
            .map(|e| format!("{e:#}"))
    }

    /// Stops this server, turns encryption at rest on for its database as `parley keys encrypt`
    /// does, and starts one with the key. Also gives the error a server started with the key
    /// gives before that, the one it gives when the first run of `keys encrypt` stopped before
    /// finishing (a second run finishes it), and how many files were sealed.
    pub async fn encrypt_existing(mut self, key: MasterKey) -> (Self, String, String, u64) {
        self.shutdown().await;
        let mut cfg = config(self.database.clone());
        cfg.attachments_dir = self._dir.path().join("attachments");
        cfg.master_key = Some(key.clone());
        let refused = match parley_server::build(cfg.clone(), Arc::clone(&self.clock)).await {
            Ok(_) => String::new(),
            Err(e) => format!("{e:#}"),
        };
        cfg.seal_existing = true;
        // A first run stops before it seals the files and says it finished.
        drop(
            parley_server::build(cfg.clone(), Arc::clone(&self.clock))
                .await
                .expect("encrypts"),
        );
        let mut serving = cfg.clone();
        serving.seal_existing = false;
        let unfinished = match parley_server::build(serving, Arc::clone(&self.clock)).await {
            Ok(_) => String::new(),
            Err(e) => format!("{e:#}"),
        };
        let app = parley_server::build(cfg, Arc::clone(&self.clock))
            .await
            .expect("encrypts again");
        let files = parley_server::account::keys::seal_files(&app, true)
            .await
            .expect("files");
        app.store.finish_sealing().await.expect("finished");
        drop(app);
        let (db, dir, token) = (
            self.database.clone(),
            Arc::clone(&self._dir),
            self.admin_token.clone(),
        );
        let t = Self::start(db, dir, Some(token), Arc::clone(&self.clock), Some(key)).await;
        (t, refused, unfinished, files)
    }

    /// The attachments folder's files, as text.
    pub fn raw_files(&self) -> String {
        let mut out = Vec::new();
        let mut dirs = vec![self.app.config.attachments_dir.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    out.extend(std::fs::read(&p).unwrap_or_default());
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn stop_workers(&mut self) {
        for w in self.workers.drain(..) {
            w.abort();
        }
    }

    pub async fn shutdown(&mut self) {
        for w in self.workers.drain(..) {
            w.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(s) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), s).await;
        }
        // As `parley serve` does when it stops.
        parley_server::jobs::nodes::leave(&self.app).await;
    }

    pub async fn token_for(
        &self,
        ws: parley_core::WorkspaceId,
        user: parley_core::UserId,
    ) -> String {
        let secret = format!("pat_{}", parley_server::account::auth::random_token());
        let hash = parley_server::account::auth::hash_token(&secret);
        self.app
            .store
            .create_token(ws, user, "test", &hash, self.app.now())
            .await
            .expect("token");
        secret
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends one request and answers its status and body text: over the socket, or straight into
    /// the router of an application driven in-process.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, String) {
        if let Some(router) = &self.router {
            use tower::ServiceExt;
            let mut req = axum::http::Request::builder()
                .method(method.as_str())
                .uri(path);
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            let req = req.body(axum::body::Body::from(body)).expect("request");
            let resp = router.clone().oneshot(req).await.expect("answers");
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .expect("body");
            return (status, String::from_utf8_lossy(&bytes).into_owned());
        }
        let mut req = self.http.request(method, self.url(path)).body(body);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let bearer = format!("Bearer {token}");
        let mut headers = vec![("authorization", bearer.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, text) = self.send(method, path, &headers, body).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, path, token, Some(body))
            .await
    }

    /// Creates a user with a role and returns (id, token).
    pub async fn user(&self, email: &str, role: &str) -> (String, String) {
        let body = json!({ "email": email, "name": email.split('@').next(), "password": "long-enough-password", "role": role });
        let (s, v) = self.post("/api/v1/users", &self.admin_token, body).await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().expect("id").to_string();
        let (s, v) = self
            .post(
                "/api/v1/auth/sign-in",
                "",
                json!({ "email": email, "password": "long-enough-password" }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let p = self
            .app
            .store
            .credentials_by_email(email)
            .await
            .expect("lookup")
            .expect("user")
            .0;
        let token = self.token_for(p.workspace_id, p.user_id).await;
        (id, token)
    }

    /// The entries of a conversation's timeline as the admin sees them, oldest first.
    pub async fn timeline_items(&self, conv: &str) -> Vec<Value> {
        let path = format!("/api/v1/conversations/{conv}/timeline");
        let (_, tl) = self.get(&path, &self.admin_token).await;
        tl["items"].as_array().expect("items").clone()
    }

    /// Lets `user` work `inbox`, as an admin does; answers the status.
    pub async fn add_member(&self, inbox: &str, user: &str) -> u16 {
        let path = format!("/api/v1/inboxes/{inbox}/members/{user}");
        let admin = &self.admin_token;
        self.call(reqwest::Method::PUT, &path, admin, None).await.0
    }

    /// Creates an API inbox and returns (id, secret).
    pub async fn api_inbox(&self, name: &str, callback_url: &str) -> (String, String) {
        let (s, v) = self
            .post(
                "/api/v1/inboxes",
                &self.admin_token,
                json!({ "name": name, "kind": "api", "callback_url": callback_url }),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        (
            v["id"].as_str().expect("id").into(),
            v["secret"].as_str().expect("secret").into(),
        )
    }

    /// Posts a signed customer message to an API inbox.
    pub async fn inbound(
        &self,
        inbox: &str,
        secret: &str,
        contact: &str,
        id: &str,
        text: &str,
    ) -> (u16, Value) {
        let body = json!({ "id": id, "contact": { "id": contact, "name": format!("Customer {contact}") }, "text": text }).to_string();
        self.raw_hook(
            inbox,
            Some(&parley_channels::api::sign(secret, body.as_bytes())),
            body,
        )
        .await
    }

    pub async fn raw_hook(
        &self,
        inbox: &str,
        signature: Option<&str>,
        body: String,
    ) -> (u16, Value) {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(sig) = signature {
            headers.push(("x-parley-signature", sig));
        }
        let path = format!("/hooks/api/{inbox}");
        let (status, text) = self
            .send(reqwest::Method::POST, &path, &headers, body.into_bytes())
            .await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// One callback received: its signature header and body.
pub type Delivery = (Option<String>, String);

/// An integrating system's callback endpoint: records what it receives, answering with the
/// statuses it is told to (then 200).
#[derive(Clone)]
pub struct Callback {
    pub url: String,
    pub received: Recorded<Delivery>,
    pub failures_left: Arc<Mutex<u32>>,
}

impl Callback {
    pub async fn start(fail_first: u32) -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("addr"), fail_first).await
    }

    pub async fn start_on(addr: SocketAddr, fail_first: u32) -> Self {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("callback binds");
        let url = format!("http://{}/cb", listener.local_addr().expect("addr"));
        let cb = Self {
            url,
            received: Recorded::default(),
            failures_left: Arc::new(Mutex::new(fail_first)),
        };
        let state = cb.clone();
        let app = axum::Router::new().route(
            "/cb",
            axum::routing::post(
                |axum::extract::State(s): axum::extract::State<Callback>,
                 headers: axum::http::HeaderMap,
                 body: String| async move {
                    let mut left = s.failures_left.lock().expect("lock");
                    if *left > 0 {
                        *left -= 1;
                        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let sig = headers
                        .get("x-parley-signature")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    s.received.push((sig, body));
                    axum::http::StatusCode::OK
                },
            ),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app.with_state(state)).await;
        });
        cb
    }

    /// Every delivery received, once there are at least `n`.
    pub async fn wait_for(&self, n: usize) -> Vec<Delivery> {
        self.received.wait_for(n).await
    }
}

pub struct Socket {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Socket {
    pub async fn connect(t: &TestApp, token: &str, since: Option<i64>) -> Self {
        let mut url = format!("ws://{}/api/v1/realtime?token={token}", t.addr);
        if let Some(s) = since {
            url.push_str(&format!("&since={s}"));
        }
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        let mut s = Self { ws };
        // With `since`, replayed events come first and `ready` marks the switch to live.
        if since.is_none() {
            let ready = s
                .next_any(Duration::from_secs(5))
                .await
                .expect("ready frame");
            assert_eq!(ready["type"], "ready");
        }
        s
    }

    pub async fn next_any(&mut self, within: Duration) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(within, self.ws.next())
                .await
                .ok()??
                .ok()?;
            if let Message::Text(t) = msg {
                return serde_json::from_str(t.as_str()).ok();
            }
        }
    }

    /// The next event of one of `kinds`, skipping others (presence, typing …).
    pub async fn next_of(&mut self, kinds: &[&str], within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let v = self.next_any(left).await?;
            if kinds.contains(&v["type"].as_str().unwrap_or_default()) {
                return Some(v);
            }
        }
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .expect("send");
    }
}

/// The delivery of the newest timeline entry, once it reaches `want` (or after 5 s, as it is).
pub async fn last_delivery(t: &TestApp, conv: &str, want: &str) -> Value {
    let newest = || async move {
        // The newest message, with its current status (a consent change may follow it).
        t.timeline_items(conv)
            .await
            .iter()
            .rev()
            .find(|e| e["type"] == "message.created")
            .expect("a message")["data"]["message"]
            .clone()
    };
    let reached = t
        .try_wait_until(Duration::from_secs(5), || async move {
            Some(newest().await).filter(|d| d["status"] == want)
        })
        .await;
    match reached {
        Some(d) => d,
        None => newest().await,
    }
}

/// Runs a test body, given the backend, once per available backend: SQLite always, PostgreSQL when
/// PARLEY_TEST_POSTGRES_URL is set.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                ($body)($crate::harness::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::harness::postgres_url().is_none() {
                    eprintln!("skipped: set PARLEY_TEST_POSTGRES_URL to run on PostgreSQL");
                    return;
                }
                ($body)($crate::harness::Backend::Postgres).await;
            }
        }
    };
}

/// Runs a test body once per available backend, on a server over a real port (or, as
/// `on_both!(@spawn CONSTRUCTOR, …)`, on a `TestApp` that constructor makes).
#[macro_export]
macro_rules! on_both {
    (@spawn $spawn:ident, $name:ident, $body:expr) => {
        $crate::on_both_backends!($name, |backend| async move {
            ($body)($crate::harness::TestApp::$spawn(backend).await).await
        });
    };
    ($name:ident, $body:expr) => {
        $crate::on_both!(@spawn spawn, $name, $body);
    };
}

/// Runs a test body once per available backend on the application driven in-process.
#[macro_export]
macro_rules! in_process {
    ($name:ident, $body:expr) => {
        $crate::on_both!(@spawn spawn_in_process, $name, $body);
    };
}

/// A running clock set to 17:00 UTC today when made, so business-initiated texts to US numbers
/// fall inside the 08:00–21:00 window whatever the hour the tests run.
pub struct DaytimeClock(i64);

impl DaytimeClock {
    pub fn new() -> Self {
        let now = SystemClock.now().0;
        const DAY: i64 = 86_400_000;
        Self(now.div_euclid(DAY) * DAY + 17 * 3_600_000 - now)
    }
}

impl Default for DaytimeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for DaytimeClock {
    fn now(&self) -> parley_core::Timestamp {
        parley_core::Timestamp(SystemClock.now().0 + self.0)
    }
}

/// The system clock, moved on by the test: after `advance_ms`, every instant is later by that much,
/// without waiting.
#[derive(Clone, Default)]
pub struct ShiftedClock(Arc<std::sync::atomic::AtomicI64>);

impl ShiftedClock {
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> parley_core::Timestamp {
        let shift = self.0.load(std::sync::atomic::Ordering::SeqCst);
        parley_core::Timestamp(SystemClock.now().0 + shift)
    }
}

/// The path and query of the survey link in a delivered text (a callback's JSON or an SMS body).
pub fn survey_link(text: &str) -> Option<String> {
    let at = text.find("/survey/")?;
    Some(
        text[at..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '"')
            .collect(),
    )
}
