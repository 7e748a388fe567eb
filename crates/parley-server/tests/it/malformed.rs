//! Every class of bad request gets its 4xx with a JSON error body, and stores nothing; and the
//! OpenAPI document lists what the router serves. What a request alone decides, so the
//! application is driven in-process, through its router.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::in_process;

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
    let bearer = format!("Bearer {}", t.admin_token);
    let mut headers = vec![("authorization", bearer.as_str())];
    if let Some(ct) = content_type {
        headers.push(("content-type", ct));
    }
    let (s, text) = t.send(method, path, &headers, body).await;
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

in_process!(
    each_malformed_request_class_gets_its_4xx,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hi").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let reply = format!("/api/v1/conversations/{conv}/messages");
        let json_ct = Some("application/json");
        let cases: Vec<Case> = vec![
        ("bad JSON", Method::POST, reply.clone(), json_ct, b"{\"body\":".to_vec(), 400, "bad_json"),
        ("missing field", Method::POST, format!("/api/v1/conversations/{conv}/notes"), json_ct, b"{}".to_vec(), 422, "invalid_field"),
        ("empty reply", Method::POST, reply.clone(), json_ct, b"{}".to_vec(), 422, "invalid_field"),
        ("choices on a reply", Method::POST, reply.clone(), json_ct, b"{\"body\":\"x\",\"choices\":[{\"id\":1}]}".to_vec(), 422, "invalid_field"),
        ("wrong type", Method::POST, reply.clone(), json_ct, b"{\"body\":42}".to_vec(), 422, "invalid_field"),
        ("unknown field", Method::POST, reply.clone(), json_ct, b"{\"body\":\"x\",\"bogus\":1}".to_vec(), 422, "unknown_field"),
        ("empty body text", Method::POST, reply.clone(), json_ct, b"{\"body\":\"   \"}".to_vec(), 422, "invalid_field"),
        ("not JSON", Method::POST, reply.clone(), Some("text/plain"), b"hello".to_vec(), 415, "unsupported_media_type"),
        ("oversized body", Method::POST, reply.clone(), json_ct, format!("{{\"body\":\"{}\"}}", "x".repeat(70_000)).into_bytes(), 413, "body_too_large"),
        ("oversized hook", Method::POST, format!("/hooks/api/{inbox}"), json_ct, vec![b'x'; 70_000], 413, "body_too_large"),
        ("reply as an array", Method::POST, reply.clone(), json_ct, b"[\"text\"]".to_vec(), 422, "invalid_body"),
        ("priority as an array", Method::PATCH, format!("/api/v1/conversations/{conv}"), json_ct, b"[\"urgent\"]".to_vec(), 422, "invalid_body"),
        ("note as an array", Method::POST, format!("/api/v1/conversations/{conv}/notes"), json_ct, b"[\"x\"]".to_vec(), 422, "invalid_body"),
        ("body as a string", Method::POST, reply.clone(), json_ct, b"\"text\"".to_vec(), 422, "invalid_body"),
        ("unknown query parameter", Method::GET, "/api/v1/conversations?inbox_id=x".into(), None, vec![], 400, "invalid_query"),
        ("query where none is taken", Method::GET, "/api/v1/lists?name=x".into(), None, vec![], 400, "invalid_query"),
        ("query parameter twice", Method::GET, "/api/v1/contacts?q=a&q=b".into(), None, vec![], 400, "invalid_query"),
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
        ("bad date", Method::POST, format!("/api/v1/conversations/{conv}/snooze"), json_ct, b"{\"until\":\"tomorrow\"}".to_vec(), 422, "invalid_field"),
        ("assign to a stranger", Method::POST, format!("/api/v1/conversations/{conv}/assign"), json_ct, format!("{{\"assignee_id\":\"{}\"}}", uuid::Uuid::now_v7()).into_bytes(), 422, "invalid_field"),
        ("short password", Method::POST, "/api/v1/users".into(), json_ct, b"{\"email\":\"z@acme.test\",\"name\":\"Z\",\"password\":\"short\",\"role\":\"agent\"}".to_vec(), 422, "invalid_field"),
        ("bad role", Method::POST, "/api/v1/users".into(), json_ct, b"{\"email\":\"z@acme.test\",\"name\":\"Z\",\"password\":\"long-enough-1\",\"role\":\"owner\"}".to_vec(), 422, "invalid_field"),
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

// A JSON body's mistake is told by the field it is in, so a client can show it there.
in_process!(body_errors_name_their_field, |t: TestApp| async move {
    let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hi").await;
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    let reply = format!("/api/v1/conversations/{conv}/messages");
    let note = format!("/api/v1/conversations/{conv}/notes");
    let cases = [
        (
            &reply,
            json!({ "body": "x", "bogus": 1 }),
            "unknown_field",
            "bogus",
        ),
        (&reply, json!({ "body": 42 }), "invalid_field", "body"),
        (
            &reply,
            json!({ "body": "x", "choices": [{ "id": 1, "title": "A" }] }),
            "invalid_field",
            "choices[0].id",
        ),
        (
            &reply,
            json!({ "template": { "name": "t", "language": "en", "colour": "red" } }),
            "unknown_field",
            "template.colour",
        ),
        (
            &reply,
            json!({ "body": "x", "purpose": "marketing" }),
            "invalid_field",
            "purpose",
        ),
        // Nested structs are read by name too, never by position.
        (
            &reply,
            json!({ "template": ["hello", "en_US"] }),
            "invalid_field",
            "template",
        ),
        (
            &reply,
            json!({ "choices": [["c1", "Yes"]] }),
            "invalid_field",
            "choices[0]",
        ),
        (&note, json!({}), "invalid_field", "body"),
        (
            &note,
            json!({ "body": "x", "mentions": "ann" }),
            "invalid_field",
            "mentions",
        ),
    ];
    for (path, body, code, field) in cases {
        let (s, v) = t.post(path, &t.admin_token, body.clone()).await;
        assert_eq!(s, 422, "{body}: {v}");
        assert_eq!(v["error"]["code"], code, "{body}: {v}");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(field),
            "the message names {field}: {message}"
        );
    }
    let (_, v) = t
        .post(&reply, &t.admin_token, json!({ "body": "x", "bogus": 1 }))
        .await;
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("`purpose`"),
        "the message lists what is taken: {message}"
    );
    // A body given as an array is refused, not read by position.
    let (s, v) = t
        .call(
            Method::PATCH,
            &format!("/api/v1/conversations/{conv}"),
            &t.admin_token,
            Some(json!(["urgent"])),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("invalid_body")),
        "{v}"
    );
    let (_, c) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    assert_eq!(c["priority"], "normal", "{c}");
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    assert_eq!(tl["items"].as_array().unwrap().len(), 1, "{tl}");
});

/// A typing body, the status it gets, the error code and the field named.
type TypingCase<'a> = (&'a [u8], u16, Option<&'a str>, Option<&'a str>);

// The typing signal reads its optional body as every other request does.
in_process!(typing_body_is_read_by_name, |t: TestApp| async move {
    let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hi").await;
    let conv = v["conversation_id"].as_str().unwrap().to_string();
    let typing = format!("/api/v1/conversations/{conv}/typing");
    let json_ct = Some("application/json");
    let cases: [TypingCase; 5] = [
        (b"[false]", 422, Some("invalid_body"), None),
        (
            b"{\"to_customer\":\"no\"}",
            422,
            Some("invalid_field"),
            Some("to_customer"),
        ),
        (b"{\"to\":false}", 422, Some("unknown_field"), Some("to")),
        (b"{\"to_customer\":false}", 204, None, None),
        (b"", 204, None, None),
    ];
    for (body, status, code, field) in cases {
        let (s, v) = raw(&t, Method::POST, &typing, json_ct, body.to_vec()).await;
        let what = String::from_utf8_lossy(body);
        assert_eq!(s, status, "{what}: {v}");
        assert_eq!(v["error"]["code"].as_str(), code, "{what}: {v}");
        assert_eq!(v["error"]["field"].as_str(), field, "{what}: {v}");
    }
});

// A misspelt filter is refused naming it, rather than ignored with every conversation answered.
in_process!(
    unknown_query_parameters_are_refused,
    |t: TestApp| async move {
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        t.inbound(&inbox, &secret, "c1", "m1", "hi").await;
        let (s, v) = t
            .get(
                &format!("/api/v1/conversations?inbox_id={inbox}"),
                &t.admin_token,
            )
            .await;
        assert_eq!(s, 400, "{v}");
        assert_eq!(v["error"]["code"], "invalid_query");
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("`inbox_id`") && message.contains("inbox"),
            "{message}"
        );
        let (s, v) = t
            .get(
                &format!("/api/v1/conversations?inbox={inbox}"),
                &t.admin_token,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
        let (s, v) = t
            .get(
                &format!("/api/v1/conversations?inbox={}", uuid::Uuid::now_v7()),
                &t.admin_token,
            )
            .await;
        assert_eq!(
            (s, v["items"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{v}"
        );
        // A bad value of a known parameter names it.
        for (path, name) in [
            ("/api/v1/conversations?inbox=nope", "inbox"),
            ("/api/v1/conversations?limit=ten", "limit"),
            ("/api/v1/audit?limit=0", "limit"),
            ("/api/v1/conversations?label=no%20spaces", "label"),
            (
                "/api/v1/exports/conversations?from=yesterday&to=today",
                "from",
            ),
        ] {
            let (s, v) = t.get(path, &t.admin_token).await;
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (400, Some("invalid_query")),
                "{path}: {v}"
            );
            let message = v["error"]["message"].as_str().unwrap();
            assert!(message.contains(name), "{path}: {message}");
        }
        // Endpoints without a query of their own refuse one too, and the document lists each
        // endpoint's parameters.
        let (s, _) = t.get("/api/v1/inboxes?kind=sms", &t.admin_token).await;
        assert_eq!(s, 400);
        let (_, doc) = t.get("/api/v1/openapi.json", "").await;
        let names = |path: &str| -> Vec<String> {
            doc["paths"][path]["get"]["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "query")
                        .map(|p| p["name"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(
            names("/api/v1/conversations"),
            [
                "status", "assignee", "inbox", "team", "label", "priority", "sort", "cursor",
                "limit"
            ]
        );
        assert_eq!(
            names("/api/v1/conversations/{id}/timeline"),
            ["before", "limit"]
        );
        assert_eq!(names("/api/v1/realtime"), ["since", "token"]);
        assert!(names("/api/v1/inboxes").is_empty());
    }
);

in_process!(openapi_matches_the_real_routes, |t: TestApp| async move {
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
            let (status, body) =
                raw(&t, m, &concrete, Some("application/json"), b"{}".to_vec()).await;
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
    // Pages and hooks outside the API list the query parameters they read, too.
    let query_of = |path: &str| -> Vec<String> {
        paths[path]["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        query_of("/survey/{inbox_id}/{conversation_id}"),
        ["at", "sig"]
    );
    assert_eq!(
        query_of("/hooks/whatsapp/{inbox_id}"),
        ["hub.mode", "hub.verify_token", "hub.challenge"]
    );
    // Numbers are typed as numbers.
    let type_of = |path: &str, name: &str| {
        paths[path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["schema"]["type"].clone())
    };
    assert_eq!(type_of("/api/v1/realtime", "since"), Some(json!("integer")));
    assert_eq!(
        type_of("/api/v1/conversations", "limit"),
        Some(json!("integer"))
    );
    assert_eq!(
        type_of("/media/{inbox_id}/{attachment}", "exp"),
        Some(json!("integer"))
    );
    assert_eq!(
        type_of("/api/v1/conversations", "inbox"),
        Some(json!("string"))
    );
    let _ = json!({});
});
