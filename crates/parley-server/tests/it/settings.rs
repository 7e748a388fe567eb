//! Workspace settings the app's settings screens edit: saved replies.

use serde_json::json;

use crate::harness::TestApp;
use crate::on_both;

on_both!(
    saved_replies_are_kept_checked_and_admin_only,
    |t: TestApp| async move {
        let (s, v) = t.get("/api/v1/replies", &t.admin_token).await;
        assert_eq!(
            (s, v["items"].as_array().map(Vec::len)),
            (200, Some(0)),
            "{v}"
        );
        let (s, v) = t
            .call(
                reqwest::Method::PUT,
                "/api/v1/replies",
                &t.admin_token,
                Some(json!({ "items": [
                { "shortcut": "/Thanks", "body": "  Thanks for writing, we're on it.  " },
                { "shortcut": "hours", "body": "We answer 9:00-17:00, Monday to Friday." },
            ] })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        // Shortcuts lose their slash and case; texts their outer spaces; listed by shortcut.
        assert_eq!(v["items"][0]["shortcut"], "hours");
        assert_eq!(v["items"][1]["shortcut"], "thanks");
        assert_eq!(v["items"][1]["body"], "Thanks for writing, we're on it.");

        // Every agent reads them; only admins change them; a bad list changes nothing.
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        let (s, v) = t.get("/api/v1/replies", &agent).await;
        assert_eq!((s, v["items"].as_array().map(Vec::len)), (200, Some(2)));
        let (s, _) = t
            .call(
                reqwest::Method::PUT,
                "/api/v1/replies",
                &agent,
                Some(json!({ "items": [] })),
            )
            .await;
        assert_eq!(s, 403);
        for bad in [
            json!({ "items": [{ "shortcut": "two words", "body": "x" }] }),
            json!({ "items": [{ "shortcut": "a", "body": "x" }, { "shortcut": "A", "body": "y" }] }),
            json!({ "items": [{ "shortcut": "a", "body": "   " }] }),
            json!({ "items": [{ "shortcut": "a", "body": "x".repeat(4097) }] }),
            json!({ "items": [{ "shortcut": "a", "body": "x", "extra": 1 }] }),
            json!({ "replies": [] }),
        ] {
            let (s, v) = t
                .call(
                    reqwest::Method::PUT,
                    "/api/v1/replies",
                    &t.admin_token,
                    Some(bad.clone()),
                )
                .await;
            assert!(s == 400 || s == 422, "{bad}: {s} {v}");
            assert!(v["error"]["message"].is_string(), "{v}");
        }
        let (_, v) = t.get("/api/v1/replies", &agent).await;
        assert_eq!(
            v["items"].as_array().map(Vec::len),
            Some(2),
            "unchanged: {v}"
        );
        // The compliance settings in the same document are untouched by it, and the reverse.
        let (s, _) = t
            .call(
                reqwest::Method::PUT,
                "/api/v1/compliance/settings",
                &t.admin_token,
                Some(json!({ "help_text": "Acme: reply STOP to stop." })),
            )
            .await;
        assert_eq!(s, 200);
        let (_, v) = t.get("/api/v1/replies", &agent).await;
        assert_eq!(v["items"].as_array().map(Vec::len), Some(2), "{v}");
    }
);
