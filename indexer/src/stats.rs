//! Exact counters, per sync and per index, readable while a sync runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of counters. After `finish`, `indexed + deleted + dead_lettered == emitted`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncStats {
    /// Actions accepted by `send`/`send_batch`.
    pub emitted: u64,
    /// Index actions acknowledged (`created` + `updated`, plus pipeline `noop`s and 409s under `ConflictPolicy::Ignore`).
    pub indexed: u64,
    pub created: u64,
    pub updated: u64,
    /// Delete actions acknowledged, including "not found".
    pub deleted: u64,
    /// Actions currently failing and waiting for a retry (a gauge, 0 after `finish`).
    pub failed: u64,
    pub dead_lettered: u64,
    /// Times an action was sent again.
    pub retried: u64,
    /// NDJSON bytes of the accepted actions (first attempt).
    pub bytes: u64,
    /// Documents removed by stale deletion after a successful full sync.
    pub stale_deleted: u64,
}

#[derive(Default, Debug)]
pub(crate) struct Counters {
    pub emitted: AtomicU64,
    pub indexed: AtomicU64,
    pub created: AtomicU64,
    pub updated: AtomicU64,
    pub deleted: AtomicU64,
    pub failed: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub retried: AtomicU64,
    pub bytes: AtomicU64,
    pub stale_deleted: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> SyncStats {
        SyncStats {
            emitted: self.emitted.load(Relaxed),
            indexed: self.indexed.load(Relaxed),
            created: self.created.load(Relaxed),
            updated: self.updated.load(Relaxed),
            deleted: self.deleted.load(Relaxed),
            failed: self.failed.load(Relaxed),
            dead_lettered: self.dead_lettered.load(Relaxed),
            retried: self.retried.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            stale_deleted: self.stale_deleted.load(Relaxed),
        }
    }
}

/// Which counter an event moves.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stat {
    Emitted,
    Indexed,
    Created,
    Updated,
    Deleted,
    DeadLettered,
    Retried,
    Bytes,
    StaleDeleted,
}

/// The counters one sync updates: its own, its index's (several syncs may feed one index) and the process total.
#[derive(Clone, Debug)]
pub(crate) struct StatSinks {
    pub sync: Arc<Counters>,
    pub index: Arc<Counters>,
    pub total: Arc<Counters>,
}

impl StatSinks {
    pub(crate) fn add(&self, stat: Stat, n: u64) {
        if n == 0 {
            return;
        }
        for c in [&self.sync, &self.index, &self.total] {
            let field = match stat {
                Stat::Emitted => &c.emitted,
                Stat::Indexed => &c.indexed,
                Stat::Created => &c.created,
                Stat::Updated => &c.updated,
                Stat::Deleted => &c.deleted,
                Stat::DeadLettered => &c.dead_lettered,
                Stat::Retried => &c.retried,
                Stat::Bytes => &c.bytes,
                Stat::StaleDeleted => &c.stale_deleted,
            };
            field.fetch_add(n, Relaxed);
        }
    }

    /// The "currently failing" gauge goes up when an action first fails and down when it is settled.
    pub(crate) fn failing(&self, delta: i64) {
        for c in [&self.sync, &self.index, &self.total] {
            if delta >= 0 {
                c.failed.fetch_add(delta.unsigned_abs(), Relaxed);
            } else {
                c.failed.fetch_sub(delta.unsigned_abs(), Relaxed);
            }
        }
    }
}

impl StatSinks {
    /// Undoes `Emitted` for actions that could not be queued after all.
    pub(crate) fn sub_emitted(&self, n: u64) {
        for c in [&self.sync, &self.index, &self.total] {
            c.emitted.fetch_sub(n, Relaxed);
        }
    }
}
