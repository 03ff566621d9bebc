//! The embedded sink: with no cluster configured, documents land on disk as NDJSON in `_bulk`
//! form, one file per index (`<data_dir>/sink/<index>.ndjson`), appended sync after sync. A user
//! can read it, or replay it into a cluster:
//! `curl -H 'Content-Type: application/x-ndjson' --data-binary @search-x.ndjson host/_bulk`.
//!
//! Which documents an index holds is kept in the state store's ledger, so stale deletion after
//! a full sync pages through ids on disk instead of holding them all in memory.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{Action, Op, SinkError, SinkStats, Target, action_bytes};
use inlet_store::StateStore;

/// Ids per page when walking the ledger for stale documents.
const STALE_PAGE: usize = 1000;

/// The embedded sink: the index files under one directory, and the state store's ledger of
/// which documents each index holds. Shared by every sync of the process.
pub struct EmbeddedSink {
    dir: PathBuf,
    store: Arc<StateStore>,
    files: Mutex<HashMap<String, Arc<Mutex<BufWriter<std::fs::File>>>>>,
}

impl EmbeddedSink {
    /// Opens the sink in `dir`, creating it if missing. Index files are opened (and an
    /// interrupted batch cut off) when a sync first writes to them.
    pub(crate) fn open(dir: &Path, store: Arc<StateStore>) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(EmbeddedSink {
            dir: dir.to_path_buf(),
            store,
            files: Mutex::new(HashMap::new()),
        })
    }

    /// The directory of the index files.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The NDJSON file of an index.
    pub(crate) fn index_path(&self, index: &str) -> PathBuf {
        self.dir.join(format!("{index}.ndjson"))
    }

    fn file(&self, index: &str) -> Result<Arc<Mutex<BufWriter<std::fs::File>>>, SinkError> {
        let mut files = self
            .files
            .lock()
            .map_err(|_| SinkError::Embedded("file table lock poisoned".into()))?;
        if let Some(f) = files.get(index) {
            return Ok(f.clone());
        }
        let path = self.index_path(index);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| SinkError::Embedded(format!("cannot open {}: {e}", path.display())))?;
        self.cut_interrupted_write(index, &path, &file)?;
        let f = Arc::new(Mutex::new(BufWriter::with_capacity(1 << 20, file)));
        files.insert(index.to_owned(), f.clone());
        Ok(f)
    }

    /// A process that died mid-batch may have left part of a batch at the end of the file:
    /// the ledger records how far whole batches go; cut the rest. Those documents were never
    /// acknowledged, and the interrupted sync runs again.
    fn cut_interrupted_write(
        &self,
        index: &str,
        path: &Path,
        file: &std::fs::File,
    ) -> Result<(), SinkError> {
        let committed = self
            .store
            .committed_len(index)
            .map_err(|e| SinkError::Embedded(e.to_string()))?
            .unwrap_or(0);
        let len = file
            .metadata()
            .map_err(|e| SinkError::Embedded(format!("cannot stat {}: {e}", path.display())))?
            .len();
        if len > committed {
            tracing::warn!(
                file = %path.display(),
                bytes = len - committed,
                "discarding the tail of a batch that was being written when the process stopped"
            );
            file.set_len(committed).map_err(|e| {
                SinkError::Embedded(format!("cannot truncate {}: {e}", path.display()))
            })?;
        } else if len < committed {
            tracing::warn!(
                file = %path.display(),
                "the sink file is shorter than recorded (edited or truncated by hand?)"
            );
        }
        Ok(())
    }

    /// Starts writing one sync's documents.
    pub(crate) fn begin(self: &Arc<Self>, target: Target) -> Writer {
        Writer {
            sink: self.clone(),
            target: Arc::new(target),
            stats: SinkStats::default(),
        }
    }
}

/// The writing side of one sync on the embedded sink.
pub(crate) struct Writer {
    sink: Arc<EmbeddedSink>,
    target: Arc<Target>,
    stats: SinkStats,
}

fn write_actions(out: &mut impl Write, index: &str, actions: &[Action]) -> std::io::Result<()> {
    let index = serde_json::to_string(index)?;
    for a in actions {
        let id = serde_json::to_string(&a.id)?;
        match (a.op, &a.source) {
            (Op::Index, Some(source)) => {
                writeln!(out, "{{\"index\":{{\"_index\":{index},\"_id\":{id}}}}}")?;
                out.write_all(source.as_bytes())?;
                out.write_all(b"\n")?;
            }
            _ => writeln!(out, "{{\"delete\":{{\"_index\":{index},\"_id\":{id}}}}}")?,
        }
    }
    out.flush()
}

impl Writer {
    /// Appends a batch to the index file and records it in the ledger, in one step under the
    /// file's lock.
    pub(crate) async fn send_batch(&mut self, actions: Vec<Action>) -> Result<(), SinkError> {
        if actions.is_empty() {
            return Ok(());
        }
        let sink = self.sink.clone();
        let target = self.target.clone();
        // File and ledger writes are blocking I/O: keep them off the async workers.
        let actions = tokio::task::spawn_blocking(move || -> Result<Vec<Action>, SinkError> {
            let file = sink.file(&target.index)?;
            // The lock spans the write and the ledger update, so the recorded length always
            // ends at a batch boundary even with several syncs writing one index.
            let mut out = file
                .lock()
                .map_err(|_| SinkError::Embedded("index file lock poisoned".into()))?;
            let io_err = |e: std::io::Error| {
                SinkError::Embedded(format!(
                    "cannot write {}: {e}",
                    sink.index_path(&target.index).display()
                ))
            };
            write_actions(&mut *out, &target.index, &actions).map_err(io_err)?;
            let len = out.get_ref().metadata().map_err(io_err)?.len();
            sink.store
                .ledger_apply(
                    &target.index,
                    &target.sync_id,
                    actions.iter().map(|a| (a.id.as_str(), a.op == Op::Index)),
                    len,
                )
                .map_err(|e| SinkError::Embedded(e.to_string()))?;
            drop(out);
            Ok(actions)
        })
        .await
        .map_err(|e| SinkError::Embedded(format!("writer task failed: {e}")))??;
        for a in &actions {
            self.stats.bytes += action_bytes(a);
            match a.op {
                Op::Index => self.stats.indexed += 1,
                Op::Delete => self.stats.deleted += 1,
            }
        }
        Ok(())
    }

    /// The counts so far.
    pub(crate) fn stats(&self) -> SinkStats {
        self.stats.clone()
    }

    /// Flushes the index file and, after a successful sync that deletes stale documents (full,
    /// access control), deletes them. The counts come back even when that fails.
    pub(crate) async fn finish(mut self, succeeded: bool) -> (SinkStats, Result<(), SinkError>) {
        let done = self.settle(succeeded).await;
        (self.stats, done)
    }

    async fn settle(&mut self, succeeded: bool) -> Result<(), SinkError> {
        if succeeded && self.target.stale_deletion {
            self.delete_stale().await?;
        }
        let sink = self.sink.clone();
        let index = self.target.index.clone();
        tokio::task::spawn_blocking(move || -> Result<(), SinkError> {
            let file = sink.file(&index)?;
            let mut out = file
                .lock()
                .map_err(|_| SinkError::Embedded("index file lock poisoned".into()))?;
            out.flush()
                .and_then(|_| out.get_ref().sync_data())
                .map_err(|e| SinkError::Embedded(format!("cannot flush {index}: {e}")))
        })
        .await
        .map_err(|e| SinkError::Embedded(format!("flush task failed: {e}")))?
    }

    /// Deletes, page by page, every document of the index this sync did not write.
    async fn delete_stale(&mut self) -> Result<(), SinkError> {
        let mut after: Option<String> = None;
        loop {
            let store = self.sink.store.clone();
            let target = self.target.clone();
            let from = after.clone();
            let page = tokio::task::spawn_blocking(move || {
                store.ledger_stale_page(&target.index, &target.sync_id, from.as_deref(), STALE_PAGE)
            })
            .await
            .map_err(|e| SinkError::Embedded(format!("ledger task failed: {e}")))?
            .map_err(|e| SinkError::Embedded(e.to_string()))?;
            if page.is_empty() {
                return Ok(());
            }
            let n = page.len() as u64;
            after = page.last().cloned();
            let actions = page
                .into_iter()
                .map(|id| Action {
                    id,
                    op: Op::Delete,
                    source: None,
                })
                .collect();
            let before = self.stats.deleted;
            self.send_batch(actions).await?;
            // Stale deletions are reported apart from deletions the plugin asked for.
            self.stats.deleted = before;
            self.stats.stale_deleted += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        _tmp: tempfile::TempDir,
        data: PathBuf,
        store: Arc<StateStore>,
        sink: Arc<EmbeddedSink>,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().to_path_buf();
        let store = Arc::new(StateStore::open(&data.join("state.redb")).expect("store"));
        let sink = Arc::new(EmbeddedSink::open(&data.join("sink"), store.clone()).expect("sink"));
        Fixture {
            _tmp: tmp,
            data,
            store,
            sink,
        }
    }

    fn target(sync_id: &str, stale_deletion: bool) -> Target {
        Target {
            connector_id: "c".into(),
            sync_id: sync_id.into(),
            index: "search-x".into(),
            stale_deletion,
            api_key: None,
            pipeline: None,
        }
    }

    fn index(id: &str, source: &str) -> Action {
        Action {
            id: id.into(),
            op: Op::Index,
            source: Some(source.into()),
        }
    }

    fn delete(id: &str) -> Action {
        Action {
            id: id.into(),
            op: Op::Delete,
            source: None,
        }
    }

    fn lines(sink: &EmbeddedSink) -> Vec<serde_json::Value> {
        std::fs::read_to_string(sink.index_path("search-x"))
            .expect("read the index file")
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect()
    }

    /// Writes `ids` in one full sync and finishes it.
    async fn full_sync(sink: &Arc<EmbeddedSink>, sync_id: &str, ids: &[String]) -> SinkStats {
        let mut w = sink.begin(target(sync_id, true));
        let actions = ids.iter().map(|id| index(id, "{}")).collect();
        w.send_batch(actions).await.expect("send");
        let (stats, done) = w.finish(true).await;
        done.expect("finish");
        stats
    }

    #[tokio::test]
    async fn batches_are_written_in_bulk_form_and_counted() {
        let f = fixture();
        let mut w = f.sink.begin(target("s1", false));
        let source = r#"{"t":"x\ny"}"#;
        w.send_batch(vec![index("a", source), delete("b")])
            .await
            .expect("send");
        w.send_batch(Vec::new())
            .await
            .expect("an empty batch is a no-op");
        let (stats, done) = w.finish(true).await;
        done.expect("finish");

        assert_eq!(
            lines(&f.sink),
            vec![
                serde_json::json!({"index": {"_index": "search-x", "_id": "a"}}),
                serde_json::json!({"t": "x\ny"}),
                serde_json::json!({"delete": {"_index": "search-x", "_id": "b"}}),
            ]
        );
        assert_eq!(
            (stats.indexed, stats.deleted, stats.stale_deleted),
            (1, 1, 0)
        );
        // Ids and sources, as the cluster indexer counts them.
        assert_eq!(stats.bytes, ("a".len() + source.len() + "b".len()) as u64);
        assert_eq!(f.store.ledger_count("search-x").expect("count"), 1);
        let len = std::fs::metadata(f.sink.index_path("search-x"))
            .expect("stat")
            .len();
        assert_eq!(f.store.committed_len("search-x").expect("len"), Some(len));
    }

    #[tokio::test]
    async fn a_full_sync_deletes_what_it_did_not_write_across_ledger_pages() {
        let f = fixture();
        // More than two pages of the ledger walk, so paging after the last id is exercised.
        let first: Vec<String> = (0..2 * STALE_PAGE + 7)
            .map(|i| format!("doc-{i:05}"))
            .collect();
        let stats = full_sync(&f.sink, "s1", &first).await;
        assert_eq!(
            (stats.indexed, stats.stale_deleted),
            (first.len() as u64, 0)
        );

        let kept: Vec<String> = first.iter().step_by(100).cloned().collect();
        let stats = full_sync(&f.sink, "s2", &kept).await;
        assert_eq!(stats.indexed, kept.len() as u64);
        assert_eq!(stats.stale_deleted, (first.len() - kept.len()) as u64);
        // Stale deletions are not the plugin's deletions.
        assert_eq!(stats.deleted, 0);
        assert_eq!(
            f.store.ledger_count("search-x").expect("count"),
            kept.len() as u64
        );
        let deleted: std::collections::BTreeSet<String> = lines(&f.sink)
            .iter()
            .filter_map(|l| l["delete"]["_id"].as_str().map(str::to_owned))
            .collect();
        let expected: std::collections::BTreeSet<String> = first
            .iter()
            .filter(|id| !kept.contains(id))
            .cloned()
            .collect();
        assert_eq!(deleted, expected);
    }

    #[tokio::test]
    async fn a_failed_or_incremental_sync_deletes_nothing() {
        let f = fixture();
        let ids: Vec<String> = (0..5).map(|i| format!("d{i}")).collect();
        full_sync(&f.sink, "s1", &ids).await;

        let mut failed = f.sink.begin(target("s2", true));
        failed
            .send_batch(vec![index("d0", "{}")])
            .await
            .expect("send");
        let (stats, done) = failed.finish(false).await;
        done.expect("finish");
        assert_eq!(stats.stale_deleted, 0);

        let mut incremental = f.sink.begin(target("s3", false));
        incremental
            .send_batch(vec![index("d1", "{}")])
            .await
            .expect("send");
        let (stats, done) = incremental.finish(true).await;
        done.expect("finish");
        assert_eq!(stats.stale_deleted, 0);
        assert_eq!(f.store.ledger_count("search-x").expect("count"), 5);
    }

    #[tokio::test]
    async fn the_tail_of_an_interrupted_batch_is_cut_on_reopen() {
        let f = fixture();
        full_sync(&f.sink, "s1", &["a".to_owned()]).await;
        let path = f.sink.index_path("search-x");
        let committed = std::fs::metadata(&path).expect("stat").len();
        // What a process killed mid-batch leaves: bytes past the last recorded batch.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(b"{\"index\":{\"_index\":\"search-x\",\"_i"))
            .expect("append a torn line");

        let reopened =
            Arc::new(EmbeddedSink::open(&f.data.join("sink"), f.store.clone()).expect("sink"));
        let mut w = reopened.begin(target("s2", false));
        w.send_batch(vec![index("b", "{}")]).await.expect("send");
        let (_, done) = w.finish(true).await;
        done.expect("finish");

        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.len() as u64 > committed);
        assert_eq!(
            lines(&reopened)
                .iter()
                .filter_map(|l| l["index"]["_id"].as_str().map(str::to_owned))
                .collect::<Vec<_>>(),
            ["a", "b"],
            "the torn line is gone and the next batch starts on a line of its own:\n{text}"
        );
    }
}
