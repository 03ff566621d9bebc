//! The embedded state store (redb): sync cursors, plugin key/value state, job history, and the
//! embedded sink's document ledger. One file under the data directory; safe across restarts.

use std::path::Path;

use redb::{Database, Durability, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

const CURSORS: TableDefinition<&str, &str> = TableDefinition::new("cursors");
const PLUGIN_STATE: TableDefinition<(&str, &str), &str> = TableDefinition::new("plugin_state");
const JOBS: TableDefinition<&str, &str> = TableDefinition::new("jobs");
/// (index, document id) → id of the sync that last wrote it. Stale deletion in the embedded
/// sink walks this table in pages, so memory stays flat whatever the index size.
const SINK_DOCS: TableDefinition<(&str, &str), &str> = TableDefinition::new("sink_docs");
/// index → bytes of its NDJSON file that belong to committed batches. Anything past that was
/// being written when the process died, and is cut off at the next start.
const SINK_FILES: TableDefinition<&str, u64> = TableDefinition::new("sink_files");

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

/// One finished (or running) sync, as kept in the job history.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JobRecord {
    pub job_id: String,
    pub connector_id: String,
    pub job_type: String,
    /// `in_progress`, `completed`, `error`, `canceled`.
    pub status: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub error: Option<String>,
    pub stats: serde_json::Value,
}

pub struct StateStore {
    db: Database,
}

impl StateStore {
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
        txn.open_table(JOBS)?;
        txn.open_table(SINK_DOCS)?;
        txn.open_table(SINK_FILES)?;
        txn.commit()?;
        Ok(StateStore { db })
    }

    pub fn cursor(&self, connector_id: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CURSORS)?;
        Ok(table.get(connector_id)?.map(|v| v.value().to_owned()))
    }

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

    pub fn plugin_get(&self, connector_id: &str, key: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PLUGIN_STATE)?;
        Ok(table
            .get((connector_id, key))?
            .map(|v| v.value().to_owned()))
    }

    pub fn plugin_set(
        &self,
        connector_id: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(PLUGIN_STATE)?;
            match value {
                Some(v) => {
                    table.insert((connector_id, key), v)?;
                }
                None => {
                    table.remove((connector_id, key))?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

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
            if job.status == "in_progress" {
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
