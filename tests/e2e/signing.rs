//! Signed plugins end to end: keys made and components signed with the real `inlet plugins
//! keygen | sign`, then `inlet run --once` with `inlet.plugins.trusted_keys` loading the `dir`
//! plugin — or refusing it, with a message that names the signature, the key and the fix.
//! Every refusal has a control: the same component loads and syncs without trusted keys, so
//! the refusal is the signature check's, not a broken component's.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;

/// A plugin directory with `dir` (and `loadgen`, a second component to take a signature from),
/// a few files for `dir` to read, and the sink file a sync writes.
struct Setup {
    tmp: tempfile::TempDir,
    docs: PathBuf,
    component: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().expect("tempdir");
        let docs = tmp.path().join("docs");
        std::fs::create_dir_all(&docs).expect("mkdir docs");
        for (name, text) in [("a.txt", "alpha"), ("b.txt", "beta"), ("c.txt", "gamma")] {
            std::fs::write(docs.join(name), text).expect("write doc");
        }
        let plugins = plugin_dir(tmp.path(), &["dir", "loadgen"]);
        let component = plugins.join("dir/dir.wasm");
        Setup {
            tmp,
            docs,
            component,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `inlet plugins keygen` into the test's folder; returns (secret key, public key file).
    fn keygen(&self, name: &str) -> (PathBuf, PathBuf) {
        let secret = self.path(name);
        let out = inlet(&[
            "plugins",
            "keygen",
            s(&secret),
            "--comment",
            &format!("{name}@example.com"),
        ]);
        assert!(out.status.success(), "keygen: {}", stderr(&out));
        (secret, self.path(&format!("{name}.pub")))
    }

    /// `inlet plugins sign`; returns what it printed.
    fn sign(&self, secret: &Path, component: &Path) -> String {
        let out = inlet(&["plugins", "sign", "--key", s(secret), s(component)]);
        assert!(
            out.status.success(),
            "sign: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// `inlet run --once` with these trusted keys (none: signatures not required) and pin.
    fn run(&self, trusted_keys: &[String], pin: Option<&str>) -> Output {
        let trust = if trusted_keys.is_empty() {
            String::new()
        } else {
            let entries: Vec<String> = trusted_keys
                .iter()
                .map(|k| format!("      - {}\n", serde_json::Value::String(k.clone())))
                .collect();
            format!("  plugins:\n    trusted_keys:\n{}", entries.concat())
        };
        let pin = pin
            .map(|p| format!("    sha256: \"{p}\"\n"))
            .unwrap_or_default();
        let config = write_config(
            self.tmp.path(),
            &format!(
                "{trust}connectors:\n  - connector_id: docs\n    service_type: dir\n    \
                 configuration:\n      directory: {docs}\n    grants:\n      files: [{docs}]\n{pin}",
                docs = self.docs.display()
            ),
        );
        let _ = std::fs::remove_dir_all(self.path("data/sink"));
        inlet(&["run", "--once", "--config", s(&config)])
    }

    /// Documents the last run wrote to the embedded sink.
    fn synced(&self) -> usize {
        replay(&self.path("data/sink/search-docs.ndjson")).len()
    }

    fn sha256(&self, component: &Path) -> String {
        let out = inlet(&[
            "plugins",
            "inspect",
            "--json",
            "--cache-dir",
            s(&shared_cache()),
            s(component),
        ]);
        let report: serde_json::Value = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|e| panic!("inspect JSON ({e}): {}", stderr(&out)));
        report["sha256"].as_str().expect("sha256").to_owned()
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn both(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// The public key line of a `.pub` file, as an operator pastes it into config.yml.
fn key_line(public: &Path) -> String {
    std::fs::read_to_string(public)
        .expect("read .pub")
        .trim()
        .to_owned()
}

/// The key fingerprint in what `inlet plugins sign` printed (`… signed by SHA256:… (comment)`).
fn fingerprint(sign_output: &str) -> String {
    let start = sign_output.find("SHA256:").expect("fingerprint printed");
    sign_output[start..]
        .split_whitespace()
        .next()
        .expect("fingerprint")
        .to_owned()
}

/// A still-valid component that differs from the signed one: a custom section appended (the
/// component binary format allows one at the end; hosts ignore its content).
fn append_custom_section(component: &Path) {
    let mut bytes = std::fs::read(component).expect("read component");
    let name = b"tampered";
    let payload = b"not what was signed";
    let size = 1 + name.len() + payload.len();
    assert!(size < 128, "one-byte LEB128 size");
    bytes.push(0); // custom section id
    bytes.push(size as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    std::fs::write(component, bytes).expect("write component");
}

#[test]
fn a_component_signed_by_a_trusted_key_syncs_and_keeps_its_sha256() {
    let t = Setup::new();
    let (secret, public) = t.keygen("release");
    let before = t.sha256(&t.component);
    t.sign(&secret, &t.component);
    assert!(t.path("plugins/dir/dir.wasm.sig").is_file());
    // The component is not rewritten: a pin taken before signing still holds.
    assert_eq!(t.sha256(&t.component), before);

    // Trusted as a key line and as a file of keys (relative to config.yml).
    for entry in [key_line(&public), "release.pub".to_string()] {
        let out = t.run(&[entry], Some(&before));
        assert!(out.status.success(), "{}", both(&out));
        assert_eq!(t.synced(), 3, "{}", both(&out));
    }

    let out = inlet(&[
        "plugins",
        "list",
        "--plugins",
        s(&t.path("plugins")),
        "--cache-dir",
        s(&shared_cache()),
        "--trusted-key",
        s(&public),
    ]);
    let listing = stdout(&out);
    // `dir` is signed and trusted; `loadgen` is not signed, so it is refused like `run` would.
    assert!(!out.status.success(), "{listing}");
    let dir_line = listing
        .lines()
        .find(|l| l.starts_with("dir "))
        .unwrap_or_else(|| panic!("no dir line: {listing}"));
    assert!(
        dir_line.ends_with("(release@example.com), trusted"),
        "{dir_line}"
    );
    let loadgen_line = listing
        .lines()
        .find(|l| l.starts_with("loadgen "))
        .unwrap_or_else(|| panic!("no loadgen line: {listing}"));
    assert!(
        loadgen_line.contains("BROKEN") && loadgen_line.contains("unsigned"),
        "{loadgen_line}"
    );
}

#[test]
fn an_unsigned_component_is_refused_naming_the_missing_signature_and_the_key() {
    let t = Setup::new();
    let (_secret, public) = t.keygen("release");

    let out = t.run(&[key_line(&public)], None);
    let text = both(&out);
    assert!(!out.status.success(), "{text}");
    assert_eq!(t.synced(), 0, "{text}");
    assert!(text.contains("unsigned"), "{text}");
    assert!(text.contains("dir.wasm.sig"), "{text}");
    assert!(text.contains("inlet.plugins.trusted_keys"), "{text}");
    assert!(text.contains("release@example.com"), "{text}");
    assert!(text.contains("inlet plugins sign --key"), "{text}");

    // Control: without trusted keys the same component syncs.
    let out = t.run(&[], None);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(t.synced(), 3);
}

#[test]
fn a_component_changed_after_signing_is_refused() {
    let t = Setup::new();
    let (secret, public) = t.keygen("release");
    t.sign(&secret, &t.component);
    append_custom_section(&t.component);

    let out = t.run(&[key_line(&public)], None);
    let text = both(&out);
    assert!(!out.status.success(), "{text}");
    assert_eq!(t.synced(), 0, "{text}");
    assert!(text.contains("does not match"), "{text}");
    assert!(text.contains("changed after it was signed"), "{text}");

    // Control: the changed component is a valid plugin; only its signature is wrong.
    let out = t.run(&[], None);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(t.synced(), 3);
}

#[test]
fn a_signature_by_a_key_the_operator_does_not_trust_is_refused_naming_the_signer() {
    let t = Setup::new();
    let (stranger, _) = t.keygen("stranger");
    let (_release, release_public) = t.keygen("release");
    let signed = t.sign(&stranger, &t.component);

    let out = t.run(&[key_line(&release_public)], None);
    let text = both(&out);
    assert!(!out.status.success(), "{text}");
    assert_eq!(t.synced(), 0, "{text}");
    assert!(text.contains(&fingerprint(&signed)), "{text}");
    assert!(
        text.contains("which is not among inlet.plugins.trusted_keys"),
        "{text}"
    );
    assert!(text.contains("release@example.com"), "{text}");
}

#[test]
fn a_signature_over_another_component_is_refused() {
    let t = Setup::new();
    let (secret, public) = t.keygen("release");
    let loadgen = t.path("plugins/loadgen/loadgen.wasm");
    t.sign(&secret, &loadgen);
    // A valid signature by the trusted key, but of loadgen.wasm, put beside dir.wasm.
    std::fs::copy(
        t.path("plugins/loadgen/loadgen.wasm.sig"),
        t.path("plugins/dir/dir.wasm.sig"),
    )
    .expect("copy signature");

    let out = t.run(&[key_line(&public)], None);
    let text = both(&out);
    assert!(!out.status.success(), "{text}");
    assert_eq!(t.synced(), 0, "{text}");
    assert!(text.contains("does not match"), "{text}");
    assert!(text.contains("another component's"), "{text}");

    // `inlet plugins verify` says the same, and accepts the right pair.
    let out = inlet(&["plugins", "verify", "--key", s(&public), s(&t.component)]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("REFUSED"), "{}", stdout(&out));
    let out = inlet(&["plugins", "verify", "--key", s(&public), s(&loadgen)]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(stdout(&out).ends_with("trusted\n"), "{}", stdout(&out));
}

#[test]
fn the_sha256_pin_still_applies_to_a_signed_component() {
    let t = Setup::new();
    let (secret, public) = t.keygen("release");
    t.sign(&secret, &t.component);
    let wrong = "ab".repeat(32);

    let out = t.run(&[key_line(&public)], Some(&wrong));
    let text = both(&out);
    assert!(!out.status.success(), "{text}");
    assert_eq!(t.synced(), 0, "{text}");
    assert!(text.contains("config.yml pins"), "{text}");
}

#[test]
fn a_trusted_key_that_cannot_be_used_stops_the_start() {
    let t = Setup::new();
    let (secret, _public) = t.keygen("release");
    t.sign(&secret, &t.component);

    // The secret key listed by mistake, and a key file that is not there.
    for (entry, expected) in [
        (s(&secret).to_owned(), "is a secret key"),
        ("missing.pub".to_owned(), "missing.pub"),
    ] {
        let out = t.run(&[entry], None);
        let text = both(&out);
        assert!(!out.status.success(), "{text}");
        assert!(text.contains("inlet.plugins.trusted_keys[0]"), "{text}");
        assert!(text.contains(expected), "{text}");
        assert!(
            !t.path("data/sink/search-docs.ndjson").exists(),
            "nothing ran: {text}"
        );
    }
}
