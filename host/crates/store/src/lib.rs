//! The embedded state store (redb): sync cursors, plugin key/value state, job history, and the
//! embedded sink's document ledger. One file under the data directory; safe across restarts.

#![warn(missing_docs, unreachable_pub)]

use std::path::Path;

use redb::{Database, Durability, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use inlet_policy::job::{JobStatus, JobType};

const CURSORS: TableDefinition<&str, &str> = TableDefinition::new("cursors");
const PLUGIN_STATE: TableDefinition<(&str, &str), &str> = TableDefinition::new("plugin_state");
/// connector → (keys, bytes of keys and values) in `plugin_state`, kept in step with it in the
/// same transactions, so the quota check never scans a connector's state.
const PLUGIN_STATE_USAGE: TableDefinition<&str, (u64, u64)> =
    TableDefinition::new("plugin_state_usage");
const JOBS: TableDefinition<&str, &str> = TableDefinition::new("jobs");
/// (index, document id) → id of the sync that last wrote it. Stale deletion in the embedded
/// sink walks this table in pages, so memory stays flat whatever the index size.
const SINK_DOCS: TableDefinition<(&str, &str), &str> = TableDefinition::new("sink_docs");
/// index → bytes of its NDJSON file that belong to committed batches. Anything past that was
/// being written when the process died, and is cut off at the next start.
const SINK_FILES: TableDefinition<&str, u64> = TableDefinition::new("sink_files");

/// A failed read or write of the store file (redb's error, or the store file held by another
/// process), as a sentence.
#[derive(Debug, thiserror::Error)]
#[error("state store: {0}")]
pub struct StoreError(String);

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError(e.to_string()) }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    serde_json::Error
);

/// What a connector keeps in its plugin state: keys, and bytes of keys and values together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateUsage {
    /// Keys held.
    pub keys: u64,
    /// Bytes of keys and values together (UTF-8).
    pub bytes: u64,
}

impl StateUsage {
    /// What one entry counts for.
    pub fn entry(key: &str, value: &str) -> StateUsage {
        StateUsage {
            keys: 1,
            bytes: (key.len() + value.len()) as u64,
        }
    }

    fn add(&mut self, e: StateUsage) {
        self.keys = self.keys.saturating_add(e.keys);
        self.bytes = self.bytes.saturating_add(e.bytes);
    }

    fn sub(&mut self, e: StateUsage) {
        self.keys = self.keys.saturating_sub(e.keys);
        self.bytes = self.bytes.saturating_sub(e.bytes);
    }

    /// Whether this usage stays within `limit` (same units).
    pub fn within(&self, limit: StateUsage) -> bool {
        self.keys <= limit.keys && self.bytes <= limit.bytes
    }
}

/// One finished (or running) sync, as kept in the job history. The type and status are stored as
/// their wire strings (`full`, `in_progress`, …), as they always were.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobRecord {
    /// The job's id, the key of the history.
    pub job_id: String,
    /// The connector it synced.
    pub connector_id: String,
    /// Full, incremental or access control.
    pub job_type: JobType,
    /// `in_progress` while it runs, then `completed`, `error`, `canceled` or `suspended`.
    pub status: JobStatus,
    /// RFC 3339, when the sync started.
    pub started_at: String,
    /// RFC 3339, when it ended; `None` while it runs.
    pub completed_at: Option<String>,
    /// Why it failed, for `error`.
    pub error: Option<String>,
    /// The sync's counts as JSON (`extracted`, `indexed`, `deleted`, …).
    pub stats: serde_json::Value,
}

/// The embedded state store: one redb file under the data directory, used by one process at a
/// time (redb locks it).
pub struct StateStore {
    db: Database,
}

impl StateStore {
    /// Opens (or creates) the store file and its tables.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(|e| {
            StoreError(format!(
                "cannot open {}: {e} (is another inlet process using the same data_dir?)",
                path.display()
            ))
        })?;
        let txn = db.begin_write()?;
        txn.open_table(CURSORS)?;
        txn.open_table(PLUGIN_STATE)?;
        txn.open_table(PLUGIN_STATE_USAGE)?;
        txn.open_table(JOBS)?;
        txn.open_table(SINK_DOCS)?;
        txn.open_table(SINK_FILES)?;
        txn.commit()?;
        Ok(StateStore { db })
    }

    /// The cursor the connector's last successful sync left, for the next incremental one.
    pub fn cursor(&self, connector_id: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CURSORS)?;
        Ok(table.get(connector_id)?.map(|v| v.value().to_owned()))
    }

    /// Replaces the connector's cursor; `None` forgets it.
    pub fn set_cursor(&self, connector_id: &str, cursor: Option<&str>) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(CURSORS)?;
            match cursor {
                Some(c) => {
                    table.insert(connector_id, c)?;
                }
                None => {
                    table.remove(connector_id)?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// One key of the connector's plugin state.
    pub fn plugin_get(&self, connector_id: &str, key: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PLUGIN_STATE)?;
        Ok(table
            .get((connector_id, key))?
            .map(|v| v.value().to_owned()))
    }

    /// What a connector's plugin state holds. Read from the usage table; a database written
    /// before that table existed is counted once, here, and the count kept.
    pub fn plugin_usage(&self, connector_id: &str) -> Result<StateUsage, StoreError> {
        {
            let txn = self.db.begin_read()?;
            if let Some(row) = txn.open_table(PLUGIN_STATE_USAGE)?.get(connector_id)? {
                let (keys, bytes) = row.value();
                return Ok(StateUsage { keys, bytes });
            }
        }
        let txn = self.db.begin_write()?;
        let usage = {
            let state = txn.open_table(PLUGIN_STATE)?;
            let mut usage = StateUsage::default();
            for row in state.range((connector_id, "")..)? {
                let (k, v) = row?;
                let (connector, key) = k.value();
                if connector != connector_id {
                    break;
                }
                usage.add(StateUsage::entry(key, v.value()));
            }
            txn.open_table(PLUGIN_STATE_USAGE)?
                .insert(connector_id, (usage.keys, usage.bytes))?;
            usage
        };
        txn.commit()?;
        Ok(usage)
    }

    /// Applies a connector's staged writes (`None` deletes) in one durable transaction and
    /// returns the usage after them. Refuses the whole set, writing nothing, if the result
    /// would pass `limit` — which the caller checked already, unless another instance of the
    /// same connector wrote in the meantime.
    pub fn plugin_apply<'a>(
        &self,
        connector_id: &str,
        writes: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
        limit: StateUsage,
    ) -> Result<StateUsage, StoreError> {
        // Counts a database written before the usage table, outside the transaction below.
        self.plugin_usage(connector_id)?;
        let txn = self.db.begin_write()?;
        let usage = {
            let mut state = txn.open_table(PLUGIN_STATE)?;
            let mut usage_table = txn.open_table(PLUGIN_STATE_USAGE)?;
            // Read inside the transaction: another instance may have written since.
            let mut usage = usage_table
                .get(connector_id)?
                .map(|row| {
                    let (keys, bytes) = row.value();
                    StateUsage { keys, bytes }
                })
                .unwrap_or_default();
            for (key, value) in writes {
                let old = match value {
                    Some(v) => {
                        usage.add(StateUsage::entry(key, v));
                        state.insert((connector_id, key), v)?
                    }
                    None => state.remove((connector_id, key))?,
                };
                if let Some(old) = old {
                    usage.sub(StateUsage::entry(key, old.value()));
                }
            }
            if usage.within(limit) {
                usage_table.insert(connector_id, (usage.keys, usage.bytes))?;
            }
            usage
        };
        if !usage.within(limit) {
            txn.abort()?;
            return Err(StoreError(format!(
                "the plugin state of connector `{connector_id}` would hold {} keys and {} bytes, over its quota of {} keys and {} bytes (connectors[].limits.max_state_keys / max_state_bytes); nothing was written",
                usage.keys, usage.bytes, limit.keys, limit.bytes
            )));
        }
        txn.commit()?;
        Ok(usage)
    }

    /// Sets (`Some`) or deletes (`None`) one key at once, keeping the usage count; no quota.
    pub fn plugin_set(
        &self,
        connector_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let unlimited = StateUsage {
            keys: u64::MAX,
            bytes: u64::MAX,
        };
        self.plugin_apply(connector_id, [(key, value)], unlimited)
            .map(drop)
    }

    /// Writes (or rewrites, by `job_id`) a job's record in the history.
    pub fn record_job(&self, job: &JobRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(job)?;
        let txn = self.db.begin_write()?;
        txn.open_table(JOBS)?
            .insert(job.job_id.as_str(), json.as_str())?;
        txn.commit()?;
        Ok(())
    }

    /// Every job still marked `in_progress`: after a crash these never finished.
    pub fn unfinished_jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(JOBS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            let job: JobRecord = serde_json::from_str(v.value())?;
            if job.status == JobStatus::InProgress {
                out.push(job);
            }
        }
        Ok(out)
    }

    /// Job history of one connector, oldest first.
    pub fn jobs(&self, connector_id: &str) -> Result<Vec<JobRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(JOBS)?;
        let mut out = Vec::new();
        for row in table.iter()? {
            let (_, v) = row?;
            let job: JobRecord = serde_json::from_str(v.value())?;
            if job.connector_id == connector_id {
                out.push(job);
            }
        }
        out.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        Ok(out)
    }

    /// Bytes of an index's sink file known to hold whole batches.
    pub fn committed_len(&self, index: &str) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SINK_FILES)?;
        Ok(table.get(index)?.map(|v| v.value()))
    }

    /// Records which sync last wrote these documents (index ops) or forgets them (deletes),
    /// and the sink file's length once they are written, in one transaction.
    pub fn ledger_apply<'a>(
        &self,
        index: &str,
        sync_id: &str,
        ops: impl Iterator<Item = (&'a str, bool)>,
        file_len: u64,
    ) -> Result<(), StoreError> {
        let mut txn = self.db.begin_write()?;
        // The NDJSON sink file is the record of truth; the ledger can be rebuilt from it, so
        // it does not need an fsync per batch.
        txn.set_durability(Durability::Eventual);
        {
            let mut table = txn.open_table(SINK_DOCS)?;
            for (id, present) in ops {
                if present {
                    table.insert((index, id), sync_id)?;
                } else {
                    table.remove((index, id))?;
                }
            }
            txn.open_table(SINK_FILES)?.insert(index, file_len)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Up to `limit` ids in `index` not written by `sync_id`, starting after `after`.
    pub fn ledger_stale_page(
        &self,
        index: &str,
        sync_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SINK_DOCS)?;
        let mut out = Vec::new();
        let start = (index, after.unwrap_or(""));
        for row in table.range(start..)? {
            let (k, v) = row?;
            let (idx, id) = k.value();
            if idx != index {
                break;
            }
            if after == Some(id) {
                continue;
            }
            if v.value() != sync_id {
                out.push(id.to_owned());
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Number of documents the ledger holds for `index`.
    pub fn ledger_count(&self, index: &str) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SINK_DOCS)?;
        let mut n = 0;
        for row in table.range((index, "")..)? {
            let (k, _) = row?;
            if k.value().0 != index {
                break;
            }
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_pages_through_stale_ids_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(&dir.path().join("s.redb")).expect("open");
        let ids: Vec<String> = (0..25).map(|i| format!("d{i:02}")).collect();
        store
            .ledger_apply("idx", "old", ids.iter().map(|s| (s.as_str(), true)), 1)
            .expect("apply");
        store
            .ledger_apply("other", "old", [("x", true)].into_iter(), 1)
            .expect("apply");
        // The new sync rewrote the even ones.
        store
            .ledger_apply(
                "idx",
                "new",
                ids.iter().step_by(2).map(|s| (s.as_str(), true)),
                2,
            )
            .expect("apply");
        let mut stale = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store
                .ledger_stale_page("idx", "new", after.as_deref(), 4)
                .expect("page");
            if page.is_empty() {
                break;
            }
            after = page.last().cloned();
            stale.extend(page);
        }
        let expected: Vec<String> = ids.iter().skip(1).step_by(2).cloned().collect();
        assert_eq!(stale, expected);
        assert_eq!(store.ledger_count("idx").expect("count"), 25);
        assert_eq!(store.ledger_count("other").expect("count"), 1);
        assert_eq!(store.committed_len("idx").expect("len"), Some(2));
    }

    #[test]
    fn plugin_usage_follows_every_write_and_the_quota_holds_in_the_transaction() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(&dir.path().join("s.redb")).expect("open");
        let limit = StateUsage {
            keys: 3,
            bytes: 100,
        };
        let usage = store
            .plugin_apply("c", [("a", Some("1")), ("b", Some("22"))], limit)
            .expect("apply");
        assert_eq!(usage, StateUsage { keys: 2, bytes: 5 });
        // Overwrite, delete, delete of a missing key.
        let usage = store
            .plugin_apply("c", [("a", Some("4444")), ("b", None), ("zz", None)], limit)
            .expect("apply");
        assert_eq!(usage, StateUsage { keys: 1, bytes: 5 });
        assert_eq!(store.plugin_usage("c").expect("usage"), usage);
        // Over the quota: refused whole, nothing written.
        let err = store
            .plugin_apply(
                "c",
                [("x", Some("1")), ("y", Some("1")), ("z", Some("1"))],
                limit,
            )
            .unwrap_err();
        assert!(err.to_string().contains("max_state_keys"), "{err}");
        assert_eq!(store.plugin_get("c", "x").expect("get"), None);
        assert_eq!(store.plugin_usage("c").expect("usage"), usage);
        // Other connectors are counted apart.
        store.plugin_set("d", "k", Some("v")).expect("set");
        assert_eq!(
            store.plugin_usage("d").expect("usage"),
            StateUsage { keys: 1, bytes: 2 }
        );
        assert_eq!(store.plugin_usage("c").expect("usage"), usage);
    }

    #[test]
    fn plugin_usage_is_counted_once_for_state_written_before_the_usage_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.redb");
        {
            // A database as an older inlet left it: state rows, no usage row.
            let db = Database::create(&path).expect("create");
            let txn = db.begin_write().expect("txn");
            {
                let mut t = txn.open_table(PLUGIN_STATE).expect("table");
                t.insert(("c", "k1"), "abc").expect("insert");
                t.insert(("c", "k2"), "de").expect("insert");
                t.insert(("other", "k"), "zzzzzz").expect("insert");
            }
            txn.commit().expect("commit");
        }
        let store = StateStore::open(&path).expect("open");
        assert_eq!(
            store.plugin_usage("c").expect("usage"),
            StateUsage { keys: 2, bytes: 9 }
        );
        store.plugin_set("c", "k1", None).expect("delete");
        assert_eq!(
            store.plugin_usage("c").expect("usage"),
            StateUsage { keys: 1, bytes: 4 }
        );
    }

    /// Job records as inlet wrote them before the type and status were typed: plain strings.
    #[test]
    fn job_records_written_before_read_and_are_written_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.redb");
        let old = [
            r#"{"job_id":"1","connector_id":"c","job_type":"full","status":"completed","started_at":"2025-01-01T00:00:01+00:00","completed_at":"2025-01-01T00:00:02+00:00","error":null,"stats":{"extracted":3}}"#,
            r#"{"job_id":"2","connector_id":"c","job_type":"incremental","status":"error","started_at":"2025-01-01T00:00:03+00:00","completed_at":"2025-01-01T00:00:04+00:00","error":"boom","stats":null}"#,
            r#"{"job_id":"3","connector_id":"c","job_type":"access_control","status":"suspended","started_at":"2025-01-01T00:00:05+00:00","completed_at":null,"error":null,"stats":null}"#,
            r#"{"job_id":"4","connector_id":"d","job_type":"full","status":"canceled","started_at":"2025-01-01T00:00:06+00:00","completed_at":null,"error":null,"stats":null}"#,
            r#"{"job_id":"5","connector_id":"d","job_type":"incremental","status":"in_progress","started_at":"2025-01-01T00:00:07+00:00","completed_at":null,"error":null,"stats":null}"#,
        ];
        {
            let db = Database::create(&path).expect("create");
            let txn = db.begin_write().expect("txn");
            {
                let mut t = txn.open_table(JOBS).expect("table");
                for (i, record) in old.iter().enumerate() {
                    t.insert((i + 1).to_string().as_str(), *record)
                        .expect("insert");
                }
            }
            txn.commit().expect("commit");
        }
        let store = StateStore::open(&path).expect("open");
        let c: Vec<(JobType, JobStatus)> = store
            .jobs("c")
            .expect("history")
            .iter()
            .map(|j| (j.job_type, j.status))
            .collect();
        assert_eq!(
            c,
            [
                (JobType::Full, JobStatus::Completed),
                (JobType::Incremental, JobStatus::Error),
                (JobType::AccessControl, JobStatus::Suspended),
            ]
        );
        let unfinished = store.unfinished_jobs().expect("unfinished");
        assert_eq!(unfinished.len(), 1);
        assert_eq!(unfinished[0].job_id, "5");
        // Written back, a record is the same text as before.
        for record in old {
            let typed: JobRecord = serde_json::from_str(record).expect("record");
            assert_eq!(serde_json::to_string(&typed).expect("json"), record);
        }
    }

    #[test]
    fn cursor_round_trip_and_clear() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(&dir.path().join("s.redb")).expect("open");
        assert_eq!(store.cursor("c").expect("read"), None);
        store.set_cursor("c", Some("42")).expect("write");
        assert_eq!(store.cursor("c").expect("read").as_deref(), Some("42"));
        store.set_cursor("c", None).expect("clear");
        assert_eq!(store.cursor("c").expect("read"), None);
    }
}
