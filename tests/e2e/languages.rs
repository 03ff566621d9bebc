//! Connectors written in Python and JavaScript, built from source with their SDKs' build
//! commands, synced through the real `inlet` binary.

use crate::support::*;

fn check_language(connector: &str, service_type: &str) -> (serde_json::Value, serde_json::Value) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugins = tmp.path().join("plugins");
    let folder = match service_type {
        "loadgen_py" => "loadgen-py",
        "loadgen_go" => "loadgen-go",
        _ => "loadgen-js",
    };
    install_sdk_plugin(folder, &plugins);
    let config = write_config(
        tmp.path(),
        &format!(
            "connectors:\n  - connector_id: {connector}\n    service_type: {service_type}\n    configuration:\n      count: 3000\n      doc_bytes: 512\n"
        ),
    );
    let run = |args: &[&str]| {
        let mut full = vec![
            "sync",
            connector,
            "--json",
            "--config",
            config.to_str().expect("utf8"),
        ];
        full.extend_from_slice(args);
        let out = inlet(&full);
        assert!(
            out.status.success(),
            "{} sync failed: {}\n{}",
            service_type,
            stdout(&out),
            stderr(&out)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON report")
    };
    let full = run(&[]);
    let sink = tmp
        .path()
        .join(format!("data/sink/search-{connector}.ndjson"));
    let docs = replay(&sink);
    assert_eq!(docs.len(), 3000, "{full}");
    assert_eq!(docs["doc-42"]["n"], 42);
    let size = docs["doc-42"].to_string().len();
    assert!((400..700).contains(&size), "doc_bytes is honoured: {size}");

    // Raise the count: an incremental sync emits exactly the new documents.
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace("count: 3000", "count: 3500");
    std::fs::write(&config, text).expect("rewrite config");
    let incremental = run(&["--type", "incremental"]);
    assert_eq!(incremental["stats"]["extracted"], 500, "{incremental}");
    assert_eq!(replay(&sink).len(), 3500);
    (full, incremental)
}

#[test]
fn python_connector_syncs_fully_and_incrementally() {
    let (full, _) = check_language("py", "loadgen_py");
    assert_eq!(full["stats"]["indexed"], 3000);
}

#[test]
fn javascript_connector_syncs_fully_and_incrementally() {
    let (full, _) = check_language("js", "loadgen_js");
    assert_eq!(full["stats"]["indexed"], 3000);
}

#[test]
fn go_connector_syncs_fully_and_incrementally() {
    let (full, _) = check_language("go", "loadgen_go");
    assert_eq!(full["stats"]["indexed"], 3000);
}

/// The text the test-go-gc plugin checks its large values against: "00000000,00000001,..."
/// cut to `n` bytes.
fn go_gc_pattern(n: usize) -> String {
    let mut s = String::with_capacity(n + 9);
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!("{i:08},"));
        i += 1;
    }
    s.truncate(n);
    s
}

/// While the host runs a component's cabi_realloc, the component may not call an import, and
/// the Go runtime's GC reads the clock through one: a Go connector trapped ("cannot leave
/// component instance") on large configuration values, and on state.get in a loop under GC
/// pressure. tests/go-plugins/test-go-gc keeps its heap busy and checks what arrives. (Export
/// arguments above the SDK's 1 MiB arena on a first call can still trap: sdk/go/abi_wasip1.go.)
#[test]
fn go_connector_takes_large_arguments_under_gc_pressure() {
    let tmp = tempfile::tempdir().expect("tempdir");
    build_with_sdk(
        &root().join("tests/go-plugins/test-go-gc"),
        &tmp.path().join("plugins").join("go_gc"),
    );
    let blob = 500_000;
    let rules = serde_json::json!({ "rules": go_gc_pattern(300_000) });
    let config = write_config(
        tmp.path(),
        &format!(
            "connectors:\n  - connector_id: gc\n    service_type: go_gc\n    configuration:\n      blob: \"{}\"\n      blob_bytes: {blob}\n      rounds: 2000\n      cursor_bytes: 60000\n    sync_rules:\n      advanced: {rules}\n",
            go_gc_pattern(blob)
        ),
    );
    let run = |args: &[&str]| {
        let mut full = vec![
            "sync",
            "gc",
            "--json",
            "--config",
            config.to_str().expect("utf8"),
        ];
        full.extend_from_slice(args);
        let out = inlet(&full);
        assert!(
            out.status.success(),
            "sync failed: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("JSON report")
    };
    let full = run(&[]);
    assert_eq!(full["stats"]["indexed"], 2000, "{full}");
    // The incremental sync gets the 60 kB cursor back and checks it.
    let incremental = run(&["--type", "incremental"]);
    assert_eq!(incremental["stats"]["indexed"], 2000, "{incremental}");
    let docs = replay(&tmp.path().join("data/sink/search-gc.ndjson"));
    assert_eq!(docs["incremental-1999"]["state_bytes"], 65536);
}
