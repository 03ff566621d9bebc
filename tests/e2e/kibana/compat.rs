//! The protocol as a real cluster parses it (issue 16): each test drives Inlet with a real
//! plugin against the strict fake and fails on what a real Elasticsearch would have refused or
//! Elastic's service would have done otherwise.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_es::FakeEs;
use crate::kibana::{
    assert_accepted, connected_loadgen, create_connector, create_job, init_logs, kibana,
    loadgen_entry, serve, serve_plugins, wait_for, wait_job,
};
use crate::support::*;

/// The first incremental sync of a connector has no stored cursor: its claim leaves
/// `sync_cursor` out (`_claim`'s parser refuses `null`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_incremental_sync_claims_without_a_cursor() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let fake = FakeEs::start().await;
    let inlet = serve(tmp.path(), &fake, &loadgen_entry("i1")).await;
    connected_loadgen(&fake, "i1", json!({"count": "30"})).await;
    assert_eq!(fake.connector("i1")["sync_cursor"], Value::Null);
    let job = create_job(&fake, "i1", "incremental").await;
    let done = wait_job(&fake, &job, "completed", Duration::from_secs(60)).await;
    assert_eq!(done["indexed_document_count"], 30, "{done}");
    let claim = fake
        .calls()
        .into_iter()
        .find(|c| c.path.ends_with("/_claim"))
        .expect("a claim");
    assert_eq!(
        claim.body,
        json!({"worker_hostname": claim.body["worker_hostname"]})
    );
    assert!(
        fake.connector("i1")["sync_cursor"].is_object(),
        "cursor stored"
    );
    inlet.stop().await;
    assert_accepted(&fake);
}

/// 8.13 has no `_claim` and no `_filtering/_validation`/`_activate`, 8.14 no `_claim`: Inlet
/// writes those steps into the system documents, as Elastic's service did on those releases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_8_13_and_8_14_are_served_the_way_elastics_service_served_them() {
    init_logs();
    for (n, version) in ["8.13.4", "8.14.3"].into_iter().enumerate() {
        let tmp = tempfile::tempdir().expect("tempdir");
        plugin_dir(tmp.path(), &["loadgen"]);
        let fake = FakeEs::start().await;
        fake.set_version(version);
        let id = format!("r{n}");
        let inlet = serve(tmp.path(), &fake, &loadgen_entry(&id)).await;
        connected_loadgen(&fake, &id, json!({"count": "100"})).await;
        let default = json!({"id": "DEFAULT", "order": 0, "policy": "include", "field": "_", "rule": "regex", "value": ".*"});
        let big = json!({"id": "big", "order": 1, "policy": "exclude", "field": "n", "rule": ">", "value": "79"});
        kibana(
            &fake,
            Method::PUT,
            &format!("/_connector/{id}/_filtering"),
            Some(json!({"rules": [big, default]})),
        )
        .await;
        wait_for("valid, active draft", Duration::from_secs(30), || {
            let f = &fake.connector(&id)["filtering"][0];
            f["draft"]["validation"]["state"] == "valid" && f["active"]["rules"][0]["id"] == "big"
        })
        .await;
        let job = create_job(&fake, &id, "full").await;
        let done = wait_job(&fake, &job, "completed", Duration::from_secs(60)).await;
        assert_eq!(done["indexed_document_count"], 80, "{version}: {done}");
        assert_eq!(
            done["worker_hostname"].as_str().map(str::is_empty),
            Some(false)
        );
        assert_eq!(fake.claims().len(), 1, "{version}");
        inlet.stop().await;
        assert_accepted(&fake);
        let calls = fake.requests();
        assert!(
            !calls.iter().any(|c| c.ends_with("/_claim")),
            "{version}: {calls:?}"
        );
        assert_eq!(
            calls.iter().any(|c| c.contains("/_filtering/_")),
            version == "8.14.3",
            "{version}: {calls:?}"
        );
    }
}

/// Serverless reports `build_flavor: serverless` and version 8.11.0: served without a version
/// check, and without `_refresh` (as Elastic's service does there).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serverless_is_served_without_version_check_or_refresh() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let fake = FakeEs::start().await;
    fake.set_serverless();
    let inlet = serve(tmp.path(), &fake, &loadgen_entry("s1")).await;
    connected_loadgen(&fake, "s1", json!({"count": "40"})).await;
    let job = create_job(&fake, "s1", "full").await;
    let done = wait_job(&fake, &job, "completed", Duration::from_secs(60)).await;
    assert_eq!(done["indexed_document_count"], 40, "{done}");
    inlet.stop().await;
    assert_accepted(&fake);
    let calls = fake.requests();
    assert!(calls.iter().any(|c| c.contains("/_count")), "{calls:?}");
    assert!(!calls.iter().any(|c| c.contains("_refresh")), "{calls:?}");
}

/// A plugin whose form has numeric dropdown values, a list default and a boolean dependency:
/// rendered into shapes Elasticsearch parses, so Kibana's Sync button (`POST
/// _connector/_sync_job`, which parses the whole connector document) works, and the plugin gets
/// its values back in its own types.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_form_elasticsearch_parses_so_kibana_can_sync() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["kibana_form"]);
    let fake = FakeEs::start().await;
    create_connector(&fake, "f1", "kibana_form").await;
    let inlet = serve_plugins(tmp.path(), &fake, "f1", "kibana_form").await;
    wait_for("the configuration form", Duration::from_secs(60), || {
        fake.connector("f1")["status"] == "needs_configuration"
    })
    .await;
    let conf = fake.connector("f1")["configuration"].clone();
    assert_eq!(
        conf["page_size"]["options"][1],
        json!({"label": "Twenty", "value": "20"})
    );
    assert_eq!(conf["page_size"]["value"], 10);
    assert_eq!(conf["tags"]["value"], "red,green");
    assert_eq!(conf["tags"]["default_value"], "red,green");
    assert_eq!(conf["reason"]["depends_on"][0]["value"], true);
    assert_eq!(
        conf["page_size"]["validations"][0]["constraint"],
        json!([10, 20])
    );
    // Kibana saves the dropdown's choice as the option's (string) value.
    kibana(
        &fake,
        Method::PUT,
        "/_connector/f1/_configuration",
        Some(json!({"values": {"page_size": "20"}})),
    )
    .await;
    wait_for("connected", Duration::from_secs(30), || {
        fake.connector("f1")["status"] == "connected"
    })
    .await;
    let job = create_job(&fake, "f1", "full").await;
    let done = wait_job(&fake, &job, "completed", Duration::from_secs(60)).await;
    assert_eq!(done["indexed_document_count"], 20, "{done}");
    let docs = replay(&tmp.path().join("data/sink/search-f1.ndjson"));
    assert_eq!(docs.len(), 20);
    let tags = docs.values().next().map(|d| d["tags"].clone());
    assert_eq!(
        tags,
        Some(json!(["red", "green"])),
        "the list default, split again"
    );
    inlet.stop().await;
    assert_accepted(&fake);
}

/// Access-control syncs need a Platinum licence, as Elastic's service checks before scheduling
/// and before running one: on `basic` the schedule is skipped and a job from Kibana ends in
/// `error` saying why; on `platinum` it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_control_syncs_need_a_platinum_licence() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["kibana_form"]);
    let fake = FakeEs::start().await;
    create_connector(&fake, "a1", "kibana_form").await;
    let inlet = serve_plugins(tmp.path(), &fake, "a1", "kibana_form").await;
    wait_for("the configuration form", Duration::from_secs(60), || {
        fake.connector("a1")["status"] == "needs_configuration"
    })
    .await;
    kibana(
        &fake,
        Method::PUT,
        "/_connector/a1/_configuration",
        Some(json!({"values": {"page_size": "10"}})),
    )
    .await;
    wait_for("connected", Duration::from_secs(30), || {
        fake.connector("a1")["status"] == "connected"
    })
    .await;
    assert_eq!(
        fake.connector("a1")["features"]["document_level_security"]["enabled"],
        true
    );
    // Both schedules fire at the same second; the access-control one is looked at first.
    let at = chrono::Utc::now() + chrono::Duration::seconds(3);
    let cron = at.format("%-S %-M %-H * * ?").to_string();
    let on = json!({"enabled": true, "interval": cron});
    kibana(
        &fake,
        Method::PUT,
        "/_connector/a1/_scheduling",
        Some(json!({"scheduling": {"access_control": on, "full": on, "incremental": {"enabled": false, "interval": "0 0 0 * * ?"}}})),
    )
    .await;
    wait_for("the scheduled full sync", Duration::from_secs(30), || {
        fake.jobs("a1")
            .iter()
            .any(|j| j["trigger_method"] == "scheduled")
    })
    .await;
    let scheduled: Vec<Value> = fake
        .jobs("a1")
        .into_iter()
        .filter(|j| j["trigger_method"] == "scheduled")
        .collect();
    assert_eq!(scheduled.len(), 1, "{scheduled:?}");
    assert_eq!(scheduled[0]["job_type"], "full");
    assert_eq!(
        fake.connector("a1")["last_access_control_sync_scheduled_at"],
        Value::Null
    );
    let full = scheduled[0]["id"].as_str().expect("id").to_owned();
    wait_job(&fake, &full, "completed", Duration::from_secs(60)).await;

    // Kibana's "Sync access control" on a basic licence.
    let acl = create_job(&fake, "a1", "access_control").await;
    let done = wait_job(&fake, &acl, "error", Duration::from_secs(30)).await;
    let error = done["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("Platinum") && error.contains("`basic`"),
        "{done}"
    );
    assert!(done["completed_at"].is_string(), "{done}");
    assert_eq!(
        fake.connector("a1")["last_access_control_sync_status"],
        "error"
    );
    assert!(
        !tmp.path()
            .join("data/sink/.search-acl-filter-search-a1.ndjson")
            .exists()
    );

    fake.set_licence("platinum");
    let acl = create_job(&fake, "a1", "access_control").await;
    let done = wait_job(&fake, &acl, "completed", Duration::from_secs(60)).await;
    assert_eq!(done["indexed_document_count"], 1, "{done}");
    let identities = replay(
        &tmp.path()
            .join("data/sink/.search-acl-filter-search-a1.ndjson"),
    );
    assert_eq!(identities.len(), 1);
    inlet.stop().await;
    assert_accepted(&fake);
}

/// A job whose connector was deleted while a worker held it ends in `error`, like Elastic's
/// cleanup of orphaned jobs, whichever connector it belonged to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_of_a_deleted_connector_are_ended() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let fake = FakeEs::start().await;
    create_connector(&fake, "gone", "loadgen").await;
    let orphan = create_job(&fake, "gone", "full").await;
    // Held by some worker that still reports (a fresh `last_seen`): only the deletion matters.
    fake.patch_job(
        &orphan,
        json!({"status": "in_progress", "worker_hostname": "elsewhere", "last_seen": chrono::Utc::now().to_rfc3339()}),
    );
    kibana(
        &fake,
        Method::DELETE,
        "/_connector/gone?delete_sync_jobs=false",
        None,
    )
    .await;
    create_connector(&fake, "o1", "loadgen").await;
    let inlet = serve(tmp.path(), &fake, &loadgen_entry("o1")).await;
    let done = wait_job(&fake, &orphan, "error", Duration::from_secs(30)).await;
    assert_eq!(
        done["error"],
        "The job has not seen any update for some time."
    );
    assert!(done["completed_at"].is_string(), "{done}");
    inlet.stop().await;
    assert_accepted(&fake);
}

/// Elasticsearch snapshots the connector's index and pipeline into a job when it is created; a
/// change in Kibana afterwards applies to later jobs, not to that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_writes_to_the_index_it_was_created_for() {
    init_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let fake = FakeEs::start().await;
    let inlet = serve(tmp.path(), &fake, &loadgen_entry("m1")).await;
    connected_loadgen(&fake, "m1", json!({"count": "25"})).await;
    inlet.stop().await;
    // Kibana: Sync, then the index is changed before any worker picked the job up.
    let job = create_job(&fake, "m1", "full").await;
    kibana(
        &fake,
        Method::PUT,
        "/_connector/m1/_index_name",
        Some(json!({"index_name": "search-moved"})),
    )
    .await;
    let inlet = serve(tmp.path(), &fake, &loadgen_entry("m1")).await;
    wait_job(&fake, &job, "completed", Duration::from_secs(60)).await;
    assert_eq!(
        replay(&tmp.path().join("data/sink/search-m1.ndjson")).len(),
        25
    );
    assert!(!tmp.path().join("data/sink/search-moved.ndjson").exists());
    // The next job goes where the connector points now.
    let next = create_job(&fake, "m1", "full").await;
    wait_job(&fake, &next, "completed", Duration::from_secs(60)).await;
    assert_eq!(
        replay(&tmp.path().join("data/sink/search-moved.ndjson")).len(),
        25
    );
    inlet.stop().await;
    assert_accepted(&fake);
}

/// A job's requests as shapes (`{job}`, `{connector}` for the ids, query keys only), in order,
/// repeats of the same request in a row counted once; the scheduler's and cleanup's own polling
/// (lists, connector reads between jobs) left out.
fn job_sequence(calls: &[crate::fake_es::Call], job: &str, connector: &str) -> Vec<String> {
    let index = format!("search-{connector}");
    let mut out: Vec<String> = Vec::new();
    let mut read_connector = false;
    let start = calls
        .iter()
        .position(|c| c.path.ends_with(&format!("/_sync_job/{job}")) && c.method == "GET")
        .unwrap_or(0);
    let end = calls
        .iter()
        .rposition(|c| c.path == format!("/.elastic-connectors/_update/{connector}"))
        .unwrap_or(calls.len() - 1);
    for c in &calls[start..=end] {
        let relevant = c.path.contains(job)
            || c.path.contains(&index)
            || c.path.ends_with("/_bulk")
            || c.path.starts_with("/.elastic-connectors/")
            || c.path == "/_license";
        // After the claim's read of the connector, its reads are the scheduler's own pass.
        let connector_read = c.method == "GET" && c.path.starts_with("/.elastic-connectors/_doc/");
        if !relevant || (connector_read && read_connector) {
            continue;
        }
        read_connector |= connector_read;
        let keys: Vec<&str> = c.query.keys().map(String::as_str).collect();
        let shape = format!(
            "{} {}{}",
            c.method,
            c.path
                .replace(job, "{job}")
                .replace(connector, "{connector}"),
            if keys.is_empty() {
                String::new()
            } else {
                format!("?{}", keys.join("&"))
            }
        );
        if out.last() != Some(&shape) {
            out.push(shape);
        }
    }
    out
}

/// Every step of `expected` appears in `seq`, in this order.
fn in_order(seq: &[String], expected: &[&str]) -> bool {
    let mut it = seq.iter();
    expected.iter().all(|e| it.any(|s| s == e))
}

/// The request sequence of one full and one incremental sync with documents going into the
/// cluster (docs/KIBANA.md lists it beside Elastic's service's): asserted step by step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_sequence_of_a_full_and_an_incremental_sync() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let fake = FakeEs::start().await;
    create_connector(&fake, "q1", "loadgen").await;
    let child = crate::kibana::spawn_inlet(tmp.path(), &fake, &loadgen_entry("q1"));
    wait_for("the configuration form", Duration::from_secs(60), || {
        fake.connector("q1")["status"] == "needs_configuration"
    })
    .await;
    kibana(
        &fake,
        Method::PUT,
        "/_connector/q1/_configuration",
        Some(json!({"values": {"count": "60000", "doc_bytes": 16}})),
    )
    .await;
    wait_for("connected", Duration::from_secs(30), || {
        fake.connector("q1")["status"] == "connected"
    })
    .await;
    let full = create_job(&fake, "q1", "full").await;
    wait_job(&fake, &full, "completed", Duration::from_secs(60)).await;
    wait_for("the connector updated", Duration::from_secs(10), || {
        fake.connector("q1")["last_sync_status"] == "completed"
    })
    .await;
    let full_calls = fake.calls();
    kibana(
        &fake,
        Method::PUT,
        "/_connector/q1/_configuration",
        Some(json!({"values": {"count": "120000"}})),
    )
    .await;
    let incremental = create_job(&fake, "q1", "incremental").await;
    let done = wait_job(&fake, &incremental, "completed", Duration::from_secs(60)).await;
    assert_eq!(done["indexed_document_count"], 60000, "{done}");
    wait_for("the connector updated", Duration::from_secs(10), || {
        fake.job(&incremental)["status"] == "completed"
            && fake.connector("q1")["last_sync_status"] == "completed"
    })
    .await;
    crate::kibana::stop(child);
    let calls = fake.calls();
    let full_seq = job_sequence(&full_calls, &full, "q1");
    let inc_seq = job_sequence(&calls[full_calls.len()..], &incremental, "q1");
    println!("full sync:\n  {}", full_seq.join("\n  "));
    println!("incremental sync:\n  {}", inc_seq.join("\n  "));
    let common = [
        "GET /_connector/_sync_job/{job}",
        "GET /.elastic-connectors/_doc/{connector}",
        "POST /.elastic-connectors/_update/{connector}?if_primary_term&if_seq_no",
        "GET /_connector/_sync_job/{job}",
        "PUT /_connector/_sync_job/{job}/_claim",
        "POST /search-{connector}/_bulk?filter_path&pipeline",
        "PUT /_connector/_sync_job/{job}/_stats",
        "GET /_connector/_sync_job/{job}",
        "POST /search-{connector}/_refresh?ignore_unavailable",
        "GET /search-{connector}/_count?ignore_unavailable",
        "POST /.elastic-connectors-sync-jobs/_update/{job}",
        "POST /.elastic-connectors/_update/{connector}",
    ];
    assert!(in_order(&full_seq, &common), "{full_seq:#?}");
    assert!(
        in_order(
            &full_seq,
            &[
                "POST /search-{connector}/_bulk?filter_path&pipeline",
                "POST /search-{connector}/_delete_by_query?conflicts&refresh&wait_for_completion",
            ]
        ),
        "a full sync removes what it did not see: {full_seq:#?}"
    );
    assert!(in_order(&inc_seq, &common), "{inc_seq:#?}");
    assert!(
        !inc_seq.iter().any(|s| s.contains("_delete_by_query")),
        "an incremental sync deletes nothing itself: {inc_seq:#?}"
    );
    let claim = calls
        .iter()
        .rfind(|c| c.path.ends_with(&format!("{incremental}/_claim")))
        .expect("claim");
    assert_eq!(claim.body["sync_cursor"], json!({"inlet_cursor": "60000"}));
    assert_accepted(&fake);
}
