//! The proof that consent cannot be bypassed: random sequences of customers' keywords on SMS and
//! on a second channel, consent recorded and revoked by staff from several sources, agent replies,
//! API sends with every purpose, and jumps in time (quiet hours, months of silence) run against a
//! real server and fake providers. After every step the outbox is drained, and every message that
//! reached a provider is checked against an independent statement of the rules: nothing reaches
//! a contact for a purpose without valid consent at the moment it is sent. Among the senders: agents,
//! the API, a bot, the satisfaction survey sent on resolving, and Parley's own double opt-in
//! requests, whose answers must also say truly whether the request went, waits or was refused.
//! An automation rule sends the survey on every customer message too; campaigns join this test
//! as senders when they exist.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::harness::{Backend, Callback, TestApp};
use crate::twilio::{fake_twilio, form, post_signed, FakeTwilio, SID, TOKEN};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// 2027-01-12T17:00:00Z: noon in New York, 11:00 in Oklahoma.
const START_MS: i64 = 1_799_773_200_000;

/// The two customers: a New York number (quiet hours 8-21) and an Oklahoma one (8-20).
const PHONES: [&str; 2] = ["+12125550100", "+14055550100"];
/// Their time zones (a jump of months crosses daylight-saving changes).
const ZONES: [&str; 2] = ["America/New_York", "America/Chicago"];
const WINDOW_END_H: [i64; 2] = [21, 20];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Channel {
    Sms,
    Api,
}

impl Channel {
    fn name(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Api => "api",
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// The customer writes.
    Inbound {
        who: usize,
        channel: Channel,
        text: &'static str,
    },
    /// Staff record consent.
    Grant {
        who: usize,
        purpose: &'static str,
        source: &'static str,
    },
    Revoke {
        who: usize,
        purpose: &'static str,
    },
    /// An agent (or the bot) answers in the conversation, or the API sends to the contact on a
    /// channel.
    Reply {
        who: usize,
        channel: Channel,
        purpose: &'static str,
        bot: bool,
    },
    Send {
        who: usize,
        channel: Channel,
        purpose: &'static str,
    },
    Wait {
        hours: i64,
    },
    /// An agent resolves the conversation, which sends the satisfaction survey.
    Resolve {
        who: usize,
        channel: Channel,
    },
}

const TEXTS: [&str; 11] = [
    "Hi",
    "STOP",
    "STOP. I mean it",
    "M2-AFTER-REVOKE-ee34e0",
    "stop please",
    "START",
    "YES",
    "CONFIRM",
    "I want to cancel my order",
    "HELP",
    "Take me off your list",
];
const PURPOSES: [&str; 3] = ["conversational", "informational", "promotional"];

fn op() -> impl Strategy<Value = Op> {
    let who = 0..2usize;
    let channel = prop_oneof![3 => Just(Channel::Sms), 1 => Just(Channel::Api)];
    prop_oneof![
        4 => (who.clone(), channel.clone(), proptest::sample::select(&TEXTS[..]))
            .prop_map(|(who, channel, text)| Op::Inbound { who, channel, text }),
        3 => (who.clone(), proptest::sample::select(&PURPOSES[1..]), proptest::sample::select(&["agent", "web_form", "pos", "pos", "import"][..]))
            .prop_map(|(who, purpose, source)| Op::Grant { who, purpose, source }),
        1 => (who.clone(), proptest::sample::select(&PURPOSES[..]))
            .prop_map(|(who, purpose)| Op::Revoke { who, purpose }),
        3 => (who.clone(), channel.clone(), proptest::sample::select(&PURPOSES[..]), proptest::bool::weighted(0.3))
            .prop_map(|(who, channel, purpose, bot)| Op::Reply { who, channel, purpose, bot }),
        1 => (who.clone(), channel.clone()).prop_map(|(who, channel)| Op::Resolve { who, channel }),
        3 => (who.clone(), channel, proptest::sample::select(&PURPOSES[..]))
            .prop_map(|(who, channel, purpose)| Op::Send { who, channel, purpose }),
        2 => prop_oneof![4 => 1..14i64, 1 => Just(200 * 24i64)].prop_map(|hours| Op::Wait { hours }),
    ]
}

/// One entry of the model's ledger.
#[derive(Debug, Clone)]
struct Fact {
    purpose: &'static str,
    action: &'static str,
    source: String,
    /// `None`: every channel.
    channel: Option<&'static str>,
    at: i64,
}

/// The rules as the law states them, kept apart from Parley's code: the latest consent event for
/// a purpose on a channel decides; STOP and clear requests revoke everything (by SMS: on every
/// channel); START or YES restores answers and informational texts only after an opt-out;
/// CONFIRM grants what was pending; business-initiated texts need a written grant (promotional)
/// or a grant (informational) on SMS, within the federal or state hours at the recipient, from a
/// number heard from within 180 days.
#[derive(Debug, Default, Clone)]
struct Person {
    facts: Vec<Fact>,
    last_inbound: Option<i64>,
    wrote_on: Vec<Channel>,
}

impl Person {
    fn latest(&self, purpose: &str, channel: &str) -> Option<&Fact> {
        self.facts
            .iter()
            .filter(|f| f.purpose == purpose && f.channel.is_none_or(|c| c == channel))
            .max_by_key(|f| f.at)
    }

    fn action(&self, purpose: &str, channel: &str) -> Option<&'static str> {
        self.latest(purpose, channel).map(|f| f.action)
    }

    fn record(
        &mut self,
        purposes: &[&'static str],
        action: &'static str,
        source: &str,
        channel: Channel,
        at: i64,
    ) {
        let scope = (channel == Channel::Api).then_some("api");
        for p in purposes {
            self.facts.push(Fact {
                purpose: p,
                action,
                source: source.into(),
                channel: scope,
                at,
            });
        }
    }

    /// A customer's message, as the law reads it.
    fn wrote(&mut self, channel: Channel, text: &str, at: i64) {
        self.last_inbound = Some(at);
        if !self.wrote_on.contains(&channel) {
            self.wrote_on.push(channel);
        }
        let ch = channel.name();
        let all = ["conversational", "informational", "promotional"];
        match text {
            "STOP" | "stop please" | "STOP. I mean it" | "Take me off your list"
                if self.action("conversational", ch) != Some("revoke") =>
            {
                self.record(&all, "revoke", "keyword", channel, at);
            }
            "I want to cancel my order" if self.action("informational", ch) != Some("revoke") => {
                self.record(&all[1..], "revoke", "probable_keyword", channel, at);
            }
            // YES is an opt-in only for someone who opted out.
            "START" | "YES" if self.action("conversational", ch) == Some("revoke") => {
                self.record(&all[..2], "grant", "keyword", channel, at);
            }
            "CONFIRM" => {
                for p in all {
                    if self.action(p, ch) == Some("request") {
                        self.facts.push(Fact {
                            purpose: p,
                            action: "grant",
                            source: "double_opt_in".into(),
                            channel: Some(ch_static(ch)),
                            at,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether a message of `purpose`, classified when it was queued, may reach them now.
    fn may_receive(
        &self,
        who: usize,
        channel: Channel,
        purpose: &str,
        customer_started: bool,
        now: i64,
    ) -> Result<(), String> {
        let ch = channel.name();
        let effective = if purpose == "conversational" && !customer_started {
            "informational"
        } else {
            purpose
        };
        let latest = self.latest(effective, ch);
        match latest.map(|f| f.action) {
            Some("revoke") => return Err(format!("{effective} was revoked: {latest:?}")),
            Some("request") => return Err(format!("{effective} is only pending: {latest:?}")),
            _ => {}
        }
        if effective == "conversational" || channel == Channel::Api {
            return Ok(());
        }
        let grant = latest.ok_or_else(|| format!("no {effective} consent on record"))?;
        if effective == "promotional" && grant.source == "agent" {
            return Err("promotional consent was only spoken".into());
        }
        let heard = self.last_inbound.unwrap_or(grant.at).max(grant.at);
        if now - heard > 180 * DAY_MS {
            return Err(format!("silent since {heard}"));
        }
        within_hours(who, now)
    }

    /// Whether Parley's request to confirm a subscription may reach them now: a subscription
    /// waits for their confirmation by SMS, they have not opted out of texts, and it is within the
    /// hours at the recipient. It needs no consent of its own: it answers their sign-up.
    fn may_be_asked(&self, who: usize, now: i64) -> Result<(), String> {
        if !PURPOSES
            .iter()
            .any(|p| self.action(p, "sms") == Some("request"))
        {
            return Err("no subscription waits for confirmation".into());
        }
        if self.action("conversational", "sms") == Some("revoke") {
            return Err("they opted out".into());
        }
        within_hours(who, now)
    }
}

/// Whether `now` is within the texting hours at customer `who`'s location.
fn within_hours(who: usize, now: i64) -> Result<(), String> {
    let zone = jiff::tz::TimeZone::get(ZONES[who]).unwrap();
    let local_h = i64::from(
        jiff::Timestamp::from_millisecond(now)
            .unwrap()
            .to_zoned(zone)
            .hour(),
    );
    if !(8..WINDOW_END_H[who]).contains(&local_h) {
        return Err(format!("{local_h}:00 at the recipient"));
    }
    Ok(())
}

fn ch_static(ch: &str) -> &'static str {
    if ch == "sms" {
        "sms"
    } else {
        "api"
    }
}

/// A message the API accepted: whom, where, why, and whether the customer had written there.
#[derive(Debug, Clone)]
struct Queued {
    /// The step that queued it, which its body names.
    n: usize,
    who: usize,
    channel: Channel,
    purpose: &'static str,
    customer_started: bool,
    bot: bool,
}

/// What reached the providers, by sender, over a run.
#[derive(Debug, Default, Clone, Copy)]
struct Delivered {
    /// Business-initiated messages (needing consent of a business kind).
    business: usize,
    by_bot: usize,
    surveys: usize,
    consent_requests: usize,
}

struct World {
    t: TestApp,
    clock: parley_server::ManualClock,
    twilio: FakeTwilio,
    twilio_inbox: String,
    api: Callback,
    api_inbox: String,
    api_secret: String,
    contacts: [String; 2],
    people: [Person; 2],
    queued: Vec<Queued>,
    seen_sms: usize,
    seen_api: usize,
    serial: usize,
    delivered: Delivered,
    bot_token: String,
    /// What the consent answers of this step said of their double opt-in request, by customer.
    request_answers: Vec<(usize, String)>,
}

impl World {
    async fn new(backend: Backend) -> Self {
        let clock = parley_server::ManualClock::new(parley_core::Timestamp(START_MS));
        let mut t = TestApp::spawn_with_clock(backend, Arc::new(clock.clone())).await;
        t.stop_workers();
        let (base, twilio) = fake_twilio().await;
        let (s, inbox) = t
            .post("/api/v1/inboxes", &t.admin_token, json!({ "name": "Line", "kind": "twilio", "account_sid": SID, "auth_token": TOKEN, "from": "+15017122661", "api_base_url": base }))
            .await;
        assert_eq!(s, 201, "{inbox}");
        let api = Callback::start(0).await;
        let (api_inbox, api_secret) = t.api_inbox("App", &api.url).await;
        let (s, bot) = t
            .post(
                "/api/v1/bots",
                &t.admin_token,
                json!({ "name": "Answer bot", "inbox_ids": [inbox["id"], api_inbox] }),
            )
            .await;
        assert_eq!(s, 201, "{bot}");
        let (s, v) = t
            .call(
                reqwest::Method::PUT,
                "/api/v1/survey",
                &t.admin_token,
                Some(json!({ "enabled": true, "message": "Survey: how did we do?\n{link}" })),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let rule = json!({ "name": "Survey on every message", "trigger": { "kind": "message_received" },
            "actions": [{ "kind": "send_survey" }] });
        let (s, v) = t.post("/api/v1/automations", &t.admin_token, rule).await;
        assert_eq!(s, 201, "{v}");
        let mut contacts = [String::new(), String::new()];
        for (i, phone) in PHONES.iter().enumerate() {
            let (s, k) = t
                .post(
                    "/api/v1/contacts",
                    &t.admin_token,
                    json!({ "name": format!("C{i}"), "phone": phone }),
                )
                .await;
            assert_eq!(s, 201, "{k}");
            contacts[i] = k["id"].as_str().unwrap().to_string();
        }
        Self {
            twilio_inbox: inbox["id"].as_str().unwrap().to_string(),
            t,
            clock,
            twilio,
            api,
            api_inbox,
            api_secret,
            contacts,
            people: Default::default(),
            queued: Vec::new(),
            seen_sms: 0,
            seen_api: 0,
            serial: 0,
            delivered: Delivered::default(),
            bot_token: bot["token"].as_str().unwrap().to_string(),
            request_answers: Vec::new(),
        }
    }

    fn now(&self) -> i64 {
        self.t.app.now().0
    }

    fn inbox_of(&self, c: Channel) -> &str {
        match c {
            Channel::Sms => &self.twilio_inbox,
            Channel::Api => &self.api_inbox,
        }
    }

    /// The contact's conversation on the channel, if any.
    async fn conversation(&self, who: usize, channel: Channel) -> Option<String> {
        let path = format!("/api/v1/contacts/{}/conversations", self.contacts[who]);
        let (_, list) = self.t.get(&path, &self.t.admin_token).await;
        let inbox = self.inbox_of(channel);
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["inbox_id"] == inbox)
            .map(|c| c["id"].as_str().unwrap().to_string())
    }

    async fn apply(&mut self, op: &Op) {
        self.serial += 1;
        self.request_answers.clear();
        let n = self.serial;
        match *op {
            Op::Inbound { who, channel, text } => {
                let status = match channel {
                    Channel::Sms => {
                        let body = form(&[
                            ("MessageSid", &format!("SM{n:032}")),
                            ("AccountSid", SID),
                            ("From", PHONES[who]),
                            ("To", "+15017122661"),
                            ("Body", text),
                            ("NumMedia", "0"),
                        ]);
                        post_signed(&self.t, &self.twilio_inbox, &body, TOKEN)
                            .await
                            .0
                    }
                    Channel::Api => {
                        let body = json!({ "id": format!("in{n}"), "contact": { "id": format!("p{who}"), "phone": PHONES[who] }, "text": text }).to_string();
                        let sig = parley_channels::api::sign(&self.api_secret, body.as_bytes());
                        self.t.raw_hook(&self.api_inbox, Some(&sig), body).await.0
                    }
                };
                assert_eq!(status, 200);
                let now = self.now();
                self.people[who].wrote(channel, text, now);
            }
            Op::Grant {
                who,
                purpose,
                source,
            } => {
                let body = json!({ "purpose": purpose, "action": "grant", "source": source, "evidence": { "step": n } });
                self.record(who, body).await;
            }
            Op::Revoke { who, purpose } => {
                let body = json!({ "purpose": purpose, "action": "revoke", "source": "agent" });
                self.record(who, body).await;
            }
            Op::Reply {
                who,
                channel,
                purpose,
                bot,
            } => {
                if let Some(conv) = self.conversation(who, channel).await {
                    let path = format!("/api/v1/conversations/{conv}/messages");
                    let token = if bot {
                        &self.bot_token
                    } else {
                        &self.t.admin_token
                    };
                    let (s, v) = self
                        .t
                        .post(
                            &path,
                            token,
                            json!({ "body": format!("m{n}|{purpose}"), "purpose": purpose }),
                        )
                        .await;
                    if bot && s == 201 {
                        assert_eq!(v["message"]["sender_kind"], "bot", "{v}");
                    }
                    self.accepted(s, &v, who, channel, purpose, bot);
                }
            }
            Op::Resolve { who, channel } => {
                if let Some(conv) = self.conversation(who, channel).await {
                    let path = format!("/api/v1/conversations/{conv}/resolve");
                    let (s, v) = self.t.post(&path, &self.t.admin_token, json!({})).await;
                    // Resolving twice is refused as pointless; nothing else may fail.
                    assert!(s == 200 || s == 409 || s == 422, "{s}: {v}");
                }
            }
            Op::Send {
                who,
                channel,
                purpose,
            } => {
                let path = format!("/api/v1/contacts/{}/messages", self.contacts[who]);
                let inbox = self.inbox_of(channel).to_string();
                let (s, v) = self.t.post(&path, &self.t.admin_token, json!({ "body": format!("m{n}|{purpose}"), "inbox_id": inbox, "purpose": purpose })).await;
                self.accepted(s, &v, who, channel, purpose, false);
            }
            Op::Wait { hours } => self.clock.advance_ms(hours * HOUR_MS),
        }
        parley_server::jobs::run_due_deliveries(&self.t.app)
            .await
            .unwrap();
        self.check_deliveries().await;
    }

    /// Staff's consent entry: the model takes what the server recorded (the law does not limit
    /// what staff may record; the gate must still refuse spoken promotional consent).
    async fn record(&mut self, who: usize, body: Value) {
        let path = format!("/api/v1/contacts/{}/consent", self.contacts[who]);
        let (s, e) = self.t.post(&path, &self.t.admin_token, body).await;
        assert!(s == 201 || s == 422, "{s}: {e}");
        if let Some(c) = e.get("confirmation") {
            let status = c["status"].as_str().unwrap_or_default();
            assert!(
                ["sent", "held", "refused", "not_needed"].contains(&status),
                "{e}"
            );
            assert_eq!(e["confirmation"]["sent"], status == "sent", "{e}");
            self.request_answers.push((who, status.to_string()));
        }
        if s == 201 {
            let action = match e["action"].as_str().unwrap() {
                "grant" => "grant",
                "revoke" => "revoke",
                _ => "request",
            };
            let purpose = PURPOSES.into_iter().find(|p| *p == e["purpose"]).unwrap();
            let channel = e["channel"].as_str().map(ch_static);
            let at = parley_core::Timestamp::parse_rfc3339(e["at"].as_str().unwrap())
                .unwrap()
                .0;
            self.people[who].facts.push(Fact {
                purpose,
                action,
                source: e["source"].as_str().unwrap().into(),
                channel,
                at,
            });
        }
    }

    fn accepted(
        &mut self,
        status: u16,
        v: &Value,
        who: usize,
        channel: Channel,
        purpose: &'static str,
        bot: bool,
    ) {
        assert!(status == 201 || status == 422, "{status}: {v}");
        if status == 201 {
            let customer_started = self.people[who].wrote_on.contains(&channel);
            self.queued.push(Queued {
                n: self.serial,
                who,
                channel,
                purpose,
                customer_started,
                bot,
            });
        }
    }

    /// Whether the customer had written in their conversation on `channel` before the message
    /// with `body` was queued there, as its timeline shows (a survey is queued in the background
    /// after the resolve, so the step that resolved does not tell).
    async fn wrote_before(&self, who: usize, channel: Channel, body: &str) -> bool {
        let conv = self
            .conversation(who, channel)
            .await
            .expect("a survey has a conversation");
        let path = format!("/api/v1/conversations/{conv}/timeline?limit=200");
        let (_, tl) = self.t.get(&path, &self.t.admin_token).await;
        let messages: Vec<&Value> = tl["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "message.created")
            .map(|e| &e["data"]["message"])
            .collect();
        let at = messages
            .iter()
            .position(|m| m["body"] == body)
            .unwrap_or_else(|| panic!("the survey {body:?} is not on the timeline: {tl}"));
        messages[..at].iter().any(|m| m["direction"] == "inbound")
    }

    /// Every message that reached a provider since the last step, against the model.
    async fn check_deliveries(&mut self) {
        let now = self.now();
        let sms: Vec<(String, String)> = self.twilio.sent.lock().unwrap()[self.seen_sms..]
            .iter()
            .map(|f| {
                let get = |k: &str| {
                    f.iter()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                (get("To"), get("Body"))
            })
            .collect();
        self.seen_sms += sms.len();
        let api: Vec<(String, String)> = self.api.received.lock().unwrap()[self.seen_api..]
            .iter()
            .map(|(_, b)| {
                let v: Value = serde_json::from_str(b).unwrap();
                (
                    v["contact"]["id"].as_str().unwrap().to_string(),
                    v["text"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        self.seen_api += api.len();
        let arrivals = sms
            .into_iter()
            .map(|(to, body)| {
                (
                    PHONES
                        .iter()
                        .position(|p| *p == to)
                        .expect("a known number"),
                    Channel::Sms,
                    body,
                )
            })
            .chain(
                api.into_iter()
                    .map(|(id, body)| (if id == "p0" { 0 } else { 1 }, Channel::Api, body)),
            )
            .collect::<Vec<_>>();
        let mut asked = Vec::new();
        for (who, channel, body) in arrivals {
            if body.starts_with("Survey:") {
                // Sent on resolving, as an answer in the conversation: conversational when the
                // customer had written in it by then, else business-initiated.
                let customer_started = self.wrote_before(who, channel, &body).await;
                if let Err(why) = self.people[who].may_receive(
                    who,
                    channel,
                    "conversational",
                    customer_started,
                    now,
                ) {
                    panic!("a survey to customer {who} by {} reached the provider: {why}\nmodel: {:#?}", channel.name(), self.people[who]);
                }
                self.delivered.surveys += 1;
                continue;
            }
            if body.contains("reply CONFIRM") {
                assert_eq!(channel, Channel::Sms, "requests go by SMS: {body:?}");
                if let Err(why) = self.people[who].may_be_asked(who, now) {
                    panic!("a double opt-in request to customer {who} reached the provider: {why}\nmodel: {:#?}", self.people[who]);
                }
                asked.push(who);
                self.delivered.consent_requests += 1;
                continue;
            }
            let Some(tag) = body.strip_prefix('m') else {
                // Parley's other notices: HELP answers, opt-in and opt-out confirmations.
                assert!(body.starts_with("Acme:"), "an unexpected message: {body:?}");
                continue;
            };
            let n: usize = tag.split('|').next().unwrap().parse().unwrap();
            let purpose = tag.split('|').nth(1).unwrap().split('\n').next().unwrap();
            let q = self
                .queued
                .iter()
                .find(|q| q.n == n && q.who == who && q.channel == channel && q.purpose == purpose);
            let q = q
                .unwrap_or_else(|| panic!("message {n} was never accepted"))
                .clone();
            if let Err(why) =
                self.people[who].may_receive(who, channel, q.purpose, q.customer_started, now)
            {
                panic!("message {n} ({purpose} to customer {who} by {}) reached the provider: {why}\nmodel: {:#?}", channel.name(), self.people[who]);
            }
            if q.purpose != "conversational" || !q.customer_started {
                self.delivered.business += 1;
            }
            if q.bot {
                self.delivered.by_bot += 1;
            }
        }
        // The consent answer told the truth: a request said to be sent went now, one held or
        // refused did not.
        for (who, status) in &self.request_answers {
            let went = asked.contains(who);
            assert_eq!(
                went,
                status == "sent",
                "the answer said {status:?} for customer {who}'s request; it {} reach Twilio",
                if went { "did" } else { "did not" }
            );
        }
    }
}

fn cases(default: u32) -> u32 {
    std::env::var("PARLEY_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(backend: Backend, ops: Vec<Op>) -> Delivered {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut w = World::new(backend).await;
        for op in &ops {
            w.apply(op).await;
        }
        // Whatever is still held is released once its window opens, and checked then too.
        w.apply(&Op::Wait { hours: 13 }).await;
        w.t.shutdown().await;
        w.delivered
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(96), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_message_reaches_a_provider_without_consent_sqlite(ops in proptest::collection::vec(op(), 1..40)) {
        run(Backend::Sqlite, ops);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(8), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_message_reaches_a_provider_without_consent_postgres(ops in proptest::collection::vec(op(), 1..40)) {
        if crate::harness::postgres_url().is_none() {
            eprintln!("skipped: set PARLEY_TEST_POSTGRES_URL to run on PostgreSQL");
            return Ok(());
        }
        run(Backend::Postgres, ops);
    }
}

/// The property is not vacuous: a fixed script delivers business texts of each kind the rules
/// allow, a bot's answer, a survey and double opt-in requests, and holds or refuses the rest.
#[test]
fn the_model_lets_lawful_business_texts_through() {
    let script = vec![
        Op::Inbound {
            who: 0,
            channel: Channel::Sms,
            text: "Hi",
        },
        Op::Grant {
            who: 0,
            purpose: "promotional",
            source: "pos",
        },
        Op::Send {
            who: 0,
            channel: Channel::Sms,
            purpose: "promotional",
        },
        // Asking for promotional consent needs no informational consent first.
        Op::Grant {
            who: 1,
            purpose: "promotional",
            source: "import",
        },
        Op::Grant {
            who: 1,
            purpose: "informational",
            source: "web_form",
        },
        Op::Inbound {
            who: 1,
            channel: Channel::Sms,
            text: "CONFIRM",
        },
        Op::Send {
            who: 1,
            channel: Channel::Sms,
            purpose: "informational",
        },
        Op::Reply {
            who: 0,
            channel: Channel::Sms,
            purpose: "conversational",
            bot: true,
        },
        Op::Resolve {
            who: 0,
            channel: Channel::Sms,
        },
        Op::Wait { hours: 9 },
        Op::Send {
            who: 1,
            channel: Channel::Sms,
            purpose: "informational",
        },
        Op::Inbound {
            who: 0,
            channel: Channel::Sms,
            text: "STOP",
        },
        Op::Reply {
            who: 0,
            channel: Channel::Sms,
            purpose: "conversational",
            bot: false,
        },
    ];
    let d = run(Backend::Sqlite, script);
    assert!(d.business >= 3, "{d:?}");
    assert!(d.by_bot >= 1, "{d:?}");
    assert!(d.surveys >= 1, "{d:?}");
    assert!(d.consent_requests >= 2, "{d:?}");
}
