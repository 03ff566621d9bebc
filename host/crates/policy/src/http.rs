//! The network policy: origin patterns (`scheme://host[:port]`, with wildcards) as plugins
//! declare them and operators grant them, the two-sided match, and the post-DNS address check.
//!
//! A request may go out only if its origin matches a pattern the plugin declares in
//! `plugin.toml` AND one the operator grants in `config.yml`. After DNS, every address is
//! classified; loopback, private, link-local, unique-local, CGNAT, unspecified, multicast,
//! reserved and cloud-metadata addresses are refused unless the operator's grant names the host
//! exactly (not through a wildcard) or names the address itself. Metadata endpoints need the
//! address itself: a host name that resolves there is never enough.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// `http` or `https`; nothing else is brokered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain `http://` (port 80 unless given); an `https://` grant does not cover it.
    Http,
    /// `https://` (port 443 unless given).
    Https,
}

impl Scheme {
    /// `http` or `https`, as written before `://`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
    /// The port an origin without one means: 80 or 443.
    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// `*`: any host (plugins declaring "a host the operator configures").
    Any,
    /// `*.example.com`, stored as `.example.com`: any subdomain, not the apex.
    Suffix(String),
    Name(String),
    Ip(IpAddr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    Any,
    Exact(u16),
}

/// One allowlist entry, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginPattern {
    scheme: Scheme,
    host: HostPattern,
    port: PortPattern,
    text: String,
}

/// Why a string is not an origin pattern. The message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not an origin: {reason}")]
pub struct OriginError {
    input: String,
    reason: String,
}

impl OriginPattern {
    /// Parses `scheme://host[:port]`: the host may be `*` or start with `*.`, the port may be
    /// `*`; one trailing `/` is allowed, no path, query or user information.
    pub fn parse(input: &str) -> Result<Self, OriginError> {
        let err = |reason: &str| OriginError {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = input.trim();
        let (scheme, rest) = trimmed.split_once("://").ok_or_else(|| {
            err("write scheme://host[:port], e.g. \"https://api.example.com\" or \"http://127.0.0.1:8080\"")
        })?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(err("the scheme must be http or https")),
        };
        // A single trailing slash is harmless (`https://x.example/`); anything after it would
        // suggest a path restriction that origins cannot express.
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(err(
                "an origin has no path, query or fragment; write only scheme://host[:port]",
            ));
        }
        if authority.contains('@') {
            return Err(err(
                "an origin has no user name or password; grant a credential instead",
            ));
        }
        let (host, port) = split_host_port(authority).map_err(|r| err(&r))?;
        let port = match port {
            None => PortPattern::Exact(scheme.default_port()),
            Some("*") => PortPattern::Any,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => PortPattern::Exact(n),
                _ => return Err(err("the port must be a number from 1 to 65535, or *")),
            },
        };
        let host = parse_host_pattern(host).map_err(|r| err(&r))?;
        Ok(OriginPattern {
            scheme,
            host,
            port,
            text: trimmed.to_owned(),
        })
    }

    /// The pattern as the operator or plugin wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether a request to `target` is covered: same scheme, a port this pattern allows, and
    /// the host itself or, for `*.example.com`, a subdomain of it (never the apex).
    pub fn matches(&self, target: &Target) -> bool {
        if self.scheme != target.scheme {
            return false;
        }
        if let PortPattern::Exact(p) = self.port
            && p != target.port
        {
            return false;
        }
        match (&self.host, &target.host) {
            (HostPattern::Any, _) => true,
            (HostPattern::Suffix(s), Host::Name(n)) => n.len() > s.len() && n.ends_with(s.as_str()),
            (HostPattern::Name(p), Host::Name(n)) => p == n,
            (HostPattern::Ip(p), Host::Ip(ip)) => p == ip,
            _ => false,
        }
    }

    /// True when this pattern names the target's host itself (no wildcard), so the operator
    /// vouched for whatever private address that exact name resolves to.
    fn names_host(&self, target: &Target) -> bool {
        match (&self.host, &target.host) {
            (HostPattern::Name(p), Host::Name(n)) => p == n,
            (HostPattern::Ip(p), Host::Ip(ip)) => p == ip,
            _ => false,
        }
    }

    /// True when this pattern names this very address.
    fn names_address(&self, ip: IpAddr) -> bool {
        matches!(&self.host, HostPattern::Ip(p) if *p == ip.to_canonical())
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if authority.is_empty() {
        return Err("the host is missing".into());
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs a closing bracket: [::1]")?;
        return match after {
            "" => Ok((host, None)),
            p if p.starts_with(':') => Ok((host, Some(&p[1..]))),
            _ => Err("unexpected text after the IPv6 address".into()),
        };
    }
    match authority.rsplit_once(':') {
        Some((h, _)) if h.contains(':') => Err("write an IPv6 address in brackets: [::1]".into()),
        Some((h, p)) => Ok((h, Some(p))),
        None => Ok((authority, None)),
    }
}

fn parse_host_pattern(host: &str) -> Result<HostPattern, String> {
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(HostPattern::Ip(ip.to_canonical()));
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if let Some(domain) = host.strip_prefix("*.") {
        check_dns_name(domain)?;
        if !domain.contains('.') && domain != "localhost" {
            return Err(format!(
                "*.{domain} would match a whole top-level domain; name at least a registrable domain (*.example.com)"
            ));
        }
        return Ok(HostPattern::Suffix(format!(".{domain}")));
    }
    if host.contains('*') {
        return Err(
            "a wildcard is either the whole host (*) or its leftmost label (*.example.com)".into(),
        );
    }
    check_dns_name(&host)?;
    Ok(HostPattern::Name(host))
}

fn check_dns_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 253 {
        return Err("the host must be 1 to 253 characters".into());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("{name:?} has an empty or over-long label"));
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(format!(
                "{name:?} is not a host name (letters, digits, `-`; no spaces or other signs)"
            ));
        }
    }
    // An all-numeric dotted name that did not parse as an IP is a malformed address, not a name.
    if name
        .split('.')
        .all(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(format!("{name:?} is not a valid IP address"));
    }
    Ok(())
}

/// Where a request goes, from its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// Lowercase, without a trailing dot.
    Name(String),
    /// Canonical: an IPv4-mapped IPv6 literal is its IPv4 address.
    Ip(IpAddr),
}

/// A request's destination as the policy checks it, taken from the URI the guest sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The host, normalised so that equal names compare equal.
    pub host: Host,
    /// Always set: the scheme's default port when the URI names none.
    pub port: u16,
}

impl Target {
    /// From a request URI; `None` when [`Target::checked`] refuses it.
    pub fn from_uri(uri: &http::Uri) -> Option<Target> {
        Target::checked(uri).ok()
    }

    /// From a request URI, or the `bad_url` denial that says why it cannot be brokered: not
    /// http(s), no host, a host that is not a DNS name or IP address, or user information
    /// (`user@host`). The last matters because wasi-http copies the guest's authority into the
    /// `Host` header verbatim: `evil.example@granted-host` would be checked as `granted-host`
    /// (and get its credentials) while the server reads a different name. Credentials go
    /// through `credentials:`, never in a URL.
    pub fn checked(uri: &http::Uri) -> Result<Target, Denial> {
        let bad = |what: String| Denial {
            rule: DenyRule::BadUrl,
            message: format!("request refused (rule: bad_url): {what}"),
        };
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            other => {
                return Err(bad(format!(
                    "scheme `{}` is not brokered; only http and https",
                    other.unwrap_or("(none)")
                )));
            }
        };
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        if authority.contains('@') {
            // The user information is not echoed: it may be a password.
            return Err(bad(format!(
                "the URL to {} carries user information (`user@host`), which the host never sends; a plugin's credentials come from the operator's `credentials:` grants",
                uri.host().unwrap_or("(no host)")
            )));
        }
        let raw = uri.host().unwrap_or_default();
        let bare = raw
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(raw);
        let host = match bare.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip.to_canonical()),
            Err(_) if raw.starts_with('[') => {
                return Err(bad(format!("{raw:?} is not an IPv6 address")));
            }
            Err(_) => {
                let name = bare.strip_suffix('.').unwrap_or(bare).to_ascii_lowercase();
                if name.is_empty() {
                    return Err(bad("the URL has no host".into()));
                }
                // Only a real name goes on: it becomes the `Host` header and the TLS name,
                // and a grant can only have been written for a real name.
                check_dns_name(&name).map_err(|reason| bad(format!("bad host: {reason}")))?;
                Host::Name(name)
            }
        };
        let port = match uri.port() {
            None => scheme.default_port(),
            Some(p) => match p.as_u16() {
                0 => return Err(bad("port 0 is not a destination".into())),
                n => n,
            },
        };
        Ok(Target { scheme, host, port })
    }

    /// `host[:port]` (the port only when it is not the scheme's default): the `Host` header of
    /// every brokered request, built from what the policy checked, never from the guest's text.
    pub fn authority(&self) -> String {
        match &self.host {
            Host::Name(n) if self.port == self.scheme.default_port() => n.clone(),
            Host::Name(n) => format!("{n}:{}", self.port),
            Host::Ip(IpAddr::V6(v6)) if self.port == self.scheme.default_port() => {
                format!("[{v6}]")
            }
            Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]:{}", self.port),
            Host::Ip(ip) if self.port == self.scheme.default_port() => ip.to_string(),
            Host::Ip(ip) => format!("{ip}:{}", self.port),
        }
    }

    /// `host:port` with the port always written: the target of a proxy's `CONNECT`.
    pub fn authority_with_port(&self) -> String {
        match &self.host {
            Host::Name(n) => format!("{n}:{}", self.port),
            Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]:{}", self.port),
            Host::Ip(ip) => format!("{ip}:{}", self.port),
        }
    }

    /// `scheme://host[:port]`, the port left out when it is the scheme's default: exactly the
    /// text to put in a grant.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority())
    }

    /// The grant text naming `ip` instead of the host name.
    pub(crate) fn origin_with_ip(&self, ip: IpAddr) -> String {
        Target {
            scheme: self.scheme,
            host: Host::Ip(ip.to_canonical()),
            port: self.port,
        }
        .origin()
    }
}

/// An address class the broker refuses unless the operator names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressClass {
    Loopback,
    Private,
    LinkLocal,
    UniqueLocal,
    SharedCgnat,
    Unspecified,
    Multicast,
    Broadcast,
    Reserved,
    Documentation,
    CloudMetadata,
}

impl AddressClass {
    /// The class in a denial message, e.g. "a private (RFC 1918) address".
    pub(crate) fn describe(self) -> &'static str {
        match self {
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private (RFC 1918) address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::UniqueLocal => "a unique-local (fc00::/7) address",
            AddressClass::SharedCgnat => "a carrier-grade NAT (100.64.0.0/10) address",
            AddressClass::Unspecified => "the unspecified address",
            AddressClass::Multicast => "a multicast address",
            AddressClass::Broadcast => "the broadcast address",
            AddressClass::Reserved => "a reserved address",
            AddressClass::Documentation => "a documentation address",
            AddressClass::CloudMetadata => "a cloud metadata endpoint",
        }
    }
}

/// `None` for an ordinary public address. IPv6 forms that embed an IPv4 address (mapped,
/// compatible, NAT64, 6to4) are judged by the IPv4 address inside, so `[::ffff:127.0.0.1]`
/// is loopback.
pub(crate) fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    let o = ip.octets();
    Some(match o {
        [169, 254, 169, 254] | [169, 254, 170, 2] | [100, 100, 100, 200] => {
            AddressClass::CloudMetadata
        }
        [0, ..] => AddressClass::Unspecified,
        [127, ..] => AddressClass::Loopback,
        [10, ..] => AddressClass::Private,
        [172, b, ..] if (16..=31).contains(&b) => AddressClass::Private,
        [192, 168, ..] => AddressClass::Private,
        [169, 254, ..] => AddressClass::LinkLocal,
        [100, b, ..] if (64..=127).contains(&b) => AddressClass::SharedCgnat,
        [192, 0, 0, _] => AddressClass::Reserved,
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => AddressClass::Documentation,
        [198, b, ..] if b == 18 || b == 19 => AddressClass::Reserved,
        [255, 255, 255, 255] => AddressClass::Broadcast,
        [a, ..] if (224..=239).contains(&a) => AddressClass::Multicast,
        [a, ..] if a >= 240 => AddressClass::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if ip.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96, 64:ff9b:1::/48).
    if s[..6] == [0, 0, 0, 0, 0, 0]
        || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        || s[..2] == [0x64, 0xff9b]
    {
        return classify_v4(embedded(s[6], s[7])).or(if s[0] == 0 {
            Some(AddressClass::Reserved)
        } else {
            None
        });
    }
    // 6to4 (2002::/16) carries the IPv4 address in segments 1 and 2.
    if s[0] == 0x2002 {
        return classify_v4(embedded(s[1], s[2]));
    }
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Some(AddressClass::CloudMetadata);
    }
    Some(match s[0] {
        x if x & 0xfe00 == 0xfc00 => AddressClass::UniqueLocal,
        x if x & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        // Site-local (deprecated) is private in practice.
        x if x & 0xffc0 == 0xfec0 => AddressClass::Private,
        x if x & 0xff00 == 0xff00 => AddressClass::Multicast,
        0x2001 if s[1] == 0x0db8 => AddressClass::Documentation,
        0x0100 if s[1..4] == [0, 0, 0] => AddressClass::Reserved,
        _ => return None,
    })
}

/// The rule a refused request broke, for counters and log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyRule {
    /// The plugin's manifest does not declare the origin.
    NotDeclared,
    /// `config.yml` does not grant the origin.
    NotGranted,
    /// The host resolved to an address the broker refuses.
    BlockedAddress,
    /// Not http(s), no host or a malformed one, or user information in the authority.
    BadUrl,
    /// The plugin set a query parameter a credential injects.
    CredentialParam,
    /// The instance has no network at all (plugin inspection).
    NoNetwork,
}

impl DenyRule {
    /// Every rule, in `index` order: the broker's per-rule counters.
    pub const ALL: [DenyRule; 6] = [
        DenyRule::NotDeclared,
        DenyRule::NotGranted,
        DenyRule::BlockedAddress,
        DenyRule::BadUrl,
        DenyRule::CredentialParam,
        DenyRule::NoNetwork,
    ];
    /// The rule's name (`not_granted`...) in denial messages, log fields and the broker's
    /// per-rule counts.
    pub fn as_str(self) -> &'static str {
        match self {
            DenyRule::NotDeclared => "not_declared",
            DenyRule::NotGranted => "not_granted",
            DenyRule::BlockedAddress => "blocked_address",
            DenyRule::BadUrl => "bad_url",
            DenyRule::CredentialParam => "credential_param",
            DenyRule::NoNetwork => "no_network",
        }
    }
    /// The rule's position in [`DenyRule::ALL`], for an array of counters.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A refused request: the rule, and for the operator what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The rule broken, for the counters and the log line.
    pub rule: DenyRule,
    /// A whole sentence for the plugin's log: the origin, the rule and the config.yml change
    /// that would allow it.
    pub message: String,
}

/// One connector's allowlist: what its plugin declares and what the operator grants.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The plugin's `[permissions] http` from its plugin.toml.
    pub declared: Vec<OriginPattern>,
    /// The connector's `grants.http` from config.yml.
    pub granted: Vec<OriginPattern>,
    /// Where grants go in config.yml, e.g. `connectors[2].grants.http`.
    pub grant_key: String,
    /// The plugin's service type, for messages.
    pub plugin: String,
}

impl Policy {
    /// The origin check, before DNS. Returns the operator's grants that match.
    pub fn check(&self, target: &Target) -> Result<Vec<&OriginPattern>, Denial> {
        let origin = target.origin();
        if !self.declared.iter().any(|p| p.matches(target)) {
            return Err(Denial {
                rule: DenyRule::NotDeclared,
                message: format!(
                    "request to {origin} refused (rule: not_declared): plugin `{}` does not declare it in `[permissions] http` of its plugin.toml (declares: {}); the operator cannot grant what the plugin does not ask for",
                    self.plugin,
                    list(&self.declared)
                ),
            });
        }
        let matched: Vec<&OriginPattern> =
            self.granted.iter().filter(|p| p.matches(target)).collect();
        if matched.is_empty() {
            return Err(Denial {
                rule: DenyRule::NotGranted,
                message: format!(
                    "request to {origin} refused (rule: not_granted): add \"{origin}\" to {} to allow it (granted: {})",
                    self.grant_key,
                    list(&self.granted)
                ),
            });
        }
        Ok(matched)
    }

    /// The address check, after DNS: keeps the addresses the request may connect to.
    pub fn check_addresses(
        &self,
        target: &Target,
        matched: &[&OriginPattern],
        addresses: &[IpAddr],
    ) -> Result<Vec<IpAddr>, Denial> {
        let mut allowed = Vec::with_capacity(addresses.len());
        let mut refused = None;
        for &ip in addresses {
            let ip = ip.to_canonical();
            let ok = match classify(ip) {
                None => true,
                // A metadata endpoint only by its address: a name resolving there is the
                // classic SSRF path to cloud credentials.
                Some(AddressClass::CloudMetadata) => matched.iter().any(|p| p.names_address(ip)),
                Some(_) => matched
                    .iter()
                    .any(|p| p.names_address(ip) || p.names_host(target)),
            };
            if ok {
                allowed.push(ip);
            } else if refused.is_none() {
                refused = Some(ip);
            }
        }
        match (allowed.is_empty(), refused) {
            (true, Some(ip)) => {
                let class = classify(ip).map_or("a refused address", AddressClass::describe);
                let host_hint = match (&target.host, classify(ip)) {
                    (Host::Name(_), Some(c)) if c != AddressClass::CloudMetadata => {
                        format!(" (or the exact host \"{}\")", target.origin())
                    }
                    _ => String::new(),
                };
                Err(Denial {
                    rule: DenyRule::BlockedAddress,
                    message: format!(
                        "request to {} refused (rule: blocked_address): it resolves to {ip}, {class}, which needs an explicit grant; if that is intended, add \"{}\"{host_hint} to {}",
                        target.origin(),
                        target.origin_with_ip(ip),
                        self.grant_key
                    ),
                })
            }
            _ => Ok(allowed),
        }
    }
}

fn list(patterns: &[OriginPattern]) -> String {
    if patterns.is_empty() {
        "nothing".into()
    } else {
        patterns
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::from_uri(&url.parse().expect("uri")).expect("target")
    }
    fn pat(s: &str) -> OriginPattern {
        OriginPattern::parse(s).expect("pattern")
    }

    #[test]
    fn origins_parse_with_clear_errors() {
        for bad in [
            "api.example.com",
            "ftp://x.example",
            "https://x.example/v1",
            "https://x.example?a=1",
            "https://user:pw@x.example",
            "https://x.example:0",
            "https://x.example:99999",
            "https://a.*.example",
            "https://*example.com",
            "https://*.com",
            "https://::1",
            "https://[::1",
            "https://",
            "https://bad host",
            "https://300.1.1.1",
        ] {
            let e = OriginPattern::parse(bad).expect_err(bad);
            assert!(e.to_string().contains(bad), "{e}");
        }
        for good in [
            "https://api.example.com",
            "https://api.example.com/",
            "HTTPS://API.Example.COM:443",
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "https://*.example.com",
            "https://*",
            "http://*:*",
            "http://localhost:*",
        ] {
            OriginPattern::parse(good).expect(good);
        }
    }

    #[test]
    fn matching_scheme_host_port_and_wildcards() {
        let p = pat("https://api.example.com");
        assert!(p.matches(&target("https://api.example.com/x")));
        assert!(p.matches(&target("https://API.example.com:443/")));
        assert!(p.matches(&target("https://api.example.com./")));
        assert!(!p.matches(&target("http://api.example.com/")));
        assert!(!p.matches(&target("https://api.example.com:8443/")));
        assert!(!p.matches(&target("https://api.example.com.evil.net/")));
        assert!(!p.matches(&target("https://evilapi.example.com/")));

        let w = pat("https://*.example.com");
        assert!(w.matches(&target("https://a.example.com/")));
        assert!(w.matches(&target("https://a.b.example.com/")));
        assert!(!w.matches(&target("https://example.com/")));
        assert!(!w.matches(&target("https://badexample.com/")));
        assert!(!w.matches(&target("https://a.example.com:444/")));

        assert!(pat("http://localhost:*").matches(&target("http://localhost:9/")));
        assert!(pat("http://*:*").matches(&target("http://10.0.0.1:9/")));
        assert!(pat("http://[::1]:80").matches(&target("http://[::1]/")));
        assert!(pat("http://127.0.0.1:80").matches(&target("http://[::ffff:127.0.0.1]/")));
        assert!(!pat("http://127.0.0.1:80").matches(&target("http://localhost/")));
        assert_eq!(
            target("https://x.example:443/a").origin(),
            "https://x.example"
        );
        assert_eq!(target("http://[::1]:81/").origin(), "http://[::1]:81");
    }

    #[test]
    fn address_classes_including_embedded_ipv4() {
        let c = |s: &str| classify(s.parse().expect("ip"));
        assert_eq!(c("127.0.0.1"), Some(AddressClass::Loopback));
        assert_eq!(c("10.1.2.3"), Some(AddressClass::Private));
        assert_eq!(c("172.16.0.1"), Some(AddressClass::Private));
        assert_eq!(c("172.32.0.1"), None);
        assert_eq!(c("192.168.1.1"), Some(AddressClass::Private));
        assert_eq!(c("169.254.1.1"), Some(AddressClass::LinkLocal));
        assert_eq!(c("169.254.169.254"), Some(AddressClass::CloudMetadata));
        assert_eq!(c("100.64.0.1"), Some(AddressClass::SharedCgnat));
        assert_eq!(c("0.0.0.0"), Some(AddressClass::Unspecified));
        assert_eq!(c("224.0.0.1"), Some(AddressClass::Multicast));
        assert_eq!(c("255.255.255.255"), Some(AddressClass::Broadcast));
        assert_eq!(c("8.8.8.8"), None);
        assert_eq!(c("::1"), Some(AddressClass::Loopback));
        assert_eq!(c("::"), Some(AddressClass::Unspecified));
        assert_eq!(c("fe80::1"), Some(AddressClass::LinkLocal));
        assert_eq!(c("fd12::1"), Some(AddressClass::UniqueLocal));
        assert_eq!(c("ff02::1"), Some(AddressClass::Multicast));
        assert_eq!(c("fd00:ec2::254"), Some(AddressClass::CloudMetadata));
        assert_eq!(c("::ffff:127.0.0.1"), Some(AddressClass::Loopback));
        assert_eq!(
            c("::ffff:169.254.169.254"),
            Some(AddressClass::CloudMetadata)
        );
        assert_eq!(c("::ffff:10.0.0.1"), Some(AddressClass::Private));
        assert_eq!(c("::ffff:8.8.8.8"), None);
        assert_eq!(c("64:ff9b::7f00:1"), Some(AddressClass::Loopback));
        assert_eq!(c("2002:c0a8:0101::1"), Some(AddressClass::Private));
        assert_eq!(c("2606:4700::1111"), None);
    }

    fn policy(declared: &[&str], granted: &[&str]) -> Policy {
        Policy {
            declared: declared.iter().map(|s| pat(s)).collect(),
            granted: granted.iter().map(|s| pat(s)).collect(),
            grant_key: "connectors[2].grants.http".into(),
            plugin: "p".into(),
        }
    }

    #[test]
    fn two_sided_check_names_the_grant_to_add() {
        let p = policy(&["https://*:*"], &["https://a.example"]);
        assert!(p.check(&target("https://a.example/x")).is_ok());
        let d = p.check(&target("https://b.example:8443/x")).unwrap_err();
        assert_eq!(d.rule, DenyRule::NotGranted);
        assert!(
            d.message
                .contains("add \"https://b.example:8443\" to connectors[2].grants.http"),
            "{}",
            d.message
        );
        let p = policy(&["https://a.example"], &["https://*"]);
        let d = p.check(&target("https://b.example/")).unwrap_err();
        assert_eq!(d.rule, DenyRule::NotDeclared);
    }

    #[test]
    fn private_addresses_need_an_explicit_grant() {
        let ips =
            |s: &[&str]| -> Vec<IpAddr> { s.iter().map(|x| x.parse().expect("ip")).collect() };
        // A wildcard grant does not vouch for a loopback answer (DNS rebinding).
        let p = policy(&["http://*:*"], &["http://*:8080"]);
        let t = target("http://localhost:8080/");
        let m = p.check(&t).expect("granted");
        let d = p
            .check_addresses(&t, &m, &ips(&["127.0.0.1", "::1"]))
            .unwrap_err();
        assert_eq!(d.rule, DenyRule::BlockedAddress);
        assert!(
            d.message.contains("\"http://127.0.0.1:8080\""),
            "{}",
            d.message
        );
        // Public answers pass; a mixed answer keeps only the public address.
        assert_eq!(
            p.check_addresses(&t, &m, &ips(&["10.0.0.1", "93.184.216.34"]))
                .expect("public"),
            ips(&["93.184.216.34"])
        );
        // The exact host name vouches for its private addresses...
        let p = policy(&["http://*:*"], &["http://localhost:8080"]);
        let m = p.check(&t).expect("granted");
        assert!(p.check_addresses(&t, &m, &ips(&["127.0.0.1"])).is_ok());
        // ...but not for a metadata endpoint.
        assert!(
            p.check_addresses(&t, &m, &ips(&["169.254.169.254"]))
                .is_err()
        );
        // The address itself does, even in its IPv4-mapped IPv6 form.
        let p = policy(
            &["http://*:*"],
            &["http://127.0.0.1:8080", "http://169.254.169.254:8080"],
        );
        let t = target("http://[::ffff:127.0.0.1]:8080/");
        let m = p.check(&t).expect("granted");
        assert!(
            p.check_addresses(&t, &m, &ips(&["::ffff:127.0.0.1"]))
                .is_ok()
        );
        let t = target("http://169.254.169.254:8080/");
        let m = p.check(&t).expect("granted");
        assert!(
            p.check_addresses(&t, &m, &ips(&["169.254.169.254"]))
                .is_ok()
        );
    }
}
