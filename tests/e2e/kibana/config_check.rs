//! `inlet config check` in Kibana mode, on the connector-clients guide's own `config.yml`:
//! every key of Elastic's `config.yml.example` (connectors service 8.15) plus the guide's
//! `connectors: [{connector_id, service_type: sharepoint_online, api_key}]`. The form is filled
//! in Kibana, not in config.yml: the check names what Kibana still needs instead of failing.

use std::path::Path;
use std::process::Command;

use reqwest::Method;
use serde_json::json;

use crate::fake_es::FakeEs;
use crate::kibana::{create_connector, kibana};
use crate::support::*;

/// Elastic's `config.yml.example` keys with their example values (the file has them commented
/// out); `elasticsearch.host` is the cluster under test.
fn elastic_example_keys(host: &str) -> String {
    format!(
        "elasticsearch.host: {host}
elasticsearch.api_key: null
elasticsearch.username: elastic
elasticsearch.password: changeme
elasticsearch.ssl: true
elasticsearch.ca_certs: null
elasticsearch.retry_on_timeout: true
elasticsearch.request_timeout: 120
elasticsearch.max_wait_duration: 60
elasticsearch.initial_backoff_duration: 1
elasticsearch.backoff_multiplier: 2
elasticsearch.log_level: INFO
elasticsearch.max_retries: 5
elasticsearch.retry_interval: 10
elasticsearch.bulk.display_every: 100
elasticsearch.bulk.queue_max_size: 1024
elasticsearch.bulk.queue_max_mem_size: 25
elasticsearch.bulk.queue_refresh_interval: 1
elasticsearch.bulk.queue_refresh_timeout: 60
elasticsearch.bulk.chunk_max_mem_size: 5
elasticsearch.bulk.chunk_size: 500
elasticsearch.bulk.max_concurrency: 5
elasticsearch.bulk.concurrent_downloads: 10
elasticsearch.bulk.max_retries: 5
elasticsearch.bulk.retry_interval: 10
elasticsearch.bulk.enable_operations_logging: false
elasticsearch.feature_use_connectors_api: false
service.idling: 30
service.heartbeat: 300
service.preflight_max_attempts: 10
service.preflight_idle: 30
service.max_errors: 20
service.max_errors_span: 600
service.max_concurrent_content_syncs: 1
service.max_concurrent_access_control_syncs: 1
service.max_file_download_size: 10485760
service.job_cleanup_interval: 300
service.log_level: INFO
extraction_service.host: null
extraction_service.timeout: 30
extraction_service.use_file_pointers: False
extraction_service.stream_chunk_size: 65536
extraction_service.shared_volume_dir: /app/files
"
    )
}

/// `plugins/sharepoint_online` (JavaScript) built from source into `dir/plugins`.
fn build_sharepoint(dir: &Path) {
    let dest = dir.join("plugins").join("sharepoint_online");
    let o = Command::new("node")
        .arg(root().join("sdk/js/build.mjs"))
        .arg(root().join("plugins/sharepoint_online"))
        .arg("-o")
        .arg(&dest)
        .current_dir(root())
        .output()
        .expect("run node sdk/js/build.mjs (run scripts/setup)");
    assert!(
        o.status.success(),
        "building plugins/sharepoint_online failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn guide_config(dir: &Path, host: &str, connectors: &str) -> std::path::PathBuf {
    write_config(
        dir,
        &format!("{}connectors:\n{connectors}", elastic_example_keys(host)),
    )
}

/// Runs `inlet config check` on `config` (off the test's runtime: the fake serves on it).
async fn check(config: &Path) -> std::process::Output {
    let config = config.to_str().expect("utf8").to_owned();
    tokio::task::spawn_blocking(move || inlet(&["config", "check", "--config", &config]))
        .await
        .expect("run inlet")
}

const GUIDE_CONNECTOR: &str =
    "  - connector_id: spo\n    service_type: sharepoint_online\n    api_key: a2liYW5hOmtleQ==\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_in_kibana_mode_says_what_kibana_still_needs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    build_sharepoint(tmp.path());
    let fake = FakeEs::start().await;
    // Step 2 of the guide: the connector created in Kibana, before Inlet ever ran.
    create_connector(&fake, "spo", "sharepoint_online").await;
    let o = check(&guide_config(tmp.path(), &fake.url(), GUIDE_CONNECTOR)).await;
    let out = stdout(&o);
    println!("{out}");
    assert!(
        o.status.success(),
        "exit {:?}:\n{out}\n{}",
        o.status,
        stderr(&o)
    );
    assert!(out.contains("Elasticsearch 8.15.3"), "{out}");
    assert!(
        out.contains("spo: ok (sharepoint_online); Kibana still needs: tenant_id (Tenant ID), tenant_name (Tenant name), client_id (Client ID)"),
        "{out}"
    );

    // Kibana's form saved: nothing more is needed; the plugin then checks the values (its ping
    // needs Graph, which this config does not grant: a failure that config.yml owns).
    kibana(
        &fake,
        Method::PUT,
        "/_connector/spo/_configuration",
        Some(json!({"configuration": {
            "tenant_id": {"label": "Tenant ID", "value": "t-1"},
            "tenant_name": {"label": "Tenant name", "value": "contoso"},
            "client_id": {"label": "Client ID", "value": "c-1"},
        }})),
    )
    .await;
    let o = check(&guide_config(tmp.path(), &fake.url(), GUIDE_CONNECTOR)).await;
    let out = stdout(&o);
    println!("{out}");
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("spo: the configuration saved in Kibana:"),
        "{out}"
    );
    assert!(!out.contains("still needs"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_check_in_kibana_mode_checks_what_config_yml_owns() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen", "dir"]);
    let fake = FakeEs::start().await;
    create_connector(&fake, "k1", "loadgen").await;
    create_connector(&fake, "k2", "dir").await;
    let run = |host: String, connectors: &'static str| {
        let config = guide_config(tmp.path(), &host, connectors);
        async move { check(&config).await }
    };
    // Served and complete (loadgen's fields all have defaults): the plugin checks the values.
    let o = run(
        fake.url(),
        "  - connector_id: k1\n    service_type: loadgen\n",
    )
    .await;
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("k1: ok (loadgen); the configuration saved in Kibana is complete"),
        "{}",
        stdout(&o)
    );
    // A connector id Kibana does not have, and a service type that is not the connector's.
    let o = run(
        fake.url(),
        "  - connector_id: nope\n    service_type: loadgen\n  - connector_id: k2\n    service_type: loadgen\n",
    )
    .await;
    let out = stdout(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("nope: no connector `nope`"), "{out}");
    assert!(
        out.contains("k2: the connector's service type in Kibana is `dir`"),
        "{out}"
    );
    // The cluster down: config.yml's part only, and a warning.
    let o = run(
        "http://127.0.0.1:9".into(),
        "  - connector_id: k2\n    service_type: dir\n",
    )
    .await;
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("not reachable"), "{out}");
    assert!(out.contains("k2: ok (dir): config.yml's part"), "{out}");
}
