//! The satisfaction survey: sent on resolving an answered conversation, answered on its own page
//! through a signed link, and recorded on the conversation's timeline.

use serde_json::{json, Value};

use crate::harness::{Backend, Callback, TestApp};
use crate::on_both_backends;

async fn surveys_on(backend: Backend) {
    let start = 1_799_773_200_000;
    let clock = parley_server::ManualClock::new(parley_core::Timestamp(start));
    let t = TestApp::spawn_with_clock(backend, std::sync::Arc::new(clock.clone())).await;
    let cb = Callback::start(0).await;
    let (inbox, secret) = t.api_inbox("Shop", &cb.url).await;

    // Off by default; only admins turn it on, and the message must carry the link.
    let (s, v) = t.get("/api/v1/survey", &t.admin_token).await;
    assert_eq!((s, v["enabled"].as_bool()), (200, Some(false)), "{v}");
    assert!(v["message"].as_str().unwrap().contains("{link}"));
    let put = |body: Value, token: String| {
        let t = &t;
        async move {
            t.call(reqwest::Method::PUT, "/api/v1/survey", &token, Some(body))
                .await
        }
    };
    let (_, agent) = t.user("ann@acme.test", "agent").await;
    assert_eq!(
        put(
            json!({ "enabled": true, "message": "Rate us: {link}" }),
            agent
        )
        .await
        .0,
        403
    );
    for bad in [
        json!({ "enabled": true, "message": "Rate us!" }),
        json!({ "enabled": true, "message": "{link} and {link}" }),
        json!({ "enabled": "yes", "message": "{link}" }),
        json!({ "enabled": true, "message": "{link}", "extra": 1 }),
        json!({ "enabled": true }),
    ] {
        let (s, v) = put(bad.clone(), t.admin_token.clone()).await;
        assert!(s == 400 || s == 422, "{bad}: {s} {v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }
    let (s, v) = put(
        json!({ "enabled": true, "message": "  How did we do? {link}  " }),
        t.admin_token.clone(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["message"], "How did we do? {link}");

    // A conversation nobody answered gets no survey; an answered one does, when resolved.
    assert_eq!(
        t.inbound(&inbox, &secret, "c1", "m1", "Hello?").await.0,
        200
    );
    assert_eq!(
        t.inbound(&inbox, &secret, "c2", "m2", "Where is my order?")
            .await
            .0,
        200
    );
    let (_, list) = t
        .get("/api/v1/conversations?sort=newest", &t.admin_token)
        .await;
    let id_of = |name: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["contact_name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (unanswered, answered) = (id_of("Customer c1"), id_of("Customer c2"));
    let (s, _) = t
        .post(
            &format!("/api/v1/conversations/{unanswered}/resolve"),
            &t.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = t
        .post(
            &format!("/api/v1/conversations/{answered}/messages"),
            &t.admin_token,
            json!({ "body": "It ships today" }),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = t
        .post(
            &format!("/api/v1/conversations/{answered}/resolve"),
            &t.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let got = cb.wait_for(2).await;
    t.settle().await;
    let got_all = cb.received.lock().unwrap().clone();
    assert_eq!(got_all.len(), 2, "one reply and one survey: {got_all:?}");
    // The reply and the survey are sent side by side, so either may reach the provider first.
    let path = got
        .iter()
        .find_map(|g| crate::harness::survey_link(&g.1))
        .unwrap_or_else(|| panic!("no survey link in {got:?}"));
    assert!(
        path.starts_with(&format!("/survey/{inbox}/{answered}?at=")),
        "{path}"
    );
    // The survey is from Parley, not an agent, and answers nobody.
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{answered}/timeline"),
            &t.admin_token,
        )
        .await;
    let sent = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|i| i["type"] == "message.created")
        .unwrap()
        .clone();
    assert_eq!(
        sent["data"]["message"]["sender_kind"], "automation",
        "{sent}"
    );
    let (_, conv) = t
        .get(&format!("/api/v1/conversations/{answered}"), &t.admin_token)
        .await;
    assert_eq!(conv["status"], "resolved");

    // The customer opens the page and answers.
    let page = t.http.get(t.url(&path)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("How did Shop do?") && html.contains("name=\"rating\""),
        "{html}"
    );
    // A parameter a mail client adds to the link does not break it.
    let tagged = t
        .http
        .get(t.url(&format!("{path}&utm_source=mail")))
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.status(), 200);
    let answer = |path: String, form: &'static str| {
        let t = &t;
        async move {
            let r = t
                .http
                .post(t.url(&path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }
    };
    for bad in ["rating=6", "rating=0", "rating=good", "comment=no+rating"] {
        let (s, body) = answer(path.clone(), bad).await;
        assert_eq!(s, 422, "{bad}: {body}");
        assert!(body.contains("\"rating\""), "{body}");
    }
    // A link signed with the inbox's secret (which the integrator holds) is not a survey of ours.
    let at = path.split("at=").nth(1).unwrap().split('&').next().unwrap();
    let old_sig = parley_channels::api::sign(
        &secret,
        format!("survey:{inbox}:{answered}:{at}").as_bytes(),
    );
    let old_kind = format!(
        "/survey/{inbox}/{answered}?at={at}&sig={}",
        old_sig.trim_start_matches("sha256=")
    );
    assert_eq!(
        t.http.get(t.url(&old_kind)).send().await.unwrap().status(),
        404
    );
    assert_eq!(answer(old_kind, "rating=1").await.0, 404);
    // Ten answers at once: one is taken, the others are told it was answered already.
    let racing = (0..10).map(|_| answer(path.clone(), "rating=4&comment=Quick+and+kind"));
    let mut results = futures_util::future::join_all(racing).await;
    results.sort();
    let statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses,
        [[200].as_slice(), &[409; 9]].concat(),
        "{results:?}"
    );
    assert!(results[0].1.contains("Thank you"), "{results:?}");
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{answered}/timeline"),
            &t.admin_token,
        )
        .await;
    let last = tl["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["type"], "survey.answered", "{last}");
    assert_eq!(
        (
            last["data"]["rating"].as_i64(),
            last["data"]["comment"].as_str()
        ),
        (Some(4), Some("Quick and kind"))
    );
    let (_, conv) = t
        .get(&format!("/api/v1/conversations/{answered}"), &t.admin_token)
        .await;
    assert_eq!(conv["status"], "resolved", "answering does not reopen it");
    // A link takes one answer.
    let (s, body) = answer(path.clone(), "rating=1").await;
    assert_eq!(s, 409, "{body}");
    let (_, tl) = t
        .get(
            &format!("/api/v1/conversations/{answered}/timeline"),
            &t.admin_token,
        )
        .await;
    let answers = tl["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "survey.answered")
        .count();
    assert_eq!(answers, 1, "{tl}");

    // A link altered or for another conversation is not a survey; an old one has closed.
    let forged = path.replace(&answered, &unanswered);
    assert_eq!(
        t.http.get(t.url(&forged)).send().await.unwrap().status(),
        404
    );
    assert_eq!(answer(forged, "rating=5").await.0, 404);
    let flipped = if path.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &path[..path.len() - 1]);
    assert_eq!(answer(tampered, "rating=5").await.0, 404);
    assert_eq!(
        t.http
            .get(t.url("/survey/nope/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    clock.advance_ms(8 * 24 * 3600 * 1000);
    assert_eq!(t.http.get(t.url(&path)).send().await.unwrap().status(), 410);
    let (s, body) = answer(path.clone(), "rating=5").await;
    assert_eq!(s, 422, "{body}");
    assert!(body.contains("survey_expired"), "{body}");
}

on_both_backends!(
    a_resolved_conversation_is_rated_through_its_survey,
    surveys_on
);
