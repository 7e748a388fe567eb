//! A fake IMAP server speaking just what `fetch_since` needs (LOGIN, EXAMINE, UID SEARCH, UID
//! FETCH, LOGOUT), for this crate's tests and, with the `testing` feature, the server's.
// A test fixture: a panic here is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The mailbox the fake serves.
pub struct FakeBox {
    pub uid_validity: u32,
    /// (uid, raw message), in mailbox order.
    pub messages: Vec<(u32, Vec<u8>)>,
    /// Whether EXAMINE reports UIDNEXT (when it does not, the client has to search).
    pub send_uidnext: bool,
    /// Every command received, without its tag.
    pub commands: Vec<String>,
}

/// The mailbox, shared with the test that drives it.
pub type Shared = Arc<Mutex<FakeBox>>;

/// Starts a fake server on a random port that takes `user` / `password`, holding `messages`.
pub async fn start(
    user: &str,
    password: &str,
    messages: Vec<(u32, Vec<u8>)>,
) -> (SocketAddr, Shared) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = Arc::new(Mutex::new(FakeBox {
        uid_validity: 7,
        messages,
        send_uidnext: true,
        commands: Vec::new(),
    }));
    let state = shared.clone();
    let creds: Arc<(String, String)> = Arc::new((user.into(), password.into()));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, state.clone(), creds.clone()));
        }
    });
    (addr, shared)
}

async fn serve(stream: TcpStream, state: Shared, creds: Arc<(String, String)>) {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    wr.write_all(b"* OK [CAPABILITY IMAP4rev1] Fake IMAP ready\r\n")
        .await
        .unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        if rd.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        let (tag, command) = line.split_once(' ').unwrap_or((line, ""));
        state.lock().unwrap().commands.push(command.to_string());
        let verb = command.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let mut out: Vec<u8> = Vec::new();
        let upper = command.to_ascii_uppercase();
        {
            let st = state.lock().unwrap();
            match verb.as_str() {
                "CAPABILITY" => out.extend(
                    format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n").bytes(),
                ),
                "LOGIN" => {
                    let args: Vec<&str> = command.split('"').collect();
                    if args.get(1) == Some(&creds.0.as_str())
                        && args.get(3) == Some(&creds.1.as_str())
                    {
                        out.extend(format!("{tag} OK LOGIN completed\r\n").bytes());
                    } else {
                        out.extend(
                            format!("{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n")
                                .bytes(),
                        );
                    }
                }
                "SELECT" | "EXAMINE" => {
                    let next = st.messages.last().map_or(1, |(u, _)| u + 1);
                    let mut s = format!(
                        "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n\
                         * {} EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY {}] UIDs valid\r\n",
                        st.messages.len(),
                        st.uid_validity
                    );
                    if st.send_uidnext {
                        s.push_str(&format!("* OK [UIDNEXT {next}] Predicted next UID\r\n"));
                    }
                    s.push_str(&format!("{tag} OK [READ-ONLY] {verb} completed\r\n"));
                    out.extend(s.bytes());
                }
                "UID" if upper.starts_with("UID SEARCH UID ") => {
                    let range = &command["UID SEARCH UID ".len()..];
                    let from: u32 = range.trim_end_matches(":*").parse().unwrap();
                    let highest = st.messages.last().map(|(u, _)| *u);
                    // RFC 3501: `n:*` is the range between n and the highest UID, whichever
                    // is larger, so the newest message always matches.
                    let hits: Vec<String> = st
                        .messages
                        .iter()
                        .map(|(u, _)| *u)
                        .filter(|u| *u >= from || Some(*u) == highest)
                        .map(|u| u.to_string())
                        .collect();
                    let mut s = "* SEARCH".to_string();
                    for h in hits {
                        s.push(' ');
                        s.push_str(&h);
                    }
                    out.extend(format!("{s}\r\n{tag} OK SEARCH completed\r\n").bytes());
                }
                "UID" if upper.starts_with("UID FETCH ") => {
                    let set = command["UID FETCH ".len()..].split(' ').next().unwrap();
                    let wanted = |uid: u32| {
                        set.split(',').any(|r| match r.split_once(':') {
                            Some((a, b)) => {
                                (a.parse().unwrap()..=b.parse().unwrap()).contains(&uid)
                            }
                            None => r.parse::<u32>().unwrap() == uid,
                        })
                    };
                    for (seq, (uid, body)) in st.messages.iter().enumerate() {
                        if wanted(*uid) {
                            out.extend(
                                format!(
                                    "* {} FETCH (UID {uid} BODY[] {{{}}}\r\n",
                                    seq + 1,
                                    body.len()
                                )
                                .bytes(),
                            );
                            out.extend(body);
                            out.extend(b")\r\n");
                        }
                    }
                    out.extend(format!("{tag} OK FETCH completed\r\n").bytes());
                }
                "LOGOUT" => out
                    .extend(format!("* BYE logging out\r\n{tag} OK LOGOUT completed\r\n").bytes()),
                _ => out.extend(format!("{tag} BAD unknown command\r\n").bytes()),
            }
        }
        if wr.write_all(&out).await.is_err() || verb == "LOGOUT" {
            return;
        }
    }
}
