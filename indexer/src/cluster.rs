//! `GET /`: which product and version answers, with errors that tell the operator what to fix.

use serde::Deserialize;

use crate::IndexerError;
use crate::response::request_error;
use crate::transport::{Request, Transport};

/// Which search engine the cluster runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Distribution {
    Elasticsearch,
    OpenSearch,
}

/// What `GET /` told us about the cluster.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ClusterInfo {
    pub distribution: Distribution,
    /// e.g. `8.15.0`, `9.1.2`, `2.19.1`.
    pub version: String,
    pub major: u32,
    pub cluster_name: String,
    /// The endpoint that answered.
    pub url: String,
}

#[derive(Deserialize)]
struct Root {
    #[serde(default)]
    cluster_name: String,
    version: Version,
}

#[derive(Deserialize)]
struct Version {
    number: String,
    #[serde(default)]
    distribution: Option<String>,
}

/// Asks each endpoint in turn; the first good answer wins, otherwise the most telling error is returned
/// (an auth failure is more useful than "connection refused" from a second host).
pub(crate) async fn detect(transport: &Transport) -> Result<ClusterInfo, IndexerError> {
    let mut last = None;
    for base in transport.endpoints() {
        let req = Request {
            method: reqwest::Method::GET,
            path: "/",
            query: "",
            auth: None,
            body: None,
            gzip: false,
            timeout: None,
        };
        let err = match transport.send_to(base, req).await {
            Err(e) => IndexerError::Unreachable {
                url: e.url,
                reason: e.reason,
            },
            Ok(reply) if reply.status == 401 || reply.status == 403 => {
                let info = request_error(reply.status, &reply.body);
                return Err(IndexerError::Unauthorized {
                    url: reply.url,
                    what: "GET /".into(),
                    status: reply.status,
                    reason: info.reason,
                    hint: if reply.status == 403 {
                        " (the key needs the `monitor` cluster privilege)".into()
                    } else {
                        String::new()
                    },
                });
            }
            Ok(reply) if reply.status != 200 => {
                let info = request_error(reply.status, &reply.body);
                IndexerError::Unexpected {
                    url: reply.url,
                    what: "GET /".into(),
                    status: reply.status,
                    reason: info.reason,
                }
            }
            Ok(reply) => match serde_json::from_slice::<Root>(&reply.body) {
                Ok(root) => return Ok(info(root, reply.url)),
                Err(e) => IndexerError::Unexpected {
                    url: reply.url,
                    what: "GET /".into(),
                    status: 200,
                    reason: format!("not an Elasticsearch/OpenSearch answer ({e})"),
                },
            },
        };
        tracing::warn!(error = %err, "search cluster endpoint not usable");
        last = Some(err);
    }
    Err(last.unwrap_or_else(|| IndexerError::Config("no endpoints".into())))
}

fn info(root: Root, url: String) -> ClusterInfo {
    let distribution = match root.version.distribution.as_deref() {
        Some(d) if d.eq_ignore_ascii_case("opensearch") => Distribution::OpenSearch,
        _ => Distribution::Elasticsearch,
    };
    let major = root
        .version
        .number
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    let supported = match distribution {
        Distribution::Elasticsearch => major >= 7,
        Distribution::OpenSearch => major >= 1,
    };
    if !supported {
        tracing::warn!(version = %root.version.number, "untested cluster version; the `_bulk` API may differ");
    }
    ClusterInfo {
        distribution,
        version: root.version.number,
        major,
        cluster_name: root.cluster_name,
        url,
    }
}
