//! Every API route, called with no credentials, as an agent (no inbox membership), a supervisor,
//! an admin, and an admin of another workspace naming this workspace's records. The answers are
//! checked against the table below, kept by hand: a new route fails this test until its row says
//! who may call it. Beyond the table, no refused caller ever gets a 2xx and nothing answers 5xx.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::{Backend, TestApp};

/// method, path, then the status for: no credentials, agent, supervisor, admin, other workspace's
/// admin. Bodies are `{}` and unknown ids are random, so callers who get past the access check see
/// 404 or 422; the other workspace's admin names real records of this one.
#[rustfmt::skip]
const TABLE: &[(&str, &str, [u16; 5])] = &[
    ("get", "/api/v1/health", [200, 200, 200, 200, 200]),
    ("get", "/api/v1/openapi.json", [200, 200, 200, 200, 200]),
    ("post", "/api/v1/setup", [422, 422, 422, 422, 422]),
    ("post", "/api/v1/auth/sign-in", [422, 422, 422, 422, 422]),
    ("post", "/api/v1/auth/sign-out", [401, 204, 204, 204, 204]),
    ("get", "/api/v1/me", [401, 200, 200, 200, 200]),
    ("get", "/api/v1/tokens", [401, 200, 200, 200, 200]),
    ("post", "/api/v1/tokens", [401, 422, 422, 422, 422]),
    ("delete", "/api/v1/tokens/{id}", [401, 404, 404, 404, 404]),
    ("get", "/api/v1/users", [401, 200, 200, 200, 200]),
    ("post", "/api/v1/users", [401, 403, 403, 422, 422]),
    ("patch", "/api/v1/users/{id}", [401, 403, 403, 404, 404]),
    ("delete", "/api/v1/users/{id}", [401, 403, 403, 404, 404]),
    ("get", "/api/v1/audit", [401, 403, 403, 200, 200]),
    ("get", "/api/v1/audit/export", [401, 403, 403, 200, 200]),
    ("get", "/api/v1/replies", [401, 200, 200, 200, 200]),
    ("put", "/api/v1/replies", [401, 403, 403, 422, 422]),
    ("get", "/api/v1/templates", [401, 200, 200, 200, 200]),
    ("post", "/api/v1/templates", [401, 403, 403, 422, 422]),
    ("get", "/api/v1/templates/fields", [401, 200, 200, 200, 200]),
    ("put", "/api/v1/templates/fields", [401, 403, 403, 422, 422]),
    ("post", "/api/v1/templates/preview", [401, 422, 422, 422, 422]),
    ("patch", "/api/v1/templates/{id}", [401, 403, 403, 422, 422]),
    ("delete", "/api/v1/templates/{id}", [401, 403, 403, 404, 404]),
    ("post", "/api/v1/templates/{id}/preview", [401, 422, 422, 422, 422]),
    ("get", "/api/v1/bots", [401, 403, 403, 200, 200]),
    ("post", "/api/v1/bots", [401, 403, 403, 422, 422]),
    ("get", "/api/v1/survey", [401, 200, 200, 200, 200]),
    ("put", "/api/v1/survey", [401, 403, 403, 422, 422]),
    ("get", "/survey/{inbox_id}/{conversation_id}", [404, 404, 404, 404, 404]),
    ("post", "/survey/{inbox_id}/{conversation_id}", [404, 404, 404, 404, 404]),
    ("get", "/api/v1/sla", [401, 200, 200, 200, 200]),
    ("put", "/api/v1/sla", [401, 403, 403, 422, 422]),
    ("get", "/api/v1/encryption", [401, 403, 403, 200, 200]),
    ("get", "/api/v1/presence", [401, 200, 200, 200, 200]),
    ("get", "/api/v1/teams", [401, 200, 200, 200, 200]),
    ("post", "/api/v1/teams", [401, 403, 403, 422, 422]),
    ("patch", "/api/v1/teams/{id}", [401, 403, 403, 422, 422]),
    ("delete", "/api/v1/teams/{id}", [401, 403, 403, 404, 404]),
    ("put", "/api/v1/teams/{id}/members/{user_id}", [401, 403, 403, 404, 404]),
    ("delete", "/api/v1/teams/{id}/members/{user_id}", [401, 403, 403, 404, 404]),
    ("get", "/api/v1/inboxes", [401, 200, 200, 200, 200]),
    ("post", "/api/v1/inboxes", [401, 403, 403, 422, 422]),
    ("get", "/api/v1/inboxes/{id}", [401, 404, 404, 404, 404]),
    ("patch", "/api/v1/inboxes/{id}", [401, 403, 403, 404, 404]),
    ("post", "/api/v1/inboxes/{id}/attachments", [401, 404, 404, 404, 404]),
    ("get", "/api/v1/inboxes/{id}/attachments/{attachment}", [401, 404, 404, 404, 404]),
    ("get", "/media/{inbox_id}/{attachment}", [404, 404, 404, 404, 404]),
    ("get", "/api/v1/inboxes/{id}/templates", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/inboxes/{id}/test", [401, 403, 403, 404, 404]),
    ("get", "/api/v1/inboxes/{id}/test-customer", [401, 403, 403, 404, 404]),
    ("delete", "/api/v1/inboxes/{id}/test-customer", [401, 403, 403, 404, 404]),
    ("post", "/api/v1/inboxes/{id}/test-customer/messages", [401, 403, 403, 422, 422]),
    ("get", "/api/v1/inboxes/{id}/members", [401, 404, 404, 404, 404]),
    ("put", "/api/v1/inboxes/{id}/members/{user_id}", [401, 403, 403, 404, 404]),
    ("delete", "/api/v1/inboxes/{id}/members/{user_id}", [401, 403, 403, 404, 404]),
    ("get", "/api/v1/contacts", [401, 200, 200, 200, 200]),
    ("post", "/api/v1/contacts", [401, 201, 201, 201, 201]),
    ("get", "/api/v1/contacts/{id}", [401, 404, 404, 404, 404]),
    ("delete", "/api/v1/contacts/{id}", [401, 403, 403, 404, 404]),
    ("patch", "/api/v1/contacts/{id}", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/contacts/{id}/identities", [401, 422, 422, 422, 422]),
    ("delete", "/api/v1/contacts/{id}/identities/{identity_id}", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/contacts/{id}/merge", [401, 422, 422, 422, 422]),
    ("post", "/api/v1/contacts/{id}/block", [401, 403, 404, 404, 404]),
    ("delete", "/api/v1/contacts/{id}/block", [401, 403, 404, 404, 404]),
    ("get", "/api/v1/contacts/{id}/consent", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/contacts/{id}/consent", [401, 422, 422, 422, 422]),
    ("get", "/api/v1/contacts/{id}/consent/export", [401, 403, 403, 404, 404]),
    ("get", "/api/v1/compliance/settings", [401, 200, 200, 200, 200]),
    ("put", "/api/v1/compliance/settings", [401, 403, 403, 200, 200]),
    ("get", "/api/v1/retention", [401, 403, 403, 200, 200]),
    ("get", "/api/v1/compliance/inactive", [401, 403, 200, 200, 200]),
    ("post", "/api/v1/compliance/inactive/purge", [401, 403, 403, 422, 422]),
    ("get", "/api/v1/contacts/{id}/timeline", [401, 404, 404, 404, 404]),
    ("get", "/api/v1/contacts/{id}/channels", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/contacts/{id}/messages", [401, 422, 422, 422, 422]),
    ("get", "/api/v1/contacts/{id}/lists", [401, 404, 404, 404, 404]),
    ("get", "/api/v1/lists", [401, 200, 200, 200, 200]),
    ("post", "/api/v1/lists", [401, 403, 422, 422, 422]),
    ("patch", "/api/v1/lists/{id}", [401, 403, 422, 422, 422]),
    ("delete", "/api/v1/lists/{id}", [401, 403, 404, 404, 404]),
    ("get", "/api/v1/lists/{id}/contacts", [401, 404, 404, 404, 404]),
    ("put", "/api/v1/lists/{id}/contacts/{contact_id}", [401, 404, 404, 404, 404]),
    ("delete", "/api/v1/lists/{id}/contacts/{contact_id}", [401, 404, 404, 404, 404]),
    ("get", "/api/v1/contacts/{id}/conversations", [401, 404, 404, 404, 404]),
    ("get", "/api/v1/conversations", [401, 200, 200, 200, 200]),
    ("get", "/api/v1/conversations/counts", [401, 200, 200, 200, 200]),
    ("post", "/api/v1/conversations", [401, 422, 422, 422, 422]),
    ("get", "/api/v1/conversations/{id}", [401, 404, 404, 404, 404]),
    ("patch", "/api/v1/conversations/{id}", [401, 422, 422, 422, 422]),
    ("get", "/api/v1/conversations/{id}/export", [401, 403, 403, 404, 404]),
    ("get", "/api/v1/exports/conversations", [401, 403, 403, 400, 400]),
    ("get", "/api/v1/conversations/{id}/timeline", [401, 404, 404, 404, 404]),
    ("get", "/api/v1/conversations/{id}/channel", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/conversations/{id}/messages", [401, 404, 404, 404, 404]),
    ("get", "/api/v1/conversations/{id}/scheduled", [401, 404, 404, 404, 404]),
    ("patch", "/api/v1/conversations/{id}/scheduled/{scheduled_id}", [401, 400, 400, 400, 400]),
    ("delete", "/api/v1/conversations/{id}/scheduled/{scheduled_id}", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/conversations/{id}/notes", [401, 422, 422, 422, 422]),
    ("post", "/api/v1/conversations/{id}/assign", [401, 422, 422, 422, 422]),
    ("post", "/api/v1/conversations/{id}/handoff", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/conversations/{id}/unassign", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/conversations/{id}/resolve", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/conversations/{id}/reopen", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/conversations/{id}/snooze", [401, 422, 422, 422, 422]),
    ("post", "/api/v1/conversations/{id}/labels", [401, 404, 404, 404, 404]),
    ("delete", "/api/v1/conversations/{id}/labels/{label}", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/conversations/{id}/seen", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/conversations/{id}/typing", [401, 404, 404, 404, 404]),
    ("post", "/api/v1/sms/segments", [401, 422, 422, 422, 422]),
    ("get", "/api/v1/realtime", [401, 400, 400, 400, 400]),
    ("get", "/widget/{inbox_id}/socket", [400, 400, 400, 400, 400]),
    ("post", "/hooks/telegram/{inbox_id}", [404, 404, 404, 404, 404]),
    ("get", "/hooks/whatsapp/{inbox_id}", [404, 404, 404, 404, 404]),
    ("post", "/hooks/whatsapp/{inbox_id}", [404, 404, 404, 404, 404]),
    ("get", "/hooks/messenger/{inbox_id}", [404, 404, 404, 404, 404]),
    ("post", "/hooks/messenger/{inbox_id}", [404, 404, 404, 404, 404]),
    ("get", "/hooks/instagram/{inbox_id}", [404, 404, 404, 404, 404]),
    ("post", "/hooks/instagram/{inbox_id}", [404, 404, 404, 404, 404]),
    ("post", "/hooks/line/{inbox_id}", [404, 404, 404, 404, 404]),
    ("post", "/hooks/twilio/{inbox_id}", [404, 404, 404, 404, 404]),
    ("post", "/hooks/api/{inbox_id}", [404, 404, 404, 404, 404]),
    ("get", "/api/v1/business-hours", [401, 200, 200, 200, 200]),
    ("put", "/api/v1/business-hours", [401, 403, 403, 422, 422]),
    ("delete", "/api/v1/business-hours", [401, 403, 403, 204, 204]),
    ("get", "/api/v1/business-hours/status", [401, 200, 200, 200, 200]),
    ("get", "/api/v1/inboxes/{id}/business-hours", [401, 404, 404, 404, 404]),
    ("put", "/api/v1/inboxes/{id}/business-hours", [401, 403, 403, 422, 422]),
    ("delete", "/api/v1/inboxes/{id}/business-hours", [401, 403, 403, 404, 404]),
    ("get", "/api/v1/teams/{id}/business-hours", [401, 404, 404, 404, 404]),
    ("put", "/api/v1/teams/{id}/business-hours", [401, 403, 403, 422, 422]),
    ("delete", "/api/v1/teams/{id}/business-hours", [401, 403, 403, 404, 404]),
    ("get", "/api/v1/inboxes/{id}/auto-replies", [401, 404, 404, 404, 404]),
    ("put", "/api/v1/inboxes/{id}/auto-replies", [401, 403, 403, 422, 422]),
    ("post", "/hooks/call/{inbox_id}", [404, 404, 404, 404, 404]),
    ("get", "/api/v1/automations", [401, 200, 200, 200, 200]),
    ("post", "/api/v1/automations", [401, 403, 403, 422, 422]),
    ("post", "/api/v1/automations/order", [401, 403, 403, 422, 422]),
    ("post", "/api/v1/automations/dry-run", [401, 403, 403, 422, 422]),
    ("get", "/api/v1/automations/{id}", [401, 404, 404, 404, 404]),
    ("put", "/api/v1/automations/{id}", [401, 403, 403, 422, 422]),
    ("patch", "/api/v1/automations/{id}", [401, 403, 403, 422, 422]),
    ("delete", "/api/v1/automations/{id}", [401, 403, 403, 404, 404]),
    ("post", "/api/v1/automations/{id}/dry-run", [401, 403, 403, 404, 404]),
    ("get", "/api/v1/macros", [401, 200, 200, 200, 200]),
    ("post", "/api/v1/macros", [401, 403, 403, 422, 422]),
    ("get", "/api/v1/macros/{id}", [401, 404, 404, 404, 404]),
    ("put", "/api/v1/macros/{id}", [401, 403, 403, 422, 422]),
    ("delete", "/api/v1/macros/{id}", [401, 403, 403, 404, 404]),
    ("post", "/api/v1/conversations/{id}/macros/{macro_id}", [401, 404, 404, 404, 404]),
    ("get", "/api/v1/automations/webhook-secret", [401, 403, 403, 200, 200]),
];

struct World {
    t: TestApp,
    tokens: [String; 4],
    real: Vec<(&'static str, String)>,
}

/// The application in-process: what a role may do is decided by the request alone.
async fn world() -> World {
    let t = TestApp::spawn_in_process(Backend::Sqlite).await;
    let (agent_id, agent) = t.user("ann@acme.test", "agent").await;
    let (_, supervisor) = t.user("sue@acme.test", "supervisor").await;
    let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "Hello").await;
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    let contact = v["contact_id"].as_str().unwrap().to_string();
    let (_, team) = t
        .post("/api/v1/teams", &t.admin_token, json!({ "name": "Tier 1" }))
        .await;
    let team = team["id"].as_str().unwrap().to_string();
    let (_, list) = t
        .post("/api/v1/lists", &t.admin_token, json!({ "name": "VIP" }))
        .await;
    let list = list["id"].as_str().unwrap().to_string();
    // Another workspace with its own admin.
    let hash = parley_server::account::auth::hash_password("other-password".into())
        .await
        .unwrap();
    let (ws, user) = t
        .app
        .store
        .create_workspace(
            "Other",
            "UTC",
            parley_store::NewUser {
                email: "boss@other.test".into(),
                name: "Boss".into(),
                password_hash: hash,
                role: parley_core::role::Role::Admin,
                bot: false,
            },
            t.app.now(),
        )
        .await
        .unwrap();
    let other = t.token_for(ws.id, user.id).await;
    let tokens = [agent, supervisor, t.admin_token.clone(), other];
    let real = vec![
        ("/api/v1/conversations/", conv),
        ("/api/v1/contacts/", contact),
        ("/api/v1/inboxes/", inbox),
        ("/api/v1/teams/", team),
        ("/api/v1/lists/", list),
        ("/api/v1/users/", agent_id),
    ];
    World { t, tokens, real }
}

/// The path with every `{param}` filled: a record of this workspace when `real`, else random.
fn fill(path: &str, real: Option<&[(&'static str, String)]>) -> String {
    let random = "0190f0f0-0000-7000-8000-000000000001";
    let id = real
        .and_then(|r| r.iter().find(|(prefix, _)| path.starts_with(prefix)))
        .map_or(random, |(_, id)| id.as_str());
    let mut out = String::new();
    let mut rest = path;
    let mut first = true;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap() + open;
        let name = &rest[open + 1..close];
        out.push_str(match name {
            "label" => "vip",
            "max" => "10",
            _ if first => id,
            _ => random,
        });
        first = false;
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

async fn call(t: &TestApp, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let bearer = token.map(|tok| format!("Bearer {tok}"));
    let mut headers = Vec::new();
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    let mut body = Vec::new();
    if m != Method::GET && m != Method::DELETE {
        headers.push(("content-type", "application/json"));
        body = b"{}".to_vec();
    }
    let (status, text) = t.send(m, path, &headers, body).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_role_as_the_table_says() {
    let w = world().await;
    // In the table's order: calls with real ids change what later calls find.
    let mut routes = parley_server::http::routes::routes();
    let at = |m: &str, p: &str| TABLE.iter().position(|(tm, tp, _)| *tm == m && *tp == p);
    routes.sort_by_key(|r| at(r.method, r.path).unwrap_or(usize::MAX));
    let mut observed = Vec::new();
    for r in &routes {
        let random = fill(r.path, None);
        let mut row = [0u16; 5];
        row[0] = call(&w.t, r.method, &random, None).await.0;
        for (i, tok) in w.tokens[..3].iter().enumerate() {
            row[i + 1] = call(&w.t, r.method, &random, Some(tok)).await.0;
        }
        let real = fill(r.path, Some(&w.real));
        row[4] = call(&w.t, r.method, &real, Some(&w.tokens[3])).await.0;
        observed.push((r.method, r.path, row));
    }
    let rendered: Vec<String> = observed
        .iter()
        .map(|(m, p, s)| format!("    (\"{m}\", \"{p}\", {s:?}),"))
        .collect();
    for (r, (m, p, s)) in routes.iter().zip(&observed) {
        assert!(s.iter().all(|c| *c < 500), "{m} {p} answered {s:?}");
        use parley_server::http::routes::Access;
        let refused: &[usize] = match r.access {
            Access::Public | Access::Signature => &[],
            Access::Member => &[0],
            Access::Supervisor => &[0, 1],
            Access::Admin => &[0, 1, 2],
        };
        for &i in refused {
            let want = if i == 0 { 401 } else { 403 };
            assert_eq!(
                s[i], want,
                "{m} {p} is {:?} but column {i} got {}",
                r.access, s[i]
            );
        }
        if matches!(r.access, Access::Signature) {
            assert!(
                !(200..300).contains(&s[0]),
                "{m} {p} answered an unsigned call"
            );
        }
    }
    let expected: Vec<(&str, &str, [u16; 5])> = TABLE.to_vec();
    assert_eq!(
        observed,
        expected,
        "the routes and their answers differ from the table; observed:\n{}",
        rendered.join("\n")
    );
}

/// The UI is static pages that hold no data (everything comes through the API above): each answers
/// anyone, with the security headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_pages_hold_no_data_and_carry_the_security_headers() {
    let t = TestApp::spawn(Backend::Sqlite).await;
    for path in [
        "/",
        "/setup",
        "/static/app.js",
        "/static/setup.js",
        "/static/style.css",
        "/widget.js",
        "/widget.css",
    ] {
        let r = t.http.get(t.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        let body = r.text().await.unwrap();
        assert!(!body.contains("admin@acme.test"), "{path} holds data");
    }
}
