//! Contact lists over the API: who may make them, who may fill them, and what a merge and an
//! erasure do to them.

use reqwest::Method;
use serde_json::{json, Value};

use crate::harness::TestApp;
use crate::on_both;

on_both!(contact_lists_over_the_api, |t: TestApp| async move {
    let (inbox, secret) = t.api_inbox("Support", "http://127.0.0.1:9/cb").await;
    let mut contacts = Vec::new();
    for who in ["c1", "c2"] {
        let (_, v) = t
            .inbound(&inbox, &secret, who, &format!("m-{who}"), "Hi")
            .await;
        contacts.push(v["contact_id"].as_str().unwrap().to_string());
    }
    let (ann, agent) = t.user("ann@acme.test", "agent").await;
    let (_, supervisor) = t.user("sue@acme.test", "supervisor").await;
    // Agents reach the contacts of the inboxes they work.
    let s = t.add_member(&inbox, &ann).await;
    assert!(s < 300, "{s}");

    // Supervisors make lists; agents may not; names are checked and unique.
    let (s, _) = t
        .post("/api/v1/lists", &agent, json!({ "name": "VIP" }))
        .await;
    assert_eq!(s, 403);
    let (s, vip) = t
        .post("/api/v1/lists", &supervisor, json!({ "name": "VIP" }))
        .await;
    assert_eq!(s, 201, "{vip}");
    let vip = vip["id"].as_str().unwrap().to_string();
    let (s, v) = t
        .post("/api/v1/lists", &supervisor, json!({ "name": "VIP" }))
        .await;
    assert_eq!((s, v["error"]["code"].is_string()), (409, true), "{v}");
    let (s, v) = t
        .post("/api/v1/lists", &supervisor, json!({ "name": "  " }))
        .await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("name")),
        "{v}"
    );

    // Agents put contacts on and take them off.
    let on = |list: &str, contact: &str, method: Method| {
        let t = &t;
        let agent = agent.clone();
        let path = format!("/api/v1/lists/{list}/contacts/{contact}");
        async move { t.call(method, &path, &agent, None).await }
    };
    for c in &contacts {
        let (s, v) = on(&vip, c, Method::PUT).await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = on(&vip, &contacts[0], Method::PUT).await;
    assert_eq!(
        (s, v["size"].as_u64()),
        (200, Some(2)),
        "again: no change: {v}"
    );
    let (_, lists) = t
        .get(&format!("/api/v1/contacts/{}/lists", contacts[0]), &agent)
        .await;
    assert_eq!(lists["items"][0]["name"], "VIP", "{lists}");
    let (_, members) = t
        .get(&format!("/api/v1/lists/{vip}/contacts?limit=1"), &agent)
        .await;
    assert_eq!(
        members["items"][0]["id"],
        contacts[1].as_str(),
        "newest first: {members}"
    );
    let cursor = members["next_cursor"].as_str().unwrap().to_string();
    let (_, rest) = t
        .get(
            &format!("/api/v1/lists/{vip}/contacts?limit=1&cursor={cursor}"),
            &agent,
        )
        .await;
    assert_eq!(rest["items"][0]["id"], contacts[0].as_str(), "{rest}");
    assert_eq!(rest["next_cursor"], Value::Null);
    let (s, v) = t
        .get(
            &format!("/api/v1/lists/{vip}/contacts?cursor=garbage"),
            &agent,
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = on(&vip, "00000000-0000-7000-8000-000000000000", Method::PUT).await;
    assert_eq!(
        (s, v["error"]["field"].as_str()),
        (422, Some("contact_id")),
        "{v}"
    );
    let (s, v) = on(&vip, &contacts[1], Method::DELETE).await;
    assert_eq!((s, v["size"].as_u64()), (200, Some(1)), "{v}");

    // An erased contact leaves every list and cannot be put back.
    let (s, _) = t
        .call(
            Method::DELETE,
            &format!("/api/v1/contacts/{}", contacts[0]),
            &t.admin_token,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (_, all) = t.get("/api/v1/lists", &agent).await;
    assert_eq!(all["items"][0]["size"], 0, "{all}");
    let (s, v) = on(&vip, &contacts[0], Method::PUT).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("contact_erased")),
        "{v}"
    );

    // Renamed and deleted by a supervisor, audited; the contacts stay.
    let (s, v) = t
        .patch(
            &format!("/api/v1/lists/{vip}"),
            &supervisor,
            json!({ "name": "Gold" }),
        )
        .await;
    assert_eq!((s, v["name"].as_str()), (200, Some("Gold")), "{v}");
    let (s, _) = t
        .call(
            Method::DELETE,
            &format!("/api/v1/lists/{vip}"),
            &supervisor,
            None,
        )
        .await;
    assert_eq!(s, 204);
    let (s, _) = t
        .get(&format!("/api/v1/contacts/{}", contacts[1]), &agent)
        .await;
    assert_eq!(s, 200);
    let (_, audit) = t.get("/api/v1/audit", &t.admin_token).await;
    let audit = audit.to_string();
    for action in ["list.create", "list.rename", "list.delete"] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
});
