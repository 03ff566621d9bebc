//! One batch's life: send it, read the answer item by item, resend what may succeed later, split what is
//! too big, and dead-letter what never will. Every action ends counted exactly once.

use std::io::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::value::RawValue;

use crate::batch::{Batch, Entry};
use crate::concurrency::Permit;
use crate::dead_letter::{self, Record};
use crate::indexer::Shared;
use crate::response::{BulkResponse, ErrorInfo, error_info, request_error};
use crate::retry::{backoff, retryable_item_status, retryable_request_status};
use crate::stats::Stat;
use crate::sync::SyncCtx;
use crate::transport::Request;
use crate::{ConflictPolicy, Op};

/// Runs until every action of `batch` is settled. The request slot is held throughout, backoff included:
/// a batch waiting to retry still holds memory, and bounding requests in flight is what bounds that memory.
pub(crate) async fn run(shared: Arc<Shared>, ctx: Arc<SyncCtx>, batch: Batch, _permit: Permit) {
    let mut work = vec![batch];
    while let Some(piece) = work.pop() {
        let round = piece.entries.iter().map(|e| e.attempts).max().unwrap_or(0);
        if round > 0 {
            tokio::time::sleep(backoff(
                round,
                shared.cfg.initial_backoff,
                shared.cfg.max_backoff,
            ))
            .await;
        }
        let mut j = Job {
            shared: &shared,
            ctx: &ctx,
            retry: Vec::new(),
            dead: Vec::new(),
            split: None,
        };
        let body = j.attempt(piece).await;
        if !j.dead.is_empty() {
            write_dead_letters(&shared, &ctx, &body, std::mem::take(&mut j.dead)).await;
        }
        if !j.retry.is_empty() {
            work.push(Batch::rebuild(&body, std::mem::take(&mut j.retry)));
        }
        if let Some(pieces) = j.split.take() {
            work.extend(pieces);
        }
        ctx.bodies.give_back(body);
    }
}

/// A dead action with why it died.
struct Dead {
    entry: Entry,
    status: Option<u16>,
    error: ErrorInfo,
}

struct Job<'a> {
    shared: &'a Shared,
    ctx: &'a SyncCtx,
    retry: Vec<Entry>,
    dead: Vec<Dead>,
    split: Option<[Batch; 2]>,
}

enum Answer {
    Retry {
        status: Option<u16>,
        error: ErrorInfo,
    },
    Split {
        status: u16,
        error: ErrorInfo,
    },
    Reject {
        status: u16,
        error: ErrorInfo,
    },
}

impl Job<'_> {
    /// Sends `piece` once and sorts its entries into settled, retry and dead. Returns the body, which the
    /// entries' ranges point into.
    async fn attempt(&mut self, mut piece: Batch) -> Bytes {
        let cfg = &self.shared.cfg;
        let body = Bytes::from(std::mem::take(&mut piece.body));
        let entries = piece.entries;
        let payload = if cfg.gzip {
            gzip(body.clone()).await
        } else {
            body.clone()
        };
        let req = Request {
            method: reqwest::Method::POST,
            path: &self.ctx.bulk_path,
            query: &self.ctx.bulk_query,
            auth: self.ctx.auth.as_ref(),
            body: Some((payload, "application/x-ndjson")),
            gzip: cfg.gzip,
            timeout: None,
        };
        let index = &self.ctx.target.index;
        let answer = match self.shared.transport.send(req).await {
            Err(e) => {
                tracing::warn!(index = %index, url = %e.url, error = %e.reason, actions = entries.len(), "bulk request failed; will retry");
                Answer::Retry {
                    status: None,
                    error: ErrorInfo {
                        kind: "transport_error".into(),
                        reason: e.reason,
                    },
                }
            }
            Ok(reply) if (200..300).contains(&reply.status) => {
                match self.read_items(&reply.body, entries) {
                    Ok(()) => return body,
                    Err((entries, why)) => {
                        tracing::warn!(index = %index, status = reply.status, reason = %why, "bulk answer cannot be mapped to the request; retrying the whole request");
                        let error = ErrorInfo {
                            kind: "invalid_bulk_response".into(),
                            reason: why,
                        };
                        self.fail_all(entries, Some(reply.status), error, true);
                        return body;
                    }
                }
            }
            Ok(reply) => {
                let error = request_error(reply.status, &reply.body);
                let status = reply.status;
                if status == 429 {
                    self.shared.limiter.overloaded();
                }
                if retryable_request_status(status) {
                    tracing::warn!(index = %index, status, error = %error.reason, actions = entries.len(), "bulk request rejected; will retry");
                    Answer::Retry {
                        status: Some(status),
                        error,
                    }
                } else if status == 413 || status == 400 {
                    // 413: too big for `http.max_content_length`. 400: one malformed action fails the whole
                    // request; halving isolates it so the rest still gets in.
                    Answer::Split { status, error }
                } else {
                    tracing::error!(index = %index, status, error = %error.reason, actions = entries.len(),
                        "bulk request refused; dead-lettering its actions (check credentials and privileges on the index)");
                    Answer::Reject { status, error }
                }
            }
        };
        match answer {
            Answer::Retry { status, error } => self.fail_all(entries, status, error, true),
            Answer::Reject { status, error } => self.fail_all(entries, Some(status), error, false),
            Answer::Split { status, error } => {
                if entries.len() > 1 {
                    tracing::warn!(index = %index, status, actions = entries.len(), "bulk request refused as a whole; splitting it in two");
                    let (a, b) = Batch::halve_entries(&body, entries);
                    self.split = Some([a, b]);
                } else {
                    tracing::warn!(index = %index, status, error = %error.reason, "a single action is refused; dead-lettering it");
                    self.fail_all(entries, Some(status), error, false);
                }
            }
        }
        body
    }

    /// Maps a 2xx answer back onto the entries (item order = action order).
    fn read_items(
        &mut self,
        reply: &[u8],
        entries: Vec<Entry>,
    ) -> Result<(), (Vec<Entry>, String)> {
        let parsed: BulkResponse = match serde_json::from_slice(reply) {
            Ok(p) => p,
            Err(e) => return Err((entries, format!("unreadable bulk response: {e}"))),
        };
        if parsed.items.len() != entries.len() {
            let why = format!(
                "{} actions sent, {} items answered",
                entries.len(),
                parsed.items.len()
            );
            return Err((entries, why));
        }
        let mismatch = entries
            .iter()
            .zip(&parsed.items)
            .find(|(e, w)| w.item().id.as_deref().is_some_and(|id| id != e.id));
        if let Some((e, w)) = mismatch {
            let why = format!("item for {:?} answered as {:?}", e.id, w.item().id);
            return Err((entries, why));
        }
        let policy = self.shared.cfg.on_conflict;
        let stats = &self.ctx.stats;
        let (mut indexed, mut created, mut updated, mut deleted, mut throttled) =
            (0, 0, 0, 0, false);
        for (entry, wrapper) in entries.into_iter().zip(&parsed.items) {
            let item = wrapper.item();
            let status = item.status.unwrap_or(0);
            let ok = (200..300).contains(&status)
                || (status == 404 && entry.op == Op::Delete && item.error.is_none())
                || (status == 409 && policy == ConflictPolicy::Ignore);
            if ok {
                if entry.attempts > 0 {
                    stats.failing(-1);
                }
                match entry.op {
                    Op::Index => {
                        indexed += 1;
                        match (item.result.as_deref(), status) {
                            (Some("created"), _) | (None, 201) => created += 1,
                            (Some("updated"), _) | (None, 200) => updated += 1,
                            _ => {} // pipeline `noop`, or a 409 ignored by policy
                        }
                    }
                    Op::Delete => deleted += 1,
                }
                continue;
            }
            let error = match item.error {
                Some(raw) => error_info(raw),
                None if status == 0 => ErrorInfo {
                    kind: "missing_status".into(),
                    reason: "the item has no status".into(),
                },
                None => ErrorInfo {
                    kind: format!("http_{status}"),
                    reason: String::new(),
                },
            };
            throttled |= status == 429;
            // An item without a status is as unknown as a lost response: worth another try.
            let retry = status == 0 || retryable_item_status(status);
            self.fail_one(entry, Some(status), error, retry);
        }
        stats.add(Stat::Indexed, indexed);
        stats.add(Stat::Created, created);
        stats.add(Stat::Updated, updated);
        stats.add(Stat::Deleted, deleted);
        if throttled {
            self.shared.limiter.overloaded();
        } else {
            self.shared.limiter.succeeded();
        }
        if !self.retry.is_empty() || !self.dead.is_empty() {
            tracing::debug!(index = %self.ctx.target.index, retry = self.retry.len(), dead = self.dead.len(), "bulk items failed");
        }
        Ok(())
    }

    fn fail_all(
        &mut self,
        entries: Vec<Entry>,
        status: Option<u16>,
        error: ErrorInfo,
        retry: bool,
    ) {
        for e in entries {
            self.fail_one(e, status, error.clone(), retry);
        }
    }

    /// One action failed: queue it for another try while it has tries left, else dead-letter it.
    fn fail_one(&mut self, mut entry: Entry, status: Option<u16>, error: ErrorInfo, retry: bool) {
        let stats = &self.ctx.stats;
        if retry && entry.attempts < self.shared.cfg.max_retries {
            if entry.attempts == 0 {
                stats.failing(1);
            }
            entry.attempts += 1;
            stats.add(Stat::Retried, 1);
            self.retry.push(entry);
        } else {
            if entry.attempts > 0 {
                stats.failing(-1);
            }
            self.dead.push(Dead {
                entry,
                status,
                error,
            });
        }
    }
}

async fn gzip(body: Bytes) -> Bytes {
    // Compressing megabytes is CPU work that must not stall the runtime's I/O threads.
    let result = tokio::task::spawn_blocking(move || {
        let mut enc = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        enc.write_all(&body)?;
        enc.finish()
    })
    .await;
    match result {
        Ok(Ok(v)) => Bytes::from(v),
        // Writing into a Vec cannot fail, and the closure cannot panic; an empty body would be a bug to notice.
        _ => Bytes::new(),
    }
}

async fn write_dead_letters(
    shared: &Arc<Shared>,
    ctx: &Arc<SyncCtx>,
    body: &[u8],
    dead: Vec<Dead>,
) {
    let t = &ctx.target;
    let time = dead_letter::now();
    let mut lines = Vec::new();
    for d in &dead {
        let doc = Batch::original_document_in(body, &d.entry);
        let doc_raw: Option<&RawValue> =
            doc.as_deref().and_then(|d| serde_json::from_slice(d).ok());
        // Keep even a document that does not parse (it came from the host as valid JSON; should never happen).
        let fallback;
        let doc_raw = match (doc_raw, &doc) {
            (Some(r), _) => Some(r),
            (None, Some(bytes)) => {
                fallback = serde_json::value::to_raw_value(&String::from_utf8_lossy(bytes)).ok();
                fallback.as_deref()
            }
            (None, None) => None,
        };
        let record = Record {
            time: time.clone(),
            connector_id: &t.connector_id,
            sync_id: &t.sync_id,
            index: &t.index,
            op: d.entry.op,
            id: &d.entry.id,
            status: d.status,
            error: &d.error,
            document: doc_raw,
        };
        dead_letter::line(&mut lines, &record);
        ctx.note_dead_id(d.entry.op, &d.entry.id);
    }
    ctx.stats.add(Stat::DeadLettered, dead.len() as u64);
    tracing::warn!(index = %t.index, count = dead.len(), file = %shared.dead_letters.path_for(&t.index).display(), "actions dead-lettered");
    let writer = shared.dead_letters.clone();
    let index = t.index.clone();
    match tokio::task::spawn_blocking(move || writer.append(&index, &lines)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => ctx.set_fatal(e),
        Err(e) => ctx.set_fatal(crate::IndexerError::Internal(format!(
            "dead-letter writer failed: {e}"
        ))),
    }
}
