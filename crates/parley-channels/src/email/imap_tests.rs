//! `fetch_since` against a small fake IMAP server speaking just what a poll needs.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;

use super::fake_imap::{self, Shared};
use super::*;

fn mail(n: u32) -> Vec<u8> {
    format!(
        "From: Customer {n} <c{n}@example.com>\r\nTo: support@acme.example\r\n\
         Subject: Question {n}\r\nMessage-ID: <q{n}@example.com>\r\n\r\nHello {n}\r\n"
    )
    .into_bytes()
}

async fn fake_imap() -> (SocketAddr, Shared) {
    fake_imap::start(
        "agent@acme.example",
        "s3cret",
        (1..=3).map(|u| (u, mail(u))).collect(),
    )
    .await
}

fn account(addr: SocketAddr, password: &str) -> ImapAccount {
    ImapAccount {
        host: addr.ip().to_string(),
        port: addr.port(),
        tls: false,
        username: "agent@acme.example".into(),
        password: password.into(),
        mailbox: "INBOX".into(),
        timeout: Duration::from_secs(5),
        policy: crate::net::loopback_client().policy().clone(),
    }
}

fn uids(batch: &ImapBatch) -> Vec<u32> {
    batch.messages.iter().map(|(u, _)| *u).collect()
}

#[tokio::test]
async fn polls_new_mail_by_uid_without_marking_it_read() {
    let (addr, state) = fake_imap().await;
    let mut acct = account(addr, "s3cret");
    acct.mailbox = String::new();

    let first = fetch_since(&acct, None, 0, 50).await.unwrap();
    assert_eq!(first.uid_validity, 7);
    assert_eq!(uids(&first), vec![1, 2, 3]);
    assert_eq!(first.messages[1].1, mail(2));
    let parsed = parse(&first.messages[0].1).unwrap();
    assert_eq!(parsed.message_id.as_deref(), Some("q1@example.com"));
    {
        let st = state.lock().unwrap();
        assert!(
            st.commands.iter().any(|c| c == "EXAMINE \"INBOX\""),
            "{:?}",
            st.commands
        );
        assert!(!st.commands.iter().any(|c| c.starts_with("SELECT")));
        assert!(st.commands.contains(&"UID SEARCH UID 1:*".to_string()));
        assert!(st
            .commands
            .contains(&"UID FETCH 1:3 (UID BODY.PEEK[])".to_string()));
        assert_eq!(st.commands.last().map(String::as_str), Some("LOGOUT"));
    }

    // Nothing new, and the server does not say UIDNEXT: `4:*` still matches UID 3.
    state.lock().unwrap().send_uidnext = false;
    state.lock().unwrap().commands.clear();
    let again = fetch_since(&acct, Some(7), 3, 50).await.unwrap();
    assert!(again.messages.is_empty());
    {
        let st = state.lock().unwrap();
        assert!(st.commands.contains(&"UID SEARCH UID 4:*".to_string()));
        assert!(!st.commands.iter().any(|c| c.starts_with("UID FETCH")));
    }

    // New mail arrives.
    state.lock().unwrap().messages.push((5, mail(5)));
    state.lock().unwrap().messages.push((6, mail(6)));
    let next = fetch_since(&acct, Some(7), 3, 50).await.unwrap();
    assert_eq!(uids(&next), vec![5, 6]);
    assert_eq!(next.messages[0].1, mail(5));

    // A batch is capped, oldest first.
    let capped = fetch_since(&acct, Some(7), 0, 2).await.unwrap();
    assert_eq!(uids(&capped), vec![1, 2]);

    // UIDVALIDITY changed: the old UIDs mean nothing, start over.
    state.lock().unwrap().uid_validity = 8;
    let restarted = fetch_since(&acct, Some(7), 6, 50).await.unwrap();
    assert_eq!(restarted.uid_validity, 8);
    assert_eq!(uids(&restarted), vec![1, 2, 3, 5, 6]);

    // With UIDNEXT known and nothing new, no search is needed.
    state.lock().unwrap().send_uidnext = true;
    state.lock().unwrap().commands.clear();
    assert!(fetch_since(&acct, Some(8), 6, 50)
        .await
        .unwrap()
        .messages
        .is_empty());
    assert!(!state
        .lock()
        .unwrap()
        .commands
        .iter()
        .any(|c| c.starts_with("UID SEARCH")));
}

#[tokio::test]
async fn wrong_password_is_a_clear_error() {
    let (addr, _) = fake_imap().await;
    let err = fetch_since(&account(addr, "wrong"), None, 0, 50)
        .await
        .unwrap_err();
    assert!(err.contains("login refused"), "{err}");
    assert!(err.contains("Authentication failed"), "{err}");
}

#[tokio::test]
async fn unreachable_and_silent_servers() {
    let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone_addr = gone.local_addr().unwrap();
    drop(gone);
    let err = fetch_since(&account(gone_addr, "s3cret"), None, 0, 50)
        .await
        .unwrap_err();
    assert!(err.contains("cannot reach the IMAP server"), "{err}");

    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let mut acct = account(silent_addr, "s3cret");
    acct.timeout = Duration::from_millis(300);
    let err = fetch_since(&acct, None, 0, 50).await.unwrap_err();
    assert!(err.contains("did not answer"), "{err}");
}

#[test]
fn uid_sets_collapse_runs() {
    assert_eq!(imap::uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
    assert_eq!(imap::uid_set(&[5]), "5");
}
