//! The `dir` plugin end to end: real files, the real `inlet` binary, the embedded sink.

use std::path::Path;

use crate::support::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write file");
}

fn config_for(tmp: &Path, docs: &Path, grant: bool) -> std::path::PathBuf {
    let grants = if grant {
        format!("    grants:\n      files: [{}]\n", docs.display())
    } else {
        String::new()
    };
    plugin_dir(tmp, &["dir"]);
    write_config(
        tmp,
        &format!(
            "connectors:\n  - connector_id: docs\n    service_type: dir\n    configuration:\n      directory: {}\n{grants}",
            docs.display()
        ),
    )
}

#[test]
fn full_syncs_mirror_the_directory_and_incremental_sees_changes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let docs = tmp.path().join("docs");
    write(&docs.join("a.txt"), "alpha");
    write(&docs.join("sub/b.md"), "# beta");
    write(&docs.join("sub/deeper/c.txt"), "gamma");
    std::fs::write(docs.join("blob.bin"), [0xff_u8, 0xfe, 0x00, 0x01]).expect("binary");
    write(&docs.join("no-extension"), "not matched by **/*.*");
    let config = config_for(tmp.path(), &docs, true);
    let sink = tmp.path().join("data/sink/search-docs.ndjson");

    let out = inlet(&["run", "--once", "--config", config.to_str().expect("utf8")]);
    assert!(
        out.status.success(),
        "first sync failed: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let state = replay(&sink);
    let path = |p: &str| docs.join(p).display().to_string();
    let expected: Vec<String> = ["a.txt", "blob.bin", "sub/b.md", "sub/deeper/c.txt"]
        .iter()
        .map(|p| path(p))
        .collect();
    assert_eq!(state.keys().cloned().collect::<Vec<_>>(), {
        let mut e = expected.clone();
        e.sort();
        e
    });
    let a = &state[&path("a.txt")];
    assert_eq!(a["body"], "alpha");
    assert_eq!(a["extension"], "txt");
    assert_eq!(a["size_in_bytes"], 5);
    assert_eq!(a["id"], path("a.txt").as_str());
    assert!(
        a["_timestamp"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{a}"
    );
    assert!(
        state[&path("blob.bin")].get("body").is_none(),
        "binary files get no text body"
    );
    assert_eq!(action_counts(&sink), (4, 0));

    // Modify one file, delete one, add one: the next full sync converges.
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(&docs.join("a.txt"), "alpha, edited");
    std::fs::remove_file(docs.join("sub/b.md")).expect("remove");
    write(&docs.join("new.txt"), "delta");
    let out = inlet(&["run", "--once", "--config", config.to_str().expect("utf8")]);
    assert!(out.status.success(), "second sync failed: {}", stderr(&out));
    assert!(stdout(&out).contains("1 stale deleted"), "{}", stdout(&out));
    let state = replay(&sink);
    assert_eq!(state.len(), 4);
    assert_eq!(state[&path("a.txt")]["body"], "alpha, edited");
    assert!(!state.contains_key(&path("sub/b.md")));
    assert_eq!(state[&path("new.txt")]["body"], "delta");
    assert_eq!(
        action_counts(&sink),
        (8, 1),
        "second run rewrites 4 and deletes 1"
    );

    // Incremental: only what changed since the last successful sync.
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(&docs.join("sub/deeper/c.txt"), "gamma, edited");
    let out = inlet(&[
        "sync",
        "docs",
        "--type",
        "incremental",
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "incremental failed: {}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["status"], "completed");
    assert_eq!(report["stats"]["extracted"], 1, "{report}");
    assert_eq!(report["stats"]["stale_deleted"], 0);
    assert_eq!(
        replay(&sink)[&path("sub/deeper/c.txt")]["body"],
        "gamma, edited"
    );
}

#[test]
fn a_directory_the_operator_did_not_grant_is_invisible() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let docs = tmp.path().join("docs");
    write(&docs.join("secret.txt"), "do not read");
    let config = config_for(tmp.path(), &docs, false);
    let out = inlet(&[
        "sync",
        "docs",
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    assert!(!out.status.success(), "a sync without the grant must fail");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["error_class"], "config", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("grants.files")),
        "{report}"
    );
    assert_eq!(report["stats"]["extracted"], 0);
    assert!(replay(&tmp.path().join("data/sink/search-docs.ndjson")).is_empty());
}
