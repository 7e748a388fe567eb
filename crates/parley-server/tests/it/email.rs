//! Email inboxes end to end: mail arrives through Parley's SMTP listener (spoken to over a raw
//! socket, as a sending server would), agents' replies leave through a relay (a local SMTP server
//! that keeps what it receives) threaded with Message-ID, In-Reply-To, References and a reply
//! address, and the customer's answers find their conversation by each of those.

use std::sync::Arc;

use parley_channels::email::{self as mail, DeliveryError, ReceivedMail, SmtpHandler};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::harness::{last_delivery, TestApp};
use crate::on_both;

/// The outgoing relay: accepts everything and keeps it.
#[derive(Clone, Default)]
pub(crate) struct Relay {
    pub(crate) got: crate::harness::Recorded<ReceivedMail>,
}

#[async_trait::async_trait]
impl SmtpHandler for Relay {
    async fn accept_recipient(&self, _: &str) -> Result<bool, DeliveryError> {
        Ok(true)
    }
    async fn deliver(&self, m: ReceivedMail) -> Result<(), DeliveryError> {
        self.got.push(m);
        Ok(())
    }
}

impl Relay {
    pub(crate) async fn start() -> (Self, u16) {
        let relay = Self::default();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(mail::serve_smtp(
            l,
            mail::SmtpServerConfig::default(),
            Arc::new(relay.clone()),
        ));
        (relay, port)
    }

    pub(crate) async fn wait_for(&self, n: usize) -> Vec<mail::InboundEmail> {
        let got = self.got.wait_for(n).await;
        got.iter().map(|m| mail::parse(&m.data).unwrap()).collect()
    }
}

/// Parley's SMTP listener on a random port.
pub(crate) async fn listener(t: &TestApp) -> u16 {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(parley_server::inboxes::email::smtp::serve(t.app.clone(), l));
    port
}

/// Delivers one message as a sending server would; returns the reply to each command.
pub(crate) async fn smtp_send(port: u16, from: &str, to: &[&str], data: &str) -> Vec<String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut replies = Vec::new();
    async fn reply(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).await.unwrap();
            all.push_str(&line);
            // A multi-line reply has '-' after the code on every line but the last.
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }
    replies.push(reply(&mut r).await);
    let mut cmds = vec![
        "EHLO mx.customer.example".to_string(),
        format!("MAIL FROM:<{from}>"),
    ];
    cmds.extend(to.iter().map(|t| format!("RCPT TO:<{t}>")));
    for c in cmds {
        w.write_all(format!("{c}\r\n").as_bytes()).await.unwrap();
        replies.push(reply(&mut r).await);
    }
    w.write_all(b"DATA\r\n").await.unwrap();
    let go = reply(&mut r).await;
    replies.push(go.clone());
    if go.starts_with("354") {
        let body = data.replace("\r\n", "\n").replace('\n', "\r\n");
        w.write_all(body.as_bytes()).await.unwrap();
        w.write_all(b"\r\n.\r\n").await.unwrap();
        replies.push(reply(&mut r).await);
    }
    w.write_all(b"QUIT\r\n").await.unwrap();
    replies
}

pub(crate) async fn email_inbox(t: &TestApp, relay_port: u16) -> Value {
    let (s, v) = t
        .post(
            "/api/v1/inboxes",
            &t.admin_token,
            json!({ "name": "Support", "kind": "email", "address": "help@acme.example",
                    "from_name": "Acme Support",
                    "smtp": { "host": "127.0.0.1", "port": relay_port, "security": "none" } }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v
}

const FIRST: &str = "From: Dana Scully <dana@customer.example>\n\
To: help@acme.example\n\
Subject: Where is my order?\n\
Message-ID: <first-1@customer.example>\n\
Date: Mon, 23 Nov 2026 09:00:00 +0000\n\
MIME-Version: 1.0\n\
Content-Type: multipart/alternative; boundary=\"b1\"\n\
\n\
--b1\n\
Content-Type: text/plain; charset=utf-8\n\
\n\
Order 1042 has not arrived.\n\
\n\
--b1\n\
Content-Type: text/html; charset=utf-8\n\
\n\
<p>Order <b>1042</b> has not arrived.</p><script>alert(1)</script><img src=\"https://tracker.example/p.gif\">\n\
--b1--\n";

on_both!(email_threads_both_ways, |t: TestApp| async move {
    let (relay, relay_port) = Relay::start().await;
    let inbox = email_inbox(&t, relay_port).await;
    assert!(inbox.get("webhook_url").is_none() && inbox.get("secret").is_none());
    assert!(inbox["settings"].get("credentials").is_none());
    let smtp = listener(&t).await;

    // Unknown recipients are refused at RCPT; nothing is stored.
    let r = smtp_send(smtp, "x@customer.example", &["nobody@acme.example"], FIRST).await;
    assert!(r[3].starts_with("550"), "{r:?}");

    let r = smtp_send(smtp, "dana@customer.example", &["help@acme.example"], FIRST).await;
    assert!(r.last().unwrap().starts_with("250"), "{r:?}");
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let conv = items[0]["id"].as_str().unwrap().to_string();
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    let first = &tl["items"][0]["data"]["message"];
    assert_eq!(first["body"], "Order 1042 has not arrived.");
    let meta = &first["meta"]["email"];
    assert_eq!(meta["subject"], "Where is my order?");
    assert_eq!(meta["message_id"], "first-1@customer.example");
    let html = meta["html"].as_str().unwrap();
    assert!(
        html.contains("<b>1042</b>")
            && !html.contains("script")
            && !html.contains("tracker.example"),
        "{html}"
    );
    let (_, c) = t
        .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
        .await;
    let (_, contact) = t
        .get(
            &format!("/api/v1/contacts/{}", c["contact_id"].as_str().unwrap()),
            &t.admin_token,
        )
        .await;
    assert_eq!(contact["name"], "Dana Scully");
    assert_eq!(contact["email"], "dana@customer.example");

    // The same mail delivered twice is stored once.
    smtp_send(smtp, "dana@customer.example", &["help@acme.example"], FIRST).await;
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    assert_eq!(tl["items"].as_array().unwrap().len(), 1);

    // The agent's reply leaves through the relay, threaded.
    let (s, r) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "It ships today." }),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let sent = relay.wait_for(1).await.remove(0);
    let reply_id = mail::message_id(
        conv.parse().unwrap(),
        r["message"]["id"].as_str().unwrap().parse().unwrap(),
        "acme.example",
    );
    assert_eq!(sent.message_id.as_deref(), Some(reply_id.as_str()));
    assert_eq!(sent.subject.as_deref(), Some("Re: Where is my order?"));
    assert_eq!(
        sent.in_reply_to,
        vec!["first-1@customer.example".to_string()]
    );
    assert_eq!(
        sent.references,
        vec!["first-1@customer.example".to_string()]
    );
    assert_eq!(
        sent.reply_to.as_deref(),
        Some(format!("help+{conv}@acme.example").as_str())
    );
    assert_eq!(sent.to, vec!["dana@customer.example".to_string()]);
    assert_eq!(
        (sent.from.address.as_str(), sent.from.name.as_deref()),
        ("help@acme.example", Some("Acme Support"))
    );
    assert!(sent.full_text.contains("It ships today."));
    assert_eq!(last_delivery(&t, &conv, "sent").await["status"], "sent");

    // Dana answers with her client's quote of the history: it is trimmed. Her In-Reply-To is
    // our Message-ID, her To the plain address.
    let answer = format!(
        "From: Dana Scully <dana@customer.example>\nTo: help@acme.example\nSubject: Re: Where is my order?\n\
         Message-ID: <second-2@customer.example>\nIn-Reply-To: <{reply_id}>\nReferences: <first-1@customer.example> <{reply_id}>\n\n\
         Thanks!\n\nOn Mon, 23 Nov 2026 at 10:00, Acme Support <help@acme.example> wrote:\n> It ships today.\n"
    );
    smtp_send(
        smtp,
        "dana@customer.example",
        &["help@acme.example"],
        &answer,
    )
    .await;
    // A colleague in copy writes from another address to the reply address: same conversation.
    let colleague = format!(
        "From: Walter Skinner <walter@customer.example>\nTo: help+{conv}@acme.example\nSubject: Re: Where is my order?\n\
         Message-ID: <third-3@customer.example>\n\nPlease send it to the office instead.\n"
    );
    smtp_send(
        smtp,
        "walter@customer.example",
        &[&format!("help+{conv}@acme.example")],
        &colleague,
    )
    .await;
    let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    let bodies: Vec<&str> = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message.created")
        .map(|e| e["data"]["message"]["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        vec![
            "Order 1042 has not arrived.",
            "It ships today.",
            "Thanks!",
            "Please send it to the office instead."
        ]
    );

    // A file goes as a MIME attachment, not a link that would expire.
    let up = t
        .http
        .post(t.url(&format!(
            "/api/v1/inboxes/{}/attachments?filename=label.pdf",
            inbox["id"].as_str().unwrap()
        )))
        .bearer_auth(&t.admin_token)
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4 label".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 201);
    let up: Value = up.json().await.unwrap();
    let (s, r) = t
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &t.admin_token,
            json!({ "body": "Your label", "attachments": [up["id"]] }),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let with_file = relay.wait_for(2).await.remove(1);
    assert_eq!(with_file.attachments.len(), 1);
    assert_eq!(
        with_file.attachments[0].filename.as_deref(),
        Some("label.pdf")
    );
    assert_eq!(with_file.attachments[0].bytes, b"%PDF-1.4 label");

    // The next reply still goes to Dana, and threads under the newest mail.
    t.post(
        &format!("/api/v1/conversations/{conv}/messages"),
        &t.admin_token,
        json!({ "body": "Done." }),
    )
    .await;
    let next = relay.wait_for(3).await.remove(2);
    assert_eq!(next.to, vec!["dana@customer.example".to_string()]);
    assert_eq!(
        next.in_reply_to,
        vec!["third-3@customer.example".to_string()]
    );

    // Auto-replies and bounces are not stored (two autoresponders must not loop).
    let ooo = "From: dana@customer.example\nTo: help@acme.example\nSubject: Out of office\nAuto-Submitted: auto-replied\nMessage-ID: <ooo@customer.example>\n\nI am away.\n";
    let r = smtp_send(smtp, "dana@customer.example", &["help@acme.example"], ooo).await;
    assert!(r.last().unwrap().starts_with("250"), "{r:?}");
    let (_, tl2) = t
        .get(
            &format!("/api/v1/conversations/{conv}/timeline"),
            &t.admin_token,
        )
        .await;
    assert_eq!(
        tl2["items"].as_array().unwrap().len(),
        tl["items"].as_array().unwrap().len() + 2,
        "only the agent's two replies were added"
    );
    // A message without a From is refused permanently (the sender gets a bounce).
    let r = smtp_send(
        smtp,
        "x@customer.example",
        &["help@acme.example"],
        "Subject: hi\n\nno sender\n",
    )
    .await;
    assert!(r.last().unwrap().starts_with("554"), "{r:?}");
});

on_both!(
    short_message_ids_thread_replies_from_any_client,
    |t: TestApp| async move {
        let (relay, relay_port) = Relay::start().await;
        // A realistic support domain of 30 characters.
        let domain = "support.northwind-traders.shop";
        let address = format!("help@{domain}");
        let (s, v) = t
            .post(
                "/api/v1/inboxes",
                &t.admin_token,
                json!({ "name": "Support", "kind": "email", "address": address,
                        "smtp": { "host": "127.0.0.1", "port": relay_port, "security": "none" } }),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let smtp = listener(&t).await;
        let first = FIRST.replace("help@acme.example", &address);
        let r = smtp_send(smtp, "dana@customer.example", &[&address], &first).await;
        assert!(r.last().unwrap().starts_with("250"), "{r:?}");
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let (s, r) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &t.admin_token,
                json!({ "body": "It ships today." }),
            )
            .await;
        assert_eq!(s, 201, "{r}");
        let message = r["message"]["id"].as_str().unwrap().to_string();
        let sent = relay.wait_for(1).await.remove(0);
        let id = sent.message_id.unwrap();
        assert_eq!(
            id,
            mail::message_id(conv.parse().unwrap(), message.parse().unwrap(), domain)
        );
        // Copied into a reply, the id still fits one header line: nothing folds or encodes it.
        assert!(format!("Message-ID: <{id}>").len() < 78, "{id}");
        assert!(format!("In-Reply-To: <{id}>").len() <= 78, "{id}");

        // Someone else answers from another address, to the plain address: our id alone names
        // the conversation.
        let answer = format!(
            "From: Walter Skinner <walter@partner.example>\nTo: {address}\nSubject: Re: Where is my order?\n\
             Message-ID: <w-1@partner.example>\nIn-Reply-To: <{id}>\n\nI will pick it up.\n"
        );
        let r = smtp_send(smtp, "walter@partner.example", &[&address], &answer).await;
        assert!(r.last().unwrap().starts_with("250"), "{r:?}");
        // A reply to mail sent with the earlier, long ids still joins its thread.
        let long = format!("conversation/{conv}/messages/{message}@{domain}");
        let old = format!(
            "From: fox@partner.example\nTo: {address}\nSubject: Re: Where is my order?\n\
             Message-ID: <f-1@partner.example>\nIn-Reply-To: <{long}>\n\nAnd I agree.\n"
        );
        let r = smtp_send(smtp, "fox@partner.example", &[&address], &old).await;
        assert!(r.last().unwrap().starts_with("250"), "{r:?}");
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        let bodies: Vec<&str> = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "message.created")
            .map(|e| e["data"]["message"]["body"].as_str().unwrap())
            .collect();
        assert_eq!(
            bodies,
            vec![
                "Order 1042 has not arrived.",
                "It ships today.",
                "I will pick it up.",
                "And I agree."
            ]
        );
    }
);

on_both!(email_inbox_settings_are_checked, |t: TestApp| async move {
    for (body, field) in [
        (
            json!({ "name": "S", "kind": "email", "smtp": { "host": "smtp.acme.example" } }),
            "address",
        ),
        (
            json!({ "name": "S", "kind": "email", "address": "help+x@acme.example", "smtp": { "host": "h" } }),
            "address",
        ),
        (
            json!({ "name": "S", "kind": "email", "address": "help@acme.example" }),
            "smtp",
        ),
        (
            json!({ "name": "S", "kind": "email", "address": "help@acme.example", "smtp": { "host": "h", "security": "ssl3" } }),
            "smtp",
        ),
        (
            json!({ "name": "S", "kind": "email", "address": "help@acme.example", "smtp": { "host": "h" }, "imap": { "host": "h", "username": "", "password": "p" } }),
            "imap",
        ),
    ] {
        let (s, v) = t.post("/api/v1/inboxes", &t.admin_token, body).await;
        assert_eq!((s, v["error"]["field"].as_str()), (422, Some(field)), "{v}");
    }
    let (s, v) = t
        .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "S", "kind": "email", "address": "help@acme.example", "smtp": { "host": "h", "sport": 25 } }))
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = t
        .post(
            "/api/v1/inboxes",
            &t.admin_token,
            json!({ "name": "S", "kind": "email", "address": "Help@Acme.example",
                    "smtp": { "host": "smtp.acme.example", "username": "u", "password": "relay-secret" },
                    "imap": { "host": "imap.acme.example", "username": "u", "password": "imap-secret" } }),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["settings"]["address"], "help@acme.example");
    assert_eq!(v["settings"]["smtp"]["port"], 587);
    assert_eq!(v["settings"]["imap"]["port"], 993);
    assert!(
        !v.to_string().contains("secret"),
        "passwords are never shown: {v}"
    );
});

on_both!(
    a_visitor_who_leaves_their_email_is_answered_by_email,
    |t: TestApp| async move {
        let (relay, relay_port) = Relay::start().await;
        let mail_inbox = email_inbox(&t, relay_port).await;
        let mail_id = mail_inbox["id"].as_str().unwrap().to_string();
        let widget = crate::widget::widget_inbox(&t, json!({})).await;
        let widget_id = widget["id"].as_str().unwrap().to_string();
        let smtp = listener(&t).await;

        let mut v = crate::widget::Visitor::connect(&t, &widget_id, None).await;
        v.send(json!({ "type": "message", "text": "Is the blue one in stock?" }))
            .await;
        v.next_of("ack").await.unwrap();
        v.send(json!({ "type": "contact", "email": "Dana@Customer.example" }))
            .await;
        v.next_of("contact").await.unwrap();
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let widget_conv = list["items"][0]["id"].as_str().unwrap().to_string();
        let contact = list["items"][0]["contact_id"].as_str().unwrap().to_string();

        // While the visitor is on the page, a reply goes to the widget only.
        t.post(
            &format!("/api/v1/conversations/{widget_conv}/messages"),
            &t.admin_token,
            json!({ "body": "Checking…" }),
        )
        .await;
        assert_eq!(
            last_delivery(&t, &widget_conv, "delivered").await["status"],
            "delivered"
        );
        assert!(
            relay.got.lock().unwrap().is_empty(),
            "no email while the visitor is here"
        );
        drop(v);
        t.wait_until("the visitor to leave", || async {
            t.app.visitors.lock().unwrap().is_empty().then_some(())
        })
        .await;
        // They left: the next reply also reaches them by email.
        t.post(
            &format!("/api/v1/conversations/{widget_conv}/messages"),
            &t.admin_token,
            json!({ "body": "Yes, the blue one is in stock." }),
        )
        .await;
        let copy = relay.wait_for(1).await.remove(0);
        assert_eq!(copy.to, vec!["dana@customer.example".to_string()]);
        assert_eq!(
            copy.subject.as_deref(),
            Some("New reply to your chat with Website")
        );
        assert!(
            copy.text.contains("Yes, the blue one is in stock."),
            "{}",
            copy.text
        );
        let (_, ch) = t
            .get(
                &format!("/api/v1/contacts/{contact}/channels"),
                &t.admin_token,
            )
            .await;
        let kinds: Vec<(&str, bool)> = ch["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["kind"].as_str().unwrap(), c["default"].as_bool().unwrap()))
            .collect();
        assert_eq!(kinds, vec![("widget", true), ("email", false)], "{ch}");

        // The visitor has left; the agent answers by email.
        let (s, r) = t
            .post(
                &format!("/api/v1/contacts/{contact}/messages"),
                &t.admin_token,
                json!({ "body": "Yes, we have 3 left.", "inbox_id": mail_id }),
            )
            .await;
        assert_eq!(s, 201, "{r}");
        assert_eq!(r["channel"]["kind"], "email");
        let email_conv = r["conversation"]["id"].as_str().unwrap().to_string();
        assert_ne!(email_conv, widget_conv);
        let sent = relay.wait_for(2).await.remove(1);
        assert_eq!(sent.to, vec!["dana@customer.example".to_string()]);
        assert_eq!(
            sent.subject.as_deref(),
            Some("Your conversation with Acme Support")
        );

        // Dana answers the email: the same contact, and email is now the channel she last used.
        let answer = format!(
        "From: dana@customer.example\nTo: help@acme.example\nSubject: Re: Your conversation with Acme Support\n\
         Message-ID: <d-1@customer.example>\nIn-Reply-To: <{}>\n\nGreat, I'll take one.\n",
        sent.message_id.unwrap()
    );
        smtp_send(
            smtp,
            "dana@customer.example",
            &["help@acme.example"],
            &answer,
        )
        .await;
        let (_, ch) = t
            .get(
                &format!("/api/v1/contacts/{contact}/channels"),
                &t.admin_token,
            )
            .await;
        assert_eq!(ch["items"][0]["kind"], "email", "{ch}");
        let (s, r) = t
            .post(
                &format!("/api/v1/contacts/{contact}/messages"),
                &t.admin_token,
                json!({ "body": "Reserved for you." }),
            )
            .await;
        assert_eq!(
            (s, r["channel"]["kind"].as_str()),
            (201, Some("email")),
            "{r}"
        );

        // One timeline across both channels, in order, each entry marked with its channel.
        let (_, tl) = t
            .get(
                &format!("/api/v1/contacts/{contact}/timeline"),
                &t.admin_token,
            )
            .await;
        let seen: Vec<(&str, &str)> = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "message.created")
            .map(|e| {
                (
                    e["channel"]["kind"].as_str().unwrap(),
                    e["data"]["message"]["body"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("widget", "Is the blue one in stock?"),
                ("widget", "Checking…"),
                ("widget", "Yes, the blue one is in stock."),
                ("email", "Yes, we have 3 left."),
                ("email", "Great, I'll take one."),
                ("email", "Reserved for you."),
            ]
        );
        let (_, page) = t
            .get(
                &format!("/api/v1/contacts/{contact}/timeline?limit=2"),
                &t.admin_token,
            )
            .await;
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        let before = page["before"].as_i64().unwrap();
        let (_, older) = t
            .get(
                &format!("/api/v1/contacts/{contact}/timeline?limit=50&before={before}"),
                &t.admin_token,
            )
            .await;
        assert!(older["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["seq"].as_i64().unwrap() < before));

        // An agent who does not work the email inbox cannot pick it.
        let (agent_id, agent) = t.user("agent@acme.test", "agent").await;
        t.add_member(&widget_id, &agent_id).await;
        let (s, r) = t
            .post(
                &format!("/api/v1/contacts/{contact}/messages"),
                &agent,
                json!({ "body": "Hi", "inbox_id": mail_id }),
            )
            .await;
        assert_eq!(
            (s, r["error"]["field"].as_str()),
            (422, Some("inbox_id")),
            "{r}"
        );
        let (_, ch) = t
            .get(&format!("/api/v1/contacts/{contact}/channels"), &agent)
            .await;
        assert_eq!(ch["items"].as_array().unwrap().len(), 1, "{ch}");
    }
);

on_both!(
    an_imap_mailbox_is_polled_once_per_mail,
    |t: TestApp| async move {
        let raw = |n: u32, extra: &str| {
            format!(
            "From: Customer {n} <c{n}@customer.example>\r\nTo: help@acme.example\r\nSubject: Question {n}\r\n\
             Message-ID: <q{n}@customer.example>\r\n{extra}\r\nHello {n}\r\n"
        )
        .into_bytes()
        };
        let (addr, mailbox) = mail::fake_imap::start(
            "help@acme.example",
            "imap-pass",
            vec![
                (1, raw(1, "")),
                (2, raw(2, "Auto-Submitted: auto-replied\r\n")),
            ],
        )
        .await;
        let (s, v) = t
            .post(
                "/api/v1/inboxes",
                &t.admin_token,
                json!({ "name": "Support", "kind": "email", "address": "help@acme.example",
                    "smtp": { "host": "127.0.0.1", "port": 9, "security": "none" },
                    "imap": { "host": addr.ip().to_string(), "port": addr.port(), "tls": false,
                              "username": "help@acme.example", "password": "imap-pass" } }),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let inbox = v["id"].as_str().unwrap().to_string();

        assert_eq!(
            parley_server::inboxes::email::imap::poll(&t.app)
                .await
                .unwrap(),
            1,
            "the auto-reply is skipped"
        );
        assert_eq!(
            parley_server::inboxes::email::imap::poll(&t.app)
                .await
                .unwrap(),
            0,
            "nothing is read twice"
        );
        mailbox.lock().unwrap().messages.push((3, raw(3, "")));
        assert_eq!(
            parley_server::inboxes::email::imap::poll(&t.app)
                .await
                .unwrap(),
            1
        );
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let mut names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["contact_name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(names, vec!["Customer 1", "Customer 3"]);
        let (_, v) = t
            .get(&format!("/api/v1/inboxes/{inbox}"), &t.admin_token)
            .await;
        assert_eq!(
            v["settings"]["imap_state"],
            json!({ "uid_validity": 7, "last_uid": 3 })
        );
        // The mailbox was rebuilt (new UIDVALIDITY): everything is read again, and stored once.
        mailbox.lock().unwrap().uid_validity = 8;
        assert_eq!(
            parley_server::inboxes::email::imap::poll(&t.app)
                .await
                .unwrap(),
            2
        );
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        for c in list["items"].as_array().unwrap() {
            let (_, tl) = t
                .get(
                    &format!(
                        "/api/v1/conversations/{}/timeline",
                        c["id"].as_str().unwrap()
                    ),
                    &t.admin_token,
                )
                .await;
            assert_eq!(
                tl["items"].as_array().unwrap().len(),
                1,
                "deduplicated by Message-ID"
            );
        }
        // Only EXAMINE and BODY.PEEK[]: the customer's mailbox is never marked read.
        let commands = mailbox.lock().unwrap().commands.clone();
        assert!(
            commands.iter().any(|c| c.starts_with("EXAMINE")),
            "{commands:?}"
        );
        assert!(
            commands
                .iter()
                .filter(|c| c.contains("FETCH"))
                .all(|c| c.contains("BODY.PEEK[]")),
            "{commands:?}"
        );
    }
);

on_both!(
    testing_an_email_inbox_logs_in_to_its_relay_and_mailbox,
    |t: TestApp| async move {
        let (_relay, port) = Relay::start().await;
        let (addr, _mailbox) =
            mail::fake_imap::start("help@acme.example", "imap-pass", vec![]).await;
        let mut ids = Vec::new();
        for (smtp_port, password) in [(port, "imap-pass"), (port, "wrong-pass"), (9, "imap-pass")] {
            let (s, v) = t
                .post(
                    "/api/v1/inboxes",
                    &t.admin_token,
                    json!({ "name": "Support", "kind": "email", "address": "help@acme.example",
                        "smtp": { "host": "127.0.0.1", "port": smtp_port, "security": "none" },
                        "imap": { "host": addr.ip().to_string(), "port": addr.port(), "tls": false,
                                  "username": "help@acme.example", "password": password } }),
                )
                .await;
            assert_eq!(s, 201, "{v}");
            ids.push(v["id"].as_str().unwrap().to_string());
        }
        let test = |id: String| {
            let t = &t;
            async move {
                let (s, v) = t
                    .post(
                        &format!("/api/v1/inboxes/{id}/test"),
                        &t.admin_token,
                        json!({}),
                    )
                    .await;
                assert_eq!(s, 200, "{v}");
                v
            }
        };
        let good = test(ids[0].clone()).await;
        assert_eq!(good["ok"], true, "{good}");
        assert!(
            good["detail"].as_str().unwrap().contains("mailbox"),
            "{good}"
        );
        let bad_login = test(ids[1].clone()).await;
        assert_eq!(bad_login["ok"], false, "{bad_login}");
        assert!(
            bad_login["detail"].as_str().unwrap().contains("IMAP"),
            "{bad_login}"
        );
        let no_relay = test(ids[2].clone()).await;
        assert_eq!(no_relay["ok"], false, "{no_relay}");
        assert!(
            no_relay["detail"].as_str().unwrap().contains("SMTP"),
            "{no_relay}"
        );

        // Both are mended in place. An edit gives the relay or the mailbox whole, and a password
        // it leaves out stays as stored.
        let imap = json!({ "host": addr.ip().to_string(), "port": addr.port(), "tls": false, "username": "help@acme.example" });
        let edit = |id: &str, body: Value| {
            let t = &t;
            let path = format!("/api/v1/inboxes/{id}");
            async move { t.patch(&path, &t.admin_token, body).await }
        };
        let (s, v) = edit(
            &ids[2],
            json!({ "smtp": { "host": "127.0.0.1", "port": port, "security": "none" } }),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        let mut with_password = imap.clone();
        with_password["password"] = json!("imap-pass");
        let (s, v) = edit(&ids[1], json!({ "imap": with_password })).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = edit(&ids[0], json!({ "imap": imap, "from_name": "Acme help" })).await;
        assert_eq!(
            (s, v["settings"]["from_name"].as_str()),
            (200, Some("Acme help")),
            "{v}"
        );
        for id in &ids {
            let v = test(id.clone()).await;
            assert_eq!(v["ok"], true, "{v}");
        }
        let mut elsewhere = imap.clone();
        elsewhere["host"] = json!("192.0.2.1");
        let (s, v) = edit(&ids[0], json!({ "imap": elsewhere })).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("imap")),
            "a password for a new host: {v}"
        );
        let (s, v) = edit(&ids[0], json!({ "address": "not an address" })).await;
        assert_eq!(
            (s, v["error"]["field"].as_str()),
            (422, Some("address")),
            "{v}"
        );
    }
);

on_both!(
    a_stop_whose_dmarc_failed_is_stored_unverified_and_unsubscribes_nobody,
    |t: TestApp| async move {
        let (_relay, relay_port) = Relay::start().await;
        email_inbox(&t, relay_port).await;
        let smtp = listener(&t).await;
        let stop = |who: &str, server: &str, dmarc: &str| {
            format!(
                "Authentication-Results: {server};\n\tspf=pass smtp.mailfrom=customer.example;\n\tdmarc={dmarc} header.from=customer.example\n\
                 From: {who} <{who}@customer.example>\n\
                 To: help@acme.example\n\
                 Subject: Unsubscribe\n\
                 Message-ID: <{who}-1@customer.example>\n\
                 Date: Mon, 23 Nov 2026 09:00:00 +0000\n\
                 \n\
                 STOP\n"
            )
        };
        let mail_server = crate::harness::MAIL_SERVER;
        for (who, server, dmarc) in [
            ("forged", mail_server, "fail"),
            ("genuine", mail_server, "pass"),
            ("elsewhere", "mx.someone-else.example", "fail"),
        ] {
            let from = format!("{who}@customer.example");
            let r = smtp_send(
                smtp,
                &from,
                &["help@acme.example"],
                &stop(who, server, dmarc),
            )
            .await;
            assert!(r.last().unwrap().starts_with("250"), "{r:?}");
        }
        let (_, list) = t.get("/api/v1/conversations", &t.admin_token).await;
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "every mail is stored: {list}");
        for (who, unverified, consent) in [
            ("forged", true, "unknown"),
            ("genuine", false, "revoked"),
            ("elsewhere", false, "revoked"),
        ] {
            let conv = items.iter().find(|c| c["contact_name"] == who).unwrap();
            let (_, tl) = t
                .get(
                    &format!(
                        "/api/v1/conversations/{}/timeline",
                        conv["id"].as_str().unwrap()
                    ),
                    &t.admin_token,
                )
                .await;
            let message = tl["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["type"] == "message.created")
                .unwrap()["data"]["message"]
                .clone();
            assert_eq!(message["body"], "STOP", "{message}");
            assert_eq!(
                message["meta"]["unverified"].as_bool().unwrap_or(false),
                unverified,
                "{who}: {message}"
            );
            let (_, c) = t
                .get(
                    &format!(
                        "/api/v1/contacts/{}/consent",
                        conv["contact_id"].as_str().unwrap()
                    ),
                    &t.admin_token,
                )
                .await;
            assert_eq!(
                c["states"]["email"]["conversational"], consent,
                "{who}: {c}"
            );
        }
    }
);
