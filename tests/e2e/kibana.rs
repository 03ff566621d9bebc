//! Kibana's connector protocol against a fake Elasticsearch (tests/e2e/fake_es.rs), with real
//! plugins built from source. The test plays Kibana through the `_connector` API.
//!
//! Most tests run Inlet's service loop in process (`inlet::protocol::serve`) with documents in
//! the embedded sink, so the protocol is tested on its own; the last ones run the real `inlet`
//! binary with `elasticsearch.host` set, documents going to the fake's `_bulk`. The fake is
//! strict the way Elasticsearch 8.15 is (`fake_es/declarations.rs`): every test ends with
//! [`assert_accepted`], so a request a real cluster would refuse fails the test.
//!
//! Submodules: `kibana_es_rules` (the fake's rules, endpoint by endpoint), `kibana_compat` (what
//! a real cluster and Elastic's service do that the protocol must match), `kibana_config_check`
//! (`inlet config check` in Kibana mode).

mod compat;
mod config_check;
mod es_rules;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::fake_es::FakeEs;
use crate::support::*;
use inlet::protocol::{EsClient, EsSettings};
use reqwest::Method;
use serde_json::{Value, json};

/// Fast protocol timings for tests.
const TIMINGS: &str = "  kibana:\n    report_interval_secs: 1\n    idle_job_timeout_secs: 3\nservice:\n  idling: 1\n  heartbeat: 1\n  job_cleanup_interval: 1\n";

fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("info,wasmtime=warn,cranelift=warn")
        .with_test_writer()
        .try_init();
}

/// Kibana's side: a call to the fake cluster.
async fn kibana(fake: &FakeEs, method: Method, path: &str, body: Option<Value>) -> Value {
    let client = EsClient::new(&EsSettings::plain(&fake.url())).expect("client");
    client
        .send(method, path, body.as_ref())
        .await
        .unwrap_or_else(|e| panic!("Kibana's call failed: {e}"))
}

/// Creates a connector the way Kibana's "new self-managed connector" does.
async fn create_connector(fake: &FakeEs, id: &str, service_type: &str) {
    kibana(
        fake,
        Method::PUT,
        &format!("/_connector/{id}"),
        Some(json!({"index_name": format!("search-{id}"), "name": id, "service_type": service_type, "is_native": false})),
    )
    .await;
}

async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One in-process Inlet serving the fake cluster.
struct Served {
    cancel: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Served {
    async fn stop(self) {
        self.cancel.store(true, Ordering::Relaxed);
        self.task
            .await
            .expect("serve task")
            .expect("serve ended cleanly");
    }
}

fn config_for(dir: &Path, connectors: &str) -> std::path::PathBuf {
    write_config(dir, &format!("{TIMINGS}connectors:\n{connectors}"))
}

async fn serve(dir: &Path, fake: &FakeEs, connectors: &str) -> Served {
    let config = config_for(dir, connectors);
    let loaded = inlet::config::load(&config).expect("config");
    let service = Arc::new(
        inlet::service::Service::open(loaded, None)
            .await
            .expect("service"),
    );
    let cancel = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(inlet::protocol::serve(
        service,
        EsSettings::plain(&fake.url()),
        cancel.clone(),
    ));
    Served { cancel, task }
}

/// Serves one connector of any plugin in `dir/plugins`.
async fn serve_plugins(dir: &Path, fake: &FakeEs, id: &str, service_type: &str) -> Served {
    serve(
        dir,
        fake,
        &format!("  - connector_id: {id}\n    service_type: {service_type}\n"),
    )
    .await
}

fn loadgen_entry(id: &str) -> String {
    format!("  - connector_id: {id}\n    service_type: loadgen\n")
}

/// Creates, describes and configures a loadgen connector; returns once it is `connected`.
async fn connected_loadgen(fake: &FakeEs, id: &str, values: Value) {
    create_connector(fake, id, "loadgen").await;
    wait_for("the configuration form", Duration::from_secs(60), || {
        fake.connector(id)["status"] == "needs_configuration"
    })
    .await;
    kibana(
        fake,
        Method::PUT,
        &format!("/_connector/{id}/_configuration"),
        Some(json!({ "values": values })),
    )
    .await;
    wait_for("connected", Duration::from_secs(30), || {
        fake.connector(id)["status"] == "connected"
    })
    .await;
}

async fn create_job(fake: &FakeEs, id: &str, job_type: &str) -> String {
    let v = kibana(
        fake,
        Method::POST,
        "/_connector/_sync_job",
        Some(json!({"id": id, "job_type": job_type, "trigger_method": "on_demand"})),
    )
    .await;
    v["id"].as_str().expect("job id").to_owned()
}

async fn wait_job(fake: &FakeEs, job: &str, status: &str, timeout: Duration) -> Value {
    wait_for(&format!("job {job} to be {status}"), timeout, || {
        let s = &fake.job(job)["status"];
        assert!(
            !(s == "error" && status != "error"),
            "job failed: {}",
            fake.job(job)
        );
        s == status
    })
    .await;
    fake.job(job)
}

/// Nothing Inlet sent was refused (as Elasticsearch 8.15 would have refused it), and no job
/// changed status against the protocol's state machine.
fn assert_accepted(fake: &FakeEs) {
    let refused = fake.refusals();
    assert!(
        refused.is_empty(),
        "Elasticsearch would refuse: {refused:#?}"
    );
    let violations = fake.violations();
    assert!(
        violations.is_empty(),
        "status changes the protocol does not allow: {violations:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contact_configuration_and_a_kibana_job() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let fake = FakeEs::start().await;
    create_connector(&fake, "c1", "loadgen").await;
    let inlet = serve(tmp.path(), &fake, &loadgen_entry("c1")).await;

    // First contact: the form and features are written, Kibana is told to ask for values.
    wait_for("the configuration form", Duration::from_secs(60), || {
        fake.connector("c1")["status"] == "needs_configuration"
    })
    .await;
    let doc = fake.connector("c1");
    let count = &doc["configuration"]["count"];
    for key in [
        "label",
        "order",
        "type",
        "display",
        "value",
        "default_value",
        "required",
        "sensitive",
        "tooltip",
        "depends_on",
        "validations",
        "ui_restrictions",
        "options",
    ] {
        assert!(count.get(key).is_some(), "RCF key {key} missing: {count}");
    }
    assert_eq!(count["type"], "int");
    assert_eq!(count["value"], 1000, "the default is shown");
    assert_eq!(
        doc["configuration"]["batch_size"]["ui_restrictions"],
        json!(["advanced"])
    );
    assert_eq!(doc["features"]["incremental_sync"]["enabled"], true);
    assert_eq!(doc["features"]["sync_rules"]["basic"]["enabled"], true);
    assert!(doc["last_seen"].is_string(), "checked in: {doc}");

    // The user fills the form with a bad value: the error Kibana shows comes from the plugin.
    kibana(
        &fake,
        Method::PUT,
        "/_connector/c1/_configuration",
        Some(json!({"values": {"count": -1}})),
    )
    .await;
    wait_for("error status", Duration::from_secs(30), || {
        fake.connector("c1")["status"] == "error"
    })
    .await;
    let error = fake.connector("c1")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("negative"), "{error}");
    // … then fixes it.
    kibana(
        &fake,
        Method::PUT,
        "/_connector/c1/_configuration",
        Some(json!({"values": {"count": "50", "doc_bytes": 64}})),
    )
    .await;
    wait_for("connected", Duration::from_secs(30), || {
        fake.connector("c1")["status"] == "connected"
    })
    .await;
    assert_eq!(fake.connector("c1")["error"], Value::Null);

    // A sync from Kibana's "Sync" button.
    let job = create_job(&fake, "c1", "full").await;
    let done = wait_job(&fake, &job, "completed", Duration::from_secs(60)).await;
    assert_eq!(done["indexed_document_count"], 50, "{done}");
    assert_eq!(done["deleted_document_count"], 0, "{done}");
    assert!(
        done["completed_at"].is_string() && done["started_at"].is_string(),
        "{done}"
    );
    assert!(done["worker_hostname"].is_string(), "{done}");
    let c = fake.connector("c1");
    assert_eq!(c["last_sync_status"], "completed", "{c}");
    assert_eq!(c["last_sync_error"], Value::Null);
    assert_eq!(c["last_indexed_document_count"], 50);
    assert!(c["last_synced"].is_string());
    assert_eq!(c["status"], "connected");
    let docs = replay(&tmp.path().join("data/sink/search-c1.ndjson"));
    assert_eq!(docs.len(), 50, "documents went to the connector's index");

    // An incremental sync starts from the cursor the full sync stored.
    assert!(
        c["sync_cursor"].is_object(),
        "cursor stored after success: {c}"
    );
    kibana(
        &fake,
        Method::PUT,
        "/_connector/c1/_configuration",
        Some(json!({"values": {"count": "60"}})),
    )
    .await;
    let job = create_job(&fake, "c1", "incremental").await;
    let done = wait_job(&fake, &job, "completed", Duration::from_secs(60)).await;
    assert_eq!(
        done["indexed_document_count"], 10,
        "only the new documents: {done}"
    );
    inlet.stop().await;
    assert_accepted(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_run_each_job_exactly_once() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a, &b] {
        std::fs::create_dir_all(d).expect("mkdir");
        plugin_dir(d, &["loadgen"]);
    }
    let fake = FakeEs::start().await;
    let first = serve(&a, &fake, &loadgen_entry("c2")).await;
    let second = serve(&b, &fake, &loadgen_entry("c2")).await;
    connected_loadgen(&fake, "c2", json!({"count": "2000", "doc_bytes": 32})).await;
    let mut jobs = Vec::new();
    for _ in 0..4 {
        jobs.push(create_job(&fake, "c2", "full").await);
    }
    for job in &jobs {
        wait_job(&fake, job, "completed", Duration::from_secs(120)).await;
    }
    let claims = fake.claims();
    for job in &jobs {
        let n = claims.iter().filter(|(j, _)| j == job).count();
        assert_eq!(n, 1, "job {job} claimed {n} times: {claims:?}");
    }
    first.stop().await;
    second.stop().await;
    assert_accepted(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_mid_sync_ends_canceled() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let fake = FakeEs::start().await;
    let inlet = serve(tmp.path(), &fake, &loadgen_entry("c3")).await;
    connected_loadgen(&fake, "c3", json!({"count": "50000000", "doc_bytes": 16})).await;
    let job = create_job(&fake, "c3", "full").await;
    wait_for(
        "stats from the running job",
        Duration::from_secs(60),
        || {
            fake.job(&job)["indexed_document_count"]
                .as_u64()
                .unwrap_or(0)
                > 0
        },
    )
    .await;
    // The running job's `_stats` carry Inlet's own counts as the job's `metadata` (8.15+).
    wait_for(
        "metadata from the running job",
        Duration::from_secs(30),
        || {
            fake.job(&job)["metadata"]["inlet"]["extracted"]
                .as_u64()
                .unwrap_or(0)
                > 0
        },
    )
    .await;
    kibana(
        &fake,
        Method::PUT,
        &format!("/_connector/_sync_job/{job}/_cancel"),
        None,
    )
    .await;
    let done = wait_job(&fake, &job, "canceled", Duration::from_secs(30)).await;
    assert!(done["canceled_at"].is_string(), "{done}");
    let indexed = done["indexed_document_count"].as_u64().unwrap_or(0);
    assert!(
        indexed > 0 && indexed < 50_000_000,
        "stopped mid-sync: {done}"
    );
    let c = fake.connector("c3");
    assert_eq!(c["last_sync_status"], "canceled", "{c}");
    assert_eq!(
        c["sync_cursor"],
        Value::Null,
        "no cursor after a canceled sync"
    );
    inlet.stop().await;
    assert_accepted(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_schedule_fires_once_with_two_processes() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a, &b] {
        std::fs::create_dir_all(d).expect("mkdir");
        plugin_dir(d, &["loadgen"]);
    }
    let fake = FakeEs::start().await;
    let first = serve(&a, &fake, &loadgen_entry("c4")).await;
    let second = serve(&b, &fake, &loadgen_entry("c4")).await;
    connected_loadgen(&fake, "c4", json!({"count": "10"})).await;
    // Once a day, at a second a few seconds from now (UTC), in Kibana's Quartz format.
    let at = chrono::Utc::now() + chrono::Duration::seconds(4);
    let cron = at.format("%-S %-M %-H * * ?").to_string();
    kibana(
        &fake,
        Method::PUT,
        "/_connector/c4/_scheduling",
        Some(json!({"scheduling": {"full": {"enabled": true, "interval": cron}}})),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(9)).await;
    let scheduled: Vec<Value> = fake
        .jobs("c4")
        .into_iter()
        .filter(|j| j["trigger_method"] == "scheduled")
        .collect();
    assert_eq!(scheduled.len(), 1, "{scheduled:?}");
    assert!(fake.connector("c4")["last_sync_scheduled_at"].is_string());
    let job = scheduled[0]["id"].as_str().expect("id").to_owned();
    wait_job(&fake, &job, "completed", Duration::from_secs(60)).await;
    first.stop().await;
    second.stop().await;
    assert_accepted(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_sync_rules_are_validated_and_activated_only_when_valid() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let fake = FakeEs::start().await;
    let inlet = serve(tmp.path(), &fake, &loadgen_entry("c5")).await;
    connected_loadgen(&fake, "c5", json!({"count": "100"})).await;
    let default = json!({"id": "DEFAULT", "order": 0, "policy": "include", "field": "_", "rule": "regex", "value": ".*"});

    // A match-all regex is refused and not activated.
    let everything = json!({"id": "everything", "order": 1, "policy": "exclude", "field": "seed", "rule": "regex", "value": ".*"});
    kibana(
        &fake,
        Method::PUT,
        "/_connector/c5/_filtering",
        Some(json!({"rules": [everything, default]})),
    )
    .await;
    wait_for("invalid draft", Duration::from_secs(30), || {
        fake.connector("c5")["filtering"][0]["draft"]["validation"]["state"] == "invalid"
    })
    .await;
    let f = &fake.connector("c5")["filtering"][0];
    assert_eq!(
        f["draft"]["validation"]["errors"][0]["ids"],
        json!(["everything"]),
        "{f}"
    );
    assert_eq!(
        f["active"]["rules"].as_array().map(Vec::len),
        Some(1),
        "not activated: {f}"
    );

    // A valid one is activated, and the next sync applies it.
    let big = json!({"id": "big", "order": 1, "policy": "exclude", "field": "n", "rule": ">", "value": "79"});
    kibana(
        &fake,
        Method::PUT,
        "/_connector/c5/_filtering",
        Some(json!({"rules": [big, default]})),
    )
    .await;
    wait_for("valid, active draft", Duration::from_secs(30), || {
        let f = &fake.connector("c5")["filtering"][0];
        f["draft"]["validation"]["state"] == "valid" && f["active"]["rules"][0]["id"] == "big"
    })
    .await;
    let job = create_job(&fake, "c5", "full").await;
    let done = wait_job(&fake, &job, "completed", Duration::from_secs(60)).await;
    assert_eq!(done["indexed_document_count"], 80, "{done}");
    inlet.stop().await;
    assert_accepted(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_of_a_vanished_worker_end_in_error() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let fake = FakeEs::start().await;
    create_connector(&fake, "c6", "loadgen").await;
    // A job a crashed worker left behind, holding the connector.
    let job = create_job(&fake, "c6", "full").await;
    fake.patch_job(
        &job,
        json!({"status": "in_progress", "worker_hostname": "gone", "last_seen": "2020-01-01T00:00:00Z"}),
    );
    let inlet = serve(tmp.path(), &fake, &loadgen_entry("c6")).await;
    let done = wait_job(&fake, &job, "error", Duration::from_secs(30)).await;
    assert_eq!(
        done["error"],
        "The job has not seen any update for some time."
    );
    // Ended the way Elastic's service ends it: Kibana shows when (`PUT …/_error` sets neither).
    assert!(done["completed_at"].is_string(), "completed_at: {done}");
    assert!(
        done["last_seen"].as_str().is_some_and(|t| t > "2021"),
        "last_seen is the time it was ended: {done}"
    );
    wait_for("connector released", Duration::from_secs(10), || {
        fake.connector("c6")["last_sync_status"] == "error"
    })
    .await;
    inlet.stop().await;
    assert_accepted(&fake);
}

// ---- The real binary, documents through `_bulk` -------------------------------------------

/// Starts `inlet run` against the fake; `None` (test skipped) while this build refuses a
/// cluster configuration.
fn spawn_inlet(dir: &Path, fake: &FakeEs, connectors: &str) -> Child {
    let config = write_config(
        dir,
        &format!(
            "{TIMINGS}elasticsearch:\n  host: {}\nconnectors:\n{connectors}",
            fake.url()
        ),
    );
    let log = std::fs::File::create(dir.join("inlet.log")).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["run", "--config", config.to_str().expect("utf8")])
        .env("RUST_LOG", "info,wasmtime=warn,cranelift=warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("run inlet");
    std::thread::sleep(Duration::from_millis(1500));
    if let Ok(Some(_)) = child.try_wait() {
        let log = std::fs::read_to_string(dir.join("inlet.log")).unwrap_or_default();
        panic!("inlet exited at start:\n{log}");
    }
    child
}

fn stop(mut child: Child) {
    // SIGTERM: the graceful path (running jobs are suspended).
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_binary_serves_kibana_into_the_cluster() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let fake = FakeEs::start().await;
    create_connector(&fake, "b1", "loadgen").await;
    let child = spawn_inlet(tmp.path(), &fake, &loadgen_entry("b1"));
    wait_for("the configuration form", Duration::from_secs(60), || {
        fake.connector("b1")["status"] == "needs_configuration"
    })
    .await;
    kibana(
        &fake,
        Method::PUT,
        "/_connector/b1/_configuration",
        Some(json!({"values": {"count": "300"}})),
    )
    .await;
    wait_for("connected", Duration::from_secs(30), || {
        fake.connector("b1")["status"] == "connected"
    })
    .await;
    let job = create_job(&fake, "b1", "full").await;
    let done = wait_job(&fake, &job, "completed", Duration::from_secs(60)).await;
    assert_eq!(done["indexed_document_count"], 300, "{done}");
    assert_eq!(
        fake.count("search-b1"),
        300,
        "documents reached the index through _bulk"
    );
    assert_eq!(done["total_document_count"], 300, "{done}");
    stop(child);
    assert_accepted(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_leaves_a_job_the_other_cleans_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a, &b] {
        std::fs::create_dir_all(d).expect("mkdir");
        plugin_dir(d, &["loadgen"]);
    }
    let fake = FakeEs::start().await;
    create_connector(&fake, "b2", "loadgen").await;
    let mut first = spawn_inlet(&a, &fake, &loadgen_entry("b2"));
    wait_for("the configuration form", Duration::from_secs(60), || {
        fake.connector("b2")["status"] == "needs_configuration"
    })
    .await;
    kibana(
        &fake,
        Method::PUT,
        "/_connector/b2/_configuration",
        Some(json!({"values": {"count": "50000000", "doc_bytes": 16}})),
    )
    .await;
    wait_for("connected", Duration::from_secs(30), || {
        fake.connector("b2")["status"] == "connected"
    })
    .await;
    let job = create_job(&fake, "b2", "full").await;
    wait_job(&fake, &job, "in_progress", Duration::from_secs(30)).await;
    // SIGKILL: no chance to suspend the job.
    first.kill().expect("kill");
    let _ = first.wait();
    let second = spawn_inlet(&b, &fake, &loadgen_entry("b2"));
    let done = wait_job(&fake, &job, "error", Duration::from_secs(30)).await;
    assert_eq!(
        done["error"],
        "The job has not seen any update for some time."
    );
    // The connector is free again: the next job runs.
    kibana(
        &fake,
        Method::PUT,
        "/_connector/b2/_configuration",
        Some(json!({"values": {"count": "20"}})),
    )
    .await;
    let next = create_job(&fake, "b2", "full").await;
    wait_job(&fake, &next, "completed", Duration::from_secs(60)).await;
    stop(second);
    assert_accepted(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_process_suspends_its_job_and_another_resumes_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a, &b] {
        std::fs::create_dir_all(d).expect("mkdir");
        plugin_dir(d, &["loadgen"]);
    }
    let fake = FakeEs::start().await;
    create_connector(&fake, "b3", "loadgen").await;
    let first = spawn_inlet(&a, &fake, &loadgen_entry("b3"));
    wait_for("the configuration form", Duration::from_secs(60), || {
        fake.connector("b3")["status"] == "needs_configuration"
    })
    .await;
    kibana(
        &fake,
        Method::PUT,
        "/_connector/b3/_configuration",
        Some(json!({"values": {"count": "50000000", "doc_bytes": 16}})),
    )
    .await;
    wait_for("connected", Duration::from_secs(30), || {
        fake.connector("b3")["status"] == "connected"
    })
    .await;
    let job = create_job(&fake, "b3", "full").await;
    wait_job(&fake, &job, "in_progress", Duration::from_secs(30)).await;
    stop(first);
    let done = fake.job(&job);
    assert_eq!(
        done["status"], "suspended",
        "graceful stop hands the job back: {done}"
    );
    assert_eq!(fake.connector("b3")["last_sync_status"], "suspended");
    // Another process picks the suspended job up again.
    let second = spawn_inlet(&b, &fake, &loadgen_entry("b3"));
    wait_job(&fake, &job, "in_progress", Duration::from_secs(30)).await;
    kibana(
        &fake,
        Method::PUT,
        &format!("/_connector/_sync_job/{job}/_cancel"),
        None,
    )
    .await;
    wait_job(&fake, &job, "canceled", Duration::from_secs(30)).await;
    assert_eq!(fake.claims().iter().filter(|(j, _)| *j == job).count(), 2);
    stop(second);
    assert_accepted(&fake);
}
