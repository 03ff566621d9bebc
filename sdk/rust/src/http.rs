//! Outbound HTTP through the host's broker (`wasi:http/outgoing-handler`), blocking: each call
//! returns when the whole response has arrived, which fits the pull model (fetch the next page
//! when the host asks for the next batch). Enable with the `http` feature.
//!
//! ```ignore
//! use inlet_sdk::http;
//! let r = http::get("https://api.example.com/items?page=2", &[("Accept", "application/json")])?;
//! if r.status == 200 { let items = r.json()?; }
//! ```
//!
//! Every request passes the host's policy: its origin must be declared in plugin.toml
//! (`[permissions] http`) and granted in config.yml (`grants.http`); credentials are injected by
//! the host (the plugin never sees them, and an `Authorization` it sets is refused). A refused
//! request, a connection failure or a timeout is an [`HttpError`]; HTTP error statuses are
//! values (check [`Response::status`]). Redirects are not followed (follow them yourself, so
//! each hop meets the policy again).

use std::time::Duration;

use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

use crate::{ConnectorError, ErrorKind, error};

const READ_CHUNK: u64 = 64 * 1024;
/// wasi:io output streams take at most 4096 bytes per blocking write.
const WRITE_CHUNK: usize = 4096;

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Header names (lower-case) and values, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// True for 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON, or a `source` error naming `what`.
    pub fn json(&self) -> crate::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).map_err(|e| {
            error(
                ErrorKind::Source,
                format!("HTTP {}: the body is not JSON ({e})", self.status),
            )
        })
    }

    /// `Retry-After` in seconds, when it is a number (the HTTP-date form is not used by the APIs
    /// connectors talk to, and a wrong clock would make it dangerous).
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self.header("retry-after")?.trim();
        let secs: f64 = v.parse().ok()?;
        (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
    }
}

/// Why a request got no response: the `wasi:http` error code (`HTTP-request-denied`,
/// `connection-refused` ...) when there is one, and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The `wasi:http` error-code case, in WIT spelling, or `None` for other failures.
    pub code: Option<String>,
    /// What happened, with the origin (never the full URL: it may carry a token).
    pub message: String,
}

impl HttpError {
    /// True for failures worth another try (a timeout, a dropped connection); a refused grant,
    /// a bad URL or a refused connection is not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some(
                "connection-terminated"
                    | "connection-timeout"
                    | "connection-read-timeout"
                    | "connection-write-timeout"
                    | "connection-limit-reached"
                    | "HTTP-response-incomplete"
                    | "HTTP-response-timeout"
                    | "destination-unavailable"
                    | "DNS-timeout"
            )
        )
    }

    /// True when the host's policy refused the request (declare and grant the origin).
    pub fn is_denied(&self) -> bool {
        self.code.as_deref() == Some("HTTP-request-denied")
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for ConnectorError {
    fn from(e: HttpError) -> Self {
        error(ErrorKind::Network, e.message)
    }
}

/// The parts of an absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url<'a> {
    /// `true` for https.
    pub https: bool,
    /// `host[:port]`.
    pub authority: &'a str,
    /// `/path?query` (`/` when empty).
    pub path_with_query: String,
}

impl Url<'_> {
    /// `scheme://authority`, for messages.
    pub fn origin(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.authority
        )
    }
}

/// Splits an absolute http(s) URL; a fragment is dropped.
pub fn split_url(url: &str) -> Result<Url<'_>, HttpError> {
    let bad = || HttpError {
        code: None,
        message: format!("not an absolute http(s) URL: {:?}", origin_of(url)),
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return Err(bad()),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() {
        return Err(bad());
    }
    let tail = tail.split('#').next().unwrap_or_default();
    let path_with_query = match tail.chars().next() {
        None => "/".to_owned(),
        Some('?') => format!("/{tail}"),
        Some(_) => tail.to_owned(),
    };
    Ok(Url {
        https,
        authority,
        path_with_query,
    })
}

/// `scheme://authority` of a URL (or `?`), for messages that must not show paths or queries.
pub fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            format!("{scheme}://{}", &rest[..end])
        }
        None => "?".to_owned(),
    }
}

/// Percent-encodes a query parameter value (RFC 3986 unreserved characters stay).
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A GET.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
    request("GET", url, headers, &[])
}

/// A POST with a body.
pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, HttpError> {
    request("POST", url, headers, body)
}

/// Waits without spinning (a host clock).
pub fn sleep(duration: Duration) {
    let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    wasip2::clocks::monotonic_clock::subscribe_duration(nanos).block();
}

/// One request through `wasi:http/outgoing-handler`.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Response, HttpError> {
    let parts = split_url(url)?;
    let origin = parts.origin();
    let plain = |message: String| HttpError {
        code: None,
        message,
    };
    let fields = Fields::new();
    for (name, value) in headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|e| plain(format!("header {name} refused: {e:?}")))?;
    }
    let req = OutgoingRequest::new(fields);
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "HEAD" => Method::Head,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    };
    req.set_method(&method)
        .map_err(|()| plain(format!("method refused for {origin}")))?;
    req.set_scheme(Some(if parts.https {
        &Scheme::Https
    } else {
        &Scheme::Http
    }))
    .map_err(|()| plain(format!("scheme refused for {origin}")))?;
    req.set_authority(Some(parts.authority))
        .map_err(|()| plain(format!("authority refused: {origin}")))?;
    req.set_path_with_query(Some(&parts.path_with_query))
        .map_err(|()| plain(format!("path refused for {origin}")))?;
    let outgoing = req
        .body()
        .map_err(|()| plain(format!("no request body for {origin}")))?;
    let future =
        wasip2::http::outgoing_handler::handle(req, None).map_err(|c| code_error(&c, &origin))?;
    {
        let stream = outgoing
            .write()
            .map_err(|()| plain(format!("no request body stream for {origin}")))?;
        for chunk in body.chunks(WRITE_CHUNK) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| plain(format!("sending the body to {origin}: {e:?}")))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(|c| code_error(&c, &origin))?;
    future.subscribe().block();
    let response = future
        .get()
        .ok_or_else(|| plain(format!("no response from {origin}")))?
        .map_err(|()| plain(format!("the response from {origin} was taken twice")))?
        .map_err(|c| code_error(&c, &origin))?;
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    let incoming = response
        .consume()
        .map_err(|()| plain(format!("no response body from {origin}")))?;
    let mut data = Vec::new();
    {
        let stream = incoming
            .stream()
            .map_err(|()| plain(format!("no response body stream from {origin}")))?;
        loop {
            match stream.blocking_read(READ_CHUNK) {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(match wasip2::http::types::http_error_code(&e) {
                        Some(c) => code_error(&c, &origin),
                        None => plain(format!(
                            "reading the body from {origin}: {}",
                            e.to_debug_string().lines().next().unwrap_or_default()
                        )),
                    });
                }
            }
        }
    }
    Ok(Response {
        status,
        headers,
        body: data,
    })
}

/// The WIT spelling of an error code's case (`HttpRequestDenied` → `HTTP-request-denied`).
fn wit_case(code: &ErrorCode) -> &'static str {
    match code {
        ErrorCode::DnsTimeout => "DNS-timeout",
        ErrorCode::DnsError(_) => "DNS-error",
        ErrorCode::DestinationNotFound => "destination-not-found",
        ErrorCode::DestinationUnavailable => "destination-unavailable",
        ErrorCode::DestinationIpProhibited => "destination-IP-prohibited",
        ErrorCode::DestinationIpUnroutable => "destination-IP-unroutable",
        ErrorCode::ConnectionRefused => "connection-refused",
        ErrorCode::ConnectionTerminated => "connection-terminated",
        ErrorCode::ConnectionTimeout => "connection-timeout",
        ErrorCode::ConnectionReadTimeout => "connection-read-timeout",
        ErrorCode::ConnectionWriteTimeout => "connection-write-timeout",
        ErrorCode::ConnectionLimitReached => "connection-limit-reached",
        ErrorCode::TlsProtocolError => "TLS-protocol-error",
        ErrorCode::TlsCertificateError => "TLS-certificate-error",
        ErrorCode::TlsAlertReceived(_) => "TLS-alert-received",
        ErrorCode::HttpRequestDenied => "HTTP-request-denied",
        ErrorCode::HttpResponseIncomplete => "HTTP-response-incomplete",
        ErrorCode::HttpResponseTimeout => "HTTP-response-timeout",
        ErrorCode::HttpResponseBodySize(_) => "HTTP-response-body-size",
        ErrorCode::InternalError(_) => "internal-error",
        _ => "other",
    }
}

fn code_error(code: &ErrorCode, origin: &str) -> HttpError {
    let case = wit_case(code);
    let message = match code {
        ErrorCode::HttpRequestDenied => format!(
            "the host denied the request to {origin}: it must be declared in plugin.toml `[permissions] http` and granted in config.yml `grants.http` (the inlet log names the grant)"
        ),
        ErrorCode::DestinationIpProhibited => format!(
            "the host refused the address of {origin} (private or loopback; grant it exactly)"
        ),
        ErrorCode::InternalError(Some(detail)) => format!("{origin}: {detail}"),
        other => format!("HTTP request to {origin} failed: {case} ({other:?})"),
    };
    HttpError {
        code: Some(case.to_owned()),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let u = split_url("https://acme.my.salesforce.com/services/data/v59.0/query?q=SELECT+Id")
            .expect("a URL");
        assert_eq!(
            (u.https, u.authority, u.path_with_query.as_str()),
            (
                true,
                "acme.my.salesforce.com",
                "/services/data/v59.0/query?q=SELECT+Id"
            )
        );
        let u = split_url("http://127.0.0.1:8080").expect("a URL");
        assert_eq!((u.https, u.path_with_query.as_str()), (false, "/"));
        assert_eq!(u.origin(), "http://127.0.0.1:8080");
        let u = split_url("HTTP://h?x=1#frag").expect("a URL");
        assert_eq!(u.path_with_query, "/?x=1");
        for bad in ["ftp://h/x", "h/x", "https:///x", "https://"] {
            let e = split_url(bad).expect_err(bad);
            assert_eq!(e.code, None);
            assert!(e.message.contains("not an absolute http(s) URL"), "{e}");
        }
    }

    #[test]
    fn messages_show_origins_never_paths() {
        assert_eq!(
            origin_of("https://h.example/dl?token=secret"),
            "https://h.example"
        );
        assert_eq!(origin_of("nonsense"), "?");
        let e = split_url("ftp://h/p?token=secret").expect_err("ftp");
        assert!(!e.message.contains("secret"), "{e}");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            encode_component("SELECT Id, Name FROM Account WHERE Name = 'a&b'"),
            "SELECT%20Id%2C%20Name%20FROM%20Account%20WHERE%20Name%20%3D%20%27a%26b%27"
        );
        assert_eq!(encode_component("a-b_c.d~é"), "a-b_c.d~%C3%A9");
    }

    #[test]
    fn responses_expose_headers_json_and_retry_after() {
        let r = Response {
            status: 429,
            headers: vec![
                ("retry-after".into(), " 7 ".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: br#"[{"errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#.to_vec(),
        };
        assert!(!r.ok());
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(
            r.json().expect("JSON")[0]["errorCode"],
            "REQUEST_LIMIT_EXCEEDED"
        );
        let date = Response {
            headers: vec![("retry-after".into(), "Wed, 21 Oct 2015 07:28:00 GMT".into())],
            ..r.clone()
        };
        assert_eq!(date.retry_after(), None);
        let not_json = Response {
            body: b"<html>".to_vec(),
            ..r
        };
        assert_eq!(not_json.json().expect_err("HTML").kind, ErrorKind::Source);
    }

    #[test]
    fn transient_and_denied_errors_are_told_apart() {
        let e = |c: &str| HttpError {
            code: Some(c.into()),
            message: String::new(),
        };
        assert!(e("connection-timeout").is_transient());
        assert!(e("HTTP-response-incomplete").is_transient());
        assert!(!e("HTTP-request-denied").is_transient());
        assert!(e("HTTP-request-denied").is_denied());
        assert!(!e("connection-refused").is_transient());
        assert_eq!(
            wit_case(&ErrorCode::HttpRequestDenied),
            "HTTP-request-denied"
        );
        let err = code_error(&ErrorCode::HttpRequestDenied, "https://h");
        assert!(err.message.contains("grants.http") && err.is_denied());
        let c: ConnectorError = err.into();
        assert_eq!(c.kind, ErrorKind::Network);
    }
}
