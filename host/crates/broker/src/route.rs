//! How brokered HTTP leaves the host in an enterprise network: straight to the source, or
//! through the operator's HTTP proxy (`inlet.network.proxy`, else `HTTPS_PROXY`/`HTTP_PROXY`,
//! minus `no_proxy`/`NO_PROXY`), and which certificate authorities its TLS trusts (the
//! platform's, plus `inlet.network.ca_file` and a connector's `grants.http_ca_file`).
//!
//! The proxy is the operator's explicit exception to the address policy: the plugin's grant
//! and the address checks still apply to the target (see `network::ConnectorNetwork::handle`),
//! while the proxy's own address is never checked. Proxy credentials are the host's: the
//! `Proxy-Authorization` header goes to the proxy only, never to the plugin or the source.

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use http::HeaderValue;
use ipnet::IpNet;
use rustls::pki_types::CertificateDer;
use secrecy::{ExposeSecret as _, SecretString};

use inlet_policy::http::{Host, Scheme, Target};

/// A setting that cannot be used, with the key to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub(crate) struct RouteError {
    pub key: String,
    pub message: String,
}

fn invalid(key: &str, message: impl Into<String>) -> RouteError {
    RouteError {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// An HTTP proxy (plain HTTP to the proxy; `CONNECT` tunnels for HTTPS targets).
pub(crate) struct Proxy {
    hop: Target,
    /// `Proxy-Authorization: Basic …`, sent to the proxy only.
    authorization: Option<HeaderValue>,
    /// The URL without credentials, for messages.
    shown: String,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("url", &self.shown)
            .field("authenticated", &self.authorization.is_some())
            .finish()
    }
}

impl Proxy {
    /// Parses `http://[user:password@]host[:port]` (a bare `host:port` means `http://`).
    /// `credentials` (from config.yml) win over userinfo in the URL (from the environment).
    pub(crate) fn parse(
        url: &str,
        key: &str,
        credentials: Option<(&str, &SecretString)>,
    ) -> Result<Proxy, RouteError> {
        let url = url.trim();
        let with_scheme = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        let (scheme, rest) = with_scheme
            .split_once("://")
            .ok_or_else(|| invalid(key, "not a URL"))?;
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(invalid(
                key,
                format!(
                    "{scheme}:// proxies are not supported; give the proxy as http://host:port (HTTPS targets are still TLS end to end, through a CONNECT tunnel)"
                ),
            ));
        }
        let authority = rest.split('/').next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let uri: http::Uri = format!("http://{hostport}/")
            .parse()
            .map_err(|_| invalid(key, format!("{hostport:?} is not a host[:port]")))?;
        let hop = Target::checked(&uri).map_err(|d| invalid(key, d.message))?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| invalid(key, "the credentials in the URL are not UTF-8"))
        };
        let pair = match (credentials, userinfo) {
            (Some((user, password)), _) => {
                Some((user.to_owned(), password.expose_secret().to_owned()))
            }
            (None, Some(info)) => {
                let (user, password) = info.split_once(':').unwrap_or((info, ""));
                Some((decode(user)?, decode(password)?))
            }
            (None, None) => None,
        };
        let authorization = match pair {
            None => None,
            Some((user, password)) => {
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
                    .map_err(|_| invalid(key, "the proxy credentials cannot form a header"))?;
                value.set_sensitive(true);
                Some(value)
            }
        };
        Ok(Proxy {
            shown: hop.origin(),
            hop,
            authorization,
        })
    }

    /// Where connections go: the proxy's host and port.
    pub(crate) fn hop(&self) -> &Target {
        &self.hop
    }

    pub(crate) fn authorization(&self) -> Option<&HeaderValue> {
        self.authorization.as_ref()
    }

    /// `http://host:port`, without credentials.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }
}

/// Targets that bypass the proxy, curl's way: `*` for all, a host name for itself and its
/// subdomains (a leading `.` or `*.` is the same), an IP address or CIDR range for IP-literal
/// targets; `:port` limits an entry to that port. Names are not resolved to match IP entries.
#[derive(Debug, Default, Clone)]
pub(crate) struct NoProxy {
    all: bool,
    names: Vec<(String, Option<u16>)>,
    nets: Vec<IpNet>,
}

impl NoProxy {
    /// Parses entries; `Err` names the first entry that is neither a name nor an address.
    pub(crate) fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<NoProxy, String> {
        let mut out = NoProxy::default();
        for raw in entries {
            out.add(raw)?;
        }
        Ok(out)
    }

    /// The comma-separated list of `no_proxy`/`NO_PROXY`; entries that do not parse are
    /// skipped (and named in the returned list) rather than making the start fail on an
    /// environment the operator may share with other tools.
    fn from_env_list(list: &str) -> (NoProxy, Vec<String>) {
        let mut out = NoProxy::default();
        let skipped = list.split(',').filter_map(|e| out.add(e).err()).collect();
        (out, skipped)
    }

    /// Adds one entry (blank ones are ignored).
    fn add(&mut self, raw: &str) -> Result<(), String> {
        let entry = raw.trim();
        if entry.is_empty() {
            return Ok(());
        }
        if entry == "*" {
            self.all = true;
            return Ok(());
        }
        if let Ok(net) = entry.parse::<IpNet>() {
            self.nets.push(net);
            return Ok(());
        }
        if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
            self.nets.push(IpNet::from(ip.to_canonical()));
            return Ok(());
        }
        let (name, port) = match entry.rsplit_once(':') {
            Some((n, p)) => (
                n,
                Some(
                    p.parse::<u16>()
                        .map_err(|_| format!("{raw:?}: bad port {p:?}"))?,
                ),
            ),
            None => (entry, None),
        };
        let name = name
            .trim_start_matches("*.")
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(format!(
                "{raw:?} is not a host name, an IP address or a CIDR range"
            ));
        }
        self.names.push((name, port));
        Ok(())
    }

    pub(crate) fn matches(&self, target: &Target) -> bool {
        if self.all {
            return true;
        }
        match &target.host {
            Host::Ip(ip) => self.nets.iter().any(|n| n.contains(ip)),
            Host::Name(host) => self.names.iter().any(|(name, port)| {
                port.is_none_or(|p| p == target.port)
                    && (host == name
                        || host
                            .strip_suffix(name.as_str())
                            .is_some_and(|rest| rest.ends_with('.')))
            }),
        }
    }
}

/// The process-wide part of the route: proxies and the operator's extra CAs.
#[derive(Debug, Default)]
pub(crate) struct Network {
    http_proxy: Option<Arc<Proxy>>,
    https_proxy: Option<Arc<Proxy>>,
    no_proxy: NoProxy,
    extra_roots: Vec<CertificateDer<'static>>,
    /// TLS with the platform's roots plus `extra_roots`, built on first use.
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

/// Where the settings come from: config.yml's `inlet.network`, and the environment.
pub(crate) struct NetworkSource<'a> {
    pub settings: &'a inlet_policy::config::NetworkSettings,
    pub base_dir: &'a Path,
    /// Reads an environment variable (a parameter so tests need not touch the process's).
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// The first of `names` set to something non-empty.
fn env_first(env: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<(String, String)> {
    names.iter().find_map(|n| {
        env(n)
            .filter(|v| !v.trim().is_empty())
            .map(|v| ((*n).to_owned(), v))
    })
}

impl Network {
    pub(crate) fn load(source: &NetworkSource<'_>) -> Result<Network, RouteError> {
        let s = source.settings;
        let password = match &s.proxy_password {
            None => None,
            Some(src) => Some(
                inlet_policy::config::credentials::read_secret(src, source.base_dir)
                    .map_err(|m| invalid("inlet.network.proxy_password", m))?,
            ),
        };
        let credentials = match (&s.proxy_username, &password) {
            (Some(u), Some(p)) => Some((u.as_str(), p)),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    "inlet.network.proxy_username",
                    "set both proxy_username and proxy_password, or neither",
                ));
            }
        };
        let (http_proxy, https_proxy) = match &s.proxy {
            Some(url) => {
                let p = Arc::new(Proxy::parse(url, "inlet.network.proxy", credentials)?);
                (Some(p.clone()), Some(p))
            }
            None => {
                // curl's names: lowercase first. Credentials from config.yml apply to the
                // environment's proxies too.
                let from = |names: &[&str]| -> Result<Option<Arc<Proxy>>, RouteError> {
                    env_first(source.env, names)
                        .map(|(name, url)| Proxy::parse(&url, &name, credentials).map(Arc::new))
                        .transpose()
                };
                (
                    from(&["http_proxy", "HTTP_PROXY"])?,
                    from(&["https_proxy", "HTTPS_PROXY"])?,
                )
            }
        };
        let no_proxy = match &s.no_proxy {
            Some(list) => NoProxy::parse(list.iter().map(String::as_str))
                .map_err(|m| invalid("inlet.network.no_proxy", m))?,
            None => match env_first(source.env, &["no_proxy", "NO_PROXY"]) {
                None => NoProxy::default(),
                Some((name, list)) => {
                    let (parsed, skipped) = NoProxy::from_env_list(&list);
                    for why in skipped {
                        tracing::warn!("{name}: entry skipped: {why}");
                    }
                    parsed
                }
            },
        };
        let extra_roots = match &s.ca_file {
            Some(path) => load_roots(&source.base_dir.join(path), "inlet.network.ca_file")?,
            None => Vec::new(),
        };
        Ok(Network {
            http_proxy,
            https_proxy,
            no_proxy,
            extra_roots,
            tls: OnceLock::new(),
        })
    }

    /// The proxy a request to `target` goes through, if any.
    pub(crate) fn proxy_for(&self, target: &Target) -> Option<&Arc<Proxy>> {
        let proxy = match target.scheme {
            Scheme::Http => self.http_proxy.as_ref(),
            Scheme::Https => self.https_proxy.as_ref(),
        }?;
        (!self.no_proxy.matches(target)).then_some(proxy)
    }

    /// One line for the start-up log: which proxies are used, without credentials.
    pub(crate) fn describe(&self) -> Option<String> {
        let shown = |p: &Option<Arc<Proxy>>| p.as_ref().map(|p| p.shown().to_owned());
        match (shown(&self.http_proxy), shown(&self.https_proxy)) {
            (None, None) => None,
            (h, s) => Some(format!(
                "brokered HTTP goes through a proxy: http:// via {}, https:// via {}",
                h.as_deref().unwrap_or("none (direct)"),
                s.as_deref().unwrap_or("none (direct)")
            )),
        }
    }

    /// A connector's route: this network, with the connector's own extra CAs.
    pub(crate) fn route(
        self: &Arc<Self>,
        ca_file: Option<&Path>,
        key: &str,
    ) -> Result<Arc<Route>, RouteError> {
        let tls = match ca_file {
            None => self
                .tls
                .get_or_init(|| tls_config(&self.extra_roots))
                .clone()
                .map_err(|m| invalid("inlet.network.ca_file", m))?,
            Some(path) => {
                let mut roots = self.extra_roots.clone();
                roots.extend(load_roots(path, key)?);
                tls_config(&roots).map_err(|m| invalid(key, m))?
            }
        };
        Ok(Arc::new(Route {
            network: self.clone(),
            tls,
        }))
    }
}

/// How one connector's requests leave the host.
pub(crate) struct Route {
    network: Arc<Network>,
    tls: Arc<rustls::ClientConfig>,
}

impl Route {
    /// Straight out, with the platform's roots and no proxy.
    #[cfg(test)]
    pub(crate) fn direct() -> Arc<Route> {
        let network = Arc::new(Network::default());
        let tls = tls_config(&[]).expect("TLS with the platform's roots");
        Arc::new(Route { network, tls })
    }

    pub(crate) fn proxy_for(&self, target: &Target) -> Option<&Arc<Proxy>> {
        self.network.proxy_for(target)
    }

    pub(crate) fn tls(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }
}

/// The certificates of a PEM file; an error names the key and the path.
fn load_roots(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, RouteError> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| invalid(key, format!("cannot read {shown}: {e}")))?;
    super::trust::ca_bundle(&pem).map_err(|reason| invalid(key, format!("{shown} {reason}")))
}

/// TLS 1.2/1.3 on ring, the platform's roots plus `extra`, HTTP/1.1 by ALPN.
fn tls_config(extra: &[CertificateDer<'static>]) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls_platform_verifier::Verifier::new_with_extra_roots(extra.to_vec(), provider.clone())
            .map_err(|e| format!("cannot set up TLS verification: {e}"))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::from_uri(&url.parse().expect("uri")).expect("target")
    }

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn load(
        yaml: &str,
        env: &'static [(&'static str, &'static str)],
    ) -> Result<Network, RouteError> {
        let settings: inlet_policy::config::NetworkSettings =
            serde_yaml_ng::from_str(yaml).expect("settings");
        let env = env_of(env);
        Network::load(&NetworkSource {
            settings: &settings,
            base_dir: Path::new("."),
            env: &env,
        })
    }

    #[test]
    fn no_proxy_matches_names_subdomains_addresses_and_ports() {
        let n = NoProxy::parse([
            "corp.example",
            ".internal",
            "*.svc.local",
            "10.0.0.0/8",
            "192.168.1.7",
            "api.example:8443",
        ])
        .expect("parses");
        assert!(n.matches(&target("https://corp.example")));
        assert!(n.matches(&target("https://wiki.corp.example")));
        assert!(!n.matches(&target("https://notcorp.example")));
        assert!(n.matches(&target("http://db.internal")));
        assert!(n.matches(&target("http://a.b.svc.local")));
        assert!(n.matches(&target("http://10.2.3.4")));
        assert!(n.matches(&target("http://192.168.1.7:9000")));
        assert!(!n.matches(&target("http://192.168.1.8")));
        assert!(n.matches(&target("https://api.example:8443")));
        assert!(!n.matches(&target("https://api.example")));
        // Names are not resolved to match address entries.
        assert!(!n.matches(&target("http://localhost")));
        assert!(
            NoProxy::parse(["*"])
                .expect("all")
                .matches(&target("https://x.example"))
        );
        assert!(NoProxy::parse(["bad name!"]).is_err());
        assert!(NoProxy::parse(["host:notaport"]).is_err());
    }

    #[test]
    fn the_config_proxy_serves_both_schemes_and_no_proxy_bypasses_it() {
        let net = load(
            "{proxy: \"http://proxy.corp:3128\", no_proxy: [\"corp.example\"]}",
            &[("HTTPS_PROXY", "http://other:1")],
        )
        .expect("loads");
        let p = net
            .proxy_for(&target("https://api.example"))
            .expect("proxied");
        assert_eq!(p.shown(), "http://proxy.corp:3128");
        assert!(net.proxy_for(&target("http://api.example")).is_some());
        assert!(
            net.proxy_for(&target("https://wiki.corp.example"))
                .is_none()
        );
    }

    #[test]
    fn environment_proxies_are_per_scheme_with_credentials_from_the_url() {
        let net = load(
            "{}",
            &[
                ("HTTPS_PROXY", "http://u%40corp:p%3Ass@proxy.corp:8080"),
                ("NO_PROXY", "localhost, 127.0.0.1 ,bad entry!"),
            ],
        )
        .expect("loads");
        assert!(net.proxy_for(&target("http://api.example")).is_none());
        let p = net
            .proxy_for(&target("https://api.example"))
            .expect("proxied");
        assert_eq!(p.shown(), "http://proxy.corp:8080");
        let auth = p.authorization().expect("credentials");
        assert!(auth.is_sensitive());
        let expected = base64::engine::general_purpose::STANDARD.encode("u@corp:p:ss");
        assert_eq!(auth.to_str().expect("ascii"), format!("Basic {expected}"));
        assert!(!format!("{p:?}").contains(&expected), "{p:?}");
        assert!(net.proxy_for(&target("https://localhost")).is_none());
        assert!(net.proxy_for(&target("https://127.0.0.1")).is_none());
        // A bare host:port is an http:// proxy; lowercase wins, as in curl.
        let net = load(
            "{}",
            &[
                ("https_proxy", "proxy.a:3128"),
                ("HTTPS_PROXY", "http://proxy.b:1"),
            ],
        )
        .expect("loads");
        let p = net
            .proxy_for(&target("https://x.example"))
            .expect("proxied");
        assert_eq!(p.shown(), "http://proxy.a:3128");
    }

    #[test]
    fn bad_settings_name_their_key() {
        let e = load("{proxy: \"https://proxy.corp:443\"}", &[]).expect_err("https proxy");
        assert_eq!(e.key, "inlet.network.proxy");
        assert!(e.message.contains("http://host:port"), "{e}");
        let e = load("{proxy: \"http://\"}", &[]).expect_err("no host");
        assert_eq!(e.key, "inlet.network.proxy");
        let e = load("{no_proxy: [\"a b\"]}", &[]).expect_err("bad entry");
        assert_eq!(e.key, "inlet.network.no_proxy");
        let e = load("{proxy_username: u}", &[]).expect_err("half the credentials");
        assert_eq!(e.key, "inlet.network.proxy_username");
        let e = load("{ca_file: /nonexistent/ca.pem}", &[]).expect_err("missing CA file");
        assert_eq!(e.key, "inlet.network.ca_file");
        assert!(e.message.contains("/nonexistent/ca.pem"), "{e}");
        let e = load("{}", &[("HTTPS_PROXY", "socks5://p:1080")]).expect_err("socks");
        assert_eq!(e.key, "HTTPS_PROXY");
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let e = load_roots(&path, "connectors[0].grants.http_ca_file").expect_err("no certs");
        assert_eq!(e.key, "connectors[0].grants.http_ca_file");
        assert!(e.message.contains("holds no PEM certificate"), "{e}");
    }
}
