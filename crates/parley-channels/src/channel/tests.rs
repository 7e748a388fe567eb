use std::time::Duration;

use parley_core::message::SenderKind;
use parley_core::{ConversationId, InboxId, MessageId, Timestamp};
use serde_json::{json, Value};

use super::*;
use crate::common::fake;
use crate::net::loopback_client;

fn message() -> Message {
    Message {
        id: MessageId(uuid::Uuid::nil()),
        conversation_id: ConversationId(uuid::Uuid::nil()),
        sender_kind: SenderKind::Agent,
        sender_id: None,
        created_at: Timestamp(0),
    }
}

fn outgoing<'a>(reply: &'a Reply, lookups: Lookups) -> Outgoing<'a> {
    Outgoing {
        to: "+14155550123",
        reply,
        message: message(),
        public_url: "https://parley.example/",
        inbox: InboxId(uuid::Uuid::nil()),
        timeout: Duration::from_secs(5),
        lookups,
    }
}

fn reply(text: &str) -> Reply {
    Reply {
        text: text.into(),
        ..Default::default()
    }
}

#[test]
fn each_kind_says_what_a_send_needs() {
    let empty = json!({});
    let needs = |kind| Channel::read(kind, &empty, "s").unwrap().needs();
    assert_eq!(needs(ChannelKind::Line), Needs::ReplyToken);
    assert_eq!(needs(ChannelKind::Messenger), Needs::Window);
    assert_eq!(needs(ChannelKind::Instagram), Needs::Window);
    assert_eq!(needs(ChannelKind::Email), Needs::Mail);
    assert_eq!(needs(ChannelKind::Widget), Needs::InProcess);
    for kind in [ChannelKind::Api, ChannelKind::Twilio, ChannelKind::Telegram] {
        assert_eq!(needs(kind), Needs::Nothing);
    }
}

#[test]
fn verify_and_parse_go_to_the_kinds_module() {
    let empty = json!({});
    let telegram = Channel::read(ChannelKind::Telegram, &empty, "secret-token").unwrap();
    let header = |v: &'static str| move |name: &str| (name == telegram::SECRET_HEADER).then_some(v);
    assert_eq!(telegram.verify(header("secret-token"), b"{}"), Ok(()));
    assert_eq!(
        telegram.verify(header("wrong"), b"{}"),
        Err(InboundError::BadSignature)
    );
    assert!(matches!(
        telegram.parse(b"not json"),
        Err(InboundError::Malformed(_))
    ));
    let twilio = Channel::read(ChannelKind::Twilio, &empty, "s").unwrap();
    assert!(twilio.parse(b"{}").is_err());
}

#[tokio::test]
async fn the_widget_is_delivered_in_process_and_the_api_waits_for_its_url() {
    let http = loopback_client();
    let empty = json!({});
    let r = reply("hi");
    let widget = Channel::read(ChannelKind::Widget, &empty, "s").unwrap();
    let sent = widget.send(&http, outgoing(&r, Lookups::default())).await;
    assert_eq!(sent, Sent::InProcess);
    let stored = json!({ "callback_url": null });
    let api = Channel::read(ChannelKind::Api, &stored, "s").unwrap();
    assert_eq!(
        api.send(&http, outgoing(&r, Lookups::default())).await,
        Sent::Outcome(SendOutcome::Transient(
            "the inbox has no callback URL yet".into()
        ))
    );
    assert!(api.test_connection(&http).await.is_none());
}

#[tokio::test]
async fn twilio_sends_through_its_account_and_reports_an_opt_out() {
    let (base, seen) = fake::serve(|s| {
        if s.path == "/2010-04-01/Accounts/AC1/Messages.json" {
            (201, json!({ "sid": "SM123" }).to_string())
        } else {
            (
                400,
                json!({ "code": 21610, "message": "unsubscribed" }).to_string(),
            )
        }
    })
    .await;
    let stored = json!({ "account_sid": "AC1", "from": "+14155550100", "api_base_url": base });
    let twilio = Channel::read(ChannelKind::Twilio, &stored, "auth").unwrap();
    let http = loopback_client();
    let r = reply("hello");
    let sent = twilio.send(&http, outgoing(&r, Lookups::default())).await;
    assert_eq!(
        sent,
        Sent::Outcome(SendOutcome::Accepted {
            provider_id: Some("SM123".into())
        })
    );
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(first.path, "/2010-04-01/Accounts/AC1/Messages.json");
    assert!(first.auth.is_some_and(|a| a.starts_with("Basic ")));
    // Another account, whose recipient texted STOP.
    let stored = json!({ "account_sid": "AC2", "from": "+14155550100", "api_base_url": base });
    let twilio = Channel::read(ChannelKind::Twilio, &stored, "auth").unwrap();
    let sent = twilio.send(&http, outgoing(&r, Lookups::default())).await;
    assert_eq!(
        sent,
        Sent::OptedOut {
            sender: "+14155550100".into()
        }
    );
}

#[tokio::test]
async fn a_closed_messenger_window_sends_nothing() {
    let stored =
        json!({ "page_id": "1", "api_base_url": "http://127.0.0.1:9", "graph_version": "v25.0" });
    let messenger = Channel::read(ChannelKind::Messenger, &stored, "s").unwrap();
    let lookups = Lookups {
        window: Some(WindowVerdict::Closed {
            reason: "closed".into(),
        }),
        ..Default::default()
    };
    let r = reply("hi");
    let sent = messenger
        .send(&loopback_client(), outgoing(&r, lookups))
        .await;
    assert_eq!(sent, Sent::Outcome(SendOutcome::Permanent("closed".into())));
}

#[tokio::test]
async fn test_connection_names_the_account_or_says_why_not() {
    let (base, _) = fake::serve(|s| match s.path.as_str() {
        "/botgood:token/getMe" => (
            200,
            json!({ "ok": true, "result": { "username": "shop_bot" } }).to_string(),
        ),
        _ => (
            401,
            json!({ "ok": false, "description": "Unauthorized" }).to_string(),
        ),
    })
    .await;
    let http = loopback_client();
    let probe = |token: &str| -> Value {
        json!({ "api_base_url": base, "credentials": { "bot_token": token } })
    };
    let good = probe("good:token");
    let telegram = Channel::read(ChannelKind::Telegram, &good, "s").unwrap();
    assert_eq!(
        telegram.test_connection(&http).await,
        Some(Ok("Telegram accepted the credentials of shop_bot".into()))
    );
    let bad = probe("bad:token");
    let telegram = Channel::read(ChannelKind::Telegram, &bad, "s").unwrap();
    assert_eq!(
        telegram.test_connection(&http).await,
        Some(Err(
            "Telegram refused the credentials (401): Unauthorized".into()
        ))
    );
}
