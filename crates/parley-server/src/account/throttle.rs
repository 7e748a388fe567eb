//! Sign-in throttling: failed attempts are counted per account and per client address, and too
//! many lock further attempts out for a while, so passwords cannot be guessed at speed. Kept per
//! process (each node counts its own attempts). An IPv6 client is counted by its /64, the block
//! one subscriber usually holds. An address that has signed in to an account before is not
//! locked out of it by failures from elsewhere: it has its own, equally small, allowance.

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

/// Addresses remembered per account as having signed in to it.
const KNOWN_PER_ACCOUNT: usize = 8;

#[derive(Default)]
pub struct SignInGuard {
    accounts: HashMap<String, Tally>,
    addresses: HashMap<IpAddr, Tally>,
    /// Addresses (grouped) that have signed in to each account, newest last.
    known: HashMap<String, Vec<IpAddr>>,
    /// Failures of an account from one of its known addresses.
    known_tallies: HashMap<(String, IpAddr), Tally>,
}

pub use parley_channels::net::address_group;

/// Why a sign-in is refused before its password is checked.
#[derive(Debug, PartialEq, Eq)]
pub enum Locked {
    Account { retry_after_ms: i64 },
    Address { retry_after_ms: i64 },
}

impl SignInGuard {
    /// Whether an attempt may be made now.
    pub fn check(&self, email: &str, ip: Option<IpAddr>, now: i64) -> Result<(), Locked> {
        let ip = ip.map(address_group);
        if let Some(t) = ip.and_then(|ip| self.addresses.get(&ip)) {
            if t.locked_until > now {
                return Err(Locked::Address {
                    retry_after_ms: t.locked_until - now,
                });
            }
        }
        // From an address the account has signed in from, only that address's own failures
        // count: failures from elsewhere cannot lock the real user out.
        let tally = match ip.filter(|ip| self.is_known(email, *ip)) {
            Some(ip) => self.known_tallies.get(&(email.to_string(), ip)),
            None => self.accounts.get(email),
        };
        if let Some(t) = tally {
            if t.locked_until > now {
                return Err(Locked::Account {
                    retry_after_ms: t.locked_until - now,
                });
            }
        }
        Ok(())
    }

    fn is_known(&self, email: &str, ip: IpAddr) -> bool {
        self.known.get(email).is_some_and(|k| k.contains(&ip))
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
        let ip = ip.map(address_group);
        if self.accounts.len() + self.addresses.len() + self.known_tallies.len() > MAX_TRACKED {
            let live = |t: &Tally| t.locked_until > now || now - t.since <= WINDOW_MS;
            self.accounts.retain(|_, t| live(t));
            self.addresses.retain(|_, t| live(t));
            self.known_tallies.retain(|_, t| live(t));
        }
        if self.known.len() > MAX_TRACKED {
            self.known.clear();
        }
        let own = ip.filter(|ip| self.is_known(email, *ip)).is_some_and(|ip| {
            self.known_tallies
                .entry((email.to_string(), ip))
                .or_default()
                .fail(now, ACCOUNT_FAILURES)
        });
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
        account || address || own
    }

    /// A successful sign-in (begun with `begin`) clears the account's count and takes its
    /// attempt back from the address's.
    pub fn succeeded(&mut self, email: &str, ip: Option<IpAddr>) {
        let ip = ip.map(address_group);
        let Some(ip) = ip else {
            self.accounts.remove(email);
            return;
        };
        // Signed in from a known address while the account is locked by failures elsewhere:
        // that count stays, so the guessing elsewhere is still held back.
        if self.is_known(email, ip) {
            self.known_tallies.remove(&(email.to_string(), ip));
            if self
                .accounts
                .get(email)
                .is_some_and(|t| t.failures < ACCOUNT_FAILURES)
            {
                self.accounts.remove(email);
            }
        } else {
            self.accounts.remove(email);
        }
        let known = self.known.entry(email.to_string()).or_default();
        known.retain(|k| *k != ip);
        known.push(ip);
        if known.len() > KNOWN_PER_ACCOUNT {
            known.remove(0);
        }
        if let Some(t) = self.addresses.get_mut(&ip) {
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

    #[test]
    fn ipv6_addresses_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(
            address_group(a),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(address_group(a), address_group(b));
        assert_ne!(address_group(a), address_group(other));
        let mapped: IpAddr = "::ffff:203.0.113.4".parse().unwrap();
        assert_eq!(
            address_group(mapped),
            "203.0.113.4".parse::<IpAddr>().unwrap()
        );
        // Twenty failures spread over one /64 lock all of it, and nothing else.
        let mut g = SignInGuard::default();
        for i in 0..20u16 {
            let ip = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, 0, 0, 1));
            g.failed(&format!("u{i}@x.test"), Some(ip), i64::from(i));
        }
        assert!(matches!(
            g.check("new@x.test", Some(b), 30),
            Err(Locked::Address { .. })
        ));
        assert_eq!(g.check("new@x.test", Some(other), 30), Ok(()));
    }

    #[test]
    fn failures_from_elsewhere_do_not_lock_out_an_address_that_signed_in_before() {
        let mut g = SignInGuard::default();
        let home: Option<IpAddr> = "203.0.113.10".parse().ok();
        let new: Option<IpAddr> = "203.0.113.11".parse().ok();
        assert!(g.begin("a@x.test", home, 0).is_ok());
        g.succeeded("a@x.test", home);
        // Guesses from many addresses lock the account...
        for i in 0..10u8 {
            let ip = Some(IpAddr::from([198, 51, 100, i]));
            let _ = g.begin("a@x.test", ip, 1 + i64::from(i));
        }
        assert!(matches!(
            g.check("a@x.test", new, 20),
            Err(Locked::Account { .. })
        ));
        // ...but not for the address the owner signed in from, which has its own five tries.
        assert_eq!(g.check("a@x.test", home, 20), Ok(()));
        for i in 0..5 {
            assert!(g.begin("a@x.test", home, 21 + i).is_ok(), "try {i}");
        }
        assert!(matches!(
            g.begin("a@x.test", home, 30),
            Err(Locked::Account { .. })
        ));
        // A success there leaves the account locked for everyone else.
        let mut g2 = SignInGuard::default();
        g2.succeeded("a@x.test", home);
        for i in 0..5u8 {
            let _ = g2.begin("a@x.test", Some(IpAddr::from([198, 51, 100, i])), 1);
        }
        assert!(g2.begin("a@x.test", home, 2).is_ok());
        g2.succeeded("a@x.test", home);
        assert!(g2.check("a@x.test", new, 3).is_err());
    }
}
