//! Misbehaving plugins, built from source: each fails its own sync with a clear reason and
//! nothing else.

use std::time::Instant;

use crate::support::*;

fn sync_report(config: &std::path::Path, connector: &str) -> (bool, serde_json::Value, String) {
    let out = inlet(&[
        "sync",
        connector,
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}\n{}", stdout(&out), stderr(&out)));
    (out.status.success(), report, stderr(&out))
}

#[test]
fn an_infinite_loop_is_stopped_at_its_deadline() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["spin"]);
    let config = write_config(
        tmp.path(),
        "connectors:\n  - connector_id: loop\n    service_type: spin\n    limits:\n      call_timeout_secs: 2\n",
    );
    let started = Instant::now();
    let (ok, report, _) = sync_report(&config, "loop");
    assert!(!ok);
    assert_eq!(report["error_class"], "deadline", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("next-batch") && e.contains("deadline")),
        "{report}"
    );
    // Generous bound: the point is that it ends at all, near its 2 s budget.
    assert!(
        started.elapsed().as_secs() < 60,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_memory_bomb_traps_at_its_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["membomb"]);
    let config = write_config(
        tmp.path(),
        "connectors:\n  - connector_id: bomb\n    service_type: membomb\n    limits:\n      memory_mib: 64\n",
    );
    let (ok, report, _) = sync_report(&config, "bomb");
    assert!(!ok);
    assert_eq!(report["error_class"], "memory", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("limit 67108864")),
        "{report}"
    );
    assert!(
        report["peak_memory_bytes"]
            .as_u64()
            .is_some_and(|p| p <= 64 << 20),
        "{report}"
    );
}

#[test]
fn deep_recursion_is_a_stack_overflow_trap() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["recursion"]);
    let config = write_config(
        tmp.path(),
        "connectors:\n  - connector_id: deep\n    service_type: recursion\n",
    );
    let (ok, report, _) = sync_report(&config, "deep");
    assert!(!ok);
    assert_eq!(report["error_class"], "trap", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("stack overflow")),
        "{report}"
    );
}

#[test]
fn a_panicking_plugin_fails_alone_while_another_connector_completes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["panic", "loadgen"]);
    let config = write_config(
        tmp.path(),
        "connectors:\n\
         \x20 - connector_id: crashy\n    service_type: panic\n\
         \x20 - connector_id: steady\n    service_type: loadgen\n    configuration:\n      count: 2500\n      doc_bytes: 256\n",
    );
    let out = inlet(&["run", "--once", "--config", config.to_str().expect("utf8")]);
    assert!(
        !out.status.success(),
        "one failed sync makes --once exit non-zero"
    );
    let text = stdout(&out);
    assert!(text.contains("crashy full sync FAILED"), "{text}");
    assert!(
        text.contains("connector bug: source returned garbage on page 2"),
        "panic message reaches the operator: {text}"
    );
    assert!(text.contains("steady full sync completed"), "{text}");
    let steady = replay(&tmp.path().join("data/sink/search-steady.ndjson"));
    assert_eq!(steady.len(), 2500);
    assert_eq!(steady["doc-2499"]["n"], 2499);
    // The crashed sync kept what it had sent and deleted nothing.
    let crashy = tmp.path().join("data/sink/search-crashy.ndjson");
    assert_eq!(action_counts(&crashy), (1, 0));
}

#[test]
fn invalid_documents_are_dead_lettered_with_reasons_and_counted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["badjson"]);
    let config = write_config(
        tmp.path(),
        "connectors:\n  - connector_id: bad\n    service_type: badjson\n",
    );
    let (ok, report, _) = sync_report(&config, "bad");
    assert!(ok, "invalid documents do not fail the sync: {report}");
    let stats = &report["stats"];
    assert_eq!(stats["extracted"], 6, "{report}");
    assert_eq!(stats["indexed"], 3);
    assert_eq!(stats["invalid"], 3);
    assert_eq!(stats["dead_lettered"], 3);
    let dead = std::fs::read_to_string(tmp.path().join("data/dead-letter/bad.ndjson"))
        .expect("dead-letter file");
    let entries: Vec<serde_json::Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON"))
        .collect();
    let kinds: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or(""),
                e["error"]["type"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("broken-json", "invalid_json"),
            ("not-object", "not_an_object"),
            ("", "empty_id")
        ]
    );
    assert_eq!(
        entries[0]["document"], "{\"n\": 2,",
        "the broken body is kept verbatim"
    );
    assert_eq!(
        replay(&tmp.path().join("data/sink/search-bad.ndjson")).len(),
        3
    );
}

#[test]
fn an_unknown_import_is_rejected_at_load_and_named() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir(tmp.path(), &["unknown_import", "loadgen"]);
    let wasm = plugins.join("unknown_import/unknown_import.wasm");
    let cache = tmp.path().join("cache");
    let out = inlet(&[
        "plugins",
        "inspect",
        wasm.to_str().expect("utf8"),
        "--json",
        "--cache-dir",
        cache.to_str().expect("utf8"),
    ]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let problems = report["problems"].to_string();
    assert!(problems.contains("test:teleport/beam"), "{report}");
    assert!(problems.contains("does not provide"), "{report}");

    // In a running service it fails only its own connector.
    let config = write_config(
        tmp.path(),
        "connectors:\n  - connector_id: odd\n    service_type: unknown_import\n  - connector_id: fine\n    service_type: loadgen\n    configuration:\n      count: 10\n",
    );
    let out = inlet(&["run", "--once", "--config", config.to_str().expect("utf8")]);
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("fine full sync completed"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("test:teleport/beam"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_second_load_comes_from_the_cache() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir(tmp.path(), &["loadgen"]);
    let wasm = plugins.join("loadgen/loadgen.wasm");
    let cache = tmp.path().join("fresh-cache");
    let inspect = || {
        let out = inlet(&[
            "plugins",
            "inspect",
            wasm.to_str().expect("utf8"),
            "--json",
            "--cache-dir",
            cache.to_str().expect("utf8"),
        ]);
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON")
    };
    let first = inspect();
    assert_eq!(first["cache"], "Compiled", "{first}");
    assert_eq!(first["service_type"], "loadgen");
    assert_eq!(first["contract"], "0.1.0");
    let second = inspect();
    assert_eq!(second["cache"], "Hit", "{second}");
    let artifacts = std::fs::read_dir(&cache).expect("cache dir").count();
    assert_eq!(artifacts, 1, "one artifact per component and engine");
}

#[test]
fn files_that_are_not_components_get_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let junk = tmp.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0").expect("write core module header");
    let out = inlet(&[
        "plugins",
        "inspect",
        junk.to_str().expect("utf8"),
        "--json",
        "--cache-dir",
        tmp.path().join("c").to_str().expect("utf8"),
    ]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(
        report["problems"].to_string().contains("not a component"),
        "{report}"
    );
}
