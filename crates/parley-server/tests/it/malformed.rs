//! Every class of bad request gets its 4xx with a JSON error body, and stores nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::on_both;

/// What, method, path, content type, body, expected status, expected code.
type Case<'a> = (
    &'a str,
    Method,
    String,
    Option<&'a str>,
    Vec<u8>,
    u16,
    &'a str,
);

async fn raw(
    t: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = t
        .http
        .request(method, t.url(path))
        .bearer_auth(&t.admin_token)
        .body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

on_both!(
    each_malformed_request_class_gets_its_4xx,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hi").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let reply = format!("/api/v1/conversations/{conv}/messages");
        let json_ct = Some("application/json");
        let cases: Vec<Case> = vec![
        ("bad JSON", Method::POST, reply.clone(), json_ct, b"{\"body\":".to_vec(), 400, "bad_json"),
        ("missing field", Method::POST, format!("/api/v1/conversations/{conv}/notes"), json_ct, b"{}".to_vec(), 422, "invalid_body"),
        ("empty reply", Method::POST, reply.clone(), json_ct, b"{}".to_vec(), 422, "invalid_field"),
        ("choices on a reply", Method::POST, reply.clone(), json_ct, b"{\"body\":\"x\",\"choices\":[{\"id\":1}]}".to_vec(), 422, "invalid_body"),
        ("wrong type", Method::POST, reply.clone(), json_ct, b"{\"body\":42}".to_vec(), 422, "invalid_body"),
        ("unknown field", Method::POST, reply.clone(), json_ct, b"{\"body\":\"x\",\"bogus\":1}".to_vec(), 422, "invalid_body"),
        ("empty body text", Method::POST, reply.clone(), json_ct, b"{\"body\":\"   \"}".to_vec(), 422, "invalid_field"),
        ("not JSON", Method::POST, reply.clone(), Some("text/plain"), b"hello".to_vec(), 415, "unsupported_media_type"),
        ("oversized body", Method::POST, reply.clone(), json_ct, format!("{{\"body\":\"{}\"}}", "x".repeat(70_000)).into_bytes(), 413, "body_too_large"),
        ("oversized hook", Method::POST, format!("/hooks/api/{inbox}"), json_ct, vec![b'x'; 70_000], 413, "body_too_large"),
        ("bad cursor", Method::GET, "/api/v1/conversations?cursor=not-a-cursor".into(), None, vec![], 400, "invalid_cursor"),
        ("bad limit", Method::GET, "/api/v1/conversations?limit=0".into(), None, vec![], 400, "invalid_query"),
        ("bad status filter", Method::GET, "/api/v1/conversations?status=closed".into(), None, vec![], 400, "invalid_query"),
        ("bad sort", Method::GET, "/api/v1/conversations?sort=random".into(), None, vec![], 400, "invalid_query"),
        ("bad assignee", Method::GET, "/api/v1/conversations?assignee=someone".into(), None, vec![], 400, "invalid_query"),
        ("bad id in path", Method::GET, "/api/v1/conversations/not-a-uuid".into(), None, vec![], 400, "invalid_path"),
        ("unknown id", Method::GET, format!("/api/v1/conversations/{}", uuid::Uuid::now_v7()), None, vec![], 404, "not_found"),
        ("unknown route", Method::GET, "/api/v1/nothing-here".into(), None, vec![], 404, "not_found"),
        ("wrong method", Method::PUT, "/api/v1/conversations".into(), None, vec![], 405, "method_not_allowed"),
        ("bad email", Method::POST, "/api/v1/contacts".into(), json_ct, b"{\"email\":\"not-an-email\"}".to_vec(), 422, "invalid_field"),
        ("bad phone", Method::POST, "/api/v1/contacts".into(), json_ct, b"{\"phone\":\"555\"}".to_vec(), 422, "invalid_field"),
        ("nested custom field", Method::POST, "/api/v1/contacts".into(), json_ct, b"{\"custom_fields\":{\"a\":{\"b\":1}}}".to_vec(), 422, "invalid_field"),
        ("bad label", Method::POST, format!("/api/v1/conversations/{conv}/labels"), json_ct, b"{\"add\":[\"no spaces allowed\"]}".to_vec(), 422, "invalid_field"),
        ("snooze in the past", Method::POST, format!("/api/v1/conversations/{conv}/snooze"), json_ct, b"{\"until\":\"2001-01-01T00:00:00Z\"}".to_vec(), 422, "snooze_in_past"),
        ("bad date", Method::POST, format!("/api/v1/conversations/{conv}/snooze"), json_ct, b"{\"until\":\"tomorrow\"}".to_vec(), 422, "invalid_body"),
        ("assign to a stranger", Method::POST, format!("/api/v1/conversations/{conv}/assign"), json_ct, format!("{{\"assignee_id\":\"{}\"}}", uuid::Uuid::now_v7()).into_bytes(), 422, "invalid_field"),
        ("short password", Method::POST, "/api/v1/users".into(), json_ct, b"{\"email\":\"z@acme.test\",\"name\":\"Z\",\"password\":\"short\",\"role\":\"agent\"}".to_vec(), 422, "invalid_field"),
        ("bad role", Method::POST, "/api/v1/users".into(), json_ct, b"{\"email\":\"z@acme.test\",\"name\":\"Z\",\"password\":\"long-enough-1\",\"role\":\"owner\"}".to_vec(), 422, "invalid_body"),
        ("bad callback URL", Method::POST, "/api/v1/inboxes".into(), json_ct, b"{\"name\":\"X\",\"kind\":\"api\",\"callback_url\":\"ftp://x\"}".to_vec(), 422, "invalid_field"),
        ("unknown inbox kind", Method::POST, "/api/v1/inboxes".into(), json_ct, b"{\"name\":\"X\",\"kind\":\"pigeon\"}".to_vec(), 422, "invalid_field"),
    ];
        for (what, method, path, ct, body, status, code) in cases {
            let (s, v) = raw(&t, method, &path, ct, body).await;
            assert_eq!(s, status, "{what}: {v}");
            assert_eq!(v["error"]["code"], code, "{what}: {v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()),
                "{what}: {v}"
            );
        }
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        assert_eq!(
            tl["items"].as_array().unwrap().len(),
            1,
            "no bad request stored anything: {tl}"
        );
        let (_, users) = t.get("/api/v1/users", &t.admin_token).await;
        assert_eq!(users["items"].as_array().unwrap().len(), 1);
        let (_, inboxes) = t.get("/api/v1/inboxes", &t.admin_token).await;
        assert_eq!(inboxes["items"].as_array().unwrap().len(), 1);
    }
);

on_both!(openapi_matches_the_real_routes, |t: TestApp| async move {
    let (s, doc) = t.get("/api/v1/openapi.json", "").await;
    assert_eq!(s, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = 0;
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            operations += 1;
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has a summary"
            );
            // Fill path parameters with a well-formed id that does not exist.
            let concrete = path
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        if seg == "{label}" {
                            "vip".to_string()
                        } else {
                            uuid::Uuid::nil().to_string()
                        }
                    } else {
                        seg.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = t
                .http
                .request(m, t.url(&concrete))
                .bearer_auth(&t.admin_token)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let unrouted =
                (status == 404 && body["error"]["message"] == "no such route") || status == 405;
            assert!(
                !unrouted,
                "{method} {path} is documented but not routed ({status} {body})"
            );
        }
    }
    assert!(operations >= 50, "{operations} operations documented");
    // And the reverse: a sample of routes the server answers are documented.
    for (m, p) in [
        ("get", "/api/v1/conversations"),
        ("post", "/api/v1/conversations/{id}/messages"),
        ("post", "/hooks/api/{inbox_id}"),
        ("get", "/api/v1/realtime"),
    ] {
        assert!(
            paths.get(p).and_then(|o| o.get(m)).is_some(),
            "{m} {p} documented"
        );
    }
    let _ = json!({});
});
