//! Basic sync rules are applied by the host, filtered documents are counted and a full sync
//! removes documents the rules now exclude; pipeline settings reach every document.

use crate::support::*;

#[test]
fn basic_rules_filter_and_count() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let body = |rules: &str| {
        format!(
            "connectors:\n  - connector_id: rules\n    service_type: loadgen\n    configuration:\n      count: 1000\n      doc_bytes: 128\n    pipeline:\n      name: my-pipeline\n      run_ml_inference: false\n    sync_rules:\n      basic:\n{rules}"
        )
    };
    // First sync: everything.
    let config = write_config(tmp.path(), &body("        []\n"));
    let out = inlet(&[
        "sync",
        "rules",
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sink = tmp.path().join("data/sink/search-rules.ndjson");
    let docs = replay(&sink);
    assert_eq!(docs.len(), 1000);
    assert_eq!(docs["doc-7"]["_run_ml_inference"], false);
    assert_eq!(docs["doc-7"]["_extract_binary_content"], true);

    // Exclude even documents and those with n >= 900 (first matching rule wins).
    let config = write_config(
        tmp.path(),
        &body(
            "        - {id: big, order: 1, policy: exclude, field: n, rule: '>', value: '899'}\n\
             \x20       - {id: even, order: 2, policy: exclude, field: even, rule: equals, value: 'true'}\n",
        ),
    );
    let out = inlet(&[
        "sync",
        "rules",
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let stats = &report["stats"];
    assert_eq!(stats["extracted"], 1000, "{report}");
    assert_eq!(stats["filtered"], 550, "{report}");
    assert_eq!(stats["indexed"], 450, "{report}");
    assert_eq!(
        stats["stale_deleted"], 550,
        "excluded documents leave the index: {report}"
    );
    let docs = replay(&sink);
    assert_eq!(docs.len(), 450);
    assert!(
        docs.contains_key("doc-1") && !docs.contains_key("doc-2") && !docs.contains_key("doc-901")
    );
}

#[test]
fn a_match_all_regex_rule_is_refused_with_its_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let config = write_config(
        tmp.path(),
        "connectors:\n  - connector_id: rules\n    service_type: loadgen\n    sync_rules:\n      basic:\n        - {policy: include, field: title, rule: regex, value: '.*'}\n",
    );
    let out = inlet(&[
        "config",
        "check",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("connectors[0].sync_rules.basic") && err.contains("matches everything"),
        "{err}"
    );
}

/// config.yml's advanced rules reach a sync without Kibana's validation step, so the host asks
/// the plugin first: a plugin without advanced rules, or a rule set the plugin calls invalid,
/// fails the sync as a configuration error before any document is read.
#[test]
fn advanced_rules_are_checked_before_the_sync_starts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen", "postgresql"]);
    let config = write_config(
        tmp.path(),
        "connectors:\n  - connector_id: lg\n    service_type: loadgen\n    configuration:\n      count: 10\n    sync_rules:\n      advanced: [{query: x}]\n\
         \x20 - connector_id: pg\n    service_type: postgresql\n    sync_rules:\n      advanced:\n        - tables: []\n          query: SELECT 1\n",
    );
    let run = |id: &str| {
        let out = inlet(&[
            "sync",
            id,
            "--json",
            "--config",
            config.to_str().expect("utf8"),
        ]);
        assert!(!out.status.success(), "{id}: {}", stdout(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(report["error_class"], "config", "{report}");
        assert_eq!(report["stats"]["extracted"], 0, "{report}");
        report["error"].as_str().unwrap_or_default().to_owned()
    };
    let err = run("lg");
    assert!(
        err.contains("does not support advanced sync rules"),
        "{err}"
    );
    // The postgresql plugin's own validation, not a failed query: no database is granted.
    let err = run("pg");
    assert!(
        err.contains("invalid advanced sync rules") && err.contains("tables"),
        "{err}"
    );
}
