//! The compiled-plugin cache holds native code the host runs as it is, so it is trusted only
//! when it is this user's alone. These tests drive the real `inlet plugins inspect` without a
//! home directory (the case that used to fall back to a shared `/tmp/inlet`) and with planted
//! artifacts: a valid compiled component of another plugin, put where the one being inspected
//! would be looked up.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::*;
use serde_json::Value;

/// `inlet plugins inspect <component> --json` with no HOME or XDG_CACHE_HOME, and the
/// temporary directory at `tmp`; with `--cache-dir` when given.
fn inspect(component: &Path, tmp: &Path, cache_dir: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_inlet"));
    cmd.args(["plugins", "inspect", "--json"])
        .arg(component)
        .env_remove("HOME")
        .env_remove("XDG_CACHE_HOME")
        .env("TMPDIR", tmp)
        .env("RUST_LOG", "warn,wasmtime=warn,cranelift=warn");
    if let Some(dir) = cache_dir {
        cmd.arg("--cache-dir").arg(dir);
    }
    cmd.output().expect("run inlet")
}

fn report(out: &Output) -> Value {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}\n{}", stdout(out), stderr(out)))
}

fn uid() -> u32 {
    std::fs::metadata("/proc/self").expect("/proc/self").uid()
}

fn cwasm_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("cache dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    files.sort();
    files
}

#[test]
fn without_a_home_the_cache_is_a_fresh_per_user_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir(tmp.path(), &["dir"]);
    let component = plugins.join("dir/dir.wasm");
    // What the old fallback used: a shared directory anyone could have made first.
    let shared = tmp.path().join("inlet");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");

    let out = inspect(&component, tmp.path(), None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report(&out)["cache"], "Compiled");
    let mine = tmp.path().join(format!("inlet-{}", uid()));
    let meta = std::fs::metadata(&mine).expect("the per-user cache exists");
    assert_eq!(meta.mode() & 0o7777, 0o700);
    assert_eq!(meta.uid(), uid());
    assert_eq!(cwasm_files(&mine).len(), 1);
    assert!(
        cwasm_files(&shared).is_empty(),
        "the shared directory is not used"
    );
    let again = inspect(&component, tmp.path(), None);
    assert_eq!(report(&again)["cache"], "Hit");
}

#[test]
fn a_cache_directory_others_can_write_is_refused_with_the_fix() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir(tmp.path(), &["dir"]);
    let component = plugins.join("dir/dir.wasm");
    // Someone prepared the per-user fallback, world-writable.
    let mine = tmp.path().join(format!("inlet-{}", uid()));
    std::fs::create_dir(&mine).expect("mkdir");
    std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = inspect(&component, tmp.path(), None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&mine.display().to_string())
            && err.contains("writable by group or others")
            && err.contains(&format!("chmod 700 {}", mine.display()))
            && err.contains("--cache-dir"),
        "{err}"
    );
    assert!(cwasm_files(&mine).is_empty());

    // The same for a directory given with --cache-dir, and one owned by another user.
    let out = inspect(&component, tmp.path(), Some(&mine));
    assert!(!out.status.success(), "{}", stdout(&out));
    if uid() == 0 {
        let theirs = tmp.path().join("theirs");
        std::fs::create_dir(&theirs).expect("mkdir");
        std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).expect("chown");
        let out = inspect(&component, tmp.path(), Some(&theirs));
        assert!(!out.status.success(), "{}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.contains(&theirs.display().to_string()) && err.contains("belongs to uid 65534"),
            "{err}"
        );
    }
}

#[test]
fn a_planted_artifact_is_compiled_over_not_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugins = plugin_dir(tmp.path(), &["dir", "spin"]);
    let cache = tmp.path().join("cache");
    let dir = plugins.join("dir/dir.wasm");
    let spin = plugins.join("spin/spin.wasm");

    let first = inspect(&spin, tmp.path(), Some(&cache));
    assert_eq!(report(&first)["service_type"], "spin");
    let spin_artifact = cwasm_files(&cache).pop().expect("spin's artifact");
    let first = inspect(&dir, tmp.path(), Some(&cache));
    assert_eq!(report(&first)["service_type"], "dir");
    let dir_artifact = cwasm_files(&cache)
        .into_iter()
        .find(|p| *p != spin_artifact)
        .expect("dir's artifact");

    // Another plugin's native code where dir's is looked up, left writable by others (as if
    // someone else wrote it), then owned by another user. Before, inspect ran it: the
    // component reported `spin` from a cache hit.
    let plant = |owner: Option<u32>| {
        std::fs::copy(&spin_artifact, &dir_artifact).expect("plant");
        let mode = if owner.is_some() { 0o644 } else { 0o666 };
        std::fs::set_permissions(&dir_artifact, std::fs::Permissions::from_mode(mode))
            .expect("chmod");
        if let Some(owner) = owner {
            std::os::unix::fs::chown(&dir_artifact, Some(owner), Some(owner)).expect("chown");
        }
    };
    let mut owners = vec![None];
    if uid() == 0 {
        owners.push(Some(65534));
    }
    for owner in owners {
        plant(owner);
        let out = inspect(&dir, tmp.path(), Some(&cache));
        let r = report(&out);
        assert_eq!(r["service_type"], "dir", "{r}");
        assert_eq!(r["cache"], "Compiled", "{r}");
        assert!(
            stderr(&out).contains("not loading cache entry"),
            "{}",
            stderr(&out)
        );
        // Replaced by this user's own artifact, which loads next time.
        let meta = std::fs::metadata(&dir_artifact).expect("artifact");
        assert_eq!((meta.uid(), meta.mode() & 0o777), (uid(), 0o600));
        assert_eq!(
            report(&inspect(&dir, tmp.path(), Some(&cache)))["cache"],
            "Hit"
        );
    }
}
