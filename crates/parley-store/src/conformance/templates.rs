//! The `Templates` store's behaviours, run by every backend.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use parley_core::role::Role;
use parley_core::Timestamp;

use super::Harness;
use crate::*;

fn t(offset_ms: i64) -> Timestamp {
    Timestamp(1_800_000_000_000 + offset_ms)
}

fn new(shortcut: &str, body: &str, channels: &[&str]) -> NewTemplate {
    NewTemplate {
        name: format!("The {shortcut} text"),
        shortcut: shortcut.into(),
        body: body.into(),
        channels: channels.iter().map(|c| c.to_string()).collect(),
    }
}

fn admin(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        name: "Admin".into(),
        password_hash: "x".into(),
        role: Role::Admin,
        bot: false,
    }
}

pub async fn templates_keep_shortcuts_counts_and_replace_by_shortcut(h: Harness) {
    let s = &h.store;
    let (ws, _) = s
        .create_workspace("Acme", "UTC", admin("a@acme.test"), t(0))
        .await
        .unwrap();
    let ws = ws.id;
    let (other, _) = s
        .create_workspace("Other", "UTC", admin("a@other.test"), t(0))
        .await
        .unwrap();
    let other = other.id;
    let ship = s
        .create_template(ws, &new("ship", "Hi {{first_name}}", &["sms"]), t(1))
        .await
        .unwrap();
    assert_eq!(ship.channels, vec!["sms".to_string()]);
    assert_eq!((ship.uses, ship.last_used_at), (0, None));
    let hours = s
        .create_template(ws, &new("hours", "We open at 9", &[]), t(2))
        .await
        .unwrap();
    assert!(
        matches!(
            s.create_template(ws, &new("ship", "again", &[]), t(3))
                .await,
            Err(StoreError::Conflict(_))
        ),
        "a shortcut is unique in its workspace"
    );
    // Another workspace may use the same shortcut and sees none of these.
    s.create_template(other, &new("ship", "theirs", &[]), t(3))
        .await
        .unwrap();
    assert!(matches!(
        s.template(other, ship.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.delete_template(other, ship.id).await,
        Err(StoreError::NotFound)
    ));
    let listed: Vec<String> = s
        .list_templates(ws)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.shortcut)
        .collect();
    assert_eq!(listed, ["hours", "ship"], "listed by shortcut");

    // Uses are counted; an edit keeps the count; a taken shortcut refuses the edit.
    s.count_template_use(ws, ship.id, t(10)).await.unwrap();
    let used = s.count_template_use(ws, ship.id, t(20)).await.unwrap();
    assert_eq!((used.uses, used.last_used_at), (2, Some(t(20))));
    let edited = s
        .update_template(ws, ship.id, &new("shipped", "Shipped", &[]), t(30))
        .await
        .unwrap();
    assert_eq!(
        (edited.shortcut.as_str(), edited.uses, edited.updated_at),
        ("shipped", 2, t(30))
    );
    assert!(edited.channels.is_empty());
    assert!(matches!(
        s.update_template(ws, ship.id, &new("hours", "x", &[]), t(31))
            .await,
        Err(StoreError::Conflict(_))
    ));

    // Replacing by shortcut keeps a listed one's id and count, drops the rest, adds the new.
    let bare = |sc: &str, body: &str| NewTemplate {
        name: String::new(),
        shortcut: sc.into(),
        body: body.into(),
        channels: Vec::new(),
    };
    let rows = s
        .replace_templates(
            ws,
            &[bare("shipped", "Shipped today"), bare("bye", "Bye")],
            t(40),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].shortcut.as_str(), rows[0].name.as_str()),
        ("bye", "bye")
    );
    assert_eq!(
        (
            rows[1].id,
            rows[1].uses,
            rows[1].body.as_str(),
            rows[1].name.as_str()
        ),
        (ship.id, 2, "Shipped today", "The shipped text")
    );
    assert!(matches!(
        s.template(ws, hours.id).await,
        Err(StoreError::NotFound)
    ));
    // A refused replacement changes nothing.
    assert!(s
        .replace_templates(ws, &[bare("a", "x"), bare("a", "y")], t(50))
        .await
        .is_err());
    assert_eq!(s.list_templates(ws).await.unwrap(), rows);
    s.delete_template(ws, ship.id).await.unwrap();
    assert_eq!(s.list_templates(ws).await.unwrap().len(), 1);
    assert_eq!(s.list_templates(other).await.unwrap().len(), 1);
}
