//! Brokers: the only way a plugin reaches the network or a database, and the only place
//! credentials live (crate `inlet-broker`, on `inlet-policy` and `inlet-runtime`, whose traits
//! it implements — [`ConnectorNetwork`] is a `runtime::brokers::HttpBroker`,
//! [`sql::ConnectorSql`] a `SqlBroker` — as Spin's factors implement its runtime's; the host
//! re-exports it as `inlet::broker`, its [`sql`] and [`capabilities`] as `inlet::sql` and
//! `inlet::capabilities`).
//!
//! Every `wasi:http/outgoing-handler` request of a plugin goes through one path (its store's
//! hooks in the runtime, which hold the instance's in-flight budget, then its
//! [`ConnectorNetwork`]): origin allowlist (what the plugin declares ∩ what the operator
//! grants) → credentials bound to that origin → concurrency and rate limits → DNS → address
//! check → connect to the checked address → response limits. The public surface is what the
//! host needs: [`Broker`] (loaded once per process), [`capabilities::grant`] (one instance's
//! grants, handed to the runtime as its brokers). Private modules, one job each:
//! - [`inlet_policy::http`]: origin patterns, the two-sided match and the post-DNS address
//!   classes (the policy crate's, so this crate only enforces it);
//! - `credentials`: secrets, what they inject, the OAuth2 token cache (with `assertion` and
//!   `refresh_token` for the JWT and rotating-refresh-token grants); the request signers
//!   `sigv4` (AWS) and `azure_shared_key` (Azure Storage);
//! - `form_credentials`: credentials a plugin's manifest forms from its configuration form
//!   (e.g. SharePoint's "Secret value"), held and injected by the host like config.yml's;
//! - `route` and `trust`: the operator's proxy, `no_proxy` and extra CAs;
//! - `send`: DNS, TCP/TLS, HTTP/1.1 and the streaming response limits;
//! - `network`: one connector's request pipeline;
//! - `metrics`: counters per connector, copied into the exporter by
//!   [`Broker::export_metrics`];
//! - [`sql`]: the SQL broker (operator-granted PostgreSQL/MySQL connections, streamed rows);
//! - [`capabilities`]: what a connector's plugin gets from both brokers: its manifest ∩ the
//!   operator's grants.

#![warn(missing_docs, unreachable_pub)]

mod assertion;
mod azure_shared_key;
pub mod capabilities;
mod credentials;
mod form_credentials;
mod metrics;
mod network;
mod refresh_token;
mod route;
mod send;
mod sigv4;
pub mod sql;
mod trust;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use azure_shared_key::NotBase64;
pub use credentials::CredentialError;
pub use network::ConnectorNetwork;

use credentials::Credential;
use form_credentials::Form;
use inlet_policy::config::{Config, Connector};
use inlet_policy::http::{OriginPattern, Policy};
use inlet_policy::manifest::Manifest;
use metrics::MetricsSnapshot;

/// Why the broker (at start) or a connector's network (before each sync) could not be set up.
/// The message names the config.yml key to change, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A credential of `credentials:` could not be loaded (at start only).
    #[error(transparent)]
    Credential(#[from] CredentialError),
    /// A bad setting: an origin pattern, an unknown credential, a proxy or CA file, a form
    /// credential that cannot be formed or whose origin is not granted.
    #[error("{key}: {message}")]
    Invalid {
        /// Where the setting is, e.g. `connectors[0].grants.http[1]` or `inlet.network.proxy`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

/// The process-wide broker: loaded credentials (with their token caches) and per-connector
/// counters and limiters, which outlive single syncs.
pub struct Broker {
    credentials: BTreeMap<String, Arc<Credential>>,
    /// The operator's proxy and extra CAs (`inlet.network`, the proxy environment variables).
    network: Arc<route::Network>,
    /// Where relative paths of config.yml (a connector's `grants.http_ca_file`) start.
    base_dir: PathBuf,
    /// `<data_dir>/credentials`: rotated refresh tokens (`oauth2_refresh_token`).
    refresh_tokens: PathBuf,
    /// Connector ids in config order, to name `connectors[i]` in messages.
    connector_ids: Vec<String>,
    shared: Mutex<HashMap<String, Arc<network::Shared>>>,
    /// Credentials formed from connectors' configuration values (a plugin's `[credentials]`),
    /// by connector id and credential name: kept, with their OAuth2 token caches, across syncs
    /// while the values they were formed from are unchanged.
    formed: Mutex<HashMap<(String, String), FormedCredential>>,
}

struct FormedCredential {
    digest: [u8; 32],
    credential: Arc<Credential>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// Loads every credential (reading secret files relative to `base_dir`). A credential that
    /// cannot be loaded stops the start, naming its key.
    pub fn new(config: &Config, base_dir: &Path) -> Result<Self, BrokerError> {
        let env = |name: &str| std::env::var(name).ok();
        let network = route::Network::load(&route::NetworkSource {
            settings: &config.inlet.network,
            base_dir,
            env: &env,
        })
        .map_err(|e| BrokerError::Invalid {
            key: e.key,
            message: e.message,
        })?;
        if let Some(line) = network.describe() {
            tracing::info!("{line}");
        }
        let refresh_tokens = base_dir.join(&config.inlet.data_dir).join("credentials");
        let mut credentials = BTreeMap::new();
        for (name, spec) in &config.credentials {
            let c = Credential::load(name, spec, base_dir, Some(&refresh_tokens))?;
            for h in c.hosts() {
                if h.as_str().starts_with("http://") {
                    tracing::warn!(
                        credential = %name,
                        "credential `{name}` is bound to {h}, which is plain HTTP: the secret crosses the network unencrypted"
                    );
                }
            }
            credentials.insert(name.clone(), Arc::new(c));
        }
        Ok(Broker {
            credentials,
            network: Arc::new(network),
            base_dir: base_dir.to_owned(),
            refresh_tokens,
            connector_ids: config
                .connectors
                .iter()
                .map(|c| c.connector_id.clone())
                .collect(),
            shared: Mutex::new(HashMap::new()),
            formed: Mutex::new(HashMap::new()),
        })
    }

    /// How messages name `connector`'s keys (`connectors[i]`).
    pub(crate) fn connector_key(
        &self,
        connector: &Connector,
    ) -> inlet_policy::config::ConnectorKey {
        inlet_policy::config::ConnectorKey::of(&self.connector_ids, connector)
    }

    /// The network of one connector: its plugin's declared origins, the operator's grants,
    /// credentials (config.yml's granted ones first, then those its plugin forms from the
    /// connector's configuration values) and limits.
    pub(crate) fn network_for(
        &self,
        connector: &Connector,
        manifest: Option<&Manifest>,
    ) -> Result<Arc<ConnectorNetwork>, BrokerError> {
        let key = self.connector_key(connector);
        let key = key.as_str();
        let declared = manifest
            .map(|m| m.permissions.http.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                OriginPattern::parse(s).map_err(|e| BrokerError::Invalid {
                    key: format!(
                        "plugin `{}`: [permissions] http[{i}]",
                        connector.service_type
                    ),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let granted = connector
            .grants
            .http
            .iter()
            .enumerate()
            .map(|(i, s)| {
                OriginPattern::parse(s).map_err(|e| BrokerError::Invalid {
                    key: format!("{key}.grants.http[{i}]"),
                    message: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut credentials = connector
            .grants
            .credentials
            .iter()
            .enumerate()
            .map(|(i, name)| {
                self.credentials
                    .get(name)
                    .cloned()
                    .ok_or_else(|| BrokerError::Invalid {
                        key: format!("{key}.grants.credentials[{i}]"),
                        message: format!("no credential named {name:?}"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let formed = self.form_credentials(connector, manifest, key, &granted, &credentials)?;
        credentials.extend(formed);
        let limits = network::Limits::from_config(&connector.grants.http_limits);
        let shared = {
            let mut map = self
                .shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match map.get(&connector.connector_id) {
                Some(shared) => shared.clone(),
                None => {
                    // Built once per connector: loading the platform's roots is not free.
                    let ca_file = connector
                        .grants
                        .http_ca_file
                        .as_ref()
                        .map(|p| self.base_dir.join(p));
                    let route = self
                        .network
                        .route(ca_file.as_deref(), &format!("{key}.grants.http_ca_file"))
                        .map_err(|e| BrokerError::Invalid {
                            key: e.key,
                            message: e.message,
                        })?;
                    let shared = Arc::new(network::Shared::new(&limits, route));
                    map.insert(connector.connector_id.clone(), shared.clone());
                    shared
                }
            }
        };
        if !granted.is_empty() && declared.is_empty() {
            inlet_policy::config::warn_undeclared(
                connector,
                &format!("{key}.grants.http"),
                "`[permissions] http`",
                "every request will be refused",
            );
        }
        Ok(Arc::new(ConnectorNetwork::new(
            connector.connector_id.clone(),
            Policy {
                declared,
                granted,
                grant_key: format!("{key}.grants.http"),
                plugin: connector.service_type.clone(),
            },
            credentials,
            limits,
            format!("{key}.grants.http_limits"),
            shared,
        )))
    }

    /// The credentials `manifest` declares (`[credentials]` in plugin.toml), formed from the
    /// connector's configuration values. Not formed when a field they name is empty, or when
    /// `operator` (config.yml's granted credentials) already claims the same header on their
    /// hosts. Refused, so the sync fails before the plugin runs, when an origin the secret
    /// would go to is not granted.
    fn form_credentials(
        &self,
        connector: &Connector,
        manifest: Option<&Manifest>,
        key: &str,
        granted: &[OriginPattern],
        operator: &[Arc<Credential>],
    ) -> Result<Vec<Arc<Credential>>, BrokerError> {
        let Some(manifest) = manifest else {
            return Ok(Vec::new());
        };
        let plugin = &connector.service_type;
        let mut formed = self
            .formed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        for (name, declaration) in &manifest.credentials {
            let slot = (connector.connector_id.clone(), name.clone());
            let filled = match form_credentials::form(name, declaration, &connector.configuration)
                .map_err(|message| BrokerError::Invalid {
                key: format!("{key}.configuration"),
                message: format!("plugin `{plugin}`'s credential `{name}`: {message}"),
            })? {
                Form::Incomplete { missing } => {
                    // Dropped, so an emptied form leaves no secret (or token) in memory.
                    formed.remove(&slot);
                    tracing::debug!(
                        connector_id = %connector.connector_id,
                        "plugin `{plugin}`'s credential `{name}` is not formed: configuration field(s) {} empty",
                        missing.join(", ")
                    );
                    continue;
                }
                Form::Complete(filled) => filled,
            };
            if let Some(chosen) = filled.claimed_by(operator) {
                formed.remove(&slot);
                tracing::info!(
                    connector_id = %connector.connector_id,
                    "plugin `{plugin}`'s credential `{name}` (from {}) is not formed: {key}.grants.credentials grants `{chosen}` for the same hosts, and the operator's credential wins",
                    filled.secret_fields.join(", ")
                );
                continue;
            }
            filled
                .check_granted(granted)
                .map_err(|(origin, why)| BrokerError::Invalid {
                    key: format!("{key}.grants.http"),
                    message: format!(
                        "{origin} is not granted, but plugin `{plugin}` forms credential `{name}` from configuration field(s) {} and {why}: add \"{origin}\" to {key}.grants.http to let the host send the secret there, or leave those fields empty",
                        filled.secret_fields.join(", ")
                    ),
                })?;
            if let Some(cached) = formed.get(&slot)
                && cached.digest == filled.digest
            {
                out.push(cached.credential.clone());
                continue;
            }
            let credential_name = format!("form:{}/{name}", connector.connector_id);
            let credential = Credential::load(
                &credential_name,
                &filled.spec,
                Path::new("."),
                Some(&self.refresh_tokens),
            )
            .map_err(|e| BrokerError::Invalid {
                key: format!("{key}.configuration"),
                message: format!(
                    "plugin `{plugin}`'s credential `{name}`: {}",
                    filled.explain(&e)
                ),
            })?;
            for h in credential.hosts() {
                if h.as_str().starts_with("http://") {
                    tracing::warn!(
                        connector_id = %connector.connector_id,
                        "credential `{credential_name}` is bound to {h}, which is plain HTTP: the secret crosses the network unencrypted"
                    );
                }
            }
            let credential = Arc::new(credential);
            formed.insert(
                slot,
                FormedCredential {
                    digest: filled.digest,
                    credential: credential.clone(),
                },
            );
            out.push(credential);
        }
        Ok(out)
    }

    /// Counters of every connector that has had a network, by connector id.
    pub(crate) fn metrics(&self) -> Vec<(String, MetricsSnapshot)> {
        let map = self
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out: Vec<_> = map
            .iter()
            .map(|(id, s)| (id.clone(), s.metrics.snapshot()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Copies the HTTP broker's per-connector counters and the OAuth2 token fetches into the
    /// `metrics` facade's recorder (`inlet_http_*`, `inlet_oauth2_token_fetches_total`).
    /// Called just before each scrape renders, so `/metrics` is always current without the
    /// broker knowing about Prometheus.
    pub fn export_metrics(&self) {
        for (connector, m) in self.metrics() {
            let c = || connector.clone();
            ::metrics::counter!("inlet_http_requests_total", "connector" => c(), "decision" => "allowed")
                .absolute(m.allowed);
            for (rule, n) in &m.denied {
                ::metrics::counter!("inlet_http_requests_total", "connector" => c(), "decision" => "denied", "rule" => *rule).absolute(*n);
            }
            ::metrics::counter!("inlet_http_failures_total", "connector" => c()).absolute(m.failed);
            ::metrics::counter!("inlet_http_oversized_total", "connector" => c())
                .absolute(m.oversized);
            ::metrics::counter!("inlet_http_bytes_total", "connector" => c(), "direction" => "out")
                .absolute(m.bytes_out);
            ::metrics::counter!("inlet_http_bytes_total", "connector" => c(), "direction" => "in")
                .absolute(m.bytes_in);
            ::metrics::counter!("inlet_http_responses_total", "connector" => c())
                .absolute(m.responses);
            ::metrics::counter!("inlet_http_latency_microseconds_total", "connector" => c())
                .absolute(m.latency_us_total);
            // The slowest response head since the process started: a gauge, not a counter.
            ::metrics::gauge!("inlet_http_latency_microseconds_max", "connector" => c())
                .set(m.latency_us_max as f64);
            ::metrics::counter!("inlet_http_auth_retries_total", "connector" => c())
                .absolute(m.auth_retries);
            ::metrics::counter!("inlet_http_credential_injections_total", "connector" => c())
                .absolute(m.credential_injections);
        }
        for (credential, n) in self.token_fetches() {
            ::metrics::counter!("inlet_oauth2_token_fetches_total", "credential" => credential)
                .absolute(n);
        }
    }

    /// OAuth2 tokens fetched per credential (form credentials as `form:<connector_id>/<name>`).
    pub(crate) fn token_fetches(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .credentials
            .iter()
            .map(|(n, c)| (n.clone(), c.token_fetches()))
            .collect();
        let formed = self
            .formed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        out.extend(
            formed
                .values()
                .map(|f| (f.credential.name().to_owned(), f.credential.token_fetches())),
        );
        out
    }
}

#[cfg(test)]
mod policy_props;

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_runtime::brokers::HttpBroker as _;

    /// SharePoint's declaration (plugins/sharepoint_online/plugin.toml).
    const MANIFEST: &str = r#"
service_type = "sharepoint_online"
component = "sharepoint_online.wasm"
[permissions]
http = ["https://graph.microsoft.com"]
[credentials.graph]
type = "oauth2_client_credentials"
token_url = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"
client_id = "{client_id}"
client_secret = "{secret_value}"
scopes = ["https://graph.microsoft.com/.default"]
client_auth = "body"
hosts = ["https://graph.microsoft.com"]
"#;

    fn broker(yaml: &str) -> (Broker, Config) {
        let config: Config = serde_yaml_ng::from_str(yaml).expect("config");
        (
            Broker::new(&config, Path::new(".")).expect("broker"),
            config,
        )
    }

    fn manifest() -> Manifest {
        toml::from_str(MANIFEST).expect("manifest")
    }

    fn connector(http: &str, secret: &str) -> String {
        format!(
            "connectors:\n  - connector_id: spo\n    service_type: sharepoint_online\n    configuration: {{tenant_id: t, client_id: app, secret_value: \"{secret}\"}}\n    grants: {{http: {http}}}\n"
        )
    }

    const GRANTED: &str =
        "[\"https://graph.microsoft.com\", \"https://login.microsoftonline.com\"]";

    fn formed(b: &Broker) -> Option<Arc<Credential>> {
        b.formed
            .lock()
            .expect("lock")
            .get(&("spo".to_owned(), "graph".to_owned()))
            .map(|f| f.credential.clone())
    }

    #[test]
    fn form_credentials_are_kept_while_the_form_is_unchanged() {
        let m = manifest();
        let (b, config) = broker(&connector(GRANTED, "s3cr3t-1"));
        let net = b
            .network_for(&config.connectors[0], Some(&m))
            .expect("network");
        assert!(
            net.forbidden_headers()
                .contains(&::http::header::AUTHORIZATION)
        );
        let first = formed(&b).expect("formed");
        assert_eq!(first.name(), "form:spo/graph");
        assert!(!format!("{first:?}").contains("s3cr3t"));
        // The next sync with the same values gets the same credential (and its cached token).
        b.network_for(&config.connectors[0], Some(&m))
            .expect("network");
        assert!(Arc::ptr_eq(&first, &formed(&b).expect("formed")));
        assert!(
            b.token_fetches()
                .iter()
                .any(|(name, n)| name == "form:spo/graph" && *n == 0)
        );
        // A changed secret forms it again; an emptied one drops it.
        let (_, changed) = broker(&connector(GRANTED, "s3cr3t-2"));
        b.network_for(&changed.connectors[0], Some(&m))
            .expect("network");
        assert!(!Arc::ptr_eq(&first, &formed(&b).expect("formed")));
        let (_, emptied) = broker(&connector(GRANTED, ""));
        let net = b
            .network_for(&emptied.connectors[0], Some(&m))
            .expect("network");
        assert!(formed(&b).is_none());
        assert!(
            !net.forbidden_headers()
                .contains(&::http::header::AUTHORIZATION)
        );
    }

    #[test]
    fn a_form_credential_needs_every_origin_of_its_secret_granted() {
        let m = manifest();
        for (http, missing) in [
            ("[]", "https://graph.microsoft.com"),
            (
                "[\"https://graph.microsoft.com\"]",
                "https://login.microsoftonline.com",
            ),
            (
                "[\"https://graph.microsoft.com\", \"https://*.microsoftonline.com\"]",
                "https://login.microsoftonline.com",
            ),
        ] {
            let (b, config) = broker(&connector(http, "s3cr3t"));
            let err = b
                .network_for(&config.connectors[0], Some(&m))
                .err()
                .expect(http)
                .to_string();
            assert!(
                err.starts_with("connectors[0].grants.http:") && err.contains(missing),
                "{err}"
            );
            assert!(
                err.contains("secret_value") && !err.contains("s3cr3t"),
                "{err}"
            );
            assert!(formed(&b).is_none());
        }
        // Without a secret nothing is formed, so nothing needs granting.
        let (b, config) = broker(&connector("[]", ""));
        assert!(b.network_for(&config.connectors[0], Some(&m)).is_ok());
    }

    #[test]
    fn the_operators_credential_wins_over_the_form() {
        let m = manifest();
        let (b, config) = broker(&format!(
            "credentials:\n  graph:\n    type: bearer\n    token: operator-token\n    hosts: [\"https://graph.microsoft.com\"]\n{}",
            connector(GRANTED, "s3cr3t").replace("]}\n", "], credentials: [graph]}\n")
        ));
        let net = b
            .network_for(&config.connectors[0], Some(&m))
            .expect("network");
        assert!(formed(&b).is_none(), "the form's credential is not formed");
        assert!(
            net.forbidden_headers()
                .contains(&::http::header::AUTHORIZATION)
        );
    }
}
