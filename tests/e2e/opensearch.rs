//! Syncs into the real clusters of the test run, each assembled from Maven Central: OpenSearch
//! 2.19 (tests/opensearch, `INLET_TEST_OPENSEARCH`) and Elasticsearch 8.15 (tests/elasticsearch,
//! `INLET_TEST_ELASTICSEARCH`): counts, stale deletion after a smaller re-sync, incremental
//! syncs, mapping conflicts dead-lettered with the counts adding up. Every test runs once per
//! cluster.

use crate::support::*;

/// A cluster of the run and what tells it apart in the answers the tests check.
struct Cluster {
    url: String,
    /// Elasticsearch names a mapping conflict `document_parsing_exception` (since 8.8),
    /// OpenSearch keeps the older `mapper_parsing_exception`.
    parse_error: &'static str,
    /// Whether the node serves `_delete_by_query` (the reindex module). The Elasticsearch node
    /// assembled from Maven Central does not: the module is not published there
    /// (tests/elasticsearch/README.md), and the node answers as any Elasticsearch without it.
    delete_by_query: bool,
}

impl Cluster {
    fn new(url: String, parse_error: &'static str) -> Cluster {
        // A request to a missing index: 404 from the handler, or 400 when there is none.
        let (status, body) = http(
            "POST",
            &format!(
                "{url}/inlet-no-such-index-{}/_delete_by_query",
                std::process::id()
            ),
            Some(r#"{"query":{"match_none":{}}}"#),
        );
        let delete_by_query = match status {
            404 => true,
            400 if body.contains("no handler found for uri") => false,
            _ => panic!("{url}: unexpected _delete_by_query answer: HTTP {status}: {body}"),
        };
        Cluster {
            url,
            parse_error,
            delete_by_query,
        }
    }
}

fn opensearch_cluster() -> Cluster {
    Cluster::new(opensearch(), "mapper_parsing_exception")
}

/// The Elasticsearch node of the run, or `None` (with the reason printed) when
/// `INLET_TEST_ELASTICSEARCH` is unset; scripts/test always sets it.
fn elasticsearch_cluster() -> Option<Cluster> {
    let Ok(url) = std::env::var("INLET_TEST_ELASTICSEARCH") else {
        eprintln!(
            "SKIPPED: INLET_TEST_ELASTICSEARCH is unset, so there is no Elasticsearch node to sync \
             into (scripts/test starts one; by hand: \
             export INLET_TEST_ELASTICSEARCH=$(tests/elasticsearch/start))"
        );
        return None;
    };
    let (status, body) = http("GET", &format!("{url}/"), None);
    assert_eq!(status, 200, "INLET_TEST_ELASTICSEARCH={url}: {body}");
    let root: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert!(
        root["version"]["distribution"].is_null() && root["tagline"] == "You Know, for Search",
        "INLET_TEST_ELASTICSEARCH={url} is not an Elasticsearch node: {root}"
    );
    Some(Cluster::new(url, "document_parsing_exception"))
}

fn config(tmp: &std::path::Path, url: &str, connectors: &str) -> std::path::PathBuf {
    plugin_dir(tmp, &["loadgen"]);
    write_config(
        tmp,
        &format!(
            "elasticsearch:\n  host: {url}\ninlet.protocol: standalone\nconnectors:\n{connectors}"
        ),
    )
}

/// One `inlet sync --json` (a full sync): its exit status and report.
fn run_sync(config: &std::path::Path, connector: &str) -> (bool, serde_json::Value, String) {
    run_sync_typed(config, connector, "full")
}

fn run_sync_typed(
    config: &std::path::Path,
    connector: &str,
    job_type: &str,
) -> (bool, serde_json::Value, String) {
    let out = inlet(&[
        "sync",
        connector,
        "--type",
        job_type,
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {}\n{}", stdout(&out), stderr(&out)));
    (out.status.success(), report, stderr(&out))
}

fn sync(config: &std::path::Path, connector: &str) -> serde_json::Value {
    sync_typed(config, connector, "full")
}

fn sync_typed(config: &std::path::Path, connector: &str, job_type: &str) -> serde_json::Value {
    let (ok, report, stderr) = run_sync_typed(config, connector, job_type);
    assert!(ok, "{report}\n{stderr}");
    report
}

fn loadgen(connector: &str, index: &str, count: u32) -> String {
    format!(
        "  - connector_id: {connector}\n    service_type: loadgen\n    index_name: {index}\n    configuration:\n      count: {count}\n      doc_bytes: 512\n"
    )
}

/// Full syncs stamp every document; a smaller one then removes what the source no longer has.
/// On a cluster without `_delete_by_query` the sync must fail saying so, and lose nothing.
fn full_syncs_and_stale_deletion(cluster: &Cluster) {
    let url = &cluster.url;
    let tmp = tempfile::tempdir().expect("tempdir");
    let index = format!("e2e-stale-{}", std::process::id());
    http("DELETE", &format!("{url}/{index}"), None);
    // Rewrites the one config.yml of this test for `count` documents.
    let config_for = |count: u32| config(tmp.path(), url, &loadgen("os", &index, count));
    if cluster.delete_by_query {
        let first = sync(&config_for(20_000), "os");
        assert_eq!(first["stats"]["indexed"], 20_000, "{first}");
        assert_eq!(count(url, &index), 20_000);
        assert_eq!(source(url, &index, "doc-123")["n"], 123);

        let second = sync(&config_for(15_000), "os");
        assert_eq!(second["stats"]["stale_deleted"], 5_000, "{second}");
        assert_eq!(count(url, &index), 15_000);
        let (status, _) = http("GET", &format!("{url}/{index}/_doc/doc-17000"), None);
        assert_eq!(status, 404, "a document the source no longer has is gone");
    } else {
        eprintln!("{url} serves no _delete_by_query: checking that full syncs fail loudly");
        for extracted in [20_000, 15_000] {
            let (ok, report, stderr) = run_sync(&config_for(extracted), "os");
            assert!(
                !ok,
                "a full sync succeeded without its stale deletion: {report}"
            );
            assert_eq!(report["status"], "error", "{report}");
            let error = report["error"].as_str().unwrap_or_default();
            assert!(
                error.contains("_delete_by_query") && error.contains("no handler found"),
                "the failure does not name the refused request: {report}\n{stderr}"
            );
            assert_eq!(report["stats"]["extracted"], extracted, "{report}");
            // The counts survive the failed deletion: indexed + deleted + dead_lettered = emitted.
            assert_eq!(report["stats"]["indexed"], extracted, "{report}");
            assert_eq!(report["stats"]["stale_deleted"], 0, "{report}");
            // Every document was indexed before the deletion was refused, and none is lost.
            assert_eq!(count(url, &index), 20_000, "{report}");
        }
        assert_eq!(source(url, &index, "doc-123")["n"], 123);
        assert_eq!(
            source(url, &index, "doc-17000")["n"],
            17_000,
            "kept, not deleted"
        );
    }
    http("DELETE", &format!("{url}/{index}"), None);
}

/// Incremental syncs never delete: the second sends only the documents past the cursor.
fn incremental_syncs_add_only_the_new_documents(cluster: &Cluster) {
    let url = &cluster.url;
    let tmp = tempfile::tempdir().expect("tempdir");
    let index = format!("e2e-incremental-{}", std::process::id());
    http("DELETE", &format!("{url}/{index}"), None);
    let incremental = |count: u32| {
        let cfg = config(tmp.path(), url, &loadgen("inc", &index, count));
        sync_typed(&cfg, "inc", "incremental")
    };
    let first = incremental(20_000);
    assert_eq!(first["stats"]["indexed"], 20_000, "{first}");
    assert_eq!(count(url, &index), 20_000);
    let second = incremental(25_000);
    assert_eq!(second["stats"]["extracted"], 5_000, "{second}");
    assert_eq!(second["stats"]["indexed"], 5_000, "{second}");
    assert_eq!(second["stats"]["stale_deleted"], 0, "{second}");
    assert_eq!(count(url, &index), 25_000);
    assert_eq!(source(url, &index, "doc-24999")["title"], "Document 24999");
    http("DELETE", &format!("{url}/{index}"), None);
}

/// The stored `_source` of one document.
fn source(url: &str, index: &str, id: &str) -> serde_json::Value {
    let (status, body) = http("GET", &format!("{url}/{index}/_doc/{id}"), None);
    assert_eq!(status, 200, "{id}: {body}");
    let doc: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    doc["_source"].clone()
}

fn mapping_conflicts_are_dead_lettered_and_counted(cluster: &Cluster) {
    let url = &cluster.url;
    let tmp = tempfile::tempdir().expect("tempdir");
    let index = format!("e2e-conflict-{}", std::process::id());
    http("DELETE", &format!("{url}/{index}"), None);
    // `even` is a boolean in every loadgen document; a date mapping refuses it.
    let (status, body) = http(
        "PUT",
        &format!("{url}/{index}"),
        Some(r#"{"mappings":{"properties":{"even":{"type":"date"}}}}"#),
    );
    assert_eq!(status, 200, "{body}");
    let cfg = config(
        tmp.path(),
        url,
        &format!(
            "  - connector_id: conflict\n    service_type: loadgen\n    index_name: {index}\n    configuration:\n      count: 25\n"
        ),
    );
    // A full sync ends with stale deletion, which a cluster without `_delete_by_query` refuses
    // (checked above); an incremental one sends the same documents and deletes nothing.
    let job_type = if cluster.delete_by_query {
        "full"
    } else {
        "incremental"
    };
    let report = sync_typed(&cfg, "conflict", job_type);
    let stats = &report["stats"];
    assert_eq!(stats["extracted"], 25, "{report}");
    assert_eq!(stats["dead_lettered"], 25, "{report}");
    assert_eq!(stats["indexed"], 0, "{report}");
    assert_eq!(count(url, &index), 0);
    let dead = std::fs::read_dir(tmp.path().join("data/dead-letter"))
        .expect("dead-letter dir")
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    let lines: Vec<serde_json::Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON"))
        .collect();
    assert_eq!(lines.len(), 25);
    assert_eq!(lines[0]["status"], 400, "{}", lines[0]);
    assert_eq!(
        lines[0]["error"]["type"], cluster.parse_error,
        "{}",
        lines[0]
    );
    assert!(
        lines[0]["document"]["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Document ")),
        "{}",
        lines[0]
    );
    http("DELETE", &format!("{url}/{index}"), None);
}

#[test]
fn opensearch_full_sync_then_a_smaller_one_removes_the_stale_documents() {
    let cluster = opensearch_cluster();
    assert!(
        cluster.delete_by_query,
        "the OpenSearch node has its reindex module"
    );
    full_syncs_and_stale_deletion(&cluster);
}

#[test]
fn opensearch_incremental_syncs_add_only_the_new_documents() {
    incremental_syncs_add_only_the_new_documents(&opensearch_cluster());
}

#[test]
fn opensearch_mapping_conflicts_are_dead_lettered_and_counted() {
    mapping_conflicts_are_dead_lettered_and_counted(&opensearch_cluster());
}

/// On the node from Maven Central (no reindex module): every full sync fails naming the refused
/// `_delete_by_query`, and every document is kept.
#[test]
fn elasticsearch_full_syncs_and_stale_deletion() {
    if let Some(cluster) = elasticsearch_cluster() {
        full_syncs_and_stale_deletion(&cluster);
    }
}

#[test]
fn elasticsearch_incremental_syncs_add_only_the_new_documents() {
    if let Some(cluster) = elasticsearch_cluster() {
        incremental_syncs_add_only_the_new_documents(&cluster);
    }
}

#[test]
fn elasticsearch_mapping_conflicts_are_dead_lettered_and_counted() {
    if let Some(cluster) = elasticsearch_cluster() {
        mapping_conflicts_are_dead_lettered_and_counted(&cluster);
    }
}
