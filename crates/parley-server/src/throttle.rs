//! Sign-in throttling: failed attempts are counted per account and per client address, and too
//! many lock further attempts out for a while, so passwords cannot be guessed at speed. Kept per
//! process (each node counts its own attempts).

use std::collections::HashMap;
use std::net::IpAddr;

/// Failures per account, and per address, within `WINDOW_MS` before a lockout.
pub const ACCOUNT_FAILURES: u32 = 5;
pub const ADDRESS_FAILURES: u32 = 20;
pub const WINDOW_MS: i64 = 15 * 60_000;
pub const LOCK_MS: i64 = 15 * 60_000;
/// Above this many tracked keys, stale ones are dropped.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    failures: u32,
    since: i64,
    locked_until: i64,
}

impl Tally {
    /// Counts a failure at `now`; true when this one locks the key.
    fn fail(&mut self, now: i64, limit: u32) -> bool {
        if now - self.since > WINDOW_MS {
            *self = Tally {
                since: now,
                ..Tally::default()
            };
        }
        self.failures += 1;
        if self.failures >= limit && self.locked_until <= now {
            self.locked_until = now + LOCK_MS;
            return true;
        }
        false
    }
}

#[derive(Default)]
pub struct SignInGuard {
    accounts: HashMap<String, Tally>,
    addresses: HashMap<IpAddr, Tally>,
}

/// Why a sign-in is refused before its password is checked.
#[derive(Debug, PartialEq, Eq)]
pub enum Locked {
    Account { retry_after_ms: i64 },
    Address { retry_after_ms: i64 },
}

impl SignInGuard {
    /// Whether an attempt may be made now.
    pub fn check(&self, email: &str, ip: Option<IpAddr>, now: i64) -> Result<(), Locked> {
        if let Some(t) = ip.and_then(|ip| self.addresses.get(&ip)) {
            if t.locked_until > now {
                return Err(Locked::Address {
                    retry_after_ms: t.locked_until - now,
                });
            }
        }
        if let Some(t) = self.accounts.get(email) {
            if t.locked_until > now {
                return Err(Locked::Account {
                    retry_after_ms: t.locked_until - now,
                });
            }
        }
        Ok(())
    }

    /// Starts an attempt: refused while locked, else counted as a failure at once, so that
    /// attempts made in parallel cannot all pass before any is counted. True when this attempt,
    /// should it fail, locks the account or the address; `succeeded` takes it back.
    pub fn begin(&mut self, email: &str, ip: Option<IpAddr>, now: i64) -> Result<bool, Locked> {
        self.check(email, ip, now)?;
        Ok(self.failed(email, ip, now))
    }

    /// Records a failed attempt; true when it locked the account or the address.
    pub fn failed(&mut self, email: &str, ip: Option<IpAddr>, now: i64) -> bool {
        if self.accounts.len() + self.addresses.len() > MAX_TRACKED {
            self.accounts
                .retain(|_, t| t.locked_until > now || now - t.since <= WINDOW_MS);
            self.addresses
                .retain(|_, t| t.locked_until > now || now - t.since <= WINDOW_MS);
        }
        let account = self
            .accounts
            .entry(email.to_string())
            .or_default()
            .fail(now, ACCOUNT_FAILURES);
        let address = ip.is_some_and(|ip| {
            self.addresses
                .entry(ip)
                .or_default()
                .fail(now, ADDRESS_FAILURES)
        });
        account || address
    }

    /// A successful sign-in (begun with `begin`) clears the account's count and takes its
    /// attempt back from the address's.
    pub fn succeeded(&mut self, email: &str, ip: Option<IpAddr>) {
        self.accounts.remove(email);
        if let Some(t) = ip.and_then(|ip| self.addresses.get_mut(&ip)) {
            t.failures = t.failures.saturating_sub(1);
            if t.failures < ADDRESS_FAILURES {
                t.locked_until = 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_account_for_a_while() {
        let mut g = SignInGuard::default();
        let ip: Option<IpAddr> = "203.0.113.7".parse().ok();
        for i in 0..4 {
            assert!(!g.failed("a@x.test", ip, i));
            assert_eq!(g.check("a@x.test", ip, i), Ok(()));
        }
        assert!(g.failed("a@x.test", ip, 5), "the fifth failure locks");
        assert_eq!(
            g.check("a@x.test", ip, 6),
            Err(Locked::Account {
                retry_after_ms: LOCK_MS - 1
            })
        );
        assert_eq!(g.check("b@x.test", ip, 6), Ok(()), "others may still try");
        assert_eq!(g.check("a@x.test", ip, 5 + LOCK_MS), Ok(()));
    }

    #[test]
    fn failures_spread_over_a_long_time_do_not_lock() {
        let mut g = SignInGuard::default();
        for i in 0..20 {
            assert!(!g.failed("a@x.test", None, i * (WINDOW_MS / 2)));
        }
    }

    #[test]
    fn one_address_trying_many_accounts_is_locked() {
        let mut g = SignInGuard::default();
        let ip: Option<IpAddr> = "203.0.113.8".parse().ok();
        for i in 0..19 {
            g.failed(&format!("u{i}@x.test"), ip, i64::from(i));
        }
        assert!(g.failed("u19@x.test", ip, 19));
        assert!(matches!(
            g.check("new@x.test", ip, 20),
            Err(Locked::Address { .. })
        ));
        assert_eq!(
            g.check("new@x.test", "198.51.100.1".parse().ok(), 20),
            Ok(())
        );
    }

    #[test]
    fn success_clears_the_account() {
        let mut g = SignInGuard::default();
        for i in 0..4 {
            g.failed("a@x.test", None, i);
        }
        g.succeeded("a@x.test", None);
        assert!(!g.failed("a@x.test", None, 5));
    }

    #[test]
    fn parallel_attempts_are_counted_before_they_are_checked() {
        let mut g = SignInGuard::default();
        let ip: Option<IpAddr> = "203.0.113.9".parse().ok();
        // Six attempts begun together: the sixth is refused although none has failed yet.
        for i in 0..5 {
            assert!(g.begin("a@x.test", ip, i).is_ok());
        }
        assert!(g.begin("a@x.test", ip, 5).is_err());
        // A success gives back its attempt: a busy office address is not locked by its users.
        let mut g = SignInGuard::default();
        for i in 0..40 {
            let who = format!("u{i}@x.test");
            assert!(g.begin(&who, ip, i).is_ok(), "attempt {i}");
            g.succeeded(&who, ip);
        }
    }
}
