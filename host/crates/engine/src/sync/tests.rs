//! The sync engine on a scripted in-memory [`Source`] and the real embedded sink and state
//! store (in a temporary directory): the rules every connector relies on, without a component.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

use super::*;
use crate::sink::embedded::EmbeddedSink;
use inlet_policy::budget::{BudgetLimits, HostBudget, Usage};
use inlet_runtime::{Batch, EngineSettings, HeldBatch};
use inlet_store::StoreError;

/// What a scripted source's `next-batch` returns, in order.
enum Step {
    Docs(Vec<types::Document>),
    Lines(&'static str),
    Fail(types::ErrorKind, &'static str),
}

/// A connector whose answers are written in the test; it records what the engine asked.
struct Scripted {
    service_type: String,
    incremental: bool,
    advanced_rules: Option<bool>,
    steps: VecDeque<Step>,
    cursor: Option<String>,
    budget: HostBudget,
    /// Set by a step to cancel the sync right after it.
    cancel_after_first_batch: Option<Arc<AtomicBool>>,
    seen: Arc<std::sync::Mutex<Seen>>,
}

#[derive(Default)]
struct Seen {
    started: Option<(JobType, types::SyncRequest)>,
    batches_pulled: usize,
    flushes: usize,
    ended: bool,
    /// The calls that touch the source's state, in order: `pull N` (next-batch N, which
    /// writes checkpoint N to the state before it answers) and `flush`.
    events: Vec<String>,
    /// The checkpoint written and not yet flushed, and the one flushed (committed).
    staged: Option<usize>,
    committed: Option<usize>,
}

impl Scripted {
    fn new(steps: Vec<Step>) -> Scripted {
        Scripted {
            service_type: "mem".into(),
            incremental: true,
            advanced_rules: None,
            steps: steps.into(),
            cursor: Some("cursor-after".into()),
            budget: HostBudget::new(BudgetLimits::default()),
            cancel_after_first_batch: None,
            seen: Default::default(),
        }
    }
}

fn plugin_error(kind: types::ErrorKind, message: &str) -> CallError {
    CallError::Plugin(types::ConnectorError {
        kind,
        message: message.into(),
    })
}

impl Source for Scripted {
    type Sync = u32;

    async fn metadata(&mut self) -> Result<types::Metadata, CallError> {
        Ok(types::Metadata {
            service_type: self.service_type.clone(),
            name: "in-memory".into(),
            version: "0".into(),
            features: types::Features {
                incremental_sync: self.incremental,
                document_level_security: false,
                advanced_rules: self.advanced_rules.is_some(),
                basic_rules: true,
            },
        })
    }
    async fn configuration_schema(&mut self) -> Result<Vec<types::ConfigField>, CallError> {
        Ok(vec![types::ConfigField {
            key: "folder".into(),
            label: "Folder".into(),
            order: 1,
            type_: types::FieldType::Str,
            display: types::DisplayType::Text,
            default_value: Some("\"all\"".into()),
            required: false,
            sensitive: false,
            tooltip: None,
            depends_on: vec![],
            validations: vec![],
            ui_restrictions: vec![],
            options: vec![],
        }])
    }
    async fn validate_config(&mut self, _: &[types::ConfigValue]) -> Result<(), CallError> {
        Ok(())
    }
    async fn validate_advanced_rules(
        &mut self,
        _: &[types::ConfigValue],
        _: &str,
    ) -> Result<types::RulesValidation, CallError> {
        let valid = self.advanced_rules.unwrap_or(false);
        Ok(types::RulesValidation {
            valid,
            messages: if valid {
                vec![]
            } else {
                vec!["no such table".into()]
            },
        })
    }
    async fn start_sync(
        &mut self,
        kind: JobType,
        request: &types::SyncRequest,
    ) -> Result<u32, CallError> {
        self.seen.lock().expect("seen").started = Some((kind, request.clone()));
        Ok(7)
    }
    async fn next_batch(&mut self, sync: u32) -> Result<Option<HeldBatch>, CallError> {
        assert_eq!(sync, 7, "the handle start-sync returned");
        let pulled = {
            let mut seen = self.seen.lock().expect("seen");
            seen.batches_pulled += 1;
            let pulled = seen.batches_pulled;
            seen.events.push(format!("pull {pulled}"));
            seen.staged = Some(pulled);
            pulled
        };
        if pulled == 2
            && let Some(cancel) = &self.cancel_after_first_batch
        {
            cancel.store(true, Ordering::Relaxed);
        }
        let batch = match self.steps.pop_front() {
            None => return Ok(None),
            Some(Step::Docs(docs)) => Batch::Documents(docs),
            Some(Step::Lines(text)) => Batch::JsonLines(text.as_bytes().to_vec()),
            Some(Step::Fail(kind, message)) => return Err(plugin_error(kind, message)),
        };
        let charge = self
            .budget
            .charge(batch.host_bytes(), "a batch")
            .map_err(|source| CallError::Budget {
                call: "next-batch",
                source,
            })?;
        Ok(Some(HeldBatch { batch, charge }))
    }
    async fn cursor(&mut self, _: u32) -> Result<Option<String>, CallError> {
        Ok(self.cursor.clone())
    }
    async fn end_sync(&mut self, _: u32) -> Result<(), CallError> {
        self.seen.lock().expect("seen").ended = true;
        Ok(())
    }
    fn flush_state(&mut self) -> Result<(), StoreError> {
        let mut seen = self.seen.lock().expect("seen");
        seen.flushes += 1;
        seen.events.push("flush".into());
        if let Some(c) = seen.staged.take() {
            seen.committed = Some(c);
        }
        Ok(())
    }
    fn peak_memory(&self) -> usize {
        1 << 20
    }
    fn host_peak(&self) -> Usage {
        self.budget.peak()
    }
}

fn doc(id: &str, body: &str) -> types::Document {
    types::Document {
        id: id.into(),
        timestamp: None,
        body: body.into(),
        op: types::Operation::Index,
        attachment: None,
    }
}

fn delete(id: &str) -> types::Document {
    types::Document {
        op: types::Operation::Delete,
        ..doc(id, "")
    }
}

struct Bench {
    dir: tempfile::TempDir,
    env: SyncEnv,
    connector: Connector,
}

impl Bench {
    fn new(connector_yaml: &str) -> Bench {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path();
        let store = Arc::new(StateStore::open(&data.join("state.redb")).expect("store"));
        let sink = EmbeddedSink::open(&data.join("sink"), store.clone()).expect("sink");
        let config = inlet_policy::config::Config::default();
        let env = SyncEnv {
            runtime: Arc::new(
                Runtime::new(
                    &EngineSettings {
                        max_memory_bytes: 64 << 20,
                        pooled_instances: 1,
                    },
                    &data.join("cache"),
                )
                .expect("runtime"),
            ),
            store,
            sink: Sink::Embedded(Arc::new(sink)),
            dead_letters: Arc::new(DeadLetters::new(&data.join("dead-letter"))),
            caps: Limits::default(),
            broker: Arc::new(inlet_broker::Broker::new(&config, data).expect("broker")),
            databases: Arc::new(
                inlet_broker::sql::Databases::new(&config, data).expect("databases"),
            ),
        };
        let connector = serde_yaml_ng::from_str(connector_yaml).expect("connector");
        Bench {
            dir,
            env,
            connector,
        }
    }

    fn job(&self, kind: JobType) -> SyncJob<'_> {
        SyncJob {
            job_id: new_job_id(),
            connector: &self.connector,
            kind,
            cancel: Arc::new(AtomicBool::new(false)),
            cursor: Some("cursor-before".into()),
            cancel_is_shutdown: false,
        }
    }

    async fn sync(&self, job: SyncJob<'_>, source: Scripted) -> SyncReport {
        let progress = Arc::new(Progress::default());
        execute(&self.env, &job, None, progress, async |_: &Limits| {
            Ok::<_, Failure>(source)
        })
        .await
    }

    /// What the index holds: the embedded sink's file replayed (`_bulk` actions in order).
    fn index(&self) -> BTreeMap<String, serde_json::Value> {
        let path = self.dir.path().join("sink").join("search-c1.ndjson");
        replay(&path)
    }
}

fn replay(path: &Path) -> BTreeMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    let mut out = BTreeMap::new();
    while let Some(action) = lines.next() {
        let action: serde_json::Value = serde_json::from_str(action).expect("action line");
        if let Some(meta) = action.get("index") {
            let source = lines.next().expect("source line");
            let id = meta["_id"].as_str().expect("_id").to_owned();
            out.insert(id, serde_json::from_str(source).expect("source"));
        } else if let Some(meta) = action.get("delete") {
            out.remove(meta["_id"].as_str().expect("_id"));
        }
    }
    out
}

/// The sync failed with an error that says `needle`.
fn assert_error(report: &SyncReport, needle: &str) {
    assert!(
        report.error.as_deref().is_some_and(|e| e.contains(needle)),
        "expected an error saying {needle:?}: {report:?}"
    );
}

const CONNECTOR: &str = "connector_id: c1\nservice_type: mem\n";

#[tokio::test]
async fn every_document_is_counted_and_bad_ones_are_dead_lettered_alone() {
    let bench = Bench::new(CONNECTOR);
    let source = Scripted::new(vec![
        Step::Docs(vec![
            doc("a", r#"{"title":"A"}"#),
            doc("bad", "not json"),
            doc("b", r#"{"title":"B"}"#),
        ]),
        Step::Lines("{\"_id\":\"c\",\"title\":\"C\"}\n{\"title\":\"no id\"}\n"),
        Step::Docs(vec![delete("a")]),
    ]);
    let seen = source.seen.clone();
    let report = bench.sync(bench.job(JobType::Full), source).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    let s = &report.stats;
    assert_eq!(
        (
            s.extracted,
            s.indexed,
            s.deleted,
            s.dead_lettered,
            s.invalid
        ),
        (6, 3, 1, 2, 2)
    );
    assert_eq!(
        s.extracted,
        s.indexed + s.deleted + s.dead_lettered + s.filtered
    );
    assert_eq!(s.batches, 3);
    let index = bench.index();
    assert_eq!(index.keys().collect::<Vec<_>>(), ["b", "c"]);
    assert_eq!(index["c"]["title"], "C");
    let letters = std::fs::read_to_string(bench.dir.path().join("dead-letter").join("c1.ndjson"))
        .expect("dead letters");
    assert_eq!(letters.lines().count(), 2, "{letters}");
    assert!(letters.contains("\"bad\""), "{letters}");
    // The cursor is the plugin's, taken after the last batch; the plugin's state was
    // committed after start, after each batch and after the cursor.
    assert_eq!(report.cursor.as_deref(), Some("cursor-after"));
    let seen = seen.lock().expect("seen");
    assert_eq!(seen.flushes, 1 + 3 + 1);
    assert!(seen.ended);
    // A full sync starts from no cursor, whatever the last one was.
    let (kind, request) = seen.started.as_ref().expect("started");
    assert_eq!(*kind, JobType::Full);
    assert_eq!(request.cursor, None);
    let configuration: Vec<(&str, &str)> = request
        .configuration
        .iter()
        .map(|c| (c.key.as_str(), c.value.as_str()))
        .collect();
    assert_eq!(
        configuration,
        [("folder", "\"all\"")],
        "the schema's default fills the empty field"
    );
    let jobs = bench.env.store.jobs("c1").expect("jobs");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].status, JobStatus::Completed);
}

#[tokio::test]
async fn stale_documents_go_only_after_a_full_sync_that_succeeded() {
    let bench = Bench::new(CONNECTOR);
    let first = Scripted::new(vec![Step::Docs(vec![doc("keep", "{}"), doc("gone", "{}")])]);
    let report = bench.sync(bench.job(JobType::Full), first).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);

    // The source fails after sending `keep` again: `gone` must survive (the sync did not see
    // the whole source), the cursor is not kept, the report says what was indexed.
    let failing = Scripted::new(vec![
        Step::Docs(vec![doc("keep", "{\"v\":2}")]),
        Step::Fail(types::ErrorKind::Network, "connection reset"),
    ]);
    let seen = failing.seen.clone();
    let report = bench.sync(bench.job(JobType::Full), failing).await;
    assert_eq!(report.status, Status::Error);
    assert_eq!(report.error_class, Some("network"));
    assert_error(&report, "connection reset");
    assert_eq!(report.cursor, None);
    assert_eq!((report.stats.indexed, report.stats.stale_deleted), (1, 0));
    assert!(
        !seen.lock().expect("seen").ended,
        "no end-sync after a failure"
    );
    assert_eq!(bench.index().keys().collect::<Vec<_>>(), ["gone", "keep"]);

    // An incremental sync never deletes what it did not see, and starts from the cursor.
    let incremental = Scripted::new(vec![Step::Docs(vec![doc("new", "{}")])]);
    let seen = incremental.seen.clone();
    let report = bench
        .sync(bench.job(JobType::Incremental), incremental)
        .await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    assert_eq!(report.stats.stale_deleted, 0);
    assert_eq!(
        seen.lock()
            .expect("seen")
            .started
            .as_ref()
            .and_then(|(_, r)| r.cursor.clone())
            .as_deref(),
        Some("cursor-before")
    );

    // A full sync that succeeds removes what it did not see.
    let second = Scripted::new(vec![Step::Docs(vec![doc("keep", "{}")])]);
    let report = bench.sync(bench.job(JobType::Full), second).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    assert_eq!(report.stats.stale_deleted, 2);
    assert_eq!(bench.index().keys().collect::<Vec<_>>(), ["keep"]);
}

#[tokio::test]
async fn what_the_source_cannot_do_fails_before_any_document_moves() {
    let bench = Bench::new(CONNECTOR);
    let mut wrong_type = Scripted::new(vec![Step::Docs(vec![doc("a", "{}")])]);
    wrong_type.service_type = "other".into();
    let report = bench.sync(bench.job(JobType::Full), wrong_type).await;
    assert_eq!(report.error_class, Some("host"));
    assert_error(&report, "`other`");

    let mut full_only = Scripted::new(vec![Step::Docs(vec![doc("a", "{}")])]);
    full_only.incremental = false;
    let seen = full_only.seen.clone();
    let report = bench.sync(bench.job(JobType::Incremental), full_only).await;
    assert_error(&report, "does not support incremental syncs");
    assert!(seen.lock().expect("seen").started.is_none());
    assert_eq!(report.stats.extracted, 0);
    assert!(bench.index().is_empty());
}

#[tokio::test]
async fn advanced_rules_are_the_sources_to_judge_before_it_starts() {
    let bench = Bench::new(&format!(
        "{CONNECTOR}sync_rules:\n  advanced: [{{tables: [t]}}]\n"
    ));
    let unsupported = Scripted::new(vec![]);
    let report = bench.sync(bench.job(JobType::Full), unsupported).await;
    assert_eq!(report.error_class, Some("config"));
    assert_error(&report, "does not support advanced sync rules");
    let mut refused = Scripted::new(vec![Step::Docs(vec![doc("a", "{}")])]);
    refused.advanced_rules = Some(false);
    let seen = refused.seen.clone();
    let report = bench.sync(bench.job(JobType::Full), refused).await;
    assert_eq!(report.error_class, Some("config"));
    assert_error(&report, "no such table");
    assert!(seen.lock().expect("seen").started.is_none());
    let mut accepted = Scripted::new(vec![Step::Docs(vec![doc("a", "{}")])]);
    accepted.advanced_rules = Some(true);
    let seen = accepted.seen.clone();
    let report = bench.sync(bench.job(JobType::Full), accepted).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    let seen = seen.lock().expect("seen");
    let rules = seen
        .started
        .as_ref()
        .and_then(|(_, r)| r.advanced_rules.clone())
        .expect("rules handed to the sync");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&rules).ok(),
        Some(serde_json::json!([{"tables": ["t"]}]))
    );
}

#[tokio::test]
async fn basic_rules_filter_documents_but_never_deletions() {
    let bench = Bench::new(&format!(
        "{CONNECTOR}sync_rules:\n  basic:\n    - {{field: lang, rule: equals, value: de, policy: exclude}}\n"
    ));
    let source = Scripted::new(vec![Step::Docs(vec![
        doc("en", r#"{"lang":"en"}"#),
        doc("de", r#"{"lang":"de"}"#),
        delete("old"),
    ])]);
    let report = bench.sync(bench.job(JobType::Full), source).await;
    assert_eq!(report.status, Status::Completed, "{:?}", report.error);
    let s = &report.stats;
    assert_eq!(
        (s.extracted, s.indexed, s.deleted, s.filtered),
        (3, 1, 1, 1)
    );
    assert_eq!(bench.index().keys().collect::<Vec<_>>(), ["en"]);
}

#[tokio::test]
async fn limits_the_engine_enforces_end_the_sync_with_their_key() {
    // limits.max_batch_docs
    let bench = Bench::new(&format!("{CONNECTOR}limits: {{max_batch_docs: 2}}\n"));
    let source = Scripted::new(vec![Step::Docs(vec![
        doc("a", "{}"),
        doc("b", "{}"),
        doc("c", "{}"),
    ])]);
    let report = bench.sync(bench.job(JobType::Full), source).await;
    assert_eq!(report.status, Status::Error);
    assert_error(&report, "limits.max_batch_docs");
    assert!(bench.index().is_empty());

    // A cursor over 64 KiB is refused, and the sync is not complete.
    let bench = Bench::new(CONNECTOR);
    let mut source = Scripted::new(vec![Step::Docs(vec![doc("a", "{}")])]);
    source.cursor = Some("x".repeat(MAX_CURSOR_BYTES + 1));
    let report = bench.sync(bench.job(JobType::Full), source).await;
    assert_eq!(report.status, Status::Error);
    assert_error(&report, "cursor");
    assert_eq!(report.cursor, None);
    assert_eq!(report.stats.stale_deleted, 0);
}

#[tokio::test]
async fn a_cancelled_sync_stops_between_batches_and_a_shutdown_suspends_it() {
    for shutdown in [false, true] {
        let bench = Bench::new(CONNECTOR);
        let first = Scripted::new(vec![Step::Docs(vec![doc("old", "{}")])]);
        bench.sync(bench.job(JobType::Full), first).await;

        let mut job = bench.job(JobType::Full);
        job.cancel_is_shutdown = shutdown;
        let mut source = Scripted::new(vec![
            Step::Docs(vec![doc("a", "{}")]),
            Step::Docs(vec![doc("b", "{}")]),
            Step::Docs(vec![doc("c", "{}")]),
        ]);
        source.cancel_after_first_batch = Some(job.cancel.clone());
        let report = bench.sync(job, source).await;
        let expected = if shutdown {
            Status::Suspended
        } else {
            Status::Canceled
        };
        assert_eq!(report.status, expected, "{report:?}");
        // Cancelled while the second batch was pulled: it is still delivered, nothing after.
        assert!(report.stats.extracted <= 2, "{report:?}");
        assert_eq!(report.stats.stale_deleted, 0);
        assert!(bench.index().contains_key("old"), "no stale deletion");
        let jobs = bench.env.store.jobs("c1").expect("jobs");
        assert_eq!(jobs.last().map(|j| j.status), Some(expected.into()));
    }
}

#[tokio::test]
async fn a_batchs_checkpoint_is_kept_only_once_the_sink_has_the_batch() {
    let bench = Bench::new(CONNECTOR);
    let source = Scripted::new(vec![
        Step::Docs(vec![doc("a", "{}")]),
        Step::Docs(vec![doc("b", "{}")]),
        Step::Fail(types::ErrorKind::Network, "connection reset"),
    ]);
    let seen = source.seen.clone();
    let report = bench.sync(bench.job(JobType::Full), source).await;
    assert_eq!(report.status, Status::Error);
    assert_eq!(report.stats.indexed, 2);
    assert_eq!(bench.index().keys().collect::<Vec<_>>(), ["a", "b"]);
    // Each delivered batch's checkpoint is committed; the one the failed call wrote is not.
    let seen = seen.lock().expect("seen");
    assert_eq!(seen.committed, Some(2), "{:?}", seen.events);
    assert_eq!(
        seen.events,
        ["flush", "pull 1", "flush", "pull 2", "flush", "pull 3"]
    );
}

#[tokio::test]
async fn a_batch_refused_whole_keeps_the_checkpoints_before_it() {
    let bench = Bench::new(&format!("{CONNECTOR}limits: {{max_batch_docs: 2}}\n"));
    let source = Scripted::new(vec![
        Step::Docs(vec![doc("a", "{}")]),
        Step::Docs(vec![doc("b", "{}"), doc("c", "{}"), doc("d", "{}")]),
        Step::Docs(vec![doc("e", "{}")]),
    ]);
    let seen = source.seen.clone();
    let report = bench.sync(bench.job(JobType::Full), source).await;
    assert_eq!(report.status, Status::Error);
    assert_error(&report, "3 documents in one batch");
    assert_eq!(bench.index().keys().collect::<Vec<_>>(), ["a"]);
    let seen = seen.lock().expect("seen");
    assert_eq!(seen.committed, Some(1), "{:?}", seen.events);
    assert_eq!(
        seen.batches_pulled, 2,
        "nothing is asked for after the refusal"
    );
}

/// `inlet sync --json`, the job history and the metrics say the same as before.
#[test]
fn a_sync_outcome_is_written_as_its_job_status() {
    for (status, text) in [
        (Status::Completed, "completed"),
        (Status::Error, "error"),
        (Status::Canceled, "canceled"),
        (Status::Suspended, "suspended"),
    ] {
        assert_eq!(serde_json::to_value(status).ok(), Some(text.into()));
        assert_eq!(JobStatus::from(status).as_str(), text);
    }
}
