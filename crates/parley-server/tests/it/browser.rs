//! The website widget in a real headless Chromium, driven through ChromeDriver's WebDriver API: a
//! business page on another origin embeds the script tag; a visitor opens the chat and writes;
//! the message reaches the agents' inbox; the agent's reply appears in the page; the thread is
//! still there after a reload. Runs when PARLEY_TEST_CHROMEDRIVER names a chromedriver binary
//! (`.ci/run` installs Debian's chromium and chromium-driver and sets it).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{last_delivery, Backend, Socket, TestApp};
use crate::widget::widget_inbox;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it.
struct Browser {
    http: reqwest::Client,
    base: String,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start(driver: &str) -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            l.local_addr().expect("addr").port()
        };
        let child = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{root}/status")).send().await {
                let v: Value = r.json().await.unwrap_or_default();
                if v["value"]["ready"] == true {
                    ready = true;
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not become ready");
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": std::env::var("PARLEY_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                // The flags that keep Chromium from reaching out to the network on start.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--window-size=1200,900",
                         format!("--user-data-dir={}", profile.path().display())],
            },
        }}});
        let r: Value = http
            .post(format!("{root}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session json");
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"));
        Self {
            http,
            base: format!("{root}/session/{session}"),
            _driver: child,
            _profile: profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("webdriver {path}: {e}"))
    }

    /// Clicks what `selector` finds; when the page drew it again between finding and clicking
    /// (a live list does), finds it again.
    async fn click_on(&self, selector: &str) {
        for _ in 0..50 {
            let element = self.element(selector).await;
            let path = format!("/element/{element}/click");
            match self.try_call(reqwest::Method::POST, &path, json!({})).await {
                Ok(_) => return,
                Err(e) if e["error"] == "stale element reference" => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("webdriver {path}: {e}"),
            }
        }
        panic!("{selector} kept being drawn again");
    }

    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Result<Value, Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if !body.is_null() {
            req = req.json(&body);
        }
        let r: Value = req
            .send()
            .await
            .expect("webdriver request")
            .json()
            .await
            .expect("webdriver json");
        if r["value"].get("error").is_some() {
            return Err(r["value"].clone());
        }
        Ok(r["value"].clone())
    }

    async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn eval(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// An element inside the widget's shadow root, once it exists.
    async fn widget_element(&self, selector: &str) -> String {
        let script = format!(
            "const h = document.querySelector('parley-chat'); return h && h.shadowRoot ? h.shadowRoot.querySelector({selector:?}) : null;"
        );
        for _ in 0..100 {
            let v = self.eval(&script).await;
            if let Some(id) = v.get(ELEMENT).and_then(Value::as_str) {
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the widget never showed {selector}");
    }

    async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            json!({}),
        )
        .await;
    }

    async fn type_into(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// Saves a PNG of the page to `$PARLEY_SCREENSHOT_DIR/{name}` when that is set (for the docs).
    async fn screenshot(&self, name: &str) {
        let Ok(dir) = std::env::var("PARLEY_SCREENSHOT_DIR") else {
            return;
        };
        use base64::Engine;
        let png = self
            .call(reqwest::Method::GET, "/screenshot", Value::Null)
            .await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("a PNG");
        std::fs::write(std::path::Path::new(&dir).join(name), bytes).expect("screenshot saved");
    }

    /// An element of the page, once it exists.
    async fn element(&self, selector: &str) -> String {
        let script = format!("return document.querySelector({selector:?});");
        for _ in 0..100 {
            let v = self.eval(&script).await;
            if let Some(id) = v.get(ELEMENT).and_then(Value::as_str) {
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {selector}");
    }

    /// The text of the page's `selector`, once it contains `want`.
    async fn wait_for_page_text(&self, selector: &str, want: &str) -> String {
        let script =
            format!("const e = document.querySelector({selector:?}); return e ? e.innerText : '';");
        self.wait_for(&script, want).await
    }

    /// The text of the widget's message log, once it contains `want`.
    async fn wait_for_text(&self, want: &str) -> String {
        let script = "const h = document.querySelector('parley-chat'); const l = h && h.shadowRoot && h.shadowRoot.querySelector('.log'); return l ? l.innerText : '';";
        self.wait_for(script, want).await
    }

    /// What `script` answers, once it contains `want`.
    async fn wait_for(&self, script: &str, want: &str) -> String {
        let mut text = String::new();
        for _ in 0..100 {
            text = self
                .eval(script)
                .await
                .as_str()
                .unwrap_or_default()
                .to_string();
            if text.contains(want) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the page never showed {want:?}; it shows {text:?}");
    }
}

/// The ChromeDriver named by `PARLEY_TEST_CHROMEDRIVER`; without one the browser tests say they
/// are skipped.
fn chromedriver() -> Option<String> {
    let driver = std::env::var("PARLEY_TEST_CHROMEDRIVER")
        .ok()
        .filter(|d| !d.is_empty());
    if driver.is_none() {
        eprintln!("skipped: set PARLEY_TEST_CHROMEDRIVER to run the browser test");
    }
    driver
}

/// Opens an email inbox and delivers `raw` to it, as the SMTP listener would; returns the
/// conversation it starts.
async fn mail_to_support(t: &TestApp, raw: &str) -> String {
    let (s, inbox) = t
        .post(
            "/api/v1/inboxes",
            &t.admin_token,
            json!({ "name": "Support", "kind": "email", "address": "help@acme.example",
            "smtp": { "host": "127.0.0.1", "port": 9, "security": "none" } }),
        )
        .await;
    assert_eq!(s, 201, "{inbox}");
    let row = t
        .app
        .store
        .inbox_for_hook(inbox["id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    parley_server::inboxes::email::received::store(&t.app, &row, raw.as_bytes())
        .await
        .unwrap();
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    list["items"][0]["id"].as_str().unwrap().to_string()
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session makes chromedriver end Chromium; killing chromedriver alone would
        // leave Chromium running. A task spawned here would not run once the test's runtime
        // stops, so the close is sent from a thread of its own and waited for.
        let url = self.base.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let close = reqwest::Client::new().delete(url).send();
                let _ = tokio::time::timeout(Duration::from_secs(10), close).await;
            });
        })
        .join();
    }
}

/// A business's page on its own origin, embedding the widget as the snippet says.
async fn business_site(snippet: String) -> String {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Acme Shop</title></head>\
         <body><h1>Acme Shop</h1><p>Handmade things.</p>{snippet}</body></html>"
    );
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { axum::response::Html(page) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_chats_through_the_widget_in_chromium() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    // The snippet as an admin copies it, pointing at this server.
    let placeholder = widget_inbox(&t, json!({})).await;
    let snippet = placeholder["snippet"]
        .as_str()
        .unwrap()
        .replace("http://127.0.0.1:0", &t.base);
    let site = business_site(snippet).await;
    let id = placeholder["id"].as_str().unwrap();
    let (s, _) = t
        .patch(
            &format!("/api/v1/inboxes/{id}"),
            &t.admin_token,
            json!({ "website_url": site, "greeting": "Hi! Ask us anything." }),
        )
        .await;
    assert_eq!(s, 200);
    let mut agent = Socket::connect(&t, &t.admin_token, None).await;

    let b = Browser::start(&driver).await;
    b.open(&site).await;
    let launcher = b.widget_element(".launcher").await;
    b.click(&launcher).await;
    b.wait_for_text("Hi! Ask us anything.").await;
    let input = b.widget_element("textarea").await;
    b.type_into(&input, "Hello from the browser\u{E007}").await;

    let created = agent
        .next_of(&["message.created"], Duration::from_secs(10))
        .await
        .expect("the visitor's message reaches the inbox");
    assert_eq!(created["data"]["message"]["body"], "Hello from the browser");
    let conv = created["data"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "Hello! How can I help?" }),
        )
        .await;
    assert_eq!(s, 201);
    b.wait_for_text("Hello! How can I help?").await;
    assert_eq!(
        last_delivery(&t, &conv, "read").await["status"],
        "read",
        "the open widget reports the reply read"
    );

    // A new page load keeps the thread (the signed token is in the visitor's browser).
    b.open(&site).await;
    let launcher = b.widget_element(".launcher").await;
    b.click(&launcher).await;
    let log = b.wait_for_text("Hello! How can I help?").await;
    assert!(log.contains("Hello from the browser"), "{log}");
    b.screenshot("widget.png").await;
}

/// The agent app in Chromium: signing in through the form, a customer's SMS appearing in the
/// list without a reload, the thread, and a reply whose delivery status changes in place while a
/// draft waits in the composer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_answers_a_customer_in_chromium() {
    use crate::twilio::{fake_twilio, form, post_signed, SID, TOKEN};
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    let (base, fake) = fake_twilio().await;
    let (s, inbox) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Support line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
    assert_eq!(s, 201, "{inbox}");
    let inbox = inbox["id"].as_str().unwrap().to_string();
    let sms = |sid: &str, body: &str| {
        form(&[
            ("MessageSid", sid),
            ("AccountSid", SID),
            ("From", "+15558675310"),
            ("To", "+15017122661"),
            ("Body", body),
            ("NumMedia", "0"),
        ])
    };
    let b = Browser::start(&driver).await;
    b.open(&format!("{}/", t.base)).await;
    let email = b.element("#sign-in input[name=email]").await;
    b.type_into(&email, "admin@acme.test").await;
    let password = b.element("#sign-in input[name=password]").await;
    b.type_into(&password, "admin-password\u{E007}").await;
    b.wait_for_page_text("#who", "Admin").await;
    let form_shown = b
        .eval("return getComputedStyle(document.querySelector('#sign-in')).display;")
        .await;
    assert_eq!(form_shown, "none", "the sign-in form stays on screen");

    // A service level from its settings screen: each row counts down to the answer owed.
    b.open(&format!("{}/#/settings/sla", t.base)).await;
    b.wait_for_page_text("#settings-title", "Service levels")
        .await;
    b.fill("#new-sla input[name=name]", "Standard").await;
    b.eval(&format!(
        "document.querySelector('#new-sla select[name=inbox_id]').value = '{inbox}'; return null;"
    ))
    .await;
    b.fill("#new-sla input[name=first_response_minutes]", "30")
        .await;
    b.fill("#new-sla input[name=next_response_minutes]", "15\u{E007}")
        .await;
    let policies = b
        .wait_for_page_text("#settings-body table", "Standard")
        .await;
    assert!(
        policies.contains("Support line · any priority\t30 min\t15 min"),
        "{policies:?}"
    );
    b.open(&format!("{}/#/", t.base)).await;
    b.wait_for_page_text("#who", "Admin").await;
    let sla = "return [...document.querySelectorAll('#list .sla')].map(s => s.className + ': ' + s.textContent).join(' | ') || 'none';";

    // A customer texts; the list shows it without a reload.
    let (s, _) = post_signed(&t, &inbox, &sms("SMa1", "Where is my order?"), TOKEN).await;
    assert_eq!(s, 200);
    b.wait_for_page_text("#list", "Where is my order?").await;
    let due = b.wait_for(sla, "reply in").await;
    assert!(
        due == "sla : reply in 30m" || due == "sla : reply in 29m",
        "{due:?}"
    );
    let counts = "return [...document.querySelectorAll('#views .view')].map(v => v.dataset.view + '=' + v.querySelector('.count').textContent).join(' ');";
    b.wait_for(counts, "mine=0 unassigned=1 open=1").await;
    // Assigned elsewhere (another agent's screen, the API): the counts follow without a reload.
    let (_, me) = t.get("/api/v1/me", &t.admin_token).await;
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/assign"),
            &t.admin_token,
            json!({ "assignee_id": me["id"] }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    b.wait_for(counts, "mine=1 unassigned=0 open=1").await;
    b.wait_for_page_text("#list", "Admin").await;
    b.click_on("#list a[data-id]").await;
    b.wait_for_page_text("#thread", "Where is my order?").await;

    // The reply goes out; the customer writing again keeps the agent's next draft.
    let compose = b.element("#compose").await;
    b.type_into(&compose, "It ships today").await;
    // What the draft costs as an SMS.
    b.wait_for_page_text("#cost", "GSM-7 · 1 segment").await;
    b.type_into(&compose, " 🚚").await;
    b.wait_for_page_text("#cost", "UCS-2").await;
    b.eval("const c = document.querySelector('#compose'); c.value = 'It ships today'; c.dispatchEvent(new Event('input')); return null;")
        .await;
    let reply = b.element("#reply").await;
    b.click(&reply).await;
    b.wait_for_page_text("#thread", "It ships today · sent")
        .await;
    // Answered: the clock stops.
    b.wait_for(sla, "none").await;
    let compose = b.element("#compose").await;
    b.type_into(&compose, "Anything else?").await;
    let (s, _) = post_signed(&t, &inbox, &sms("SMa2", "Thanks!"), TOKEN).await;
    assert_eq!(s, 200);
    b.wait_for_page_text("#thread", "Thanks!").await;
    // Written to again: the next response is owed within the policy's 15 minutes.
    let due = b.wait_for(sla, "reply in").await;
    assert!(
        due.ends_with(": reply in 15m") || due == "sla soon: reply in 14m",
        "{due:?}"
    );

    // Twilio reports the reply delivered: its status changes in place, the draft stays.
    // The fake numbers the messages it accepts.
    let sid = format!("SM{:032}", fake.bodies().len());
    let status = form(&[
        ("MessageSid", sid.as_str()),
        ("MessageStatus", "delivered"),
        ("AccountSid", SID),
        ("From", "+15017122661"),
        ("To", "+15558675310"),
    ]);
    assert_eq!(post_signed(&t, &inbox, &status, TOKEN).await.0, 200);
    b.wait_for_page_text("#thread", "It ships today · delivered")
        .await;
    let draft = b
        .eval("return document.querySelector('#compose').value;")
        .await;
    assert_eq!(draft, "Anything else?", "a status change lost the draft");
    b.screenshot("inbox.png").await;

    // A label from the thread: a view for it appears, with its count; priority from the thread.
    let label = b.element(".add-label input").await;
    b.type_into(&label, "vip\u{E007}").await;
    b.wait_for(counts, "label:vip=1").await;
    b.eval("const p = document.querySelector('select[aria-label=Priority]'); p.value = 'high'; p.dispatchEvent(new Event('change')); return null;")
        .await;
    let mut priority = Value::Null;
    for _ in 0..100 {
        let (_, c) = t
            .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
            .await;
        priority = c["priority"].clone();
        if priority == "high" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(priority, "high");

    // `e` resolves; the thread's title and button follow. With the survey on, the customer is
    // texted a link; their rating shows in the thread as they give it.
    let (s, _) = t
        .call(
            reqwest::Method::PUT,
            "/api/v1/survey",
            &t.admin_token,
            Some(json!({ "enabled": true, "message": "How did we do? {link}" })),
        )
        .await;
    assert_eq!(s, 200);
    let texted = fake.bodies().len();
    b.eval("document.activeElement.blur(); document.dispatchEvent(new KeyboardEvent('keydown', { key: 'e' })); return null;")
        .await;
    b.wait_for_page_text("#thread-title", "resolved").await;
    b.wait_for_page_text("#status-action", "Reopen").await;
    let mut link = None;
    for _ in 0..100 {
        link = fake.bodies()[texted..]
            .iter()
            .find_map(|b| crate::harness::survey_link(b));
        if link.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let link = link.expect("the survey was texted");
    let answered = t
        .http
        .post(t.url(&link))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("rating=5&comment=Fast+and+friendly")
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);
    b.wait_for_page_text("#thread", "The customer rated this conversation 5 out of 5")
        .await;
    b.wait_for_page_text("#thread", "Fast and friendly").await;
    b.eval("document.querySelector('#status-action').click(); return null;")
        .await;
    b.wait_for_page_text("#thread-title", "open").await;

    // A bot added in settings answers through its token; the thread shows the reply as the bot's.
    b.open(&format!("{}/#/settings/bots", t.base)).await;
    b.wait_for_page_text("#settings-title", "Bots").await;
    b.fill("#new-bot input[name=name]", "Answer bot").await;
    b.eval(&format!(
        "document.querySelector('#new-bot input[name=inbox][value=\"{inbox}\"]').checked = true; return null;"
    ))
    .await;
    b.click_on("#new-bot button").await;
    let token = b
        .wait_for(
            "const e = document.querySelector('#bot-token'); return e ? e.value : '';",
            "pat_",
        )
        .await;
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &token,
            json!({ "body": "Your parcel is with the courier." }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    b.eval(&format!("location.hash = '#/c/{conv}'; return null;"))
        .await;
    b.wait_for_page_text("#thread", "bot · Answer bot").await;
    b.wait_for_page_text("#thread", "Your parcel is with the courier.")
        .await;

    // `?` lists the shortcuts.
    b.eval("document.activeElement.blur(); document.dispatchEvent(new KeyboardEvent('keydown', { key: '?' })); return null;")
        .await;
    let open = b.eval("return document.querySelector('#help').open;").await;
    assert_eq!(open, true, "? did not open the shortcuts");
    b.wait_for_page_text("#help", "Assign to me").await;
    b.eval("document.querySelector('#help').close(); return null;")
        .await;

    // The customer opts out: the composer says so before the agent writes, and will not send.
    let (s, _) = post_signed(&t, &inbox, &sms("SMa3", "STOP"), TOKEN).await;
    assert_eq!(s, 200);
    b.wait_for_page_text("#verdict", "opted out").await;
    let disabled = b
        .eval("return document.querySelector('#reply').disabled;")
        .await;
    assert_eq!(disabled, true, "Reply stays enabled after an opt-out");
}

/// WhatsApp outside its 24-hour window in Chromium: the composer says only a template may go,
/// lists the inbox's approved templates from (the fake) Meta, and sends the one picked with its
/// named parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sends_an_approved_whatsapp_template_in_chromium() {
    use crate::messaging::{fake, hook, meta_sig, APP_SECRET, META_TOKEN, WABA};
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    let (base, meta) = fake().await;
    let (s, wa) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "WhatsApp", "kind": "whatsapp", "phone_number_id": "106540352242922", "access_token": META_TOKEN, "app_secret": APP_SECRET, "api_base_url": base, "waba_id": WABA }))
        .await;
    assert_eq!(s, 201, "{wa}");
    let id = wa["id"].as_str().unwrap();
    // The customer last wrote three days ago.
    let then = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3 * 24 * 3600;
    let old = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "15557654321"}],
        "messages": [{"from": "15557654321", "id": "wamid.W1", "timestamp": then.to_string(), "type": "text", "text": {"body": "Is my order on its way?"}}]}}]}]})
    .to_string();
    assert_eq!(
        hook(&t, &format!("/hooks/whatsapp/{id}"), meta_sig(&old), &old).await,
        200
    );
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();

    let b = Browser::start(&driver).await;
    b.open(&format!("{}/", t.base)).await;
    b.fill("#sign-in input[name=email]", "admin@acme.test")
        .await;
    b.fill("#sign-in input[name=password]", "admin-password\u{E007}")
        .await;
    b.wait_for_page_text("#who", "Admin").await;
    b.eval(&format!("location.hash = '#/c/{conv}'; return null;"))
        .await;
    b.wait_for_page_text("#thread", "Is my order on its way?")
        .await;
    b.wait_for_page_text("#verdict", "template").await;
    // The template part opens by itself and lists what Meta approved.
    let options = "return [...document.querySelectorAll('#template-pick option')].map(o => o.textContent).join(' | ');";
    let listed = b.wait_for(options, "shipped_named · en_US").await;
    assert!(
        listed.contains("order_update · en_US") && !listed.contains("spring_sale"),
        "{listed}"
    );
    b.eval("const p = document.querySelector('#template-pick'); p.value = [...p.options].find(o => o.textContent.startsWith('shipped_named')).value; return null;")
        .await;
    b.click_on("#template-use").await;
    b.wait_for_page_text(
        "#template-body",
        "Hi {{first_name}}, order {{order_id}} has shipped.",
    )
    .await;
    let placeholder = b
        .eval("return document.querySelector('#template-params').placeholder;")
        .await;
    assert_eq!(placeholder, "first_name, order_id");
    b.fill("#template-params", "Ana, 1042").await;
    b.click_on("#reply").await;
    b.wait_for_page_text("#thread", "Template shipped_named: Ana · 1042 · sent")
        .await;
    let seen = meta.wait(1).await;
    assert_eq!(
        seen[0].1["template"]["components"][0]["parameters"],
        json!([{"type": "text", "parameter_name": "first_name", "text": "Ana"},
               {"type": "text", "parameter_name": "order_id", "text": "1042"}]),
        "{:?}",
        seen[0]
    );
}

impl Browser {
    async fn sign_in(&self, base: &str, email: &str, password: &str) {
        self.open(&format!("{base}/")).await;
        let field = self.element("#sign-in input[name=email]").await;
        self.type_into(&field, email).await;
        let field = self.element("#sign-in input[name=password]").await;
        self.type_into(&field, &format!("{password}\u{E007}")).await;
        self.wait_for_page_text("#who", email.split('@').next().unwrap_or_default())
            .await;
    }

    /// Fills a form field found by CSS selector.
    async fn fill(&self, selector: &str, text: &str) {
        let field = self.element(selector).await;
        self.type_into(&field, text).await;
    }
}

/// A team in Chromium: an admin adds an SMS inbox in settings and tests its connection; a text to
/// it appears in the list; two agents open it and each is warned of the other; one answers with a
/// saved reply and sees it delivered; the customer's opt-out shows in the panel's consent history;
/// an agent without the inbox sees none of it; the phone layout fits 375 px.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_works_the_inbox_in_chromium() {
    use crate::twilio::{fake_twilio, form, post_signed, SID, TOKEN};
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    let (base, fake) = fake_twilio().await;
    let (ann, _) = t.user("ann@acme.test", "agent").await;
    let (bob, _) = t.user("bob@acme.test", "agent").await;
    let _ = t.user("cid@acme.test", "agent").await;
    let (s, v) = t
        .call(
            reqwest::Method::PUT,
            "/api/v1/replies",
            &t.admin_token,
            Some(json!({ "items": [{ "shortcut": "ships", "body": "Your order ships today." }] })),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let (s, v) = t
        .post("/api/v1/lists", &t.admin_token, json!({ "name": "VIP" }))
        .await;
    assert_eq!(s, 201, "{v}");

    // The admin adds the SMS inbox in settings and tests the credentials.
    let admin = Browser::start(&driver).await;
    admin
        .sign_in(&t.base, "admin@acme.test", "admin-password")
        .await;
    admin.open(&format!("{}/#/settings/inboxes", t.base)).await;
    admin.wait_for_page_text("#settings-title", "Inboxes").await;
    admin
        .fill("#new-inbox input[name=name]", "Support SMS")
        .await;
    admin.fill("#new-inbox input[name=account_sid]", SID).await;
    // A mistyped auth token, mended below.
    admin
        .fill("#new-inbox input[name=auth_token]", "not-the-token")
        .await;
    admin
        .fill("#new-inbox input[name=from]", "+15017122661")
        .await;
    admin
        .fill("#new-inbox input[name=api_base_url]", &base)
        .await;
    let add = admin.element("#new-inbox button").await;
    admin.click(&add).await;
    let shown = admin
        .wait_for_page_text("#settings-body table", "Support SMS")
        .await;
    assert!(shown.contains("SMS"), "{shown}");
    let (_, list) = t.get("/api/v1/inboxes", &t.admin_token).await;
    let inbox = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "Support SMS")
        .expect("the inbox was created")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let hook = admin
        .eval(&format!(
            "return document.querySelector('#hook-{inbox}').value;"
        ))
        .await;
    assert_eq!(
        hook.as_str(),
        Some(format!("{}/hooks/twilio/{inbox}", t.app.config.public_url).as_str())
    );
    let test = admin.element(&format!("[data-test='{inbox}']")).await;
    admin.click(&test).await;
    admin
        .wait_for_page_text("#settings-body table", "Authenticate")
        .await;
    // The token and the sending rate, edited in place; the stored sid and number are shown and
    // kept.
    admin
        .eval(&format!(
            "document.querySelector('#edit-{inbox}').closest('details').open = true; return null;"
        ))
        .await;
    assert_eq!(
        admin
            .eval(&format!(
                "return document.querySelector('#edit-{inbox} input[name=account_sid]').value;"
            ))
            .await,
        SID
    );
    admin
        .fill(&format!("#edit-{inbox} input[name=auth_token]"), TOKEN)
        .await;
    admin
        .fill(&format!("#edit-{inbox} input[name=rate_limit]"), "2")
        .await;
    let save = admin.element(&format!("#edit-{inbox} button")).await;
    admin.click(&save).await;
    let mut rate = Value::Null;
    for _ in 0..100 {
        rate = t
            .get(&format!("/api/v1/inboxes/{inbox}"), &t.admin_token)
            .await
            .1["settings"]["rate_limit"]
            .clone();
        if rate == 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rate, 2.0, "the rate limit was not saved");
    // Saving draws the screen again, with the form closed.
    admin
        .wait_for(
            // Between clearing and drawing the screen the form is briefly not there.
            &format!("const f = document.querySelector('#edit-{inbox}'); return !f ? 'drawing' : f.closest('details').open ? 'open' : 'drawn';"),
            "drawn",
        )
        .await;
    let test = admin.element(&format!("[data-test='{inbox}']")).await;
    admin.click(&test).await;
    admin
        .wait_for_page_text(
            "#settings-body table",
            "Twilio accepted the credentials of Acme Support",
        )
        .await;
    admin.screenshot("settings.png").await;
    assert_eq!(admin.eval(AUDIT).await, "", "settings fail WCAG AA");
    for user in [&ann, &bob] {
        let s = t.add_member(&inbox, user).await;
        assert_eq!(s, 204);
    }

    // A customer texts the new number: the admin's list shows it without a reload.
    admin.open(&format!("{}/#/", t.base)).await;
    admin.wait_for_page_text("#views", "Support SMS").await;
    let sms = |sid: &str, body: &str| {
        form(&[
            ("MessageSid", sid),
            ("AccountSid", SID),
            ("From", "+15558675310"),
            ("To", "+15017122661"),
            ("Body", body),
            ("NumMedia", "0"),
        ])
    };
    assert_eq!(
        post_signed(&t, &inbox, &sms("SMb1", "Where is my order?"), TOKEN)
            .await
            .0,
        200
    );
    admin
        .wait_for_page_text("#list", "Where is my order?")
        .await;
    let (_, convs) = t.get("/api/v1/conversations", &t.admin_token).await;
    let conv = convs["items"][0]["id"].as_str().unwrap().to_string();

    // Ann and Bob open it: each is told the other is there; Bob typing warns Ann.
    let a = Browser::start(&driver).await;
    a.sign_in(&t.base, "ann@acme.test", "long-enough-password")
        .await;
    a.wait_for_page_text("#list", "Where is my order?").await;
    a.click_on("#list a[data-id]").await;
    a.wait_for_page_text("#thread", "Where is my order?").await;
    let b = Browser::start(&driver).await;
    b.sign_in(&t.base, "bob@acme.test", "long-enough-password")
        .await;
    b.open(&format!("{}/#/c/{conv}", t.base)).await;
    b.wait_for_page_text("#thread", "Where is my order?").await;
    a.wait_for_page_text("#collision", "bob is also viewing this conversation")
        .await;
    b.wait_for_page_text("#collision", "ann is also viewing this conversation")
        .await;
    b.fill("#compose", "Let me check").await;
    a.wait_for_page_text("#collision", "bob is typing a reply here")
        .await;

    // Ann answers with the saved reply; Twilio reports it delivered.
    a.eval("document.querySelector('#saved').value = 'ships'; return null;")
        .await;
    let insert = a.element("#insert-saved").await;
    a.click(&insert).await;
    // The template is rendered for the conversation by the server before it is inserted.
    let draft = a
        .wait_for(
            "return document.querySelector('#compose').value;",
            "Your order ships today.",
        )
        .await;
    assert_eq!(draft, "Your order ships today.");
    let reply = a.element("#reply").await;
    a.click(&reply).await;
    a.wait_for_page_text("#thread", "Your order ships today. · sent")
        .await;
    assert_eq!(
        fake.bodies().last().map(String::as_str),
        Some("Your order ships today.")
    );
    let sid = format!("SM{:032}", fake.bodies().len());
    let status = form(&[
        ("MessageSid", sid.as_str()),
        ("MessageStatus", "delivered"),
        ("AccountSid", SID),
        ("From", "+15017122661"),
        ("To", "+15558675310"),
    ]);
    assert_eq!(post_signed(&t, &inbox, &status, TOKEN).await.0, 200);
    a.wait_for_page_text("#thread", "Your order ships today. · delivered")
        .await;
    // Bob's draft survived all of it.
    let draft = b
        .eval("return document.querySelector('#compose').value;")
        .await;
    assert_eq!(draft, "Let me check");

    // A private note mentioning Bob: he is told; the note shows in its own style.
    let note = a.element("#mode-note").await;
    a.click(&note).await;
    a.wait_for_page_text("#reply", "Add note").await;
    a.fill("#compose", "@bob can you check the courier?").await;
    let add = a.element("#reply").await;
    a.click(&add).await;
    a.wait_for_page_text("#thread .note", "@bob can you check the courier?")
        .await;
    b.wait_for_page_text("#toasts", "mentioned you").await;
    let reply_mode = a.element("#mode-reply").await;
    a.click(&reply_mode).await;

    // A second customer, assigned to Ann from elsewhere: she is told, and the tab counts it.
    assert_eq!(
        post_signed(
            &t,
            &inbox,
            &form(&[
                ("MessageSid", "SMc1"),
                ("AccountSid", SID),
                ("From", "+15558675311"),
                ("To", "+15017122661"),
                ("Body", "Do you ship to Canada?"),
                ("NumMedia", "0")
            ]),
            TOKEN
        )
        .await
        .0,
        200
    );
    a.wait_for_page_text("#list", "Do you ship to Canada?")
        .await;
    let (_, convs) = t
        .get("/api/v1/conversations?sort=activity", &t.admin_token)
        .await;
    let second = convs["items"][0]["id"].as_str().unwrap().to_string();
    assert_ne!(second, conv);
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{second}/assign"),
            &t.admin_token,
            json!({ "assignee_id": ann }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    a.wait_for_page_text("#toasts", "assigned to you").await;
    a.wait_for("return document.title;", "(1) Parley").await;
    let dot =
        format!("return String(!!document.querySelector('#list a[data-id=\"{second}\"].unread'));");
    a.wait_for(&dot, "true").await;
    // Bulk: Ann ticks it in the list and resolves it from there.
    a.eval(&format!("document.querySelector('#list a[data-id=\"{second}\"]').parentElement.querySelector('input[type=checkbox]').click(); return null;"))
        .await;
    a.wait_for_page_text("#bulk-count", "1 selected").await;
    let resolve = a.element("#bulk-resolve").await;
    a.click(&resolve).await;
    let mut status = Value::Null;
    for _ in 0..100 {
        status = t
            .get(&format!("/api/v1/conversations/{second}"), &t.admin_token)
            .await
            .1["status"]
            .clone();
        if status == "resolved" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "resolved");
    // WCAG AA on the thread, in both themes.
    assert_eq!(a.eval(AUDIT).await, "", "the light theme fails WCAG AA");
    // The theme switch overrides the system's.
    let before = a
        .eval("return getComputedStyle(document.body).backgroundColor;")
        .await;
    let theme = a.element("#theme").await;
    a.click(&theme).await;
    let after = a
        .eval("return getComputedStyle(document.body).backgroundColor;")
        .await;
    assert_ne!(before, after, "the theme did not change");
    assert_eq!(a.eval(AUDIT).await, "", "the dark theme fails WCAG AA");
    a.click(&theme).await;

    // The customer opts out: the panel's consent history shows the revocation and its source.
    assert_eq!(
        post_signed(&t, &inbox, &sms("SMb2", "STOP"), TOKEN).await.0,
        200
    );
    let consent = a.wait_for_page_text("#consent", "revoked").await;
    assert!(consent.contains("conversational"), "{consent}");
    // The panel may be drawn again as the events arrive: open the history on each look.
    let history = a
        .wait_for(
            "const d = document.querySelector('#consent-history'); if (!d) return ''; d.open = true; return d.innerText;",
            "revoke",
        )
        .await;
    assert!(history.contains("keyword"), "{history}");
    // The agent puts the customer on a list from the panel.
    a.click_on("#lists button.secondary").await;
    a.wait_for_page_text("#lists .chip", "VIP").await;
    assert_eq!(
        a.eval("return document.querySelector('#lists').innerText;")
            .await,
        "VIP ×",
        "on every list there is: nothing else to offer"
    );
    let contact = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await
        .1["contact_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, on) = t
        .get(&format!("/api/v1/contacts/{contact}/lists"), &t.admin_token)
        .await;
    assert_eq!(on["items"][0]["name"], "VIP", "{on}");
    a.screenshot("thread.png").await;

    // Cid works no inbox: no conversation in his list, none in his counts, none by address.
    let c = Browser::start(&driver).await;
    c.sign_in(&t.base, "cid@acme.test", "long-enough-password")
        .await;
    let counts = "return [...document.querySelectorAll('#views .view')].map(v => v.dataset.view + '=' + v.querySelector('.count').textContent).join(' ');";
    let seen = c.wait_for(counts, "open=0").await;
    assert!(!seen.contains("inbox:"), "{seen}");
    c.open(&format!("{}/#/c/{conv}", t.base)).await;
    c.wait_for_page_text("#toasts", "not found").await;
    let list = c
        .eval("return document.querySelector('#list').innerText;")
        .await;
    assert!(
        !list
            .as_str()
            .unwrap_or_default()
            .contains("Where is my order?"),
        "{list}"
    );

    // The lists screen counts the contact the agent put on VIP.
    admin.open(&format!("{}/#/settings/lists", t.base)).await;
    let lists = admin
        .wait_for_page_text("#settings-body table", "VIP")
        .await;
    assert!(lists.contains("\t1\tDelete"), "{lists:?}");

    // Every word of the app goes through its translation table: in the pseudo-locale each one is
    // bracketed, so a word written around the table shows up here.
    // A reload reads the locale: the same address with another hash would not reload the page.
    admin
        .eval("localStorage.setItem('parley-locale', 'pseudo'); location.hash = '#/settings/inboxes'; location.reload(); return null;")
        .await;
    admin
        .wait_for_page_text("#settings-title", "⟦Inboxes⟧")
        .await;
    assert_eq!(
        admin.eval(UNTRANSLATED).await,
        "",
        "words outside the table on settings"
    );
    admin
        .eval(&format!("location.hash = '#/c/{conv}'; return null;"))
        .await;
    admin.wait_for_page_text("#reply", "⟦Reply⟧").await;
    admin.wait_for_page_text("#panel", "⟦Consent⟧").await;
    assert_eq!(
        admin.eval(UNTRANSLATED).await,
        "",
        "words outside the table in the inbox"
    );

    // On a 375 px phone: the list, then the thread with a way back; nothing wider than the screen.
    a.call(
        reqwest::Method::POST,
        "/window/rect",
        json!({ "width": 375, "height": 800 }),
    )
    .await;
    let fits = "return String(document.documentElement.scrollWidth <= window.innerWidth) + ' ' + getComputedStyle(document.querySelector('#side')).display;";
    let shown = a.wait_for(fits, "true none").await;
    assert!(shown.starts_with("true"), "{shown}");
    a.screenshot("phone.png").await;
    let back = a.element(".back").await;
    a.click(&back).await;
    a.wait_for(fits, "true block").await;
}

/// What fails WCAG AA on the page as shown: visible text below 4.5:1 against its background (3:1
/// when large), and controls without an accessible name. One line per problem; empty when none.
const AUDIT: &str = r#"
const channels = (c) => c.match(/[\d.]+/g).map(Number);
const lum = (c) => { const [r, g, b] = channels(c).slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
const opaque = (c) => { const m = channels(c); return m.length < 4 || m[3] > 0.5; };
const bg = (e) => { for (let n = e; n; n = n.parentElement) { const c = getComputedStyle(n).backgroundColor; if (opaque(c)) return c; } return getComputedStyle(document.documentElement).backgroundColor; };
// checkVisibility also sees what a closed <details> hides.
const shown = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && e.checkVisibility({ visibilityProperty: true, contentVisibilityAuto: true }); };
const bad = [];
for (const e of document.querySelectorAll("body *")) {
  if (!shown(e) || e.closest("[disabled]") || e.closest(".skip")) continue;
  if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
  const s = getComputedStyle(e);
  const [a, b] = [lum(s.color), lum(bg(e))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(s.fontSize);
  const large = size >= 24 || (size >= 18.6 && Number(s.fontWeight) >= 700);
  if (ratio < (large ? 3 : 4.5)) bad.push(`contrast ${ratio.toFixed(2)}: ${e.tagName} ${e.innerText.slice(0, 40)}`);
}
for (const e of document.querySelectorAll("button, input, select, textarea, a[href], summary")) {
  if (!shown(e) || e.type === "hidden") continue;
  const name = e.getAttribute("aria-label") || (e.labels ? [...e.labels].map((l) => l.innerText).join(" ") : "") || e.innerText || e.title || "";
  if (!name.trim()) bad.push(`no name: ${e.outerHTML.slice(0, 80)} in ${e.parentElement.outerHTML.slice(0, 120)}`);
}
return bad.join("\n");
"#;

/// The visible words of the app's own controls and headings that did not go through its
/// translation table (in the pseudo-locale those that did are bracketed); data (names, messages,
/// labels, addresses) is skipped.
const UNTRANSLATED: &str = r##"
const skip = "#list *, .chip, #lists option, #thread-title, #thread-title *, #panel h2, optgroup option, #saved option, #views .view[data-view*=':'], #views .view[data-view*=':'] *, #identities *, #history *, #who, .copy input";
const bad = [];
for (const e of document.querySelectorAll("header button, header a, button, th, summary, legend, h2, h3, label, option, #settings-nav a")) {
  if (!e.checkVisibility() || e.matches(skip)) continue;
  for (const n of e.childNodes) if (n.nodeType === 3 && /[A-Za-z]/.test(n.textContent) && !n.textContent.includes("⟦")) bad.push(`${e.tagName}#${e.id}: ${n.textContent.trim()}`);
}
return bad.join("\n");
"##;

/// A mail whose DMARC failed at the operator's mail server shows in the thread marked as from an
/// unverified sender.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_mail_is_marked_unverified_in_chromium() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    let raw = format!(
        "Authentication-Results: {}; dmarc=fail header.from=customer.example\r\n\
         From: Mallory <dana@customer.example>\r\nTo: help@acme.example\r\nSubject: Unsubscribe\r\n\
         Message-ID: <forged-1@customer.example>\r\n\r\nSTOP\r\n",
        crate::harness::MAIL_SERVER
    );
    let conv = mail_to_support(&t, &raw).await;

    let b = Browser::start(&driver).await;
    b.open(&format!("{}/", t.base)).await;
    b.fill("#sign-in input[name=email]", "admin@acme.test")
        .await;
    b.fill("#sign-in input[name=password]", "admin-password\u{E007}")
        .await;
    b.wait_for_page_text("#who", "Admin").await;
    b.eval(&format!("location.hash = '#/c/{conv}'; return null;"))
        .await;
    b.wait_for_page_text("#thread", "unverified sender").await;
}

/// Mentions in Chromium: typing `@` in a note offers the teammates who match, by arrow keys and
/// Enter or by a click, and inserts a mention that names the one picked alone; the note then
/// notifies them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_mentions_teammates_from_suggestions_in_chromium() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let (_, v) = t
        .inbound(&inbox, &secret, "c1", "m1", "Where is my parcel?")
        .await;
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    let ids = crate::conversations::teammates(&t).await;

    let b = Browser::start(&driver).await;
    b.open(&format!("{}/", t.base)).await;
    b.fill("#sign-in input[name=email]", "admin@acme.test")
        .await;
    b.fill("#sign-in input[name=password]", "admin-password\u{E007}")
        .await;
    b.wait_for_page_text("#who", "Admin").await;
    b.eval(&format!("location.hash = '#/c/{conv}'; return null;"))
        .await;
    b.wait_for_page_text("#thread", "Where is my parcel?").await;
    b.click_on("#mode-note").await;
    b.wait_for_page_text("#reply", "Add note").await;

    // Two Sams are offered; the arrow keys move to Sam Lee and Enter inserts him by full name,
    // since "@Sam" would name both.
    b.fill("#compose", "Ask @sa").await;
    let offered = b.wait_for_page_text("#suggest", "Sam Lee").await;
    assert!(
        offered.contains("Sam Ortiz") && !offered.contains("Maya"),
        "{offered}"
    );
    let options = "return [...document.querySelectorAll('#suggest li')].map(o => o.innerText);";
    let listed = b.eval(options).await;
    let at = listed
        .as_array()
        .unwrap()
        .iter()
        .position(|o| o.as_str().unwrap().contains("Sam Lee"))
        .unwrap();
    b.fill("#compose", &"\u{E015}".repeat(at)).await;
    let selected = b
        .eval("return document.querySelector('#suggest [aria-selected=true]').innerText;")
        .await;
    assert!(selected.as_str().unwrap().contains("Sam Lee"), "{selected}");
    b.fill("#compose", "\u{E007}").await;
    let draft = b
        .eval("return document.querySelector('#compose').value;")
        .await;
    assert_eq!(draft, "Ask @\"Sam Lee\" ");
    // A click inserts the one Maya by her first name.
    b.fill("#compose", "and @ma").await;
    b.wait_for_page_text("#suggest", "Maya Chen").await;
    b.click_on("#suggest li button").await;
    let draft = b
        .eval("return document.querySelector('#compose').value;")
        .await;
    assert_eq!(draft, "Ask @\"Sam Lee\" and @Maya ");
    b.click_on("#reply").await;
    b.wait_for_page_text("#thread .note", "and @Maya").await;
    let marked = b
        .eval("return [...document.querySelectorAll('#thread .note mark')].map(m => m.innerText);")
        .await;
    assert_eq!(marked, json!(["@\"Sam Lee\"", "@Maya"]));
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    let note = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "note.created")
        .expect("the note");
    assert_eq!(
        note["data"]["note"]["mentions"],
        json!([ids["Sam Lee"], ids["Maya Chen"]]),
        "{note}"
    );
    // A mention that names nobody, or two people, is kept in the note but the agent is told.
    b.fill("#compose", "Also @Zed and @Sam").await;
    b.click_on("#reply").await;
    b.wait_for_page_text("#thread", "Also @Zed and @Sam").await;
    let told = b
        .wait_for_page_text("#toasts", "Nobody was notified for @Zed")
        .await;
    assert!(
        told.contains("Nobody was notified for @Sam")
            && told.contains("Sam Lee (slee@acme.test)")
            && told.contains("Sam Ortiz (sam.o@acme.test)"),
        "{told}"
    );
}

/// The first start in Chromium: the setup link's form creates the admin, and the app opens signed
/// in, with no second sign-in, and can write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_opens_the_app_signed_in_in_chromium() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn_empty(Backend::Sqlite).await;
    let Ok(parley_server::FirstStart::SetupLink(link)) =
        parley_server::first_start(&t.app, None, None).await
    else {
        panic!("an empty database gives a setup link")
    };
    let token = link.split('#').nth(1).unwrap();
    let b = Browser::start(&driver).await;
    b.open(&format!("{}/setup#{token}", t.base)).await;
    b.fill("#setup input[name=workspace_name]", "Acme").await;
    b.fill("#setup input[name=name]", "Ann").await;
    b.fill("#setup input[name=email]", "ann@acme.test").await;
    b.fill("#setup input[name=password]", "a-long-password\u{E007}")
        .await;
    b.wait_for_page_text("#who", "Ann (admin)").await;
    let form_shown = b
        .eval("return getComputedStyle(document.querySelector('#sign-in')).display;")
        .await;
    assert_eq!(form_shown, "none", "the app asks to sign in again");
    let status = b
        .eval("return fetch('/api/v1/teams', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': localStorage.getItem('csrf') }, body: JSON.stringify({ name: 'Support' }) }).then((r) => r.status);")
        .await;
    assert_eq!(status, 201);
}

/// Menus and confirmations in Chromium: `s` opens the thread's Snooze menu on its first time,
/// arrow keys move through the times and Enter snoozes; deleting a list asks in a dialog, where
/// Cancel keeps it and Delete deletes it. Icon buttons name their shortcut in their tooltip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_snoozes_from_a_menu_and_confirms_a_deletion_in_chromium() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    let raw = "From: Dana <dana@customer.example>\r\nTo: help@acme.example\r\nSubject: Order\r\n\
         Message-ID: <order-1@customer.example>\r\n\r\nWhere is my order?\r\n";
    let conv = mail_to_support(&t, raw).await;
    let (s, made) = t
        .post("/api/v1/lists", &t.admin_token, json!({ "name": "Old" }))
        .await;
    assert_eq!(s, 201, "{made}");

    let b = Browser::start(&driver).await;
    b.open(&format!("{}/", t.base)).await;
    b.fill("#sign-in input[name=email]", "admin@acme.test")
        .await;
    b.fill("#sign-in input[name=password]", "admin-password\u{E007}")
        .await;
    b.wait_for_page_text("#who", "Admin").await;
    let tip = b
        .eval("return document.querySelector('#show-help').dataset.tip;")
        .await;
    assert_eq!(tip, "Keyboard shortcuts (?)");
    b.eval(&format!("location.hash = '#/c/{conv}'; return null;"))
        .await;
    b.wait_for_page_text("#thread", "Where is my order?").await;

    // `s` opens the menu with its first time focused; ArrowDown, then Enter, snoozes till tomorrow.
    b.eval("document.activeElement.blur(); document.dispatchEvent(new KeyboardEvent('keydown', { key: 's' })); return null;")
        .await;
    let focused =
        "const e = document.activeElement; return e.getAttribute('role') + ': ' + e.innerText;";
    b.wait_for(focused, "menuitem: For an hour").await;
    let expanded = b
        .eval("return document.querySelector('#snooze').getAttribute('aria-expanded');")
        .await;
    assert_eq!(expanded, "true");
    let item = b.eval("return document.activeElement;").await;
    let item = item[ELEMENT].as_str().unwrap().to_string();
    b.type_into(&item, "\u{E015}").await;
    b.wait_for(focused, "menuitem: Until tomorrow 9:00").await;
    let item = b.eval("return document.activeElement;").await;
    let item = item[ELEMENT].as_str().unwrap().to_string();
    b.type_into(&item, "\u{E007}").await;
    b.wait_for_page_text("#thread-title", "snoozed").await;
    let (_, c) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    assert_eq!(c["status"], "snoozed", "{c}");

    // Deleting a list asks first: Cancel keeps it, Delete deletes it.
    b.open(&format!("{}/#/settings/lists", t.base)).await;
    b.wait_for_page_text("#settings-body table", "Old").await;
    b.click_on("#settings-body td button.secondary").await;
    b.wait_for_page_text("dialog.confirm", "Delete Old? Its contacts stay.")
        .await;
    b.click_on("dialog.confirm button[value=cancel]").await;
    b.wait_for(
        "return String(document.querySelector('dialog.confirm') === null);",
        "true",
    )
    .await;
    let (_, lists) = t.get("/api/v1/lists", &t.admin_token).await;
    assert_eq!(lists["items"].as_array().map(Vec::len), Some(1), "{lists}");
    b.click_on("#settings-body td button.secondary").await;
    b.wait_for_page_text("dialog.confirm", "Delete Old?").await;
    b.click_on("dialog.confirm button[value=ok]").await;
    // The screen is drawn again after the deletion: its table may be missing for a moment.
    b.wait_for(
        "const e = document.querySelector('#settings-body table'); return e ? String(!e.innerText.includes('Old')) : '';",
        "true",
    )
    .await;
    let (_, lists) = t.get("/api/v1/lists", &t.admin_token).await;
    assert_eq!(lists["items"].as_array().map(Vec::len), Some(0), "{lists}");
}

/// Send later in Chromium: a reply with a time chosen in the composer waits under the thread as
/// scheduled, with its time, and its Cancel button takes it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_schedules_a_reply_and_cancels_it_in_chromium() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    let raw = "From: Dana <dana@customer.example>\r\nTo: help@acme.example\r\nSubject: Order\r\n\
         Message-ID: <order-2@customer.example>\r\n\r\nCall me back tomorrow?\r\n";
    let conv = mail_to_support(&t, raw).await;
    let b = Browser::start(&driver).await;
    b.sign_in(&t.base, "admin@acme.test", "admin-password")
        .await;
    b.eval(&format!("location.hash = '#/c/{conv}'; return null;"))
        .await;
    b.wait_for_page_text("#thread", "Call me back tomorrow?")
        .await;
    // Two days ahead, in the browser's own time zone, as the picker gives it.
    b.eval(
        "const d = new Date(Date.now() + 2 * 86400e3); d.setSeconds(0, 0); \
         const p = (n) => String(n).padStart(2, '0'); \
         document.querySelector('#send-at').value = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`; \
         return null;",
    )
    .await;
    b.fill("#compose", "Calling you tomorrow at ten").await;
    b.click_on("#reply").await;
    let shown = b
        .wait_for_page_text("#scheduled", "Calling you tomorrow at ten")
        .await;
    assert!(shown.contains("scheduled for"), "{shown:?}");
    let path = format!("/api/v1/conversations/{conv}/scheduled");
    let (_, listed) = t.get(&path, &t.admin_token).await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    let tl = t.timeline_items(&conv).await;
    assert!(
        !tl.iter()
            .any(|i| i.to_string().contains("Calling you tomorrow")),
        "not sent yet"
    );
    b.click_on("#scheduled button").await;
    b.wait_for(
        "return String(document.querySelectorAll('#scheduled .scheduled').length);",
        "0",
    )
    .await;
    let (_, listed) = t.get(&path, &t.admin_token).await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
}

/// The test customer in Chromium: from the inboxes screen an admin opens the panel on an SMS
/// inbox, writes as a customer, and sees an agent's answer arrive, delivered, while Twilio hears
/// nothing; "Start over" empties the panel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_tries_an_inbox_as_a_test_customer_in_chromium() {
    use crate::twilio::{fake_twilio, SID, TOKEN};
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    let (base, fake) = fake_twilio().await;
    let (s, v) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Support SMS", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
        .await;
    assert_eq!(s, 201, "{v}");
    let inbox = v["id"].as_str().unwrap().to_string();

    let admin = Browser::start(&driver).await;
    admin
        .sign_in(&t.base, "admin@acme.test", "admin-password")
        .await;
    admin.open(&format!("{}/#/settings/inboxes", t.base)).await;
    admin
        .click_on(&format!("[data-test-customer='{inbox}']"))
        .await;
    admin
        .wait_for_page_text("#settings-title", "Test customer")
        .await;
    admin
        .wait_for_page_text("#test-log", "No messages yet")
        .await;
    admin
        .fill("#test-text", "Is my order shipped?\u{E007}")
        .await;
    admin
        .wait_for_page_text("#test-log", "Is my order shipped?")
        .await;

    // An agent answers in the inbox as usual.
    let (_, panel) = t
        .get(
            &format!("/api/v1/inboxes/{inbox}/test-customer"),
            &t.admin_token,
        )
        .await;
    let conv = panel["conversation_id"].as_str().expect("a conversation");
    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "Yes, it left today." }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    admin
        .wait_for_page_text("#test-log", "Yes, it left today.")
        .await;
    admin.wait_for_page_text("#test-log", "delivered").await;
    admin.screenshot("test-customer.png").await;
    assert!(
        fake.bodies().is_empty(),
        "Twilio received {:?}",
        fake.bodies()
    );

    admin.click_on("#test-reset").await;
    admin
        .wait_for_page_text("#test-log", "No messages yet")
        .await;
}

/// An admin builds a rule in the rule builder (a message with the keyword "refund" gets the label
/// "billing"), the API holds it as built, a customer's message fires it, and the label shows on
/// the thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_builds_a_rule_that_labels_a_thread_in_chromium() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    let cb = crate::harness::Callback::start(0).await;
    let (inbox, secret) = t.api_inbox("Shop", &cb.url).await;
    let b = Browser::start(&driver).await;
    b.sign_in(&t.base, "admin@acme.test", "admin-password")
        .await;
    b.open(&format!("{}/#/settings/rules", t.base)).await;
    b.wait_for_page_text("#settings-title", "Rules").await;
    b.click_on("#new-rule").await;
    b.fill("#rule-builder input[name=name]", "Refunds to billing")
        .await;
    let pick = |selector: &str, value: &str| {
        format!("const s = document.querySelector({selector:?}); s.value = {value:?}; s.dispatchEvent(new Event('change')); return null;")
    };
    b.eval(&pick("#rule-builder .trigger-kind", "keyword"))
        .await;
    b.fill("#rule-builder input[name=keywords]", "refund").await;
    b.click_on("#add-action").await;
    b.eval(&pick("#rule-builder .action-kind", "add_labels"))
        .await;
    b.fill("#rule-builder input[name=labels]", "billing").await;
    b.screenshot("rule-builder.png").await;
    b.click_on("#rule-builder button[type=submit]").await;
    let listed = b
        .wait_for_page_text("#settings-body table", "Refunds to billing")
        .await;
    assert!(listed.contains("keyword: refund"), "{listed}");
    let (s, rules) = t.get("/api/v1/automations", &t.admin_token).await;
    assert_eq!(s, 200, "{rules}");
    let rule = &rules["items"][0];
    assert_eq!(
        (&rule["trigger"], &rule["actions"], &rule["enabled"]),
        (
            &json!({ "kind": "keyword", "keywords": ["refund"] }),
            &json!([{ "kind": "add_labels", "labels": ["billing"] }]),
            &json!(true)
        ),
        "{rule}"
    );

    // A customer asks for a refund: the rule labels the thread, and the agent sees it.
    let (s, v) = t
        .inbound(&inbox, &secret, "c1", "m1", "I would like a refund please")
        .await;
    assert_eq!(s, 200, "{v}");
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    b.open(&format!("{}/#/c/{conv}", t.base)).await;
    b.wait_for_page_text("#labels", "billing").await;
    // The list shows when it last fired, and how often.
    b.open(&format!("{}/#/settings/rules", t.base)).await;
    let listed = b
        .wait_for_page_text("#settings-body table", "Refunds to billing")
        .await;
    assert!(!listed.contains("never"), "{listed}");
}

/// The rule builder writes exactly the rule the API takes: built in Chromium against a stand-in
/// for the automations API inside the page, the rule it posts reads as a
/// `parley_core::automation::Rule`, and the list shows each rule's switch and how often it fired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rule_builder_writes_the_apis_rule_in_chromium() {
    use parley_core::automation::{Action, Condition, Match, Rule, Trigger};
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    let b = Browser::start(&driver).await;
    b.sign_in(&t.base, "admin@acme.test", "admin-password")
        .await;
    // The page answers the automations API itself, recording what the builder sends.
    b.eval(
        "window.posted = [];
         window.rules = [{ id: '0190a3e2-7b1c-7cde-8f00-000000000001', name: 'Night shift', enabled: true, position: 0,
           inbox_id: null, trigger: { kind: 'message_received' }, conditions: { match: 'all', items: [] },
           actions: [{ kind: 'resolve' }], limit: null, fired: 7, last_fired_at: '2026-12-01T10:00:00Z' }];
         const real = window.fetch;
         window.fetch = async (path, opts = {}) => {
           if (!String(path).startsWith('/api/v1/automations')) return real(path, opts);
           if (opts.method && opts.method !== 'GET') window.posted.push({ path: String(path), method: opts.method, body: JSON.parse(opts.body || 'null') });
           const body = opts.method && opts.method !== 'GET' ? {} : { items: window.rules };
           return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } });
         };
         location.hash = '#/settings/rules';
         return null;",
    )
    .await;
    let listed = b
        .wait_for_page_text("#settings-body table", "Night shift")
        .await;
    assert!(listed.contains("7"), "how often it fired: {listed}");
    b.click_on("#new-rule").await;
    b.fill("#rule-builder input[name=name]", "Refunds to billing")
        .await;
    let pick = |selector: &str, value: &str| {
        format!("const s = document.querySelector({selector:?}); s.value = {value:?}; s.dispatchEvent(new Event('change')); return null;")
    };
    b.eval(&pick("#rule-builder .trigger-kind", "keyword"))
        .await;
    b.fill("#rule-builder input[name=keywords]", "refund, money back")
        .await;
    b.click_on("#add-condition").await;
    b.eval(&pick("#rule-builder .condition-kind", "business_hours"))
        .await;
    b.eval(&pick("#rule-builder select[name=open]", "false"))
        .await;
    b.click_on("#add-action").await;
    b.eval(&pick("#rule-builder .action-kind", "add_labels"))
        .await;
    b.fill("#rule-builder input[name=labels]", "billing").await;
    b.fill("#rule-builder input[name=limit_max]", "1").await;
    b.fill("#rule-builder input[name=limit_per]", "24").await;
    b.screenshot("rule-builder.png").await;
    b.click_on("#rule-builder button[type=submit]").await;
    b.wait_for("return JSON.stringify(window.posted);", "Refunds")
        .await;
    let posted = b.eval("return JSON.stringify(window.posted);").await;
    let posted: Value = serde_json::from_str(posted.as_str().unwrap()).unwrap();
    assert_eq!(posted[0]["path"], "/api/v1/automations", "{posted}");
    assert_eq!(posted[0]["method"], "POST");
    let mut body = posted[0]["body"].clone();
    body["id"] = json!("0190a3e2-7b1c-7cde-8f00-000000000002");
    body["position"] = json!(1);
    let rule: Rule = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("not the API's rule: {e}: {body}"));
    assert_eq!(
        rule.trigger,
        Trigger::Keyword {
            keywords: vec!["refund".into(), "money back".into()]
        }
    );
    assert_eq!(rule.conditions.mode, Match::All);
    assert_eq!(
        rule.conditions.items,
        [Condition::BusinessHours { open: false }]
    );
    assert_eq!(
        rule.actions,
        [Action::AddLabels {
            labels: vec!["billing".into()]
        }]
    );
    assert_eq!(rule.limit.map(|l| (l.max, l.per_secs)), Some((1, 86_400)));
    assert!(rule.enabled && rule.inbox_id.is_none());

    // The switch turns a rule off with the rest of it unchanged.
    b.click_on("#settings-body table input[type=checkbox]")
        .await;
    b.wait_for("return JSON.stringify(window.posted);", "\"PUT\"")
        .await;
    let posted = b.eval("return JSON.stringify(window.posted);").await;
    let posted: Value = serde_json::from_str(posted.as_str().unwrap()).unwrap();
    let put = &posted[1];
    assert_eq!(
        put["path"],
        "/api/v1/automations/0190a3e2-7b1c-7cde-8f00-000000000001"
    );
    let off: Rule = serde_json::from_value(put["body"].clone()).unwrap();
    assert!(!off.enabled);
    assert_eq!(off.actions, [Action::Resolve]);
    assert!(put["body"].get("fired").is_none(), "{put}");
}

/// An admin writes the macro "Escalate" in settings (add the label "vip", a note "Escalated", set
/// priority high, then moves the priority step up), the API holds its steps in that order; on a
/// conversation an agent runs it from the thread's Macros menu and sees each step's result, the
/// label and the note attributed to the macro.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_writes_a_macro_and_runs_it_on_a_thread_in_chromium() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let t = TestApp::spawn(Backend::Sqlite).await;
    let raw = "From: Dana <dana@customer.example>\r\nTo: help@acme.example\r\nSubject: Broken\r\n\
         Message-ID: <broken-1@customer.example>\r\n\r\nIt is still broken.\r\n";
    let conv = mail_to_support(&t, raw).await;
    let b = Browser::start(&driver).await;
    b.sign_in(&t.base, "admin@acme.test", "admin-password")
        .await;
    b.open(&format!("{}/#/settings/macros", t.base)).await;
    b.wait_for_page_text("#settings-title", "Macros").await;
    b.click_on("#new-macro").await;
    b.fill("#macro-editor input[name=name]", "Escalate").await;
    // Without a step the API refuses it, and the editor says why.
    b.click_on("#macro-editor button[type=submit]").await;
    b.wait_for_page_text("#macro-editor .result", "at least one action")
        .await;
    let step = |n: usize, rest: &str| format!("#macro-steps .rule-row:nth-child({n}) {rest}");
    let pick = |selector: &str, value: &str| {
        format!("const s = document.querySelector({selector:?}); s.value = {value:?}; s.dispatchEvent(new Event('change')); return null;")
    };
    for (n, kind) in [(1, "add_labels"), (2, "note"), (3, "set_priority")] {
        b.click_on("#add-step").await;
        b.eval(&pick(&step(n, ".action-kind"), kind)).await;
    }
    b.fill(&step(1, "input[name=labels]"), "vip").await;
    b.fill(&step(2, "input[name=body]"), "Escalated").await;
    b.eval(&pick(&step(3, "select[name=priority]"), "high"))
        .await;
    b.click_on(&step(3, "button[aria-label^='Move'][aria-label$='up']"))
        .await;
    b.screenshot("macro-editor.png").await;
    b.click_on("#macro-editor button[type=submit]").await;
    let listed = b
        .wait_for_page_text("#settings-body table", "Escalate")
        .await;
    assert!(listed.contains("#vip"), "{listed}");
    let (s, macros) = t.get("/api/v1/macros", &t.admin_token).await;
    assert_eq!(s, 200, "{macros}");
    let m = &macros["items"][0];
    assert_eq!(
        m["actions"],
        json!([{ "kind": "add_labels", "labels": ["vip"] },
               { "kind": "set_priority", "priority": "high" },
               { "kind": "note", "body": "Escalated" }]),
        "{m}"
    );
    let id = m["id"].as_str().unwrap();

    // On the thread: the Macros menu runs it, and the thread shows what it did.
    b.open(&format!("{}/#/c/{conv}", t.base)).await;
    b.wait_for_page_text("#thread", "It is still broken.").await;
    b.click_on("#macros").await;
    b.click_on(&format!("[data-macro='{id}']")).await;
    let result = b.wait_for_page_text("#macro-result", "Escalate ran").await;
    assert!(result.contains("Add labels #vip: done"), "{result}");
    assert!(result.contains("Set priority high: done"), "{result}");
    b.wait_for_page_text("#toasts", "Escalate ran").await;
    b.wait_for_page_text("#labels", "vip").await;
    let log = b.wait_for_page_text("#log", "Escalated").await;
    assert!(log.contains("macro · Escalate"), "{log}");
    b.wait_for("return document.querySelector('#priority').value;", "high")
        .await;
    b.screenshot("macro-run.png").await;
    let (_, v) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    assert_eq!(
        (&v["priority"], &v["labels"]),
        (&json!("high"), &json!(["vip"])),
        "{v}"
    );

    // Run again from the keyboard ("m" opens the menu on its first macro, Enter runs it): the
    // label and the priority are there already, and the steps say so, on the thread too.
    b.eval("document.activeElement.blur(); document.dispatchEvent(new KeyboardEvent('keydown', { key: 'm', bubbles: true })); return null;")
        .await;
    b.wait_for(
        "return document.activeElement.dataset.macro || document.activeElement.innerText;",
        "Escalate",
    )
    .await;
    let menuitem = b.eval("return document.activeElement;").await;
    let menuitem = menuitem[ELEMENT]
        .as_str()
        .expect("the focused menu item")
        .to_string();
    b.call(
        reqwest::Method::POST,
        &format!("/element/{menuitem}/value"),
        json!({ "text": "\u{E007}" }),
    )
    .await;
    b.wait_for_page_text("#macro-result", "Add labels #vip: unchanged")
        .await;
    b.wait_for_page_text("#log", "Add labels #vip: unchanged")
        .await;
}
