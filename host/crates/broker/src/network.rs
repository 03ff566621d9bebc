//! One connector's request pipeline, the single policy path every plugin request takes:
//! URL → allowlist → credential rules → concurrency and rate limits → DNS → address check →
//! credential injection → send → (OAuth2: one retry with a fresh token after a 401) →
//! response limits.

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderName;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

use super::credentials::{Credential, Injection};
use super::metrics::HttpMetrics;
use super::route::Route;
use super::send::{self, BodyWatch, Connect, LimitedBody, Timeouts};
use inlet_policy::config::credentials::HttpLimits;
use inlet_policy::guest_output::{GuestLog, Level as LogLevel};
use inlet_policy::http::{Denial, DenyRule, OriginPattern, Policy, Target};

/// Request bodies up to this size are kept so a request can be sent again after an OAuth2
/// token refresh; a larger body is streamed and a 401 goes back to the plugin.
const REPLAY_BUFFER: usize = 1024 * 1024;

/// Longest local lookup of a proxied target's name for the address check: behind a proxy,
/// external names may not resolve here at all, and a DNS server that drops queries must not
/// add the whole connect timeout to every request.
const PROXIED_LOOKUP: Duration = Duration::from_secs(2);

/// The limits in force for one connector.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub timeouts: Timeouts,
    pub max_response_bytes: u64,
    pub max_concurrent_requests: u32,
    pub requests_per_second: Option<f64>,
}

impl Limits {
    pub(crate) fn from_config(c: &HttpLimits) -> Self {
        Limits {
            timeouts: Timeouts {
                connect: Duration::from_secs(c.connect_timeout_secs.unwrap_or(10)),
                first_byte: Duration::from_secs(c.first_byte_timeout_secs.unwrap_or(60)),
                between_bytes: Duration::from_secs(c.between_bytes_timeout_secs.unwrap_or(60)),
            },
            max_response_bytes: c.max_response_bytes.unwrap_or(100 * 1024 * 1024),
            max_concurrent_requests: c.max_concurrent_requests.unwrap_or(16),
            requests_per_second: c.requests_per_second,
        }
    }
}

/// What a connector's syncs share: counters, the concurrency limit, the rate limiter and the
/// keep-alive connections.
pub(crate) struct Shared {
    pub metrics: Arc<HttpMetrics>,
    concurrency: Arc<tokio::sync::Semaphore>,
    rate: Option<RateLimiter>,
    pool: send::Pool,
    /// Direct or through the operator's proxy, and the CAs TLS trusts.
    route: Arc<Route>,
}

impl Shared {
    pub(crate) fn new(limits: &Limits, route: Arc<Route>) -> Self {
        Shared {
            route,
            metrics: Arc::default(),
            concurrency: Arc::new(tokio::sync::Semaphore::new(
                limits.max_concurrent_requests as usize,
            )),
            rate: limits.requests_per_second.map(|rps| RateLimiter {
                interval: Duration::from_secs_f64(1.0 / rps),
                next: Mutex::new(tokio::time::Instant::now()),
            }),
            pool: send::Pool::default(),
        }
    }
}

/// Spaces request starts evenly; a request over the rate waits (the plugin sees latency, not
/// an error).
struct RateLimiter {
    interval: Duration,
    next: Mutex<tokio::time::Instant>,
}

impl RateLimiter {
    async fn wait(&self) {
        let slot = {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = tokio::time::Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Distinct denials logged at WARN per connector network (one sync); a plugin trying 30,000
/// origins gets this many lines and one saying the rest go to DEBUG.
pub(crate) const WARNED_DENIALS: usize = 64;
/// Longest denial message logged, in characters.
const MAX_DENIAL_CHARS: usize = 600;

/// How a denial is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DenialLevel {
    /// First time seen.
    Warn,
    /// First time seen, and the last distinct one at WARN: say that the rest go to DEBUG.
    WarnLast,
    /// A repeat, or past the cap.
    Debug,
}

/// The distinct denials already logged at WARN, at most [`WARNED_DENIALS`] of them, so the
/// memory a plugin can make the host hold here is bounded too.
#[derive(Debug, Default)]
struct DenialLog {
    warned: HashSet<(DenyRule, String)>,
    capped: bool,
}

impl DenialLog {
    fn record(&mut self, rule: DenyRule, message: &str) -> DenialLevel {
        if self.capped || !self.warned.insert((rule, message.to_owned())) {
            return DenialLevel::Debug;
        }
        if self.warned.len() < WARNED_DENIALS {
            DenialLevel::Warn
        } else {
            self.capped = true;
            DenialLevel::WarnLast
        }
    }
}

/// `text` for a log line: control characters escaped (`\n`, `\u{1b}`), so text from a plugin
/// cannot start a line of its own, and cut to `max` characters.
fn loggable(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 32);
    for (n, (i, c)) in text.char_indices().enumerate() {
        if n == max {
            out.push_str(&format!("… ({} more bytes)", text.len() - i));
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// One connector's brokered HTTP, built for each plugin instance by
/// [`capabilities::grant`](crate::capabilities::grant) (its declared ∩ granted origins, the
/// credentials bound to them, `grants.http_limits`) and used, as its
/// [`HttpBroker`](inlet_runtime::brokers::HttpBroker), by the instance's `wasi:http` hooks in
/// the runtime. The counters, limiters and keep-alive connections behind it
/// are per connector and outlive the instance.
pub struct ConnectorNetwork {
    connector_id: String,
    policy: Policy,
    credentials: Vec<Arc<Credential>>,
    limits: Limits,
    limits_key: String,
    shared: Arc<Shared>,
    /// Which denials were logged at WARN; repeats, and anything past the first few distinct
    /// ones, go to DEBUG.
    denials: Mutex<DenialLog>,
    /// The plugin instance's log pipe: denial lines go through its rate limit, like the
    /// plugin's own lines, so provoking refusals cannot flood the log either.
    log: OnceLock<GuestLog>,
}

impl inlet_runtime::brokers::HttpBroker for ConnectorNetwork {
    /// Routes this network's denial lines through the instance's log budget (set once, when
    /// the instance is built).
    fn attach_log(&self, log: GuestLog) {
        let _ = self.log.set(log);
    }

    /// Headers the plugin may not set (nor see in responses): wasi-http's defaults, plus every
    /// header a granted credential injects.
    fn forbidden_headers(&self) -> HashSet<HeaderName> {
        let mut set: HashSet<HeaderName> = wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS
            .iter()
            .cloned()
            .collect();
        set.extend(self.credentials.iter().flat_map(|c| c.header_names()));
        set
    }

    fn handle(
        self: Arc<Self>,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> inlet_runtime::brokers::BoxFuture<'static, Result<http::Response<WasiBody>, Error>> {
        Box::pin(self.serve(request, options))
    }
}

impl ConnectorNetwork {
    pub(super) fn new(
        connector_id: String,
        policy: Policy,
        credentials: Vec<Arc<Credential>>,
        limits: Limits,
        limits_key: String,
        shared: Arc<Shared>,
    ) -> Self {
        ConnectorNetwork {
            connector_id,
            policy,
            credentials,
            limits,
            limits_key,
            shared,
            denials: Mutex::new(DenialLog::default()),
            log: OnceLock::new(),
        }
    }

    fn warn(&self, rule: &str, message: &str) {
        match self.log.get() {
            // Every denial message names its rule already.
            Some(log) => log.host_event(LogLevel::Warn, message),
            None => tracing::warn!(connector_id = %self.connector_id, rule, "{message}"),
        }
    }

    #[cfg(test)]
    pub(crate) fn metrics(&self) -> &Arc<HttpMetrics> {
        &self.shared.metrics
    }

    /// Counts, logs (the first time a distinct denial is seen, at WARN, for the first
    /// [`WARNED_DENIALS`] of them) and turns a denial into the plugin's error.
    pub(crate) fn deny(&self, denial: Denial) -> Error {
        self.shared.metrics.add_denied(denial.rule);
        // The message carries the plugin's URL or host: escaped and cut, so it can neither
        // forge a log line nor make one huge.
        let message = loggable(&denial.message, MAX_DENIAL_CHARS);
        let level = self
            .denials
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .record(denial.rule, &message);
        let rule = denial.rule.as_str();
        match level {
            DenialLevel::Warn => self.warn(rule, &message),
            DenialLevel::WarnLast => {
                self.warn(rule, &message);
                tracing::warn!(
                    connector_id = %self.connector_id,
                    "{WARNED_DENIALS} distinct requests of this connector were refused; further distinct refusals are logged at DEBUG only (counted in inlet_http_requests_total{{decision=\"denied\"}})"
                );
            }
            DenialLevel::Debug => {
                tracing::debug!(connector_id = %self.connector_id, rule, "{message}");
            }
        }
        Error::HttpRequestDenied
    }

    /// Timeouts: the connector's, shortened (never lengthened) by the plugin's request options.
    fn timeouts(&self, options: Option<RequestOptions>) -> Timeouts {
        let ours = self.limits.timeouts;
        let pick = |mine: Duration, theirs: Option<Duration>| match theirs {
            Some(t) if t < mine => t.max(Duration::from_millis(1)),
            _ => mine,
        };
        let o = options.unwrap_or_default();
        Timeouts {
            connect: pick(ours.connect, o.connect_timeout),
            first_byte: pick(ours.first_byte, o.first_byte_timeout),
            between_bytes: pick(ours.between_bytes, o.between_bytes_timeout),
        }
    }

    /// Sends one plugin request through the policy.
    pub(crate) async fn serve(
        self: Arc<Self>,
        req: http::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<http::Response<WasiBody>, Error> {
        let target = Target::checked(req.uri()).map_err(|d| self.deny(d))?;
        let matched = self.policy.check(&target).map_err(|d| self.deny(d))?;
        let bound: Vec<&Arc<Credential>> = self
            .credentials
            .iter()
            .filter(|c| c.applies_to(&target))
            .collect();
        if let Some(c) = bound.iter().find(|c| {
            c.query_param()
                .is_some_and(|p| has_query_param(req.uri(), p))
        }) {
            return Err(self.deny(Denial {
                rule: DenyRule::CredentialParam,
                message: format!(
                    "request to {} refused (rule: credential_param): the plugin set the query parameter `{}` that credential `{}` injects",
                    target.origin(),
                    c.query_param().unwrap_or_default(),
                    c.name()
                ),
            }));
        }
        let permit = self
            .shared
            .concurrency
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::InternalError(Some("the connector's network is closed".into())))?;
        if let Some(rate) = &self.shared.rate {
            rate.wait().await;
        }
        let timeouts = self.timeouts(options);
        let metrics = self.shared.metrics.clone();
        let addrs = self.addresses(&target, &matched, timeouts).await?;
        metrics.add_allowed();

        let connect = Connect {
            timeouts,
            route: self.shared.route.clone(),
        };
        let (parts, body) = req.into_parts();
        // Kept for a second send: after a 401 with an OAuth2 token, or when a kept-alive
        // connection closed under an idempotent request.
        let idempotent = parts.method.is_idempotent();
        let wants_replay = idempotent || bound.iter().any(|c| c.is_oauth2() || c.signs_body());
        let mut body = Outgoing::prepare(body, wants_replay).await?;
        let started = Instant::now();
        let mut retried = false;
        let mut fresh = false;
        loop {
            let mut req = http::Request::builder()
                .method(parts.method.clone())
                .uri(parts.uri.clone())
                .version(parts.version)
                .body(body.take(&metrics))
                .map_err(|_| Error::HttpRequestUriInvalid)?;
            *req.headers_mut() = parts.headers.clone();
            let token = self
                .inject(&mut req, &bound, &connect, &target, body.whole())
                .await?;
            let res = match connect
                .send_pooled(&self.shared.pool, &target, &addrs, req, fresh)
                .await
            {
                Ok(res) => res,
                Err(f) if f.reused && idempotent && body.replayable() && !fresh => {
                    tracing::debug!(connector_id = %self.connector_id, origin = %target.origin(), "a kept-alive connection closed under the request; sending it again on a new one");
                    fresh = true;
                    continue;
                }
                Err(f) => {
                    self.wire_error(&target, &f.error);
                    return Err(f.error);
                }
            };
            if res.status() == http::StatusCode::UNAUTHORIZED
                && let Some((client, generation)) = token
            {
                // The token may have been revoked before its expiry: the client drops it (at
                // most once per interval, so a source that refuses every token cannot turn
                // each request into a token request), and this request is sent once more if
                // its body was kept and a newer token is coming. A second 401 goes to the
                // plugin.
                let renewed = client.refused(generation).await;
                if renewed && !retried && body.replayable() {
                    tracing::debug!(connector_id = %self.connector_id, origin = %target.origin(), "401 with an OAuth2 token; retrying once with a new token");
                    metrics.add_auth_retry();
                    retried = true;
                    drop(res);
                    continue;
                }
            }
            return self.respond(res, &target, &parts, started, permit);
        }
    }

    /// Adds every bound credential; the first credential (in grant order) claiming a header
    /// wins. Returns the OAuth2 token used, for a refresh after a 401.
    async fn inject<'a>(
        &'a self,
        req: &mut http::Request<WasiBody>,
        bound: &[&'a Arc<Credential>],
        connect: &Connect,
        target: &Target,
        body: Option<&Bytes>,
    ) -> Result<Option<(&'a super::credentials::OAuth2, u64)>, Error> {
        let mut claimed: HashSet<HeaderName> = HashSet::new();
        let mut token = None;
        let mut signature = None;
        for &c in bound {
            let injection = c.injection(connect).await.map_err(|e| {
                // A failure repeated from the token client's backoff was logged when it
                // happened.
                if e.repeated {
                    tracing::debug!(connector_id = %self.connector_id, origin = %target.origin(), "{e}; the request fails");
                } else {
                    tracing::warn!(connector_id = %self.connector_id, origin = %target.origin(), "{e}; the request fails");
                }
                self.shared.metrics.add_failed();
                Error::InternalError(Some(format!(
                    "the host could not obtain credential `{}` (see the inlet log)",
                    c.name()
                )))
            })?;
            match injection {
                Injection::Header(name, value) => {
                    if claimed.insert(name.clone()) {
                        req.headers_mut().insert(name, value);
                    }
                }
                Injection::OAuth2 {
                    client,
                    header,
                    generation,
                } => {
                    if claimed.insert(http::header::AUTHORIZATION) {
                        req.headers_mut()
                            .insert(http::header::AUTHORIZATION, header);
                        token = Some((client, generation));
                    }
                }
                Injection::Query(param, value) => {
                    let uri = with_query_param(req.uri(), param, value)?;
                    *req.uri_mut() = uri;
                }
                Injection::SigV4(signer) => {
                    if claimed.insert(http::header::AUTHORIZATION) {
                        signature = Some((Signer::SigV4(signer), c.name()));
                    }
                }
                Injection::AzureSharedKey(signer) => {
                    if claimed.insert(http::header::AUTHORIZATION) {
                        signature = Some((Signer::AzureSharedKey(signer), c.name()));
                    }
                }
            }
            self.shared.metrics.add_injection();
        }
        if let Some((signer, name)) = signature {
            self.sign(req, signer, target, body, name)?;
        }
        Ok(token)
    }

    /// Signs `req` as the wire will carry it: the URL rebuilt from the checked target (its
    /// `Host` is what `send::for_wire` writes), after every other credential was injected (a
    /// query parameter changes what is signed), so the signature comes last.
    fn sign(
        &self,
        req: &mut http::Request<WasiBody>,
        signer: Signer<'_>,
        target: &Target,
        body: Option<&Bytes>,
        credential: &str,
    ) -> Result<(), Error> {
        // The path and query as `send::for_wire` writes them (`http://host?q` goes as `/?q`).
        let path = match req.uri().path_and_query().map(|p| p.as_str()) {
            None | Some("") => "/".to_owned(),
            Some(q) if q.starts_with('?') => format!("/{q}"),
            Some(p) => p.to_owned(),
        };
        let now = std::time::SystemTime::now();
        let signed = match signer {
            Signer::SigV4(signer) => signer.sign(
                req.method().as_str(),
                &format!("{}{path}", target.origin()),
                req.headers(),
                body.map(|b| b.as_ref()),
                now,
            ),
            Signer::AzureSharedKey(signer) => {
                // Shared Key signs the length the wire carries: a body kept whole goes with
                // exactly its length; a streamed one with the plugin's `content-length`, if any.
                if let Some(b) = body
                    && !b.is_empty()
                {
                    req.headers_mut().insert(
                        http::header::CONTENT_LENGTH,
                        http::HeaderValue::from(b.len()),
                    );
                }
                signer.sign(req.method().as_str(), &path, req.headers(), now)
            }
        };
        let headers = signed.map_err(|reason| {
                tracing::warn!(connector_id = %self.connector_id, origin = %target.origin(), "credential `{credential}`: {reason}; the request fails");
                self.shared.metrics.add_failed();
                Error::InternalError(Some(format!("credential `{credential}`: {reason}")))
            })?;
        for (name, value) in headers {
            req.headers_mut().insert(name, value);
        }
        Ok(())
    }

    fn respond(
        &self,
        res: http::Response<hyper::body::Incoming>,
        target: &Target,
        parts: &http::request::Parts,
        started: Instant,
        permit: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<http::Response<WasiBody>, Error> {
        let elapsed = started.elapsed();
        let metrics = &self.shared.metrics;
        metrics.add_response(elapsed);
        // The path only: a query may carry an injected API key.
        tracing::debug!(
            connector_id = %self.connector_id,
            method = %parts.method,
            origin = %target.origin(),
            path = %parts.uri.path(),
            status = res.status().as_u16(),
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            "brokered request"
        );
        let limit = self.limits.max_response_bytes;
        let declared = res
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(len) = declared.filter(|&len| len > limit) {
            metrics.add_oversized();
            tracing::warn!(
                connector_id = %self.connector_id,
                origin = %target.origin(),
                "response from {} declares {len} bytes, over the {limit}-byte limit; refused (raise {}.max_response_bytes if the source needs more)",
                target.origin(),
                self.limits_key
            );
            return Err(Error::HttpResponseBodySize(Some(len)));
        }
        let watch = BodyWatch {
            metrics: metrics.clone(),
            connector_id: self.connector_id.clone(),
            origin: target.origin(),
            limit_key: format!("{}.max_response_bytes", self.limits_key),
            _permit: Some(permit),
        };
        let between = self.limits.timeouts.between_bytes;
        Ok(res.map(|b| LimitedBody::new(b, limit, between, Some(watch)).boxed_unsync()))
    }

    /// The addresses to connect to, after the address policy. Direct: the target's, checked.
    /// Through the proxy: the proxy's (the operator's exception, never checked), once the
    /// target's addresses pass the same check where this host can resolve them. Behind a
    /// proxy the target's name often does not resolve locally (only the proxy can): then the
    /// grant is the check, and the proxy's own rules apply to where it connects.
    async fn addresses(
        &self,
        target: &Target,
        matched: &[&OriginPattern],
        timeouts: Timeouts,
    ) -> Result<Vec<IpAddr>, Error> {
        let Some(proxy) = self.shared.route.proxy_for(target) else {
            let addrs = send::resolve(target, timeouts.connect)
                .await
                .inspect_err(|e| self.wire_error(target, e))?;
            return self
                .policy
                .check_addresses(target, matched, &addrs)
                .map_err(|d| self.deny(d));
        };
        let lookup = timeouts.connect.min(PROXIED_LOOKUP);
        if let Ok(addrs) = send::resolve(target, lookup).await {
            self.policy
                .check_addresses(target, matched, &addrs)
                .map_err(|d| self.deny(d))?;
        }
        send::resolve(proxy.hop(), timeouts.connect)
            .await
            .inspect_err(|e| {
                tracing::warn!(connector_id = %self.connector_id, proxy = %proxy.shown(), error = %e, "cannot resolve the proxy");
                self.wire_error(target, e);
            })
    }

    fn wire_error(&self, target: &Target, e: &Error) {
        self.shared.metrics.add_failed();
        tracing::debug!(connector_id = %self.connector_id, origin = %target.origin(), error = %e, "brokered request failed");
    }
}

fn has_query_param(uri: &http::Uri, param: &str) -> bool {
    uri.query()
        .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == param))
}

fn with_query_param(
    uri: &http::Uri,
    param: &str,
    value: &secrecy::SecretString,
) -> Result<http::Uri, Error> {
    use secrecy::ExposeSecret;
    let mut pair = form_urlencoded::Serializer::new(String::new());
    pair.append_pair(param, value.expose_secret());
    let pair = pair.finish();
    let path = uri.path();
    let pq = match uri.query() {
        Some(q) if !q.is_empty() => format!("{path}?{q}&{pair}"),
        _ => format!("{path}?{pair}"),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq.parse().map_err(|_| Error::HttpRequestUriInvalid)?);
    http::Uri::from_parts(parts).map_err(|_| Error::HttpRequestUriInvalid)
}

/// A credential that signs the whole request, chosen while the others are injected.
#[derive(Clone, Copy)]
enum Signer<'a> {
    SigV4(&'a super::sigv4::SigV4),
    AzureSharedKey(&'a super::azure_shared_key::AzureSharedKey),
}

/// The plugin's request body: kept whole (for a replay) when small and asked for, else
/// streamed once.
enum Outgoing {
    Whole(Bytes),
    Stream(Option<Prefixed>),
}

impl Outgoing {
    async fn prepare(mut body: WasiBody, replay: bool) -> Result<Self, Error> {
        if !replay {
            return Ok(Outgoing::Stream(Some(Prefixed {
                prefix: VecDeque::new(),
                rest: Some(body),
            })));
        }
        let mut prefix: VecDeque<Frame<Bytes>> = VecDeque::new();
        let mut size = 0;
        loop {
            match body.frame().await {
                None => {
                    let mut whole = bytes::BytesMut::with_capacity(size);
                    for f in prefix {
                        if let Ok(d) = Frame::into_data(f) {
                            whole.extend_from_slice(&d);
                        }
                    }
                    return Ok(Outgoing::Whole(whole.freeze()));
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(frame)) => {
                    let data = frame.is_data();
                    size += frame.data_ref().map_or(0, |d| d.len());
                    prefix.push_back(frame);
                    // Trailers or a big body: stream it, no replay.
                    if !data || size > REPLAY_BUFFER {
                        return Ok(Outgoing::Stream(Some(Prefixed {
                            prefix,
                            rest: Some(body),
                        })));
                    }
                }
            }
        }
    }

    fn replayable(&self) -> bool {
        matches!(self, Outgoing::Whole(_))
    }

    /// The whole body, when it was kept.
    fn whole(&self) -> Option<&Bytes> {
        match self {
            Outgoing::Whole(b) => Some(b),
            Outgoing::Stream(_) => None,
        }
    }

    fn take(&mut self, metrics: &Arc<HttpMetrics>) -> WasiBody {
        let inner = match self {
            Outgoing::Whole(b) => Prefixed {
                prefix: VecDeque::from([Frame::data(b.clone())]),
                rest: None,
            },
            Outgoing::Stream(s) => s.take().unwrap_or(Prefixed {
                prefix: VecDeque::new(),
                rest: None,
            }),
        };
        Counted {
            inner,
            metrics: metrics.clone(),
        }
        .boxed_unsync()
    }
}

/// Frames already read, then the rest of the body.
struct Prefixed {
    prefix: VecDeque<Frame<Bytes>>,
    rest: Option<WasiBody>,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if let Some(f) = self.prefix.pop_front() {
            return Poll::Ready(Some(Ok(f)));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }
    fn is_end_stream(&self) -> bool {
        self.prefix.is_empty() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }
    fn size_hint(&self) -> SizeHint {
        let buffered: u64 = self
            .prefix
            .iter()
            .map(|f| f.data_ref().map_or(0, |d| d.len() as u64))
            .sum();
        match &self.rest {
            None => SizeHint::with_exact(buffered),
            Some(r) => {
                let h = r.size_hint();
                let mut out = SizeHint::new();
                out.set_lower(h.lower() + buffered);
                if let Some(u) = h.upper() {
                    out.set_upper(u + buffered);
                }
                out
            }
        }
    }
}

/// Counts request bytes as they go out.
struct Counted {
    inner: Prefixed,
    metrics: Arc<HttpMetrics>,
}

impl Body for Counted {
    type Data = Bytes;
    type Error = Error;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &polled
            && let Some(d) = f.data_ref()
        {
            self.metrics.add_bytes_out(d.len() as u64);
        }
        polled
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_runtime::brokers::HttpBroker as _;

    #[test]
    fn query_param_injection_appends_and_detects() {
        let uri: http::Uri = "http://x.example/a?b=1".parse().expect("uri");
        let secret = secrecy::SecretString::from("k y&z");
        let out = with_query_param(&uri, "api_key", &secret).expect("uri");
        assert_eq!(out.to_string(), "http://x.example/a?b=1&api_key=k+y%26z");
        assert!(has_query_param(&out, "api_key"));
        assert!(!has_query_param(&uri, "api_key"));
        let bare: http::Uri = "http://x.example/".parse().expect("uri");
        assert_eq!(
            with_query_param(&bare, "k", &secret)
                .expect("uri")
                .to_string(),
            "http://x.example/?k=k+y%26z"
        );
    }

    #[test]
    fn plugin_options_only_shorten_timeouts() {
        let limits = Limits::from_config(&HttpLimits::default());
        let net = ConnectorNetwork::new(
            "c".into(),
            Policy {
                declared: vec![],
                granted: vec![],
                grant_key: String::new(),
                plugin: String::new(),
            },
            vec![],
            limits.clone(),
            String::new(),
            Arc::new(Shared::new(&limits, Route::direct())),
        );
        let t = net.timeouts(Some(RequestOptions {
            connect_timeout: Some(Duration::from_secs(1)),
            first_byte_timeout: Some(Duration::from_secs(3600)),
            between_bytes_timeout: None,
        }));
        assert_eq!(t.connect, Duration::from_secs(1));
        assert_eq!(t.first_byte, Duration::from_secs(60));
        assert_eq!(t.between_bytes, Duration::from_secs(60));
        // Authorization is not forbidden without a credential that injects it.
        assert!(
            !net.forbidden_headers()
                .contains(&http::header::AUTHORIZATION)
        );
        assert!(net.forbidden_headers().contains(&http::header::HOST));
    }
}

#[cfg(test)]
mod denial_log {
    use super::*;

    #[test]
    fn distinct_denials_at_warn_are_capped_and_memory_stays_bounded() {
        let mut log = DenialLog::default();
        let mut warn = 0;
        let mut last = 0;
        for i in 0..30_000 {
            let message = format!("request to http://d{i}.example refused (rule: not_granted)");
            match log.record(DenyRule::NotGranted, &message) {
                DenialLevel::Warn => warn += 1,
                DenialLevel::WarnLast => last += 1,
                DenialLevel::Debug => {}
            }
            // A repeat is never a WARN line.
            assert_eq!(
                log.record(DenyRule::NotGranted, &message),
                DenialLevel::Debug
            );
        }
        assert_eq!((warn, last), (WARNED_DENIALS - 1, 1));
        assert_eq!(log.warned.len(), WARNED_DENIALS);
    }

    #[test]
    fn plugin_text_in_log_lines_is_escaped_and_cut() {
        let forged = "request to http://x refused\n2025-01-01T00:00:00Z  INFO inlet::sync: sync completed\u{1b}[2J";
        let out = loggable(forged, 600);
        assert!(!out.chars().any(char::is_control), "{out:?}");
        assert!(out.contains("\\n2025") && out.contains("\\u{1b}"), "{out}");
        let long = "é".repeat(10_000);
        let out = loggable(&long, 600);
        assert_eq!(out.chars().filter(|c| *c == 'é').count(), 600);
        assert!(out.ends_with("… (18800 more bytes)"), "{out}");
        assert_eq!(loggable("plain", 600), "plain");
    }
}

#[cfg(test)]
mod refusing_source {
    //! A source that answers 401 to everything, and its own token endpoint; and what the
    //! server reads in `Host`.
    use std::sync::Mutex as StdMutex;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use inlet_policy::http::OriginPattern;

    #[derive(Default)]
    struct Seen {
        /// (path, Host header) of every request.
        requests: StdMutex<Vec<(String, String)>>,
    }

    impl Seen {
        fn paths(&self, path: &str) -> usize {
            let requests = self.requests.lock().expect("seen");
            requests.iter().filter(|(p, _)| p == path).count()
        }
    }

    /// One request per connection: `/token` answers a token, `/open` 200, anything else 401.
    async fn server() -> (u16, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Seen::default());
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let head_end = loop {
                        let mut chunk = [0u8; 4096];
                        match tcp.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break end;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let path = head
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned();
                    let header = |name: &str| {
                        head.lines()
                            .filter_map(|l| l.split_once(':'))
                            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.trim().to_owned())
                    };
                    let length: usize = header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + 4 + length {
                        let mut chunk = [0u8; 4096];
                        match tcp.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    record
                        .requests
                        .lock()
                        .expect("seen")
                        .push((path.clone(), header("host").unwrap_or_default()));
                    let (status, body) = match path.as_str() {
                        "/token" => (
                            "200 OK",
                            r#"{"access_token":"t","token_type":"Bearer","expires_in":3600}"#,
                        ),
                        "/open" => ("200 OK", "ok"),
                        _ => ("401 Unauthorized", "no"),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tcp.write_all(reply.as_bytes()).await;
                });
            }
        });
        (port, seen)
    }

    fn network(granted: &str, credentials: Vec<Arc<Credential>>) -> Arc<ConnectorNetwork> {
        let limits = Limits::from_config(&HttpLimits::default());
        Arc::new(ConnectorNetwork::new(
            "c".into(),
            Policy {
                declared: vec![OriginPattern::parse("http://*:*").expect("pattern")],
                granted: vec![OriginPattern::parse(granted).expect("pattern")],
                grant_key: "connectors[0].grants.http".into(),
                plugin: "p".into(),
            },
            credentials,
            limits.clone(),
            "connectors[0].grants.http_limits".into(),
            Arc::new(Shared::new(&limits, Route::direct())),
        ))
    }

    /// A GET as wasmtime-wasi-http hands it over: `Host` is the guest's authority, verbatim.
    fn get(url: &str) -> http::Request<WasiBody> {
        let body: WasiBody = http_body_util::Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let uri: http::Uri = url.parse().expect("uri");
        let authority = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        http::Request::get(uri)
            .header(http::header::HOST, authority)
            .body(body)
            .expect("request")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_source_refusing_every_token_costs_two_token_requests_not_one_per_request() {
        let (port, seen) = server().await;
        let origin = format!("http://127.0.0.1:{port}");
        let spec: inlet_policy::config::credentials::CredentialSpec = serde_yaml_ng::from_str(&format!(
            "{{type: oauth2_client_credentials, token_url: \"{origin}/token\", client_id: c, client_secret: s, hosts: [\"{origin}\"]}}"
        ))
        .expect("spec");
        let credential = Arc::new(
            Credential::load("wiki", &spec, std::path::Path::new("."), None).expect("credential"),
        );
        let net = network(&origin, vec![credential.clone()]);
        for _ in 0..200 {
            let res = net
                .clone()
                .serve(get(&format!("{origin}/protected")), None)
                .await
                .expect("a response");
            assert_eq!(res.status(), 401);
        }
        // The first 401 replaces the token once (a revoked token is replaced); after that the
        // 401s go to the plugin and the token stays until the interval has passed.
        assert_eq!(credential.token_fetches(), 2);
        assert_eq!(seen.paths("/token"), 2);
        assert_eq!(seen.paths("/protected"), 201);
        assert_eq!(net.metrics().snapshot().auth_retries, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_server_reads_the_checked_host_never_the_guests_text() {
        let (port, seen) = server().await;
        let net = network(&format!("http://localhost:{port}"), vec![]);
        // The authority as the guest wrote it: upper case, a trailing dot.
        let res = net
            .clone()
            .serve(get(&format!("http://LocalHost.:{port}/open")), None)
            .await
            .expect("allowed");
        assert_eq!(res.status(), 200);
        // User information never passes, whatever the host after it.
        let err = net
            .clone()
            .serve(
                get(&format!("http://evil.example@localhost:{port}/open")),
                None,
            )
            .await
            .expect_err("refused");
        assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
        let requests = seen.requests.lock().expect("seen").clone();
        assert_eq!(
            requests,
            vec![("/open".to_owned(), format!("localhost:{port}"))]
        );
        assert_eq!(
            net.metrics().snapshot().denied,
            vec![(DenyRule::BadUrl.as_str(), 1)]
        );
    }
}

#[cfg(test)]
mod keep_alive {
    //! Plugin requests reuse connections, and an idempotent request that meets a kept-alive
    //! connection the server has just closed is sent again on a new one.
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use inlet_policy::http::OriginPattern;

    #[derive(Default)]
    struct Seen {
        connections: AtomicUsize,
        /// Requests read, answered or not.
        received: AtomicUsize,
        /// Requests answered.
        requests: AtomicUsize,
    }

    /// A keep-alive HTTP/1.1 server answering `ok` to bodiless requests. With
    /// `drop_second`, the first connection closes without an answer when its second request
    /// arrives: what a server does when its idle timeout strikes as a request comes in.
    async fn server(drop_second: bool) -> (u16, Arc<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Seen::default());
        let counts = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let first_connection = counts.connections.fetch_add(1, Ordering::SeqCst) == 0;
                let counts = counts.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut on_this = 0;
                    loop {
                        let mut chunk = [0u8; 4096];
                        let Ok(n) = tcp.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            on_this += 1;
                            counts.received.fetch_add(1, Ordering::SeqCst);
                            if drop_second && first_connection && on_this == 2 {
                                return; // closes the socket, request unanswered
                            }
                            counts.requests.fetch_add(1, Ordering::SeqCst);
                            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                            if tcp.write_all(reply).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (port, seen)
    }

    fn network(port: u16) -> Arc<ConnectorNetwork> {
        let limits = Limits::from_config(&HttpLimits::default());
        let origin = format!("http://127.0.0.1:{port}");
        Arc::new(ConnectorNetwork::new(
            "c".into(),
            Policy {
                declared: vec![OriginPattern::parse("http://*:*").expect("pattern")],
                granted: vec![OriginPattern::parse(&origin).expect("pattern")],
                grant_key: "connectors[0].grants.http".into(),
                plugin: "p".into(),
            },
            vec![],
            limits.clone(),
            "connectors[0].grants.http_limits".into(),
            Arc::new(Shared::new(&limits, Route::direct())),
        ))
    }

    async fn get(net: &Arc<ConnectorNetwork>, port: u16) -> String {
        let body: WasiBody = http_body_util::Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let req = http::Request::get(format!("http://127.0.0.1:{port}/x"))
            .header(http::header::HOST, format!("127.0.0.1:{port}"))
            .body(body)
            .expect("request");
        let res = net.clone().serve(req, None).await.expect("response");
        assert_eq!(res.status(), 200);
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sequential_requests_share_one_connection() {
        let (port, seen) = server(false).await;
        let net = network(port);
        for _ in 0..10 {
            assert_eq!(get(&net, port).await, "ok");
        }
        assert_eq!(seen.requests.load(Ordering::SeqCst), 10);
        // Without the pool this would be 10. A response whose last byte the client has read
        // makes its connection ready again a moment later, on the connection's own task:
        // allow one more connection for that race, not one per request.
        let connections = seen.connections.load(Ordering::SeqCst);
        assert!(
            connections <= 2,
            "{connections} connections for 10 requests"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_on_a_connection_closed_under_it_is_sent_again() {
        let (port, seen) = server(true).await;
        let net = network(port);
        assert_eq!(get(&net, port).await, "ok");
        // The connection becomes ready for reuse a moment after its response was read, on its
        // own task: wait for that (bounded), so the next request really meets a pooled
        // connection (on a loaded machine it would otherwise simply open a new one).
        let origin = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if net.shared.pool.has_ready(&origin) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(
            net.shared.pool.has_ready(&origin),
            "the first connection was pooled"
        );
        // Goes out on the pooled connection, which the server closes unanswered.
        assert_eq!(get(&net, port).await, "ok");
        // Three requests read: the second one twice, first on the closed connection.
        assert_eq!(seen.received.load(Ordering::SeqCst), 3);
        assert_eq!(seen.requests.load(Ordering::SeqCst), 2);
        assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
    }
}

#[cfg(test)]
mod overhead {
    //! `cargo test -p inlet --lib policy_path_overhead -- --ignored --nocapture`: the CPU cost
    //! of the policy path per request (allowlist, credential binding, address check, header
    //! injection), without DNS or the network.
    use std::net::IpAddr;

    use super::*;
    use inlet_policy::http::OriginPattern;

    #[test]
    #[ignore = "a measurement, not a check"]
    fn policy_path_overhead() {
        let policy = Policy {
            declared: vec![OriginPattern::parse("https://*:*").expect("pattern")],
            granted: [
                "https://a.example",
                "https://*.b.example",
                "http://127.0.0.1:8080",
            ]
            .iter()
            .map(|s| OriginPattern::parse(s).expect("pattern"))
            .collect(),
            grant_key: "connectors[0].grants.http".into(),
            plugin: "p".into(),
        };
        let spec: inlet_policy::config::credentials::CredentialSpec =
            serde_yaml_ng::from_str("{type: bearer, token: t0k, hosts: [\"https://*.b.example\"]}")
                .expect("spec");
        let cred =
            Credential::load("c", &spec, std::path::Path::new("."), None).expect("credential");
        let uri: http::Uri = "https://api.b.example/v1/items?page=2"
            .parse()
            .expect("uri");
        let addrs: Vec<IpAddr> = vec!["93.184.216.34".parse().expect("ip")];
        let connect = Connect {
            timeouts: Limits::from_config(&HttpLimits::default()).timeouts,
            route: crate::route::Route::direct(),
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let n = 200_000;
        let started = Instant::now();
        rt.block_on(async {
            for _ in 0..n {
                let target = Target::from_uri(&uri).expect("target");
                let matched = policy.check(&target).expect("granted");
                let ok = policy
                    .check_addresses(&target, &matched, &addrs)
                    .expect("public");
                assert_eq!(ok.len(), 1);
                assert!(cred.applies_to(&target));
                let injection = cred.injection(&connect).await.expect("header");
                std::hint::black_box(injection);
            }
        });
        let per = started.elapsed() / n;
        println!("policy path: {per:?} per request");
    }
}
