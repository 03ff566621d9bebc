//! Hot reload of the plugin directory: a plugin replaced, broken, removed and added back while
//! `inlet run` serves, with a sync in flight during the replacement.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::Digest as _;

use crate::support::*;

/// Documents of the first sync: enough that it is still running when the new version has been
/// loaded (about 0.5 s of quiet, a load from the warm cache), few enough to take seconds.
const COUNT: u64 = 60_000;

#[test]
fn a_plugin_is_replaced_refused_removed_and_added_while_inlet_serves() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir(tmp.path(), &["loadgen"]);
    let folder = plugins.join("loadgen");
    let component = folder.join("loadgen.wasm");
    let v1 = std::fs::read(&component).expect("read loadgen.wasm");
    // "A different valid build": the same code with different bytes (a custom section).
    let v2 = with_custom_section(&v1, "inlet-test-build", b"2");
    let (sha1, sha2) = (sha256(&v1), sha256(&v2));
    warm_cache(tmp.path(), &v2);

    let port = free_port();
    // Incremental every second: the first sync (no cursor yet) emits every document and is
    // slow; the later ones start at the cursor, emit nothing, and are quick.
    let config = write_config(
        tmp.path(),
        &format!(
            "service:\n  metrics:\n    listen: 127.0.0.1:{port}\nconnectors:\n  - connector_id: c\n    service_type: loadgen\n    configuration:\n      count: {COUNT}\n      doc_bytes: 256\n      batch_size: 100\n    schedule:\n      incremental: \"* * * * * ?\"\n"
        ),
    );
    let log_path = tmp.path().join("inlet.log");
    let child = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["run", "--log-format", "json", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info,wasmtime=warn,cranelift=warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("create the log"))
        .spawn()
        .expect("start inlet run");
    let _stop = KillOnDrop(child);
    let log = Log(log_path);

    // 1. A new version while the first sync runs on the old one.
    let (at, first) = log.wait("the first sync", |l| l["message"] == "sync uses plugin");
    assert_eq!(first["plugin_sha256"], sha1.as_str(), "{first}");
    assert_eq!(first["plugin_version"], "0.1.0", "{first}");
    let first_job = first["sync_job_id"].as_str().expect("job id").to_owned();
    // Written as `cp` does, in pieces: the half-written component must not be loaded.
    std::fs::write(&component, &v2[..v2.len() / 2]).expect("write half");
    std::thread::sleep(Duration::from_millis(100));
    std::fs::write(&component, &v2).expect("write all");
    let manifest = folder.join("plugin.toml");
    let text = std::fs::read_to_string(&manifest).expect("read plugin.toml");
    std::fs::write(
        &manifest,
        text.replace("version = \"0.1.0\"", "version = \"0.2.0\""),
    )
    .expect("write plugin.toml");
    let (reloaded_at, reloaded) = log.wait("the reload", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("plugin reloaded"))
    });
    assert_eq!(reloaded["sha256"], sha2.as_str(), "{reloaded}");
    assert_eq!(reloaded["version"], "0.2.0", "{reloaded}");
    let lines = log.lines();
    assert!(
        !lines[at..reloaded_at]
            .iter()
            .any(|l| l["message"] == "sync completed" && l["sync_job_id"] == first_job.as_str()),
        "the first sync ended before the new version was loaded: make COUNT larger"
    );
    assert!(
        !lines.iter().any(|l| l["level"] == "WARN"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("not loaded"))),
        "the half-written component was loaded: {lines:#?}"
    );
    let (_, done) = log.wait("the first sync's end", |l| {
        l["message"] == "sync completed" && l["sync_job_id"] == first_job.as_str()
    });
    assert_eq!(done["extracted"], COUNT, "{done}");
    let (_, second) = log.wait("a sync on the new version", |l| {
        l["message"] == "sync uses plugin" && l["sync_job_id"] != first_job.as_str()
    });
    assert_eq!(second["plugin_sha256"], sha2.as_str(), "{second}");
    assert_eq!(second["plugin_version"], "0.2.0", "{second}");
    let second_job = second["sync_job_id"].as_str().expect("job id").to_owned();
    log.wait("the second sync's end", |l| {
        l["message"] == "sync completed" && l["sync_job_id"] == second_job.as_str()
    });

    // 2. A broken version: the previous one keeps serving, and the log, /metrics and
    // `inlet plugins list` say why.
    std::fs::write(&component, b"\0asm\x0d\0\x01\0 not a component").expect("write corrupt");
    let (warned_at, warned) = log.wait("the refusal", |l| {
        l["level"] == "WARN"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.contains("previous version keeps serving"))
    });
    let message = warned["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&component.display().to_string()),
        "names the file: {warned}"
    );
    assert_eq!(warned["serving_sha256"], sha2.as_str(), "{warned}");
    let metrics = wait_for_metric(
        port,
        "inlet_plugin_reloads_total{service_type=\"loadgen\",outcome=\"failed\"} 1",
    );
    assert!(
        metrics
            .contains("inlet_plugin_reloads_total{service_type=\"loadgen\",outcome=\"loaded\"} 1"),
        "{metrics}"
    );
    let (_, after) = log.wait_after(warned_at, "a sync after the refusal", |l| {
        l["message"] == "sync uses plugin"
    });
    assert_eq!(after["plugin_sha256"], sha2.as_str(), "{after}");
    let listed = inlet(&[
        "plugins",
        "list",
        "--plugins",
        plugins.to_str().expect("utf8"),
        "--cache-dir",
        shared_cache().to_str().expect("utf8"),
    ]);
    let out = stdout(&listed);
    assert!(!listed.status.success(), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("loadgen") && l.contains("BROKEN")),
        "{out}"
    );

    // 3. The folder removed: the next syncs fail with the clear error, the process serves on.
    std::fs::remove_dir_all(&folder).expect("remove the plugin folder");
    let (removed_at, _) = log.wait("the removal", |l| {
        l["level"] == "WARN"
            && l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("plugin removed"))
    });
    wait_for_metric(
        port,
        "inlet_plugin_reloads_total{service_type=\"loadgen\",outcome=\"removed\"} 1",
    );
    let (_, refused) = log.wait_after(removed_at, "a sync without a plugin", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("sync not started"))
    });
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("no plugin provides service type `loadgen`")),
        "{refused}"
    );

    // 4. The folder back (the first version): added again, and syncs run on it.
    let back = plugin_dir(tmp.path(), &["loadgen"]);
    assert_eq!(back, plugins);
    let (added_at, _) = log.wait_after(removed_at, "the plugin added back", |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("plugin added"))
    });
    let (_, again) = log.wait_after(added_at, "a sync after the plugin is back", |l| {
        l["message"] == "sync uses plugin"
    });
    assert_eq!(again["plugin_sha256"], sha1.as_str(), "{again}");
    wait_for_metric(
        port,
        "inlet_plugin_reloads_total{service_type=\"loadgen\",outcome=\"loaded\"} 2",
    );
}

/// The component with a custom section appended: the same behaviour, different bytes.
fn with_custom_section(component: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut content = leb128(name.len());
    content.extend_from_slice(name.as_bytes());
    content.extend_from_slice(payload);
    let mut out = component.to_vec();
    out.push(0); // custom section id
    out.extend(leb128(content.len()));
    out.extend(content);
    out
}

fn leb128(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Compiles `component` into the shared cache, so the reload under test loads it from there
/// (as a second start would) instead of waiting on the compiler.
fn warm_cache(tmp: &Path, component: &[u8]) {
    let staging = tmp.join("staging");
    let folder = staging.join("loadgen");
    std::fs::create_dir_all(&folder).expect("mkdir");
    std::fs::copy(
        root().join("plugins/loadgen/plugin.toml"),
        folder.join("plugin.toml"),
    )
    .expect("copy plugin.toml");
    std::fs::write(folder.join("loadgen.wasm"), component).expect("write");
    let out = inlet(&[
        "plugins",
        "list",
        "--plugins",
        staging.to_str().expect("utf8"),
        "--cache-dir",
        shared_cache().to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", stdout(&out));
}

fn wait_for_metric(port: u16, line: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = metrics_text(port).unwrap_or_default();
        if body.lines().any(|l| l == line) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "no `{line}` in /metrics:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
