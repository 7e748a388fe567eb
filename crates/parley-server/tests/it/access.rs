//! Who may see and change what: inbox membership, roles, other workspaces, credentials, CSRF.

use reqwest::Method;
use serde_json::json;

use crate::harness::TestApp;
use crate::on_both;
use crate::on_both_backends;

on_both!(
    agents_outside_an_inbox_cannot_read_or_write_it,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("VIP", "http://127.0.0.1:9/cb").await;
        let (_, outsider) = t.user("out@acme.test", "agent").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "private").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let (_, list) = t.get("/api/v1/conversations", &outsider).await;
        assert!(list["items"].as_array().unwrap().is_empty());
        for (method, path, body) in [
            (Method::GET, format!("/api/v1/conversations/{conv}"), None),
            (
                Method::GET,
                format!("/api/v1/conversations/{conv}/timeline"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/conversations/{conv}/messages"),
                Some(json!({ "body": "x" })),
            ),
            (
                Method::POST,
                format!("/api/v1/conversations/{conv}/notes"),
                Some(json!({ "body": "x" })),
            ),
            (
                Method::POST,
                format!("/api/v1/conversations/{conv}/resolve"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/conversations/{conv}/labels"),
                Some(json!({ "add": ["x"] })),
            ),
            (Method::GET, format!("/api/v1/inboxes/{inbox}"), None),
        ] {
            let (s, v) = t.call(method.clone(), &path, &outsider, body).await;
            assert_eq!(s, 404, "{method} {path}: {v}");
            assert_eq!(v["error"]["code"], "not_found");
        }
        let (_, admin_view) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        assert_eq!(
            admin_view["items"].as_array().unwrap().len(),
            1,
            "nothing was written by the outsider"
        );
        let (_, inboxes) = t.get("/api/v1/inboxes", &outsider).await;
        assert!(inboxes["items"].as_array().unwrap().is_empty());
    }
);

on_both!(
    roles_and_credentials_are_enforced,
    |t: TestApp| async move {
        let (ann, agent) = t.user("ann@acme.test", "agent").await;
        let (_, sup) = t.user("sue@acme.test", "supervisor").await;
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        for who in [&ann] {
            t.add_member(&inbox, who).await;
        }
        let sue = t
            .app
            .store
            .credentials_by_email("sue@acme.test")
            .await
            .unwrap()
            .unwrap()
            .0
            .user_id
            .to_string();
        t.add_member(&inbox, &sue).await;
        // Admin-only routes.
        for (m, p, b) in [
            (
                Method::POST,
                "/api/v1/users".to_string(),
                json!({ "email": "x@acme.test", "name": "X", "password": "long-enough-1", "role": "admin" }),
            ),
            (
                Method::POST,
                "/api/v1/inboxes".to_string(),
                json!({ "name": "X", "kind": "api" }),
            ),
            (
                Method::POST,
                "/api/v1/teams".to_string(),
                json!({ "name": "X" }),
            ),
            (
                Method::PATCH,
                format!("/api/v1/users/{ann}"),
                json!({ "role": "admin" }),
            ),
        ] {
            let (s, v) = t.call(m.clone(), &p, &agent, Some(b)).await;
            assert_eq!(s, 403, "{m} {p}: {v}");
            assert_eq!(v["error"]["code"], "forbidden");
        }
        let (s, _) = t.get("/api/v1/audit", &sup).await;
        assert_eq!(s, 403);
        let (s, audit) = t.get("/api/v1/audit", &t.admin_token).await;
        assert_eq!(s, 200);
        assert!(audit.to_string().contains("user.create"));
        // Agents may take a conversation but not hand others' work around; supervisors may.
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hi").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/assign"),
                &agent,
                json!({ "assignee_id": sue }),
            )
            .await;
        assert_eq!(s, 403);
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/assign"),
                &agent,
                json!({ "assignee_id": ann }),
            )
            .await;
        assert_eq!(s, 200);
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/assign"),
                &sup,
                json!({ "assignee_id": sue }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["assignee_id"], sue.as_str());
        // No or bad credentials.
        let (s, v) = t.get("/api/v1/conversations", "").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (401, Some("unauthorized"))
        );
        let (s, _) = t.get("/api/v1/conversations", "pat_nonsense").await;
        assert_eq!(s, 401);
        // A revoked token stops working.
        let (s, created) = t
            .post("/api/v1/tokens", &agent, json!({ "name": "laptop" }))
            .await;
        assert_eq!(s, 201);
        let tok = created["token"].as_str().unwrap().to_string();
        assert_eq!(t.get("/api/v1/me", &tok).await.0, 200);
        let (_, list) = t.get("/api/v1/tokens", &agent).await;
        assert!(
            !list.to_string().contains(&tok),
            "a token is shown once, never listed"
        );
        let (s, _) = t
            .call(
                Method::DELETE,
                &format!("/api/v1/tokens/{}", created["id"].as_str().unwrap()),
                &agent,
                None,
            )
            .await;
        assert_eq!(s, 204);
        assert_eq!(t.get("/api/v1/me", &tok).await.0, 401);
    }
);

on_both!(other_workspaces_are_invisible, |t: TestApp| async move {
    let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "acme only").await;
    let (conv, contact) = (
        v["conversation_id"].as_str().unwrap().to_string(),
        v["contact_id"].as_str().unwrap().to_string(),
    );
    let hash = parley_server::account::auth::hash_password("other-password".into())
        .await
        .unwrap();
    let boss = parley_store::NewUser {
        email: "boss@globex.test".into(),
        name: "Boss".into(),
        password_hash: hash,
        role: parley_core::role::Role::Admin,
        bot: false,
    };
    let (ws, user) = t
        .app
        .store
        .create_workspace("Globex", "UTC", boss, t.app.now())
        .await
        .unwrap();
    let other = t.token_for(ws.id, user.id).await;
    for path in [
        format!("/api/v1/conversations/{conv}"),
        format!("/api/v1/contacts/{contact}"),
        format!("/api/v1/inboxes/{inbox}"),
    ] {
        let (s, _) = t.get(&path, &other).await;
        assert_eq!(s, 404, "{path}");
    }
    let (s, _) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &other,
            json!({ "body": "x" }),
        )
        .await;
    assert_eq!(s, 404);
    let (_, list) = t.get("/api/v1/conversations", &other).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (_, found) = t.get("/api/v1/contacts?q=c1", &other).await;
    assert!(found["items"].as_array().unwrap().is_empty());
});

on_both!(
    cookie_sessions_need_csrf_on_writes,
    |t: TestApp| async move {
        let http = reqwest::Client::new();
        let r = http
            .post(t.url("/api/v1/auth/sign-in"))
            .json(&json!({ "email": "admin@acme.test", "password": "admin-password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let cookie = r
            .headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let session = cookie.split(';').next().unwrap().to_string();
        let body: serde_json::Value = r.json().await.unwrap();
        let csrf = body["csrf_token"].as_str().unwrap();
        let me = http
            .get(t.url("/api/v1/me"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
        let no_csrf = http
            .post(t.url("/api/v1/teams"))
            .header("cookie", &session)
            .json(&json!({ "name": "T" }))
            .send()
            .await
            .unwrap();
        assert_eq!(no_csrf.status(), 403);
        let v: serde_json::Value = no_csrf.json().await.unwrap();
        assert_eq!(v["error"]["code"], "csrf_failed");
        let ok = http
            .post(t.url("/api/v1/teams"))
            .header("cookie", &session)
            .header("x-csrf-token", csrf)
            .json(&json!({ "name": "T" }))
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 201);
        let bad = http
            .post(t.url("/api/v1/auth/sign-in"))
            .json(&json!({ "email": "admin@acme.test", "password": "wrong-password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 422);
        let out = http
            .post(t.url("/api/v1/auth/sign-out"))
            .header("cookie", &session)
            .header("x-csrf-token", csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 204);
        assert_eq!(
            http.get(t.url("/api/v1/me"))
                .header("cookie", &session)
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
);

/// The admin created by the setup form is signed in by its answer: the cookie reads `me` and,
/// with the answer's CSRF token, writes.
async fn setup_signs_the_admin_in(backend: crate::harness::Backend) {
    let t = TestApp::spawn_empty(backend).await;
    let Ok(parley_server::FirstStart::SetupLink(link)) =
        parley_server::first_start(&t.app, None, None).await
    else {
        panic!("an empty database gives a setup link")
    };
    let token = link.split('#').nth(1).unwrap();
    let http = reqwest::Client::new();
    let r = http
        .post(t.url("/api/v1/setup"))
        .json(&json!({ "token": token, "workspace_name": "Acme", "name": "Ann", "email": "ann@acme.test", "password": "a-long-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let cookie = r
        .headers()
        .get("set-cookie")
        .expect("setup answers with a session cookie")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let body: serde_json::Value = r.json().await.unwrap();
    let csrf = body["csrf_token"]
        .as_str()
        .expect("a CSRF token")
        .to_string();
    let me: serde_json::Value = http
        .get(t.url("/api/v1/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["email"].as_str(), me["role"].as_str()),
        (Some("ann@acme.test"), Some("admin"))
    );
    let team = http
        .post(t.url("/api/v1/teams"))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "name": "Support" }))
        .send()
        .await
        .unwrap();
    assert_eq!(team.status(), 201);
}

on_both_backends!(setup_signs_the_admin_in, setup_signs_the_admin_in);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_setup_link_works_once() {
    let t = TestApp::spawn_empty(crate::harness::Backend::Sqlite).await;
    let link = match parley_server::first_start(&t.app, None, None)
        .await
        .unwrap()
    {
        parley_server::FirstStart::SetupLink(l) => l,
        _ => panic!("an empty database gives a setup link"),
    };
    let token = link.split('#').nth(1).unwrap().to_string();
    let body = |tok: &str| json!({ "token": tok, "workspace_name": "Acme", "name": "Ann", "email": "ann@acme.test", "password": "a-long-password" });
    let (s, _) = t.post("/api/v1/setup", "", body("wrong")).await;
    assert_eq!(s, 403);
    let (s, short) = t.post("/api/v1/setup", "", json!({ "token": token, "workspace_name": "Acme", "name": "Ann", "email": "ann@acme.test", "password": "short" })).await;
    assert_eq!(
        (s, short["error"]["field"].as_str()),
        (422, Some("password"))
    );
    assert!(
        t.app.store.is_empty().await.unwrap(),
        "a refused setup stores nothing"
    );
    let (s, v) = t.post("/api/v1/setup", "", body(&token)).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["user"]["role"], "admin");
    let (s, _) = t.post("/api/v1/setup", "", body(&token)).await;
    assert_eq!(s, 404, "the link works once");
    let (s, _) = t
        .post(
            "/api/v1/auth/sign-in",
            "",
            json!({ "email": "ann@acme.test", "password": "a-long-password" }),
        )
        .await;
    assert_eq!(s, 200);
    assert!(matches!(
        parley_server::first_start(&t.app, None, None)
            .await
            .unwrap(),
        parley_server::FirstStart::AlreadySetUp
    ));
}

on_both!(
    agents_see_contacts_of_their_inboxes_only,
    |t: TestApp| async move {
        let cb = crate::harness::Callback::start(0).await;
        let (inbox, secret) = t.api_inbox("Sales", &cb.url).await;
        assert_eq!(t.inbound(&inbox, &secret, "c9", "m1", "STOP").await.0, 200);
        let (_, found) = t.get("/api/v1/contacts?q=c9", &t.admin_token).await;
        let contact = found["items"][0]["id"].as_str().unwrap().to_string();
        let (_, ledger) = t
            .get(
                &format!("/api/v1/contacts/{contact}/consent"),
                &t.admin_token,
            )
            .await;
        assert_eq!(ledger["history"][0]["evidence"]["text"], "STOP", "{ledger}");
        // An agent who works no inbox: the customer of another inbox is not there.
        let (_, agent) = t.user("newbie@acme.test", "agent").await;
        let (s, v) = t.get("/api/v1/contacts?q=c9", &agent).await;
        assert_eq!(
            (s, v["items"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{v}"
        );
        let (_, v) = t.get("/api/v1/contacts", &agent).await;
        assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");
        for path in [
            "",
            "/consent",
            "/lists",
            "/timeline",
            "/conversations",
            "/channels",
        ] {
            let (s, v) = t
                .get(&format!("/api/v1/contacts/{contact}{path}"), &agent)
                .await;
            assert_eq!(s, 404, "{path}: {v}");
        }
        let (s, _) = t
            .patch(
                &format!("/api/v1/contacts/{contact}"),
                &agent,
                json!({ "name": "Renamed" }),
            )
            .await;
        assert_eq!(s, 404);
        // A supervisor sees them as before.
        let (_, sup) = t.user("sup@acme.test", "supervisor").await;
        let (s, _) = t.get(&format!("/api/v1/contacts/{contact}"), &sup).await;
        assert_eq!(s, 200);

        // The workspace lets every agent see every contact (off by default).
        let (_, settings) = t.get("/api/v1/compliance/settings", &agent).await;
        assert_eq!(
            settings["settings"]["contacts_visible_to_all_agents"], false,
            "{settings}"
        );
        let (s, v) = t
            .call(
                Method::PUT,
                "/api/v1/compliance/settings",
                &agent,
                Some(json!({ "contacts_visible_to_all_agents": true })),
            )
            .await;
        assert_eq!(s, 403, "{v}");
        let (s, v) = t
            .call(
                Method::PUT,
                "/api/v1/compliance/settings",
                &t.admin_token,
                Some(json!({ "contacts_visible_to_all_agents": true })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = t.get(&format!("/api/v1/contacts/{contact}"), &agent).await;
        assert_eq!((s, v["name"].as_str()), (200, Some("Customer c9")), "{v}");
        let (_, v) = t.get("/api/v1/contacts?q=c9", &agent).await;
        assert_eq!(v["items"][0]["id"], contact.as_str(), "{v}");
        // Their words in an inbox the agent does not work are still not quoted.
        let (s, ledger) = t
            .get(&format!("/api/v1/contacts/{contact}/consent"), &agent)
            .await;
        assert_eq!(s, 200);
        assert_eq!(
            ledger["history"][0]["evidence"]["text"], "(message in an inbox you cannot see)",
            "{ledger}"
        );
        assert!(!ledger.to_string().contains("STOP"), "{ledger}");
        // Their conversations stay out of reach.
        let (_, convs) = t
            .get(&format!("/api/v1/contacts/{contact}/conversations"), &agent)
            .await;
        assert_eq!(convs["items"].as_array().map(Vec::len), Some(0), "{convs}");
    }
);

on_both!(
    changing_ones_own_password_asks_for_the_current_one,
    |t: TestApp| async move {
        let (ann, token) = t.user("ann@acme.test", "agent").await;
        let path = format!("/api/v1/users/{ann}");
        let signs_in = |password: &'static str| {
            let t = &t;
            async move {
                t.post(
                    "/api/v1/auth/sign-in",
                    "",
                    json!({ "email": "ann@acme.test", "password": password }),
                )
                .await
                .0 == 200
            }
        };
        let change = |body: serde_json::Value| {
            let (t, path, token) = (&t, path.clone(), token.clone());
            async move { t.call(Method::PATCH, &path, &token, Some(body)).await }
        };
        // Missing or wrong: refused, with the field named, and nothing changes.
        let (s, v) = change(json!({ "password": "a-new-long-password", "name": "Ann B" })).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("current_password")),
            "{v}"
        );
        let (s, v) = change(json!({ "password": "a-new-long-password", "current_password": "not-my-password", "name": "Ann B" })).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (422, Some("wrong_password")),
            "{v}"
        );
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("current password"));
        let (_, users) = t.get("/api/v1/users", &t.admin_token).await;
        let me = users["items"]
            .as_array()
            .or(users.as_array())
            .unwrap()
            .iter()
            .find(|u| u["id"] == ann.as_str())
            .unwrap()
            .clone();
        assert_eq!(me["name"], "ann", "nothing changed: {me}");
        assert!(!signs_in("a-new-long-password").await);
        assert!(signs_in("long-enough-password").await);
        // With the current password it changes; the name alone needs none.
        let (s, v) = change(json!({ "password": "a-new-long-password", "current_password": "long-enough-password" })).await;
        assert_eq!(s, 200, "{v}");
        assert!(signs_in("a-new-long-password").await);
        assert!(!signs_in("long-enough-password").await);
        assert_eq!(change(json!({ "name": "Ann B" })).await.0, 200);
        // An admin resets another user's password without knowing it.
        let (s, v) = t
            .call(
                Method::PATCH,
                &path,
                &t.admin_token,
                Some(json!({ "password": "reset-by-the-admin" })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert!(signs_in("reset-by-the-admin").await);
    }
);

on_both!(
    guessing_the_current_password_is_held_back_like_a_sign_in,
    |t: TestApp| async move {
        let (ann, token) = t.user("ann@acme.test", "agent").await;
        let path = format!("/api/v1/users/{ann}");
        let change = |current: &'static str| {
            let (t, path, token) = (&t, path.clone(), token.clone());
            async move {
                t.call(
                    Method::PATCH,
                    &path,
                    &token,
                    Some(json!({ "password": "a-new-long-password", "current_password": current })),
                )
                .await
            }
        };
        let mut statuses = Vec::new();
        for _ in 0..6 {
            statuses.push(change("a-guess-at-it").await.0);
        }
        assert_eq!(statuses, vec![422, 422, 422, 422, 422, 429]);
        // Locked like a sign-in: even the right password waits, and nothing changed.
        let (s, v) = change("long-enough-password").await;
        assert_eq!(s, 429, "{v}");
        let (s, _) = t
            .post(
                "/api/v1/auth/sign-in",
                "",
                json!({ "email": "ann@acme.test", "password": "a-new-long-password" }),
            )
            .await;
        assert_ne!(s, 200);
    }
);

on_both!(
    an_agent_cannot_write_to_a_contact_they_cannot_see,
    |t: TestApp| async move {
        let cb = crate::harness::Callback::start(0).await;
        let (sales, secret) = t.api_inbox("Sales", &cb.url).await;
        assert_eq!(t.inbound(&sales, &secret, "c7", "m1", "Hi").await.0, 200);
        let (_, found) = t.get("/api/v1/contacts?q=c7", &t.admin_token).await;
        let contact = found["items"][0]["id"].as_str().unwrap().to_string();
        // An agent of another inbox only.
        let (support, _) = t.api_inbox("Support", &cb.url).await;
        let (agent_id, agent) = t.user("solo@acme.test", "agent").await;
        let (s, v) = t
            .call(
                Method::PUT,
                &format!("/api/v1/inboxes/{support}/members/{agent_id}"),
                &t.admin_token,
                None,
            )
            .await;
        assert!(s < 300, "{v}");
        let (s, v) = t
            .post(
                "/api/v1/conversations",
                &agent,
                json!({ "inbox_id": support, "contact_id": contact, "body": "Hello from support" }),
            )
            .await;
        assert_eq!(s, 404, "{v}");
        let (s, v) = t.get(&format!("/api/v1/contacts/{contact}"), &agent).await;
        assert_eq!(s, 404, "still out of sight: {v}");
    }
);
