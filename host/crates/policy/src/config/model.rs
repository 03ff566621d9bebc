//! The typed configuration. Field names follow Elastic's `config.yml` where Elastic has the key;
//! Inlet's own keys live under `inlet:` and in each connector entry.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::str::FromStr;

use secrecy::SecretString;
use serde::Deserialize;

pub use crate::limits::{LimitOverrides, Limits};

/// Sentinel Elastic's example file ships for ids the user must fill in.
const CHANGEME: &str = "changeme";

/// The whole `config.yml`, validated (see [`super::load`]). An empty file is a valid
/// standalone setup writing to the embedded sink.
#[derive(Debug, Default, Deserialize)]
pub struct Config {
    /// The cluster. Absent (or without `host`), Inlet writes to its embedded sink.
    pub elasticsearch: Option<Elasticsearch>,
    /// `service:`, the process's loops and concurrency (Elastic's keys).
    #[serde(default)]
    pub service: Service,
    /// `connectors:`, the connectors this process runs (standalone) or serves for Kibana; ids
    /// are unique.
    #[serde(default)]
    pub connectors: Vec<Connector>,
    /// `inlet:`, Inlet's own process-wide settings.
    #[serde(default)]
    pub inlet: Inlet,
    /// Secrets the host injects into plugins' HTTP requests, by name (see
    /// [`super::credentials`]); a connector uses one only if `grants.credentials` names it.
    #[serde(default)]
    pub credentials: BTreeMap<String, super::credentials::CredentialSpec>,
    /// SQL databases the host connects to for plugins, by name (see [`super::databases`]); a
    /// connector uses one only if `grants.databases` names it.
    #[serde(default)]
    pub databases: BTreeMap<String, super::databases::DatabaseSpec>,
}

/// Elastic's `elasticsearch.*` keys.
#[derive(Debug, Deserialize)]
pub struct Elasticsearch {
    /// `elasticsearch.host`: the cluster's URL (`http://` or `https://`). Unset, and no
    /// `cloud_id`: the embedded sink.
    pub host: Option<String>,
    /// `elasticsearch.cloud_id`: an Elastic Cloud deployment, instead of `host`.
    pub cloud_id: Option<String>,
    /// `elasticsearch.api_key` (encoded, or `id:key`); wins over `username`/`password`.
    pub api_key: Option<SecretString>,
    /// `elasticsearch.username`: basic auth, used only with `password` and no `api_key`.
    pub username: Option<String>,
    /// `elasticsearch.password`, for `username`.
    pub password: Option<SecretString>,
    /// `elasticsearch.ssl`: accepted from Elastic's file, not used (the `host` URL's scheme decides
    /// TLS).
    #[serde(default = "yes")]
    pub ssl: bool,
    /// `elasticsearch.verify_certs` (default `true`); `false` accepts any server certificate.
    #[serde(default = "yes")]
    pub verify_certs: bool,
    /// `elasticsearch.ca_certs`: PEM file of the CA that signs the cluster's certificate,
    /// trusted besides the system roots.
    pub ca_certs: Option<PathBuf>,
    /// `elasticsearch.request_timeout`: seconds per request to the cluster (default 240).
    #[serde(default = "default_request_timeout")]
    pub request_timeout: u64,
    /// `elasticsearch.max_retries`: attempts per document before it is dead-lettered
    /// (default 10).
    pub max_retries: Option<u32>,
    /// `elasticsearch.retry_interval` (seconds): accepted from Elastic's file, not used.
    pub retry_interval: Option<u64>,
    /// `elasticsearch.retry_on_timeout`: accepted from Elastic's file, not used.
    pub retry_on_timeout: Option<bool>,
    /// `elasticsearch.log_level`: accepted from Elastic's file, not used (`RUST_LOG` and `-v` set
    /// the log level).
    pub log_level: Option<String>,
    /// `elasticsearch.max_wait_duration`: seconds Kibana mode waits at start for the cluster
    /// to answer, retrying with backoff (default 240).
    pub max_wait_duration: Option<u64>,
    /// `elasticsearch.initial_backoff_duration`: accepted from Elastic's file, not used (the
    /// start-up backoff begins at 1 s).
    pub initial_backoff_duration: Option<u64>,
    /// `elasticsearch.backoff_multiplier`: accepted from Elastic's file, not used.
    pub backoff_multiplier: Option<u64>,
    /// `elasticsearch.feature_use_connectors_api`: accepted from Elastic's file, not used; the
    /// cluster's version decides whether the `_connector` API is used.
    pub feature_use_connectors_api: Option<bool>,
    /// `elasticsearch.bulk`: how documents are sent to the cluster.
    #[serde(default)]
    pub bulk: Bulk,
}

/// Elastic's `elasticsearch.bulk.*` keys; Inlet maps them onto its own indexer.
#[derive(Debug, Default, Deserialize)]
pub struct Bulk {
    /// `bulk.chunk_size`: most actions per `_bulk` request (default 5000; Elastic: 500).
    pub chunk_size: Option<usize>,
    /// `bulk.chunk_max_mem_size`: most MiB per `_bulk` request (default 2; Elastic: 3).
    pub chunk_max_mem_size: Option<f64>,
    /// `bulk.max_concurrency`: `_bulk` requests in flight, process-wide (default 4).
    pub max_concurrency: Option<usize>,
    /// `bulk.queue_max_size`: accepted from Elastic's file, not used (the queue is bounded by
    /// `queue_max_mem_size`).
    pub queue_max_size: Option<usize>,
    /// `bulk.queue_max_mem_size`: MiB buffered in front of the indexer; plugins wait while it
    /// is full (default 4; Elastic: 25).
    pub queue_max_mem_size: Option<f64>,
    /// `bulk.queue_refresh_interval`: accepted from Elastic's file, not used.
    pub queue_refresh_interval: Option<u64>,
    /// `bulk.queue_refresh_timeout`: accepted from Elastic's file, not used.
    pub queue_refresh_timeout: Option<u64>,
    /// `bulk.max_text_document_size`: accepted from Elastic's file, not used
    /// (`limits.max_document_bytes` caps documents).
    pub max_text_document_size: Option<u64>,
    /// `bulk.concurrent_downloads`: accepted from Elastic's file, not used.
    pub concurrent_downloads: Option<usize>,
    /// `bulk.display_every`: accepted from Elastic's file, not used.
    pub display_every: Option<u64>,
    /// `bulk.enable_operations_logging`: accepted from Elastic's file, not used.
    pub enable_operations_logging: Option<bool>,
    /// `bulk.max_retries`: accepted from Elastic's file, not used; `elasticsearch.max_retries` sets
    /// the attempts.
    pub max_retries: Option<u32>,
    /// `bulk.retry_interval`: accepted from Elastic's file, not used.
    pub retry_interval: Option<u64>,
    /// Accepted for compatibility; Inlet never drops a failed item (it dead-letters it).
    pub error_monitor: Option<serde_json::Value>,
    /// `bulk.gzip`, Inlet's own: gzip `_bulk` request bodies (default `false`).
    #[serde(default)]
    pub gzip: bool,
}

/// Elastic's `service.*` keys.
#[derive(Debug, Deserialize)]
pub struct Service {
    /// `service.idling`: seconds between the Kibana-mode loops' polls for jobs and schedules
    /// (default 30).
    #[serde(default = "default_idling")]
    pub idling: u64,
    /// `service.heartbeat`: seconds between connector check-ins in Kibana mode (default 300).
    #[serde(default = "default_heartbeat")]
    pub heartbeat: u64,
    /// `service.max_errors`: accepted from Elastic's file, not used.
    pub max_errors: Option<u64>,
    /// `service.max_errors_span`: accepted from Elastic's file, not used.
    pub max_errors_span: Option<u64>,
    /// `service.max_concurrent_content_syncs`: full and incremental syncs at once (default 8).
    /// Elastic runs one content sync per process; Inlet's default is many.
    #[serde(default = "default_content_syncs")]
    pub max_concurrent_content_syncs: usize,
    /// `service.max_concurrent_access_control_syncs`: access-control syncs at once
    /// (default 4).
    #[serde(default = "default_acl_syncs")]
    pub max_concurrent_access_control_syncs: usize,
    /// `service.max_concurrent_scheduling_tasks`: accepted from Elastic's file, not used.
    pub max_concurrent_scheduling_tasks: Option<usize>,
    /// `service.job_cleanup_interval`: seconds between Kibana-mode cleanups of jobs whose
    /// worker vanished (default 300).
    pub job_cleanup_interval: Option<u64>,
    /// `service.log_level`: accepted from Elastic's file, not used (`RUST_LOG` and `-v` set the log
    /// level).
    pub log_level: Option<String>,
    /// `service.preflight_max_attempts`: accepted from Elastic's file, not used
    /// (`elasticsearch.max_wait_duration` bounds the start-up wait).
    pub preflight_max_attempts: Option<u64>,
    /// `service.preflight_idle`: accepted from Elastic's file, not used.
    pub preflight_idle: Option<u64>,
    /// `service.max_file_download_size`: accepted from Elastic's file, not used.
    pub max_file_download_size: Option<u64>,
    /// `service.worker_mode`: accepted from Elastic's file, not used.
    pub worker_mode: Option<bool>,
    /// `service.service_types`: accepted from Elastic's file, not used; the plugins found in
    /// `inlet.plugins_dir` decide.
    pub service_types: Option<Vec<String>>,
    /// `service.fips_mode`: accepted from Elastic's file, not used.
    pub fips_mode: Option<bool>,
    /// Inlet: the metrics and health endpoint; off unless `listen` is set.
    #[serde(default)]
    pub metrics: MetricsEndpoint,
}

/// `service.metrics`.
#[derive(Debug, Default, Deserialize)]
pub struct MetricsEndpoint {
    /// `host:port` to serve `/metrics`, `/healthz` and `/readyz` on, e.g. `127.0.0.1:9464`.
    pub listen: Option<std::net::SocketAddr>,
}

impl Default for Service {
    fn default() -> Self {
        Service {
            idling: default_idling(),
            heartbeat: default_heartbeat(),
            max_errors: None,
            max_errors_span: None,
            max_concurrent_content_syncs: default_content_syncs(),
            max_concurrent_access_control_syncs: default_acl_syncs(),
            max_concurrent_scheduling_tasks: None,
            job_cleanup_interval: None,
            log_level: None,
            preflight_max_attempts: None,
            preflight_idle: None,
            max_file_download_size: None,
            worker_mode: None,
            service_types: None,
            fips_mode: None,
            metrics: MetricsEndpoint::default(),
        }
    }
}

/// Inlet's own process-wide settings.
#[derive(Debug, Deserialize)]
pub struct Inlet {
    /// Embedded sink, state store and dead-letter files. Relative to the config file.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Where plugins are discovered. Relative to the config file; `--plugins` overrides.
    #[serde(default = "default_plugins_dir")]
    pub plugins_dir: PathBuf,
    /// Compiled-plugin cache, owned by the host. Default: `<data_dir>/cache`.
    pub cache_dir: Option<PathBuf>,
    /// The operator's caps; a connector may ask for less, never more.
    #[serde(default)]
    pub limits: Limits,
    /// `kibana` serves Kibana's connector protocol (connectors, schedules and sync jobs come from
    /// the `_connector` API); `standalone` runs config.yml's connectors. Default: `kibana` when
    /// `elasticsearch.host` or `cloud_id` is set, else `standalone` (see [`Config::protocol`]).
    pub protocol: Option<ProtocolMode>,
    /// Timings of the Kibana protocol that Elastic hard-codes.
    #[serde(default)]
    pub kibana: KibanaTimings,
    /// What a plugin must prove before it loads (`inlet.plugins.trusted_keys`).
    #[serde(default)]
    pub plugins: PluginTrust,
    /// How brokered HTTP reaches sources behind an enterprise network: proxy, extra CAs.
    #[serde(default)]
    pub network: NetworkSettings,
}

/// `inlet.network`: the operator's proxy and certificate authorities for brokered HTTP (the
/// plugins' requests and the host's own token requests). See `broker::route`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSettings {
    /// `http://host:port` of an HTTP proxy for `http://` and `https://` targets (HTTPS through
    /// a `CONNECT` tunnel, TLS still end to end). Default: `https_proxy`/`HTTPS_PROXY` and
    /// `http_proxy`/`HTTP_PROXY` from the environment, per scheme.
    pub proxy: Option<String>,
    /// Proxy credentials (`Proxy-Authorization: Basic`), sent to the proxy only.
    pub proxy_username: Option<String>,
    /// The password for `proxy_username`: a value, `${ENV}` or `{file: path}`.
    pub proxy_password: Option<super::credentials::SecretSource>,
    /// Targets that bypass the proxy: names (with their subdomains), IP addresses, CIDR
    /// ranges, `*`. Default: `no_proxy`/`NO_PROXY` from the environment.
    pub no_proxy: Option<Vec<String>>,
    /// PEM bundle of certificate authorities trusted for brokered HTTPS besides the
    /// platform's (a private corporate CA). Relative to the config file.
    pub ca_file: Option<PathBuf>,
}

/// `inlet.plugins`: the operator's requirements on plugin components.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PluginTrust {
    /// OpenSSH ed25519 public keys (`ssh-ed25519 AAAA… comment`), or files holding such lines
    /// (relative to the config file). When any is set, every component must carry a detached
    /// signature (`<component>.sig`) by one of them, or it is refused (see `plugin::signature`).
    #[serde(default)]
    pub trusted_keys: Vec<String>,
}

impl Default for Inlet {
    fn default() -> Self {
        Inlet {
            data_dir: default_data_dir(),
            plugins_dir: default_plugins_dir(),
            cache_dir: None,
            limits: Limits::default(),
            protocol: None,
            kibana: KibanaTimings::default(),
            plugins: PluginTrust::default(),
            network: NetworkSettings::default(),
        }
    }
}

/// How `inlet run` gets its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProtocolMode {
    /// Serve Kibana's connector protocol: connectors, schedules and jobs come from the cluster.
    Kibana,
    /// Run config.yml's connectors on their own schedules, into the cluster or the sink.
    Standalone,
}

/// Kibana-mode timings, in seconds. Elastic's service uses 10 s (stats), 5 s (cancellation
/// checks) and 300 s (idle jobs); Inlet checks cancellation at every stats report.
#[derive(Debug, Clone, Deserialize)]
pub struct KibanaTimings {
    /// How often a running job reports `_stats` (which is also its heartbeat) and checks for
    /// cancellation.
    #[serde(default = "default_report_interval")]
    pub report_interval_secs: u64,
    /// A job `in_progress` or `canceling` whose `last_seen` is older than this is marked `error`
    /// by the cleanup (its worker vanished).
    #[serde(default = "default_idle_job_timeout")]
    pub idle_job_timeout_secs: u64,
}

impl Default for KibanaTimings {
    fn default() -> Self {
        KibanaTimings {
            report_interval_secs: default_report_interval(),
            idle_job_timeout_secs: default_idle_job_timeout(),
        }
    }
}

fn default_report_interval() -> u64 {
    5
}
fn default_idle_job_timeout() -> u64 {
    300
}

/// One entry of `connectors:`. `Debug` shows configuration keys, never values: a sensitive
/// field's value (a form credential's secret) must not reach a log through a debug print.
#[derive(Clone, Deserialize)]
pub struct Connector {
    /// `connector_id`: Kibana's id of the connector (any unique name in standalone mode); must
    /// not be empty or `changeme`.
    pub connector_id: String,
    /// `service_type`: selects the plugin whose plugin.toml declares it.
    pub service_type: String,
    /// Elastic semantics: replaces the global credentials for writes to this connector's index.
    pub api_key: Option<SecretString>,
    /// Standalone: a display name.
    pub name: Option<String>,
    /// Standalone: the content index. Default `search-<connector_id>`.
    pub index_name: Option<String>,
    /// Standalone: the plugin's configuration values, by field key.
    #[serde(default)]
    pub configuration: serde_json::Map<String, serde_json::Value>,
    /// Standalone: Quartz cron expressions per job type, in UTC.
    #[serde(default)]
    pub schedule: Schedule,
    /// `limits`: this connector's requests within the operator's `inlet.limits` caps.
    #[serde(default)]
    pub limits: LimitOverrides,
    /// What the operator grants this connector's plugin.
    #[serde(default)]
    pub grants: Grants,
    /// Pin of the plugin component's sha256 (hex); a mismatch refuses to load it.
    pub sha256: Option<String>,
    /// Standalone: Elastic's sync rules (`basic` applied by the host, `advanced` given to the
    /// plugin).
    #[serde(default)]
    pub sync_rules: SyncRules,
    /// Elastic's ingest pipeline settings. When set, documents go through that pipeline
    /// (`_bulk?pipeline=`) and carry its `_extract_binary_content`, `_reduce_whitespace` and
    /// `_run_ml_inference` flags, as Elastic's service does; unset (standalone default), none.
    pub pipeline: Option<Pipeline>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("connector_id", &self.connector_id)
            .field("service_type", &self.service_type)
            .field("api_key", &self.api_key)
            .field("name", &self.name)
            .field("index_name", &self.index_name)
            .field(
                "configuration",
                &self.configuration.keys().collect::<Vec<_>>(),
            )
            .field("schedule", &self.schedule)
            .field("limits", &self.limits)
            .field("grants", &self.grants)
            .field("sha256", &self.sha256)
            .field("sync_rules", &self.sync_rules)
            .field("pipeline", &self.pipeline)
            .finish()
    }
}

/// Sync rules, as Kibana stores them in the connector's active filtering.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SyncRules {
    /// Basic rules, applied by the host to every document (default none: all pass).
    #[serde(default)]
    pub basic: Vec<crate::sync_rules::BasicRule>,
    /// Advanced rules (any JSON); validated by the plugin.
    pub advanced: Option<serde_json::Value>,
}

/// Elastic's `pipeline` settings of a connector.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct Pipeline {
    /// The ingest pipeline's id (default `search-default-ingestion`, Elastic's).
    #[serde(default = "default_pipeline_name")]
    pub name: String,
    /// Sent as each document's `_extract_binary_content` (default `true`).
    #[serde(default = "yes")]
    pub extract_binary_content: bool,
    /// Sent as each document's `_reduce_whitespace` (default `true`).
    #[serde(default = "yes")]
    pub reduce_whitespace: bool,
    /// Sent as each document's `_run_ml_inference` (default `true`).
    #[serde(default = "yes")]
    pub run_ml_inference: bool,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            name: default_pipeline_name(),
            extract_binary_content: true,
            reduce_whitespace: true,
            run_ml_inference: true,
        }
    }
}

fn default_pipeline_name() -> String {
    "search-default-ingestion".into()
}

impl Connector {
    /// The content index: `index_name`, else `search-<connector_id>`.
    pub fn index_name(&self) -> String {
        self.index_name
            .clone()
            .unwrap_or_else(|| format!("search-{}", self.connector_id))
    }
}

/// A connector's `schedule` (standalone mode): when each job type starts; unset, never on its
/// own (`inlet sync` still runs it).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Schedule {
    /// `schedule.full`: when full syncs start.
    pub full: Option<Cron>,
    /// `schedule.incremental`: when incremental syncs start.
    pub incremental: Option<Cron>,
    /// `schedule.access_control`: when access-control syncs start.
    pub access_control: Option<Cron>,
}

/// A Quartz cron expression (`sec min hour day-of-month month day-of-week [year]`, `?` allowed),
/// evaluated in UTC like Elastic's service.
#[derive(Debug, Clone)]
pub struct Cron {
    /// The expression as written, for messages.
    pub expression: String,
    /// The parsed expression; its times are taken in UTC.
    pub schedule: cron::Schedule,
}

impl<'de> Deserialize<'de> for Cron {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let expression = String::deserialize(d)?;
        let schedule = cron::Schedule::from_str(&expression).map_err(|e| {
            serde::de::Error::custom(format!(
                "{expression:?} is not a Quartz cron expression ({e}); example: \"0 0 * * * ?\" (hourly)"
            ))
        })?;
        Ok(Cron {
            expression,
            schedule,
        })
    }
}

/// The operator's side of the two-sided permission model: a plugin gets what it declares in its
/// manifest AND is granted here.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Grants {
    /// Host directories the plugin may read (read-only, mounted at the same path).
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// Origins (`scheme://host[:port]`, `*.` wildcards) the plugin may reach; it also has to
    /// declare them in its manifest.
    #[serde(default)]
    pub http: Vec<String>,
    /// Names from the top-level `credentials:` the host injects into this connector's requests.
    #[serde(default)]
    pub credentials: Vec<String>,
    /// Timeouts, response size, concurrency and rate of brokered HTTP.
    #[serde(default)]
    pub http_limits: super::credentials::HttpLimits,
    /// PEM bundle of certificate authorities this connector's brokered HTTPS trusts besides
    /// the platform's and `inlet.network.ca_file` (a source behind a private CA). Relative to
    /// the config file.
    pub http_ca_file: Option<PathBuf>,
    /// Names from the top-level `databases:` this connector's plugin may open (it also has to
    /// declare them: `[permissions] sql = ["name"]`).
    #[serde(default)]
    pub databases: Vec<String>,
    /// Keys of `sensitive` configuration fields whose values the host hands to this
    /// connector's plugin. Without it a sensitive value is checked but withheld: a secret
    /// belongs in a credential the host injects (`credentials:`, or the plugin's form
    /// credentials), not in the plugin. A key the plugin's schema does not mark sensitive is
    /// warned about when the schema is known.
    #[serde(default)]
    pub sensitive_fields: Vec<String>,
}

impl Config {
    /// True when documents go to a cluster rather than the embedded sink.
    pub fn uses_cluster(&self) -> bool {
        self.elasticsearch
            .as_ref()
            .is_some_and(|es| es.host.is_some() || es.cloud_id.is_some())
    }

    /// The mode `inlet run` serves: `inlet.protocol`, else `kibana` when a cluster is configured.
    pub fn protocol(&self) -> ProtocolMode {
        self.inlet.protocol.unwrap_or(if self.uses_cluster() {
            ProtocolMode::Kibana
        } else {
            ProtocolMode::Standalone
        })
    }

    /// Checks what types alone cannot; returns the key path and the reason.
    pub(super) fn validate(&self) -> Result<(), (String, String)> {
        let mut seen = BTreeSet::new();
        for (i, c) in self.connectors.iter().enumerate() {
            let at = |k: &str| format!("connectors[{i}].{k}");
            if c.connector_id.trim().is_empty() || c.connector_id == CHANGEME {
                return Err((
                    at("connector_id"),
                    "set it to the connector id (from Kibana, or any name in standalone mode)"
                        .into(),
                ));
            }
            if !seen.insert(c.connector_id.as_str()) {
                return Err((
                    at("connector_id"),
                    format!("duplicate connector id {:?}", c.connector_id),
                ));
            }
            if c.service_type.trim().is_empty() || c.service_type == CHANGEME {
                return Err((
                    at("service_type"),
                    "set it to a plugin's service type (see `inlet plugins list`)".into(),
                ));
            }
            if let Some(index) = &c.index_name {
                check_index_name(index).map_err(|m| (at("index_name"), m))?;
            }
            if let Some(pin) = &c.sha256
                && (pin.len() != 64 || !pin.chars().all(|ch| ch.is_ascii_hexdigit()))
            {
                return Err((at("sha256"), "expected 64 hexadecimal characters".into()));
            }
            crate::sync_rules::RuleSet::new(c.sync_rules.basic.clone())
                .map_err(|e| (at("sync_rules.basic"), e.to_string()))?;
            c.limits
                .check(&self.inlet.limits)
                .map_err(|(k, m)| (at(&format!("limits.{k}")), m))?;
            super::credentials::validate_grants(
                &c.grants.http,
                &c.grants.credentials,
                &c.grants.http_limits,
                &self.credentials,
                &at,
            )?;
            super::databases::validate_grants(&c.grants.databases, &self.databases, &at)?;
            for (j, dir) in c.grants.files.iter().enumerate() {
                if !dir.is_absolute() {
                    return Err((
                        at(&format!("grants.files[{j}]")),
                        format!("{} must be an absolute path", dir.display()),
                    ));
                }
            }
        }
        super::credentials::validate(&self.credentials)?;
        super::databases::validate(&self.databases, &self.credentials)?;
        if self.inlet.limits.memory_mib == 0 || self.inlet.limits.call_timeout_secs == 0 {
            return Err((
                "inlet.limits".into(),
                "memory_mib and call_timeout_secs must be greater than 0".into(),
            ));
        }
        Ok(())
    }
}

/// Elasticsearch's rules for index names, so a bad name fails at start, not mid-sync.
fn check_index_name(name: &str) -> Result<(), String> {
    let bad = ['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':'];
    if name.is_empty() || name.len() > 255 {
        return Err("must be 1 to 255 bytes".into());
    }
    if name != name.to_lowercase() {
        return Err(format!("{name:?} must be lowercase"));
    }
    if name.starts_with(['-', '_', '+']) || name == "." || name == ".." {
        return Err(format!("{name:?} cannot start with -, _ or +"));
    }
    if let Some(c) = name.chars().find(|c| bad.contains(c)) {
        return Err(format!("{name:?} cannot contain {c:?}"));
    }
    Ok(())
}

fn yes() -> bool {
    true
}
fn default_request_timeout() -> u64 {
    240
}
fn default_idling() -> u64 {
    30
}
fn default_heartbeat() -> u64 {
    300
}
fn default_content_syncs() -> usize {
    8
}
fn default_acl_syncs() -> usize {
    4
}
fn default_data_dir() -> PathBuf {
    PathBuf::from(".inlet")
}
fn default_plugins_dir() -> PathBuf {
    PathBuf::from("plugins")
}
