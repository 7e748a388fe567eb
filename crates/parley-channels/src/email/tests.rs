use super::*;

const CONV: &str = "0190f3c2-7a4b-7c3d-9e8f-1a2b3c4d5e6f";

fn fixture(name: &str) -> InboundEmail {
    let path = format!("{}/src/email/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read(&path).unwrap();
    parse(&raw).unwrap()
}

// ---- parsing real client shapes ----

#[test]
fn gmail_reply_is_trimmed_and_threaded_by_reply_address() {
    let m = fixture("gmail_reply.eml");
    assert_eq!(
        m.message_id.as_deref(),
        Some("CAFx7Ld0Wq8ZP3vJ+o2q_VN1h9mXy=ek@mail.gmail.com")
    );
    assert_eq!(
        m.from,
        Mailbox {
            address: "jane.doe@gmail.example".into(),
            name: Some("Jane Doe".into())
        }
    );
    assert_eq!(m.to, vec![format!("reply+{CONV}@support.acme.example")]);
    assert_eq!(m.delivered_to, m.to);
    assert_eq!(m.subject.as_deref(), Some("Re: Your order #1234"));
    assert_eq!(m.date, Some(1_709_548_252_000));
    let ours = format!(
        "conversation/{CONV}/messages/0190f3c2-8000-7000-8000-000000000001@support.acme.example"
    );
    assert_eq!(m.in_reply_to, vec![ours.clone()]);
    assert_eq!(m.references, vec![ours.clone()]);
    assert_eq!(
        m.text,
        "Hi,\n\nThanks — the parcel still hasn't arrived. Could you check with the courier?\n\nJane"
    );
    assert!(m
        .full_text
        .contains("> Your order #1234 was shipped on Friday."));
    assert!(m.full_text.contains("> --\n> Acme Support"));
    let html = m.html.as_deref().unwrap();
    assert!(html.contains("Could you check with the courier?"));
    assert!(html.contains("<blockquote style=\"margin:"), "{html}");
    assert!(!m.auto_submitted && !m.bounce);
    assert!(m.attachments.is_empty());

    let t = thread_of(&m);
    assert_eq!(t.conversation.as_deref(), Some(CONV));
    assert_eq!(t.references, vec![ours]);
}

#[test]
fn gmail_html_renders_to_text_that_trims_the_same_way() {
    let raw = std::fs::read(format!(
        "{}/src/email/testdata/gmail_reply.eml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let html = msg.body_html(0).unwrap();
    let text = html_to_text(&html);
    assert!(
        text.contains("On Mon, 4 Mar 2024 at 10:15, Acme Support <reply+"),
        "{text}"
    );
    assert!(
        text.contains("> Your order #1234 was shipped on Friday."),
        "{text}"
    );
    assert_eq!(
        trim_quoted(&text),
        "Hi,\n\nThanks — the parcel still hasn't arrived. Could you check with the courier?\n\nJane"
    );
}

#[test]
fn outlook_reply_drops_the_header_block_and_threads_by_references() {
    let m = fixture("outlook_reply.eml");
    assert_eq!(m.from.address, "john.smith@contoso.example");
    assert_eq!(m.from.name.as_deref(), Some("Smith, John"));
    assert_eq!(m.to, vec!["support@acme.example".to_string()]);
    assert_eq!(m.cc, vec!["ann.miller@contoso.example".to_string()]);
    assert_eq!(
        m.text,
        "Hello,\n\nPlease send the invoice to our accounts team instead: ap@contoso.example\n\n\
         Kind regards,\nJohn Smith\nHead of Procurement | Contoso Ltd."
    );
    assert!(m.full_text.contains("Attached is invoice INV-2024-0042."));
    // Outlook's HTML has no quote markers, only its header block.
    let html_text = html_to_text(m.html.as_deref().unwrap());
    assert!(html_text.contains("From: Acme Support"), "{html_text}");
    assert_eq!(trim_quoted(&html_text), m.text);

    let t = thread_of(&m);
    assert_eq!(t.conversation.as_deref(), Some(CONV));
    assert_eq!(
        t.references,
        vec![
            format!(
                "conversation/{CONV}/messages/0190f3c2-8000-7000-8000-000000000007@support.acme.example"
            ),
            "AM6PR08MB4373D1C9F1B7D3A2A9F1C2D3A5A11@AM6PR08MB4373.eurprd08.prod.outlook.example"
                .to_string(),
        ]
    );
}

#[test]
fn apple_mail_quoted_attribution_and_encoded_name() {
    let m = fixture("apple_mail.eml");
    assert_eq!(m.from.name.as_deref(), Some("Marie Dupré"));
    assert_eq!(m.subject.as_deref(), Some("Re: Votre réservation"));
    assert_eq!(
        m.text,
        "Parfait, merci beaucoup !\n\nMarie\n\nEnvoyé de mon iPhone"
    );
    assert!(m.html.is_none(), "a plain-text mail has no HTML");
    assert_eq!(thread_of(&m).conversation.as_deref(), Some(CONV));
}

#[test]
fn thunderbird_flowed_inline_reply_is_kept_without_its_signature() {
    let m = fixture("thunderbird_flowed.eml");
    assert_eq!(
        m.text,
        "Am 05.03.24 um 12:00 schrieb Acme Support:\n\
         > Did you try resetting your password from the login page? The link is\n\
         > under the form.\n\n\
         Yes, I tried that twice, but the reset mail never arrives. I checked the spam folder as well.\n\n\
         > Which browser do you use?\n\n\
         Firefox 123 on Linux."
    );
    assert!(m
        .full_text
        .ends_with("-- \nMax Mustermann\nhttps://max.example"));
}

#[test]
fn auto_reply_is_flagged_but_not_a_bounce() {
    let m = fixture("auto_reply.eml");
    assert!(m.auto_submitted);
    assert!(!m.bounce);
    assert!(m.text.starts_with("I am out of the office until 11 March"));
    assert_eq!(thread_of(&m).conversation.as_deref(), Some(CONV));
}

#[test]
fn bounce_is_flagged_and_carries_the_original() {
    let m = fixture("bounce.eml");
    assert!(m.bounce && m.auto_submitted);
    assert_eq!(m.from.address, "mailer-daemon@mx.acme.example");
    assert!(m.text.contains("Recipient address rejected: User unknown"));
    let original = m
        .attachments
        .iter()
        .find(|a| a.content_type == "message/rfc822")
        .expect("the returned message");
    let inner = parse(&original.bytes).unwrap();
    // The id of our message that bounced, for the server to mark it failed.
    assert_eq!(
        inner.message_id.as_deref(),
        Some(
            format!(
                "conversation/{CONV}/messages/0190f3c2-8000-7000-8000-000000000009@support.acme.example"
            )
            .as_str()
        )
    );
    assert!(m
        .attachments
        .iter()
        .any(|a| a.content_type == "message/delivery-status"));
}

#[test]
fn attachments_and_inline_images() {
    let m = fixture("attachment.eml");
    assert_eq!(
        m.text,
        "The mug arrived broken, see the photo below. The receipt is attached."
    );
    assert_eq!(m.attachments.len(), 2, "{:?}", m.attachments);
    let photo = &m.attachments[0];
    assert_eq!(photo.filename.as_deref(), Some("photo.png"));
    assert_eq!(photo.content_type, "image/png");
    assert_eq!(photo.content_id.as_deref(), Some("photo1@example.org"));
    assert!(photo.inline);
    assert!(photo.bytes.starts_with(b"\x89PNG"));
    let pdf = &m.attachments[1];
    assert_eq!(pdf.filename.as_deref(), Some("receipt.pdf"));
    assert_eq!(pdf.content_type, "application/pdf");
    assert!(!pdf.inline);
    assert!(pdf.bytes.starts_with(b"%PDF-1.4"));
    // The inline image keeps its cid: reference for the server to rewrite.
    assert!(m
        .html
        .as_deref()
        .unwrap()
        .contains(r#"src="cid:photo1@example.org""#));
}

#[test]
fn malicious_html_is_defused() {
    let m = fixture("malicious.eml");
    let html = m.html.as_deref().unwrap();
    let lower = html.to_lowercase();
    for bad in [
        "<script",
        "document.cookie",
        "onerror",
        "onload",
        "onclick",
        "javascript:",
        "<iframe",
        "<form",
        "<input",
        "<style",
        "track.phish.example",
        "position",
        "background-image",
        "<title",
    ] {
        assert!(!lower.contains(bad), "{bad} survived: {html}");
    }
    assert!(html.contains("Claim your prize now!"));
    assert!(
        html.contains(r#"style="color:red""#) || html.contains(r#"style="color: red""#),
        "{html}"
    );
    assert!(html.contains(r#"href="https://acme.example/help""#));
    assert!(html.contains("noopener"));
    assert!(html.contains(r#"src="cid:logo@phish.example""#));
    // HTML-only: the text comes from the HTML, without script or title.
    assert!(m.text.starts_with("Claim your prize now!"), "{}", m.text);
    assert!(
        !m.text.contains("fetch(") && !m.text.contains("Prize\n"),
        "{}",
        m.text
    );
}

#[test]
fn other_remote_loads_are_removed() {
    let html = r#"<img srcset="https://t.example/1.gif 1x"><video poster="https://t.example/2.gif"></video>
        <svg><image href="https://t.example/3.gif"/></svg><table background="https://t.example/4.gif"><tr><td>cell</td></tr></table>
        <div style="background:url(https://t.example/5.gif)">bg</div><link rel="stylesheet" href="https://t.example/6.css">
        <meta http-equiv="refresh" content="0;url=https://t.example/7"><base href="https://t.example/8/">
        <object data="https://t.example/9"></object><embed src="https://t.example/10"><audio src="https://t.example/11"></audio>
        <img src="data:image/gif;base64,R0lGOD"><a href="data:text/html;base64,PHNjcmlwdD4=">x</a>
        <a href="/relative">rel</a><img src=" CID:ok@x">"#;
    let clean = sanitize_html(html);
    assert!(!clean.contains("t.example"), "{clean}");
    assert!(!clean.contains("data:"), "{clean}");
    assert!(!clean.contains("/relative"), "{clean}");
    assert!(clean.contains("cell") && clean.contains("bg"), "{clean}");
}

#[test]
fn refuses_mail_without_a_usable_sender() {
    let no_from = b"To: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
    assert!(matches!(parse(no_from), Err(InboundError::Malformed(_))));
    let bad_from = b"From: Someone <not-an-address>\r\nTo: a@example.com\r\n\r\nbody\r\n";
    assert!(matches!(parse(bad_from), Err(InboundError::Malformed(_))));
    assert!(matches!(parse(b""), Err(InboundError::Malformed(_))));
    assert!(matches!(
        parse(b"\x00\x01\x02"),
        Err(InboundError::Malformed(_))
    ));
}

#[test]
fn machine_senders_are_automatic() {
    let mail = |headers: &str| {
        let raw = format!("{headers}\r\nTo: s@acme.example\r\nSubject: x\r\n\r\nHello\r\n");
        parse(raw.as_bytes()).unwrap()
    };
    assert!(!mail("From: a@example.com").auto_submitted);
    assert!(!mail("From: a@example.com\r\nAuto-Submitted: no").auto_submitted);
    assert!(mail("From: a@example.com\r\nAuto-Submitted: auto-generated; type=x").auto_submitted);
    assert!(mail("From: a@example.com\r\nPrecedence: bulk").auto_submitted);
    assert!(mail("From: a@example.com\r\nPrecedence: list").auto_submitted);
    assert!(mail("From: a@example.com\r\nX-Autorespond: yes").auto_submitted);
    assert!(mail("From: No Reply <noreply@shop.example>").auto_submitted);
    assert!(mail("From: do-not-reply@shop.example").auto_submitted);
    let pm = mail("From: postmaster@example.com");
    assert!(pm.auto_submitted && pm.bounce);
    // Reply-To other than From is kept; equal to From it says nothing.
    let r = mail("From: a@example.com\r\nReply-To: Team <Team@Example.com>");
    assert_eq!(r.reply_to.as_deref(), Some("team@example.com"));
    assert_eq!(
        mail("From: a@example.com\r\nReply-To: a@example.com").reply_to,
        None
    );
}

// ---- quote trimming ----

#[test]
fn trims_english_attribution_and_quote() {
    let t = "Sounds good, thanks!\n\nOn Tue, Mar 5, 2024 at 9:14 AM Acme <help@acme.example> wrote:\n\n> Shall we ship it?\n> \n> Acme\n";
    assert_eq!(trim_quoted(t), "Sounds good, thanks!");
}

#[test]
fn trims_attribution_wrapped_over_two_lines() {
    let t = "Yes please.\n\nOn Tue, 5 Mar 2024 at 09:14, Acme Support Team <support@acme.example>\nwrote:\n\n> Shall we ship it?\n";
    assert_eq!(trim_quoted(t), "Yes please.");
}

#[test]
fn trims_german_french_and_spanish_attributions() {
    let de = "Danke!\n\nAm Di., 5. März 2024 um 09:14 Uhr schrieb Acme <help@acme.example>:\n> Alles klar?\n";
    assert_eq!(trim_quoted(de), "Danke!");
    let fr = "Merci !\n\nLe mar. 5 mars 2024 à 09:14, Acme <help@acme.example> a écrit :\n> Tout va bien ?\n";
    assert_eq!(trim_quoted(fr), "Merci !");
    let fr_nbsp = "Merci !\n\nLe 5 mars 2024 à 09:14, Acme a\u{a0}écrit\u{a0}:\n> Tout va bien ?\n";
    assert_eq!(trim_quoted(fr_nbsp), "Merci !");
    let es = "¡Gracias!\n\nEl mar, 5 mar 2024 a las 9:14, Acme (<help@acme.example>) escribió:\n> ¿Todo bien?\n";
    assert_eq!(trim_quoted(es), "¡Gracias!");
}

#[test]
fn trims_original_message_separator_and_outlook_blocks() {
    let t = "See below.\n\n-----Original Message-----\nFrom: Acme <help@acme.example>\nSent: Tuesday, March 5, 2024 9:14 AM\nTo: Bob\nSubject: Hello\n\nOld text\n";
    assert_eq!(trim_quoted(t), "See below.");
    let de = "Siehe unten.\n\n-----Ursprüngliche Nachricht-----\nVon: Acme\nGesendet: Dienstag, 5. März 2024 09:14\nAn: Bob\nBetreff: Hallo\n\nAlter Text\n";
    assert_eq!(trim_quoted(de), "Siehe unten.");
    let starred = "Done.\n\n*From:* Acme <help@acme.example>\n*Sent:* Tuesday, March 5, 2024 9:14 AM\n*To:* Bob\n*Subject:* Hello\n\nOld text";
    assert_eq!(trim_quoted(starred), "Done.");
    let underscores = "Ok.\n\n________________________________\nFrom: Acme\nSent: Tuesday\nTo: Bob\nSubject: x\n\nOld";
    assert_eq!(trim_quoted(underscores), "Ok.");
}

#[test]
fn header_like_lines_without_a_subject_are_the_customers_own() {
    let t =
        "Please change the route of my parcel:\nFrom: Berlin\nDate: 5 March\nTo: Paris\nThanks!";
    assert_eq!(trim_quoted(t), t);
}

#[test]
fn keeps_inline_answers_and_drops_only_trailing_quotes() {
    let t = "On Tue, 5 Mar 2024 at 09:14, Acme <help@acme.example> wrote:\n> What is your order number?\n\n1234\n\n> And your postcode?\n\n10115\n\n> Thanks,\n> Acme\n";
    assert_eq!(
        trim_quoted(t),
        "On Tue, 5 Mar 2024 at 09:14, Acme <help@acme.example> wrote:\n> What is your order number?\n\n1234\n\n> And your postcode?\n\n10115"
    );
}

#[test]
fn loose_attribution_only_counts_before_quotes() {
    let t = "Sure.\n\nAcme Support wrote:\n> Can we call you?\n";
    assert_eq!(trim_quoted(t), "Sure.");
    // Prose that happens to end in "wrote:" is not an attribution.
    let prose = "Here is what my colleague wrote:\nThe device restarts every hour.";
    assert_eq!(trim_quoted(prose), prose);
    let no_date = "On Monday I wrote:\nplease cancel it.";
    assert_eq!(trim_quoted(no_date), no_date);
}

#[test]
fn strips_the_signature() {
    let t = "Please cancel my subscription.\n\n-- \nBob Builder\nBuilder & Co\n";
    assert_eq!(trim_quoted(t), "Please cancel my subscription.");
}

#[test]
fn forwarded_mail_is_kept() {
    let t = "FYI, see the mail from the courier below.\n\n---------- Forwarded message ---------\nFrom: Courier <info@courier.example>\nDate: Tue, Mar 5, 2024 at 9:14 AM\nSubject: Delivery failed\nTo: <bob@example.com>\n\nWe could not deliver parcel 42.\n";
    assert_eq!(trim_quoted(t), t.trim());
}

#[test]
fn never_trims_to_nothing() {
    let t = "> only a quote\n> nothing else\n";
    assert_eq!(trim_quoted(t), t.trim());
    let t = "On Tue, 5 Mar 2024 at 09:14, Acme <help@acme.example> wrote:\n> hi\n";
    assert_eq!(trim_quoted(t), t.trim());
    assert_eq!(trim_quoted(""), "");
}

#[test]
fn html_to_text_blocks_quotes_and_entities() {
    let html = "<html><head><title>T</title><style>p{}</style></head><body>\
                <div>Hello&nbsp;<b>Bob</b> &amp; team,</div><p>Line&#39;s two</p>\
                <ul><li>one</li><li>two</li></ul>\
                <blockquote><div>quoted<br>lines</div><blockquote>deeper</blockquote></blockquote>\
                <script>alert(1)</script><!-- comment <b>x</b> -->after &unknown; &lt;tag&gt;</body></html>";
    assert_eq!(
        html_to_text(html),
        "Hello Bob & team,\nLine's two\n\n- one\n- two\n\n> quoted\n> lines\n> > deeper\nafter &unknown; <tag>"
    );
}

#[test]
fn html_to_text_keeps_a_literal_less_than_and_drops_an_unclosed_tag() {
    assert_eq!(html_to_text("<p>1 < 2 and 3 > 2</p>"), "1 < 2 and 3 > 2");
    assert_eq!(html_to_text("kept<img alt=\"never closed"), "kept");
}

#[test]
fn hostile_shapes_stay_linear() {
    let started = std::time::Instant::now();
    let n = 200_000;
    let html = format!(
        "{}{}{}",
        "<a \"".repeat(n),
        "&".repeat(n),
        "<blockquote>x".repeat(2_000)
    );
    html_to_text(&html);
    html_to_text(&"&amp".repeat(n));
    let lines = "On 1 Jan 2024, A wrote:\n> q\nanswer\n".repeat(20_000);
    assert!(trim_quoted(&lines).ends_with("answer"));
    trim_quoted(&"> x\n".repeat(n));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

// ---- threading ----

/// Our Message-ID for the `n`th message of a conversation.
fn ours(conversation: &str, n: u64, domain: &str) -> String {
    let message = format!("0190f3c2-8000-7000-8000-{n:012x}");
    message_id(
        conversation.parse().unwrap(),
        message.parse().unwrap(),
        domain,
    )
}

#[test]
fn threading_ids_and_addresses() {
    let id = ours(CONV, 0x42, "support.acme.example");
    assert_eq!(id, "03c64ops4a4ogc16zwzrcy6pb.bx5q2q@support.acme.example");
    assert_eq!(conversation_in_message_id(&id).as_deref(), Some(CONV));
    assert_eq!(
        conversation_in_message_id(&format!("<{id}>")).as_deref(),
        Some(CONV)
    );
    // Mail sent before ids were short still finds its thread.
    let long = format!(
        "conversation/{CONV}/messages/0190f3c2-8000-7000-8000-000000000042@support.acme.example"
    );
    assert_eq!(conversation_in_message_id(&long).as_deref(), Some(CONV));
    let addr = reply_address("reply", CONV, "support.acme.example");
    assert_eq!(addr, format!("reply+{CONV}@support.acme.example"));
    assert_eq!(conversation_in_address(&addr).as_deref(), Some(CONV));

    assert!(is_conversation_id(CONV));
    for bad in [
        "0190F3C2-7A4B-7C3D-9E8F-1A2B3C4D5E6F",
        "0190f3c2-7a4b-7c3d-9e8f-1a2b3c4d5e6",
        "0190f3c2-7a4b-7c3d-9e8f-1a2b3c4d5e6fa",
        "0190f3c27a4b-7c3d-9e8f-1a2b3c4d5e6f-",
        "0190f3c2-7a4b-7c3d-9e8f-1a2b3c4d5e6g",
        "",
    ] {
        assert!(!is_conversation_id(bad), "{bad}");
        assert_eq!(
            conversation_in_address(&format!("reply+{bad}@x.example")),
            None
        );
    }
    assert_eq!(
        conversation_in_message_id(&format!("conversation/{CONV}/messages/@x")),
        None
    );
    assert_eq!(
        conversation_in_message_id(&format!("conversation/{CONV}/messages/1")),
        None
    );
    assert_eq!(conversation_in_message_id("CAFx7Ld0@mail.gmail.com"), None);
}

/// Python's `email` (default policy) folds a header line longer than 78 characters and then
/// encodes an id it cannot break; ours fit, header name included, for a 30-character domain.
#[test]
fn message_ids_fit_one_header_line_and_name_their_conversation() {
    let domain = "support.northwind-traders.shop";
    assert_eq!(domain.len(), 30);
    let extremes = [
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
        CONV,
    ];
    for conversation in extremes {
        for n in [0, 1, u64::from(u32::MAX), 0xffff_ffff_ffff] {
            let id = ours(conversation, n, domain);
            assert!(format!("Message-ID: <{id}>").len() < 78, "{id}");
            assert!(format!("In-Reply-To: <{id}>").len() <= 78, "{id}");
            assert_eq!(
                conversation_in_message_id(&id).as_deref(),
                Some(conversation)
            );
        }
    }
    // Each message of a conversation has its own id.
    assert_ne!(ours(CONV, 1, domain), ours(CONV, 2, domain));
    // Look-alikes of the short form are not ours.
    for foreign in [
        "03c64ops4a4ogc16zwzrcy6pb.bx5q2q@",
        "03c64ops4a4ogc16zwzrcy6pb.bx5q2@x.example",
        "03c64ops4a4ogc16zwzrcy6p.bx5q2q@x.example",
        "03C64OPS4A4OGC16ZWZRCY6PB.BX5Q2Q@x.example",
        "03c64ops4a4ogc16zwzrcy6p-.bx5q2q@x.example",
        // Past 2^128.
        "zzzzzzzzzzzzzzzzzzzzzzzzz.bx5q2q@x.example",
        "CAFx7Ld0.Wq8ZP3@mail.gmail.com",
    ] {
        assert_eq!(conversation_in_message_id(foreign), None, "{foreign}");
    }
}

#[test]
fn thread_prefers_the_reply_address_then_in_reply_to_then_references() {
    let other = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    let third = "16fd2706-8baf-433b-82eb-8c7fada847da";
    let mut m = fixture("gmail_reply.eml");
    m.to = vec!["support@acme.example".into()];
    m.delivered_to = vec![];
    m.in_reply_to = vec![ours(other, 1, "x.example")];
    m.references = vec![ours(third, 1, "x.example"), "a@b".into()];
    assert_eq!(thread_of(&m).conversation.as_deref(), Some(other));
    m.in_reply_to = vec!["customer-own@mail.example".into()];
    let t = thread_of(&m);
    assert_eq!(t.conversation.as_deref(), Some(third));
    assert_eq!(
        t.references,
        vec![
            "customer-own@mail.example".to_string(),
            ours(third, 1, "x.example"),
            "a@b".to_string()
        ]
    );
    m.cc = vec![reply_address("reply", CONV, "support.acme.example")];
    assert_eq!(thread_of(&m).conversation.as_deref(), Some(CONV));
    m.cc = vec![];
    m.delivered_to = vec![reply_address("reply", other, "support.acme.example")];
    assert_eq!(thread_of(&m).conversation.as_deref(), Some(other));
    m.delivered_to = vec![];
    m.references = vec![];
    assert_eq!(thread_of(&m).conversation, None);
}

// ---- outbound ----

fn outbound() -> OutboundEmail {
    OutboundEmail {
        from: Mailbox {
            address: "support@acme.example".into(),
            name: Some("Acme Support".into()),
        },
        reply_to: Some(reply_address("reply", CONV, "support.acme.example")),
        to: Mailbox {
            address: "jane.doe@gmail.example".into(),
            name: Some("Jane Doe".into()),
        },
        subject: "Re: Your order #1234 — update".into(),
        text: "Hello Jane,\n\nIt ships today.\n\nAcme Support".into(),
        message_id: ours(CONV, 2, "support.acme.example"),
        in_reply_to: Some("CAFx7Ld0Wq8ZP3vJ+o2q_VN1h9mXy=ek@mail.gmail.com".into()),
        references: vec![ours(CONV, 1, "support.acme.example")],
        attachments: Vec::new(),
    }
}

#[test]
fn built_reply_round_trips_its_threading_headers() {
    let email = outbound();
    let raw = build(&email).unwrap().formatted();
    let text = String::from_utf8_lossy(&raw);
    assert!(
        text.contains(&format!("Message-ID: <{}>\r\n", email.message_id)),
        "{text}"
    );
    let back = parse(&raw).unwrap();
    assert_eq!(back.message_id.as_deref(), Some(email.message_id.as_str()));
    assert_eq!(back.in_reply_to, vec![email.in_reply_to.clone().unwrap()]);
    // References: the thread so far, then the mail answered (RFC 5322 section 3.6.4).
    assert_eq!(
        back.references,
        vec![
            email.references[0].clone(),
            email.in_reply_to.clone().unwrap()
        ]
    );
    assert_eq!(back.reply_to, email.reply_to);
    assert_eq!(back.from.address, "support@acme.example");
    assert_eq!(back.from.name.as_deref(), Some("Acme Support"));
    assert_eq!(back.to, vec!["jane.doe@gmail.example".to_string()]);
    assert_eq!(
        back.subject.as_deref(),
        Some("Re: Your order #1234 — update")
    );
    assert_eq!(back.full_text, email.text);
    assert!(back.date.is_some());
    // A customer's reply to it comes back to the conversation either way.
    assert_eq!(thread_of(&back).conversation.as_deref(), Some(CONV));
}

#[test]
fn long_reference_chains_keep_the_root_and_the_newest() {
    let mut email = outbound();
    email.references = (1..=15).map(|i| format!("m{i}@x.example")).collect();
    email.in_reply_to = Some("m15@x.example".into());
    let back = parse(&build(&email).unwrap().formatted()).unwrap();
    let expected: Vec<String> = std::iter::once(1)
        .chain(7..=15)
        .map(|i| format!("m{i}@x.example"))
        .collect();
    assert_eq!(back.references, expected);
    assert_eq!(back.in_reply_to, vec!["m15@x.example".to_string()]);
}

#[test]
fn unwritable_ids_are_dropped_or_refused() {
    let mut email = outbound();
    email.in_reply_to = Some("bad id@x".into());
    email.references = vec!["<evil>\r\nBcc: x@y".into(), "ok@x.example".into()];
    let back = parse(&build(&email).unwrap().formatted()).unwrap();
    assert!(back.in_reply_to.is_empty());
    assert_eq!(back.references, vec!["ok@x.example".to_string()]);
    email.message_id = "no-at-sign".into();
    assert!(build(&email).is_err());
    let mut email = outbound();
    email.to.address = "not an address".into();
    assert!(build(&email).is_err());
}

#[test]
fn files_go_as_mime_attachments() {
    let mut e = outbound();
    e.attachments.push(OutboundFile {
        filename: "invoice 1042.pdf".into(),
        content_type: "application/pdf".into(),
        bytes: b"%PDF-1.4 binary \x00\xff".to_vec(),
    });
    let raw = build(&e).unwrap().formatted();
    let back = parse(&raw).unwrap();
    assert_eq!(
        back.attachments.len(),
        1,
        "{}",
        String::from_utf8_lossy(&raw)
    );
    let a = &back.attachments[0];
    assert_eq!(a.filename.as_deref(), Some("invoice 1042.pdf"));
    assert_eq!(a.content_type, "application/pdf");
    assert_eq!(a.bytes, b"%PDF-1.4 binary \x00\xff");
    assert_eq!(back.text.trim(), e.text.trim());
    assert_eq!(back.message_id.as_deref(), Some(e.message_id.as_str()));
}
