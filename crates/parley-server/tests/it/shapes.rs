//! The public API as reviewed snapshots (tests/snapshots): the OpenAPI document, the main answers
//! and the error bodies. Ids, times, sequence numbers and secrets are redacted, so one snapshot
//! holds on SQLite and PostgreSQL and only a change of shape or wording shows in review.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::in_process;

/// Compares `v`, redacted, with the snapshot `name` under tests/snapshots.
fn snapshot(name: &str, mut v: Value) {
    redact(&mut v, "");
    insta::with_settings!({
        snapshot_path => "../snapshots",
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_json_snapshot!(name, v);
    });
}

/// Replaces what differs from run to run or between the databases by a placeholder naming it.
fn redact(v: &mut Value, key: &str) {
    let secret = ["token", "secret"]
        .iter()
        .any(|s| key == *s || key.ends_with(&format!("_{s}")));
    match v {
        Value::String(s) if secret && !s.is_empty() => *s = "[secret]".into(),
        Value::String(s) if parley_core::Timestamp::parse_rfc3339(s).is_some() => {
            *s = "[time]".into();
        }
        Value::String(s) => *s = redact_ids(s),
        Value::Number(_) if key == "seq" || key.ends_with("_seq") => *v = json!("[seq]"),
        Value::Array(items) => items.iter_mut().for_each(|x| redact(x, key)),
        Value::Object(fields) => fields.iter_mut().for_each(|(k, x)| redact(x, k)),
        _ => {}
    }
}

/// `text` with every UUID in it (alone or inside a URL) replaced by `[id]`.
fn redact_ids(text: &str) -> String {
    let is_uuid = |s: &[u8]| {
        s.len() == 36
            && s.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes.len() - i >= 36 && is_uuid(&bytes[i..i + 36]) {
            out.push_str("[id]");
            i += 36;
        } else {
            let c = text[i..].chars().next().expect("a char");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

in_process!(the_openapi_document, |t: TestApp| async move {
    let (s, mut doc) = t.get("/api/v1/openapi.json", "").await;
    assert_eq!(s, 200, "{doc}");
    // A release changes the version, not the API.
    doc["info"]["version"] = json!("[version]");
    snapshot("openapi", doc);
});

in_process!(the_main_answers, |t: TestApp| async move {
    let tok = t.admin_token.clone();
    let (s, v) = t
        .post(
            "/api/v1/auth/sign-in",
            "",
            json!({ "email": "admin@acme.test", "password": "admin-password" }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    snapshot("sign_in", v);
    let (_, v) = t.get("/api/v1/me", &tok).await;
    snapshot("me", v);

    let (s, v) = t
        .post(
            "/api/v1/inboxes",
            &tok,
            json!({ "name": "Support", "kind": "api", "callback_url": "http://127.0.0.1:9/cb" }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let inbox = v["id"].as_str().unwrap().to_string();
    let secret = v["secret"].as_str().unwrap().to_string();
    snapshot("inbox_created", v);
    let (_, v) = t.get("/api/v1/inboxes", &tok).await;
    snapshot("inboxes", v);

    let (s, v) = t
        .inbound(&inbox, &secret, "c1", "m1", "Where is my order?")
        .await;
    assert_eq!(s, 200, "{v}");
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    snapshot("hook_accepted", v);
    let (_, v) = t.get("/api/v1/conversations", &tok).await;
    snapshot("conversations", v);

    let (s, v) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &tok,
            json!({ "body": "It ships today." }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    snapshot("reply_sent", v);
    let (_, v) = t.get(&format!("/api/v1/conversations/{conv}"), &tok).await;
    let contact = v["contact_id"].as_str().unwrap().to_string();
    snapshot("conversation", v);
    let (_, v) = t
        .get(&format!("/api/v1/conversations/{conv}/timeline"), &tok)
        .await;
    snapshot("timeline", v);

    let (_, v) = t.get(&format!("/api/v1/contacts/{contact}"), &tok).await;
    snapshot("contact", v);
    let (s, v) = t
        .post(
            &format!("/api/v1/contacts/{contact}/consent"),
            &tok,
            json!({ "purpose": "promotional", "action": "grant", "source": "web_form", "evidence": { "form": "checkout" } }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    snapshot("consent_recorded", v);
    let (_, v) = t
        .get(&format!("/api/v1/contacts/{contact}/consent"), &tok)
        .await;
    snapshot("consent", v);
});

/// What, method, path, headers, body.
type ErrorCase<'a> = (&'a str, Method, String, Vec<(&'a str, &'a str)>, Vec<u8>);

in_process!(the_error_bodies, |t: TestApp| async move {
    let tok = t.admin_token.clone();
    let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hi").await;
    let reply = format!("/api/v1/conversations/{}/messages", v["conversation_id"]);
    let reply = reply.replace('"', "");
    let json_ct = ("content-type", "application/json");
    let bearer = format!("Bearer {tok}");
    let auth = ("authorization", bearer.as_str());
    let cases: Vec<ErrorCase> = vec![
        (
            "no credentials",
            Method::GET,
            "/api/v1/me".into(),
            vec![],
            vec![],
        ),
        (
            "a wrong token",
            Method::GET,
            "/api/v1/conversations".into(),
            vec![("authorization", "Bearer pat_wrong")],
            vec![],
        ),
        (
            "unknown id",
            Method::GET,
            format!("/api/v1/contacts/{}", uuid::Uuid::nil()),
            vec![auth],
            vec![],
        ),
        (
            "unknown route",
            Method::GET,
            "/api/v1/nothing-here".into(),
            vec![auth],
            vec![],
        ),
        (
            "wrong method",
            Method::PUT,
            "/api/v1/conversations".into(),
            vec![auth],
            vec![],
        ),
        (
            "unknown query parameter",
            Method::GET,
            "/api/v1/conversations?inbox_id=x".into(),
            vec![auth],
            vec![],
        ),
        (
            "bad id in path",
            Method::GET,
            "/api/v1/conversations/x".into(),
            vec![auth],
            vec![],
        ),
        (
            "bad JSON",
            Method::POST,
            reply.clone(),
            vec![auth, json_ct],
            b"{".to_vec(),
        ),
        (
            "not an object",
            Method::POST,
            reply.clone(),
            vec![auth, json_ct],
            b"[1]".to_vec(),
        ),
        (
            "unknown field",
            Method::POST,
            reply.clone(),
            vec![auth, json_ct],
            b"{\"body\":\"x\",\"bogus\":1}".to_vec(),
        ),
        (
            "wrong type",
            Method::POST,
            reply.clone(),
            vec![auth, json_ct],
            b"{\"body\":\"x\",\"choices\":[{\"id\":1}]}".to_vec(),
        ),
        (
            "not JSON",
            Method::POST,
            reply.clone(),
            vec![auth],
            b"hello".to_vec(),
        ),
        (
            "oversized body",
            Method::POST,
            reply.clone(),
            vec![auth, json_ct],
            vec![b' '; 70_000],
        ),
        (
            "bad signature",
            Method::POST,
            format!("/hooks/api/{inbox}"),
            vec![json_ct, ("x-parley-signature", "sha256=00")],
            b"{}".to_vec(),
        ),
    ];
    let mut answers = serde_json::Map::new();
    for (what, method, path, headers, body) in cases {
        let (status, text) = t.send(method, &path, &headers, body).await;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        assert!(
            (400..500).contains(&status) && body["error"]["code"].is_string(),
            "{what}: {status} {body}"
        );
        answers.insert(what.into(), json!({ "status": status, "body": body }));
    }
    snapshot("errors", Value::Object(answers));
});
