//! The compliance gate: whether one outbound message may go now, decided from its purpose, the
//! contact's consent ledger, the channel's rules and the recipient's local time. Every sender
//! asks it before queueing (so the agent sees the reason) and the dispatcher asks it again right
//! before sending (so a revocation that arrives while a message waits still stops it).

use jiff::tz::TimeZone;

use crate::consent::{self, Action, Entry, Purpose};
use crate::Timestamp;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// Hours of the day, in the recipient's local time, when business-initiated texts may arrive:
/// from `start` (inclusive) to `end` (exclusive), in minutes after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u16,
    pub end: u16,
}

impl Window {
    /// 47 CFR 64.1200(c)(1): not before 8 a.m. or after 9 p.m. at the called party's location.
    pub const FEDERAL: Window = Window {
        start: 8 * 60,
        end: 21 * 60,
    };

    /// Parses `"08:00"`-style bounds; `start` must come before `end` on the same day.
    pub fn parse(start: &str, end: &str) -> Result<Self, crate::Invalid> {
        let minutes = |field: &'static str, s: &str| -> Result<u16, crate::Invalid> {
            let bad = || crate::Invalid::new(field, "must be a time of day such as \"08:00\"");
            let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
            let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if h > 24 || m > 59 || (h == 24 && m > 0) {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        let w = Window {
            start: minutes("quiet_hours.start", start)?,
            end: minutes("quiet_hours.end", end)?,
        };
        if w.start >= w.end {
            return Err(crate::Invalid::new(
                "quiet_hours",
                "the window must start before it ends, within one day",
            ));
        }
        Ok(w)
    }

    pub fn format(minutes: u16) -> String {
        format!("{:02}:{:02}", minutes / 60, minutes % 60)
    }

    pub fn intersect(self, other: Window) -> Window {
        Window {
            start: self.start.max(other.start),
            end: self.end.min(other.end),
        }
    }
}

/// A state's own texting hours where they are stricter than the federal ones. Oklahoma's is in
/// the channels reference (section 3); Florida's, Maryland's and Washington's statutes say 8 a.m.
/// to 8 p.m.; Texas's 9 a.m. to 9 p.m., and noon on Sundays. A stricter window only delays.
const STATE_WINDOWS: &[(&str, Window, Option<u16>)] = &[
    (
        "OK",
        Window {
            start: 480,
            end: 1200,
        },
        None,
    ),
    (
        "FL",
        Window {
            start: 480,
            end: 1200,
        },
        None,
    ),
    (
        "MD",
        Window {
            start: 480,
            end: 1200,
        },
        None,
    ),
    (
        "WA",
        Window {
            start: 480,
            end: 1200,
        },
        None,
    ),
    (
        "TX",
        Window {
            start: 540,
            end: 1260,
        },
        Some(720),
    ),
];

/// The hours that apply in `state` on a given weekday (0 = Monday … 6 = Sunday).
fn state_window(state: Option<&str>, weekday: i8) -> Option<Window> {
    let (_, w, sunday_start) = STATE_WINDOWS.iter().find(|(s, ..)| Some(*s) == state)?;
    Some(match sunday_start {
        Some(s) if weekday == 6 => Window {
            start: *s,
            end: w.end,
        },
        _ => *w,
    })
}

/// The workspace's rules.
#[derive(Debug, Clone)]
pub struct Policy {
    pub quiet_hours: Window,
    /// Consent for business-initiated messages lapses after this long without a word from the
    /// number (it may have been reassigned); `None`: never.
    pub inactivity_ms: Option<i64>,
    /// The workspace's time zone, for numbers that say nothing of where they are.
    pub timezone: String,
}

/// Who the message goes to.
#[derive(Debug, Clone, Default)]
pub struct Recipient<'a> {
    /// Their number in E.164, when the channel is a phone number.
    pub phone: Option<&'a str>,
    /// Their own IANA time zone, when stored.
    pub timezone: Option<&'a str>,
    /// When they last wrote to the business, on any channel.
    pub last_inbound: Option<Timestamp>,
}

/// What kind of outbound message it is.
#[derive(Debug, Clone)]
pub struct Outbound<'a> {
    pub purpose: Purpose,
    /// The consent channel (`sms`, `whatsapp`, `email`, …).
    pub channel: &'a str,
    /// The customer wrote in this conversation: an answer to them is conversational.
    pub customer_started: bool,
    pub kind: Kind,
    /// The channel's own reason it cannot carry this now (WhatsApp's 24-hour window, …).
    pub channel_closed: Option<String>,
}

/// Who writes, as far as the gate cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// What a person, a rule, the bot, a survey or a campaign writes.
    #[default]
    Message,
    /// A HELP answer or the one confirmation of an opt-in or opt-out: always allowed.
    Notice,
    /// The double opt-in request ("reply CONFIRM to get …") answering the customer's own
    /// sign-up: allowed while a subscription waits for their confirmation on the channel and they
    /// have not opted out there; held by quiet hours only. It needs no consent of its own, since
    /// asking for consent is its whole content.
    ConsentRequest,
}

/// The gate's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Not now: quiet hours at the recipient's location. Sent when the window opens.
    Hold {
        until: Timestamp,
        reason: String,
    },
    /// Not at all, with a code for programs and a reason for the agent.
    Deny {
        code: &'static str,
        reason: String,
    },
}

/// Channels tied to a phone number, where the TCPA's consent and quiet-hours rules apply.
pub fn is_phone_channel(channel: &str) -> bool {
    matches!(channel, "sms" | "whatsapp")
}

/// The purpose a message really has: an "answer" in a conversation the customer never wrote in
/// is business-initiated, so it needs informational consent.
pub fn effective_purpose(msg: &Outbound<'_>) -> Purpose {
    match msg.purpose {
        Purpose::Conversational if !msg.customer_started => Purpose::Informational,
        p => p,
    }
}

/// Whether `msg` may go to the recipient at `now`.
pub fn check(
    msg: &Outbound<'_>,
    ledger: &[Entry],
    to: &Recipient<'_>,
    policy: &Policy,
    now: Timestamp,
) -> Verdict {
    match msg.kind {
        Kind::Notice => return Verdict::Allow,
        Kind::ConsentRequest => return consent_request(msg, ledger, to, policy, now),
        Kind::Message => {}
    }
    let channel = msg.channel;
    let purpose = effective_purpose(msg);
    if let Some(reason) = &msg.channel_closed {
        return deny("outside_window", reason.clone());
    }
    let deciding = consent::deciding(ledger, purpose, channel);
    match deciding.map(|e| e.action) {
        Some(Action::Revoke) => {
            let e = deciding.expect("matched Some");
            if e.source == "probable_keyword" {
                return deny(
                    "probable_revocation",
                    format!("This customer may have asked to stop ({} messages are held): review it and record their consent before sending.", purpose.as_str()),
                );
            }
            return deny(
                "opted_out",
                format!(
                    "This customer opted out of {} messages by {channel} on {}; nothing of that kind can be sent until they opt back in.",
                    purpose.as_str(),
                    e.at.to_rfc3339()
                ),
            );
        }
        Some(Action::Request) => {
            return deny(
                "consent_pending",
                "This customer has not confirmed their subscription yet (double opt-in): nothing can be sent until they reply to the confirmation request.".into(),
            )
        }
        _ => {}
    }
    if purpose == Purpose::Conversational {
        return Verdict::Allow;
    }
    if !is_phone_channel(channel) {
        // Email and the messaging apps are opt-out channels; the apps' own windows apply.
        return Verdict::Allow;
    }
    let Some(grant) = deciding.filter(|e| e.action == Action::Grant) else {
        return deny(
            "no_consent",
            format!(
                "No {} consent is on record for this customer on {channel}: record it (with its evidence) before sending them business-initiated messages.",
                purpose.as_str()
            ),
        );
    };
    if purpose == Purpose::Promotional && !is_written(&grant.source) {
        return deny(
            "written_consent_required",
            "Promotional texts need written consent (a form, a keyword, a signed record); this customer's was given to an agent.".into(),
        );
    }
    if let Some(limit) = policy.inactivity_ms {
        let last = to.last_inbound.map_or(grant.at, |t| t.max(grant.at));
        if now.0.saturating_sub(last.0) > limit {
            return deny(
                "inactive_number",
                format!(
                    "This number has been silent for more than {} days and may have been reassigned: consent is suspended until they write again or re-confirm.",
                    limit / DAY_MS
                ),
            );
        }
    }
    hold_for_quiet_hours(to, policy, now, &format!("{} texts", purpose.as_str()))
}

/// The double opt-in request: see `Kind::ConsentRequest`.
fn consent_request(
    msg: &Outbound<'_>,
    ledger: &[Entry],
    to: &Recipient<'_>,
    policy: &Policy,
    now: Timestamp,
) -> Verdict {
    let channel = msg.channel;
    if let Some(reason) = &msg.channel_closed {
        return deny("outside_window", reason.clone());
    }
    let states: Vec<_> = Purpose::ALL
        .into_iter()
        .map(|p| (p, consent::deciding(ledger, p, channel)))
        .collect();
    // Stopped altogether, or from what the request is for.
    let stopped = states.iter().find_map(|(p, e)| {
        e.filter(|e| {
            e.action == Action::Revoke && (*p == Purpose::Conversational || *p == msg.purpose)
        })
    });
    if let Some(e) = stopped {
        if e.source == "probable_keyword" {
            return deny(
                "probable_revocation",
                "This customer may have asked to stop since signing up: review it before asking them to confirm.".into(),
            );
        }
        return deny(
            "opted_out",
            format!(
                "This customer opted out by {channel} on {}: no request to confirm a subscription can be sent until they opt back in.",
                e.at.to_rfc3339()
            ),
        );
    }
    if !states
        .iter()
        .any(|(_, e)| e.is_some_and(|e| e.action == Action::Request))
    {
        return deny(
            "nothing_to_confirm",
            format!("No subscription is waiting for this customer's confirmation on {channel}: there is nothing to ask them."),
        );
    }
    if !is_phone_channel(channel) {
        return Verdict::Allow;
    }
    hold_for_quiet_hours(to, policy, now, "requests to confirm a subscription")
}

/// Allow, or hold `what` until quiet hours at the recipient end.
fn hold_for_quiet_hours(
    to: &Recipient<'_>,
    policy: &Policy,
    now: Timestamp,
    what: &str,
) -> Verdict {
    match quiet_hours(to, policy, now) {
        None => Verdict::Allow,
        Some((until, zone, window)) => Verdict::Hold {
            until,
            reason: format!(
                "Quiet hours at the recipient's location ({zone}): {what} go between {} and {} their time; this one waits until then.",
                Window::format(window.start),
                Window::format(window.end),
            ),
        },
    }
}

fn deny(code: &'static str, reason: String) -> Verdict {
    Verdict::Deny { code, reason }
}

/// Consent given to an agent by voice is not written consent.
pub fn is_written(source: &str) -> bool {
    source != "agent"
}

/// Where the recipient is: their own zone, else their area code's zones (and state), else the
/// workspace's zone.
fn zones_of(to: &Recipient<'_>, policy: &Policy) -> (Vec<TimeZone>, Option<&'static str>) {
    let place = to.phone.and_then(crate::nanp::place);
    let state = place.as_ref().map(|p| p.state);
    if let Some(tz) = to.timezone.and_then(|z| TimeZone::get(z).ok()) {
        return (vec![tz], state);
    }
    if let Some(p) = &place {
        let zones: Vec<_> = p
            .zones
            .iter()
            .filter_map(|z| TimeZone::get(z).ok())
            .collect();
        if !zones.is_empty() {
            return (zones, state);
        }
    }
    let tz = TimeZone::get(&policy.timezone).unwrap_or(TimeZone::UTC);
    (vec![tz], state)
}

/// `None` when a business-initiated text may arrive now; else when it may, with a zone to name
/// and the window that applies.
fn quiet_hours(
    to: &Recipient<'_>,
    policy: &Policy,
    now: Timestamp,
) -> Option<(Timestamp, String, Window)> {
    let (zones, state) = zones_of(to, policy);
    let window_on = |weekday: i8| match state_window(state, weekday) {
        Some(w) => policy.quiet_hours.intersect(w),
        None => policy.quiet_hours,
    };
    let open_at = |t: i64| -> bool {
        let Ok(ts) = jiff::Timestamp::from_millisecond(t) else {
            return false;
        };
        zones.iter().all(|z| {
            let local = ts.to_zoned(z.clone());
            let w = window_on(local.weekday().to_monday_zero_offset());
            let m = local.hour() as u16 * 60 + local.minute() as u16;
            w.start <= m && m < w.end
        })
    };
    if open_at(now.0) {
        return None;
    }
    let name = zones
        .first()
        .and_then(|z| z.iana_name())
        .unwrap_or("UTC")
        .to_string();
    let ts = jiff::Timestamp::from_millisecond(now.0).ok()?;
    // The window opens at a window start in one of the zones: try each of the next few days'.
    let mut starts: Vec<i64> = Vec::new();
    for z in &zones {
        let today = ts.to_zoned(z.clone()).date();
        for d in 0..4 {
            let Ok(day) = today.checked_add(jiff::Span::new().days(d)) else {
                continue;
            };
            let w = window_on(day.weekday().to_monday_zero_offset());
            let (h, m) = ((w.start / 60) as i8, (w.start % 60) as i8);
            if let Ok(at) = day.at(h, m, 0, 0).to_zoned(z.clone()) {
                starts.push(at.timestamp().as_millisecond());
            }
        }
    }
    starts.sort_unstable();
    let until = starts
        .into_iter()
        .filter(|t| *t > now.0)
        .find(|t| open_at(*t))
        // Windows that never overlap across the zones: retry in an hour rather than never.
        .unwrap_or(now.0 + 60 * MINUTE_MS);
    let probe = jiff::Timestamp::from_millisecond(until).ok()?;
    let local_window = window_on(
        probe
            .to_zoned(zones.first()?.clone())
            .weekday()
            .to_monday_zero_offset(),
    );
    Some((Timestamp(until), name, local_window))
}

#[cfg(test)]
mod tests;
