//! HTTP to the cluster: one pooled `reqwest` client, round-robin over the endpoints, auth headers, TLS.
//! It does one attempt per call; deciding what to retry is `bulk.rs`'s job, because only it knows which
//! items a failure affects.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue};

use crate::{IndexerConfig, IndexerError};

/// The answer to one request: status and the whole body (bulk responses are small thanks to `filter_path`).
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Bytes,
    pub url: String,
}

/// A request that got no HTTP answer (refused, reset, timed out, TLS failure).
#[derive(Debug)]
pub(crate) struct TransportError {
    pub url: String,
    pub reason: String,
    /// No connection could be made (as opposed to a timeout or a reset on an open one).
    pub connect: bool,
}

/// One request to send; `path` starts with `/`, `query` is already encoded.
pub(crate) struct Request<'a> {
    pub method: reqwest::Method,
    pub path: &'a str,
    pub query: &'a str,
    /// `None` keeps the indexer's global credentials.
    pub auth: Option<&'a HeaderValue>,
    pub body: Option<(Bytes, &'static str)>,
    pub gzip: bool,
    pub timeout: Option<Duration>,
}

pub(crate) struct Transport {
    client: reqwest::Client,
    endpoints: Vec<url::Url>,
    next: AtomicUsize,
    auth: Option<HeaderValue>,
    /// Per endpoint: milliseconds since `epoch` until which it is skipped after a connection failure, so one
    /// dead node of several does not eat every other request's retries.
    down_until: Vec<AtomicU64>,
    epoch: Instant,
}

/// How long an endpoint that refused a connection is left alone.
const DOWN_FOR: Duration = Duration::from_secs(5);

impl Transport {
    pub(crate) fn new(cfg: &IndexerConfig) -> Result<Arc<Transport>, IndexerError> {
        let endpoints = cfg.endpoints()?;
        let auth = cfg
            .auth
            .header_value()
            .map(|v| secret_header(&v))
            .transpose()?;
        let builder = reqwest::Client::builder()
            .timeout(cfg.request_timeout)
            .connect_timeout(Duration::from_secs(10).min(cfg.request_timeout))
            .tcp_nodelay(true)
            // Enough idle connections for every in-flight request plus the stale-deletion calls.
            .pool_max_idle_per_host(cfg.max_in_flight * 2 + 2)
            .user_agent(concat!("inlet-indexer/", env!("CARGO_PKG_VERSION")));
        // Always preconfigured: reqwest built without a default crypto provider panics otherwise, even for http.
        let builder = builder.tls_backend_preconfigured(crate::tls::client_config(
            cfg.ca_certs.as_deref(),
            cfg.verify_certs,
        )?);
        let client = builder
            .build()
            .map_err(|e| IndexerError::Config(format!("cannot build the HTTP client: {e}")))?;
        let down_until = endpoints.iter().map(|_| AtomicU64::new(0)).collect();
        Ok(Arc::new(Transport {
            client,
            endpoints,
            next: AtomicUsize::new(0),
            auth,
            down_until,
            epoch: Instant::now(),
        }))
    }

    pub(crate) fn endpoints(&self) -> &[url::Url] {
        &self.endpoints
    }

    /// Sends one request to the next endpoint in turn, skipping endpoints recently found down
    /// (unless all are).
    pub(crate) async fn send(&self, req: Request<'_>) -> Result<Reply, TransportError> {
        let n = self.endpoints.len();
        let now = self.epoch.elapsed().as_millis() as u64;
        let first = self.next.fetch_add(1, Ordering::Relaxed);
        let i = (0..n)
            .map(|k| (first + k) % n)
            .find(|&i| self.down_until[i].load(Ordering::Relaxed) <= now)
            .unwrap_or(first % n);
        let result = self.send_to(&self.endpoints[i], req).await;
        if let Err(e) = &result
            && e.connect
            && n > 1
        {
            let until = self.epoch.elapsed().as_millis() as u64 + DOWN_FOR.as_millis() as u64;
            self.down_until[i].store(until, Ordering::Relaxed);
            tracing::warn!(url = %self.endpoints[i], "endpoint unreachable; using the others for {DOWN_FOR:?}");
        }
        result
    }

    pub(crate) async fn send_to(
        &self,
        base: &url::Url,
        req: Request<'_>,
    ) -> Result<Reply, TransportError> {
        let url = join(base, req.path, req.query);
        let mut rb = self
            .client
            .request(req.method, &url)
            .header("accept", "application/json");
        if let Some(auth) = req.auth.or(self.auth.as_ref()) {
            rb = rb.header(AUTHORIZATION, auth.clone());
        }
        if let Some((body, content_type)) = req.body {
            rb = rb.header(CONTENT_TYPE, content_type).body(body);
            if req.gzip {
                rb = rb.header(CONTENT_ENCODING, "gzip");
            }
        }
        if let Some(timeout) = req.timeout {
            rb = rb.timeout(timeout);
        }
        let fail = |e: reqwest::Error| TransportError {
            url: url.clone(),
            reason: describe(&e),
            connect: e.is_connect(),
        };
        let resp = rb.send().await.map_err(fail)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(fail)?;
        Ok(Reply { status, body, url })
    }
}

/// A header value for a credential, flagged sensitive so it never shows in debug output.
pub(crate) fn secret_header(value: &str) -> Result<HeaderValue, IndexerError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        IndexerError::Config("credentials contain characters not allowed in an HTTP header".into())
    })?;
    v.set_sensitive(true);
    Ok(v)
}

fn join(base: &url::Url, path: &str, query: &str) -> String {
    let base = base.as_str().trim_end_matches('/');
    if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    }
}

/// reqwest's `Display` stops at the outermost error ("error sending request"); the cause chain says what to fix.
fn describe(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "timed out".to_owned()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
