//! Shared by the end-to-end tests: builds the plugins from source once per test run, lays out
//! plugin directories, writes configs, and runs the real `inlet` binary.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Every guest crate the tests use, by package name → component file stem and source folder.
const GUESTS: &[(&str, &str, &str)] = &[
    ("plugin-dir", "dir", "plugins/dir"),
    ("plugin-loadgen", "loadgen", "plugins/loadgen"),
    ("test-spin", "spin", "tests/plugins/test-spin"),
    ("test-membomb", "membomb", "tests/plugins/test-membomb"),
    ("test-panic", "panic", "tests/plugins/test-panic"),
    ("test-badjson", "badjson", "tests/plugins/test-badjson"),
    (
        "test-recursion",
        "recursion",
        "tests/plugins/test-recursion",
    ),
    (
        "test-unknown-import",
        "unknown_import",
        "tests/plugins/test-unknown-import",
    ),
];

/// Builds all guest crates for wasm32-wasip2 once per test process (cargo makes the second
/// test binary's build a no-op). A separate target directory avoids waiting on the lock of the
/// `cargo test` that runs us.
pub fn built_components() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let target = root().join("target").join("guests");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(root())
            .args(["build", "--profile", "plugin", "--target", "wasm32-wasip2"])
            .env("CARGO_TARGET_DIR", &target);
        for (package, _, _) in GUESTS {
            cmd.args(["-p", package]);
        }
        let out = cmd.output().expect("run cargo to build the test plugins");
        assert!(
            out.status.success(),
            "building the plugins failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("wasm32-wasip2").join("plugin")
    })
}

/// A plugin directory holding the named plugins (by component stem), each in its own folder
/// with its `plugin.toml`, as an operator would lay it out.
pub fn plugin_dir(into: &Path, stems: &[&str]) -> PathBuf {
    let built = built_components();
    let dir = into.join("plugins");
    for stem in stems {
        let (_, _, src) = GUESTS
            .iter()
            .find(|(_, s, _)| s == stem)
            .unwrap_or_else(|| panic!("unknown test plugin {stem}"));
        let folder = dir.join(stem);
        std::fs::create_dir_all(&folder).expect("create plugin folder");
        std::fs::copy(
            root().join(src).join("plugin.toml"),
            folder.join("plugin.toml"),
        )
        .expect("copy plugin.toml");
        std::fs::copy(
            built.join(format!("{stem}.wasm")),
            folder.join(format!("{stem}.wasm")),
        )
        .expect("copy component");
    }
    dir
}

/// The compiled-plugin cache shared by every test in the run, so each component is compiled
/// once.
pub fn shared_cache() -> PathBuf {
    root().join("target").join("inlet-test-cache")
}

/// Writes `config.yml` into `dir` with the given connectors section, the shared cache and a
/// data dir under `dir`.
pub fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("config.yml");
    let text = format!(
        "inlet:\n  data_dir: {data}\n  cache_dir: {cache}\n{body}",
        data = dir.join("data").display(),
        cache = shared_cache().display(),
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// Runs `inlet` with these arguments.
pub fn inlet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(args)
        .env("RUST_LOG", "info,wasmtime=warn,cranelift=warn")
        .output()
        .expect("run inlet")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Replays an embedded-sink NDJSON file (as a cluster would replay `_bulk`) and returns the
/// documents it ends with, by id.
pub fn replay(path: &Path) -> std::collections::BTreeMap<String, serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut docs = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(action) = lines.next() {
        let action: serde_json::Value = serde_json::from_str(action).expect("action line is JSON");
        if let Some(meta) = action.get("index") {
            let id = meta["_id"].as_str().expect("_id").to_owned();
            let source: serde_json::Value =
                serde_json::from_str(lines.next().expect("source line follows"))
                    .expect("source is JSON");
            docs.insert(id, source);
        } else if let Some(meta) = action.get("delete") {
            docs.remove(meta["_id"].as_str().expect("_id"));
        } else {
            panic!("unexpected action {action}");
        }
    }
    docs
}

/// Counts the `index` and `delete` actions in an NDJSON sink file.
pub fn action_counts(path: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut index = 0;
    let mut delete = 0;
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l.starts_with("{\"index\"") {
            index += 1;
            lines.next();
        } else if l.starts_with("{\"delete\"") {
            delete += 1;
        }
    }
    (index, delete)
}
