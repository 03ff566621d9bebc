//! The wire: DNS, TCP to an address the policy already checked (never a second lookup, so a
//! name cannot re-resolve somewhere else between check and connect), TLS with rustls on the
//! platform's roots (plus the operator's CAs), HTTP/1.1 with hyper, and the response body
//! limits (size, pause between chunks) enforced while it streams.
//!
//! Through the operator's proxy ([`super::route`]), the TCP connection goes to the proxy
//! instead: a `CONNECT` tunnel for an HTTPS target, inside which TLS runs end to end with the
//! target's name checked as usual; an HTTP target's request is sent to the proxy in absolute
//! form. Either way the proxy alone sees `Proxy-Authorization`.
//!
//! Redirects are not followed here: a 3xx goes back to the plugin as it is, and whatever the
//! plugin's client requests next passes the policy again.
//!
//! Plugin requests reuse keep-alive connections ([`Pool`], one per connector): against a real
//! API every request would otherwise pay a TCP and a TLS handshake. A pooled connection is
//! reused only for the same origin and only if the address it is connected to is among the
//! addresses the policy just checked for this request.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, WasiBody};

use super::metrics::HttpMetrics;
use super::route::{Proxy, Route};
use inlet_policy::http::{Host, Scheme, Target};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// DNS + TCP + TLS + HTTP handshake.
    pub connect: Duration,
    /// Request sent → response head.
    pub first_byte: Duration,
    /// Longest pause between body chunks.
    pub between_bytes: Duration,
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// Connection settings shared by the plugin requests of one connector and by the host's own
/// token requests.
#[derive(Clone)]
pub(crate) struct Connect {
    pub timeouts: Timeouts,
    /// Direct or through the proxy, and the CAs TLS trusts.
    pub route: Arc<Route>,
}

/// Longest proxy answer to `CONNECT` read before giving up on it.
const MAX_CONNECT_RESPONSE: usize = 16 * 1024;

/// Resolves the target's host (an IP literal resolves to itself).
pub(crate) async fn resolve(target: &Target, timeout: Duration) -> Result<Vec<IpAddr>, Error> {
    let name = match &target.host {
        Host::Ip(ip) => return Ok(vec![*ip]),
        Host::Name(n) => n.clone(),
    };
    let lookup = tokio::net::lookup_host((name.as_str(), target.port));
    match tokio::time::timeout(timeout, lookup).await {
        Err(_) => Err(Error::DnsTimeout),
        Ok(Err(_)) => Err(Error::DnsError {
            rcode: Some("name not resolved".into()),
            info_code: None,
        }),
        Ok(Ok(addrs)) => {
            let mut out: Vec<IpAddr> = Vec::new();
            for a in addrs {
                let ip = a.ip().to_canonical();
                if !out.contains(&ip) {
                    out.push(ip);
                }
            }
            if out.is_empty() {
                Err(Error::DestinationNotFound)
            } else {
                Ok(out)
            }
        }
    }
}

impl Connect {
    /// Opens a connection to one of `addrs` (in order) and sends `req` on it. `req` keeps its
    /// absolute URI; it is rewritten to origin form, and its `Host` set, here.
    pub(crate) async fn send<B>(
        &self,
        target: &Target,
        addrs: &[IpAddr],
        mut req: http::Request<B>,
    ) -> Result<http::Response<Incoming>, Error>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (mut sender, _) = self.open(target, addrs).await?;
        for_wire(&mut req, target, self.route.proxy_for(target).map(|p| &**p))?;
        tokio::time::timeout(self.timeouts.first_byte, sender.send_request(req))
            .await
            .map_err(|_| Error::HttpResponseTimeout)?
            .map_err(|e| wire_error(&e))
    }

    /// Sends a plugin request on an idle pooled connection to the same origin and a checked
    /// address, else on a new one (`fresh` skips the pool), and pools the connection again:
    /// hyper makes it ready for the next request once this response's body has been read.
    ///
    /// A request that fails on a reused connection before any response comes back is
    /// reported with `reused: true`: the server may have closed the idle connection just as
    /// it was sent, so the caller may send it again on a fresh one if that is safe.
    pub(crate) async fn send_pooled(
        &self,
        pool: &Pool,
        target: &Target,
        addrs: &[IpAddr],
        mut req: http::Request<WasiBody>,
        fresh: bool,
    ) -> Result<http::Response<Incoming>, SendFailure> {
        let origin = target.origin();
        for_wire(&mut req, target, self.route.proxy_for(target).map(|p| &**p))
            .map_err(SendFailure::new)?;
        while let Some(mut idle) = (!fresh).then(|| pool.take(&origin, addrs)).flatten() {
            let sent =
                tokio::time::timeout(self.timeouts.first_byte, idle.sender.try_send_request(req))
                    .await;
            match sent {
                Err(_) => return Err(SendFailure::new(Error::HttpResponseTimeout)),
                Ok(Ok(res)) => {
                    pool.put(origin, idle.sender, idle.ip);
                    return Ok(res);
                }
                // Not written to the connection (it closed meanwhile): try the next one.
                Ok(Err(mut e)) => match e.take_message() {
                    Some(back) => req = back,
                    None => {
                        return Err(SendFailure {
                            error: wire_error(e.error()),
                            reused: true,
                        });
                    }
                },
            }
        }
        let (mut sender, ip) = self.open(target, addrs).await.map_err(SendFailure::new)?;
        let res = tokio::time::timeout(self.timeouts.first_byte, sender.send_request(req))
            .await
            .map_err(|_| SendFailure::new(Error::HttpResponseTimeout))?
            .map_err(|e| SendFailure::new(wire_error(&e)))?;
        pool.put(origin, sender, ip);
        Ok(res)
    }

    /// A new HTTP/1.1 connection to one of `addrs` (in order: the target's, or the proxy's
    /// when the request goes through one), and the address it reached.
    async fn open<B>(
        &self,
        target: &Target,
        addrs: &[IpAddr],
    ) -> Result<(SendRequest<B>, IpAddr), Error>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (io, ip) =
            tokio::time::timeout(self.timeouts.connect, connect(&self.route, target, addrs))
                .await
                .map_err(|_| Error::ConnectionTimeout)??;
        let (sender, conn) = tokio::time::timeout(
            self.timeouts.connect,
            hyper::client::conn::http1::Builder::new().handshake::<_, B>(TokioIo::new(io)),
        )
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(|_| Error::HttpProtocolError)?;
        // The connection task ends when the connection closes: the server closed it, a
        // response body was dropped unread, or the last `SendRequest` (the pool's) went away.
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "brokered connection ended with an error");
            }
        });
        Ok((sender, ip))
    }

    /// A small request the host makes for itself (OAuth2 token endpoint): resolved without
    /// the plugin policy (the operator configured the URL), body read up to `max` bytes.
    pub(crate) async fn fetch_small(
        &self,
        req: http::Request<Bytes>,
        max: u64,
    ) -> Result<(http::StatusCode, Bytes), Error> {
        let target = Target::from_uri(req.uri()).ok_or(Error::HttpRequestUriInvalid)?;
        let hop = self.route.proxy_for(&target).map_or(&target, |p| p.hop());
        let addrs = resolve(hop, self.timeouts.connect).await?;
        let req = req.map(http_body_util::Full::new);
        let res = self.send(&target, &addrs, req).await?;
        let status = res.status();
        let body = LimitedBody::new(res.into_body(), max, self.timeouts.between_bytes, None);
        let bytes = body.collect().await?.to_bytes();
        Ok((status, bytes))
    }
}

/// Why a pooled send failed, and whether it was on a reused connection (see
/// [`Connect::send_pooled`]).
#[derive(Debug)]
pub(crate) struct SendFailure {
    pub error: Error,
    pub reused: bool,
}

impl SendFailure {
    fn new(error: Error) -> Self {
        SendFailure {
            error,
            reused: false,
        }
    }
}

/// Makes a checked request ready for the wire: origin form (hyper keeps the absolute URI;
/// HTTP/1.1 to an origin server wants the path and query only), and `Host` built from the
/// target the policy checked and the credentials were bound to. Whatever `Host` the request
/// carried (wasi-http copies the guest's authority into it verbatim) is replaced, so the
/// server never reads a different name than the one that was granted.
///
/// A plain-HTTP request through `proxy` goes in absolute form, rebuilt from the checked
/// target as well, with the proxy's credentials. (An HTTPS request through a proxy travels
/// inside its tunnel in origin form, like a direct one.)
pub(crate) fn for_wire<B>(
    req: &mut http::Request<B>,
    target: &Target,
    proxy: Option<&Proxy>,
) -> Result<(), Error> {
    let path = match req.uri().path_and_query().map(|p| p.as_str()) {
        None | Some("") => "/".to_owned(),
        // `http://host?q`: the origin form of an empty path is `/`.
        Some(q) if q.starts_with('?') => format!("/{q}"),
        Some(p) => p.to_owned(),
    };
    let proxy = proxy.filter(|_| target.scheme == Scheme::Http);
    let form = match proxy {
        Some(_) => format!("{}{path}", target.origin()),
        None => path,
    };
    *req.uri_mut() = form.parse().map_err(|_| Error::HttpRequestUriInvalid)?;
    let host = http::HeaderValue::from_str(&target.authority())
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    req.headers_mut().insert(http::header::HOST, host);
    // The plugin cannot set this header (wasi-http forbids it), so only the host's is sent.
    req.headers_mut().remove(http::header::PROXY_AUTHORIZATION);
    if let Some(auth) = proxy.and_then(Proxy::authorization) {
        req.headers_mut()
            .insert(http::header::PROXY_AUTHORIZATION, auth.clone());
    }
    Ok(())
}

fn wire_error(e: &hyper::Error) -> Error {
    if e.is_timeout() {
        Error::HttpResponseTimeout
    } else if e.is_canceled() || e.is_closed() || e.is_incomplete_message() {
        Error::ConnectionTerminated
    } else {
        Error::HttpProtocolError
    }
}

/// Connections are dropped after this long in the pool: below the keep-alive timeout of
/// common servers (nginx 75 s, many APIs 60 s), so a reused connection is rarely one the
/// server is closing at that moment.
const POOL_IDLE: Duration = Duration::from_secs(20);
/// Pooled connections per origin; more concurrent requests open more, closed after use.
const POOL_PER_ORIGIN: usize = 32;

/// Keep-alive connections of one connector's plugin requests, by origin.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<Pooled>>>,
}

struct Pooled {
    sender: SendRequest<WasiBody>,
    ip: IpAddr,
    since: Instant,
}

impl Pool {
    /// Whether an idle connection to `origin` is ready for a request (tests wait on this).
    #[cfg(test)]
    pub(crate) fn has_ready(&self, origin: &str) -> bool {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(origin)
            .is_some_and(|l| l.iter().any(|c| c.sender.is_ready()))
    }

    /// An idle connection to `origin` whose address is one of `addrs`.
    fn take(&self, origin: &str, addrs: &[IpAddr]) -> Option<Pooled> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = idle.get_mut(origin)?;
        list.retain(|c| !c.sender.is_closed() && c.since.elapsed() < POOL_IDLE);
        // Not ready: its previous response is still being read.
        let i = list
            .iter()
            .position(|c| c.sender.is_ready() && addrs.contains(&c.ip))?;
        Some(list.swap_remove(i))
    }

    fn put(&self, origin: String, sender: SendRequest<WasiBody>, ip: IpAddr) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let list = idle.entry(origin).or_default();
        list.retain(|c| !c.sender.is_closed());
        if list.len() < POOL_PER_ORIGIN {
            list.push(Pooled {
                sender,
                ip,
                since: Instant::now(),
            });
        }
    }
}

async fn connect(
    route: &Route,
    target: &Target,
    addrs: &[IpAddr],
) -> Result<(Box<dyn Io>, IpAddr), Error> {
    let proxy = route.proxy_for(target);
    let port = proxy.map_or(target.port, |p| p.hop().port);
    let mut last = Error::DestinationUnavailable;
    for &ip in addrs {
        match TcpStream::connect(SocketAddr::new(ip, port)).await {
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                let io: Box<dyn Io> = match (target.scheme, proxy) {
                    (Scheme::Http, _) => Box::new(tcp),
                    (Scheme::Https, None) => tls(route, target, tcp).await?,
                    (Scheme::Https, Some(proxy)) => {
                        let tunnel = tunnel(proxy, target, tcp).await?;
                        tls(route, target, tunnel).await?
                    }
                };
                return Ok((io, ip));
            }
            Err(e) => {
                last = match e.kind() {
                    std::io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
                    std::io::ErrorKind::TimedOut => Error::ConnectionTimeout,
                    _ => Error::DestinationUnavailable,
                }
            }
        }
    }
    Err(last)
}

/// Asks `proxy` for a tunnel to `target` (`CONNECT host:port`) on `tcp`, and returns the
/// stream once the proxy answered 2xx. The proxy's refusal (407 without or with wrong
/// credentials, 403 by its own policy, 502 when it cannot reach the target) is logged for the
/// operator and reported to the plugin without the proxy's credentials.
async fn tunnel(proxy: &Proxy, target: &Target, mut tcp: TcpStream) -> Result<TcpStream, Error> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let authority = target.authority_with_port();
    let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n").into_bytes();
    if let Some(auth) = proxy.authorization() {
        head.extend_from_slice(b"Proxy-Authorization: ");
        head.extend_from_slice(auth.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    tcp.write_all(&head)
        .await
        .map_err(|_| Error::ConnectionTerminated)?;
    // Byte by byte up to the blank line: nothing past the proxy's answer may be consumed, it
    // belongs to the TLS handshake. The answer is a few hundred bytes, once per connection.
    let mut answer = Vec::with_capacity(256);
    while !answer.ends_with(b"\r\n\r\n") {
        if answer.len() >= MAX_CONNECT_RESPONSE {
            return Err(Error::HttpProtocolError);
        }
        let byte = tcp
            .read_u8()
            .await
            .map_err(|_| Error::ConnectionTerminated)?;
        answer.push(byte);
    }
    let status_line = answer
        .split(|&b| b == b'\n')
        .next()
        .map(|l| String::from_utf8_lossy(l).trim().to_owned())
        .unwrap_or_default();
    let code = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(200..=299) => Ok(tcp),
        _ => {
            let hint = match code {
                Some(407) if proxy.authorization().is_some() => {
                    ": the proxy refused its credentials (inlet.network.proxy_username/proxy_password, or the proxy URL's user:password)"
                }
                Some(407) => {
                    ": the proxy wants credentials (set inlet.network.proxy_username and proxy_password)"
                }
                _ => "",
            };
            let shown = inlet_policy::guest_output::clean(&status_line);
            // A plugin can provoke refusals at will (targets the proxy's policy blocks): WARN
            // once per proxy and status, DEBUG after, so it cannot flood the operator's log.
            if first_refusal(proxy.shown(), code) {
                tracing::warn!(
                    proxy = %proxy.shown(),
                    target = %target.origin(),
                    "the proxy refused the tunnel: {shown}{hint} (further refusals with this status are logged at DEBUG)"
                );
            } else {
                tracing::debug!(proxy = %proxy.shown(), target = %target.origin(), "the proxy refused the tunnel: {shown}");
            }
            Err(Error::InternalError(Some(format!(
                "the proxy {} refused CONNECT {}: {shown}",
                proxy.shown(),
                target.origin()
            ))))
        }
    }
}

/// Whether this is the first refusal with `code` from `proxy` in this process.
fn first_refusal(proxy: &str, code: Option<u16>) -> bool {
    static SEEN: Mutex<Vec<(String, Option<u16>)>> = Mutex::new(Vec::new());
    let mut seen = SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let key = (proxy.to_owned(), code);
    // Bounded by the proxies configured (two at most) times the statuses they answer with.
    if seen.contains(&key) {
        return false;
    }
    seen.push(key);
    true
}

async fn tls<S>(route: &Route, target: &Target, stream: S) -> Result<Box<dyn Io>, Error>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    use rustls::pki_types::ServerName;
    // The certificate is checked against the name in the URL, not the address connected to.
    let name = match &target.host {
        Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
        Host::Name(n) => {
            ServerName::try_from(n.clone()).map_err(|_| Error::HttpRequestUriInvalid)?
        }
    };
    let connector = tokio_rustls::TlsConnector::from(route.tls());
    match connector.connect(name, stream).await {
        Ok(stream) => Ok(Box::new(stream)),
        Err(e) => Err(
            match e.get_ref().and_then(|r| r.downcast_ref::<rustls::Error>()) {
                Some(rustls::Error::InvalidCertificate(_)) => Error::TlsCertificateError,
                Some(rustls::Error::AlertReceived(alert)) => Error::TlsAlertReceived {
                    alert_id: Some(u8::from(*alert)),
                    alert_message: Some(format!("{alert:?}")),
                },
                _ => Error::TlsProtocolError,
            },
        ),
    }
}

/// What the broker reports when a response body ends badly.
pub(crate) struct BodyWatch {
    pub metrics: Arc<HttpMetrics>,
    pub connector_id: String,
    pub origin: String,
    pub limit_key: String,
    /// Held until the body is done: the connector's concurrency limit counts it as in flight.
    pub _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// A response body with a size cap (checked on every chunk, so a source that lies about or
/// omits `Content-Length` is still cut off) and a timeout between chunks.
pub(crate) struct LimitedBody {
    inner: Incoming,
    remaining: u64,
    limit: u64,
    between: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    watch: Option<BodyWatch>,
    failed: bool,
}

impl LimitedBody {
    pub(crate) fn new(
        inner: Incoming,
        limit: u64,
        between: Duration,
        watch: Option<BodyWatch>,
    ) -> Self {
        LimitedBody {
            inner,
            remaining: limit,
            limit,
            between,
            sleep: Box::pin(tokio::time::sleep(between)),
            watch,
            failed: false,
        }
    }
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                if let Some(w) = &this.watch {
                    w.metrics.add_bytes_in(len);
                }
                if len > this.remaining {
                    this.failed = true;
                    if let Some(w) = &this.watch {
                        w.metrics.add_oversized();
                        tracing::warn!(
                            connector_id = %w.connector_id,
                            origin = %w.origin,
                            "response body from {} exceeded {} bytes; the plugin got an error (raise {} if the source needs more)",
                            w.origin, this.limit, w.limit_key
                        );
                    }
                    this.watch = None;
                    return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                        this.limit - this.remaining + len,
                    )))));
                }
                this.remaining -= len;
                let deadline = tokio::time::Instant::now() + this.between;
                this.sleep.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.failed = true;
                this.watch = None;
                Poll::Ready(Some(Err(if e.is_timeout() {
                    Error::HttpResponseTimeout
                } else {
                    Error::HttpResponseIncomplete
                })))
            }
            Poll::Ready(None) => {
                this.watch = None;
                Poll::Ready(None)
            }
            Poll::Pending => match this.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.failed = true;
                    this.watch = None;
                    Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.failed || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
