//! Every log line about one plugin instance goes through its [`GuestLog`]: the guest's stdout,
//! stderr and `log` calls, and the host's own lines about what the plugin did (denials,
//! refusals: [`GuestLog::host_event`]). Each line is tagged with the connector, escaped so the
//! plugin's text cannot start a line of its own or drive the operator's terminal, cut at
//! [`MAX_LINE`] bytes, and taken from one token bucket per instance, so no source — and no mix
//! of sources — floods the operator's logs. Dropped lines are counted and the count is logged.
//! Memory is fixed per instance: a counter, the bucket, a partial line of at most [`MAX_LINE`]
//! bytes per output stream, and the last [`TAIL_LINES`] stderr lines (a Rust panic message
//! lands there) to explain a trap.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::AsyncWrite;

/// Lines per second one instance may log, with a burst allowance.
pub(crate) const LINES_PER_SEC: f64 = 100.0;
/// Lines an instance may log at once before the per-second rate applies (the bucket's size).
pub(crate) const BURST: f64 = 500.0;
/// Longest line logged (bytes, after escaping); the rest is cut.
pub(crate) const MAX_LINE: usize = 4096;
/// Stderr lines remembered for trap reports.
const TAIL_LINES: usize = 8;

/// The `tracing` level a line is logged at: the guest's own choice for `log` calls; `Info`
/// for stdout and `Warn` for stderr lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `TRACE`: shown only with `-vv` or a `RUST_LOG` that asks for it.
    Trace,
    /// `DEBUG`: shown from `-v` on.
    Debug,
    /// `INFO`, shown by default; a guest's stdout lines.
    Info,
    /// `WARN`; a guest's stderr lines (a panic message lands there).
    Warn,
    /// `ERROR`; also the host's own lines about failed state calls.
    Error,
}

/// Who wrote a line's text.
#[derive(Clone, Copy)]
enum Origin {
    Plugin,
    Host,
}

/// The log pipe of one plugin instance.
#[derive(Clone)]
pub struct GuestLog {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    connector_id: Arc<str>,
    tokens: f64,
    last_refill: Instant,
    /// Lines dropped since the last count was logged.
    suppressed: u64,
    stderr_tail: VecDeque<String>,
}

impl Inner {
    /// Takes a token if there is one. `Some(n)`: log the line, after a note that `n` lines were
    /// dropped before it.
    fn admit(&mut self) -> Option<u64> {
        let now = Instant::now();
        let refill = now.duration_since(self.last_refill).as_secs_f64() * LINES_PER_SEC;
        self.tokens = (self.tokens + refill).min(BURST);
        self.last_refill = now;
        if self.tokens < 1.0 {
            self.suppressed += 1;
            return None;
        }
        self.tokens -= 1.0;
        Some(std::mem::take(&mut self.suppressed))
    }
}

impl Drop for Inner {
    /// The instance is gone: count the lines dropped since the last one that got through, so
    /// `lines logged + lines counted = lines attempted` holds for every instance.
    fn drop(&mut self) {
        report_suppressed(&self.connector_id, self.suppressed);
    }
}

/// The `tracing` target of every line logged for a plugin, which operators filter on
/// (`RUST_LOG=inlet::runtime::guest_output=warn`). It names the module's first home and stays
/// so: a move inside the host must not change what a log filter selects.
pub(crate) const TARGET: &str = "inlet::runtime::guest_output";

fn report_suppressed(connector_id: &str, suppressed: u64) {
    if suppressed > 0 {
        tracing::warn!(
            target: TARGET,
            connector_id,
            suppressed,
            "plugin log lines suppressed by the rate limit ({LINES_PER_SEC}/s, burst {BURST})"
        );
    }
}

impl GuestLog {
    /// The pipe of one instance of `connector_id`'s plugin, its bucket full.
    pub fn new(connector_id: &str) -> Self {
        GuestLog {
            inner: Arc::new(Mutex::new(Inner {
                connector_id: connector_id.into(),
                tokens: BURST,
                last_refill: Instant::now(),
                suppressed: 0,
                stderr_tail: VecDeque::with_capacity(TAIL_LINES),
            })),
        }
    }

    /// Logs one line the plugin wrote (tagged `plugin=true`), if its budget allows.
    pub fn line(&self, level: Level, message: &str) {
        self.emit(Origin::Plugin, level, message);
    }

    /// Logs one line the host writes about this plugin — a denied request, a refused
    /// statement — under the same budget as the plugin's own lines: a plugin that provokes
    /// refusals by the thousand cannot flood the logs through the host either. `message` may
    /// quote the plugin (an origin, a statement): it is escaped and cut like the plugin's text.
    pub fn host_event(&self, level: Level, message: &str) {
        self.emit(Origin::Host, level, message);
    }

    fn emit(&self, origin: Origin, level: Level, message: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(suppressed) = inner.admit() else {
            return;
        };
        let id = inner.connector_id.clone();
        drop(inner);
        report_suppressed(&id, suppressed);
        let text = clean(message.trim_end());
        let id = &*id;
        match origin {
            Origin::Plugin => match level {
                Level::Trace => {
                    tracing::trace!(target: TARGET, connector_id = id, plugin = true, "{text}")
                }
                Level::Debug => {
                    tracing::debug!(target: TARGET, connector_id = id, plugin = true, "{text}")
                }
                Level::Info => {
                    tracing::info!(target: TARGET, connector_id = id, plugin = true, "{text}")
                }
                Level::Warn => {
                    tracing::warn!(target: TARGET, connector_id = id, plugin = true, "{text}")
                }
                Level::Error => {
                    tracing::error!(target: TARGET, connector_id = id, plugin = true, "{text}")
                }
            },
            Origin::Host => match level {
                Level::Trace => tracing::trace!(target: TARGET, connector_id = id, "{text}"),
                Level::Debug => tracing::debug!(target: TARGET, connector_id = id, "{text}"),
                Level::Info => tracing::info!(target: TARGET, connector_id = id, "{text}"),
                Level::Warn => tracing::warn!(target: TARGET, connector_id = id, "{text}"),
                Level::Error => tracing::error!(target: TARGET, connector_id = id, "{text}"),
            },
        }
    }

    fn remember_stderr(&self, line: &str) {
        let line = clean(line.trim_end()).into_owned();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if inner.stderr_tail.len() == TAIL_LINES {
            inner.stderr_tail.pop_front();
        }
        inner.stderr_tail.push_back(line);
    }

    /// The last stderr lines, oldest first, escaped and cut.
    pub fn stderr_tail(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.stderr_tail.iter().cloned().collect()
    }

    /// A writer for the guest's stdout (`stderr = false`) or stderr.
    pub fn writer(&self, stderr: bool) -> LineWriter {
        LineWriter {
            log: self.clone(),
            stderr,
            partial: Vec::new(),
            skipping: false,
        }
    }
}

/// Characters shown as escapes: every control character (C0 — line feed, carriage return,
/// escape — DEL and C1), the Unicode line and paragraph separators some viewers break lines
/// at, and the bidirectional overrides that make a terminal show text in another order than
/// it was written ("Trojan Source").
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` as it may appear in a log line: escaped (`\n`, `\r`, `\t`, `\u{1b}`), and cut to
/// [`MAX_LINE`] bytes with a note of how much was left out. Plain short text is not copied.
pub fn clean(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX_LINE && text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(MAX_LINE) + 32);
    for (at, c) in text.char_indices() {
        let before = out.len();
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
        if out.len() > MAX_LINE {
            out.truncate(before);
            let _ = write!(out, "… [{} more bytes cut]", text.len() - at);
            break;
        }
    }
    Cow::Owned(out)
}

/// Splits guest output into lines and logs each one. Holds at most [`MAX_LINE`] bytes of an
/// unfinished line; a longer line is logged cut at that length and the rest of it, up to its
/// newline, is skipped.
pub struct LineWriter {
    log: GuestLog,
    stderr: bool,
    partial: Vec<u8>,
    /// The current line was already logged (cut); drop bytes until its newline.
    skipping: bool,
}

impl LineWriter {
    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        if self.stderr {
            self.log.remember_stderr(&text);
            self.log.line(Level::Warn, &text);
        } else {
            self.log.line(Level::Info, &text);
        }
    }

    /// Takes `data` in one pass: every byte is looked at once, whatever the number of lines
    /// in one write (no shifting of a buffer per line).
    fn take(&mut self, data: &[u8]) {
        let mut rest = data;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = (&rest[..pos], &rest[pos + 1..]);
            if std::mem::take(&mut self.skipping) {
                // The end of a line already logged.
            } else if self.partial.is_empty() {
                self.emit(line);
            } else {
                let room = MAX_LINE.saturating_sub(self.partial.len());
                self.partial
                    .extend_from_slice(&line[..line.len().min(room)]);
                let whole = std::mem::take(&mut self.partial);
                self.emit(&whole);
            }
            rest = after;
        }
        if self.skipping || rest.is_empty() {
            return;
        }
        let room = MAX_LINE - self.partial.len().min(MAX_LINE);
        if rest.len() < room {
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.extend_from_slice(&rest[..room]);
            let cut = std::mem::take(&mut self.partial);
            self.emit(&cut);
            self.skipping = true;
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.take(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.emit(&line);
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_forge_a_line_or_drive_a_terminal() {
        assert!(matches!(clean("plain text"), Cow::Borrowed(_)));
        assert_eq!(
            clean("done\n2026-01-01T00:00:00Z  INFO inlet::sync: sync completed"),
            "done\\n2026-01-01T00:00:00Z  INFO inlet::sync: sync completed"
        );
        assert_eq!(clean("a\r\tb\u{1b}[2J\u{7}"), "a\\r\\tb\\u{1b}[2J\\u{7}");
        assert_eq!(clean("x\u{85}y\u{2028}z"), "x\\u{85}y\\u{2028}z");
        assert_eq!(clean("\u{202e}evil"), "\\u{202e}evil");
        // Ordinary non-ASCII text is kept.
        assert_eq!(clean("café ✓ 日本"), "café ✓ 日本");
    }

    #[test]
    fn long_lines_are_cut_after_escaping() {
        let long = "\n".repeat(10_000);
        let out = clean(&long);
        assert!(out.len() <= MAX_LINE + 40, "{}", out.len());
        assert!(out.ends_with("more bytes cut]"), "{out}");
        assert!(!out.contains('\n'));
        let wide = "é".repeat(5000);
        let out = clean(&wide);
        assert!(out.len() <= MAX_LINE + 40);
        assert!(out.starts_with("éé"));
    }

    #[test]
    fn the_bucket_admits_a_burst_then_counts_what_it_drops() {
        let log = GuestLog::new("c");
        let mut admitted = 0u64;
        let mut reported = 0u64;
        for _ in 0..30_000 {
            let mut inner = log.inner.lock().expect("lock");
            if let Some(n) = inner.admit() {
                admitted += 1;
                reported += n;
            }
        }
        // Refill while looping adds a few tokens at most.
        assert!((500..=600).contains(&admitted), "{admitted}");
        let pending = log.inner.lock().expect("lock").suppressed;
        assert_eq!(admitted + reported + pending, 30_000);
    }

    #[test]
    fn the_line_writer_splits_once_and_holds_at_most_one_cut_line() {
        let log = GuestLog::new("c");
        let mut w = log.writer(true);
        // Many lines in one write: each logged, the partial one kept.
        w.take(b"one\ntwo\nthr");
        w.take(b"ee\n");
        assert_eq!(log.stderr_tail(), vec!["one", "two", "three"]);
        // A line far longer than MAX_LINE across writes: one cut line, nothing buffered.
        for _ in 0..100 {
            w.take(&[b'x'; 1000]);
            assert!(w.partial.len() <= MAX_LINE);
        }
        w.take(b"tail\nnext\n");
        let tail = log.stderr_tail();
        assert_eq!(tail.len(), 5, "{tail:?}");
        assert_eq!(tail[3].len(), MAX_LINE);
        assert_eq!(tail[4], "next");
        // Escaped on the way in.
        w.take(b"evil\x1b[31m\r\n");
        assert_eq!(log.stderr_tail()[5], "evil\\u{1b}[31m");
    }
}
