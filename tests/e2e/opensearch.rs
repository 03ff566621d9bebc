//! Syncs into a real OpenSearch 2.19 node (assembled from Maven Central by tests/opensearch):
//! counts, stale deletion after a smaller re-sync, mapping conflicts dead-lettered with the
//! counts adding up.

mod support;

use support::*;

fn config(tmp: &std::path::Path, url: &str, connectors: &str) -> std::path::PathBuf {
    plugin_dir(tmp, &["loadgen"]);
    write_config(
        tmp,
        &format!(
            "elasticsearch:\n  host: {url}\ninlet.protocol: standalone\nconnectors:\n{connectors}"
        ),
    )
}

fn sync(config: &std::path::Path, connector: &str) -> serde_json::Value {
    let out = inlet(&[
        "sync",
        connector,
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {}\n{}", stdout(&out), stderr(&out)));
    assert!(out.status.success(), "{report}\n{}", stderr(&out));
    report
}

#[test]
fn full_sync_then_a_smaller_one_removes_the_stale_documents() {
    let url = opensearch();
    let tmp = tempfile::tempdir().expect("tempdir");
    let index = format!("e2e-stale-{}", std::process::id());
    http("DELETE", &format!("{url}/{index}"), None);
    let connectors = |count: u32| {
        format!(
            "  - connector_id: os\n    service_type: loadgen\n    index_name: {index}\n    configuration:\n      count: {count}\n      doc_bytes: 512\n"
        )
    };
    let cfg = config(tmp.path(), &url, &connectors(20_000));
    let first = sync(&cfg, "os");
    assert_eq!(first["stats"]["indexed"], 20_000, "{first}");
    assert_eq!(count(&url, &index), 20_000);
    let (_, doc) = http("GET", &format!("{url}/{index}/_doc/doc-123"), None);
    let doc: serde_json::Value = serde_json::from_str(&doc).expect("JSON");
    assert_eq!(doc["_source"]["n"], 123, "{doc}");

    let cfg = config(tmp.path(), &url, &connectors(15_000));
    let second = sync(&cfg, "os");
    assert_eq!(second["stats"]["stale_deleted"], 5_000, "{second}");
    assert_eq!(count(&url, &index), 15_000);
    let (status, _) = http("GET", &format!("{url}/{index}/_doc/doc-17000"), None);
    assert_eq!(status, 404, "a document the source no longer has is gone");
    http("DELETE", &format!("{url}/{index}"), None);
}

#[test]
fn mapping_conflicts_are_dead_lettered_and_counted() {
    let url = opensearch();
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
        &url,
        &format!(
            "  - connector_id: conflict\n    service_type: loadgen\n    index_name: {index}\n    configuration:\n      count: 25\n"
        ),
    );
    let report = sync(&cfg, "conflict");
    let stats = &report["stats"];
    assert_eq!(stats["extracted"], 25, "{report}");
    assert_eq!(stats["dead_lettered"], 25, "{report}");
    assert_eq!(stats["indexed"], 0, "{report}");
    assert_eq!(count(&url, &index), 0);
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
        lines[0]["error"]["type"], "mapper_parsing_exception",
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
