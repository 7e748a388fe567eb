//! The website widget's socket as a visitor's browser uses it: the pre-chat details, a message
//! that reaches the agents' inbox, the agent's reply and typing arriving live, delivery and read
//! reports, the thread kept across reconnects by the signed token, the site check, bad frames.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{last_delivery, Socket, TestApp};
use crate::on_both;
use crate::on_both_backends;

pub struct Visitor {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    pub hello: Value,
}

impl Visitor {
    pub async fn connect(t: &TestApp, inbox: &str, token: Option<&str>) -> Self {
        Self::connect_from(t, inbox, token, None)
            .await
            .expect("visitor socket connects")
    }

    /// Connects as a page on `origin` would; `Err` carries the HTTP status of a refusal.
    pub async fn connect_from(
        t: &TestApp,
        inbox: &str,
        token: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Self, u16> {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
        Self::connect_with(t, inbox, token, &headers).await
    }

    /// Connects with these request headers (an `x-forwarded-for` places the visitor at an
    /// address, as the proxy in front of Parley would).
    pub async fn connect_with(
        t: &TestApp,
        inbox: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Result<Self, u16> {
        let mut url = format!("ws://{}/widget/{inbox}/socket", t.addr);
        if let Some(tok) = token {
            url.push_str(&format!("?token={tok}"));
        }
        let mut req = url.into_client_request().expect("request");
        for (name, value) in headers {
            req.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .expect("name"),
                value.parse().expect("value"),
            );
        }
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .map_err(|e| match e {
                tokio_tungstenite::tungstenite::Error::Http(r) => r.status().as_u16(),
                _ => 0,
            })?;
        let mut v = Self {
            ws,
            hello: Value::Null,
        };
        v.hello = v.next_of("hello").await.expect("hello frame");
        Ok(v)
    }

    pub async fn send(&mut self, v: Value) {
        self.try_send(v).await.expect("send");
    }

    /// Sends a frame; an error once the server has closed the socket (as it does a flooding
    /// visitor's, while frames are still being written).
    pub async fn try_send(
        &mut self,
        v: Value,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(Message::Text(v.to_string().into())).await
    }

    /// Every frame's type until the server closes the socket (a close frame's reason last).
    pub async fn until_closed(&mut self) -> Vec<Value> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    seen.push(serde_json::from_str(t.as_str()).unwrap_or(Value::Null));
                }
                Ok(Some(Ok(Message::Close(c)))) => {
                    seen.push(
                        json!({ "type": "close", "reason": c.map(|c| c.reason.to_string()) }),
                    );
                    return seen;
                }
                Ok(Some(Ok(_))) => {}
                Ok(None) | Ok(Some(Err(_))) => return seen,
                Err(_) => panic!("the socket stayed open; frames so far: {seen:?}"),
            }
        }
    }

    /// The next frame of type `kind`, skipping others; `None` after 5 s.
    pub async fn next_of(&mut self, kind: &str) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let msg = tokio::time::timeout(left, self.ws.next())
                .await
                .ok()??
                .ok()?;
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(t.as_str()).ok()?;
                if v["type"] == kind {
                    return Some(v);
                }
            }
        }
    }
}

pub async fn widget_inbox(t: &TestApp, extra: Value) -> Value {
    let mut body = json!({ "name": "Website", "kind": "widget" });
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    let (s, v) = t.post("/api/v1/inboxes", &t.admin_token, body).await;
    assert_eq!(s, 201, "{v}");
    v
}

on_both!(a_visitor_chats_with_an_agent, |t: TestApp| async move {
    let inbox = widget_inbox(
        &t,
        json!({ "greeting": "Hi! How can we help?", "color": "#0A7B5C", "prechat_fields": ["email", "name"] }),
    )
    .await;
    let id = inbox["id"].as_str().unwrap();
    assert!(inbox["snippet"]
        .as_str()
        .unwrap()
        .contains(&format!(r#"/widget.js" data-inbox="{id}""#)));
    assert!(
        inbox.get("secret").is_none(),
        "the token key never leaves the server"
    );

    let mut v = Visitor::connect(&t, id, None).await;
    let cfg = &v.hello["config"];
    assert_eq!(cfg["title"], "Website");
    assert_eq!(cfg["greeting"], "Hi! How can we help?");
    assert_eq!(cfg["color"], "#0a7b5c");
    assert_eq!(cfg["prechat_fields"], json!(["name", "email"]));
    assert_eq!(v.hello["online"], false, "no agent is signed in");
    assert_eq!(v.hello["messages"], json!([]));
    let token = v.hello["token"].as_str().unwrap().to_string();

    // An agent signing in makes the business available.
    let mut agent = Socket::connect(&t, &t.admin_token, None).await;
    assert_eq!(v.next_of("availability").await.unwrap()["online"], true);

    // The pre-chat form, with a bad email first.
    v.send(json!({ "type": "contact", "name": "Dana", "email": "not-an-email" }))
        .await;
    let err = v.next_of("error").await.unwrap();
    assert_eq!(err["error"]["code"], "invalid_field");
    v.send(json!({ "type": "contact", "name": "Dana", "email": "dana@example.com" }))
        .await;
    assert_eq!(
        v.next_of("contact").await.unwrap()["contact"]["email"],
        "dana@example.com"
    );
    v.send(json!({ "type": "message", "text": "Do you ship to Norway?", "client_id": "c1" }))
        .await;
    let ack = v.next_of("ack").await.unwrap();
    assert_eq!(ack["client_id"], "c1");
    let own = v.next_of("message").await.unwrap();
    assert_eq!(own["message"]["direction"], "inbound");
    // A resend of the same client id (after a dropped connection) is stored once.
    v.send(json!({ "type": "message", "text": "Do you ship to Norway?", "client_id": "c1" }))
        .await;
    assert_eq!(
        v.next_of("ack").await.unwrap()["message_id"],
        ack["message_id"]
    );

    let created = agent
        .next_of(&["message.created"], Duration::from_secs(5))
        .await
        .unwrap();
    let conv = created["data"]["conversation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, c) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    let contact_id = c["contact_id"].as_str().unwrap();
    let (_, k) = t
        .get(&format!("/api/v1/contacts/{contact_id}"), &t.admin_token)
        .await;
    assert_eq!(
        (k["name"].as_str(), k["email"].as_str()),
        (Some("Dana"), Some("dana@example.com"))
    );
    assert_eq!(k["identities"][0]["kind"], "widget");

    // The visitor typing shows in the inbox; the agent typing shows in the widget.
    v.send(json!({ "type": "typing" })).await;
    let typing = agent
        .next_of(&["typing"], Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(typing["data"]["conversation_id"], conv.as_str());
    agent
        .send(json!({ "type": "typing", "conversation_id": conv }))
        .await;
    assert_eq!(v.next_of("typing").await.unwrap()["name"], "Admin");

    let (s, r) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "Yes, in 3 to 5 days." }),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let reply = v.next_of("message").await.unwrap();
    assert_eq!(reply["message"]["body"], "Yes, in 3 to 5 days.");
    assert_eq!(reply["message"]["direction"], "outbound");
    assert_eq!(reply["message"]["author"], "Admin");
    assert_eq!(
        last_delivery(&t, &conv, "delivered").await["status"],
        "delivered"
    );
    v.send(json!({ "type": "read", "message_id": reply["message"]["id"] }))
        .await;
    assert_eq!(last_delivery(&t, &conv, "read").await["status"], "read");

    // A note is never shown to the visitor.
    let (s, _) = t
        .post(
            &format!("/api/v1/conversations/{conv}/notes"),
            &t.admin_token,
            json!({ "body": "VIP customer" }),
        )
        .await;
    assert_eq!(s, 201);

    // Next page load: the token brings the thread back; a tampered token starts afresh.
    drop(v);
    let back = Visitor::connect(&t, id, Some(&token)).await;
    let bodies: Vec<&str> = back.hello["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        vec!["Do you ship to Norway?", "Yes, in 3 to 5 days."]
    );
    assert_eq!(back.hello["contact"]["name"], "Dana");
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('0') { '1' } else { '0' });
    let stranger = Visitor::connect(&t, id, Some(&forged)).await;
    assert_eq!(stranger.hello["messages"], json!([]));
    assert_ne!(stranger.hello["token"], token.as_str());
});

on_both!(widget_refusals, |t: TestApp| async move {
    let inbox = widget_inbox(
        &t,
        json!({ "website_url": "https://shop.example/products" }),
    )
    .await;
    assert_eq!(inbox["settings"]["website_origin"], "https://shop.example");
    let id = inbox["id"].as_str().unwrap();
    assert!(
        Visitor::connect_from(&t, id, None, Some("https://shop.example"))
            .await
            .is_ok()
    );
    assert_eq!(
        Visitor::connect_from(&t, id, None, Some("https://evil.example"))
            .await
            .err(),
        Some(403)
    );
    // Unknown inboxes, and inboxes of other kinds, have no widget.
    let nobody = "00000000-0000-7000-8000-000000000000";
    assert_eq!(
        Visitor::connect_from(&t, nobody, None, None).await.err(),
        Some(404)
    );
    let (api_inbox, _) = t.api_inbox("API", "http://127.0.0.1:9/cb").await;
    assert_eq!(
        Visitor::connect_from(&t, &api_inbox, None, None)
            .await
            .err(),
        Some(404)
    );

    // Bad settings are refused with the field named.
    for (body, field) in [
        (
            json!({ "name": "W", "kind": "widget", "color": "green" }),
            "color",
        ),
        (
            json!({ "name": "W", "kind": "widget", "prechat_fields": ["age"] }),
            "prechat_fields",
        ),
        (
            json!({ "name": "W", "kind": "widget", "website_url": "shop" }),
            "website_url",
        ),
        (
            json!({ "name": "W", "kind": "api", "greeting": "Hi" }),
            "website_url",
        ),
    ] {
        let (s, v) = t.post("/api/v1/inboxes", &t.admin_token, body).await;
        assert_eq!((s, v["error"]["field"].as_str()), (422, Some(field)), "{v}");
    }
    let (s, v) = t
        .patch(
            &format!("/api/v1/inboxes/{id}"),
            &t.admin_token,
            json!({ "greeting": "Hello there" }),
        )
        .await;
    assert_eq!(
        (s, v["settings"]["greeting"].as_str()),
        (200, Some("Hello there"))
    );

    // Bad frames get an error frame and the socket stays usable.
    let mut v = Visitor::connect_from(&t, id, None, Some("https://shop.example"))
        .await
        .unwrap();
    v.send(json!({ "type": "message", "text": "   " })).await;
    assert_eq!(v.next_of("error").await.unwrap()["error"]["field"], "text");
    v.ws.send(Message::Text("not json".into())).await.unwrap();
    assert_eq!(
        v.next_of("error").await.unwrap()["error"]["code"],
        "bad_frame"
    );
    v.send(json!({ "type": "contact" })).await;
    assert_eq!(
        v.next_of("error").await.unwrap()["error"]["code"],
        "invalid_field"
    );
    v.send(json!({ "type": "message", "text": "still here" }))
        .await;
    assert!(v.next_of("ack").await.is_some());
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "only the good message made a conversation"
    );
});

on_both!(a_visitor_picks_an_offered_choice, |t: TestApp| async move {
    let inbox = widget_inbox(&t, json!({})).await;
    let mut v = Visitor::connect(&t, inbox["id"].as_str().unwrap(), None).await;
    v.send(json!({ "type": "message", "text": "I need help" }))
        .await;
    v.next_of("ack").await.unwrap();
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let conv = list["items"][0]["id"].as_str().unwrap().to_string();
    t.post(
        &format!("/api/v1/conversations/{conv}/messages"),
        &t.admin_token,
        json!({ "body": "With what?", "choices": [{"id": "billing", "title": "Billing"}, {"id": "tech", "title": "A technical problem"}] }),
    )
    .await;
    let offered = loop {
        let m = v.next_of("message").await.unwrap();
        if m["message"]["direction"] == "outbound" {
            break m;
        }
    };
    assert_eq!(
        offered["message"]["choices"][1]["title"],
        "A technical problem"
    );
    v.send(json!({ "type": "message", "text": "A technical problem", "choice_id": "tech" }))
        .await;
    v.next_of("ack").await.unwrap();
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    let last = tl["items"].as_array().unwrap().last().unwrap()["data"]["message"].clone();
    assert_eq!(last["meta"]["choice"]["id"], "tech", "{last}");
});

on_both!(
    a_visitor_cannot_claim_a_known_customer,
    |t: TestApp| async move {
        let (s, victim) = t
        .post("/api/v1/contacts", &t.admin_token, json!({ "name": "Valerie Known", "email": "valerie@example.com", "phone": "+15551230009" }))
        .await;
        assert_eq!(s, 201, "{victim}");
        let inbox = widget_inbox(&t, json!({})).await;
        let id = inbox["id"].as_str().unwrap();
        let mut v = Visitor::connect(&t, id, None).await;
        v.send(json!({ "type": "contact", "email": "valerie@example.com" }))
            .await;
        v.next_of("contact").await.unwrap();
        v.send(json!({ "type": "message", "text": "What's my address on file?" }))
            .await;
        v.next_of("ack").await.unwrap();
        v.send(json!({ "type": "contact", "name": "Mallory" }))
            .await;
        let c = v.next_of("contact").await.unwrap();
        assert_eq!(
            c["contact"]["phone"],
            Value::Null,
            "nothing of the known customer is shown: {c}"
        );
        let token = v.hello["token"].as_str().unwrap().to_string();
        let back = Visitor::connect(&t, id, Some(&token)).await;
        assert_eq!(back.hello["contact"]["name"], "Mallory");
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        assert_ne!(
            list["items"][0]["contact_id"], victim["id"],
            "the visitor is a contact of their own"
        );
        let (_, k) = t
            .get(
                &format!("/api/v1/contacts/{}", victim["id"].as_str().unwrap()),
                &t.admin_token,
            )
            .await;
        assert_eq!(k["name"], "Valerie Known");
        assert_eq!(k["identities"].as_array().unwrap().len(), 0, "{k}");
    }
);

fn with_widget_limits(
    f: impl FnOnce(&mut parley_server::WidgetLimits),
) -> impl FnOnce(&mut parley_server::Config) {
    move |c| f(&mut c.widget)
}

on_both_backends!(
    a_flooding_visitor_is_told_and_closed_and_the_excess_is_not_stored,
    |backend| async move {
        let t =
            TestApp::spawn_configured(backend, with_widget_limits(|w| w.messages_per_minute = 5))
                .await;
        let inbox = widget_inbox(&t, json!({})).await;
        let id = inbox["id"].as_str().unwrap();
        let at = [("x-forwarded-for", "203.0.113.70")];
        let mut v = Visitor::connect_with(&t, id, None, &at).await.unwrap();
        let token = v.hello["token"].as_str().unwrap().to_string();
        for i in 0..12 {
            let spam = json!({ "type": "message", "text": format!("spam {i}"), "client_id": format!("m{i}") });
            if v.try_send(spam).await.is_err() {
                break; // closed mid-flood; what it answered before is read below
            }
        }
        let frames = v.until_closed().await;
        let acks = frames.iter().filter(|f| f["type"] == "ack").count();
        assert_eq!(acks, 5, "{frames:?}");
        let err = frames
            .iter()
            .find(|f| f["type"] == "error")
            .unwrap_or_else(|| panic!("no error frame: {frames:?}"));
        assert_eq!(err["error"]["code"], "rate_limited", "{err}");
        assert!(err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too fast"));
        assert_eq!(frames.last().unwrap()["type"], "close", "{frames:?}");
        // Only what was acknowledged was stored.
        let back = Visitor::connect_with(&t, id, Some(&token), &at)
            .await
            .unwrap();
        let bodies: Vec<&str> = back.hello["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["body"].as_str())
            .collect();
        assert_eq!(bodies, ["spam 0", "spam 1", "spam 2", "spam 3", "spam 4"]);
    }
);

on_both_backends!(
    too_many_sockets_from_one_address_or_visitor_are_refused,
    |backend| async move {
        let t = TestApp::spawn_configured(
            backend,
            with_widget_limits(|w| {
                w.sockets_per_address = 3;
                w.sockets_per_visitor = 2;
            }),
        )
        .await;
        let inbox = widget_inbox(&t, json!({})).await;
        let id = inbox["id"].as_str().unwrap();
        let here = [("x-forwarded-for", "203.0.113.80")];
        let mut open = Vec::new();
        for _ in 0..3 {
            open.push(Visitor::connect_with(&t, id, None, &here).await.unwrap());
        }
        assert_eq!(
            Visitor::connect_with(&t, id, None, &here).await.err(),
            Some(429)
        );
        let elsewhere = [("x-forwarded-for", "198.51.100.80")];
        let other = Visitor::connect_with(&t, id, None, &elsewhere)
            .await
            .unwrap();
        // A closed socket gives its place back.
        drop(open.pop());
        // Given back once the server has seen the close.
        let v = t
            .wait_until("the place to be given back", || async {
                Visitor::connect_with(&t, id, None, &here).await.ok()
            })
            .await;
        open.push(v);
        // One visitor (one token) holds two at most, whatever its address.
        let token = other.hello["token"].as_str().unwrap().to_string();
        let again = [("x-forwarded-for", "198.51.100.81")];
        let _second = Visitor::connect_with(&t, id, Some(&token), &again)
            .await
            .unwrap();
        assert_eq!(
            Visitor::connect_with(&t, id, Some(&token), &again)
                .await
                .err(),
            Some(429)
        );
    }
);

on_both_backends!(
    agents_stay_live_while_hundreds_of_visitors_flood,
    |backend| async move {
        let t = TestApp::spawn_configured(
            backend,
            with_widget_limits(|w| {
                w.messages_per_minute = 2;
                w.typing_per_second = 2;
            }),
        )
        .await;
        let inbox = widget_inbox(&t, json!({})).await;
        let id = inbox["id"].as_str().unwrap().to_string();
        let mut agent = Socket::connect(&t, &t.admin_token, None).await;
        let t = std::sync::Arc::new(t);
        let mut floods = Vec::new();
        for n in 0..200u32 {
            let (t, id) = (t.clone(), id.clone());
            floods.push(tokio::spawn(async move {
                let from = format!("10.20.{}.{}", n / 250, n % 250 + 1);
                let Ok(mut v) =
                    Visitor::connect_with(&t, &id, None, &[("x-forwarded-for", from.as_str())])
                        .await
                else {
                    return false;
                };
                for i in 0..10 {
                    let frame = json!({ "type": "message", "text": format!("flood {n} {i}") });
                    let typing = json!({ "type": "typing" });
                    if v.ws
                        .send(Message::Text(frame.to_string().into()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                    for _ in 0..3 {
                        if v.ws
                            .send(Message::Text(typing.to_string().into()))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                }
                let frames = v.until_closed().await;
                frames.iter().any(|f| f["error"]["code"] == "rate_limited")
            }));
        }
        // While they flood (their first message has reached the agent), a customer writes and the
        // agent sees it live.
        agent
            .next_of(&["message.created"], crate::waits::GUARD)
            .await
            .expect("the flood reaches the agent");
        let mut customer =
            Visitor::connect_with(&t, &id, None, &[("x-forwarded-for", "192.0.2.99")])
                .await
                .unwrap();
        customer
            .send(json!({ "type": "message", "text": "a real question" }))
            .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let ev = agent
                .next_of(&["message.created"], left)
                .await
                .expect("the agent's socket stays live");
            if ev["data"]["message"]["body"] == "a real question" {
                break;
            }
        }
        let mut limited = 0;
        for f in floods {
            limited += usize::from(f.await.unwrap());
        }
        assert_eq!(limited, 200, "every flooding visitor was stopped");
    }
);

on_both_backends!(
    a_visitor_socket_that_does_not_read_is_closed,
    |backend| async move {
        let t = TestApp::spawn_configured(backend, |c| {
            c.socket_max_behind_bytes = 256 * 1024;
            c.socket_send_timeout_ms = 500;
        })
        .await;
        let inbox = widget_inbox(&t, json!({})).await;
        let id = inbox["id"].as_str().unwrap();
        let mut v = Visitor::connect(&t, id, None).await;
        v.send(json!({ "type": "message", "text": "Hello?", "client_id": "c1" }))
            .await;
        assert!(v.next_of("ack").await.is_some());
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let (_, me) = t.get("/api/v1/me", &t.admin_token).await;
        let workspace: parley_core::WorkspaceId =
            serde_json::from_value(me["workspace_id"].clone()).unwrap();
        let inbox_id: parley_core::InboxId = serde_json::from_value(inbox["id"].clone()).unwrap();
        // Thousands of long messages for this visitor while it reads nothing.
        let pad = "x".repeat(4096);
        for batch in 0..30 {
            let events: Vec<parley_store::Published> = (0..100)
                .map(|i| parley_store::Published {
                    seq: 1_000_000 + batch * 100 + i,
                    workspace_id: workspace,
                    inbox_id,
                    conversation_id: None,
                    kind: "message.created".into(),
                    at: t.app.now(),
                    data: json!({ "message": { "id": format!("m{batch}-{i}"),
                        "conversation_id": conv, "direction": "inbound",
                        "sender_kind": "contact", "body": pad } })
                    .to_string(),
                })
                .collect();
            t.app.hub.publish_committed(&events);
            tokio::task::yield_now().await;
        }
        // Now read: what was sent before it fell behind, then the close frame.
        let mut got = 0;
        let code = loop {
            match tokio::time::timeout(Duration::from_secs(20), v.ws.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => got += 1,
                Ok(Some(Ok(Message::Close(Some(f))))) => break u16::from(f.code),
                Ok(Some(Ok(_))) => {}
                other => panic!("the socket was not closed with a close frame: {other:?}"),
            }
        };
        assert_eq!(code, 1013);
        assert!(got < 3_000, "it was closed before the end ({got} frames)");
    }
);

on_both!(
    a_visitors_keywords_act_once_like_any_channels,
    |t: TestApp| async move {
        let inbox = widget_inbox(&t, json!({})).await;
        let mut v = Visitor::connect(&t, inbox["id"].as_str().unwrap(), None).await;
        // HELP is answered, and a resend of it (the same client id) is not answered again.
        for _ in 0..2 {
            v.send(json!({ "type": "message", "text": "HELP", "client_id": "h1" }))
                .await;
            v.next_of("ack").await.unwrap();
        }
        // STOP is recorded with its message, confirmed once, and a resend changes nothing.
        for _ in 0..2 {
            v.send(json!({ "type": "message", "text": "STOP", "client_id": "s1" }))
                .await;
            v.next_of("ack").await.unwrap();
        }
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let contact = list["items"][0]["contact_id"].as_str().unwrap().to_string();
        let (_, c) = t
            .get(
                &format!("/api/v1/contacts/{contact}/consent"),
                &t.admin_token,
            )
            .await;
        assert_eq!(c["states"]["widget"]["conversational"], "revoked", "{c}");
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        let items = tl["items"].as_array().unwrap();
        let kinds = |kind: &str| items.iter().filter(|e| e["type"] == kind).count();
        let notices: Vec<&str> = items
            .iter()
            .filter_map(|e| e["data"]["message"]["meta"]["notice"].as_str())
            .collect();
        assert_eq!(notices, ["help", "opt_out_confirmation"], "{tl}");
        assert_eq!(kinds("consent.changed"), 3, "{tl}");
    }
);
