//! A small JSON client for Elasticsearch: one pooled `reqwest` client, Elastic's auth options,
//! TLS with rustls on ring (the indexer's build), and errors that name the request and status.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use inlet_policy::config;

/// Why a request to Elasticsearch failed. Every variant but `Config` names the request
/// (`method`, the full `url`) so a log line says which call failed.
#[derive(Debug, thiserror::Error)]
pub enum EsError {
    /// `elasticsearch.*` cannot make a client (no host, a bad URL, credentials not allowed in a
    /// header, an unreadable `ca_certs`): nothing was sent.
    #[error("elasticsearch: {0}")]
    Config(String),
    /// No HTTP answer (refused connection, TLS failure, timeout). `inlet config check` takes it
    /// for a cluster that is down, not for a configuration error.
    #[error("{method} {url}: no answer from Elasticsearch ({reason})")]
    Transport {
        /// The HTTP method.
        method: String,
        /// The request's URL.
        url: String,
        /// The transport error and its causes.
        reason: String,
    },
    /// An answer outside 2xx.
    #[error("{method} {url}: HTTP {status}: {reason}")]
    Status {
        /// The HTTP method.
        method: String,
        /// The request's URL.
        url: String,
        /// The HTTP status (409: a version conflict; 404: no such document or index).
        status: u16,
        /// `type: reason` of Elasticsearch's error body, else the body's first 300 characters.
        reason: String,
    },
    /// A 2xx answer whose body is not JSON.
    #[error("{method} {url}: the answer is not JSON ({reason})")]
    Decode {
        /// The HTTP method.
        method: String,
        /// The request's URL.
        url: String,
        /// The JSON parser's error.
        reason: String,
    },
    /// JSON, but not in the shape Elasticsearch answers with (a field of another type).
    #[error("{method} {url}: the answer is not what Elasticsearch sends ({reason})")]
    Shape {
        /// The HTTP method.
        method: String,
        /// The request's URL.
        url: String,
        /// The offending field's path and what was expected there.
        reason: String,
    },
}

impl EsError {
    /// The HTTP status, when Elasticsearch answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            EsError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A version conflict: someone else changed the document since we read it.
    pub(crate) fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }

    /// A 404: no such document or index.
    pub(crate) fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// Where the cluster is and how to authenticate, from `elasticsearch.*`.
#[derive(Clone)]
pub struct EsSettings {
    /// `elasticsearch.host` (or the endpoint of `cloud_id`), without a trailing slash.
    pub(crate) url: String,
    /// The `Authorization` header value, if any.
    pub(crate) auth: Option<secrecy::SecretString>,
    /// `elasticsearch.verify_certs`: whether the server's certificate is checked.
    pub(crate) verify_certs: bool,
    /// `elasticsearch.ca_certs`: a PEM file of extra trusted roots, resolved against the folder
    /// of config.yml.
    pub(crate) ca_certs: Option<std::path::PathBuf>,
    /// `elasticsearch.request_timeout` (at least 1 s; 30 s in [`EsSettings::plain`]): the
    /// budget of one whole request (`inlet config check` shortens it).
    pub request_timeout: Duration,
}

impl std::fmt::Debug for EsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EsSettings")
            .field("url", &self.url)
            .field("auth", &self.auth.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl EsSettings {
    /// Elastic's rules: `api_key` (encoded, or `id:key`) wins over `username`/`password`;
    /// `cloud_id` stands for `host`. A relative `ca_certs` is relative to `config_dir`, the
    /// folder of config.yml, as every path in it is (the bulk indexer reads the same file).
    pub fn from_config(es: &config::Elasticsearch, config_dir: &Path) -> Result<Self, EsError> {
        let url = match (&es.host, &es.cloud_id) {
            (Some(host), _) => host.trim_end_matches('/').to_owned(),
            (None, Some(cloud_id)) => inlet_indexer::cloud_endpoint(cloud_id)
                .map_err(|e| EsError::Config(e.to_string()))?
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
            (None, None) => {
                return Err(EsError::Config(
                    "set elasticsearch.host (or cloud_id) to serve Kibana".into(),
                ));
            }
        };
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(EsError::Config(format!(
                "elasticsearch.host {url:?} must start with http:// or https://"
            )));
        }
        // The same credentials, with the same precedence, as the bulk indexer's.
        let auth = inlet_engine::service::cluster_auth(es).header_value();
        Ok(EsSettings {
            url,
            auth: auth.map(secrecy::SecretString::from),
            verify_certs: es.verify_certs,
            // `join` keeps an absolute path as it is.
            ca_certs: es.ca_certs.as_ref().map(|p| config_dir.join(p)),
            request_timeout: Duration::from_secs(es.request_timeout.max(1)),
        })
    }

    /// Plain settings for a cluster without auth (tests, local clusters).
    pub fn plain(url: &str) -> Self {
        EsSettings {
            url: url.trim_end_matches('/').to_owned(),
            auth: None,
            verify_certs: true,
            ca_certs: None,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Percent-encodes one path segment (connector and job ids are user-chosen).
pub(crate) fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string from pairs.
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}

/// A JSON client for one cluster: one connection pool, the credentials sent with every request
/// (as a header marked sensitive, which reqwest never prints). Cheap to clone.
#[derive(Clone)]
pub struct EsClient {
    http: reqwest::Client,
    base: Arc<str>,
    auth: Option<HeaderValue>,
}

impl EsClient {
    /// A client for the cluster `settings` name; fails only on settings that cannot make one
    /// (see [`EsError::Config`]), without sending anything.
    pub fn new(settings: &EsSettings) -> Result<Self, EsError> {
        let auth = settings
            .auth
            .as_ref()
            .map(|a| {
                let mut v = HeaderValue::from_str(a.expose_secret()).map_err(|_| {
                    EsError::Config(
                        "the credentials contain characters not allowed in a header".into(),
                    )
                })?;
                v.set_sensitive(true);
                Ok::<_, EsError>(v)
            })
            .transpose()?;
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(Duration::from_secs(10).min(settings.request_timeout))
            .user_agent(concat!("inlet/", env!("CARGO_PKG_VERSION"), "/service"))
            // reqwest built without a default crypto provider needs its TLS preconfigured, even
            // for plain http.
            .tls_backend_preconfigured(tls_config(settings)?)
            .build()
            .map_err(|e| EsError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(EsClient {
            http,
            base: settings.url.clone().into(),
            auth,
        })
    }

    /// The cluster's base URL, for messages.
    pub(crate) fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends one request; `path` starts with `/` and may carry a query. A 2xx answer's JSON body
    /// is returned (`null` when empty); anything else is an [`EsError`].
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, EsError> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method.clone(), &url)
            // Elastic's service identifies itself this way for its system indices.
            .header("X-elastic-product-origin", "connectors");
        if let Some(auth) = &self.auth {
            req = req.header(AUTHORIZATION, auth.clone());
        }
        if let Some(body) = body {
            req = req
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.to_string());
        }
        let transport = |e: reqwest::Error| EsError::Transport {
            method: method.to_string(),
            url: url.clone(),
            reason: error_chain(&e),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(transport)?;
        if !(200..300).contains(&status) {
            return Err(EsError::Status {
                method: method.to_string(),
                url,
                status,
                reason: reason(&bytes),
            });
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| EsError::Decode {
            method: method.to_string(),
            url,
            reason: e.to_string(),
        })
    }

    /// [`EsClient::send`], the answer read as `T`; a field of the wrong type is named in the
    /// error by its path.
    pub(crate) async fn send_as<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, EsError> {
        let v = self.send(method.clone(), path, body).await?;
        serde_path_to_error::deserialize(v).map_err(|e| EsError::Shape {
            method: method.to_string(),
            url: format!("{}{path}", self.base),
            reason: e.to_string(),
        })
    }
}

/// Elasticsearch's error body: `{"error": {"type", "reason"}}`, or `{"error": "text"}` from
/// some proxies and older endpoints.
#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorField,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Typed {
        #[serde(rename = "type")]
        kind: String,
        reason: String,
    },
    Text(String),
}

/// `type: reason` from Elasticsearch's error body, else the start of the body.
fn reason(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body).map(|b| b.error) {
        Ok(ErrorField::Typed { kind, reason }) => return format!("{kind}: {reason}"),
        Ok(ErrorField::Text(text)) => return text,
        Err(_) => {}
    }
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().take(300).collect();
    if text.trim().is_empty() {
        "(empty body)".into()
    } else {
        text
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn tls_config(settings: &EsSettings) -> Result<rustls::ClientConfig, EsError> {
    inlet_indexer::tls::client_config(settings.ca_certs.as_deref(), settings.verify_certs)
        .map_err(|e| EsError::Config(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_ca_file_is_relative_to_the_config_folder() {
        let es = |ca: &str| -> config::Elasticsearch {
            serde_yaml_ng::from_str(&format!("host: https://es.example:9200\nca_certs: {ca}"))
                .expect("elasticsearch section")
        };
        let dir = Path::new("/etc/inlet");
        let relative = EsSettings::from_config(&es("certs/ca.pem"), dir).expect("settings");
        assert_eq!(
            relative.ca_certs.as_deref(),
            Some(Path::new("/etc/inlet/certs/ca.pem"))
        );
        let absolute = EsSettings::from_config(&es("/opt/ca.pem"), dir).expect("settings");
        assert_eq!(absolute.ca_certs.as_deref(), Some(Path::new("/opt/ca.pem")));
    }

    #[test]
    fn error_reasons_from_elasticsearchs_bodies() {
        let typed = br#"{"error": {"root_cause": [], "type": "version_conflict_engine_exception", "reason": "[c1]: version conflict"}, "status": 409}"#;
        assert_eq!(
            reason(typed),
            "version_conflict_engine_exception: [c1]: version conflict"
        );
        assert_eq!(
            reason(br#"{"error": "no handler found"}"#),
            "no handler found"
        );
        // Neither shape: the start of the body.
        let odd = br#"{"error": {"type": "x", "reason": null}}"#;
        assert_eq!(reason(odd), String::from_utf8_lossy(odd));
        assert_eq!(
            reason(b"<html>bad gateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(reason(b" "), "(empty body)");
    }
}
