//! Limits on the website widget's visitors: sockets open at once, and messages and small frames
//! per visitor and per client address (an IPv6 /64), so one client cannot starve the rest.
//! Kept per process, like sign-in throttling.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::account::throttle::address_group;
use crate::config::WidgetLimits;

/// Above this many tracked buckets, full (idle) ones are dropped.
const MAX_BUCKETS: usize = 100_000;

/// What a visitor's frame costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A message or a details update: stored.
    Message,
    /// Typing, a read report or anything else small.
    Small,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Visitor(String),
    Address(IpAddr),
}

/// A token bucket: `capacity` at most, refilled at `capacity` per `period_ms`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refill(&mut self, now: Instant, capacity: f64, period_ms: f64) {
        let ms = now.duration_since(self.at).as_secs_f64() * 1000.0;
        self.tokens = (self.tokens + ms * capacity / period_ms).min(capacity);
        self.at = now;
    }
}

#[derive(Default)]
struct Inner {
    sockets: HashMap<Key, usize>,
    buckets: HashMap<(Key, Frame), Bucket>,
}

pub struct WidgetLimiter {
    cfg: WidgetLimits,
    inner: Mutex<Inner>,
}

/// Why a socket or a frame was refused, in words for the visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub &'static str);

/// One open widget socket, counted until dropped.
pub struct Slot {
    limiter: Arc<WidgetLimiter>,
    visitor: Key,
    address: Option<Key>,
}

impl WidgetLimiter {
    pub fn new(cfg: WidgetLimits) -> Self {
        Self {
            cfg,
            inner: Mutex::default(),
        }
    }

    /// Counts a new socket of `visitor` from `ip`, or refuses it when either holds its most.
    pub fn open(self: &Arc<Self>, visitor: &str, ip: Option<IpAddr>) -> Result<Slot, Refused> {
        let visitor = Key::Visitor(visitor.to_string());
        let address = ip.map(|ip| Key::Address(address_group(ip)));
        let mut g = self
            .inner
            .lock()
            .map_err(|_| Refused("the chat is unavailable; try again later"))?;
        if g.sockets.get(&visitor).copied().unwrap_or(0) >= self.cfg.sockets_per_visitor {
            return Err(Refused(
                "this chat is open in too many windows; close one and try again",
            ));
        }
        if let Some(a) = &address {
            if g.sockets.get(a).copied().unwrap_or(0) >= self.cfg.sockets_per_address {
                return Err(Refused(
                    "too many chats are open from your network; try again later",
                ));
            }
            *g.sockets.entry(a.clone()).or_insert(0) += 1;
        }
        *g.sockets.entry(visitor.clone()).or_insert(0) += 1;
        Ok(Slot {
            limiter: self.clone(),
            visitor,
            address,
        })
    }

    /// Takes one frame of `kind` from the socket's visitor's and address's allowances; refused
    /// (and nothing taken) when either is spent.
    pub fn allow(&self, slot: &Slot, kind: Frame) -> Result<(), Refused> {
        let (visitor_cap, address_cap, period_ms, why) = match kind {
            Frame::Message => (
                self.cfg.messages_per_minute,
                self.cfg.address_messages_per_minute,
                60_000.0,
                "you are sending messages too fast; wait a minute, then reload the chat",
            ),
            Frame::Small => (
                self.cfg.typing_per_second,
                self.cfg.address_typing_per_second,
                1_000.0,
                "you are sending too fast; reload the chat in a moment",
            ),
        };
        let now = Instant::now();
        let mut g = self
            .inner
            .lock()
            .map_err(|_| Refused("the chat is unavailable; try again later"))?;
        if g.buckets.len() > MAX_BUCKETS {
            let (m, s) = (self.cfg.messages_per_minute, self.cfg.typing_per_second);
            g.buckets.retain(|(_, kind), b| {
                let (cap, period) = match kind {
                    Frame::Message => (f64::from(m), 60_000.0),
                    Frame::Small => (f64::from(s), 1_000.0),
                };
                b.refill(now, cap, period);
                b.tokens < cap
            });
        }
        let mut keys = vec![(slot.visitor.clone(), f64::from(visitor_cap))];
        if let Some(a) = &slot.address {
            keys.push((a.clone(), f64::from(address_cap)));
        }
        let mut ok = true;
        for (key, cap) in &keys {
            let b = g.buckets.entry((key.clone(), kind)).or_insert(Bucket {
                tokens: *cap,
                at: now,
            });
            b.refill(now, *cap, period_ms);
            ok &= b.tokens >= 1.0;
        }
        if !ok {
            return Err(Refused(why));
        }
        for (key, _) in keys {
            if let Some(b) = g.buckets.get_mut(&(key, kind)) {
                b.tokens -= 1.0;
            }
        }
        Ok(())
    }

    fn close(&self, slot: &Slot) {
        if let Ok(mut g) = self.inner.lock() {
            for key in std::iter::once(&slot.visitor).chain(slot.address.as_ref()) {
                if let Some(n) = g.sockets.get_mut(key) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        g.sockets.remove(key);
                    }
                }
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.limiter.close(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> WidgetLimits {
        WidgetLimits {
            sockets_per_visitor: 2,
            sockets_per_address: 3,
            messages_per_minute: 2,
            address_messages_per_minute: 3,
            typing_per_second: 2,
            address_typing_per_second: 10,
        }
    }

    #[test]
    fn sockets_are_counted_per_visitor_and_address_until_dropped() {
        let l = Arc::new(WidgetLimiter::new(limits()));
        let ip: Option<IpAddr> = "2001:db8::1".parse().ok();
        let same_64: Option<IpAddr> = "2001:db8::2".parse().ok();
        let a = l.open("v1", ip).unwrap();
        let b = l.open("v1", same_64).unwrap();
        assert!(
            l.open("v1", "192.0.2.1".parse().ok()).is_err(),
            "per visitor"
        );
        let c = l.open("v2", ip).unwrap();
        assert!(l.open("v3", same_64).is_err(), "per address");
        drop(a);
        let _d = l.open("v3", ip).unwrap();
        drop((b, c));
        assert!(l.inner.lock().unwrap().sockets.len() == 2);
    }

    #[test]
    fn frames_are_limited_per_visitor_and_address() {
        let l = Arc::new(WidgetLimiter::new(limits()));
        let ip: Option<IpAddr> = "192.0.2.7".parse().ok();
        let one = l.open("v1", ip).unwrap();
        let two = l.open("v2", ip).unwrap();
        assert!(l.allow(&one, Frame::Message).is_ok());
        assert!(l.allow(&one, Frame::Message).is_ok());
        assert!(l.allow(&one, Frame::Message).is_err(), "the visitor's two");
        assert!(l.allow(&two, Frame::Message).is_ok());
        assert!(
            l.allow(&two, Frame::Message).is_err(),
            "the address's three"
        );
        // Small frames have their own allowance.
        assert!(l.allow(&one, Frame::Small).is_ok());
    }
}
