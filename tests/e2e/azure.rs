//! `azure_shared_key` credentials end to end: the adversarial `test-http-probe` plugin talks to
//! Blob Storage as Azurite (Microsoft's emulator, `tests/azurite`, installed by scripts/setup)
//! plays it. Azurite recomputes every Shared Key signature with the account's key, here a
//! random one given through `AZURITE_ACCOUNTS` (not the emulator's published key). The plugin
//! never holds the key; the host signs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::*;

const ACCOUNT: &str = "inletprobe";

struct Azurite {
    _server: KillOnDrop,
    origin: String,
    key: String,
}

/// Azurite's blob service as scripts/setup installs it.
fn azurite_blob() -> PathBuf {
    let bin = root().join("tests/azurite/node_modules/.bin/azurite-blob");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/setup (it installs Azurite with npm ci in tests/azurite)",
        bin.display()
    );
    bin
}

/// A random account key (64 bytes, as Azure's), base64 as Azure gives keys out.
fn random_key() -> String {
    use std::io::Read as _;
    let mut bytes = [0u8; 64];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .expect("read /dev/urandom");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn azurite() -> Azurite {
    let port = free_port();
    let key = random_key();
    let child = Command::new(azurite_blob())
        .args([
            "--inMemoryPersistence",
            "--extentMemoryLimit",
            "64",
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            &port.to_string(),
            // Azurite phones home by default; nothing leaves this machine.
            "--disableTelemetry",
            "--silent",
        ])
        .env("AZURITE_ACCOUNTS", format!("{ACCOUNT}:{key}"))
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("azurite-blob (node)");
    wait_listening(port, "Azurite");
    Azurite {
        _server: KillOnDrop(child),
        origin: format!("http://127.0.0.1:{port}"),
        key,
    }
}

/// One sync of the probe with `script`, the credential signing with `key`; checks that the key
/// reached neither inlet's output nor its data directory.
fn probe(
    tmp: &Path,
    azurite: &Azurite,
    key: &str,
    script: &Value,
) -> std::collections::BTreeMap<String, Value> {
    http_probe_dir(tmp, r#"["http://*:*"]"#);
    std::fs::write(tmp.join("azure-key"), format!("{key}\n")).expect("write");
    let origin = &azurite.origin;
    sync_probe_keeping_secret(
        tmp,
        &format!(
            "credentials:\n  blobs:\n    type: azure_shared_key\n    account_name: {ACCOUNT}\n    account_key: {{file: azure-key}}\n    hosts: [\"{origin}\"]\nconnectors:\n  - connector_id: probe\n    service_type: http-probe\n    configuration:\n      script: '{script}'\n    grants:\n      http: [\"{origin}\"]\n      credentials: [blobs]\n"
        ),
        key,
    )
}

#[test]
fn the_host_signs_blob_requests_that_azurite_verifies() {
    let azurite = azurite();
    let tmp = tempfile::tempdir().expect("tempdir");
    // Path-style, as the emulator serves accounts: the account is the first path segment and
    // is signed twice (`/inletprobe/inletprobe/docs`), as Microsoft's SDKs do.
    let base = format!("{}/{ACCOUNT}", azurite.origin);
    let blob = &[("x-ms-blob-type", "BlockBlob")];
    let script = json!([
        // No x-ms-version from the plugin: the host adds its default.
        probe_request(
            "container",
            "PUT",
            format!("{base}/docs?restype=container"),
            &[],
            None
        ),
        // A body (its length is signed), a content type and metadata (x-ms-* headers signed),
        // a name with a space (the path signed as sent, encoded).
        probe_request(
            "put",
            "PUT",
            format!("{base}/docs/a%20b/one.txt"),
            &[
                ("x-ms-blob-type", "BlockBlob"),
                ("content-type", "text/plain"),
                ("x-ms-meta-owner", "inlet"),
                ("x-ms-version", "2021-08-06"),
            ],
            Some("first document")
        ),
        probe_request(
            "put-2",
            "PUT",
            format!("{base}/docs/two.txt"),
            blob,
            Some("second document")
        ),
        // Query values decoded before signing: the prefix `a b/` goes encoded.
        probe_request(
            "list",
            "GET",
            format!("{base}/docs?restype=container&comp=list&include=metadata&prefix=a%20b%2F"),
            &[],
            None
        ),
        probe_request(
            "get",
            "GET",
            format!("{base}/docs/a%20b/one.txt"),
            &[],
            None
        ),
        probe_request("containers", "GET", format!("{base}?comp=list"), &[], None),
        // The headers the host writes are the host's alone.
        probe_request(
            "authz",
            "GET",
            format!("{base}?comp=list"),
            &[("authorization", "SharedKey inletprobe:forged")],
            None
        ),
        probe_request(
            "date",
            "GET",
            format!("{base}?comp=list"),
            &[("x-ms-date", "Fri, 26 Jun 2015 23:39:12 GMT")],
            None
        ),
    ]);
    let docs = probe(tmp.path(), &azurite, &azurite.key, &script);
    let doc = |id: &str| docs.get(id).unwrap_or_else(|| panic!("no {id}: {docs:?}"));
    for id in ["container", "put", "put-2"] {
        assert_eq!(doc(id)["status"], 201, "{id}: {}", doc(id));
    }
    assert_eq!(doc("list")["status"], 200, "{}", doc("list"));
    let listing = doc("list")["body"].as_str().unwrap_or_default();
    assert!(
        listing.contains("<Name>a b/one.txt</Name>") && !listing.contains("two.txt"),
        "{listing}"
    );
    assert!(listing.contains(">inlet</"), "metadata: {listing}");
    assert!(
        listing.contains("<Content-Type>text/plain</Content-Type>"),
        "{listing}"
    );
    assert_eq!(doc("get")["status"], 200, "{}", doc("get"));
    assert_eq!(doc("get")["body"], "first document");
    assert_eq!(doc("containers")["status"], 200, "{}", doc("containers"));
    assert!(
        doc("containers")["body"]
            .as_str()
            .is_some_and(|b| b.contains("<Name>docs</Name>")),
        "{}",
        doc("containers")
    );
    for id in ["authz", "date"] {
        let e = doc(id)["error"].as_str().unwrap_or_default();
        assert!(
            e.contains("setting header") && e.contains("Forbidden"),
            "{id}: {}",
            doc(id)
        );
    }

    // The same requests signed with another key of the right shape: Azurite recomputes the
    // signature with the account's key and refuses each one (Azurite's code for a signature
    // that does not match is `AuthorizationFailure`; Azure's is `AuthenticationFailed`).
    let tmp = tempfile::tempdir().expect("tempdir");
    let wrong = base64::engine::general_purpose::STANDARD.encode("not the account's key at all");
    let docs = probe(tmp.path(), &azurite, &wrong, &script);
    for id in ["container", "put", "list", "get", "containers"] {
        let d = &docs[id];
        assert_eq!(d["status"], 403, "{id}: {d}");
        assert!(
            d["body"]
                .as_str()
                .is_some_and(|b| b.contains("AuthorizationFailure")),
            "{id}: {d}"
        );
    }
}
