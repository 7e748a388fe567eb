//! Connections and credentials at the edge: the realtime socket's Origin check, revocations that
//! close (or re-scope) open sockets on every server, and connections that do not keep up.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Backend, TestApp};
use crate::on_both;
use crate::on_both_backends;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the realtime socket with this query, cookie and Origin; `Err` is the refusal's status.
async fn open(
    t: &TestApp,
    query: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, u16> {
    let mut req = format!("ws://{}/api/v1/realtime{query}", t.addr)
        .into_client_request()
        .unwrap();
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().unwrap());
    }
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("connecting: {e}"),
    }
}

/// A socket with a token, past its `ready` frame.
async fn live(t: &TestApp, token: &str) -> Ws {
    let mut ws = open(t, &format!("?token={token}"), None, None)
        .await
        .expect("socket opens");
    let ready = next_text(&mut ws).await.expect("ready");
    assert_eq!(ready["type"], "ready");
    ws
}

async fn next_text(ws: &mut Ws) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Some(Ok(_))) => {}
            _ => return None,
        }
    }
}

/// Reads until the server closes the socket: its close code and reason (None if it never does,
/// or drops the connection without a close frame).
async fn close_of(ws: &mut Ws) -> Option<(u16, String)> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(f))))) => {
                return Some((f.code.into(), f.reason.as_str().to_string()))
            }
            Ok(Some(Ok(Message::Close(None)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => {
                return None
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// Signs in: the session cookie (`name=value`) and the CSRF token.
async fn sign_in(t: &TestApp, email: &str, password: &str) -> (String, String) {
    let r = t
        .http
        .post(t.url("/api/v1/auth/sign-in"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    let session = cookie.split(';').next().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    (session, body["csrf_token"].as_str().unwrap().to_string())
}

on_both!(
    a_cookie_socket_checks_its_origin_whatever_the_query_holds,
    |t: TestApp| async move {
        let (cookie, _) = sign_in(&t, "admin@acme.test", "admin-password").await;
        let own = format!("http://{}", t.addr);
        let evil = Some("https://shop.example");
        // A name that only decodes to `token`, an empty token, a wrong one: each is a token that
        // does not hold, never a reason to skip the check and use the cookie.
        for query in [
            "?%74oken=x",
            "?to%6Ben=",
            "?token=",
            "?token=pat_wrong",
            "?since=0&%74oken=pat_x",
        ] {
            assert_eq!(
                open(&t, query, Some(&cookie), evil).await.err(),
                Some(401),
                "{query}"
            );
        }
        for query in ["", "?since=0"] {
            assert_eq!(
                open(&t, query, Some(&cookie), evil).await.err(),
                Some(403),
                "{query}"
            );
        }
        // A parameter the socket does not take is refused before anything else.
        for query in ["?tokens=1", "?x=token%3D"] {
            assert_eq!(
                open(&t, query, Some(&cookie), evil).await.err(),
                Some(400),
                "{query}"
            );
        }
        assert!(open(&t, "?since=0", Some(&cookie), Some(&own))
            .await
            .is_ok());
        // A valid token is no ambient credential: it authenticates from anywhere.
        let q = format!("?token={}", t.admin_token);
        assert!(open(&t, &q, Some(&cookie), evil).await.is_ok());
        let q = format!("?%74oken={}", t.admin_token);
        assert!(open(&t, &q, None, evil).await.is_ok());
    }
);

on_both!(
    revocations_close_the_sockets_they_opened,
    |t: TestApp| async move {
        let (ann, ann_token) = t.user("ann@acme.test", "agent").await;

        // A revoked token: its socket closes and it opens no other.
        let (s, v) = t
            .post("/api/v1/tokens", &ann_token, json!({ "name": "laptop" }))
            .await;
        assert_eq!(s, 201, "{v}");
        let (laptop, laptop_id) = (v["token"].as_str().unwrap(), v["id"].as_str().unwrap());
        let mut ws = live(&t, laptop).await;
        let (s, _) = t
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/tokens/{laptop_id}"),
                &ann_token,
                None,
            )
            .await;
        assert_eq!(s, 204);
        let (code, reason) = close_of(&mut ws).await.expect("closed with a close frame");
        assert_eq!(code, 1008, "{reason}");
        assert_eq!(
            open(&t, &format!("?token={laptop}"), None, None)
                .await
                .err(),
            Some(401)
        );

        // Signing out closes that session's sockets.
        let own = format!("http://{}", t.addr);
        let (cookie, csrf) = sign_in(&t, "ann@acme.test", "long-enough-password").await;
        let mut ws = open(&t, "", Some(&cookie), Some(&own)).await.unwrap();
        let out = t
            .http
            .post(t.url("/api/v1/auth/sign-out"))
            .header("cookie", &cookie)
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 204);
        assert_eq!(close_of(&mut ws).await.map(|c| c.0), Some(1008));
        assert_eq!(
            open(&t, "", Some(&cookie), Some(&own)).await.err(),
            Some(401)
        );

        // A new password ends every session of the user, and their sockets.
        let (cookie, _) = sign_in(&t, "ann@acme.test", "long-enough-password").await;
        let mut ws = open(&t, "", Some(&cookie), Some(&own)).await.unwrap();
        let (s, v) = t
            .patch(
                &format!("/api/v1/users/{ann}"),
                &t.admin_token,
                json!({ "password": "another-long-password" }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(close_of(&mut ws).await.map(|c| c.0), Some(1008));
        assert_eq!(
            open(&t, "", Some(&cookie), Some(&own)).await.err(),
            Some(401)
        );

        // A removed user's sockets close, whatever opened them.
        let mut ws = live(&t, &ann_token).await;
        let (s, _) = t
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/users/{ann}"),
                &t.admin_token,
                None,
            )
            .await;
        assert_eq!(s, 204);
        assert_eq!(close_of(&mut ws).await.map(|c| c.0), Some(1008));
        assert_eq!(
            open(&t, &format!("?token={ann_token}"), None, None)
                .await
                .err(),
            Some(401)
        );
    }
);

on_both!(
    a_demoted_agent_or_one_taken_off_an_inbox_stops_hearing_it,
    |t: TestApp| async move {
        let (support, s_secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (sales, x_secret) = t.api_inbox("Sales", "http://127.0.0.1:9/cb").await;
        let (bob, bob_token) = t.user("bob@acme.test", "admin").await;
        let (cid, cid_token) = t.user("cid@acme.test", "agent").await;
        for (inbox, user) in [(&support, &bob), (&support, &cid), (&sales, &cid)] {
            let s = t.add_member(inbox, user).await;
            assert_eq!(s, 204);
        }
        let mut bob_ws = live(&t, &bob_token).await;
        let mut cid_ws = live(&t, &cid_token).await;
        let (s, v) = t
            .patch(
                &format!("/api/v1/users/{bob}"),
                &t.admin_token,
                json!({ "role": "agent" }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, _) = t
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/inboxes/{sales}/members/{cid}"),
                &t.admin_token,
                None,
            )
            .await;
        assert_eq!(s, 204);
        // Sales first, then Support: the first message either hears is Support's.
        t.inbound(&sales, &x_secret, "c1", "m-1", "for sales").await;
        t.inbound(&support, &s_secret, "c2", "m-2", "for support")
            .await;
        for ws in [&mut bob_ws, &mut cid_ws] {
            let first = loop {
                let v = next_text(ws).await.expect("an event");
                if v["type"] == "message.created" {
                    break v;
                }
            };
            assert_eq!(first["data"]["message"]["body"], "for support", "{first}");
        }
    }
);

/// Two servers on one database: a revocation made on one closes sockets open on the other.
async fn across_servers(a: TestApp) {
    let b = a.second_node(|_| {}).await;
    let (ann, ann_token) = a.user("ann@acme.test", "agent").await;
    let (s, v) = a
        .post("/api/v1/tokens", &ann_token, json!({ "name": "phone" }))
        .await;
    assert_eq!(s, 201, "{v}");
    let (phone, phone_id) = (v["token"].as_str().unwrap(), v["id"].as_str().unwrap());
    let mut on_b = live(&b, phone).await;
    let (s, _) = a
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/tokens/{phone_id}"),
            &ann_token,
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(close_of(&mut on_b).await.map(|c| c.0), Some(1008));
    assert_eq!(
        open(&b, &format!("?token={phone}"), None, None).await.err(),
        Some(401)
    );
    // Removing the user on one server closes their sockets on the other.
    let mut on_b = live(&b, &ann_token).await;
    let (s, _) = a
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/users/{ann}"),
            &a.admin_token,
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(close_of(&mut on_b).await.map(|c| c.0), Some(1008));
}

on_both!(
    a_revocation_on_one_server_closes_sockets_on_another,
    across_servers
);

/// A socket that never reads while thousands of long events go out is closed, told where to
/// resume, and lets go of what it held.
async fn a_socket_that_does_not_read_is_closed(backend: Backend) {
    let t = TestApp::spawn_tuned(backend, |c| {
        c.socket_max_behind_bytes = 256 * 1024;
        c.socket_send_timeout_ms = 500;
    })
    .await;
    let (inbox, _) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let (_, me) = t.get("/api/v1/me", &t.admin_token).await;
    let workspace: parley_core::WorkspaceId =
        serde_json::from_value(me["workspace_id"].clone()).expect("workspace id");
    let inbox: parley_core::InboxId = serde_json::from_value(json!(inbox)).unwrap();
    let mut ws = live(&t, &t.admin_token).await;
    let pad = "x".repeat(4096);
    for batch in 0..30 {
        let events: Vec<parley_store::Published> = (0..100)
            .map(|i| parley_store::Published {
                seq: 1_000_000 + batch * 100 + i,
                workspace_id: workspace,
                inbox_id: inbox,
                conversation_id: None,
                kind: "message.created".into(),
                at: t.app.now(),
                data: json!({ "pad": pad }).to_string(),
            })
            .collect();
        t.app.hub.publish_committed(&events);
        tokio::task::yield_now().await;
    }
    // Now read: what was sent, then the close frame naming the last event sent.
    let mut last_seen = 0;
    let reason = loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                last_seen = v["seq"].as_i64().unwrap_or(last_seen);
            }
            Ok(Some(Ok(Message::Close(Some(f))))) => {
                assert_eq!(u16::from(f.code), 1013);
                break f.reason.as_str().to_string();
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("the socket was not closed with a close frame: {other:?}"),
        }
    };
    let since: i64 = reason
        .strip_prefix("too far behind: reconnect with ?since=")
        .unwrap_or_else(|| panic!("{reason}"))
        .parse()
        .unwrap();
    // Resuming there loses nothing (and repeats at most the event that was in flight).
    let first = 1_000_000;
    assert!(
        since >= first - 1 && since >= last_seen - 1 && since <= last_seen.max(first - 1),
        "{since} {last_seen}"
    );
    assert!(
        last_seen < 1_000_000 + 2_999,
        "it was closed before the end"
    );
}

on_both_backends!(
    a_socket_that_does_not_read_is_closed,
    a_socket_that_does_not_read_is_closed
);

on_both!(
    a_flood_of_typing_never_makes_the_committed_feed_lag,
    |t: TestApp| async move {
        let (_, me) = t.get("/api/v1/me", &t.admin_token).await;
        let workspace: parley_core::WorkspaceId =
            serde_json::from_value(me["workspace_id"].clone()).unwrap();
        let mut committed = t.app.hub.subscribe();
        let mut typing = t.app.hub.subscribe_ephemeral();
        for _ in 0..20_000 {
            t.app
                .hub
                .publish_ephemeral(workspace, None, None, "typing", json!({}));
        }
        let inbox: parley_core::InboxId =
            serde_json::from_value(json!(uuid::Uuid::now_v7())).unwrap();
        t.app.hub.publish_committed(&[parley_store::Published {
            seq: 7,
            workspace_id: workspace,
            inbox_id: inbox,
            conversation_id: None,
            kind: "message.created".into(),
            at: t.app.now(),
            data: "{}".into(),
        }]);
        let first = committed
            .recv()
            .await
            .expect("no lag on the committed feed");
        assert_eq!(first.seq, Some(7));
        // The typing receiver lost what it could not hold, and only that.
        assert!(matches!(
            typing.recv().await,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_))
        ));
    }
);

/// Reads until the server closes the connection (true) or `bytes` have been sent one by one
/// without it doing so (false).
async fn dribble_until_closed(stream: &mut tokio::net::TcpStream, bytes: &[u8]) -> bool {
    let mut buf = [0u8; 1024];
    for b in bytes {
        if stream.write_all(&[*b]).await.is_err() {
            return true;
        }
        match tokio::time::timeout(Duration::from_millis(50), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    false
}

/// Whether the server closes the connection while it says nothing (within a generous bound).
async fn closed_while_silent(stream: &mut tokio::net::TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(20), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_sent_byte_by_byte_is_cut_off() {
    let t = TestApp::spawn_tuned(Backend::Sqlite, |c| {
        c.header_read_timeout_ms = 300;
    })
    .await;
    let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    let mut header = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ".to_vec();
    header.extend(std::iter::repeat_n(b'a', 400));
    assert!(
        dribble_until_closed(&mut s, &header).await,
        "the connection stayed open for the whole header"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_are_closed() {
    let t = TestApp::spawn_tuned(Backend::Sqlite, |c| {
        c.idle_timeout_ms = 300;
        c.header_read_timeout_ms = 600_000;
    })
    .await;
    // One that never says anything.
    let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    assert!(closed_while_silent(&mut s).await);
    // One that asks once, then keeps the connection without a word.
    let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_while_silent(&mut s).await);
    // One whose body stops halfway.
    let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
    s.write_all(b"POST /api/v1/auth/sign-in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
        .await
        .unwrap();
    assert!(closed_while_silent(&mut s).await);
}

/// Whether a request on a fresh connection from `from` is answered.
async fn answered_from(t: &TestApp, from: [u8; 4]) -> bool {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(std::net::SocketAddr::from((from, 0)))
        .expect("binds the source address");
    let Ok(mut s) = socket.connect(t.addr).await else {
        return false;
    };
    if s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 4096];
    match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_of_an_address_are_refused() {
    let t = TestApp::spawn_tuned(Backend::Sqlite, |c| {
        c.max_connections_per_address = 3;
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(t.addr).await.unwrap();
        // Each is answered, so each is counted before the next arrives.
        s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    assert!(
        !answered_from(&t, [127, 0, 0, 1]).await,
        "a fourth connection was served"
    );
    assert!(
        answered_from(&t, [127, 0, 0, 2]).await,
        "another address is not affected"
    );
    // A slot given back serves the next connection.
    drop(held.pop());
    // Given back once the server has seen the close.
    t.wait_until("the slot to be given back", || async {
        answered_from(&t, [127, 0, 0, 1]).await.then_some(())
    })
    .await;
}

on_both!(
    an_agent_socket_reads_frames_past_its_small_buffer_and_closes_on_oversized_ones,
    |t: TestApp| async move {
        use futures_util::SinkExt;
        let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (_, v) = t.inbound(&inbox, &secret, "c1", "m1", "hello").await;
        let conv = v["conversation_id"].as_str().unwrap().to_string();
        let mut ws = live(&t, &t.admin_token).await;
        // 40 KiB in one frame: many times the socket's read buffer, under the 64 KiB cap.
        let big =
            json!({ "type": "viewing", "conversation_id": conv, "pad": "x".repeat(40 * 1024) });
        ws.send(Message::Text(big.to_string().into()))
            .await
            .unwrap();
        loop {
            let v = next_text(&mut ws).await.expect("the viewers list");
            if v["type"] == "viewers" {
                assert_eq!(v["data"]["conversation_id"], conv.as_str());
                break;
            }
        }
        // Over the cap: the socket is closed rather than the frame held.
        let huge = json!({ "type": "typing", "pad": "x".repeat(100 * 1024) });
        ws.send(Message::Text(huge.to_string().into()))
            .await
            .unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => {}
                Ok(_) => break,
                Err(_) => panic!("the socket took a 100 KiB frame and stayed open"),
            }
        }
    }
);
