//! `aws_sigv4` credentials end to end: the adversarial `test-http-probe` plugin talks to S3 as
//! moto's server plays it, with moto checking every signature against an IAM user's key (its
//! `INITIAL_NO_AUTH_ACTION_COUNT`: the first three requests set the user up, every later one
//! must be signed by that user). The plugin never holds the secret; the host signs.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::*;
use serde_json::{Value, json};

/// Creates an IAM user with a key and an S3 policy (the three unauthenticated requests), then,
/// as that user, a bucket `docs` with two objects; prints the key as JSON.
const SETUP: &str = r#"
import boto3, json, sys
url = sys.argv[1]
root = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **root)
iam.create_user(UserName="inlet")
key = iam.create_access_key(UserName="inlet")["AccessKey"]
iam.put_user_policy(UserName="inlet", PolicyName="s3", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
s3.create_bucket(Bucket="docs")
s3.put_object(Bucket="docs", Key="a b/one.txt", Body=b"first document")
s3.put_object(Bucket="docs", Key="two.txt", Body=b"second document")
print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"#;

struct Moto {
    _server: KillOnDrop,
    port: u16,
    key_id: String,
    secret: String,
}

fn moto() -> Moto {
    let port = free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 (with moto's server: scripts/setup installs it)");
    wait_listening(port, "moto's server");
    let mut moto = Moto {
        _server: KillOnDrop(child),
        port,
        key_id: String::new(),
        secret: String::new(),
    };
    let out = Command::new("python3")
        .args(["-c", SETUP, &format!("http://127.0.0.1:{port}")])
        .output()
        .expect("python3");
    assert!(out.status.success(), "moto setup: {}", stderr(&out));
    let key: Value = serde_json::from_slice(&out.stdout).expect("key JSON");
    moto.key_id = key["id"].as_str().expect("id").to_owned();
    moto.secret = key["secret"].as_str().expect("secret").to_owned();
    moto
}

/// One sync of the probe with `script`, the credential signing with `secret`; checks that the
/// secret reached neither inlet's output nor its data directory.
fn probe(
    tmp: &Path,
    moto: &Moto,
    secret: &str,
    script: &Value,
) -> std::collections::BTreeMap<String, Value> {
    http_probe_dir(tmp, r#"["http://*:*"]"#);
    std::fs::write(tmp.join("aws-secret"), format!("{secret}\n")).expect("write");
    let origin = format!("http://127.0.0.1:{}", moto.port);
    sync_probe_keeping_secret(
        tmp,
        &format!(
            "credentials:\n  s3:\n    type: aws_sigv4\n    access_key_id: {id}\n    secret_access_key: {{file: aws-secret}}\n    region: us-east-1\n    service: s3\n    hosts: [\"{origin}\"]\nconnectors:\n  - connector_id: probe\n    service_type: http-probe\n    configuration:\n      script: '{script}'\n    grants:\n      http: [\"{origin}\"]\n      credentials: [s3]\n",
            id = moto.key_id
        ),
        secret,
    )
}

#[test]
fn the_host_signs_s3_requests_that_moto_verifies() {
    let moto = moto();
    let tmp = tempfile::tempdir().expect("tempdir");
    let base = format!("http://127.0.0.1:{}/docs", moto.port);
    let script = json!([
        probe_request(
            "list",
            "GET",
            // Not `a%20b%2F`: moto's verifier reads a `/` in a query value decoded and refuses
            // boto3's own signature for it as well (moto 5.2.1); AWS signs it encoded.
            format!("{base}?list-type=2&prefix=a%20b"),
            &[],
            None
        ),
        // A key with a space: S3 signs the path encoded once.
        probe_request("get", "GET", format!("{base}/a%20b/one.txt"), &[], None),
        // A body: its SHA-256 is signed.
        probe_request(
            "put",
            "PUT",
            format!("{base}/new.txt"),
            &[],
            Some("written by the plugin")
        ),
        probe_request("read-back", "GET", format!("{base}/new.txt"), &[], None),
    ]);
    let docs = probe(tmp.path(), &moto, &moto.secret, &script);
    let doc = |id: &str| docs.get(id).unwrap_or_else(|| panic!("no {id}: {docs:?}"));
    assert_eq!(doc("list")["status"], 200, "{}", doc("list"));
    let listing = doc("list")["body"].as_str().unwrap_or_default();
    assert!(
        listing.contains("<Key>a b/one.txt</Key>") && !listing.contains("two.txt"),
        "{listing}"
    );
    assert_eq!(doc("get")["status"], 200, "{}", doc("get"));
    assert_eq!(doc("get")["body"], "first document");
    assert_eq!(doc("put")["status"], 200, "{}", doc("put"));
    assert_eq!(doc("read-back")["body"], "written by the plugin");

    // The same requests signed with a wrong secret: moto recomputes and refuses each one.
    let tmp = tempfile::tempdir().expect("tempdir");
    let docs = probe(tmp.path(), &moto, "not-the-TOPSECRET-key", &script);
    for id in ["list", "get", "put"] {
        let d = &docs[id];
        assert_eq!(d["status"], 403, "{id}: {d}");
        assert!(
            d["body"]
                .as_str()
                .is_some_and(|b| b.contains("SignatureDoesNotMatch")),
            "{id}: {d}"
        );
    }
}
