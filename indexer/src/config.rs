//! Configuration of the shared indexer, with the defaults we chose and why.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;

use crate::IndexerError;

/// How the indexer authenticates to the cluster (a sync may override it with its own API key).
#[derive(Clone, Default)]
pub enum Auth {
    /// No `Authorization` header (security disabled, or a proxy adds it).
    #[default]
    None,
    /// An Elasticsearch/OpenSearch API key: either already base64-encoded (as Kibana shows it) or `id:api_key`.
    ApiKey(String),
    /// HTTP basic authentication.
    Basic { username: String, password: String },
}

impl std::fmt::Debug for Auth {
    // Secrets never reach logs, even through `{:?}` of a whole config.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
            Auth::Basic { username, .. } => write!(
                f,
                "Basic {{ username: {username:?}, password: <redacted> }}"
            ),
        }
    }
}

impl Auth {
    /// The `Authorization` header value, or `None` for [`Auth::None`].
    pub fn header_value(&self) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::ApiKey(key) => Some(api_key_header(key)),
            Auth::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
        }
    }
}

/// `ApiKey <base64(id:key)>`; Kibana hands out the encoded form, the `_security/api_key` API returns `id` and
/// `api_key` separately, and users paste either. A colon can never appear in the base64 form, so it tells them apart.
pub(crate) fn api_key_header(key: &str) -> String {
    if key.contains(':') {
        format!(
            "ApiKey {}",
            base64::engine::general_purpose::STANDARD.encode(key)
        )
    } else {
        format!("ApiKey {key}")
    }
}

/// What to do with a per-item 409 (version conflict).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConflictPolicy {
    /// Write the action to the dead-letter file (nothing is silently lost).
    #[default]
    DeadLetter,
    /// Count it as acknowledged (indexed or deleted): right when the conflict means "already there".
    Ignore,
}

/// Configuration of the [`crate::Indexer`]. `Default` gives the documented defaults with a local cluster.
#[derive(Clone, Debug)]
pub struct IndexerConfig {
    /// Base URLs of the cluster's HTTP endpoints, used round-robin (e.g. `http://127.0.0.1:9200`).
    pub hosts: Vec<String>,
    /// An Elastic Cloud ID; when set it adds its Elasticsearch endpoint in front of `hosts`.
    pub cloud_id: Option<String>,
    pub auth: Auth,
    /// A PEM file of CA certificates to trust instead of the system's roots.
    pub ca_certs: Option<PathBuf>,
    /// `false` accepts any server certificate (test clusters only).
    pub verify_certs: bool,
    /// Serialized NDJSON bytes per `_bulk` request. 2 MiB (Elastic's service: 3): with
    /// `channel_bytes` the setting that sets peak memory. Measured (docs/PERFORMANCE.md), 4 × 2 MiB
    /// in flight keeps ≥ 300k 1 KiB docs/s to a local `_bulk` endpoint at ~50 MiB peak RSS; 3 MiB
    /// bodies already grow into 4 MiB buffers (85 MiB peak), 8 MiB ones gave 120–170 MiB.
    pub max_batch_bytes: usize,
    /// Actions per `_bulk` request.
    pub max_batch_docs: usize,
    /// A partial batch is sent after this long, so slow connectors still show progress.
    pub flush_interval: Duration,
    /// Concurrent `_bulk` requests across the whole indexer (halved on sustained 429s, down to 1).
    pub max_in_flight: usize,
    /// Byte budget of the queue in front of the indexer, shared by all syncs; senders wait while it is spent.
    /// 4 MiB: enough to keep the batchers busy (a larger queue measured no faster, only bigger).
    pub channel_bytes: usize,
    /// Gzip request bodies (level 1): saves bandwidth to remote clusters at the cost of CPU.
    pub gzip: bool,
    /// Timeout of one `_bulk` request (and of the other small requests).
    pub request_timeout: Duration,
    /// Retries of one action (whole-request failures count too) before it is dead-lettered.
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Where `dead-letter-<index>.ndjson` files are appended.
    pub dead_letter_dir: PathBuf,
    pub on_conflict: ConflictPolicy,
    /// The field stamped with the sync id in full syncs, used to find stale documents afterwards.
    pub stale_field: String,
    /// Timeout of the `_delete_by_query` that removes stale documents (it can run for minutes on big indices).
    pub delete_by_query_timeout: Duration,
}

impl Default for IndexerConfig {
    fn default() -> Self {
        IndexerConfig {
            hosts: vec!["http://127.0.0.1:9200".to_owned()],
            cloud_id: None,
            auth: Auth::None,
            ca_certs: None,
            verify_certs: true,
            max_batch_bytes: 2 << 20,
            max_batch_docs: 5000,
            flush_interval: Duration::from_secs(1),
            max_in_flight: 4,
            channel_bytes: 4 << 20,
            gzip: false,
            request_timeout: Duration::from_secs(60),
            max_retries: 10,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            dead_letter_dir: PathBuf::from("dead-letter"),
            on_conflict: ConflictPolicy::DeadLetter,
            stale_field: "_inlet_sync_id".to_owned(),
            delete_by_query_timeout: Duration::from_secs(30 * 60),
        }
    }
}

impl IndexerConfig {
    /// The endpoint list after expanding the Cloud ID, each without a trailing slash.
    pub(crate) fn endpoints(&self) -> Result<Vec<url::Url>, IndexerError> {
        let mut out = Vec::new();
        if let Some(cloud_id) = &self.cloud_id {
            out.push(cloud_endpoint(cloud_id)?);
        }
        for host in &self.hosts {
            let url = url::Url::parse(host)
                .map_err(|e| IndexerError::Config(format!("host {host:?} is not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(IndexerError::Config(format!(
                    "host {host:?} must start with http:// or https://"
                )));
            }
            out.push(url);
        }
        if out.is_empty() {
            return Err(IndexerError::Config(
                "no `hosts` and no `cloud_id`: nothing to index into".into(),
            ));
        }
        Ok(out)
    }

    pub(crate) fn validate(&self) -> Result<(), IndexerError> {
        let positive = [
            ("max_batch_bytes", self.max_batch_bytes),
            ("max_batch_docs", self.max_batch_docs),
            ("max_in_flight", self.max_in_flight),
            ("channel_bytes", self.channel_bytes),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(IndexerError::Config(format!(
                    "`{name}` must be greater than 0"
                )));
            }
        }
        if self.stale_field.is_empty()
            || self.stale_field.contains('"')
            || self.stale_field.contains('\\')
        {
            return Err(IndexerError::Config(format!(
                "`stale_field` {:?} is not a usable field name",
                self.stale_field
            )));
        }
        Ok(())
    }
}

/// Elastic Cloud ID: `name:base64("host[:port]$es_uuid$kibana_uuid")` → `https://es_uuid.host[:port]`.
pub fn cloud_endpoint(cloud_id: &str) -> Result<url::Url, IndexerError> {
    let bad = |why: &str| {
        IndexerError::Config(format!("cloud_id is not a valid Elastic Cloud ID: {why}"))
    };
    let encoded = cloud_id.rsplit_once(':').map_or(cloud_id, |(_, data)| data);
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad("its data part is not base64"))?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad("its data part is not UTF-8"))?;
    let mut parts = decoded.split('$');
    let host = parts
        .next()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?;
    let es_uuid = parts
        .next()
        .filter(|u| !u.is_empty())
        .ok_or_else(|| bad("no Elasticsearch id"))?;
    let (host, port) = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h, Some(p)),
        _ => (host, None),
    };
    let url = match port {
        Some(port) if port != "443" => format!("https://{es_uuid}.{host}:{port}"),
        _ => format!("https://{es_uuid}.{host}"),
    };
    url::Url::parse(&url).map_err(|e| bad(&e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_id_expands_to_the_elasticsearch_endpoint() {
        let data = base64::engine::general_purpose::STANDARD
            .encode("us-east-1.aws.found.io$abc123$kib456");
        let url = cloud_endpoint(&format!("my-deployment:{data}")).unwrap();
        assert_eq!(url.as_str(), "https://abc123.us-east-1.aws.found.io/");
        let data = base64::engine::general_purpose::STANDARD.encode("example.com:9243$es$kb");
        assert_eq!(
            cloud_endpoint(&format!("x:{data}")).unwrap().as_str(),
            "https://es.example.com:9243/"
        );
        assert!(cloud_endpoint("x:not base64!").is_err());
    }

    #[test]
    fn api_key_accepts_encoded_and_id_colon_key() {
        assert_eq!(api_key_header("aWQ6a2V5"), "ApiKey aWQ6a2V5");
        assert_eq!(api_key_header("id:key"), "ApiKey aWQ6a2V5");
        let basic = Auth::Basic {
            username: "elastic".into(),
            password: "changeme".into(),
        };
        assert_eq!(
            basic.header_value().unwrap(),
            "Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="
        );
        assert!(!format!("{basic:?}").contains("changeme"));
    }
}
