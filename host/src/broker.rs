//! Brokers: the only way a plugin reaches the network, and the only place credentials live.
//!
//! Every `wasi:http/outgoing-handler` request of a plugin goes through one path
//! ([`network::ConnectorNetwork::handle`]): origin allowlist (what the plugin declares ∩ what
//! the operator grants) → credentials bound to that origin → concurrency and rate limits → DNS →
//! address check → connect to the checked address → response limits. Modules, one job each:
//! - [`http`]: origin patterns, the two-sided match and the post-DNS address classes;
//! - [`credentials`]: secrets, what they inject, the OAuth2 token cache;
//! - [`send`]: DNS, TCP/TLS, HTTP/1.1 and the streaming response limits;
//! - [`network`]: one connector's request pipeline;
//! - [`hooks`]: the `WasiHttpHooks` a plugin's store uses;
//! - [`metrics`]: counters per connector.

pub mod credentials;
pub mod hooks;
pub mod http;
pub mod metrics;
pub mod network;
pub mod send;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

pub use hooks::HttpHooks;
pub use metrics::{HttpMetrics, MetricsSnapshot};
pub use network::ConnectorNetwork;

use crate::config::{Config, Connector};
use crate::plugin::Manifest;
use credentials::{Credential, CredentialError};
use http::{OriginPattern, Policy};

/// Why a connector's network could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Credential(#[from] CredentialError),
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

/// The process-wide broker: loaded credentials (with their token caches) and per-connector
/// counters and limiters, which outlive single syncs.
pub struct Broker {
    credentials: BTreeMap<String, Arc<Credential>>,
    /// Connector ids in config order, to name `connectors[i]` in messages.
    connector_ids: Vec<String>,
    shared: Mutex<HashMap<String, Arc<network::Shared>>>,
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
        let mut credentials = BTreeMap::new();
        for (name, spec) in &config.credentials {
            let c = Credential::load(name, spec, base_dir)?;
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
            connector_ids: config
                .connectors
                .iter()
                .map(|c| c.connector_id.clone())
                .collect(),
            shared: Mutex::new(HashMap::new()),
        })
    }

    /// A broker without credentials (tools that load plugins without a config).
    pub fn empty() -> Self {
        Broker {
            credentials: BTreeMap::new(),
            connector_ids: Vec::new(),
            shared: Mutex::new(HashMap::new()),
        }
    }

    /// The network of one connector: its plugin's declared origins, the operator's grants,
    /// credentials and limits.
    pub fn network_for(
        &self,
        connector: &Connector,
        manifest: Option<&Manifest>,
    ) -> Result<Arc<ConnectorNetwork>, BrokerError> {
        let key = match self
            .connector_ids
            .iter()
            .position(|id| *id == connector.connector_id)
        {
            Some(i) => format!("connectors[{i}]"),
            None => format!("connectors[connector_id={}]", connector.connector_id),
        };
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
        let credentials = connector
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
        let limits = network::Limits::from_config(&connector.grants.http_limits);
        let shared = {
            let mut map = self
                .shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.entry(connector.connector_id.clone())
                .or_insert_with(|| Arc::new(network::Shared::new(&limits)))
                .clone()
        };
        if !granted.is_empty() && declared.is_empty() {
            tracing::warn!(
                connector_id = %connector.connector_id,
                "{key}.grants.http is set, but plugin `{}` declares no `[permissions] http`; every request will be refused",
                connector.service_type
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

    /// Counters of every connector that has had a network, by connector id.
    pub fn metrics(&self) -> Vec<(String, MetricsSnapshot)> {
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

    /// OAuth2 tokens fetched per credential.
    pub fn token_fetches(&self) -> Vec<(String, u64)> {
        self.credentials
            .iter()
            .map(|(n, c)| (n.clone(), c.token_fetches()))
            .collect()
    }
}
