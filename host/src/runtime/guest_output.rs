//! Guest stdout/stderr and the `log` import become the host's log lines: tagged with the
//! connector, rate-limited so a chatty or hostile plugin cannot flood the operator's logs, and
//! the last few stderr lines kept to explain a trap (a Rust panic message lands there).

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::AsyncWrite;

/// Lines per second a plugin may log, with a burst allowance.
const LINES_PER_SEC: f64 = 100.0;
const BURST: f64 = 500.0;
/// Longest line kept; the rest is cut.
const MAX_LINE: usize = 4096;
/// Stderr lines remembered for trap reports.
const TAIL_LINES: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// The log pipe of one plugin instance.
#[derive(Clone)]
pub struct GuestLog {
    inner: Arc<Mutex<Inner>>,
    connector_id: Arc<str>,
}

struct Inner {
    tokens: f64,
    last_refill: Instant,
    suppressed: u64,
    stderr_tail: VecDeque<String>,
}

impl GuestLog {
    pub fn new(connector_id: &str) -> Self {
        GuestLog {
            inner: Arc::new(Mutex::new(Inner {
                tokens: BURST,
                last_refill: Instant::now(),
                suppressed: 0,
                stderr_tail: VecDeque::new(),
            })),
            connector_id: connector_id.into(),
        }
    }

    /// Emits one line from the plugin, if its budget allows.
    pub fn line(&self, level: Level, message: &str) {
        let message = truncate(message.trim_end());
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let now = Instant::now();
        let refill = now.duration_since(inner.last_refill).as_secs_f64() * LINES_PER_SEC;
        inner.tokens = (inner.tokens + refill).min(BURST);
        inner.last_refill = now;
        if inner.tokens < 1.0 {
            inner.suppressed += 1;
            return;
        }
        inner.tokens -= 1.0;
        let suppressed = std::mem::take(&mut inner.suppressed);
        drop(inner);
        let id = &*self.connector_id;
        if suppressed > 0 {
            tracing::warn!(
                connector_id = id,
                suppressed,
                "plugin log lines suppressed by the rate limit"
            );
        }
        match level {
            Level::Trace => tracing::trace!(connector_id = id, plugin = true, "{message}"),
            Level::Debug => tracing::debug!(connector_id = id, plugin = true, "{message}"),
            Level::Info => tracing::info!(connector_id = id, plugin = true, "{message}"),
            Level::Warn => tracing::warn!(connector_id = id, plugin = true, "{message}"),
            Level::Error => tracing::error!(connector_id = id, plugin = true, "{message}"),
        }
    }

    fn remember_stderr(&self, line: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            if inner.stderr_tail.len() == TAIL_LINES {
                inner.stderr_tail.pop_front();
            }
            inner.stderr_tail.push_back(truncate(line).to_owned());
        }
    }

    /// The last stderr lines, oldest first.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|i| i.stderr_tail.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A writer for the guest's stdout (`stderr = false`) or stderr.
    pub fn writer(&self, stderr: bool) -> LineWriter {
        LineWriter {
            log: self.clone(),
            stderr,
            buf: Vec::new(),
        }
    }
}

fn truncate(s: &str) -> &str {
    if s.len() <= MAX_LINE {
        return s;
    }
    let mut end = MAX_LINE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Splits guest output into lines and logs each one.
pub struct LineWriter {
    log: GuestLog,
    stderr: bool,
    buf: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        if self.stderr {
            self.log.remember_stderr(&text);
            self.log.line(Level::Warn, &text);
        } else {
            self.log.line(Level::Info, &text);
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.buf.extend_from_slice(data);
        while let Some(pos) = this.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = this.buf.drain(..=pos).collect();
            this.emit(&line[..line.len() - 1]);
        }
        // A line without newline cannot grow without bound.
        if this.buf.len() > MAX_LINE {
            let line = std::mem::take(&mut this.buf);
            this.emit(&line);
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.emit(&line);
        }
        Poll::Ready(Ok(()))
    }
}
