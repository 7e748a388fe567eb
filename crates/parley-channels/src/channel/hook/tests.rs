use parley_core::message::DeliveryStatus;
use parley_core::Timestamp;
use serde_json::json;

use super::*;
use crate::ChannelKind;

const NOW: Timestamp = Timestamp(1_700_000_000_000);

fn delivery<'a>(header: &'a dyn Fn(&str) -> Option<&'a str>, body: &'a [u8]) -> Delivery<'a> {
    Delivery {
        header,
        body,
        public_url: "https://parley.example/",
        path: "/hooks/twilio/1",
        query: Some("x=1"),
        now: NOW,
    }
}

#[test]
fn the_api_channel_refuses_with_its_own_codes() {
    let empty = json!({});
    let api = Channel::read(ChannelKind::Api, &empty, "secret").unwrap();
    let body = br#"{"contact":{"id":"c1"},"text":"hi"}"#;
    let code = |sig: Option<String>, ts: Option<String>| {
        let get = |name: &str| match name {
            api::SIGNATURE_HEADER => sig.as_deref(),
            api::TIMESTAMP_HEADER => ts.as_deref(),
            _ => None,
        };
        api.verify_delivery(&delivery(&get, body))
            .map_err(|r| (r.forbidden, r.code))
    };
    assert_eq!(code(Some(api::sign("secret", body)), None), Ok(()));
    assert_eq!(code(None, None), Err((true, "bad_signature")));
    let secs = NOW.0 / 1000;
    let at = |t: i64| (Some(api::sign_at("secret", t, body)), Some(t.to_string()));
    let (sig, ts) = at(secs - 10);
    assert_eq!(code(sig, ts), Ok(()));
    let (sig, ts) = at(secs - 3600);
    assert_eq!(code(sig, ts), Err((true, "stale_timestamp")));
}

#[test]
fn twilio_signs_the_public_url_and_the_form() {
    let empty = json!({});
    let twilio = Channel::read(ChannelKind::Twilio, &empty, "token").unwrap();
    let body = b"MessageSid=SM1&From=%2B14155550123&Body=hi";
    let params: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let good = twilio::signature(
        "token",
        "https://parley.example/hooks/twilio/1?x=1",
        &params,
    );
    let with = |sig: &str| {
        let get = |name: &str| (name == twilio::SIGNATURE_HEADER).then_some(sig);
        twilio
            .verify_delivery(&delivery(&get, body))
            .map_err(|r| r.code)
    };
    assert_eq!(with(&good), Ok(()));
    let local = twilio::signature("token", "http://127.0.0.1/hooks/twilio/1?x=1", &params);
    assert_eq!(with(&local), Err("bad_signature"));
}

#[test]
fn a_twilio_delivery_is_answered_with_twiml_and_checked() {
    let empty = json!({});
    let twilio = Channel::read(ChannelKind::Twilio, &empty, "token").unwrap();
    let body = b"MessageSid=SM1&AccountSid=AC1&From=%2B14155550123&To=%2B14155550100&Body=&NumMedia=1&MediaUrl0=https%3A%2F%2Fapi.twilio.com%2Fm%2F1&MediaContentType0=image%2Fpng";
    let parsed = twilio.parse_delivery(body).unwrap();
    assert_eq!(parsed.answer, Answer::Twiml);
    let (named, event) = parsed.events.into_iter().next().unwrap();
    assert_eq!(named, None);
    let Some(Checked::Message(m)) = twilio.check(event, NOW).unwrap() else {
        panic!("an MMS is a message");
    };
    assert_eq!(m.sender_phone.as_deref(), Some("+14155550123"));
    assert_eq!(m.body, "\n[image/png] https://api.twilio.com/m/1");
    assert_eq!(m.at, NOW);
    let file = &m.files[0];
    assert_eq!(file.placeholder, "[image/png] https://api.twilio.com/m/1");
    assert_eq!(file.shown("photo.png"), "[image/png] attached");

    let failed = twilio::Event::Status(twilio::StatusUpdate {
        message_sid: "SM2".into(),
        status: Some(DeliveryStatus::Failed),
        error_code: Some("21610".into()),
    });
    let Some(Checked::Status(s)) = twilio.check(Delivered::Twilio(failed), NOW).unwrap() else {
        panic!("a failure is a report");
    };
    assert!(s.error.unwrap().contains("STOP"));
    let quiet = twilio::Event::Status(twilio::StatusUpdate {
        message_sid: "SM3".into(),
        status: None,
        error_code: None,
    });
    assert!(twilio
        .check(Delivered::Twilio(quiet), NOW)
        .unwrap()
        .is_none());
}

#[test]
fn an_app_message_shows_its_files_and_never_the_future() {
    let empty = json!({});
    let line = Channel::read(ChannelKind::Line, &empty, "s").unwrap();
    let m = rich::Incoming {
        sender_id: "U1".into(),
        sender_name: Some(" ".into()),
        sender_phone: None,
        message_id: "m1".into(),
        text: "look".into(),
        media: vec![Media {
            kind: "image".into(),
            reference: "123".into(),
            mime_type: None,
            caption: None,
        }],
        choice: None,
        location: None,
        sent_at: Some(NOW.0 + 60_000),
        reply_token: Some("r".into()),
    };
    let Some(Checked::Message(m)) = line.check(Delivered::App(Event::Message(m)), NOW).unwrap()
    else {
        panic!("a message");
    };
    assert_eq!(m.body, "look\n[image] 123");
    assert_eq!(m.files[0].shown("a.jpg"), "[image] a.jpg");
    assert_eq!(m.sender_name, None);
    assert_eq!(m.at, NOW);
    assert_eq!(m.reply_token.as_deref(), Some("r"));
}

#[test]
fn meta_inboxes_route_by_their_number_or_page() {
    let stored = json!({
        "phone_number_id": "111",
        "page_id": "222",
        "api_base_url": "http://127.0.0.1:9",
        "credentials": { "verify_token": "vt", "bot_token": "bt" }
    });
    let read = |kind| Channel::read(kind, &stored, "s").unwrap();
    assert_eq!(read(ChannelKind::Whatsapp).address(), Some("111"));
    assert_eq!(read(ChannelKind::Messenger).address(), Some("222"));
    assert_eq!(read(ChannelKind::Instagram).address(), Some("222"));
    assert_eq!(read(ChannelKind::Telegram).address(), None);
    assert!(read(ChannelKind::Instagram).keeps_unaddressed());
    assert!(!read(ChannelKind::Messenger).keeps_unaddressed());
    assert!(!read(ChannelKind::Api).answers_choices());
    assert!(read(ChannelKind::Twilio).answers_choices());

    let q = "hub.mode=subscribe&hub.verify_token=vt&hub.challenge=42";
    assert_eq!(
        read(ChannelKind::Whatsapp).handshake(q),
        Some(Ok("42".into()))
    );
    assert!(read(ChannelKind::Line).handshake(q).is_none());

    let tap = br#"{"update_id":1,"callback_query":{"id":"cb1"}}"#;
    assert!(read(ChannelKind::Telegram).tap_answer(tap).is_some());
    assert!(read(ChannelKind::Telegram).tap_answer(b"{}").is_none());
    assert!(read(ChannelKind::Line).tap_answer(tap).is_none());
}
