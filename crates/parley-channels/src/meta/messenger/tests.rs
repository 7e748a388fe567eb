use super::*;
use crate::common::fake;
use crate::rich::{Choice, OutMedia};

fn webhook(object: &str, events: &str) -> Vec<u8> {
    format!(r#"{{"object":"{object}","entry":[{{"id":"PAGE_ID","time":1458692752478,"messaging":[{events}]}}]}}"#)
        .into_bytes()
}

/// The `messages` event of channels reference section 5 (Meta's webhook reference).
#[test]
fn parses_text_quick_replies_and_attachments() {
    let body = webhook(
        "page",
        r#"{"sender":{"id":"PSID"},"recipient":{"id":"PAGE_ID"},"timestamp":1458692752478,
            "message":{"mid":"mid.1457764197618:41d102a3e1ae206a38","text":"hello, world!",
                       "quick_reply":{"payload":"DEVELOPER_DEFINED_PAYLOAD"},
                       "reply_to":{"mid":"m_1","is_self_reply":false},
                       "attachments":[{"type":"image","payload":{"url":"https://scontent.example/a.jpg"}}]}}"#,
    );
    assert_eq!(
        parse_messenger(&body).unwrap(),
        vec![Event::Message(Incoming {
            sender_id: "PSID".into(),
            message_id: "mid.1457764197618:41d102a3e1ae206a38".into(),
            text: "hello, world!".into(),
            media: vec![Media {
                kind: "image".into(),
                reference: "https://scontent.example/a.jpg".into(),
                mime_type: None,
                caption: None,
            }],
            choice: Some("DEVELOPER_DEFINED_PAYLOAD".into()),
            sent_at: Some(1458692752478),
            ..Incoming::default()
        })]
    );
}

#[test]
fn parses_postbacks_reads_deliveries_and_skips_echoes() {
    let body = webhook(
        "page",
        r#"{"sender":{"id":"PSID"},"recipient":{"id":"PAGE_ID"},"timestamp":1527459824,
            "postback":{"mid":"m_AG5Hz2U","title":"Talk to agent","payload":"agent"}},
           {"sender":{"id":"PSID"},"recipient":{"id":"PAGE_ID"},"timestamp":1458668856463,"read":{"watermark":1458668856253}},
           {"sender":{"id":"PSID"},"recipient":{"id":"PAGE_ID"},
            "delivery":{"mids":["mid.1458668856218:ed81099e15d3f4f233"],"watermark":1458668856253}},
           {"sender":{"id":"PAGE_ID"},"recipient":{"id":"PSID"},"timestamp":1458692752478,
            "message":{"is_echo":true,"app_id":1517776481860111,"metadata":"x","mid":"mid.echo","text":"our reply"}},
           {"sender":{"id":"PSID"},"recipient":{"id":"PAGE_ID"},"timestamp":1458692752478,
            "reaction":{"mid":"mid.x","action":"react","reaction":"love","emoji":"❤"}}"#,
    );
    assert_eq!(
        parse_messenger(&body).unwrap(),
        vec![
            Event::Message(Incoming {
                sender_id: "PSID".into(),
                message_id: "m_AG5Hz2U".into(),
                text: "Talk to agent".into(),
                choice: Some("agent".into()),
                sent_at: Some(1527459824),
                ..Incoming::default()
            }),
            Event::Read(ReadWatermark {
                sender_id: "PSID".into(),
                watermark: 1458668856253
            }),
            Event::Status(StatusReport {
                provider_id: "mid.1458668856218:ed81099e15d3f4f233".into(),
                status: DeliveryStatus::Delivered,
                error: None
            }),
        ]
    );
}

#[test]
fn parses_instagram_seen_shares_and_deletions() {
    let body = webhook(
        "instagram",
        r#"{"sender":{"id":"IGSID"},"recipient":{"id":"IGID"},"timestamp":1700000000000,"read":{"mid":"aWdfZAG1"}},
           {"sender":{"id":"IGSID"},"recipient":{"id":"IGID"},"timestamp":1700000000001,
            "message":{"mid":"aWdfZAG2","attachments":[{"type":"ig_reel","payload":{"url":"https://lookaside.example/reel","title":"Our reel"}}]}},
           {"sender":{"id":"IGSID"},"recipient":{"id":"IGID"},"timestamp":1700000000002,"message":{"mid":"aWdfZAG3","is_deleted":true}},
           {"sender":{"id":"IGSID"},"recipient":{"id":"IGID"},"timestamp":1700000000003,"message":{"mid":"aWdfZAG4","is_unsupported":true}}"#,
    );
    let events = parse_messenger(&body).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(
        events[0],
        Event::Status(StatusReport {
            provider_id: "aWdfZAG1".into(),
            status: DeliveryStatus::Read,
            error: None
        })
    );
    let Event::Message(shared) = &events[1] else {
        panic!("a message")
    };
    assert_eq!(
        shared.text,
        "[Shared ig_reel] https://lookaside.example/reel"
    );
    let Event::Message(unsupported) = &events[2] else {
        panic!("a message")
    };
    assert_eq!(
        unsupported.text,
        "[Message type not supported by Instagram's API]"
    );
}

#[test]
fn refuses_other_objects_and_missing_ids() {
    for bad in [
        &b"{"[..],
        br#"{"object":"whatsapp_business_account","entry":[]}"#,
        &webhook(
            "page",
            r#"{"recipient":{"id":"PAGE_ID"},"message":{"mid":"m","text":"x"}}"#,
        ),
        &webhook(
            "page",
            r#"{"sender":{"id":"PSID"},"message":{"text":"no mid"}}"#,
        ),
    ] {
        assert!(
            matches!(parse_messenger(bad), Err(InboundError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(bad)
        );
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

#[test]
fn renders_quick_replies_attachments_and_tags() {
    assert_eq!(
        messenger_render(
            "PSID",
            &part(
                "Pick a colour",
                &[("RED", "Red"), ("GREEN", "Green")],
                vec![]
            ),
            MessengerTag::Response
        ),
        vec![
            json!({"recipient":{"id":"PSID"},"messaging_type":"RESPONSE",
            "message":{"text":"Pick a colour","quick_replies":[
                {"content_type":"text","title":"Red","payload":"RED"},
                {"content_type":"text","title":"Green","payload":"GREEN"}]}})
        ]
    );
    let photo = OutMedia {
        url: "https://x.test/a.jpg".into(),
        mime_type: "image/jpeg".into(),
        size: 10,
        name: None,
    };
    assert_eq!(
        messenger_render(
            "PSID",
            &part("Here it is", &[("ok", "Thanks")], vec![photo]),
            MessengerTag::HumanAgent
        ),
        vec![
            json!({"recipient":{"id":"PSID"},"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT",
                   "message":{"attachment":{"type":"image","payload":{"url":"https://x.test/a.jpg","is_reusable":false}}}}),
            json!({"recipient":{"id":"PSID"},"messaging_type":"MESSAGE_TAG","tag":"HUMAN_AGENT",
                   "message":{"text":"Here it is",
                              "quick_replies":[{"content_type":"text","title":"Thanks","payload":"ok"}]}}),
        ]
    );
    assert_eq!(
        messenger_typing_body("PSID"),
        json!({"recipient":{"id":"PSID"},"sender_action":"typing_on"})
    );
    // A title over 20 characters cannot be a quick reply.
    let out = messenger_render(
        "PSID",
        &part("Pick", &[("a", "A title that is far too long")], vec![]),
        MessengerTag::Response,
    );
    assert_eq!(
        out[0]["message"]["text"],
        "Pick\n\n1. A title that is far too long\n\nReply with a number."
    );
}

#[test]
fn instagram_text_is_cut_at_1000_bytes() {
    let text = "é".repeat(900); // 1,800 bytes in 900 characters
    let out = instagram_render("IGSID", &part(&text, &[], vec![]), MessengerTag::Response);
    assert!(out.len() >= 2);
    let texts: Vec<&str> = out
        .iter()
        .map(|v| v["message"]["text"].as_str().unwrap())
        .collect();
    assert!(texts.iter().all(|t| t.len() <= 1000));
    assert_eq!(texts.concat(), text);
    assert_eq!(
        messenger_render("PSID", &part(&text, &[], vec![]), MessengerTag::Response).len(),
        1
    );
}

/// Error bodies in the Graph shape of Meta's Messenger error-code page.
#[test]
fn classifies_send_api_answers() {
    assert_eq!(
        classify_messenger(200, r#"{"recipient_id":"1254477777772919","message_id":"AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"}"#),
        SendOutcome::Accepted { provider_id: Some("AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P".into()) }
    );
    let window = r#"{"error":{"message":"(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"H3r5"}}"#;
    assert!(
        matches!(classify_messenger(400, window), SendOutcome::Permanent(r) if r.starts_with("Outside the 24-hour messaging window") && r.contains("10/2018278"))
    );
    let permission = r#"{"error":{"message":"(#10) Requires pages_messaging permission to manage the object","type":"OAuthException","code":10,"fbtrace_id":"x"}}"#;
    assert_eq!(
        classify_messenger(403, permission),
        SendOutcome::Permanent(
            "Messenger error 10: (#10) Requires pages_messaging permission to manage the object"
                .into()
        )
    );
    let unavailable = r#"{"error":{"message":"(#551) This person isn't available right now.","type":"OAuthException","code":551,"error_subcode":1545041,"fbtrace_id":"x"}}"#;
    assert!(
        matches!(classify_messenger(400, unavailable), SendOutcome::Permanent(r) if r.contains("cannot be reached"))
    );
    let busy = r#"{"error":{"message":"(#613) Calls to this api have exceeded the rate limit.","type":"OAuthException","code":613,"fbtrace_id":"x"}}"#;
    assert!(matches!(
        classify_messenger(400, busy),
        SendOutcome::Transient(_)
    ));
    let app = r#"{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","is_transient":true,"code":4,"fbtrace_id":"x"}}"#;
    assert!(matches!(
        classify_messenger(400, app),
        SendOutcome::Transient(_)
    ));
    let token = r#"{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"error_subcode":1234567,"fbtrace_id":"BLBz/WZt8dN"}}"#;
    assert!(
        matches!(classify_messenger(401, token), SendOutcome::Permanent(r) if r.contains("reconnect the Page"))
    );
}

#[tokio::test]
async fn sends_to_the_send_api() {
    let (base, seen) = fake::serve(|s| {
        if s.auth.as_deref() != Some("Bearer PAGE-TOKEN") || s.path != "/v21.0/PAGE_ID/messages" {
            return (400, r#"{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"fbtrace_id":"x"}}"#.into());
        }
        if s.body["messaging_type"] == "RESPONSE" && s.body["recipient"]["id"] == "LATE" {
            return (400, r#"{"error":{"message":"(#10) This message is sent outside of allowed window.","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"x"}}"#.into());
        }
        (200, r#"{"recipient_id":"PSID","message_id":"m_sent"}"#.into())
    })
    .await;
    let http = crate::net::loopback_client();
    let body = messenger_render("PSID", &part("Hi", &[], vec![]), MessengerTag::Response).remove(0);
    assert_eq!(
        send_messenger(&http, &base, "v21.0", "PAGE_ID", "PAGE-TOKEN", &body).await,
        SendOutcome::Accepted {
            provider_id: Some("m_sent".into())
        }
    );
    assert_eq!(
        seen.lock().unwrap()[0].query,
        None,
        "the token is not in the URL"
    );
    let late = messenger_render("LATE", &part("Hi", &[], vec![]), MessengerTag::Response).remove(0);
    assert!(matches!(
        send_messenger(&http, &base, "v21.0", "PAGE_ID", "PAGE-TOKEN", &late).await,
        SendOutcome::Permanent(r) if r.starts_with("Outside the 24-hour messaging window")
    ));
    let tagged =
        messenger_render("LATE", &part("Hi", &[], vec![]), MessengerTag::HumanAgent).remove(0);
    assert!(matches!(
        send_messenger(&http, &base, "v21.0", "PAGE_ID", "PAGE-TOKEN", &tagged).await,
        SendOutcome::Accepted { .. }
    ));
    assert!(matches!(
        send_messenger(&http, &base, "v21.0", "PAGE_ID", "OLD", &body).await,
        SendOutcome::Permanent(r) if r.contains("190")
    ));
}

#[test]
fn each_event_names_its_page() {
    let body = br#"{"object":"page","entry":[
        {"id":"P1","time":1,"messaging":[{"sender":{"id":"A"},"recipient":{"id":"P1"},"timestamp":1,"message":{"mid":"m1","text":"a"}}]},
        {"time":2,"messaging":[{"sender":{"id":"B"},"recipient":{"id":"P2"},"timestamp":2,"message":{"mid":"m2","text":"b"}}]}]}"#;
    let pages: Vec<Option<String>> = parse_messenger_routed(body)
        .unwrap()
        .into_iter()
        .map(|(page, _)| page)
        .collect();
    assert_eq!(pages, [Some("P1".to_string()), Some("P2".to_string())]);
}
