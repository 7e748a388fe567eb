//! Where Parley may connect on someone's behalf: addresses on loopback, private, link-local and
//! other internal networks are refused unless the operator's `outbound_allow` lists them. The HTTP
//! client here resolves each host once, connects only to addresses that passed, follows no
//! redirects and reads answers up to a cap; SMTP and IMAP connect through `resolve` the same way.
//! Also how listeners count clients by address (`address_group`, `AddressSlot`).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// A network the operator allows, as `10.1.0.0/16` or `::1/128` (a bare address is one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("{s:?} is not a network such as 10.1.0.0/16 or fd00::/8");
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?
            }
            Some(_) => return Err(bad()),
            None => max,
        };
        Ok(Self { net, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// Parses `outbound_allow` given as one comma-separated string (`PARLEY_OUTBOUND_ALLOW`).
pub fn parse_allow(list: &str) -> Result<Vec<Cidr>, String> {
    list.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// Why an address is not a place Parley connects to by default; `None` for public addresses.
/// IPv4 inside IPv6 (mapped, NAT64, 6to4) is judged as the IPv4 address it reaches.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "an unspecified address",
        (0, _, _) => "the \"this network\" range",
        (127, _, _) => "a loopback address",
        (10, _, _) | (192, 168, _) => "a private network",
        (172, 16..=31, _) => "a private network",
        (169, 254, _) => "a link-local address",
        (100, 64..=127, _) => "shared address space (carrier-grade NAT)",
        (192, 0, 0) => "reserved for protocol assignments",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking network",
        _ if ip.is_broadcast() => "the broadcast address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    Some(match s {
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        // NAT64 reaches the IPv4 address in its last 32 bits, 6to4 the one after its prefix.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return classify_v4(embedded(hi, lo)),
        [0x2002, hi, lo, ..] => return classify_v4(embedded(hi, lo)),
        [0, 0, 0, 0, 0, 0, _, _] => "an IPv4-compatible address (deprecated)",
        [0x100, 0, 0, 0, ..] => "a discard-only address",
        [0x2001, 0xdb8, ..] => "a documentation address",
        [x, ..] if x & 0xfe00 == 0xfc00 => "a unique-local address",
        [x, ..] if x & 0xffc0 == 0xfe80 => "a link-local address",
        [x, ..] if x & 0xffc0 == 0xfec0 => "a site-local address",
        [x, ..] if x & 0xff00 == 0xff00 => "a multicast address",
        _ => return None,
    })
}

/// Why a request was not made. Its text is what an admin or agent is shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The address belongs to a network Parley does not reach unless allowed.
    #[error("address {addr} is {rule} (not in outbound_allow)")]
    Address { addr: IpAddr, rule: &'static str },
    /// The host named no address at all.
    #[error("{0} has no address")]
    NoAddress(String),
    /// The URL is not one Parley fetches (scheme, host, or a provider's own hosts).
    #[error("{0}")]
    Url(String),
}

/// The operator's exceptions to the rule; cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    allow: Arc<Vec<Cidr>>,
}

impl Policy {
    pub fn new(allow: Vec<Cidr>) -> Self {
        Self {
            allow: Arc::new(allow),
        }
    }

    /// Whether Parley may connect to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        let canonical = ip.to_canonical();
        match classify(ip) {
            Some(rule)
                if !self
                    .allow
                    .iter()
                    .any(|c| c.contains(ip) || c.contains(canonical)) =>
            {
                Err(Refused::Address { addr: ip, rule })
            }
            _ => Ok(()),
        }
    }

    /// Whether a URL may be requested before any lookup: http(s), a host, and an address literal
    /// that passes. Host names are judged when they resolve.
    pub fn check_url(&self, url: &reqwest::Url) -> Result<(), Refused> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Refused::Url(format!(
                "only http and https URLs are requested, not {}:",
                url.scheme()
            )));
        }
        let Some(host) = url.host_str() else {
            return Err(Refused::Url("the URL has no host".into()));
        };
        // The URL parser writes every IPv4 spelling (0x7f.1, 2130706433) as dotted decimal.
        match host.trim_start_matches('[').trim_end_matches(']').parse() {
            Ok(ip) => self.check(ip),
            Err(_) => Ok(()),
        }
    }
}

/// Resolves `host` once and keeps the addresses the policy permits, in the resolver's order:
/// whoever connects uses these, so the address checked is the address reached. Refused when none
/// is permitted, naming the rule of the first.
pub async fn resolve(policy: &Policy, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refused> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| Refused::NoAddress(host.to_string()))?
        .collect();
    let mut first_refusal = None;
    let mut ok = Vec::new();
    for a in found {
        match policy.check(a.ip()) {
            Ok(()) => ok.push(a),
            Err(r) => {
                first_refusal.get_or_insert(r);
            }
        }
    }
    match (ok.is_empty(), first_refusal) {
        (false, _) => Ok(ok),
        (true, Some(r)) => Err(r),
        (true, None) => Err(Refused::NoAddress(host.to_string())),
    }
}

/// Checks that a URL a provider named (a media link) stays with that provider: when the inbox's
/// base URL was set to something other than the provider's `default_base`, only that base's
/// origin is the provider; otherwise https on a host `own` accepts. Credentials go only to what
/// passes.
pub fn provider_url(
    url: &str,
    base: &str,
    default_base: &str,
    own: impl Fn(&reqwest::Url) -> bool,
    provider: &str,
) -> Result<reqwest::Url, Refused> {
    let outside = |u: &str| {
        let host = reqwest::Url::parse(u)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "an unreadable URL".into());
        Refused::Url(format!("{host} is not one of {provider}'s hosts"))
    };
    let parsed = reqwest::Url::parse(url).map_err(|_| outside(url))?;
    let origin = |u: &str| reqwest::Url::parse(u).ok().map(|u| u.origin());
    let base_origin = origin(base.trim());
    let explicit = base_origin.is_some() && base_origin != origin(default_base);
    let ok = if explicit {
        Some(parsed.origin()) == base_origin
    } else {
        parsed.scheme() == "https" && parsed.port().is_none() && own(&parsed)
    };
    if ok {
        Ok(parsed)
    } else {
        Err(outside(url))
    }
}

/// Whether `host` is `domain` or a name under it.
pub fn host_under(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// The reqwest resolver that applies the policy to every host name the client looks up.
struct Resolver(Policy);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve(&policy, &host, 0).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The refusal somewhere in an error's chain of causes.
pub fn refusal<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<Refused>() {
            return Some(r);
        }
        cur = e.source();
    }
    None
}

/// A request that failed or was never made.
#[derive(Debug)]
pub enum Error {
    Refused(Refused),
    Http(reqwest::Error),
}

impl Error {
    /// The policy's refusal, whether before the request or at a lookup.
    pub fn refused(&self) -> Option<&Refused> {
        match self {
            Error::Refused(r) => Some(r),
            Error::Http(e) => refusal(e),
        }
    }

    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Http(e) if e.is_timeout())
    }

    /// The request could not be made as asked (a refused or malformed URL): retrying cannot help.
    /// A host name that did not resolve may resolve later.
    pub fn is_permanent(&self) -> bool {
        match self.refused() {
            Some(Refused::NoAddress(_)) => false,
            Some(_) => true,
            None => matches!(self, Error::Http(e) if e.is_builder()),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.refused()) {
            (_, Some(r @ Refused::NoAddress(_))) => write!(f, "{r}"),
            (_, Some(r)) => write!(f, "refused: {r}"),
            (Error::Http(e), None) => write!(f, "{e}"),
            (Error::Refused(r), None) => write!(f, "refused: {r}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Refused(r) => Some(r),
            Error::Http(e) => Some(e),
        }
    }
}

/// Parley's HTTP client for every request made on someone's behalf: URLs are checked before a
/// request is built, host names where they resolve; no redirect is followed.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    policy: Policy,
}

impl Client {
    /// `timeout` bounds a whole request, answer included.
    pub fn new(policy: Policy, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve and connect where this policy cannot see.
            .no_proxy()
            .dns_resolver(Arc::new(Resolver(policy.clone())))
            .user_agent(concat!("Parley/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { http, policy })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The underlying client, for a caller (the S3 store) that checks its fixed endpoint itself:
    /// host names still pass the policy at lookup, address literals do not.
    pub fn unchecked(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn request(&self, method: reqwest::Method, url: impl AsRef<str>) -> RequestBuilder {
        let url = url.as_ref();
        let parsed = reqwest::Url::parse(url)
            .map_err(|_| Refused::Url("the URL is not a valid absolute URL".into()))
            .and_then(|u| self.policy.check_url(&u).map(|()| u));
        RequestBuilder(parsed.map(|u| self.http.request(method, u)))
    }

    pub fn get(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(reqwest::Method::GET, url)
    }

    pub fn post(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(reqwest::Method::POST, url)
    }
}

/// A request being built; a refused URL carries its refusal to `send`.
pub struct RequestBuilder(Result<reqwest::RequestBuilder, Refused>);

impl RequestBuilder {
    fn map(self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        Self(self.0.map(f))
    }

    pub fn header(self, name: &str, value: impl AsRef<str>) -> Self {
        let value = value.as_ref().to_string();
        let name = name.to_string();
        self.map(|r| r.header(name, value))
    }

    pub fn bearer_auth(self, token: impl fmt::Display) -> Self {
        self.map(|r| r.bearer_auth(token))
    }

    pub fn basic_auth(self, user: impl fmt::Display, password: Option<impl fmt::Display>) -> Self {
        self.map(|r| r.basic_auth(user, password))
    }

    pub fn json(self, body: &serde_json::Value) -> Self {
        self.map(|r| r.json(body))
    }

    pub fn query(self, pairs: &[(&str, &str)]) -> Self {
        self.map(|r| r.query(pairs))
    }

    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        self.map(|r| r.body(body))
    }

    pub async fn send(self) -> Result<reqwest::Response, Error> {
        self.0
            .map_err(Error::Refused)?
            .send()
            .await
            // Never the URL: Telegram's carries the bot token, and this text is stored and shown.
            .map_err(|e| Error::Http(e.without_url()))
    }
}

/// How much of a provider's JSON answer is read.
pub const JSON_MAX_BYTES: usize = 2 * 1024 * 1024;

/// Reads an answer's body up to `max` bytes. `Err(true)` when it is longer (what was read is
/// dropped), `Err(false)` when the body broke off.
pub async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, bool> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(true);
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|_| false)? {
        if bytes.len() + chunk.len() > max {
            return Err(true);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// An answer's text, at most `max` bytes of it (a longer body is cut there).
pub async fn text_capped(mut resp: reqwest::Response, max: usize) -> String {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = max - bytes.len();
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() >= max {
            break;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// An answer as JSON, `Null` when it is not JSON or longer than `JSON_MAX_BYTES`.
pub async fn json_capped(resp: reqwest::Response) -> serde_json::Value {
    read_capped(resp, JSON_MAX_BYTES)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// A client allowing loopback only, for tests against local fake providers.
#[cfg(test)]
pub(crate) fn loopback_client() -> Client {
    let allow = parse_allow("127.0.0.0/8,::1/128").unwrap_or_default();
    Client::new(Policy::new(allow), Duration::from_secs(5)).expect("client")
}

/// The key a client address is counted under: an IPv4 address as itself (also when written as
/// IPv4-mapped IPv6), an IPv6 address by its /64 (one subscriber's network, which holds more
/// addresses than any cap).
pub fn address_group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// Open connections per address group, shared by one listener's connections.
pub type AddressCounts = Arc<std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>>;

/// One connection counted against its address group until dropped.
pub struct AddressSlot {
    counts: AddressCounts,
    key: IpAddr,
}

impl AddressSlot {
    /// A place for a connection from `ip`, or `None` when its group already holds `max`.
    pub fn take(counts: &AddressCounts, ip: IpAddr, max: usize) -> Option<Self> {
        let key = address_group(ip);
        let mut c = counts.lock().ok()?;
        let n = c.entry(key).or_insert(0);
        if *n >= max.max(1) {
            return None;
        }
        *n += 1;
        Some(Self {
            counts: Arc::clone(counts),
            key,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Ok(mut c) = self.counts.lock() {
            if let Some(n) = c.get_mut(&self.key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    c.remove(&self.key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_rules() {
        for (a, rule) in [
            ("10.0.0.5", "a private network"),
            ("172.16.0.1", "a private network"),
            ("172.31.255.255", "a private network"),
            ("192.168.1.1", "a private network"),
            ("127.0.0.1", "a loopback address"),
            ("127.255.0.9", "a loopback address"),
            ("169.254.169.254", "a link-local address"),
            ("0.0.0.0", "an unspecified address"),
            ("100.64.0.1", "shared address space (carrier-grade NAT)"),
            ("224.0.0.1", "a multicast address"),
            ("255.255.255.255", "the broadcast address"),
        ] {
            assert_eq!(classify(ip(a)), Some(rule), "{a}");
        }
        for public in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "1.1.1.1",
            "192.169.0.1",
        ] {
            assert_eq!(classify(ip(public)), None, "{public}");
        }
        let refused = Policy::default().check(ip("10.0.0.5")).unwrap_err();
        assert!(refused
            .to_string()
            .starts_with("address 10.0.0.5 is a private network"));
    }

    #[test]
    fn ipv6_rules_and_ipv4_inside() {
        for (a, rule) in [
            ("::1", "a loopback address"),
            ("::", "an unspecified address"),
            ("fe80::1", "a link-local address"),
            ("fd12:3456::1", "a unique-local address"),
            ("fc00::1", "a unique-local address"),
            ("ff02::1", "a multicast address"),
            ("::ffff:127.0.0.1", "a loopback address"),
            ("::ffff:10.0.0.5", "a private network"),
            ("::ffff:169.254.169.254", "a link-local address"),
            ("64:ff9b::a9fe:a9fe", "a link-local address"),
            ("2002:7f00:1::", "a loopback address"),
        ] {
            assert_eq!(classify(ip(a)), Some(rule), "{a}");
        }
        for public in ["2606:4700:4700::1111", "::ffff:8.8.8.8", "2a00:1450::1"] {
            assert_eq!(classify(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn the_allow_list_parses_and_permits() {
        let allow = parse_allow("127.0.0.0/8, ::1/128,10.1.0.0/16 ,192.0.2.7").unwrap();
        assert_eq!(allow.len(), 4);
        assert_eq!(allow[3].to_string(), "192.0.2.7/32");
        let p = Policy::new(allow);
        for ok in [
            "127.0.0.1",
            "::1",
            "10.1.200.3",
            "::ffff:127.0.0.1",
            "8.8.8.8",
            "192.0.2.7",
        ] {
            assert!(p.check(ip(ok)).is_ok(), "{ok}");
        }
        for refused in ["10.2.0.1", "::2", "169.254.169.254", "fd00::1"] {
            assert!(p.check(ip(refused)).is_err(), "{refused}");
        }
        assert!(parse_allow("").unwrap().is_empty());
        for bad in [
            "10.0.0.0/33",
            "10.0.0/8",
            "x",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/-1",
        ] {
            let e = parse_allow(bad).unwrap_err();
            assert!(e.contains("is not a network"), "{bad}: {e}");
        }
        let all = Policy::new(parse_allow("0.0.0.0/0").unwrap());
        assert!(all.check(ip("10.0.0.5")).is_ok());
        assert!(all.check(ip("fd00::1")).is_err());
    }

    #[test]
    fn urls_are_checked_before_any_lookup() {
        let p = Policy::default();
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(p.check_url(&url("http://10.0.0.5/cb")).is_err());
        assert!(p.check_url(&url("http://[::ffff:127.0.0.1]/cb")).is_err());
        assert!(p.check_url(&url("http://2130706433/")).is_err());
        assert!(p.check_url(&url("http://0x7f.1/")).is_err());
        assert!(p.check_url(&url("file:///etc/passwd")).is_err());
        assert!(p.check_url(&url("https://example.com/")).is_ok());
    }

    #[test]
    fn provider_urls_stay_with_the_provider() {
        let own = |u: &reqwest::Url| u.host_str().is_some_and(|h| host_under(h, "twilio.com"));
        let check = |url: &str, base: &str| {
            provider_url(url, base, "https://api.twilio.com", own, "Twilio").is_ok()
        };
        let default = "https://api.twilio.com";
        assert!(check("https://api.twilio.com/2010-04-01/x", default));
        assert!(!check("http://api.twilio.com/x", default));
        assert!(!check("https://api.twilio.com:8443/x", default));
        assert!(!check("https://eviltwilio.com/x", default));
        assert!(!check("https://twilio.com.evil.test/x", default));
        assert!(!check("https://127.0.0.1/x", default));
        let explicit = "http://127.0.0.1:4000";
        assert!(check("http://127.0.0.1:4000/media/1", explicit));
        assert!(!check("http://127.0.0.1:4001/media/1", explicit));
        assert!(!check("https://api.twilio.com/x", explicit));
        let err = provider_url("http://x.test/", default, default, own, "Twilio").unwrap_err();
        assert_eq!(err.to_string(), "x.test is not one of Twilio's hosts");
    }

    #[tokio::test]
    async fn the_client_connects_to_a_permitted_name_and_refuses_the_rest() {
        let (base, seen) = crate::common::fake::serve(|_| (200, "{}".into())).await;
        let port = base.rsplit(':').next().unwrap().to_string();
        let allowed = loopback_client();
        let r = allowed
            .get(format!("http://localhost:{port}/x"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let strict = Client::new(Policy::default(), Duration::from_secs(5)).unwrap();
        for url in [
            format!("http://localhost:{port}/y"),
            format!("http://127.0.0.1:{port}/y"),
            format!("http://[::ffff:127.0.0.1]:{port}/y"),
        ] {
            let err = strict.get(&url).send().await.unwrap_err();
            assert!(err.is_permanent(), "{url}: {err}");
            assert!(
                err.to_string().starts_with("refused: address ")
                    && err.to_string().contains("is a loopback address"),
                "{url}: {err}"
            );
        }
        let err = strict.get("ftp://example.com/").send().await.unwrap_err();
        assert!(err.is_permanent(), "{err}");
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn names_resolving_to_refused_addresses_are_refused() {
        let strict = Policy::default();
        let err = resolve(&strict, "localhost", 80).await.unwrap_err();
        assert!(
            matches!(
                err,
                Refused::Address {
                    rule: "a loopback address",
                    ..
                }
            ),
            "{err}"
        );
        let loopback = Policy::new(parse_allow("127.0.0.0/8,::1/128").unwrap());
        assert!(!resolve(&loopback, "localhost", 80)
            .await
            .unwrap()
            .is_empty());
        assert!(resolve(&strict, "127.0.0.1", 80).await.is_err());
    }
}
