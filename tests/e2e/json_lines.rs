//! The optional `inlet:connector/json-lines` export: batches as JSON lines are checked line by
//! line with the record path's guarantees, a bad line is refused alone, and plugins without the
//! export (every plugin built for the plain `connector` world) keep loading and syncing.

use crate::support::*;

fn sync_report(config: &std::path::Path, connector: &str) -> (bool, serde_json::Value) {
    let out = inlet(&[
        "sync",
        connector,
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}\n{}", stdout(&out), stderr(&out)));
    (out.status.success(), report)
}

#[test]
fn json_lines_are_checked_line_by_line_and_a_bad_line_is_refused_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["badlines"]);
    let config = write_config(
        tmp.path(),
        "connectors:\n  - connector_id: lines\n    service_type: badlines\n",
    );
    // The plugin fails the sync if asked for `sync.next-batch`: completing proves the host
    // pulled through `json-lines`.
    let (ok, report) = sync_report(&config, "lines");
    assert!(ok, "bad lines do not fail the sync: {report}");
    let stats = &report["stats"];
    // 10 lines of text (a blank one skipped), 2 lines of bytes, 2 records.
    assert_eq!(stats["extracted"], 14, "{report}");
    assert_eq!(stats["indexed"], 5, "{report}");
    assert_eq!(stats["deleted"], 1, "{report}");
    assert_eq!(stats["dead_lettered"], 8, "{report}");
    assert_eq!(stats["invalid"], 8, "{report}");
    assert_eq!(stats["batches"], 3, "{report}");

    let dead = std::fs::read_to_string(tmp.path().join("data/dead-letter/lines.ndjson"))
        .expect("dead-letter file");
    let entries: Vec<serde_json::Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON"))
        .collect();
    let refused: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or("?"),
                e["error"]["type"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("dup", "duplicate_key"),
            ("deep", "nesting_too_deep"),
            ("", "missing_id"),
            ("", "empty_id"),
            ("ts", "bad_timestamp"),
            ("", "not_an_object"),
            ("broken", "invalid_json"),
            ("not-utf8", "invalid_json"),
        ]
    );
    // The refused line is kept as the plugin sent it, and the reason says what is wrong.
    assert_eq!(entries[0]["document"]["_id"], "dup");
    assert!(
        entries[0]["error"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("\"a\" twice")),
        "{}",
        entries[0]
    );
    assert!(
        entries[7]["error"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not UTF-8")),
        "{}",
        entries[7]
    );

    let docs = replay(&tmp.path().join("data/sink/search-lines.ndjson"));
    let ids: Vec<&str> = docs.keys().map(String::as_str).collect();
    // good-1 was deleted by the records batch that followed.
    assert_eq!(ids, ["good-2", "good-3", "good-4", "record"]);
    // `_id` leaves the body (Elasticsearch refuses it in a source), `id` is added, and the
    // line's own `_timestamp` stays.
    let good2 = &docs["good-2"];
    assert_eq!(good2.get("_id"), None, "{good2}");
    assert_eq!(good2["id"], "good-2");
    assert_eq!(good2["_timestamp"], "2024-05-01T10:00:00Z");
    assert_eq!(good2["n"], 4);
    // A body's own `id` wins; a nested `_id` is an ordinary field.
    assert_eq!(docs["good-3"]["id"], "own");
    assert_eq!(docs["good-3"]["o"]["_id"], "inner");
    assert_eq!(docs["good-4"]["x"], "é");
    assert!(docs["good-4"]["_timestamp"].is_string());
}

#[test]
fn a_json_lines_batch_over_max_batch_docs_fails_the_sync_naming_the_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["badlines"]);
    let config = write_config(
        tmp.path(),
        "connectors:\n  - connector_id: lines\n    service_type: badlines\n    limits:\n      max_batch_docs: 9\n",
    );
    let (ok, report) = sync_report(&config, "lines");
    assert!(!ok, "{report}");
    let error = report["error"].as_str().expect("error");
    assert!(
        error.contains("10 documents in one batch") && error.contains("limits.max_batch_docs"),
        "{error}"
    );
    assert_eq!(report["stats"]["indexed"], 0, "{report}");
}

#[test]
fn a_plugin_without_json_lines_still_loads_and_syncs_by_records() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir(tmp.path(), &["loadgen", "badlines"]);
    let cache = shared_cache();
    let inspect = |stem: &str| {
        let wasm = plugins.join(stem).join(format!("{stem}.wasm"));
        let out = inlet(&[
            "plugins",
            "inspect",
            wasm.to_str().expect("utf8"),
            "--cache-dir",
            cache.to_str().expect("utf8"),
            "--json",
        ]);
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    // The Rust SDK builds the plain `connector` world: the shape of every 0.1.0 plugin.
    let old = inspect("loadgen");
    assert_eq!(old["contract"], "0.1.0", "{old}");
    assert_eq!(old["batches"], "records", "{old}");
    assert_eq!(old["problems"], serde_json::json!([]), "{old}");
    assert_eq!(inspect("badlines")["batches"], "json-lines");

    let config = write_config(
        tmp.path(),
        "connectors:\n  - connector_id: old\n    service_type: loadgen\n    configuration:\n      count: 1200\n",
    );
    let (ok, report) = sync_report(&config, "old");
    assert!(ok, "{report}");
    assert_eq!(report["stats"]["indexed"], 1200, "{report}");
    assert_eq!(
        replay(&tmp.path().join("data/sink/search-old.ndjson")).len(),
        1200
    );
}
