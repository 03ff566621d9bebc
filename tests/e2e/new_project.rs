//! `inlet new` gives a project that builds and syncs, in every SDK language — the authoring
//! tutorial's promise, checked.

use std::path::Path;
use std::process::Command;

use crate::support::*;

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn scaffold_build_sync(lang: &str, build: impl FnOnce(&Path)) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let name = format!("hello-{lang}");
    let service_type = format!("hello_{lang}");
    let project = tmp.path().join("plugins").join(&name);
    let out = inlet(&[
        "new",
        &name,
        "--lang",
        lang,
        "--dir",
        project.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "inlet new: {}", stderr(&out));
    assert!(stdout(&out).contains("build it:"), "{}", stdout(&out));
    build(&project);
    let config = write_config(
        tmp.path(),
        &format!("connectors:\n  - connector_id: hello\n    service_type: {service_type}\n"),
    );
    let out = inlet(&[
        "sync",
        "hello",
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{lang} sync: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let docs = replay(&tmp.path().join("data/sink/search-hello.ndjson"));
    assert_eq!(docs.len(), 3, "{docs:?}");
    assert_eq!(docs["doc-2"]["title"], "Hello 2");
}

#[test]
fn rust_template() {
    scaffold_build_sync("rust", |p| {
        run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
                .current_dir(p)
                .env_remove("CARGO_TARGET_DIR"),
            "cargo build of the Rust template",
        );
        std::fs::copy(
            p.join("target/wasm32-wasip2/release/hello_rust.wasm"),
            p.join("hello_rust.wasm"),
        )
        .expect("copy component");
    });
}

#[test]
fn python_template() {
    scaffold_build_sync("python", |p| {
        run(
            Command::new("python3")
                .args(["-m", "inlet_sdk.build"])
                .arg(p),
            "Python build",
        );
    });
}

#[test]
fn js_template() {
    scaffold_build_sync("js", |p| {
        run(
            Command::new("node")
                .arg(root().join("sdk/js/build.mjs"))
                .arg(p),
            "JS build",
        );
    });
}

#[test]
fn go_template() {
    scaffold_build_sync("go", |p| {
        run(
            Command::new(root().join("sdk/go/build.sh")).arg(p),
            "Go build",
        );
    });
}
