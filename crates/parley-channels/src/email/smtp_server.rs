//! A receiving SMTP server (RFC 5321, with PIPELINING, 8BITMIME, SMTPUTF8 and SIZE) so that a
//! domain's MX, or a forwarding rule, can deliver straight to Parley. It has no STARTTLS: run it
//! behind a TLS-terminating MTA, or accept plaintext only on a private network.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout, Instant};

use crate::net::AddressCounts;

/// RFC 5321 section 4.5.3.1.4: a command line is at most 512 octets, but extensions add
/// parameters; 1000 is the text-line limit and what big MTAs accept.
const MAX_COMMAND_LINE: usize = 1000;

/// Limits of the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpServerConfig {
    /// The name in the greeting and in the Received header.
    pub hostname: String,
    /// Largest message accepted, in octets (advertised as SIZE).
    pub max_message_size: usize,
    pub max_recipients: usize,
    /// Connections served at once; more are told to come back later (421).
    pub max_connections: usize,
    /// How long a client may stay silent, and how long the handler may take with a message.
    pub idle_timeout: Duration,
    /// How long a whole conversation may last, however busy the client keeps it (a client
    /// trickling one byte at a time is not idle, but is let go here).
    pub session_timeout: Duration,
    /// Connections one client address (an IPv6 /64) may hold at once; more are told 421.
    pub max_per_address: usize,
    /// Message data held in memory across all connections, in octets. A DATA that would go
    /// beyond it is answered 452, so the sender keeps the message and tries again later.
    pub buffer_bytes: usize,
    /// Rejected commands before the connection is closed.
    pub max_errors: usize,
}

impl Default for SmtpServerConfig {
    fn default() -> Self {
        Self {
            hostname: "localhost".into(),
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            max_connections: 100,
            idle_timeout: Duration::from_secs(300),
            session_timeout: Duration::from_secs(600),
            max_per_address: 10,
            buffer_bytes: 128 * 1024 * 1024,
            max_errors: 10,
        }
    }
}

/// A message as the sending server handed it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The envelope sender, lower-cased; empty for a bounce.
    pub mail_from: String,
    /// The accepted recipients, lower-cased.
    pub recipients: Vec<String>,
    /// The message, dot-unstuffed, with `Return-Path` and `Received` prepended.
    pub data: Vec<u8>,
    pub peer: SocketAddr,
}

/// Why a recipient or a message was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// The sending server keeps the message and tries again (4xx).
    Temporary(String),
    /// The sending server bounces the message to its sender (5xx).
    Permanent(String),
}

/// What the server does with recipients and messages.
#[async_trait::async_trait]
pub trait SmtpHandler: Send + Sync {
    /// Whether mail for this (lower-cased) address is taken here.
    async fn accept_recipient(&self, recipient: &str) -> Result<bool, DeliveryError>;
    /// Takes a message. Answer `Ok` only once it is stored: the sender forgets it then.
    async fn deliver(&self, mail: ReceivedMail) -> Result<(), DeliveryError>;
}

/// Serves SMTP on the listener until the task is dropped. Each connection runs in its own task;
/// a failing connection ends only itself. There is no STARTTLS: put a TLS-terminating MTA in
/// front, or listen only on a private network.
pub async fn serve_smtp(
    listener: TcpListener,
    cfg: SmtpServerConfig,
    handler: Arc<dyn SmtpHandler>,
) {
    let cfg = Arc::new(cfg);
    let slots = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
    let per_address: AddressCounts = Arc::default();
    let budget = Arc::new(Semaphore::new(
        (cfg.buffer_bytes / BUDGET_UNIT).clamp(1, Semaphore::MAX_PERMITS),
    ));
    loop {
        let (mut stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            // Out of file descriptors, or a connection reset before it was accepted: wait a
            // moment rather than spin.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let permit = slots.clone().try_acquire_owned();
        let mine = crate::net::AddressSlot::take(&per_address, peer.ip(), cfg.max_per_address);
        let cfg = cfg.clone();
        let handler = handler.clone();
        let budget = budget.clone();
        tokio::spawn(async move {
            match (permit, mine) {
                (Ok(permit), Some(mine)) => {
                    let _ = session(stream, peer, &cfg, handler.as_ref(), &budget).await;
                    drop((permit, mine));
                }
                (_, mine) => {
                    let why = match mine {
                        Some(_) => "busy",
                        None => "too many connections from your address",
                    };
                    let busy = format!("421 4.3.2 {} {why}, try again later\r\n", cfg.hostname);
                    let _ =
                        timeout(Duration::from_secs(5), stream.write_all(busy.as_bytes())).await;
                }
            }
        });
    }
}

/// The memory budget is counted in these units (octets).
const BUDGET_UNIT: usize = 1024;
/// A message's reservation grows by this many units at a time.
const BUDGET_STEP: usize = 64;

/// One transaction's state.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    rcpts: Vec<String>,
}

enum Line {
    Complete { crlf: bool },
    TooLong { crlf: bool },
    Eof,
}

async fn session(
    stream: TcpStream,
    peer: SocketAddr,
    cfg: &SmtpServerConfig,
    handler: &dyn SmtpHandler,
    budget: &Arc<Semaphore>,
) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let host = &cfg.hostname;
    let mut out = Writer {
        idle: cfg.idle_timeout,
        deadline: Instant::now() + cfg.session_timeout,
        errors: 0,
    };
    out.reply(&mut wr, &format!("220 {host} ESMTP Parley"))
        .await?;
    let mut helo: Option<(String, bool)> = None;
    let mut env = Envelope::default();
    let mut line = Vec::new();
    loop {
        if out.errors >= cfg.max_errors {
            let bye = format!("421 4.7.0 {host} too many errors, closing connection");
            return out.reply(&mut wr, &bye).await;
        }
        let read = match timeout(out.wait(), read_line(&mut rd, &mut line, MAX_COMMAND_LINE)).await
        {
            Ok(read) => read?,
            Err(_) => return out.idle(&mut wr, host).await,
        };
        let command = match read {
            Line::Eof => return Ok(()),
            Line::TooLong { .. } => {
                out.reply(&mut wr, "500 5.5.2 Line too long").await?;
                continue;
            }
            Line::Complete { .. } => String::from_utf8_lossy(&line).trim_end().to_string(),
        };
        let (verb, arg) = command
            .split_once(' ')
            .map_or((command.as_str(), ""), |(v, a)| (v, a.trim()));
        let reply = match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if arg.is_empty() => "501 5.5.4 Syntax: EHLO hostname".to_string(),
            "EHLO" => {
                helo = Some((printable(arg), true));
                env = Envelope::default();
                format!(
                    "250-{host} greets {}\r\n250-SIZE {}\r\n250-8BITMIME\r\n250-PIPELINING\r\n\
                     250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 HELP",
                    printable(arg),
                    cfg.max_message_size
                )
            }
            "HELO" => {
                helo = Some((printable(arg), false));
                env = Envelope::default();
                format!("250 {host}")
            }
            "MAIL" if helo.is_none() => "503 5.5.1 Send EHLO or HELO first".into(),
            "MAIL" if env.from.is_some() => "503 5.5.1 Sender already given".into(),
            "MAIL" => match mail_from(arg, cfg.max_message_size) {
                Ok(from) => {
                    env.from = Some(from);
                    "250 2.1.0 OK".into()
                }
                Err(reply) => reply,
            },
            "RCPT" if env.from.is_none() => "503 5.5.1 Send MAIL first".into(),
            "RCPT" if env.rcpts.len() >= cfg.max_recipients => {
                "452 4.5.3 Too many recipients".into()
            }
            "RCPT" => match rcpt_to(arg) {
                Err(reply) => reply,
                Ok(rcpt) => match timeout(cfg.idle_timeout, handler.accept_recipient(&rcpt))
                    .await
                    .unwrap_or_else(|_| Err(DeliveryError::Temporary("Try again later".into())))
                {
                    Ok(true) => {
                        if !env.rcpts.contains(&rcpt) {
                            env.rcpts.push(rcpt);
                        }
                        "250 2.1.5 OK".into()
                    }
                    Ok(false) => "550 5.1.1 No such recipient here".into(),
                    Err(DeliveryError::Temporary(why)) => format!("451 4.3.0 {}", one_line(&why)),
                    Err(DeliveryError::Permanent(why)) => format!("550 5.7.1 {}", one_line(&why)),
                },
            },
            "DATA" if env.from.is_none() => "503 5.5.1 Send MAIL first".into(),
            "DATA" if env.rcpts.is_empty() => "503 5.5.1 No valid recipients".into(),
            // Mail already held in memory fills the budget: the sender keeps this one for now.
            "DATA" if budget.available_permits() == 0 => NO_ROOM.to_string(),
            "DATA" => {
                out.reply(&mut wr, "354 End data with <CR><LF>.<CR><LF>")
                    .await?;
                let Some(data) =
                    read_data(&mut rd, &mut line, cfg, &mut out, &mut wr, budget).await?
                else {
                    return Ok(());
                };
                let env = std::mem::take(&mut env);
                match data {
                    Data::TooBig => "552 5.3.4 Message too big".to_string(),
                    Data::NoRoom => NO_ROOM.to_string(),
                    Data::Message(data, reserved) => {
                        let (helo_name, esmtp) = helo.clone().unwrap_or_default();
                        let from = env.from.unwrap_or_default();
                        let mail = ReceivedMail {
                            data: trace_headers(&from, &helo_name, esmtp, peer, host, data),
                            mail_from: from,
                            recipients: env.rcpts,
                            peer,
                        };
                        let stored = timeout(cfg.idle_timeout, handler.deliver(mail)).await;
                        drop(reserved);
                        match stored {
                            Ok(Ok(())) => "250 2.0.0 OK".to_string(),
                            Ok(Err(DeliveryError::Temporary(why))) => {
                                format!("451 4.3.0 {}", one_line(&why))
                            }
                            Ok(Err(DeliveryError::Permanent(why))) => {
                                format!("554 5.6.0 {}", one_line(&why))
                            }
                            Err(_) => "451 4.3.0 Timed out storing the message".to_string(),
                        }
                    }
                }
            }
            "RSET" => {
                env = Envelope::default();
                "250 2.0.0 OK".into()
            }
            "NOOP" => "250 2.0.0 OK".into(),
            "VRFY" => "252 2.5.0 Cannot VRFY user, but will accept message".into(),
            "HELP" => "214 2.0.0 EHLO HELO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT".into(),
            "QUIT" => {
                let bye = format!("221 2.0.0 {host} closing connection");
                return out.reply(&mut wr, &bye).await;
            }
            "STARTTLS" | "AUTH" | "BDAT" | "EXPN" | "ETRN" | "TURN" => {
                "502 5.5.1 Command not implemented".into()
            }
            _ => "500 5.5.2 Command unrecognized".into(),
        };
        out.reply(&mut wr, &reply).await?;
    }
}

/// What a DATA over the memory budget is answered.
const NO_ROOM: &str = "452 4.3.1 Too much mail in progress, try again later";

/// Replies to the client, counting rejections; a client that stops reading, or whose
/// conversation has lasted too long, is let go.
struct Writer {
    idle: Duration,
    deadline: Instant,
    errors: usize,
}

impl Writer {
    async fn reply<W: AsyncWrite + Unpin>(
        &mut self,
        wr: &mut W,
        text: &str,
    ) -> std::io::Result<()> {
        if text.starts_with('5') {
            self.errors += 1;
        }
        let bytes = format!("{text}\r\n");
        // The goodbye at the deadline still gets a moment to leave.
        let wait = self.wait().max(Duration::from_millis(500));
        match timeout(wait, wr.write_all(bytes.as_bytes())).await {
            Ok(res) => res,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    /// How long the client may take now: the idle time, cut short by the deadline.
    fn wait(&self) -> Duration {
        self.idle
            .min(self.deadline.saturating_duration_since(Instant::now()))
    }

    async fn idle<W: AsyncWrite + Unpin>(&mut self, wr: &mut W, host: &str) -> std::io::Result<()> {
        let bye = if Instant::now() >= self.deadline {
            format!("421 4.4.2 {host} connection time limit reached, closing connection")
        } else {
            format!("421 4.4.2 {host} idle too long, closing connection")
        };
        self.reply(wr, &bye).await
    }
}

/// A message read after `354`.
enum Data {
    /// The message, and its share of the memory budget (held until it is stored).
    Message(Vec<u8>, Option<OwnedSemaphorePermit>),
    /// Over the size limit; discarded.
    TooBig,
    /// Over the memory budget; discarded.
    NoRoom,
}

/// Reads the message after `354`, up to the line holding a single dot, undoing dot-stuffing.
/// `Ok(None)`: the connection ended (or idled out) and was answered. What is held counts
/// against `budget` as it grows; past it, or past the size limit, the rest is read and dropped.
async fn read_data<R, W>(
    rd: &mut R,
    line: &mut Vec<u8>,
    cfg: &SmtpServerConfig,
    out: &mut Writer,
    wr: &mut W,
    budget: &Arc<Semaphore>,
) -> std::io::Result<Option<Data>>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let max = cfg.max_message_size;
    let mut data = Vec::new();
    let mut too_big = false;
    let mut no_room = false;
    let mut reserved: Option<OwnedSemaphorePermit> = None;
    // Only CRLF "." CRLF ends the data: a bare LF before or after the dot is how SMTP smuggling
    // hides a second message in the first.
    let mut after_crlf = true;
    loop {
        // A line is held whole before it is counted against the budget, so its length is capped:
        // SMTP allows 1,000 octets, and a longer one marks the message as too big.
        let read = match timeout(
            out.wait(),
            read_line(rd, line, (max + 3).min(MAX_DATA_LINE)),
        )
        .await
        {
            Ok(read) => read?,
            Err(_) => {
                out.idle(wr, &cfg.hostname).await?;
                return Ok(None);
            }
        };
        match read {
            Line::Eof => return Ok(None),
            Line::TooLong { crlf } => {
                too_big = true;
                data = Vec::new();
                reserved = None;
                after_crlf = crlf;
            }
            Line::Complete { crlf } => {
                if after_crlf && line.as_slice() == b".\r\n" {
                    return Ok(Some(match (too_big, no_room) {
                        (true, _) => Data::TooBig,
                        (_, true) => Data::NoRoom,
                        _ => Data::Message(data, reserved),
                    }));
                }
                let content = line.strip_prefix(b".").unwrap_or(line);
                if !too_big && !no_room {
                    if data.len() + content.len() > max {
                        too_big = true;
                        data = Vec::new();
                        reserved = None;
                    } else {
                        data.extend_from_slice(content);
                        // What the buffer holds (its capacity) is what counts.
                        if !reserve(budget, &mut reserved, data.capacity()) {
                            no_room = true;
                            data = Vec::new();
                            reserved = None;
                        }
                    }
                }
                after_crlf = crlf;
            }
        }
    }
}

/// The longest line of a message's data that is read into memory (SMTP's limit is 1,000 octets).
const MAX_DATA_LINE: usize = 64 * 1024;

/// Grows `held` to cover `bytes` of the budget, a step at a time; false when the budget is spent.
fn reserve(budget: &Arc<Semaphore>, held: &mut Option<OwnedSemaphorePermit>, bytes: usize) -> bool {
    let have = held.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
    let need = bytes.div_ceil(BUDGET_UNIT);
    if need <= have {
        return true;
    }
    let step = (need - have).max(BUDGET_STEP);
    let (Ok(n), Ok(least)) = (u32::try_from(step), u32::try_from(need - have)) else {
        return false;
    };
    let got = budget
        .clone()
        .try_acquire_many_owned(n)
        .or_else(|_| budget.clone().try_acquire_many_owned(least));
    match got {
        Ok(more) => {
            match held {
                Some(h) => h.merge(more),
                None => *held = Some(more),
            }
            true
        }
        Err(_) => false,
    }
}

/// Reads up to and including the next LF. A line over `limit` octets is consumed but not kept.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    let mut total = 0usize;
    let mut last = 0u8;
    loop {
        let avail = r.fill_buf().await?;
        if avail.is_empty() {
            return Ok(match (total, too_long) {
                (0, _) => Line::Eof,
                (_, true) => Line::TooLong { crlf: false },
                (_, false) => Line::Complete { crlf: false },
            });
        }
        let newline = avail.iter().position(|b| *b == b'\n');
        let take = newline.map_or(avail.len(), |i| i + 1);
        let crlf = match newline {
            Some(0) => last == b'\r',
            Some(i) => avail[i - 1] == b'\r',
            None => false,
        };
        if !too_long {
            if buf.len() + take > limit {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&avail[..take]);
            }
        }
        last = avail[take - 1];
        r.consume(take);
        total += take;
        if newline.is_some() {
            return Ok(if too_long {
                Line::TooLong { crlf }
            } else {
                Line::Complete { crlf }
            });
        }
    }
}

/// `MAIL FROM:<address> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8]`.
fn mail_from(arg: &str, max: usize) -> Result<String, String> {
    let (addr, params) = path(arg, "FROM:")?;
    if !addr.is_empty() && !valid_address(&addr) {
        return Err("501 5.1.7 Bad sender address".into());
    }
    for p in params.split_whitespace() {
        let (key, value) = p.split_once('=').unwrap_or((p, ""));
        match key.to_ascii_uppercase().as_str() {
            "SIZE" => match value.parse::<u64>() {
                Ok(n) if n > max as u64 => {
                    return Err("552 5.3.4 Message size exceeds fixed maximum".into())
                }
                Ok(_) => {}
                Err(_) => return Err("501 5.5.4 Bad SIZE parameter".into()),
            },
            "BODY" if ["7BIT", "8BITMIME"].contains(&value.to_ascii_uppercase().as_str()) => {}
            "SMTPUTF8" if value.is_empty() => {}
            _ => {
                return Err(format!(
                    "555 5.5.4 Unsupported parameter {}",
                    printable(key)
                ))
            }
        }
    }
    Ok(addr)
}

/// `RCPT TO:<address>`; no parameters are advertised, so none are taken.
fn rcpt_to(arg: &str) -> Result<String, String> {
    let (addr, params) = path(arg, "TO:")?;
    if !params.trim().is_empty() {
        return Err("555 5.5.4 Unsupported parameter".into());
    }
    if addr == "postmaster" || valid_address(&addr) {
        Ok(addr)
    } else {
        Err("501 5.1.3 Bad recipient address".into())
    }
}

/// Splits `FROM:<path> params` into the lower-cased address and the parameters. A source route
/// (`<@relay:user@host>`) is dropped, as RFC 5321 asks.
fn path(arg: &str, keyword: &str) -> Result<(String, String), String> {
    let syntax = || format!("501 5.5.4 Syntax: {keyword}<address>");
    let head = arg.get(..keyword.len()).ok_or_else(syntax)?;
    if !head.eq_ignore_ascii_case(keyword) {
        return Err(syntax());
    }
    let rest = arg[keyword.len()..].trim_start();
    let (inner, params) = match rest.strip_prefix('<') {
        Some(r) => r.split_once('>').ok_or_else(syntax)?,
        // Some old clients leave out the brackets.
        None => rest.split_once(' ').unwrap_or((rest, "")),
    };
    let inner = inner.rsplit_once(':').map_or(inner, |(_, a)| a);
    Ok((inner.to_lowercase(), params.to_string()))
}

fn valid_address(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && a.len() <= 320
        && !a
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// What a client said, safe to echo on one line of a reply or header.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, '<' | '>'))
        .take(100)
        .collect()
}

fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    match flat.trim() {
        "" => "Try again later".into(),
        t => t.to_string(),
    }
}

/// `Return-Path` and `Received` (RFC 5321 section 4.4), as the final-delivery server writes them.
fn trace_headers(
    from: &str,
    helo: &str,
    esmtp: bool,
    peer: SocketAddr,
    host: &str,
    data: Vec<u8>,
) -> Vec<u8> {
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let with = if esmtp { "ESMTP" } else { "SMTP" };
    let mut out = format!(
        "Return-Path: <{}>\r\nReceived: from {} ([{}])\r\n\tby {} with {with}; {date}\r\n",
        printable(from),
        printable(helo),
        peer.ip(),
        printable(host),
    )
    .into_bytes();
    out.extend_from_slice(&data);
    out
}
