//! The SMTP listener against lettre (a real client) and raw conversations, and `send` against
//! the listener.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;

use super::*;
use crate::SendOutcome;

/// Takes mail for anyone but `nobody@`; `down@` cannot be checked now; mail for `temp@` or
/// `perm@` fails to store, temporarily or for good; mail for `slow@` takes half a second to store.
#[derive(Default)]
struct Recorder {
    mails: Mutex<Vec<ReceivedMail>>,
    /// Octets of mail being stored at once: now, and the most seen.
    storing: Mutex<(usize, usize)>,
}

#[async_trait::async_trait]
impl SmtpHandler for Recorder {
    async fn accept_recipient(&self, rcpt: &str) -> Result<bool, DeliveryError> {
        match rcpt {
            "down@acme.example" => Err(DeliveryError::Temporary("directory unavailable".into())),
            r => Ok(!r.starts_with("nobody@")),
        }
    }

    async fn deliver(&self, mail: ReceivedMail) -> Result<(), DeliveryError> {
        if mail.recipients.iter().any(|r| r.starts_with("temp@")) {
            return Err(DeliveryError::Temporary("database busy".into()));
        }
        if mail.recipients.iter().any(|r| r.starts_with("perm@")) {
            return Err(DeliveryError::Permanent("inbox disabled".into()));
        }
        if mail.recipients.iter().any(|r| r.starts_with("slow@")) {
            {
                let mut s = self.storing.lock().unwrap();
                s.0 += mail.data.len();
                s.1 = s.1.max(s.0);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            self.storing.lock().unwrap().0 -= mail.data.len();
        }
        self.mails.lock().unwrap().push(mail);
        Ok(())
    }
}

impl Recorder {
    fn taken(&self) -> Vec<ReceivedMail> {
        self.mails.lock().unwrap().clone()
    }
}

async fn start(cfg: SmtpServerConfig) -> (SocketAddr, Arc<Recorder>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let rec = Arc::new(Recorder::default());
    tokio::spawn(serve_smtp(listener, cfg, rec.clone()));
    (addr, rec)
}

fn small() -> SmtpServerConfig {
    SmtpServerConfig {
        hostname: "mx.parley.test".into(),
        max_message_size: 1024,
        ..SmtpServerConfig::default()
    }
}

struct Client {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: SocketAddr) -> (Client, String) {
        Self::connect_from(addr, "127.0.0.1".parse().unwrap()).await
    }

    /// Connects from another loopback address (127.0.0.2 is another client).
    async fn connect_from(addr: SocketAddr, local: std::net::IpAddr) -> (Client, String) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(local, 0)).unwrap();
        let (rd, wr) = socket.connect(addr).await.unwrap().into_split();
        let mut c = Client {
            rd: BufReader::new(rd),
            wr,
        };
        let greeting = c.reply().await;
        (c, greeting)
    }

    async fn send(&mut self, s: &str) {
        self.wr.write_all(s.as_bytes()).await.unwrap();
    }

    /// One reply, all its lines, CRLFs kept between them.
    async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(5), self.rd.read_line(&mut line))
                .await
                .expect("the server answers")
                .unwrap();
            assert!(n > 0, "connection closed; got so far: {all:?}");
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all.trim_end().to_string();
            }
        }
    }

    async fn say(&mut self, s: &str) -> String {
        self.send(&format!("{s}\r\n")).await;
        self.reply().await
    }

    async fn closed(&mut self) -> bool {
        let mut buf = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.rd.read(&mut buf)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

fn code(reply: &str) -> &str {
    &reply[..3]
}

#[tokio::test]
async fn pipelined_transaction_with_dot_stuffing() {
    let (addr, rec) = start(small()).await;
    let (mut c, greeting) = Client::connect(addr).await;
    assert!(greeting.starts_with("220 mx.parley.test"), "{greeting}");
    c.send(
        "EHLO client.example\r\nMAIL FROM:<Alice@Client.example> SIZE=100 BODY=8BITMIME\r\n\
         RCPT TO:<Support@acme.example>\r\nRCPT TO:<nobody@acme.example>\r\n\
         RCPT TO:<down@acme.example>\r\nDATA\r\n",
    )
    .await;
    let ehlo = c.reply().await;
    for ext in [
        "250-mx.parley.test",
        "SIZE 1024",
        "8BITMIME",
        "PIPELINING",
        "SMTPUTF8",
    ] {
        assert!(ehlo.contains(ext), "{ext} missing from {ehlo}");
    }
    assert!(ehlo.lines().last().unwrap().starts_with("250 "), "{ehlo}");
    assert_eq!(c.reply().await, "250 2.1.0 OK");
    assert_eq!(c.reply().await, "250 2.1.5 OK");
    assert!(c.reply().await.starts_with("550 5.1.1"));
    assert!(c
        .reply()
        .await
        .starts_with("451 4.3.0 directory unavailable"));
    assert_eq!(code(&c.reply().await), "354");
    c.send("Subject: dots\r\n\r\n..leading dot\r\n...two\r\n.\r\n")
        .await;
    assert_eq!(c.reply().await, "250 2.0.0 OK");

    // A second transaction on the same connection, with the null sender of a bounce.
    c.send("MAIL FROM:<>\r\nRCPT TO:<reply@acme.example>\r\nDATA\r\n")
        .await;
    assert_eq!(code(&c.reply().await), "250");
    assert_eq!(code(&c.reply().await), "250");
    assert_eq!(code(&c.reply().await), "354");
    assert_eq!(
        code(&c.say("Subject: bounce\r\n\r\nfailed\r\n.").await),
        "250"
    );
    assert!(c.say("QUIT").await.starts_with("221"));

    let mails = rec.taken();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[0].mail_from, "alice@client.example");
    assert_eq!(
        mails[0].recipients,
        vec!["support@acme.example".to_string()]
    );
    let data = String::from_utf8(mails[0].data.clone()).unwrap();
    assert!(data.starts_with("Return-Path: <alice@client.example>\r\nReceived: from client.example ([127.0.0.1])\r\n\tby mx.parley.test with ESMTP; "), "{data}");
    assert!(
        data.ends_with("\r\nSubject: dots\r\n\r\n.leading dot\r\n..two\r\n"),
        "{data:?}"
    );
    assert_eq!(mails[1].mail_from, "");
    assert!(String::from_utf8_lossy(&mails[1].data).starts_with("Return-Path: <>\r\n"));
}

#[tokio::test]
async fn size_limit_is_announced_and_enforced() {
    let (addr, rec) = start(small()).await;
    let (mut c, _) = Client::connect(addr).await;
    c.say("EHLO client.example").await;
    assert!(c
        .say("MAIL FROM:<a@client.example> SIZE=5000")
        .await
        .starts_with("552 5.3.4"));
    assert_eq!(code(&c.say("MAIL FROM:<a@client.example>").await), "250");
    assert_eq!(code(&c.say("RCPT TO:<s@acme.example>").await), "250");
    assert_eq!(code(&c.say("DATA").await), "354");
    let big = "x".repeat(78);
    for _ in 0..30 {
        c.send(&format!("{big}\r\n")).await;
    }
    // One line far over the limit, too.
    c.send(&format!("{}\r\n", "y".repeat(5000))).await;
    assert!(c.say(".").await.starts_with("552 5.3.4"));
    // The transaction is over and the connection still works.
    assert!(c.say("RCPT TO:<s@acme.example>").await.starts_with("503"));
    assert_eq!(code(&c.say("NOOP").await), "250");
    assert!(rec.taken().is_empty());
}

#[tokio::test]
async fn commands_out_of_order_get_503() {
    let (addr, _) = start(small()).await;
    let (mut c, _) = Client::connect(addr).await;
    assert!(c
        .say("MAIL FROM:<a@client.example>")
        .await
        .starts_with("503 5.5.1"));
    assert_eq!(code(&c.say("HELO client.example").await), "250");
    assert!(c.say("RCPT TO:<s@acme.example>").await.starts_with("503"));
    assert!(c.say("DATA").await.starts_with("503"));
    assert_eq!(code(&c.say("MAIL FROM:<a@client.example>").await), "250");
    assert!(c
        .say("MAIL FROM:<b@client.example>")
        .await
        .starts_with("503"));
    assert!(
        c.say("DATA").await.starts_with("503"),
        "DATA needs a recipient"
    );
    assert!(c
        .say("RCPT TO:<nobody@acme.example>")
        .await
        .starts_with("550 5.1.1"));
    assert!(
        c.say("DATA").await.starts_with("503"),
        "no accepted recipient"
    );
    assert_eq!(c.say("RSET").await, "250 2.0.0 OK");
    assert!(c.say("RCPT TO:<s@acme.example>").await.starts_with("503"));
}

#[tokio::test]
async fn other_commands_and_bad_lines() {
    let (addr, _) = start(small()).await;
    let (mut c, _) = Client::connect(addr).await;
    assert!(c.say("EHLO").await.starts_with("501"));
    assert_eq!(code(&c.say("ehlo client.example").await), "250");
    assert!(c.say("VRFY bob").await.starts_with("252"));
    assert!(c.say("HELP").await.starts_with("214"));
    assert!(c.say("NOOP").await.starts_with("250"));
    assert!(c.say("STARTTLS").await.starts_with("502"));
    assert!(c.say("FROB").await.starts_with("500 5.5.2"));
    assert!(c
        .say(&format!("NOOP {}", "z".repeat(1200)))
        .await
        .starts_with("500 5.5.2 Line too long"));
    assert!(c
        .say("MAIL FROM:<a@client.example> RET=HDRS")
        .await
        .starts_with("555"));
    assert!(c.say("MAIL FROM:a@client.example").await.starts_with("250"));
    assert!(c.say("RCPT TO:<not an address>").await.starts_with("501"));
    assert!(c.say("RCPT TO:<Postmaster>").await.starts_with("250"));
    assert!(c.say("QUIT").await.starts_with("221"));
    assert!(c.closed().await);
}

#[tokio::test]
async fn too_many_errors_or_recipients_or_idle_time() {
    let cfg = SmtpServerConfig {
        max_errors: 3,
        max_recipients: 2,
        ..small()
    };
    let (addr, _) = start(cfg).await;

    let (mut c, _) = Client::connect(addr).await;
    c.say("EHLO client.example").await;
    c.say("MAIL FROM:<a@client.example>").await;
    assert_eq!(code(&c.say("RCPT TO:<a@acme.example>").await), "250");
    assert_eq!(code(&c.say("RCPT TO:<b@acme.example>").await), "250");
    assert!(c
        .say("RCPT TO:<c@acme.example>")
        .await
        .starts_with("452 4.5.3"));

    for _ in 0..3 {
        assert_eq!(code(&c.say("BOGUS").await), "500");
    }
    assert!(c.reply().await.starts_with("421 4.7.0"));
    assert!(c.closed().await);

    // A separate listener, so that a slow machine cannot idle out the conversation above.
    let impatient = SmtpServerConfig {
        idle_timeout: Duration::from_millis(300),
        ..small()
    };
    let (addr, _) = start(impatient).await;
    let (mut idle, _) = Client::connect(addr).await;
    assert!(idle.reply().await.starts_with("421 4.4.2"));
    assert!(idle.closed().await);
}

#[tokio::test]
async fn a_bare_lf_before_the_dot_does_not_end_the_message() {
    let (addr, rec) = start(small()).await;
    let (mut c, _) = Client::connect(addr).await;
    c.send("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<s@acme.example>\r\nDATA\r\n")
        .await;
    for _ in 0..4 {
        c.reply().await;
    }
    c.send("Subject: one\r\n\r\nfirst\n.\r\nMAIL FROM:<evil@c.example>\r\n.\r\n")
        .await;
    assert_eq!(code(&c.reply().await), "250");
    let mails = rec.taken();
    assert_eq!(mails.len(), 1);
    // The dot line is data (unstuffed like any other line), and so is the "command" after it.
    let data = String::from_utf8_lossy(&mails[0].data).to_string();
    assert!(
        data.ends_with("first\n\r\nMAIL FROM:<evil@c.example>\r\n"),
        "{data:?}"
    );
}

#[tokio::test]
async fn a_vanished_client_does_not_stop_the_listener_and_busy_is_421() {
    let cfg = SmtpServerConfig {
        max_connections: 1,
        ..small()
    };
    let (addr, rec) = start(cfg).await;
    {
        let (mut c, _) = Client::connect(addr).await;
        c.send("EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<s@acme.example>\r\nDATA\r\n")
            .await;
        for _ in 0..4 {
            c.reply().await;
        }
        c.send("Subject: half\r\n\r\nhalf a mess").await;
        // Held open: a second client is turned away.
        let (mut second, greeting) = Client::connect(addr).await;
        assert!(greeting.starts_with("421 4.3.2"), "{greeting}");
        assert!(second.closed().await);
    }
    // Dropped mid-message: nothing is delivered, and the next client is served.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (mut c, greeting) = Client::connect(addr).await;
    assert!(greeting.starts_with("220"));
    assert_eq!(code(&c.say("HELO c.example").await), "250");
    assert!(rec.taken().is_empty());
}

fn relay(addr: SocketAddr) -> SmtpRelay {
    SmtpRelay {
        host: addr.ip().to_string(),
        port: addr.port(),
        security: SmtpSecurity::None,
        username: None,
        password: None,
        timeout: Duration::from_secs(5),
        hello_name: Some("parley.test".into()),
        policy: crate::net::loopback_client().policy().clone(),
    }
}

fn reply_to(to: &str) -> OutboundEmail {
    let conv = "0190f3c2-7a4b-7c3d-9e8f-1a2b3c4d5e6f";
    OutboundEmail {
        from: Mailbox {
            address: "support@acme.example".into(),
            name: Some("Acme Support".into()),
        },
        reply_to: Some(reply_address("reply", conv, "acme.example")),
        to: Mailbox {
            address: to.into(),
            name: None,
        },
        subject: "Re: Grüße".into(),
        text: "Hallo,\n.\nEine Zeile mit Punkt davor und Umlauten: äöü.".into(),
        message_id: message_id(
            conv.parse().unwrap(),
            "0190f3c2-8000-7000-8000-000000000007".parse().unwrap(),
            "acme.example",
        ),
        in_reply_to: Some("abc@customer.example".into()),
        references: vec![],
        attachments: Vec::new(),
    }
}

#[tokio::test]
async fn lettre_delivers_to_the_listener() {
    let (addr, rec) = start(small()).await;
    let email = reply_to("customer@acme.example");
    let outcome = send(&relay(addr), build(&email).unwrap()).await;
    assert_eq!(
        outcome,
        SendOutcome::Accepted {
            provider_id: Some(email.message_id.clone())
        }
    );
    let mails = rec.taken();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].mail_from, "support@acme.example");
    assert_eq!(
        mails[0].recipients,
        vec!["customer@acme.example".to_string()]
    );
    let got = parse(&mails[0].data).unwrap();
    assert_eq!(got.message_id.as_deref(), Some(email.message_id.as_str()));
    assert_eq!(got.in_reply_to, vec!["abc@customer.example".to_string()]);
    assert_eq!(got.reply_to, email.reply_to);
    assert_eq!(got.subject.as_deref(), Some("Re: Grüße"));
    assert_eq!(
        got.full_text, email.text,
        "dot-stuffed by lettre, unstuffed by us"
    );
}

#[tokio::test]
async fn send_sorts_refusals_into_permanent_and_transient() {
    let (addr, rec) = start(small()).await;
    let r = relay(addr);
    let outcome = |to: &str| {
        let msg = build(&reply_to(to)).unwrap();
        let r = r.clone();
        async move { send(&r, msg).await }
    };
    match outcome("nobody@acme.example").await {
        SendOutcome::Permanent(why) => assert!(why.contains("No such recipient"), "{why}"),
        other => panic!("{other:?}"),
    }
    match outcome("down@acme.example").await {
        SendOutcome::Transient(why) => assert!(why.contains("directory unavailable"), "{why}"),
        other => panic!("{other:?}"),
    }
    match outcome("temp@acme.example").await {
        SendOutcome::Transient(why) => assert!(why.contains("database busy"), "{why}"),
        other => panic!("{other:?}"),
    }
    match outcome("perm@acme.example").await {
        SendOutcome::Permanent(why) => assert!(why.contains("inbox disabled"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(rec.taken().is_empty());

    // Nobody listening.
    let gone = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone_addr = gone.local_addr().unwrap();
    drop(gone);
    let msg = build(&reply_to("a@acme.example")).unwrap();
    assert!(matches!(
        send(&relay(gone_addr), msg).await,
        SendOutcome::Transient(_)
    ));

    // A relay that never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let mut slow = relay(silent_addr);
    slow.timeout = Duration::from_millis(300);
    let msg = build(&reply_to("a@acme.example")).unwrap();
    match send(&slow, msg).await {
        SendOutcome::Transient(why) => assert!(why.contains("timed out"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// Starts a transaction for `rcpt` up to the 354 (or whatever DATA is answered).
async fn begin_data(c: &mut Client, rcpt: &str) -> String {
    c.send(&format!(
        "EHLO c.example\r\nMAIL FROM:<a@c.example>\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n"
    ))
    .await;
    for _ in 0..3 {
        c.reply().await;
    }
    c.reply().await
}

#[tokio::test]
async fn idle_connections_cannot_hold_inbound_mail_shut() {
    let cfg = SmtpServerConfig {
        max_per_address: 5,
        idle_timeout: Duration::from_secs(30),
        session_timeout: Duration::from_millis(1500),
        ..small()
    };
    let (addr, rec) = start(cfg).await;
    // One address opens 100 connections and says nothing: past five it is told to come back.
    let mut idle = Vec::new();
    let mut refused = 0;
    for _ in 0..100 {
        let (c, greeting) = Client::connect(addr).await;
        if greeting.starts_with("220") {
            idle.push(c);
        } else {
            assert!(greeting.starts_with("421 4.3.2"), "{greeting}");
            assert!(greeting.contains("too many connections from your address"));
            refused += 1;
        }
    }
    assert_eq!((idle.len(), refused), (5, 95));
    // Another client is served meanwhile and delivers.
    let (mut other, greeting) = Client::connect_from(addr, "127.0.0.2".parse().unwrap()).await;
    assert!(greeting.starts_with("220"), "{greeting}");
    assert_eq!(
        code(&begin_data(&mut other, "sales@acme.example").await),
        "354"
    );
    assert_eq!(
        code(&other.say("Subject: hi\r\n\r\nhello\r\n.").await),
        "250"
    );
    assert_eq!(rec.taken().len(), 1);
    // A client that keeps busy is still let go when the conversation's time is up.
    let started = std::time::Instant::now();
    let busy = &mut idle[0];
    let bye = loop {
        let r = busy.say("NOOP").await;
        if !r.starts_with("250") {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(bye.starts_with("421 4.4.2"), "{bye}");
    assert!(bye.contains("time limit"), "{bye}");
    assert!(busy.closed().await);
    assert!(started.elapsed() < Duration::from_secs(5));
    // The silent ones went at the same deadline, freeing the address's places.
    for c in &mut idle[1..] {
        assert!(c.reply().await.starts_with("421 4.4.2"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (_, greeting) = Client::connect(addr).await;
    assert!(greeting.starts_with("220"), "{greeting}");
}

#[tokio::test]
async fn mail_held_in_memory_is_bounded_and_the_excess_is_told_to_retry() {
    // The budget is one reservation step: a message being received takes all of it.
    let cfg = SmtpServerConfig {
        max_message_size: 48 * 1024,
        buffer_bytes: 64 * 1024,
        max_per_address: 100,
        ..small()
    };
    let (addr, rec) = start(cfg).await;
    let (mut a, _) = Client::connect(addr).await;
    assert_eq!(code(&begin_data(&mut a, "s@acme.example").await), "354");
    a.send("Subject: first\r\n\r\nbody\r\n").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut b, _) = Client::connect(addr).await;
    let full = begin_data(&mut b, "s@acme.example").await;
    assert!(full.starts_with("452 4.3.1"), "{full}");
    assert_eq!(code(&a.say(".").await), "250");
    // Once the first is stored, the second goes through.
    assert_eq!(code(&b.say("DATA").await), "354");
    assert_eq!(
        code(&b.say("Subject: second\r\n\r\nbody\r\n.").await),
        "250"
    );
    assert_eq!(rec.taken().len(), 2);

    // Twenty large messages at once: those beyond the budget get 452, and what is held at any
    // moment stays within it.
    let line = format!("{}\r\n", "x".repeat(998));
    let body = line.repeat(30);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let (mut c, _) = Client::connect(addr).await;
            let r = begin_data(&mut c, "slow@acme.example").await;
            if !r.starts_with("354") {
                return r;
            }
            c.send(&body).await;
            c.say(".").await
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(code(&t.await.unwrap()).to_string());
    }
    let ok = codes.iter().filter(|c| *c == "250").count();
    let retry = codes.iter().filter(|c| *c == "452").count();
    assert_eq!(ok + retry, 20, "{codes:?}");
    assert!(ok >= 1 && retry >= 10, "{codes:?}");
    let most = rec.storing.lock().unwrap().1;
    assert!(most <= 64 * 1024, "{most} octets held at once");
}

#[tokio::test]
async fn a_line_longer_than_smtp_allows_is_not_held_in_memory() {
    // The message may be large; one line of it may not: a line is read whole before it is
    // counted against the budget.
    let cfg = SmtpServerConfig {
        max_message_size: 8 * 1024 * 1024,
        ..small()
    };
    let (addr, rec) = start(cfg).await;
    let (mut c, _) = Client::connect(addr).await;
    assert_eq!(code(&begin_data(&mut c, "s@acme.example").await), "354");
    c.send(&format!(
        "Subject: long\r\n\r\n{}\r\n",
        "x".repeat(200 * 1024)
    ))
    .await;
    let r = c.say(".").await;
    assert!(r.starts_with("552"), "{r}");
    assert!(rec.taken().is_empty());
    // Lines of ordinary length still make a message of any allowed size.
    assert_eq!(code(&c.say("RSET").await), "250");
    assert_eq!(code(&begin_data(&mut c, "s@acme.example").await), "354");
    let line = format!("{}\r\n", "y".repeat(998));
    c.send(&format!("Subject: ok\r\n\r\n{}", line.repeat(300)))
        .await;
    assert_eq!(code(&c.say(".").await), "250");
    assert_eq!(rec.taken().len(), 1);
}
