//! Property tests of the origin/URL policy, with an oracle written independently of
//! [`OriginPattern::matches`]: a request goes out only if its (scheme, host, port) matches a
//! pattern the plugin declares and one the operator grants; user information in the authority
//! is always refused; the `Host` the server reads is the authority that was checked; and no
//! input makes the policy panic.

use std::net::IpAddr;

use proptest::prelude::*;

use crate::send::for_wire;
use inlet_policy::http::*;

/// A host as the request writes it, and what it must be understood as.
#[derive(Debug, Clone)]
struct HostCase {
    text: String,
    identity: Host,
}

const NAMES: &[&str] = &[
    "api.example.com",
    "a.b.example.com",
    "example.com",
    "evilexample.com",
    "api.example.com.evil.net",
    "localhost",
    "granted-host",
    "x_y.example.com",
];
const IPS: &[&str] = &[
    "127.0.0.1",
    "10.0.0.1",
    "93.184.216.34",
    "169.254.169.254",
    "::1",
    "::ffff:127.0.0.1",
    "2606:4700::1111",
];

fn host_case() -> impl Strategy<Value = HostCase> {
    prop_oneof![
        (prop::sample::select(NAMES), any::<u64>(), any::<bool>()).prop_map(|(n, case, dot)| {
            let mut text: String = n
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if case >> (i % 64) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            if dot {
                text.push('.');
            }
            HostCase {
                text,
                identity: Host::Name(n.to_owned()),
            }
        }),
        prop::sample::select(IPS).prop_map(|ip| {
            let addr: IpAddr = ip.parse().expect("ip");
            HostCase {
                text: if addr.is_ipv6() {
                    format!("[{ip}]")
                } else {
                    ip.to_owned()
                },
                identity: Host::Ip(addr.to_canonical()),
            }
        }),
    ]
}

/// A pattern, structured for the oracle and rendered for [`OriginPattern::parse`].
#[derive(Debug, Clone, Copy)]
enum HostSpec {
    Any,
    Suffix(&'static str),
    Name(&'static str),
    Ip(&'static str),
}

#[derive(Debug, Clone, Copy)]
struct Spec {
    https: bool,
    host: HostSpec,
    /// `None`: any port.
    port: Option<u16>,
}

impl Spec {
    fn text(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let host = match self.host {
            HostSpec::Any => "*".to_owned(),
            HostSpec::Suffix(s) => format!("*.{s}"),
            HostSpec::Name(n) => n.to_owned(),
            HostSpec::Ip(ip) if ip.contains(':') => format!("[{ip}]"),
            HostSpec::Ip(ip) => ip.to_owned(),
        };
        match self.port {
            None => format!("{scheme}://{host}:*"),
            Some(p) => format!("{scheme}://{host}:{p}"),
        }
    }

    /// The oracle: plain comparisons on the request's intended identity.
    fn admits(&self, https: bool, host: &Host, port: u16) -> bool {
        let host_ok = match (self.host, host) {
            (HostSpec::Any, _) => true,
            (HostSpec::Suffix(s), Host::Name(n)) => n.ends_with(&format!(".{s}")),
            (HostSpec::Name(p), Host::Name(n)) => p == n,
            (HostSpec::Ip(p), Host::Ip(ip)) => {
                p.parse::<IpAddr>().expect("ip").to_canonical() == *ip
            }
            _ => false,
        };
        self.https == https && host_ok && self.port.is_none_or(|p| p == port)
    }
}

fn spec() -> impl Strategy<Value = Spec> {
    let host = prop_oneof![
        Just(HostSpec::Any),
        prop::sample::select(vec!["example.com", "b.example.com", "evil.net"])
            .prop_map(HostSpec::Suffix),
        prop::sample::select(NAMES.to_vec()).prop_map(HostSpec::Name),
        prop::sample::select(vec!["127.0.0.1", "::1", "169.254.169.254", "93.184.216.34"])
            .prop_map(HostSpec::Ip),
    ];
    let port = prop_oneof![
        Just(None),
        Just(Some(80)),
        Just(Some(443)),
        Just(Some(8080))
    ];
    (any::<bool>(), host, port).prop_map(|(https, host, port)| Spec { https, host, port })
}

fn policy_of(declared: &[Spec], granted: &[Spec]) -> Policy {
    let parse = |s: &Spec| OriginPattern::parse(&s.text()).expect("a valid pattern");
    Policy {
        declared: declared.iter().map(parse).collect(),
        granted: granted.iter().map(parse).collect(),
        grant_key: "connectors[0].grants.http".into(),
        plugin: "p".into(),
    }
}

/// The request as wasmtime-wasi-http builds it from the guest's fields: the URI from scheme,
/// authority and path, and `Host` set to the authority verbatim.
fn wasi_request(uri: &http::Uri) -> http::Request<()> {
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    http::Request::builder()
        .uri(uri.clone())
        .header(http::header::HOST, authority)
        .body(())
        .expect("request")
}

/// What the wire carries for an allowed request: `Host` equals the checked target's
/// authority, has no user information, and names the same host and port again.
fn assert_host_is_the_checked_authority(uri: &http::Uri, target: &Target) {
    let mut req = wasi_request(uri);
    for_wire(&mut req, target, None).expect("ready for the wire");
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .expect("a Host header")
        .to_owned();
    assert_eq!(req.headers().get_all(http::header::HOST).iter().count(), 1);
    assert_eq!(host, target.authority());
    assert!(!host.contains('@'), "{host}");
    let again: http::Uri = format!("{}://{host}/", target.scheme.as_str())
        .parse()
        .expect("Host re-parses");
    assert_eq!(Target::checked(&again).as_ref(), Ok(target));
    assert!(req.uri().authority().is_none(), "origin form on the wire");
}

proptest! {
    #[test]
    fn allowed_exactly_when_declared_and_granted(
        https in any::<bool>(),
        upper_scheme in any::<bool>(),
        userinfo in proptest::option::weighted(0.3, "[a-z0-9.]{0,10}(:[a-z0-9]{0,6})?"),
        host in host_case(),
        port in prop_oneof![Just(None), Just(Some(80u16)), Just(Some(443)), Just(Some(8080)), Just(Some(0)), any::<u16>().prop_map(Some)],
        path in "(/[a-z0-9]{0,5}){0,3}(\\?[a-z=&]{0,10})?",
        declared in prop::collection::vec(spec(), 0..4),
        granted in prop::collection::vec(spec(), 0..4),
    ) {
        let scheme = match (https, upper_scheme) {
            (true, false) => "https",
            (true, true) => "HTTPS",
            (false, false) => "http",
            (false, true) => "Http",
        };
        let user = userinfo.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
        let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
        let url = format!("{scheme}://{user}{}{port_text}{path}", host.text);
        let uri: http::Uri = url.parse().expect("a well-formed URI");
        let policy = policy_of(&declared, &granted);

        let effective_port = port.unwrap_or(if https { 443 } else { 80 });
        let expected = userinfo.is_none()
            && effective_port != 0
            && declared.iter().any(|s| s.admits(https, &host.identity, effective_port))
            && granted.iter().any(|s| s.admits(https, &host.identity, effective_port));

        let outcome = Target::checked(&uri).and_then(|t| policy.check(&t).map(|_| t));
        prop_assert_eq!(outcome.is_ok(), expected, "{} declared {:?} granted {:?}: {:?}",
            url, declared, granted, outcome);
        if userinfo.is_some() {
            let denial = outcome.as_ref().expect_err("userinfo is refused");
            prop_assert_eq!(denial.rule, DenyRule::BadUrl);
            prop_assert!(denial.message.contains("user information"), "{}", denial.message);
        }
        if let Ok(target) = outcome {
            prop_assert_eq!(&target.host, &host.identity);
            prop_assert_eq!(target.port, effective_port);
            assert_host_is_the_checked_authority(&uri, &target);
        }
    }

    #[test]
    fn arbitrary_authorities_never_panic_and_never_reach_the_wire_changed(
        scheme in prop::sample::select(vec!["http", "https", "HTTP", "ftp", "h"]),
        authority in prop_oneof![
            "[ -~]{0,40}",
            "\\PC{0,24}",
            "([a-zA-Z0-9._@:%\\[\\]-]{0,12}){1,4}",
        ],
        path in "(/[ -~&&[^ #?]]{0,8}){0,2}",
    ) {
        let policy = policy_of(
            &[Spec { https: false, host: HostSpec::Any, port: None },
              Spec { https: true, host: HostSpec::Any, port: None }],
            &[Spec { https: false, host: HostSpec::Any, port: None },
              Spec { https: true, host: HostSpec::Any, port: None }],
        );
        let url = format!("{scheme}://{authority}{path}");
        if let Ok(uri) = url.parse::<http::Uri>() {
            match Target::checked(&uri) {
                Err(d) => prop_assert_eq!(d.rule, DenyRule::BadUrl),
                Ok(target) => {
                    prop_assert!(!uri.authority().is_some_and(|a| a.as_str().contains('@')));
                    if policy.check(&target).is_ok() {
                        assert_host_is_the_checked_authority(&uri, &target);
                    }
                }
            }
        }
    }

    #[test]
    fn pattern_parsing_never_panics_and_round_trips(text in "\\PC{0,40}") {
        if let Ok(p) = OriginPattern::parse(&text) {
            prop_assert_eq!(OriginPattern::parse(p.as_str()), Ok(p.clone()));
        }
    }
}

#[test]
fn userinfo_is_refused_without_echoing_it() {
    for url in [
        "http://evil.example@granted-host/",
        "https://user:s3cret@api.example.com/x",
        "http://@granted-host:8080/",
    ] {
        let d = Target::checked(&url.parse().expect("uri")).expect_err(url);
        assert_eq!(d.rule, DenyRule::BadUrl, "{url}");
        assert!(d.message.contains("user information"), "{}", d.message);
        assert!(
            !d.message.contains("evil.example") && !d.message.contains("s3cret"),
            "{}",
            d.message
        );
    }
}
