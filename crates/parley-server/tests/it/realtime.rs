//! The agent's WebSocket: entitled inboxes only, in order, typing and presence, replay on reconnect.

use std::time::Duration;

use serde_json::json;

use crate::harness::{Socket, TestApp};
use crate::on_both;

async fn member(t: &TestApp, inbox: &str, user: &str) {
    let s = t.add_member(inbox, user).await;
    assert_eq!(s, 204);
}

on_both!(
    sockets_get_their_inboxes_in_order_and_replay,
    |t: TestApp| async move {
        let (support, s_secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (sales, x_secret) = t.api_inbox("Sales", "http://127.0.0.1:9/cb").await;
        let (ann, ann_token) = t.user("ann@acme.test", "agent").await;
        let (bob, bob_token) = t.user("bob@acme.test", "agent").await;
        member(&t, &support, &ann).await;
        member(&t, &support, &bob).await;
        let mut ann_ws = Socket::connect(&t, &ann_token, None).await;
        let mut bob_ws = Socket::connect(&t, &bob_token, None).await;

        t.inbound(&sales, &x_secret, "c9", "s-1", "sales secret")
            .await;
        for i in 0..20 {
            let (s, _) = t
                .inbound(
                    &support,
                    &s_secret,
                    &format!("c{}", i % 3),
                    &format!("m-{i}"),
                    &format!("support {i}"),
                )
                .await;
            assert_eq!(s, 200);
        }
        let mut seqs = Vec::new();
        for i in 0..20 {
            let ev = ann_ws
                .next_of(&["message.created"], Duration::from_secs(5))
                .await
                .expect("event");
            assert_eq!(
                ev["data"]["message"]["body"],
                format!("support {i}"),
                "in the order they happened; never the Sales inbox"
            );
            seqs.push(ev["seq"].as_i64().unwrap());
        }
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));

        // Typing reaches the other agent of the inbox, not the typist.
        let conv = t.get("/api/v1/conversations?limit=1", &ann_token).await.1["items"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        ann_ws
            .send(json!({ "type": "typing", "conversation_id": conv }))
            .await;
        let typing = bob_ws
            .next_of(&["typing"], Duration::from_secs(5))
            .await
            .expect("bob sees ann typing");
        assert_eq!(typing["data"]["user_id"], ann.as_str());
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/typing"),
                &bob_token,
                json!({}),
            )
            .await;
        assert_eq!(s, 204);
        assert!(ann_ws
            .next_of(&["typing"], Duration::from_secs(5))
            .await
            .is_some());

        // Note, assignment, labels: live to both.
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/notes"),
                &bob_token,
                json!({ "body": "@ann can you take this?" }),
            )
            .await;
        assert_eq!(s, 201);
        let note = ann_ws
            .next_of(&["note.created"], Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(note["data"]["note"]["mentions"], json!([ann]));
        t.post(
            &format!("/api/v1/conversations/{conv}/assign"),
            &ann_token,
            json!({ "assignee_id": ann }),
        )
        .await;
        let upd = bob_ws
            .next_of(&["conversation.updated"], Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(upd["data"]["conversation"]["assignee_id"], ann.as_str());
        assert_eq!(upd["data"]["change"]["kind"], "assignment");

        // A reconnecting client asks for what it missed.
        drop(ann_ws);
        t.inbound(&support, &s_secret, "c1", "late-1", "while you were away")
            .await;
        let last = *seqs.last().unwrap();
        let mut again = Socket::connect(&t, &ann_token, Some(last)).await;
        let mut kinds = Vec::new();
        while let Some(ev) = again
            .next_of(
                &["message.created", "note.created", "conversation.updated"],
                Duration::from_millis(1500),
            )
            .await
        {
            kinds.push(ev["type"].as_str().unwrap().to_string());
            if ev["data"]["message"]["body"] == "while you were away" {
                break;
            }
        }
        assert_eq!(
            kinds,
            ["note.created", "conversation.updated", "message.created"]
        );

        // Presence: bob is online.
        let (_, p) = t.get("/api/v1/presence", &ann_token).await;
        assert!(p["online"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == bob.as_str()));
        drop(bob_ws);

        // Removing ann from the inbox stops the feed at once.
        let (s, _) = t
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/inboxes/{support}/members/{ann}"),
                &t.admin_token,
                None,
            )
            .await;
        assert_eq!(s, 204);
        t.inbound(&support, &s_secret, "c1", "after-removal", "not for ann")
            .await;
        assert!(again
            .next_of(&["message.created"], Duration::from_millis(800))
            .await
            .is_none());
    }
);

on_both!(
    agents_see_who_else_has_a_conversation_open,
    |t: TestApp| async move {
        let (support, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
        let (sales, x_secret) = t.api_inbox("Sales", "http://127.0.0.1:9/cb").await;
        let (ann, ann_token) = t.user("ann@acme.test", "agent").await;
        let (bob, bob_token) = t.user("bob@acme.test", "agent").await;
        let (_, cid_token) = t.user("cid@acme.test", "agent").await;
        member(&t, &support, &ann).await;
        member(&t, &support, &bob).await;
        t.inbound(&support, &secret, "c1", "m-1", "hello").await;
        t.inbound(&sales, &x_secret, "c2", "m-2", "sales").await;
        let list = t.get("/api/v1/conversations", &t.admin_token).await.1;
        let conv_of = |inbox: &str| {
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["inbox_id"] == inbox)
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        };
        let (conv, other) = (conv_of(&support), conv_of(&sales));
        let mut ann_ws = Socket::connect(&t, &ann_token, None).await;
        let mut bob_ws = Socket::connect(&t, &bob_token, None).await;
        let mut cid_ws = Socket::connect(&t, &cid_token, None).await;

        ann_ws
            .send(json!({ "type": "viewing", "conversation_id": conv }))
            .await;
        let seen = bob_ws
            .next_of(&["viewers"], Duration::from_secs(5))
            .await
            .expect("bob learns ann is viewing");
        assert_eq!(seen["data"]["conversation_id"], conv.as_str());
        assert_eq!(seen["data"]["viewers"][0]["user_id"], ann.as_str());

        // Bob opens it too: both are listed, once each.
        bob_ws
            .send(json!({ "type": "viewing", "conversation_id": conv }))
            .await;
        let both = viewers(&mut ann_ws, &conv, 2).await;
        let mut ids: Vec<&str> = both["data"]["viewers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["user_id"].as_str().unwrap())
            .collect();
        ids.sort();
        let mut want = vec![ann.as_str(), bob.as_str()];
        want.sort();
        assert_eq!(ids, want, "{both}");

        // An agent cannot announce a conversation of an inbox they do not work.
        ann_ws
            .send(json!({ "type": "viewing", "conversation_id": other }))
            .await;
        // Closing the socket takes Bob off the list.
        drop(bob_ws);
        let left = viewers(&mut ann_ws, &conv, 1).await;
        assert_eq!(left["data"]["viewers"][0]["user_id"], ann.as_str());
        // Cid works no inbox: he hears of neither conversation.
        assert!(cid_ws
            .next_of(&["viewers"], Duration::from_millis(300))
            .await
            .is_none());
    }
);

/// The next `viewers` list of a conversation with `n` people on it.
async fn viewers(ws: &mut Socket, conv: &str, n: usize) -> serde_json::Value {
    loop {
        let v = ws
            .next_of(&["viewers"], Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("no list of {n} viewers of {conv}"));
        if v["data"]["conversation_id"] == conv
            && v["data"]["viewers"].as_array().map(Vec::len) == Some(n)
        {
            return v;
        }
    }
}
