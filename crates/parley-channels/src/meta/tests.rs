use super::*;

/// The vector of channels reference section 4.2 (observed with pywa), and one computed with
/// `python3 -c 'import hmac,hashlib; print(hmac.new(b"messenger-secret", BODY, hashlib.sha256).hexdigest())'`
/// over a Messenger body with Meta's `\u00e9` escaping left as sent.
#[test]
fn signatures_match_independent_vectors() {
    let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
    let sig = "sha256=02fe0c96d28c59ddb7cf81eff0ca05809b360ba73b63c28210b5906a0a107d1f";
    assert_eq!(verify("app_secret_123", Some(sig), body), Ok(()));
    assert_eq!(
        verify(
            "app_secret_123",
            Some(&sig.to_uppercase().replace("SHA256=", "sha256=")),
            body
        ),
        Ok(())
    );
    let messenger = br#"{"object":"page","entry":[{"id":"PAGE_ID","time":1458692752478,"messaging":[{"sender":{"id":"PSID"},"recipient":{"id":"PAGE_ID"},"timestamp":1458692752478,"message":{"mid":"mid.1","text":"h\u00e9llo"}}]}]}"#;
    assert_eq!(
        verify(
            "messenger-secret",
            Some("sha256=db5ceeb2efb6781fe5ffc3105bac03062da2743dc7d1ec5e01d2ccb069de62a8"),
            messenger
        ),
        Ok(())
    );
    for (secret, header, body) in [
        (
            "app_secret_123",
            Some(sig),
            &br#"{"object":"whatsapp_business_account","entry":[{}]}"#[..],
        ),
        ("other_secret", Some(sig), &body[..]),
        ("app_secret_123", None, &body[..]),
        (
            "app_secret_123",
            Some("02fe0c96d28c59ddb7cf81eff0ca05809b360ba73b63c28210b5906a0a107d1f"),
            &body[..],
        ),
        (
            "app_secret_123",
            Some("sha1=02fe0c96d28c59ddb7cf81eff0ca05809b360ba7"),
            &body[..],
        ),
        ("app_secret_123", Some("sha256=zz"), &body[..]),
        ("", Some(sig), &body[..]),
    ] {
        assert_eq!(
            verify(secret, header, body),
            Err(InboundError::BadSignature),
            "{header:?}"
        );
    }
}

#[test]
fn the_handshake_echoes_the_challenge_only_for_our_token() {
    let q = "hub.mode=subscribe&hub.verify_token=my-token&hub.challenge=1158201444";
    assert_eq!(handshake(q, "my-token"), Ok("1158201444".into()));
    assert_eq!(
        handshake(&format!("?{q}"), "my-token"),
        Ok("1158201444".into())
    );
    assert_eq!(
        handshake(
            "hub.verify_token=a%20b&hub.challenge=x%2By&hub.mode=subscribe",
            "a b"
        ),
        Ok("x+y".into())
    );
    for (q, token) in [
        (
            "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
            "my-token",
        ),
        (
            "hub.mode=unsubscribe&hub.verify_token=my-token&hub.challenge=1",
            "my-token",
        ),
        ("hub.verify_token=my-token&hub.challenge=1", "my-token"),
        ("hub.mode=subscribe&hub.challenge=1", "my-token"),
        ("hub.mode=subscribe&hub.verify_token=&hub.challenge=1", ""),
    ] {
        assert_eq!(handshake(q, token), Err(InboundError::BadSignature), "{q}");
    }
    assert!(matches!(
        handshake("hub.mode=subscribe&hub.verify_token=t", "t"),
        Err(InboundError::Malformed(_))
    ));
}

const NOW: i64 = 1_700_000_000_000;

#[test]
fn whatsapp_needs_a_template_from_exactly_24_hours() {
    let w = |ago: i64| window(Channel::WhatsApp, Some(NOW - ago), NOW, true);
    assert_eq!(w(0), WindowVerdict::Open);
    assert_eq!(w(DAY_MS - 1), WindowVerdict::Open);
    assert_eq!(
        w(DAY_MS),
        WindowVerdict::TemplateOnly {
            reason: "Outside WhatsApp's 24-hour customer-service window: the customer last \
                     wrote 24 hours ago; send an approved template."
                .into()
        }
    );
    assert!(
        matches!(w(3 * DAY_MS + 4 * HOUR_MS), WindowVerdict::TemplateOnly { reason } if reason.contains("3 days 4 hours ago"))
    );
    assert!(matches!(
        window(Channel::WhatsApp, None, NOW, true),
        WindowVerdict::TemplateOnly { reason } if reason.contains("not written on WhatsApp yet")
    ));
    // A customer clock ahead of ours is not a closed window.
    assert_eq!(w(-5000), WindowVerdict::Open);
}

#[test]
fn messenger_lets_a_human_reply_until_exactly_7_days() {
    for kind in [Channel::Messenger, Channel::Instagram] {
        let w = |ago: i64, human: bool| window(kind, Some(NOW - ago), NOW, human);
        assert_eq!(w(DAY_MS - 1, false), WindowVerdict::Open);
        assert_eq!(w(DAY_MS, true), WindowVerdict::HumanAgentTag);
        assert_eq!(w(7 * DAY_MS - 1, true), WindowVerdict::HumanAgentTag);
        assert!(
            matches!(w(DAY_MS, false), WindowVerdict::Closed { reason } if reason.contains("Only a human agent can still reply"))
        );
        assert!(
            matches!(w(7 * DAY_MS, true), WindowVerdict::Closed { reason } if reason.contains("7 days ago, more than 7 days"))
        );
        assert!(matches!(
            window(kind, None, NOW, true),
            WindowVerdict::Closed { .. }
        ));
    }
    assert_eq!(
        window(Channel::Messenger, Some(NOW - 30 * HOUR_MS), NOW, false),
        WindowVerdict::Closed {
            reason: "Outside Messenger's 24-hour window: the customer last wrote 30 hours ago. \
                     Only a human agent can still reply, until 7 days after their last message."
                .into()
        }
    );
}

#[test]
fn durations_read_well() {
    assert_eq!(human_duration(DAY_MS), "24 hours");
    assert_eq!(human_duration(47 * HOUR_MS + 59 * 60_000), "47 hours");
    assert_eq!(human_duration(2 * DAY_MS), "2 days");
    assert_eq!(human_duration(8 * DAY_MS + HOUR_MS), "8 days 1 hour");
}
