use super::*;
use crate::common::fake;
use crate::rich::{degrade, Reply};

fn only_message(events: Vec<Event>) -> Incoming {
    match events.as_slice() {
        [Event::Message(m)] => m.clone(),
        other => panic!("one message expected, got {other:?}"),
    }
}

#[test]
fn the_secret_header_must_match_exactly() {
    assert_eq!(verify("s3cr3t_Token-1", Some("s3cr3t_Token-1")), Ok(()));
    for bad in [
        Some("s3cr3t_Token-2"),
        Some("s3cr3t_Token-1 "),
        Some(""),
        None,
    ] {
        assert_eq!(
            verify("s3cr3t_Token-1", bad),
            Err(InboundError::BadSignature)
        );
    }
    // An unset secret must not let a request without the header through.
    assert_eq!(verify("", Some("")), Err(InboundError::BadSignature));
}

/// The update of channels reference section 6 (parsed there by python-telegram-bot).
#[test]
fn parses_a_private_text_message() {
    let body = br#"{"update_id":100000001,
     "message":{"message_id":7,"from":{"id":111,"is_bot":false,"first_name":"Ana","last_name":"Silva","username":"anas","language_code":"pt-BR"},
                "chat":{"id":111,"type":"private","first_name":"Ana","last_name":"Silva","username":"anas"},
                "date":1700000000,"text":"/start order1001","entities":[{"offset":0,"length":6,"type":"bot_command"}]}}"#;
    let m = only_message(parse(body).unwrap());
    assert_eq!(
        m,
        Incoming {
            sender_id: "111".into(),
            sender_name: Some("Ana Silva".into()),
            message_id: "111:7".into(),
            text: "/start order1001".into(),
            sent_at: Some(1_700_000_000_000),
            ..Incoming::default()
        }
    );
}

#[test]
fn parses_photos_documents_voice_and_locations() {
    let photo = br#"{"update_id":2,"message":{"message_id":8,"from":{"id":111,"is_bot":false,"first_name":"Ana"},
        "chat":{"id":111,"type":"private","first_name":"Ana"},"date":1700000001,
        "photo":[{"file_id":"AgACAgQAAxkBAAMGsmall","file_unique_id":"AQADs","file_size":1293,"width":90,"height":67},
                 {"file_id":"AgACAgQAAxkBAAMGlarge","file_unique_id":"AQADl","file_size":51123,"width":800,"height":600}],
        "caption":"the box arrived broken"}}"#;
    let m = only_message(parse(photo).unwrap());
    assert_eq!(m.text, "the box arrived broken");
    assert_eq!(
        m.media,
        vec![Media {
            kind: "image".into(),
            reference: "AgACAgQAAxkBAAMGlarge".into(),
            mime_type: None,
            caption: Some("the box arrived broken".into()),
        }]
    );

    let doc = br#"{"update_id":3,"message":{"message_id":9,"from":{"id":111,"is_bot":false,"first_name":"Ana"},
        "chat":{"id":111,"type":"private"},"date":1700000002,
        "document":{"file_name":"invoice.pdf","mime_type":"application/pdf","file_id":"BQACAgQdoc","file_unique_id":"u","file_size":20480}}}"#;
    let m = only_message(parse(doc).unwrap());
    assert_eq!(
        (m.media[0].kind.as_str(), m.media[0].reference.as_str()),
        ("document", "BQACAgQdoc")
    );
    assert_eq!(m.media[0].mime_type.as_deref(), Some("application/pdf"));

    let voice = br#"{"update_id":4,"message":{"message_id":10,"from":{"id":111,"is_bot":false,"first_name":"Ana"},
        "chat":{"id":111,"type":"private"},"date":1700000003,
        "voice":{"duration":3,"mime_type":"audio/ogg","file_id":"AwACAgQvoice","file_unique_id":"v","file_size":9000}}}"#;
    assert_eq!(only_message(parse(voice).unwrap()).media[0].kind, "audio");

    let gif = br#"{"update_id":5,"message":{"message_id":11,"from":{"id":111,"is_bot":false,"first_name":"Ana"},
        "chat":{"id":111,"type":"private"},"date":1700000004,
        "animation":{"file_id":"CgACanim","file_unique_id":"a","mime_type":"video/mp4","duration":2,"width":1,"height":1},
        "document":{"file_id":"CgACanim","file_unique_id":"a","mime_type":"video/mp4"}}}"#;
    let m = only_message(parse(gif).unwrap());
    assert_eq!(m.media.len(), 1, "an animation is one attachment, not two");
    assert_eq!(m.media[0].kind, "video");

    let venue = br#"{"update_id":6,"message":{"message_id":12,"from":{"id":111,"is_bot":false,"first_name":"Ana"},
        "chat":{"id":111,"type":"private"},"date":1700000005,
        "location":{"latitude":38.7223,"longitude":-9.1393},
        "venue":{"location":{"latitude":38.7223,"longitude":-9.1393},"title":"Acme Store","address":"Rua Augusta 1"}}}"#;
    let m = only_message(parse(venue).unwrap());
    assert_eq!(m.text, "Acme Store");
    assert_eq!(
        m.location,
        Some(Location {
            latitude: 38.7223,
            longitude: -9.1393,
            name: Some("Acme Store".into()),
            address: Some("Rua Augusta 1".into()),
        })
    );
    let pin = br#"{"update_id":7,"message":{"message_id":13,"from":{"id":111,"is_bot":false,"first_name":"Ana"},
        "chat":{"id":111,"type":"private"},"date":1700000006,"location":{"latitude":1.5,"longitude":2.5}}}"#;
    assert_eq!(only_message(parse(pin).unwrap()).text, "Location");
}

#[test]
fn a_contact_the_customer_shares_of_themselves_gives_their_phone() {
    let own = br#"{"update_id":8,"message":{"message_id":14,"from":{"id":111,"is_bot":false,"first_name":"Ana"},
        "chat":{"id":111,"type":"private"},"date":1700000007,
        "contact":{"phone_number":"351912345678","first_name":"Ana","user_id":111}}}"#;
    let m = only_message(parse(own).unwrap());
    assert_eq!(m.sender_phone.as_deref(), Some("+351912345678"));
    assert_eq!(m.text, "[Contact] Ana 351912345678");
    let other = br#"{"update_id":9,"message":{"message_id":15,"from":{"id":111,"is_bot":false,"first_name":"Ana"},
        "chat":{"id":111,"type":"private"},"date":1700000008,
        "contact":{"phone_number":"+15550001111","first_name":"Bob","user_id":222}}}"#;
    assert_eq!(only_message(parse(other).unwrap()).sender_phone, None);
}

#[test]
fn a_tapped_button_is_a_choice_titled_as_the_button() {
    let body = br#"{"update_id":100000002,"callback_query":{"id":"4382bfdwdsb323b2d9",
        "from":{"id":111,"is_bot":false,"first_name":"Ana","last_name":"Silva"},
        "message":{"message_id":20,"from":{"id":999,"is_bot":true,"first_name":"AcmeBot"},
                   "chat":{"id":111,"type":"private","first_name":"Ana"},"date":1700000100,"text":"How can we help?",
                   "reply_markup":{"inline_keyboard":[[{"text":"Track my order","callback_data":"track"}],
                                                      [{"text":"Talk to agent","callback_data":"agent"}]]}},
        "chat_instance":"-1234567890","data":"agent"}}"#;
    let m = only_message(parse(body).unwrap());
    assert_eq!(
        m,
        Incoming {
            sender_id: "111".into(),
            sender_name: Some("Ana Silva".into()),
            message_id: "cb:4382bfdwdsb323b2d9".into(),
            text: "Talk to agent".into(),
            choice: Some("agent".into()),
            ..Incoming::default()
        }
    );
    // Without the keyboard (an old message), the data stands in for the title.
    let bare = br#"{"update_id":3,"callback_query":{"id":"77","from":{"id":111,"is_bot":false,"first_name":"Ana"},
        "chat_instance":"-1","data":"track"}}"#;
    let m = only_message(parse(bare).unwrap());
    assert_eq!((m.sender_id.as_str(), m.text.as_str()), ("111", "track"));
}

#[test]
fn every_tap_is_found_for_an_answer_even_those_parse_ignores() {
    let tap = br#"{"update_id":2,"callback_query":{"id":"4382bfdwdsb323b2d9","from":{"id":111,"is_bot":false,"first_name":"A"},"chat_instance":"-1","data":"agent"}}"#;
    assert_eq!(
        callback_query_id(tap).as_deref(),
        Some("4382bfdwdsb323b2d9")
    );
    // A game button carries no data, and a group's tap is not a customer's: both still spin.
    let game = br#"{"update_id":6,"callback_query":{"id":"9","from":{"id":111,"is_bot":false,"first_name":"A"},"chat_instance":"-1","game_short_name":"g"}}"#;
    assert_eq!(parse(game), Ok(Vec::new()));
    assert_eq!(callback_query_id(game).as_deref(), Some("9"));
    let group = br#"{"update_id":7,"callback_query":{"id":"10","from":{"id":111,"is_bot":false,"first_name":"A"},
        "message":{"message_id":1,"chat":{"id":-100123,"type":"supergroup","title":"G"},"date":1},"chat_instance":"-1","data":"x"}}"#;
    assert_eq!(parse(group), Ok(Vec::new()));
    assert_eq!(callback_query_id(group).as_deref(), Some("10"));
    for none in [
        &br#"{"update_id":1,"message":{"message_id":7,"chat":{"id":111,"type":"private"},"date":1,"text":"x"}}"#[..],
        br#"{"update_id":1,"callback_query":{"id":"","data":"x"}}"#,
        br#"{"update_id":1,"callback_query":{"id":5}}"#,
        b"{not json",
    ] {
        assert_eq!(callback_query_id(none), None);
    }
}

#[tokio::test]
async fn answers_a_tap() {
    let (base, seen) = fake::serve(|s| match s.path.as_str() {
        "/bot123:ABC/answerCallbackQuery" if s.body["callback_query_id"] == "77" => {
            (200, r#"{"ok":true,"result":true}"#.into())
        }
        "/bot123:ABC/answerCallbackQuery" => (
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: query is too old and response timeout expired or query ID is invalid"}"#.into(),
        ),
        _ => (401, r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#.into()),
    })
    .await;
    let http = crate::net::loopback_client();
    assert_eq!(answer_callback(&http, &base, "123:ABC", "77").await, Ok(()));
    assert_eq!(
        seen.lock().unwrap()[0].body,
        json!({"callback_query_id": "77"})
    );
    let late = answer_callback(&http, &base, "123:ABC", "78").await;
    assert!(
        matches!(&late, Err(r) if r.contains("query is too old")),
        "{late:?}"
    );
    let unreachable = answer_callback(&http, "http://127.0.0.1:9", "123:SECRET", "77").await;
    assert!(
        matches!(&unreachable, Err(r) if !r.contains("SECRET")),
        "{unreachable:?}"
    );
}

#[test]
fn ignores_what_is_not_a_customer_talking_to_us() {
    let ignored: [&[u8]; 6] = [
        br#"{"update_id":1,"edited_message":{"message_id":7,"chat":{"id":111,"type":"private"},"date":1,"edit_date":2,"text":"x"}}"#,
        br#"{"update_id":2,"message":{"message_id":7,"from":{"id":111,"is_bot":false,"first_name":"A"},"chat":{"id":-100123,"type":"supergroup","title":"G"},"date":1,"text":"hi all"}}"#,
        br#"{"update_id":3,"my_chat_member":{"chat":{"id":111,"type":"private"},"from":{"id":111,"is_bot":false,"first_name":"A"},"date":1,
            "old_chat_member":{"user":{"id":9,"is_bot":true,"first_name":"B"},"status":"member"},
            "new_chat_member":{"user":{"id":9,"is_bot":true,"first_name":"B"},"status":"kicked","until_date":0}}}"#,
        br#"{"update_id":4,"message":{"message_id":7,"from":{"id":5,"is_bot":true,"first_name":"OtherBot"},"chat":{"id":5,"type":"private"},"date":1,"text":"beep"}}"#,
        br#"{"update_id":5,"message":{"message_id":7,"from":{"id":111,"is_bot":false,"first_name":"A"},"chat":{"id":111,"type":"private"},"date":1,"pinned_message":{"message_id":6,"chat":{"id":111,"type":"private"},"date":0}}}"#,
        br#"{"update_id":6,"callback_query":{"id":"9","from":{"id":111,"is_bot":false,"first_name":"A"},"chat_instance":"-1","game_short_name":"g"}}"#,
    ];
    for body in ignored {
        assert_eq!(
            parse(body),
            Ok(Vec::new()),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let poll = br#"{"update_id":7,"message":{"message_id":8,"from":{"id":111,"is_bot":false,"first_name":"A"},"chat":{"id":111,"type":"private"},"date":1,
        "poll":{"id":"1","question":"?","options":[],"total_voter_count":0,"is_closed":false,"is_anonymous":true,"type":"regular","allows_multiple_answers":false}}}"#;
    assert_eq!(
        only_message(parse(poll).unwrap()).text,
        "[Telegram poll: not shown in Parley]"
    );
    for bad in [
        &b"{not json"[..],
        b"[]",
        br#"{"update_id":1,"message":{"message_id":7,"date":1,"text":"no chat"}}"#,
        br#"{"update_id":1,"message":{"chat":{"id":1,"type":"private"},"date":1,"text":"no id"}}"#,
        br#"{"update_id":1,"callback_query":{"from":{"id":1},"data":"x"}}"#,
    ] {
        assert!(
            matches!(parse(bad), Err(InboundError::Malformed(_))),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

fn choice(id: &str, title: &str) -> Choice {
    Choice {
        id: id.into(),
        title: title.into(),
    }
}

fn media(url: &str, mime: &str, size: u64) -> OutMedia {
    OutMedia {
        url: url.into(),
        mime_type: mime.into(),
        size,
        name: None,
    }
}

#[test]
fn renders_choices_as_an_inline_keyboard() {
    let part = Part {
        text: "How can we help?".into(),
        choices: vec![
            choice("track", "Track my order"),
            choice("agent", "Talk to agent"),
        ],
        as_list: false,
        media: Vec::new(),
    };
    assert_eq!(
        render("111", &part),
        vec![(
            "sendMessage",
            json!({"chat_id":111,"text":"How can we help?","reply_markup":{"inline_keyboard":[
                [{"text":"Track my order","callback_data":"track"}],
                [{"text":"Talk to agent","callback_data":"agent"}]]}})
        )]
    );
    // callback_data holds at most 64 bytes: a longer id cannot go native.
    let long = Part {
        choices: vec![choice(&"x".repeat(65), "Yes"), choice("no", "No")],
        ..part
    };
    let calls = render("111", &long);
    assert_eq!(calls.len(), 1);
    assert!(calls[0].1.get("reply_markup").is_none());
    assert_eq!(
        calls[0].1["text"],
        "How can we help?\n\n1. Yes\n2. No\n\nReply with a number."
    );
}

#[test]
fn renders_media_by_url_with_a_caption_when_it_fits() {
    let one = Part {
        text: "Your invoice".into(),
        choices: Vec::new(),
        as_list: false,
        media: vec![media("https://x.test/i.pdf", "application/pdf", 1000)],
    };
    assert_eq!(
        render("111", &one),
        vec![(
            "sendDocument",
            json!({"chat_id":111,"document":"https://x.test/i.pdf","caption":"Your invoice"})
        )]
    );
    // A photo over 5 MB cannot be fetched by URL: it goes as a link.
    let big = Part {
        text: "Photos".into(),
        media: vec![
            media("https://x.test/a.jpg", "image/jpeg", 1000),
            media("https://x.test/b.jpg", "image/jpeg", 6_000_000),
        ],
        ..one.clone()
    };
    assert_eq!(
        render("111", &big),
        vec![(
            "sendPhoto",
            json!({"chat_id":111,"photo":"https://x.test/a.jpg","caption":"Photos\nhttps://x.test/b.jpg"})
        )]
    );
    // Two attachments: the text first, then each file.
    let two = Part {
        media: vec![
            media("https://x.test/a.jpg", "image/jpeg", 1000),
            media("https://x.test/v.mp4", "video/mp4", 1000),
        ],
        ..big
    };
    let methods: Vec<&str> = render("111", &two).iter().map(|(m, _)| *m).collect();
    assert_eq!(methods, vec!["sendMessage", "sendPhoto", "sendVideo"]);
    // With buttons, the media come first and the keyboard last.
    let with_choices = Part {
        choices: vec![choice("ok", "OK")],
        ..one
    };
    let calls = render("111", &with_choices);
    assert_eq!(calls[0].0, "sendDocument");
    assert!(calls[0].1.get("caption").is_none());
    assert_eq!(calls[1].0, "sendMessage");
    assert!(calls[1].1.get("reply_markup").is_some());
}

#[test]
fn degraded_replies_render_within_telegram_limits() {
    let reply = Reply {
        text: "word ".repeat(1000),
        choices: (0..12)
            .map(|i| choice(&format!("c{i}"), "Option"))
            .collect(),
        ..Reply::default()
    };
    let parts = degrade(&reply, &capabilities());
    for p in &parts {
        for (_, body) in render("111", p) {
            assert!(body["text"].as_str().unwrap_or_default().chars().count() <= MAX_TEXT);
        }
    }
    // Twelve choices are more than ten rows: numbered text instead.
    assert!(parts.iter().all(|p| p.choices.is_empty()));
}

#[test]
fn classifies_bot_api_answers() {
    assert_eq!(
        classify(
            "111",
            200,
            r#"{"ok":true,"result":{"message_id":42,"chat":{"id":111,"type":"private"},"date":1,"text":"hi"}}"#
        ),
        SendOutcome::Accepted {
            provider_id: Some("111:42".into())
        }
    );
    assert_eq!(
        classify(
            "111",
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#
        ),
        SendOutcome::Transient(
            "Telegram rate limit: retry after 7 s (Too Many Requests: retry after 7)".into()
        )
    );
    assert_eq!(
        classify(
            "111",
            403,
            r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#
        ),
        SendOutcome::Permanent("Telegram error 403: Forbidden: bot was blocked by the user".into())
    );
    assert!(matches!(
        classify("111", 400, r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#),
        SendOutcome::Permanent(r) if r.contains("chat not found")
    ));
    assert!(matches!(
        classify("111", 502, "<html>Bad Gateway</html>"),
        SendOutcome::Transient(_)
    ));
}

#[test]
fn webhook_and_callback_bodies() {
    assert_eq!(
        set_webhook_body("https://example.com/tg/webhook", "s3cr3t_Token-1"),
        json!({"url":"https://example.com/tg/webhook","secret_token":"s3cr3t_Token-1",
               "allowed_updates":["message","callback_query"]})
    );
    assert_eq!(
        answer_callback_body("4382bfdwdsb323b2d9"),
        json!({"callback_query_id":"4382bfdwdsb323b2d9"})
    );
    assert_eq!(
        typing_body("111"),
        ("sendChatAction", json!({"chat_id":111,"action":"typing"}))
    );
}

/// Answers like the Bot API: the token is part of the path, and a wrong one gets 401.
fn bot_api(seen: &fake::Seen) -> (u16, String) {
    let Some(rest) = seen.path.strip_prefix("/bot123:ABC/") else {
        return (
            401,
            r#"{"ok":false,"error_code":401,"description":"Unauthorized"}"#.into(),
        );
    };
    match (rest, seen.body["chat_id"].as_i64()) {
        (_, Some(666)) => (
            403,
            r#"{"ok":false,"error_code":403,"description":"Forbidden: bot was blocked by the user"}"#.into(),
        ),
        ("sendPhoto", Some(777)) => (
            429,
            r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3","parameters":{"retry_after":3}}"#.into(),
        ),
        ("sendMessage" | "sendPhoto", Some(chat)) => (
            200,
            format!(r#"{{"ok":true,"result":{{"message_id":{},"chat":{{"id":{chat},"type":"private"}},"date":1}}}}"#, 500 + seen.body.to_string().len() % 7),
        ),
        _ => (400, r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#.into()),
    }
}

#[tokio::test]
async fn sends_to_the_bot_api() {
    let (base, seen) = fake::serve(bot_api).await;
    let http = crate::net::loopback_client();
    let part = Part {
        text: "Hello".into(),
        choices: Vec::new(),
        as_list: false,
        media: Vec::new(),
    };
    let out = send(&http, &base, "123:ABC", "111", &part).await;
    let SendOutcome::Accepted {
        provider_id: Some(id),
    } = out
    else {
        panic!("accepted, got {out:?}")
    };
    assert!(id.starts_with("111:5"));
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(first.path, "/bot123:ABC/sendMessage");
    assert_eq!(first.body, json!({"chat_id":111,"text":"Hello"}));

    assert_eq!(
        send(&http, &base, "123:ABC", "666", &part).await,
        SendOutcome::Permanent("Telegram error 403: Forbidden: bot was blocked by the user".into())
    );
    assert_eq!(
        send(&http, &base, "wrong", "111", &part).await,
        SendOutcome::Permanent("Telegram error 401: Unauthorized".into())
    );
    // Text went out, then the photo hit the rate limit: not retried, so no duplicate text.
    let two = Part {
        media: vec![
            media("https://x.test/a.jpg", "image/jpeg", 10),
            media("https://x.test/b.jpg", "image/jpeg", 10),
        ],
        ..part.clone()
    };
    let out = send(&http, &base, "123:ABC", "777", &two).await;
    assert!(
        matches!(&out, SendOutcome::Permanent(r) if r.starts_with("only 1 of 3 messages were sent")),
        "{out:?}"
    );
    // Nothing listening: worth retrying, and the token is not in the reason.
    let out = send(&http, "http://127.0.0.1:9", "123:SECRET", "111", &part).await;
    assert!(
        matches!(&out, SendOutcome::Transient(r) if !r.contains("SECRET")),
        "{out:?}"
    );
}

#[test]
fn file_paths_stay_on_the_file_api() {
    let url = |p: &str| file_url("https://api.telegram.org/", "1:T", p);
    assert_eq!(
        url("photos/file_7.jpg").as_deref(),
        Some("https://api.telegram.org/file/bot1:T/photos/file_7.jpg")
    );
    for bad in [
        "",
        "../../bot1:T/getMe",
        "photos/../../x",
        "/etc/passwd",
        "https://evil.test/x.jpg",
        "//evil.test/x",
        "photos//x",
        "photos/x.jpg?y=1",
        "photos/x%2e%2e",
        "photos\\x",
        "./x",
    ] {
        assert_eq!(url(bad), None, "{bad}");
    }
}
