//! A workspace's texting rules (kept under `compliance` in its settings), their validation, and
//! the texts they produce: the HELP answer, the confirmations and the double opt-in request.

use parley_core::compliance::{Policy, Window};
use parley_core::keywords::{self, Keyword};
use parley_store::WorkspaceRow;
use serde::{Deserialize, Serialize};

use super::DAY_MS;

/// A setting an admin sent that does not hold: the field at fault and why.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct InvalidSetting {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidSetting {
    InvalidSetting {
        field,
        message: message.into(),
    }
}

/// Appended to the first business-initiated text of a conversation (CTIA: opt-out instructions).
pub const OPT_OUT_FOOTER: &str = "Reply STOP to opt out.";

/// A workspace's compliance rules, kept under `compliance` in its settings. Empty texts mean the
/// defaults, which name the brand.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The name texts identify the sender by; empty: the workspace's name.
    pub brand: String,
    /// The answer to HELP / INFO.
    pub help_text: String,
    /// The one message confirming an opt-out.
    pub opt_out_confirmation: String,
    /// The message confirming an opt-in (START, or CONFIRM after a double opt-in request).
    pub opt_in_confirmation: String,
    /// Extra words in other languages, added to the built-in lists.
    pub keywords: ExtraKeywords,
    /// What a customer replies to confirm a subscription made elsewhere.
    pub confirm_keyword: String,
    /// Subscriptions from forms, imports and the API stay pending until confirmed by text.
    pub double_opt_in: bool,
    /// What the customer subscribes to, for the confirmation request.
    pub program: String,
    /// How often messages come, for the confirmation request.
    pub frequency: String,
    /// Channels whose revocations apply on every channel (the law requires it for SMS).
    pub cross_channel_revocation: Vec<String>,
    /// When business-initiated texts may arrive, recipient's local time.
    pub quiet_hours: QuietHours,
    /// Days without a word after which consent for business-initiated messages is suspended
    /// (the number may have been reassigned); 0: never.
    pub inactivity_days: u32,
    /// Days after which message bodies and attachments are deleted; 0: kept.
    pub retention_days: u32,
    /// Every agent sees every contact; otherwise an agent sees the contacts with a conversation
    /// in an inbox they work (supervisors and admins see all).
    pub contacts_visible_to_all_agents: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ExtraKeywords {
    pub opt_out: Vec<String>,
    pub opt_in: Vec<String>,
    pub help: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    pub start: String,
    pub end: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            brand: String::new(),
            help_text: String::new(),
            opt_out_confirmation: String::new(),
            opt_in_confirmation: String::new(),
            keywords: ExtraKeywords::default(),
            confirm_keyword: "CONFIRM".into(),
            double_opt_in: true,
            program: "account notifications".into(),
            frequency: "Message frequency varies".into(),
            cross_channel_revocation: vec!["sms".into()],
            quiet_hours: QuietHours {
                start: "08:00".into(),
                end: "21:00".into(),
            },
            inactivity_days: 180,
            retention_days: 0,
            contacts_visible_to_all_agents: false,
        }
    }
}

/// Consent channels a setting may name.
pub const CHANNELS: [&str; 9] = [
    "sms",
    "whatsapp",
    "messenger",
    "instagram",
    "telegram",
    "line",
    "email",
    "widget",
    "api",
];

impl Settings {
    /// The workspace's settings; a document that no longer parses gives the defaults.
    pub fn of(ws: &WorkspaceRow) -> Self {
        serde_json::from_value(ws.settings["compliance"].clone()).unwrap_or_default()
    }

    /// Checks what an admin sent, field by field.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        self.check_texts()?;
        self.check_keywords()?;
        for c in &self.cross_channel_revocation {
            if !CHANNELS.contains(&c.as_str()) {
                return Err(invalid(
                    "cross_channel_revocation",
                    format!("{c:?} is not a channel; use {}", CHANNELS.join(", ")),
                ));
            }
        }
        let w = Window::parse(&self.quiet_hours.start, &self.quiet_hours.end)
            .map_err(|e| invalid("quiet_hours", e.reason))?;
        if w.start < Window::FEDERAL.start || w.end > Window::FEDERAL.end {
            return Err(invalid(
                "quiet_hours",
                "may narrow the federal 08:00–21:00 window, not widen it",
            ));
        }
        if self.retention_days > 36_500 {
            return Err(invalid(
                "retention_days",
                "must be at most 36500 (0 keeps messages)",
            ));
        }
        if self.inactivity_days > 3650 {
            return Err(invalid(
                "inactivity_days",
                "must be at most 3650 (0 turns the suspension off)",
            ));
        }
        Ok(())
    }

    /// The texts fit their limits, and the program says what and how often.
    fn check_texts(&self) -> Result<(), InvalidSetting> {
        let texts = [
            ("brand", &self.brand, 60),
            ("help_text", &self.help_text, 320),
            ("opt_out_confirmation", &self.opt_out_confirmation, 320),
            ("opt_in_confirmation", &self.opt_in_confirmation, 320),
            ("program", &self.program, 120),
            ("frequency", &self.frequency, 120),
        ];
        for (field, text, max) in texts {
            if text.chars().count() > max {
                return Err(invalid(field, format!("must be at most {max} characters")));
            }
        }
        if self.program.trim().is_empty() || self.frequency.trim().is_empty() {
            return Err(invalid(
                "program",
                "program and frequency must say what customers subscribe to and how often",
            ));
        }
        Ok(())
    }

    /// Extra keywords are words, at most 30 a list, and none means two things (the built-in
    /// STOP, START and HELP words included).
    fn check_keywords(&self) -> Result<(), InvalidSetting> {
        let mut seen: Vec<(String, &str)> = Vec::new();
        let lists = [
            ("keywords.opt_out", &self.keywords.opt_out),
            ("keywords.opt_in", &self.keywords.opt_in),
            ("keywords.help", &self.keywords.help),
            ("confirm_keyword", &vec![self.confirm_keyword.clone()]),
        ];
        for (field, words) in lists {
            if words.len() > 30 {
                return Err(invalid(field, "at most 30 words"));
            }
            for w in words {
                let n = keywords::normalize(w);
                if n.is_empty() || w.chars().count() > 40 {
                    return Err(invalid(
                        field,
                        format!("{w:?} must be a word or two of letters or digits"),
                    ));
                }
                let builtin = keywords::keyword(&n, &[], &[], &[]);
                let clash = seen.iter().find(|(s, _)| *s == n).map(|(_, f)| *f).or(
                    match (builtin, field) {
                        (Some(Keyword::OptOut), f) if f != "keywords.opt_out" => Some("STOP"),
                        (Some(Keyword::OptIn), f) if f != "keywords.opt_in" => Some("START"),
                        (Some(Keyword::Help), f) if f != "keywords.help" => Some("HELP"),
                        _ => None,
                    },
                );
                if let Some(other) = clash {
                    return Err(invalid(
                        field,
                        format!("{w:?} already means something else ({other})"),
                    ));
                }
                seen.push((n, field));
            }
        }
        Ok(())
    }

    pub fn policy(&self, ws: &WorkspaceRow) -> Policy {
        Policy {
            // Never wider than the federal window, whatever a stored document says.
            quiet_hours: Window::parse(&self.quiet_hours.start, &self.quiet_hours.end)
                .map_or(Window::FEDERAL, |w| w.intersect(Window::FEDERAL)),
            inactivity_ms: (self.inactivity_days > 0)
                .then(|| i64::from(self.inactivity_days) * DAY_MS),
            timezone: ws.timezone.clone(),
        }
    }

    fn brand<'a>(&'a self, ws: &'a WorkspaceRow) -> &'a str {
        if self.brand.trim().is_empty() {
            &ws.name
        } else {
            self.brand.trim()
        }
    }

    fn or_default(text: &str, default: String) -> String {
        if text.trim().is_empty() {
            default
        } else {
            text.trim().to_string()
        }
    }

    pub fn help_text(&self, ws: &WorkspaceRow) -> String {
        Self::or_default(&self.help_text, format!(
            "{}: for help, reply to this message and a person will answer. Msg & data rates may apply. Reply STOP to opt out.",
            self.brand(ws)
        ))
    }

    pub fn opt_out_text(&self, ws: &WorkspaceRow) -> String {
        Self::or_default(&self.opt_out_confirmation, format!(
            "{}: you are unsubscribed and will receive no more messages. Reply START to resubscribe.",
            self.brand(ws)
        ))
    }

    pub fn opt_in_text(&self, ws: &WorkspaceRow) -> String {
        Self::or_default(&self.opt_in_confirmation, format!(
            "{}: you are subscribed to {}. {}. Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
            self.brand(ws), self.program, self.frequency
        ))
    }

    /// The double opt-in request: what, how often, that fees may apply, how to stop.
    pub fn confirm_request_text(&self, ws: &WorkspaceRow) -> String {
        format!(
            "{}: reply {} to get {}. {}. Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
            self.brand(ws),
            self.confirm_keyword.trim().to_uppercase(),
            self.program,
            self.frequency
        )
    }

    /// Whether a revocation on `channel` applies on every channel.
    pub(crate) fn revokes_everywhere(&self, channel: &str) -> bool {
        self.cross_channel_revocation.iter().any(|c| c == channel)
    }
}
