//! A minimal HTTP/1.1 server on raw tokio TCP. Raw, because the faults we need (a connection reset halfway
//! through a response) are exactly what a proper server library refuses to do.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A request as the handler sees it; a gzip body is already decompressed.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Bytes on the wire (compressed size when gzipped).
    pub wire_len: usize,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

pub enum HttpReply {
    Respond {
        status: u16,
        body: Vec<u8>,
        delay: Duration,
    },
    /// Send the headers and half the body, then reset the connection.
    ResetMidResponse,
}

impl HttpReply {
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> HttpReply {
        HttpReply::Respond {
            status,
            body: body.into(),
            delay: Duration::ZERO,
        }
    }
}

/// Binds `addr` and serves `handler` on every connection until the runtime stops.
pub async fn serve<H>(addr: &str, handler: H) -> std::io::Result<SocketAddr>
where
    H: Fn(HttpRequest) -> HttpReply + Send + Sync + 'static,
{
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let _ = connection(stream, &*handler).await;
            });
        }
    });
    Ok(local)
}

async fn connection<H>(mut stream: TcpStream, handler: &H) -> std::io::Result<()>
where
    H: Fn(HttpRequest) -> HttpReply,
{
    stream.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        let head_end = loop {
            if let Some(pos) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                break pos;
            }
            if read_more(&mut stream, &mut buf).await? == 0 {
                return Ok(());
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let method = first.next().unwrap_or_default().to_owned();
        let target = first.next().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let (path, query) = (path.to_owned(), query.to_owned());
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let body_start = head_end + 4;
        buf.reserve((body_start + len).saturating_sub(buf.len()));
        while buf.len() < body_start + len {
            if read_more(&mut stream, &mut buf).await? == 0 {
                return Ok(());
            }
        }
        let raw_body = buf[body_start..body_start + len].to_vec();
        buf.drain(..body_start + len);
        let gzipped = headers
            .iter()
            .any(|(k, v)| k == "content-encoding" && v.eq_ignore_ascii_case("gzip"));
        let body = if gzipped {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw_body[..]), &mut out)?;
            out
        } else {
            raw_body
        };
        let is_head = method == "HEAD";
        let req = HttpRequest {
            method,
            path,
            query,
            headers,
            body,
            wire_len: len,
        };
        match handler(req) {
            HttpReply::Respond {
                status,
                body,
                delay,
            } => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let head = format!(
                    "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\nx-elastic-product: Elasticsearch\r\ncontent-length: {}\r\n\r\n",
                    reason(status),
                    if is_head { 0 } else { body.len() }
                );
                stream.write_all(head.as_bytes()).await?;
                if !is_head {
                    stream.write_all(&body).await?;
                }
            }
            HttpReply::ResetMidResponse => {
                let body = br#"{"errors":false,"items":[{"index":{"_id":"x","status":201}}]}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-elastic-product: Elasticsearch\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(&body[..body.len() / 2]).await?;
                stream.flush().await?;
                stream.set_zero_linger()?;
                return Ok(());
            }
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < 16 * 1024 {
        buf.reserve(64 * 1024);
    }
    stream.read_buf(buf).await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        413 => "Request Entity Too Large",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
