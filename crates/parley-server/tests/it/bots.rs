//! Bots: added by an admin with a token, they answer in their inboxes as the bot, never sign in,
//! see only their inboxes, and hand conversations to people with a note.

use serde_json::json;

use crate::harness::{Callback, TestApp};
use crate::on_both;

on_both!(
    a_bot_answers_and_hands_off_to_people,
    |t: TestApp| async move {
        let cb = Callback::start(0).await;
        let (inbox, secret) = t.api_inbox("Shop", &cb.url).await;
        let (other, other_secret) = t.api_inbox("Wholesale", &cb.url).await;
        let (s, team) = t
            .post("/api/v1/teams", &t.admin_token, json!({ "name": "Tier 2" }))
            .await;
        assert_eq!(s, 201, "{team}");
        let team = team["id"].as_str().unwrap().to_string();

        // Only admins add bots; a bot needs a name and real inboxes.
        let (_, agent) = t.user("ann@acme.test", "agent").await;
        let (s, _) = t
            .post("/api/v1/bots", &agent, json!({ "name": "Helper" }))
            .await;
        assert_eq!(s, 403);
        for bad in [
            json!({ "name": "  " }),
            json!({ "name": "Helper", "inbox_ids": ["018f0000-0000-7000-8000-000000000000"] }),
            json!({ "name": "Helper", "inbox_ids": "all" }),
            json!({ "name": "Helper", "avatar": "x" }),
        ] {
            let (s, v) = t.post("/api/v1/bots", &t.admin_token, bad.clone()).await;
            assert!(s == 400 || s == 422, "{bad}: {s} {v}");
            assert!(v["error"]["message"].is_string(), "{v}");
        }
        let (_, bots) = t.get("/api/v1/bots", &t.admin_token).await;
        assert_eq!(
            bots["items"].as_array().map(Vec::len),
            Some(0),
            "nothing half-made: {bots}"
        );
        let (s, made) = t
            .post(
                "/api/v1/bots",
                &t.admin_token,
                json!({ "name": "Answer bot", "inbox_ids": [inbox] }),
            )
            .await;
        assert_eq!(s, 201, "{made}");
        let bot = made["bot"]["id"].as_str().unwrap().to_string();
        let token = made["token"].as_str().unwrap().to_string();
        assert_eq!(made["bot"]["bot"], true);
        let (_, bots) = t.get("/api/v1/bots", &t.admin_token).await;
        assert_eq!(bots["items"][0]["name"], "Answer bot", "{bots}");
        let (_, users) = t.get("/api/v1/users", &t.admin_token).await;
        assert!(users["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == bot.as_str() && u["bot"] == true));

        // It never signs in, whatever is tried.
        for password in ["!bot", "", "admin-password"] {
            let r = t
                .http
                .post(t.url("/api/v1/auth/sign-in"))
                .json(&json!({ "email": made["bot"]["email"], "password": password }))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_client_error(), "{password:?}: {}", r.status());
        }

        // It sees its inbox only, takes the conversation and answers as the bot.
        assert_eq!(
            t.inbound(&inbox, &secret, "c1", "m1", "Where is my order?")
                .await
                .0,
            200
        );
        assert_eq!(
            t.inbound(&other, &other_secret, "c2", "m2", "Price list?")
                .await
                .0,
            200
        );
        let (_, list) = t.get("/api/v1/conversations", &token).await;
        let items = list["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{list}");
        let conv = items[0]["id"].as_str().unwrap().to_string();
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/assign"),
                &token,
                json!({ "assignee_id": bot }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &token,
                json!({ "body": "It left our warehouse today." }),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["message"]["sender_kind"], "bot");
        assert_eq!(v["message"]["sender_id"], bot.as_str());
        assert!(
            v["conversation"]["waiting_since"].is_null(),
            "the bot answered: {v}"
        );
        assert!(v["conversation"]["first_reply_at"].is_string(), "{v}");
        let got = cb.wait_for(1).await;
        assert!(got[0].1.contains("It left our warehouse today."), "{got:?}");

        // The customer wants a person: the bot hands off to Tier 2 with a note.
        assert_eq!(
            t.inbound(&inbox, &secret, "c1", "m3", "I want a refund")
                .await
                .0,
            200
        );
        for bad in [
            json!({ "team_id": "018f0000-0000-7000-8000-000000000000" }),
            json!({ "note": "   " }),
            json!({ "queue": "x" }),
        ] {
            let (s, v) = t
                .post(
                    &format!("/api/v1/conversations/{conv}/handoff"),
                    &token,
                    bad.clone(),
                )
                .await;
            assert!(s == 400 || s == 422, "{bad}: {s} {v}");
        }
        let (_, still) = t
            .get(&format!("/api/v1/conversations/{conv}"), &t.admin_token)
            .await;
        assert_eq!(
            still["assignee_id"],
            bot.as_str(),
            "a refused handoff changes nothing"
        );
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/handoff"),
                &token,
                json!({ "team_id": team, "note": "Wants a refund for order 1042." }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert!(v["assignee_id"].is_null(), "{v}");
        assert_eq!(
            (v["team_id"].as_str(), v["status"].as_str()),
            (Some(team.as_str()), Some("open"))
        );
        assert!(
            v["waiting_since"].is_string(),
            "the customer now waits for a person: {v}"
        );
        let (_, tl) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        let kinds: Vec<String> = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| match i["type"].as_str().unwrap() {
                "message.created" => format!(
                    "message:{}",
                    i["data"]["message"]["sender_kind"].as_str().unwrap()
                ),
                "note.created" => format!("note:{}", i["data"]["note"]["body"].as_str().unwrap()),
                "conversation.updated" => {
                    format!("change:{}", i["data"]["change"]["kind"].as_str().unwrap())
                }
                other => other.to_string(),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "message:contact",
                "change:assignment",
                "message:bot",
                "message:contact",
                "note:Wants a refund for order 1042.",
                "change:assignment"
            ],
            "{tl}"
        );
        // Handing off again changes nothing and is fine; one a person holds is not the bot's to pass.
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/handoff"),
                &token,
                json!({ "team_id": team }),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (_, me) = t.get("/api/v1/me", &t.admin_token).await;
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{conv}/assign"),
                &t.admin_token,
                json!({ "assignee_id": me["id"] }),
            )
            .await;
        assert_eq!(s, 200);
        let (s, v) = t
            .post(
                &format!("/api/v1/conversations/{conv}/handoff"),
                &token,
                json!({ "note": "Me again" }),
            )
            .await;
        assert_eq!(s, 403, "{v}");
        let (_, after) = t
            .get(
                &format!("/api/v1/conversations/{conv}/timeline"),
                &t.admin_token,
            )
            .await;
        assert!(
            !after.to_string().contains("Me again"),
            "a refused handoff wrote its note: {after}"
        );
        // Outside its inbox it finds nothing.
        let (_, all) = t.get("/api/v1/conversations", &t.admin_token).await;
        let elsewhere = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] != conv.as_str())
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let (s, _) = t
            .post(
                &format!("/api/v1/conversations/{elsewhere}/messages"),
                &token,
                json!({ "body": "Hi" }),
            )
            .await;
        assert_eq!(s, 404);
    }
);
