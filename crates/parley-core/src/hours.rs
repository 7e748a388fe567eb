//! Business hours: a weekly schedule in an IANA time zone, several intervals a day, intervals that
//! run past midnight, and special days (a holiday closed, or other hours). Answers "open now?",
//! "when does it next open?" and "how much business time lies between two instants", in
//! wall-clock time, so a DST change moves the instants and never the hours. Pure.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::time::Timestamp;
use crate::Invalid;

const DAY_MINUTES: u16 = 24 * 60;
/// How far `next_open` looks ahead before it says "never".
const LOOKAHEAD_DAYS: i64 = 400;
/// The longest span `business_ms` measures.
const MAX_SPAN_DAYS: i64 = 3_700;

/// An interval of one day in minutes from its midnight. `end <= start` runs past midnight into
/// the next day (`22:00–02:00`); `00:00–00:00` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: u16,
    pub end: u16,
}

/// A schedule as configured: `{"time_zone": "Europe/Paris", "weekly": {"mon": [["09:00",
/// "17:00"]], …}, "special_days": {"2026-12-25": [], "2026-12-24": [["09:00", "13:00"]]}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    pub time_zone: String,
    #[serde(default)]
    pub weekly: BTreeMap<String, Vec<[String; 2]>>,
    #[serde(default)]
    pub special_days: BTreeMap<String, Vec<[String; 2]>>,
}

/// A checked schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    zone: TimeZone,
    week: [Vec<Interval>; 7],
    special: BTreeMap<Date, Vec<Interval>>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Schedule {
    /// Checks a configured schedule: a known zone, day names `mon`…`sun`, dates `YYYY-MM-DD`,
    /// times `HH:MM` (24 h), at most 8 intervals a day.
    pub fn parse(spec: &ScheduleSpec) -> Result<Schedule, Invalid> {
        let zone = TimeZone::get(&spec.time_zone).map_err(|_| {
            Invalid::new(
                "time_zone",
                format!("{:?} is not an IANA time zone", spec.time_zone),
            )
        })?;
        let mut week: [Vec<Interval>; 7] = Default::default();
        for (day, list) in &spec.weekly {
            let i = DAYS.iter().position(|d| d == day).ok_or_else(|| {
                Invalid::new(
                    "weekly",
                    format!("{day:?} is not a day: use mon, tue, … sun"),
                )
            })?;
            week[i] = intervals("weekly", list)?;
        }
        let mut special = BTreeMap::new();
        for (day, list) in &spec.special_days {
            let date: Date = day.parse().map_err(|_| {
                Invalid::new(
                    "special_days",
                    format!("{day:?} is not a date (YYYY-MM-DD)"),
                )
            })?;
            special.insert(date, intervals("special_days", list)?);
        }
        Ok(Schedule {
            zone,
            week,
            special,
        })
    }

    /// Whether `at` falls in business hours.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let Some(day) = self.date_of(at) else {
            return false;
        };
        [day.yesterday().ok(), Some(day)]
            .into_iter()
            .flatten()
            .flat_map(|d| self.spans(d))
            .any(|(s, e)| s <= at.0 && at.0 < e)
    }

    /// `at` itself when open, else the next instant business hours begin; `None` when they
    /// never do within a year.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        if self.is_open(at) {
            return Some(at);
        }
        let mut day = self.date_of(at)?;
        for _ in 0..LOOKAHEAD_DAYS {
            let first = self
                .spans(day)
                .into_iter()
                .map(|(s, _)| s)
                .filter(|s| *s > at.0)
                .min();
            if let Some(s) = first {
                return Some(Timestamp(s));
            }
            day = day.tomorrow().ok()?;
        }
        None
    }

    /// The business time between `from` and `to`, in milliseconds (0 when `to` is not later).
    pub fn business_ms(&self, from: Timestamp, to: Timestamp) -> i64 {
        if to.0 <= from.0 {
            return 0;
        }
        let (Some(first), Some(last)) = (self.date_of(from), self.date_of(to)) else {
            return 0;
        };
        let mut spans = Vec::new();
        let mut day = first.yesterday().unwrap_or(first);
        for _ in 0..MAX_SPAN_DAYS {
            spans.extend(self.spans(day));
            if day >= last {
                break;
            }
            let Ok(next) = day.tomorrow() else { break };
            day = next;
        }
        merged(spans)
            .into_iter()
            .map(|(s, e)| (e.min(to.0) - s.max(from.0)).max(0))
            .sum()
    }

    /// The intervals of a local date (its special day's, else its weekday's).
    fn intervals_of(&self, day: Date) -> &[Interval] {
        match self.special.get(&day) {
            Some(list) => list,
            None => &self.week[day.weekday().to_monday_zero_offset() as usize],
        }
    }

    /// The date's intervals as instants. A wall-clock time a DST change skips is read as the
    /// instant after the gap; a repeated one as its first occurrence.
    fn spans(&self, day: Date) -> Vec<(i64, i64)> {
        self.intervals_of(day)
            .iter()
            .filter_map(|iv| {
                let start = self.instant(day, iv.start)?;
                let end = if iv.end > iv.start {
                    self.instant(day, iv.end)?
                } else {
                    self.instant(day.tomorrow().ok()?, iv.end)?
                };
                Some((start, end))
            })
            .collect()
    }

    fn instant(&self, day: Date, minutes: u16) -> Option<i64> {
        let (day, minutes) = if minutes >= DAY_MINUTES {
            (day.tomorrow().ok()?, minutes - DAY_MINUTES)
        } else {
            (day, minutes)
        };
        let local = day.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
        let zoned = local.to_zoned(self.zone.clone()).ok()?;
        Some(zoned.timestamp().as_millisecond())
    }

    fn date_of(&self, at: Timestamp) -> Option<Date> {
        let ts = jiff::Timestamp::from_millisecond(at.0).ok()?;
        Some(ts.to_zoned(self.zone.clone()).date())
    }
}

/// Overlapping or touching spans become one, so time in two intervals counts once.
fn merged(mut spans: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn intervals(field: &'static str, list: &[[String; 2]]) -> Result<Vec<Interval>, Invalid> {
    if list.len() > 8 {
        return Err(Invalid::new(field, "at most 8 intervals a day"));
    }
    list.iter()
        .map(|[s, e]| {
            let start = minutes(field, s)?;
            let mut end = minutes(field, e)?;
            if end == 0 {
                // "…–00:00" closes at midnight; "00:00–00:00" is the whole day.
                end = DAY_MINUTES;
            }
            if start == end {
                return Err(Invalid::new(field, format!("{s}–{e} is empty")));
            }
            Ok(Interval { start, end })
        })
        .collect()
}

fn minutes(field: &'static str, s: &str) -> Result<u16, Invalid> {
    let bad = || Invalid::new(field, format!("{s:?} is not a time (HH:MM, 24 h)"));
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests;
