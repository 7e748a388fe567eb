use super::*;
use crate::common::fake;
use crate::rich::{degrade, Choice, Location, OutMedia, Reply};

const SECRET: &str = "8c570fa6dd201bb328f1c1eac23a96d8";

/// A webhook built with Python and accepted by the official SDK's `WebhookParser`
/// (line-bot-sdk 3.27.0); its signature was computed with
/// `base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest())` and checked with the
/// SDK's `SignatureValidator`.
const WEBHOOK: &[u8] = include_bytes!("testdata/webhook.json");
const WEBHOOK_SIG: &str = "gEp912bDcmu1bsh7FLMoEXIgN0rwplFuVolgqfb4wj0=";

#[test]
fn signatures_match_the_official_sdk() {
    assert_eq!(verify(SECRET, Some(WEBHOOK_SIG), WEBHOOK), Ok(()));
    let ping = br#"{"destination":"xxxxxxxxxx","events":[]}"#;
    assert_eq!(
        signature(SECRET, ping),
        "s4AcWuPopPQx3yl4fygcATykEED3ZEtB73nMhWRvHZk="
    );
    assert_eq!(
        verify(
            SECRET,
            Some("s4AcWuPopPQx3yl4fygcATykEED3ZEtB73nMhWRvHZk="),
            ping
        ),
        Ok(())
    );
    for (secret, header, body) in [
        (SECRET, Some(WEBHOOK_SIG), &ping[..]),
        ("another-secret", Some(WEBHOOK_SIG), WEBHOOK),
        (SECRET, None, WEBHOOK),
        (
            SECRET,
            Some("gEp912bDcmu1bsh7FLMoEXIgN0rwplFuVolgqfb4wj0"),
            WEBHOOK,
        ),
        ("", Some(WEBHOOK_SIG), WEBHOOK),
    ] {
        assert_eq!(
            verify(secret, header, body),
            Err(InboundError::BadSignature)
        );
    }
}

#[test]
fn parses_one_to_one_messages_and_postbacks() {
    let events = parse(WEBHOOK).unwrap();
    let m: Vec<Incoming> = events
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => m,
            other => panic!("a message expected, got {other:?}"),
        })
        .collect();
    // Text, image, location, sticker, postback; the group message and the follow are skipped.
    assert_eq!(m.len(), 5);
    assert_eq!(
        m[0],
        Incoming {
            sender_id: "U4af4980629000000000000000000000a".into(),
            message_id: "468789577898262530".into(),
            text: "Where is my order?".into(),
            sent_at: Some(1692251666727),
            reply_token: Some("38ef843bde154d9b91c21320ffd17a00".into()),
            ..Incoming::default()
        }
    );
    assert_eq!(
        m[1].media,
        vec![Media {
            kind: "image".into(),
            reference: "354718705033693861".into(),
            mime_type: None,
            caption: None
        }]
    );
    assert_eq!(m[2].text, "my location");
    assert_eq!(
        m[2].location,
        Some(Location {
            latitude: 35.67966,
            longitude: 139.73669,
            name: Some("my location".into()),
            address: Some("1-3 Kioicho, Chiyoda-ku, Tokyo".into()),
        })
    );
    assert_eq!(m[3].media[0].reference, "line-sticker:446:1988");
    assert_eq!(
        (
            m[4].message_id.as_str(),
            m[4].choice.as_deref(),
            m[4].reply_token.as_deref()
        ),
        (
            "01H810YECXQQZ37VAXPF6H9E6X",
            Some("agent"),
            Some("38ef843bde154d9b91c21320ffd17a04")
        )
    );
}

#[test]
fn parses_files_pings_and_refuses_the_malformed() {
    let file = br#"{"destination":"U0123456789abcdef0123456789abcdef","events":[{"type":"message","message":{"type":"file","id":"325708","fileName":"invoice.pdf","fileSize":2138},"webhookEventId":"01H810YECXQQZ37VAXPF6H9E6T","deliveryContext":{"isRedelivery":false},"timestamp":1692251666727,"source":{"type":"user","userId":"U4af4980629000000000000000000000a"},"mode":"active","replyToken":"38ef843bde154d9b91c21320ffd17a00"}]}"#;
    let Ok(events) = parse(file) else {
        panic!("parses")
    };
    let [Event::Message(m)] = events.as_slice() else {
        panic!("one message")
    };
    assert_eq!(
        (m.text.as_str(), m.media[0].kind.as_str()),
        ("invoice.pdf", "file")
    );
    assert_eq!(
        parse(br#"{"destination":"U1","events":[]}"#),
        Ok(Vec::new())
    );
    for bad in [
        &b"]"[..],
        br#"{"destination":"U1"}"#,
        br#"{"events":[{"type":"message","source":{"type":"user","userId":"U1"},"timestamp":1}]}"#,
        br#"{"events":[{"type":"message","message":{"type":"text","text":"no id"},"source":{"type":"user","userId":"U1"}}]}"#,
    ] {
        assert!(matches!(parse(bad), Err(InboundError::Malformed(_))), "{}", String::from_utf8_lossy(bad));
    }
}

fn part(text: &str, choices: &[(&str, &str)], media: Vec<OutMedia>) -> Part {
    Part {
        text: text.into(),
        choices: choices
            .iter()
            .map(|(id, title)| Choice {
                id: (*id).into(),
                title: (*title).into(),
            })
            .collect(),
        as_list: false,
        media,
    }
}

fn jpeg(url: &str, size: u64) -> OutMedia {
    OutMedia {
        url: url.into(),
        mime_type: "image/jpeg".into(),
        size,
        name: None,
    }
}

/// The expected messages were captured from the official SDK's `push_message` (line-bot-sdk
/// 3.27.0 against a loopback server), built from `TextMessage` and an `ImageMessage` with
/// postback quick replies.
#[test]
fn renders_what_the_official_sdk_sends() {
    let captured: Value = serde_json::from_slice(include_bytes!("testdata/push.json")).unwrap();
    let out = render(&part(
        "Pick one",
        &[("yes", "Yes"), ("no", "No")],
        vec![jpeg("https://x.test/a.jpg", 1000)],
    ));
    assert_eq!(Value::from(out), captured["messages"]);
}

#[test]
fn long_text_and_oversized_media_stay_within_limits() {
    // 3,000 emoji are 6,000 UTF-16 units: two messages.
    let emoji = "😀".repeat(3000);
    let out = render(&part(&emoji, &[], vec![]));
    assert!(out.len() >= 2);
    assert!(out
        .iter()
        .all(|m| m["text"].as_str().unwrap().encode_utf16().count() <= MAX_TEXT));
    // An image over 1 MB cannot serve as its own preview: it goes as a link.
    let out = render(&part(
        "Photo",
        &[],
        vec![jpeg("https://x.test/big.jpg", 2_000_000)],
    ));
    assert_eq!(
        out,
        vec![json!({"type":"text","text":"Photo\nhttps://x.test/big.jpg"})]
    );
    // Fourteen choices are more than 13 quick replies: numbered text.
    let reply = Reply {
        text: "Pick".into(),
        choices: (0..14)
            .map(|i| Choice {
                id: format!("c{i}"),
                title: format!("Option {i}"),
            })
            .collect(),
        ..Reply::default()
    };
    let parts = degrade(&reply, &capabilities());
    let out = render(&parts[0]);
    assert!(out[0].get("quickReply").is_none());
    assert!(out[0]["text"]
        .as_str()
        .unwrap()
        .ends_with("14. Option 13\n\nReply with a number."));
}

/// Error bodies in LINE's `{message, details}` shape.
#[test]
fn classifies_line_answers() {
    assert_eq!(
        classify(
            200,
            r#"{"sentMessages":[{"id":"461230966842064897","quoteToken":"IStG5h1Tz7b"}]}"#
        ),
        SendOutcome::Accepted {
            provider_id: Some("461230966842064897".into())
        }
    );
    assert_eq!(
        classify(400, r#"{"message":"Invalid reply token"}"#),
        SendOutcome::Permanent("LINE error 400: Invalid reply token: the reply token expired or was used already; send with push instead".into())
    );
    assert!(matches!(
        classify(
            429,
            r#"{"message":"The API rate limit has been exceeded. Try again later."}"#
        ),
        SendOutcome::Transient(_)
    ));
    assert!(matches!(
        classify(429, r#"{"message":"You have reached your monthly limit."}"#),
        SendOutcome::Permanent(r) if r.contains("monthly message quota")
    ));
    assert_eq!(
        classify(400, r#"{"message":"The request body has 1 error(s)","details":[{"message":"Length must be between 0 and 5000","property":"messages[0].text"}]}"#),
        SendOutcome::Permanent("LINE error 400: The request body has 1 error(s) (messages[0].text: Length must be between 0 and 5000)".into())
    );
    assert!(matches!(
        classify(401, r#"{"message":"Authentication failed due to the following reason: invalid token. Confirm that the access token in the authorization header is valid."}"#),
        SendOutcome::Permanent(r) if r.contains("access token is invalid")
    ));
    assert!(matches!(
        classify(500, r#"{"message":"Internal error"}"#),
        SendOutcome::Transient(_)
    ));
}

/// Answers like api.line.me: Bearer token checked, reply tokens single-use, at most five
/// messages a request.
fn line_api(s: &fake::Seen) -> (u16, String) {
    if s.auth.as_deref() != Some("Bearer CHANNEL-TOKEN") {
        return (
            401,
            r#"{"message":"Authentication failed due to the following reason: invalid token."}"#
                .into(),
        );
    }
    let n = s.body["messages"].as_array().map_or(0, Vec::len);
    if !(1..=5).contains(&n) {
        return (400, r#"{"message":"The request body has 1 error(s)","details":[{"message":"Size must be between 1 and 5","property":"messages"}]}"#.into());
    }
    let ok = format!(
        r#"{{"sentMessages":[{{"id":"{}{n}","quoteToken":"q"}}]}}"#,
        s.path.len()
    );
    match s.path.as_str() {
        "/v2/bot/message/reply" if s.body["replyToken"] == "fresh" => (200, ok),
        "/v2/bot/message/reply" => (400, r#"{"message":"Invalid reply token"}"#.into()),
        "/v2/bot/message/push" if s.body["to"] == "U1" => (200, ok),
        _ => (400, r#"{"message":"Failed to send messages"}"#.into()),
    }
}

#[tokio::test]
async fn replies_then_pushes_in_batches_of_five() {
    let (base, seen) = fake::serve(line_api).await;
    let http = crate::net::loopback_client();
    let seven: Vec<Value> = (0..7)
        .map(|i| json!({"type":"text","text":format!("m{i}")}))
        .collect();
    assert_eq!(
        send(
            &http,
            &base,
            "CHANNEL-TOKEN",
            "U1",
            Some("fresh"),
            seven.clone()
        )
        .await,
        SendOutcome::Accepted {
            provider_id: Some("215".into())
        }
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].path, "/v2/bot/message/reply");
        assert_eq!(
            seen[0].body,
            json!({"replyToken":"fresh","messages":seven[..5]})
        );
        assert_eq!(seen[1].path, "/v2/bot/message/push");
        assert_eq!(seen[1].body, json!({"to":"U1","messages":seven[5..]}));
    }
    assert_eq!(
        send(
            &http,
            &base,
            "CHANNEL-TOKEN",
            "U1",
            None,
            seven[..1].to_vec()
        )
        .await,
        SendOutcome::Accepted {
            provider_id: Some("201".into())
        }
    );
    assert!(matches!(
        send(&http, &base, "CHANNEL-TOKEN", "U1", Some("expired"), seven[..1].to_vec()).await,
        SendOutcome::Permanent(r) if r.contains("Invalid reply token")
    ));
    assert!(matches!(
        send(&http, &base, "WRONG", "U1", None, seven[..1].to_vec()).await,
        SendOutcome::Permanent(r) if r.starts_with("LINE error 401")
    ));
    // The reply went out, then the push failed: not retried.
    assert!(matches!(
        send(&http, &base, "CHANNEL-TOKEN", "U2", Some("fresh"), seven).await,
        SendOutcome::Permanent(r) if r.starts_with("only 5 of 7 messages were sent")
    ));
}
