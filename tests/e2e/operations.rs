//! What an operator sees: metrics and health endpoints, and a graceful stop on SIGTERM.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text))
}

#[test]
fn metrics_health_and_graceful_stop() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let port = free_port();
    let config = write_config(
        tmp.path(),
        &format!(
            "service:\n  metrics:\n    listen: 127.0.0.1:{port}\nconnectors:\n  - connector_id: m\n    service_type: loadgen\n    configuration:\n      count: 1234\n    schedule:\n      full: \"* * * * * ?\"\n"
        ),
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["run", "--config", config.to_str().expect("utf8")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start inlet run");

    // Wait (bounded) until a scheduled sync has completed and shows in the metrics.
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        assert!(
            Instant::now() < deadline,
            "no completed sync in the metrics within 60 s"
        );
        if let Some((200, body)) = get(port, "/metrics")
            && body.contains("inlet_syncs_total{")
            && body.contains("outcome=\"completed\"")
        {
            break body;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        metrics.contains("inlet_documents_total{connector=\"m\",fate=\"indexed\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("inlet_plugin_loads_total"), "{metrics}");
    assert!(
        metrics.contains("inlet_http_requests_total{connector=\"m\",decision=\"allowed\"} 0"),
        "brokered-call counters are exported per connector: {metrics}"
    );
    for name in [
        "inlet_http_responses_total",
        "inlet_http_latency_microseconds_max",
        "inlet_http_auth_retries_total",
    ] {
        assert!(
            metrics.contains(&format!("{name}{{connector=\"m\"}} 0")),
            "{name} is exported per connector: {metrics}"
        );
    }
    assert_eq!(get(port, "/healthz").map(|r| r.0), Some(200));
    assert_eq!(get(port, "/readyz").map(|r| r.0), Some(200));

    // SIGTERM: the service stops by itself, promptly.
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let stop_deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            Instant::now() < stop_deadline,
            "inlet did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "graceful stop exits 0: {exit:?}");
    let docs = replay(&tmp.path().join("data/sink/search-m.ndjson"));
    assert_eq!(docs.len(), 1234);
}

#[test]
fn a_crash_mid_sync_converges_after_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["loadgen"]);
    let count = 400_000;
    let config = write_config(
        tmp.path(),
        &format!(
            "connectors:\n  - connector_id: c\n    service_type: loadgen\n    configuration:\n      count: {count}\n      doc_bytes: 256\n      batch_size: 200\n    schedule:\n      full: \"0 0 0 1 1 ? 2099\"\n"
        ),
    );
    let sink = tmp.path().join("data/sink/search-c.ndjson");
    let mut child = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["sync", "c", "--config", config.to_str().expect("utf8")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start inlet sync");
    // Kill -9 once part of the sync is on disk.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&sink).map(|m| m.len()).unwrap_or(0) < 2_000_000 {
        assert!(
            Instant::now() < deadline,
            "the sync wrote nothing within 60 s"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the sync ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let partial = action_counts(&sink).0;
    assert!(partial < count, "killed mid-sync ({partial} of {count})");

    // The service finds the interrupted job and runs it again; the sink converges.
    let service = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["run", "--config", config.to_str().expect("utf8")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("restart inlet run");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "the resumed sync did not converge within 120 s"
        );
        if try_replay(&sink).is_some_and(|d| d.len() == count) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &service.id().to_string()])
        .status();
    let out = service.wait_with_output().expect("stop");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("resuming an interrupted sync"), "{log}");
    let docs = replay(&sink);
    assert_eq!(docs.len(), count);
    assert_eq!(docs["doc-399999"]["n"], 399_999);
}
