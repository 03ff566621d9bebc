//! A hostile plugin (tests/plugins/test-flood, written against the contract alone) against the
//! host's containment of plugin state, logs and documents: each test asserts the figure the
//! attack reached before these limits existed, and that it no longer does.

use std::time::Instant;

use crate::support::*;
use inlet::store::{StateStore, StateUsage};

fn connector(id: &str, attack: &str, extra: &str) -> String {
    format!(
        "  - connector_id: {id}\n    service_type: flood\n    configuration:\n      attack: {attack}\n{extra}"
    )
}

/// `inlet sync <id> --json`: exit status, report, stderr.
fn sync(config: &std::path::Path, id: &str) -> (bool, serde_json::Value, String) {
    let out = inlet(&[
        "sync",
        id,
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}\n{}", stdout(&out), stderr(&out)));
    (out.status.success(), report, stderr(&out))
}

/// The one `report` document the plugin wrote into the embedded sink.
fn plugin_report(dir: &std::path::Path, id: &str) -> serde_json::Value {
    let docs = replay(&dir.join(format!("data/sink/search-{id}.ndjson")));
    docs.get("report")
        .unwrap_or_else(|| panic!("no report document from {id}: {docs:?}"))
        .clone()
}

/// Removes the host's own colouring (SGR sequences, `ESC [ digits;… m`), after checking that
/// every escape character in the output is one of those: a plugin's escapes must arrive as
/// visible text, never as control sequences.
fn strip_host_colours(stderr: &str) -> String {
    let mut out = String::with_capacity(stderr.len());
    let mut rest = stderr;
    while let Some(at) = rest.find('\u{1b}') {
        out.push_str(&rest[..at]);
        let seq = &rest[at + 1..];
        let body = seq
            .strip_prefix('[')
            .unwrap_or_else(|| panic!("a raw escape that is not the host's colouring: {seq:.40?}"));
        let end = body
            .find(|c: char| !(c.is_ascii_digit() || c == ';'))
            .expect("sequence end");
        assert_eq!(
            &body[end..end + 1],
            "m",
            "a raw escape sequence that is not colouring: {seq:.40?}"
        );
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn state_is_held_to_its_quota_and_the_plugin_is_told_which_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["flood"]);
    let config = write_config(
        tmp.path(),
        &format!(
            "connectors:\n{}{}",
            // The measured attack: 3,000 values of 64 KiB under the default quota (4 MiB).
            connector("bytes", "state", "      count: 3000\n      size: 65536\n"),
            connector(
                "keys",
                "state",
                "      count: 3000\n      size: 16\n    limits:\n      max_state_keys: 100\n"
            ),
        ),
    );
    for id in ["bytes", "keys"] {
        let (ok, report, stderr) = sync(&config, id);
        assert!(ok, "{report}\n{stderr}");
    }
    let bytes = plugin_report(tmp.path(), "bytes");
    let keys = plugin_report(tmp.path(), "keys");

    // 4 MiB holds 63 entries of 64 KiB and their keys; every later `set` was refused, naming
    // the key and the limit to raise.
    assert_eq!(bytes["stored"], 63, "{bytes}");
    assert_eq!(bytes["refused"], 3000 - 63, "{bytes}");
    assert_eq!(bytes["readable"], true, "{bytes}");
    let error = bytes["first_error"].as_str().expect("an error message");
    assert!(
        error.contains("\"key-00063\"")
            && error.contains("connectors[].limits.max_state_bytes = 4194304"),
        "{error}"
    );
    assert_eq!(keys["stored"], 100, "{keys}");
    let error = keys["first_error"].as_str().expect("an error message");
    assert!(
        error.contains("\"key-00100\"")
            && error.contains("connectors[].limits.max_state_keys = 100"),
        "{error}"
    );

    // What the store holds once the syncs are over: exactly what the plugin was told it had
    // stored, within the quota.
    let store = StateStore::open(&tmp.path().join("data/state.redb")).expect("open state store");
    let held = store.plugin_usage("bytes").expect("usage");
    assert_eq!(held.keys, 63, "{held:?}");
    assert!(held.bytes <= 4 * 1024 * 1024, "{held:?}");
    assert_eq!(
        store.plugin_usage("keys").expect("usage"),
        StateUsage {
            keys: 100,
            bytes: 100 * (9 + 16)
        }
    );
    assert_eq!(
        store
            .plugin_get("bytes", "key-00062")
            .expect("get")
            .map(|v| v.len()),
        Some(65536)
    );
    assert_eq!(store.plugin_get("bytes", "key-00063").expect("get"), None);
}

#[test]
fn a_plugin_cannot_forge_a_host_log_line_or_drive_the_terminal() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["flood"]);
    let config = write_config(
        tmp.path(),
        &format!("connectors:\n{}", connector("forge", "log_forge", "")),
    );
    let (ok, report, stderr) = sync(&config, "forge");
    assert!(ok, "{report}\n{stderr}");
    let text = strip_host_colours(&stderr);
    assert!(
        !text.contains('\r') && !text.contains('\u{2028}') && !text.contains('\u{202e}'),
        "a raw line-breaking or reordering character reached the log:\n{text}"
    );
    let forged: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("FORGED-BY-PLUGIN"))
        .collect();
    // Seven attempts, seven lines: each inside one line the host tagged as the plugin's.
    assert_eq!(forged.len(), 7, "{text}");
    for line in &forged {
        assert!(
            line.contains(" inlet::runtime::guest_output: ")
                && line.contains("connector_id=\"forge\"")
                && line.contains("plugin=true"),
            "forged text outside the plugin's tagged line: {line}"
        );
    }
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("2026-01-01T00:00:00.000000Z")),
        "{text}"
    );
    // The host's own `sync completed` line is the only line that says so.
    assert_eq!(
        text.lines()
            .filter(|l| l.split_once(' ').is_some_and(|(_, rest)| rest
                .trim_start()
                .starts_with("INFO inlet::sync: sync completed")))
            .count(),
        1,
        "{text}"
    );
    // What the plugin tried is visible, escaped.
    assert!(text.contains("ordinary progress\\n2026-01-01T00:00:00.000000Z  INFO inlet::sync"));
    assert!(text.contains("\\u{1b}[2J\\u{1b}[1;1H"), "{text}");
    assert!(
        text.contains("stderr \\u{1b}]0;FORGED-BY-PLUGIN window title\\u{7}"),
        "{text}"
    );
}

#[test]
fn a_log_flood_is_held_to_one_bucket_and_every_line_is_accounted_for() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["flood"]);
    let config = write_config(
        tmp.path(),
        &format!(
            "connectors:\n{}",
            connector("noisy", "log_flood", "      count: 30000\n")
        ),
    );
    let started = Instant::now();
    let (ok, report, stderr) = sync(&config, "noisy");
    let elapsed = started.elapsed().as_secs_f64();
    assert!(ok, "{report}\n{stderr}");
    let attempts = plugin_report(tmp.path(), "noisy")["attempts"]
        .as_u64()
        .expect("attempts");
    assert_eq!(attempts, 30_001);
    let text = strip_host_colours(&stderr);
    // Every physical line the plugin's text produced, from `log`, stdout and stderr alike
    // (before, the one call with 30,000 newlines alone wrote 30,000 lines).
    let logged = text
        .lines()
        .filter(|l| l.contains("flood line") || l.contains("flood newline"))
        .count() as u64;
    let suppressed: u64 = text
        .lines()
        .filter(|l| l.contains("plugin log lines suppressed by the rate limit"))
        .map(|l| {
            let n = l
                .split("suppressed=")
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|s| s.parse::<u64>().ok());
            n.unwrap_or_else(|| panic!("no count in {l}"))
        })
        .sum();
    // The bucket: a burst of 500, then 100 lines a second, over at most the whole run.
    let bound = 500 + (100.0 * elapsed).ceil() as u64;
    assert!(
        logged <= bound,
        "{logged} lines logged in {elapsed:.1} s (bound {bound})"
    );
    assert!(logged >= 500, "the burst gets through: {logged}");
    assert_eq!(
        logged + suppressed,
        attempts,
        "every attempt is either logged or counted"
    );
}

/// The dead-letter entries of the `documents` attack, checked for ids and reasons.
fn refused_documents(path: &std::path::Path) -> Vec<serde_json::Value> {
    let dead = std::fs::read_to_string(path).expect("dead-letter file");
    let entries: Vec<serde_json::Value> = dead
        .lines()
        .map(|l| serde_json::from_str(l).expect("dead-letter line is JSON"))
        .collect();
    let got: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or(""),
                e["error"]["type"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("duplicate", "duplicate_key"),
            ("duplicate-nested", "duplicate_key"),
            ("deep", "nesting_too_deep"),
            ("long-number", "number_too_long"),
            ("lone-surrogate-key", "lone_surrogate_key"),
        ]
    );
    entries
}

#[test]
fn documents_elasticsearch_refuses_are_dead_lettered_with_the_reason_not_sunk() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["flood"]);
    let config = write_config(
        tmp.path(),
        &format!("connectors:\n{}", connector("docs", "documents", "")),
    );
    let (ok, report, stderr) = sync(&config, "docs");
    assert!(
        ok,
        "refused documents do not fail the sync: {report}\n{stderr}"
    );
    let stats = &report["stats"];
    assert_eq!(stats["extracted"], 7, "{report}");
    assert_eq!(stats["indexed"], 2, "{report}");
    assert_eq!(stats["invalid"], 5, "{report}");
    assert_eq!(stats["dead_lettered"], 5, "{report}");

    let sink = tmp.path().join("data/sink/search-docs.ndjson");
    let docs = replay(&sink);
    assert_eq!(
        docs.keys().collect::<Vec<_>>(),
        vec!["good-1", "good-2"],
        "only what Elasticsearch accepts reaches the sink"
    );
    // Every line of the sink reads back with a common JSON reader (the deep document would
    // not have).
    let raw = std::fs::read_to_string(&sink).expect("sink");
    assert!(raw.len() < 4096, "{} bytes", raw.len());

    let entries = refused_documents(&tmp.path().join("data/dead-letter/docs.ndjson"));
    let reason = |i: usize| entries[i]["error"]["reason"].as_str().unwrap_or("");
    assert!(reason(0).contains("\"a\" twice"), "{}", reason(0));
    assert!(reason(1).contains("\"k\" twice"), "{}", reason(1));
    assert!(reason(2).contains("more than 1000 deep"), "{}", reason(2));
    assert!(reason(3).contains("1001 digits"), "{}", reason(3));
    // The refused body is kept for the operator: verbatim where it is JSON a reader takes, as a
    // string where it is not.
    assert_eq!(entries[0]["document"], serde_json::json!({"a": 2}));
    assert!(
        entries[2]["document"]
            .as_str()
            .is_some_and(|d| d.len() == 200_006),
        "the deep body is kept whole, as a string"
    );
}

/// The same policy in front of a real cluster: the host refuses the documents before the
/// bulk request, with its own reasons, and the node gets only the valid ones — none of them
/// reaches it to fail a shard (a key with an unpaired surrogate does that to Elasticsearch).
#[test]
fn documents_elasticsearch_refuses_never_reach_the_cluster() {
    let url = opensearch();
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["flood"]);
    let index = format!("e2e-hostile-docs-{}", std::process::id());
    http("DELETE", &format!("{url}/{index}"), None);
    let config = write_config(
        tmp.path(),
        &format!(
            "elasticsearch:\n  host: {url}\ninlet.protocol: standalone\nconnectors:\n{}    index_name: {index}\n",
            connector("docs", "documents", "")
        ),
    );
    let (ok, report, stderr) = sync(&config, "docs");
    assert!(ok, "{report}\n{stderr}");
    assert_eq!(report["stats"]["indexed"], 2, "{report}");
    assert_eq!(report["stats"]["dead_lettered"], 5, "{report}");
    assert_eq!(count(&url, &index), 2);
    refused_documents(&tmp.path().join("data/dead-letter/docs.ndjson"));
    http("DELETE", &format!("{url}/{index}"), None);
}
