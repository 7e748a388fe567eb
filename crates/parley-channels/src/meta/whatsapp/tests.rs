use super::*;
use crate::common::fake;
use crate::rich::{degrade, Location, Reply};

/// Wraps `messages`/`statuses` in the envelope of channels reference section 4.3.
fn webhook(value_fields: &str) -> Vec<u8> {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"102290129340398","changes":[{{"field":"messages",
        "value":{{"messaging_product":"whatsapp",
                 "metadata":{{"display_phone_number":"15550001111","phone_number_id":"106540352242922"}},
                 {value_fields}}}}}]}}]}}"#
    )
    .into_bytes()
}

const ANA: &str = r#""contacts":[{"profile":{"name":"Ana"},"wa_id":"15551234567"}]"#;

fn messages(body: &[u8]) -> Vec<Incoming> {
    parse_whatsapp(body)
        .unwrap()
        .into_iter()
        .map(|e| match e {
            Event::Message(m) => m,
            other => panic!("a message expected, got {other:?}"),
        })
        .collect()
}

#[test]
fn parses_the_reference_text_message() {
    let body = webhook(&format!(
        r#"{ANA},"messages":[{{"from":"15551234567","id":"wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzQTdCRkE","timestamp":"1700000000","type":"text","text":{{"body":"Where is my order?"}}}}]"#
    ));
    assert_eq!(
        messages(&body),
        vec![Incoming {
            sender_id: "15551234567".into(),
            sender_name: Some("Ana".into()),
            sender_phone: Some("+15551234567".into()),
            message_id: "wamid.HBgLMTU1NTEyMzQ1NjcVAgASGBQzQTdCRkE".into(),
            text: "Where is my order?".into(),
            sent_at: Some(1_700_000_000_000),
            ..Incoming::default()
        }]
    );
    let routed = parse_whatsapp_routed(&body).unwrap();
    assert_eq!(routed[0].0.as_deref(), Some("106540352242922"));
}

#[test]
fn parses_media_choices_and_locations() {
    let body = webhook(&format!(
        r#"{ANA},"messages":[
        {{"from":"15551234567","id":"wamid.img","timestamp":"1700000001","type":"image",
          "image":{{"caption":"broken box","mime_type":"image/jpeg","sha256":"abc=","id":"1479537139650973"}}}},
        {{"from":"15551234567","id":"wamid.btn","timestamp":"1700000002","type":"interactive",
          "interactive":{{"type":"button_reply","button_reply":{{"id":"yes","title":"Yes"}}}}}},
        {{"from":"15551234567","id":"wamid.list","timestamp":"1700000003","type":"interactive",
          "interactive":{{"type":"list_reply","list_reply":{{"id":"mon9","title":"9am","description":"Morning"}}}}}},
        {{"context":{{"from":"15550001111","id":"wamid.tpl"}},"from":"15551234567","id":"wamid.qr","timestamp":"1700000004",
          "type":"button","button":{{"text":"Stop promotions","payload":"stop_promos"}}}},
        {{"from":"15551234567","id":"wamid.loc","timestamp":"1700000005","type":"location",
          "location":{{"address":"1 Hacker Way, Menlo Park","latitude":37.483253,"longitude":-122.148981,"name":"Main Office"}}}},
        {{"from":"15551234567","id":"wamid.pin","timestamp":"1700000006","type":"location",
          "location":{{"latitude":1.5,"longitude":2.5}}}}]"#
    ));
    let m = messages(&body);
    assert_eq!(m.len(), 6);
    assert_eq!(
        m[0].media,
        vec![Media {
            kind: "image".into(),
            reference: "1479537139650973".into(),
            mime_type: Some("image/jpeg".into()),
            caption: Some("broken box".into()),
        }]
    );
    assert_eq!(m[0].text, "broken box");
    let picked: Vec<(Option<&str>, &str)> = m[1..4]
        .iter()
        .map(|m| (m.choice.as_deref(), m.text.as_str()))
        .collect();
    assert_eq!(
        picked,
        vec![
            (Some("yes"), "Yes"),
            (Some("mon9"), "9am"),
            (Some("stop_promos"), "Stop promotions")
        ]
    );
    assert_eq!(m[4].text, "Main Office");
    assert_eq!(
        m[4].location,
        Some(Location {
            latitude: 37.483253,
            longitude: -122.148981,
            name: Some("Main Office".into()),
            address: Some("1 Hacker Way, Menlo Park".into()),
        })
    );
    assert_eq!(m[5].text, "Location");
}

#[test]
fn skips_reactions_and_system_notices_and_shows_the_unsupported() {
    let body = webhook(&format!(
        r#"{ANA},"messages":[
        {{"from":"15551234567","id":"wamid.r","timestamp":"1700000001","type":"reaction","reaction":{{"message_id":"wamid.x","emoji":"👍"}}}},
        {{"from":"15551234567","id":"wamid.s","timestamp":"1700000002","type":"system","system":{{"body":"changed number","wa_id":"15559999999","type":"user_changed_number"}}}},
        {{"from":"15551234567","id":"wamid.u","timestamp":"1700000003","type":"unsupported","errors":[{{"code":131051,"title":"Message type unknown"}}]}}]"#
    ));
    let m = messages(&body);
    assert_eq!(m.len(), 1);
    assert_eq!(
        m[0].text,
        "[WhatsApp unsupported message: not shown in Parley]"
    );
}

#[test]
fn parses_statuses_with_the_failure_reason() {
    let body = webhook(
        r#""statuses":[
        {"id":"wamid.A","status":"delivered","timestamp":"1700000100","recipient_id":"15551234567",
         "pricing":{"billable":true,"pricing_model":"PMP","category":"service","type":"regular"}},
        {"id":"wamid.B","status":"read","timestamp":"1700000101","recipient_id":"15551234567"},
        {"id":"wamid.C","status":"failed","timestamp":"1700000102","recipient_id":"15551234567",
         "errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message",
                    "error_data":{"details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}]},
        {"id":"wamid.D","status":"deleted","timestamp":"1700000103","recipient_id":"15551234567"}]"#,
    );
    assert_eq!(
        parse_whatsapp(&body).unwrap(),
        vec![
            Event::Status(StatusReport {
                provider_id: "wamid.A".into(),
                status: DeliveryStatus::Delivered,
                error: None
            }),
            Event::Status(StatusReport {
                provider_id: "wamid.B".into(),
                status: DeliveryStatus::Read,
                error: None
            }),
            Event::Status(StatusReport {
                provider_id: "wamid.C".into(),
                status: DeliveryStatus::Failed,
                error: Some("WhatsApp error 131047: Re-engagement message (Message failed to send because more than 24 hours have passed since the customer last replied to this number.)".into())
            }),
        ]
    );
}

#[test]
fn refuses_what_is_not_a_whatsapp_webhook() {
    for bad in [
        &b"nope"[..],
        br#"{"object":"page","entry":[]}"#,
        br#"{"entry":[]}"#,
    ] {
        assert!(matches!(
            parse_whatsapp(bad),
            Err(InboundError::Malformed(_))
        ));
    }
    let no_id =
        webhook(r#""messages":[{"from":"1","timestamp":"1","type":"text","text":{"body":"x"}}]"#);
    assert!(matches!(
        parse_whatsapp(&no_id),
        Err(InboundError::Malformed(_))
    ));
    // Other fields of the account (template reviews, quality) carry nothing for the inbox.
    let other = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"message_template_status_update","value":{"event":"APPROVED"}}]}]}"#;
    assert_eq!(parse_whatsapp(other), Ok(Vec::new()));
}

fn part(text: &str, choices: &[(&str, &str)], as_list: bool, media: Vec<OutMedia>) -> Part {
    Part {
        text: text.into(),
        choices: choices
            .iter()
            .map(|(id, title)| Choice {
                id: (*id).into(),
                title: (*title).into(),
            })
            .collect(),
        as_list,
        media,
    }
}

#[test]
fn renders_reply_buttons_like_the_reference() {
    assert_eq!(
        whatsapp_render(
            "15551234567",
            &part("Pick one", &[("yes", "Yes"), ("no", "No")], false, vec![])
        ),
        vec![
            json!({"messaging_product":"whatsapp","recipient_type":"individual","type":"interactive","to":"15551234567",
            "interactive":{"type":"button","body":{"text":"Pick one"},
              "action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}},
                                   {"type":"reply","reply":{"id":"no","title":"No"}}]}}})
        ]
    );
    let list = whatsapp_render(
        "15551234567",
        &part(
            "Choose a slot",
            &[
                ("mon9", "9am"),
                ("mon10", "10am"),
                ("mon11", "11am"),
                ("mon12", "12pm"),
            ],
            true,
            vec![],
        ),
    );
    assert_eq!(
        list,
        vec![
            json!({"messaging_product":"whatsapp","recipient_type":"individual","type":"interactive","to":"15551234567",
            "interactive":{"type":"list","body":{"text":"Choose a slot"},"action":{"button":"Options",
              "sections":[{"title":"Options","rows":[{"id":"mon9","title":"9am"},{"id":"mon10","title":"10am"},
                                                     {"id":"mon11","title":"11am"},{"id":"mon12","title":"12pm"}]}]}}})
        ]
    );
}

#[test]
fn renders_text_media_and_templates() {
    assert_eq!(
        whatsapp_render("15551234567", &part("Hello *world*", &[], false, vec![])),
        vec![
            json!({"messaging_product":"whatsapp","recipient_type":"individual","type":"text","to":"15551234567",
                    "text":{"body":"Hello *world*","preview_url":false}})
        ]
    );
    let pdf = OutMedia {
        url: "https://x.test/invoice.pdf".into(),
        mime_type: "application/pdf".into(),
        size: 1000,
        name: Some("invoice.pdf".into()),
    };
    assert_eq!(
        whatsapp_render(
            "15551234567",
            &part("Your invoice", &[], false, vec![pdf.clone()])
        ),
        vec![
            json!({"messaging_product":"whatsapp","recipient_type":"individual","type":"document","to":"15551234567",
                    "document":{"link":"https://x.test/invoice.pdf","caption":"Your invoice","filename":"invoice.pdf"}})
        ]
    );
    // A 6 MB image is over WhatsApp's 5 MB for images: it goes as a link.
    let big = OutMedia {
        url: "https://x.test/big.png".into(),
        mime_type: "image/png".into(),
        size: 6_000_000,
        name: None,
    };
    let out = whatsapp_render("15551234567", &part("Photo", &[], false, vec![big]));
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0]["text"],
        json!({"body":"Photo\nhttps://x.test/big.png","preview_url":true})
    );
    // Buttons after a long text: the text goes first, the last 1024 characters are the body.
    let long = "word ".repeat(400);
    let out = whatsapp_render("1", &part(&long, &[("a", "A")], false, vec![pdf]));
    let kinds: Vec<&str> = out.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["document", "text", "interactive"]);
    assert!(
        out[2]["interactive"]["body"]["text"]
            .as_str()
            .unwrap()
            .chars()
            .count()
            <= MAX_BODY
    );

    let t = Template {
        name: "order_shipped".into(),
        language: "en_US".into(),
        params: vec!["Ana".into(), "#1001".into()],
        names: vec![],
    };
    assert_eq!(
        whatsapp_template("15551234567", &t),
        json!({"messaging_product":"whatsapp","recipient_type":"individual","type":"template","to":"15551234567",
               "template":{"name":"order_shipped","language":{"code":"en_US"},"components":[
                 {"type":"BODY","parameters":[{"type":"text","text":"Ana"},{"type":"text","text":"#1001"}]}]}})
    );
    let named = Template {
        names: vec!["first_name".into(), "order_id".into()],
        ..t
    };
    assert_eq!(
        whatsapp_template("15551234567", &named)["template"]["components"][0]["parameters"],
        json!([{"type":"text","parameter_name":"first_name","text":"Ana"},
               {"type":"text","parameter_name":"order_id","text":"#1001"}])
    );
    assert_eq!(
        mark_read_body("wamid.ABC"),
        json!({"messaging_product":"whatsapp","status":"read","message_id":"wamid.ABC"})
    );
}

/// A customer known only by a business-scoped user id is addressed in `recipient` (as pywa 4.5
/// sends it), in every kind of message; a phone number stays in `to`.
#[test]
fn a_bsuid_goes_in_recipient_and_a_phone_number_in_to() {
    let pdf = OutMedia {
        url: "https://x.test/invoice.pdf".into(),
        mime_type: "application/pdf".into(),
        size: 1000,
        name: None,
    };
    let template = Template {
        name: "order_shipped".into(),
        language: "en_US".into(),
        params: vec!["Ana".into()],
        names: vec![],
    };
    for (id, field) in [
        ("US.13491208655302741918", "recipient"),
        ("US.ENT.11815799212886844830", "recipient"),
        ("15551234567", "to"),
        ("+15551234567", "to"),
    ] {
        let mut bodies = whatsapp_render(id, &part("Hi", &[], false, vec![]));
        bodies.extend(whatsapp_render(
            id,
            &part("Pick", &[("y", "Yes"), ("n", "No")], false, vec![]),
        ));
        bodies.extend(whatsapp_render(
            id,
            &part(
                "Pick",
                &[("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")],
                true,
                vec![],
            ),
        ));
        bodies.extend(whatsapp_render(
            id,
            &part("", &[], false, vec![pdf.clone()]),
        ));
        bodies.push(whatsapp_template(id, &template));
        let kinds: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            vec!["text", "interactive", "interactive", "document", "template"]
        );
        for b in &bodies {
            let other = if field == "to" { "recipient" } else { "to" };
            assert_eq!(b[field], id, "{b}");
            assert!(b.get(other).is_none(), "{b}");
            assert_eq!(b["recipient_type"], "individual", "{b}");
        }
    }
    // Read marks and the typing indicator name the customer's message, not the customer.
    for body in [mark_read_body("wamid.IN1"), typing_body("wamid.IN1")] {
        assert!(body.get("to").is_none() && body.get("recipient").is_none());
        assert_eq!(body["message_id"], "wamid.IN1");
    }
    assert!(is_phone_id("15551234567") && is_phone_id("+15551234567"));
    for not_phone in ["US.13491208655302741918", "", "+", "1555 123"] {
        assert!(!is_phone_id(not_phone), "{not_phone}");
    }
}

/// A message from a customer who hides their number carries no `wa_id`, only `user_id`.
#[test]
fn parses_a_sender_known_only_by_bsuid() {
    let body = webhook(
        r#""contacts":[{"profile":{"name":"Ana","username":"@ana"},"user_id":"US.13491208655302741918"}],
        "messages":[{"id":"wamid.B1","timestamp":"1700000000","type":"text","text":{"body":"Hi"}}]"#,
    );
    let m = messages(&body);
    assert_eq!(m[0].sender_id, "US.13491208655302741918");
    assert_eq!(m[0].sender_phone, None);
    assert_eq!(m[0].sender_name.as_deref(), Some("Ana"));
}

#[test]
fn degraded_choices_render_natively_or_as_numbers() {
    let reply = |n: usize| Reply {
        text: "Pick".into(),
        choices: (0..n)
            .map(|i| Choice {
                id: format!("c{i}"),
                title: format!("Option {i}"),
            })
            .collect(),
        ..Reply::default()
    };
    let kind = |n: usize| {
        let parts = degrade(&reply(n), &whatsapp_capabilities());
        let out = whatsapp_render("1", &parts[0]);
        out[0]["interactive"]["type"]
            .as_str()
            .unwrap_or("text")
            .to_string()
    };
    assert_eq!(kind(3), "button");
    assert_eq!(kind(4), "list");
    assert_eq!(kind(10), "list");
    assert_eq!(kind(11), "text");
}

/// Error bodies as the Cloud API answers them (Graph error object; codes from channels
/// reference 4.5).
#[test]
fn classifies_cloud_api_answers() {
    assert_eq!(
        classify_whatsapp(
            200,
            r#"{"messaging_product":"whatsapp","contacts":[{"input":"15551234567","wa_id":"15551234567"}],"messages":[{"id":"wamid.HBgLMTU1","message_status":"accepted"}]}"#
        ),
        SendOutcome::Accepted {
            provider_id: Some("wamid.HBgLMTU1".into())
        }
    );
    let window = r#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,
        "error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
        "fbtrace_id":"AbCdEf"}}"#;
    assert!(
        matches!(classify_whatsapp(400, window), SendOutcome::Permanent(r) if r.starts_with("Outside WhatsApp's 24-hour customer-service window"))
    );
    let throughput = r#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,
        "error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},"fbtrace_id":"x"}}"#;
    assert_eq!(
        classify_whatsapp(400, throughput),
        SendOutcome::Transient("WhatsApp error 130429: (#130429) Rate limit hit (Cloud API message throughput has been reached.)".into())
    );
    let pair = r#"{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit","type":"OAuthException","code":131056,"fbtrace_id":"x"}}"#;
    assert!(matches!(
        classify_whatsapp(400, pair),
        SendOutcome::Transient(_)
    ));
    let token = r#"{"error":{"message":"Error validating access token: Session has expired on Friday, 01-Mar-24 08:00:00 PST.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"x"}}"#;
    assert!(
        matches!(classify_whatsapp(401, token), SendOutcome::Permanent(r) if r.contains("access token has expired"))
    );
    let template = r#"{"error":{"message":"(#132001) Template name does not exist in the translation","type":"OAuthException","code":132001,"fbtrace_id":"x"}}"#;
    assert_eq!(
        classify_whatsapp(404, template),
        SendOutcome::Permanent(
            "WhatsApp error 132001: (#132001) Template name does not exist in the translation"
                .into()
        )
    );
    assert!(
        matches!(classify_whatsapp(503, "upstream connect error"), SendOutcome::Transient(r) if r.contains("HTTP 503"))
    );
}

#[tokio::test]
async fn sends_to_the_cloud_api() {
    let (base, seen) = fake::serve(|s| {
        if s.auth.as_deref() != Some("Bearer EAAG-token") {
            return (401, r#"{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"x"}}"#.into());
        }
        if s.path != "/v21.0/106540352242922/messages" {
            return (400, r#"{"error":{"message":"Unsupported post request.","type":"GraphMethodException","code":100,"error_subcode":33,"fbtrace_id":"x"}}"#.into());
        }
        (200, format!(r#"{{"messaging_product":"whatsapp","contacts":[{{"input":"{0}","wa_id":"{0}"}}],"messages":[{{"id":"wamid.SENT1"}}]}}"#, s.body["to"].as_str().unwrap_or_default()))
    })
    .await;
    let http = crate::net::loopback_client();
    let body = whatsapp_render("15551234567", &part("Hi", &[], false, vec![])).remove(0);
    assert_eq!(
        send_whatsapp(
            &http,
            &format!("{base}/"),
            "v21.0",
            "106540352242922",
            "EAAG-token",
            &body
        )
        .await,
        SendOutcome::Accepted {
            provider_id: Some("wamid.SENT1".into())
        }
    );
    assert_eq!(seen.lock().unwrap()[0].body, body);
    assert!(matches!(
        send_whatsapp(&http, &base, "v21.0", "106540352242922", "expired", &body).await,
        SendOutcome::Permanent(r) if r.contains("WhatsApp error 190")
    ));
    assert!(matches!(
        send_whatsapp(&http, &base, "v21.0", "999", "EAAG-token", &body).await,
        SendOutcome::Permanent(r) if r.starts_with("WhatsApp error 100: Unsupported post request.")
    ));
}
