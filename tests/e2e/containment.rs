//! A hostile plugin against the host's budgets: what it makes the host hold, open or wait for
//! is capped per instance, and going over fails its own sync with the limit's name. Each test
//! asserts the figure the attack used to reach (see issue 12's table) against the cap.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const MIB: u64 = 1024 * 1024;

/// One full sync of the `hostile` plugin with `attack` (JSON) and extra connector YAML lines;
/// returns whether it succeeded, its JSON report, the one document it emitted (if any) and
/// inlet's stderr.
fn attack(
    tmp: &std::path::Path,
    attack: &str,
    extra: &str,
) -> (bool, serde_json::Value, Option<serde_json::Value>, String) {
    plugin_dir(tmp, &["hostile"]);
    let config = write_config(
        tmp,
        &format!(
            "connectors:\n  - connector_id: h\n    service_type: hostile\n    configuration:\n      attack: '{attack}'\n{extra}"
        ),
    );
    let out = inlet(&[
        "sync",
        "h",
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}\n{}", stdout(&out), stderr(&out)));
    let doc = replay(&tmp.join("data/sink/search-h.ndjson")).remove("result");
    (out.status.success(), report, doc, stderr(&out))
}

fn error_of(report: &serde_json::Value) -> &str {
    report["error"].as_str().unwrap_or_default()
}

#[test]
fn header_maps_a_plugin_keeps_are_charged_to_its_host_budget() {
    // Before: 20,000 maps of 120 KiB took the host to 2.7 GiB while `memory_mib: 64` saw 1 MiB.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ok, report, _, _) = attack(
        tmp.path(),
        r#"{"op":"fields","count":20000,"bytes":122880,"keep":true}"#,
        "    limits:\n      memory_mib: 64\n",
    );
    assert!(!ok);
    assert_eq!(report["error_class"], "budget", "{report}");
    assert!(
        error_of(&report).contains("limits.host_memory_mib")
            && error_of(&report).contains("wasi:http fields"),
        "{report}"
    );
    let held = report["host_peak"]["host_bytes"]
        .as_u64()
        .expect("host_peak");
    assert!(
        held <= 64 * MIB && held > 48 * MIB,
        "the plugin held {held} bytes of host memory: up to its 64 MiB budget, not past it"
    );
    let rss = report["process_peak_rss_bytes"].as_u64().expect("rss");
    assert!(
        rss < 400 * MIB,
        "the whole process peaked at {} MiB (was 2.7 GiB)",
        rss / MIB
    );
}

#[test]
fn header_maps_a_plugin_drops_cost_it_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ok, report, doc, _) = attack(
        tmp.path(),
        r#"{"op":"fields","count":20000,"bytes":122880,"keep":false}"#,
        "    limits:\n      memory_mib: 64\n",
    );
    assert!(ok, "{report}");
    assert_eq!(doc.expect("result")["made"], 20_000);
    let held = report["host_peak"]["host_bytes"]
        .as_u64()
        .expect("host_peak");
    assert!(held < MIB, "one map at a time: {held} bytes");
    let rss = report["process_peak_rss_bytes"].as_u64().expect("rss");
    assert!(rss < 400 * MIB, "peak RSS {} MiB", rss / MIB);
}

#[test]
fn host_handles_are_capped() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ok, report, _, _) = attack(
        tmp.path(),
        r#"{"op":"handles","count":200000}"#,
        "    limits:\n      max_handles: 1000\n",
    );
    assert!(!ok);
    assert_eq!(report["error_class"], "budget", "{report}");
    assert!(
        error_of(&report).contains("limits.max_handles") && error_of(&report).contains("1000"),
        "{report}"
    );
}

#[test]
fn requests_in_flight_are_capped() {
    // A server that accepts and never answers: every request stays in flight.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        for c in listener.incoming().take(64).flatten() {
            conns.push(c);
        }
        conns.len()
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ok, report, _, _) = attack(
        tmp.path(),
        &format!(r#"{{"op":"requests","url":"http://127.0.0.1:{port}/slow","count":500}}"#),
        &format!(
            "    limits:\n      max_requests_in_flight: 20\n      call_timeout_secs: 20\n    grants:\n      http: [\"http://127.0.0.1:{port}\"]\n      http_limits:\n        max_concurrent_requests: 4\n"
        ),
    );
    drop(held);
    assert!(!ok);
    assert_eq!(report["error_class"], "budget", "{report}");
    assert!(
        error_of(&report).contains("limits.max_requests_in_flight"),
        "{report}"
    );
    assert_eq!(report["host_peak"]["requests_in_flight"], 20, "{report}");
}

#[test]
fn a_plugin_that_sends_request_after_request_accumulates_no_charges() {
    // A well-behaved connector: 300 requests with a 100 KiB header each, one after the other.
    // The maps move into the requests and the requests to the network: nothing stays charged.
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = server.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in server.incoming().flatten() {
            std::thread::spawn(move || answer_ok_forever(conn));
        }
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ok, report, doc, _) = attack(
        tmp.path(),
        &format!(
            r#"{{"op":"sequential","url":"http://127.0.0.1:{port}/x","count":300,"bytes":102400}}"#
        ),
        &format!(
            "    limits:\n      host_memory_mib: 8\n    grants:\n      http: [\"http://127.0.0.1:{port}\"]\n"
        ),
    );
    assert!(ok, "{report}");
    assert_eq!(doc.expect("result")["ok"], 300);
    let held = report["host_peak"]["host_bytes"]
        .as_u64()
        .expect("host_peak");
    assert!(held < MIB, "at most one request's worth at a time: {held}");
}

/// Answers every request on `conn` with an empty 200, keeping the connection open.
fn answer_ok_forever(mut conn: std::net::TcpStream) {
    use std::io::{Read, Write};
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            if conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .is_err()
            {
                return;
            }
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[test]
fn open_files_are_capped() {
    // Before: 6,000 opens of one file all succeeded and held 6,000 process descriptors.
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("granted");
    std::fs::create_dir(&data).expect("mkdir");
    let file = data.join("f.txt");
    std::fs::write(&file, "x").expect("write");
    let (ok, report, _, _) = attack(
        tmp.path(),
        &format!(
            r#"{{"op":"open","path":"{}","count":6000}}"#,
            file.display()
        ),
        &format!("    grants:\n      files: [\"{}\"]\n", data.display()),
    );
    assert!(!ok);
    assert_eq!(report["error_class"], "budget", "{report}");
    assert!(
        error_of(&report).contains("limits.max_open_files"),
        "{report}"
    );
    assert_eq!(report["host_peak"]["open_files"], 64, "{report}");
}

#[test]
fn directory_listings_are_charged_to_the_host_budget() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("granted");
    std::fs::create_dir(&data).expect("mkdir");
    // 4,000 entries with 200-byte names: about 1 MiB of host memory per listing.
    for i in 0..4000 {
        std::fs::write(data.join(format!("{i:0>200}")), "").expect("write");
    }
    let (ok, report, _, _) = attack(
        tmp.path(),
        &format!(
            r#"{{"op":"listings","path":"{}","count":1000}}"#,
            data.display()
        ),
        &format!(
            "    limits:\n      host_memory_mib: 8\n    grants:\n      files: [\"{}\"]\n",
            data.display()
        ),
    );
    assert!(!ok);
    assert_eq!(report["error_class"], "budget", "{report}");
    assert!(
        error_of(&report).contains("directory listing")
            && error_of(&report).contains("limits.host_memory_mib"),
        "{report}"
    );
    let held = report["host_peak"]["host_bytes"]
        .as_u64()
        .expect("host_peak");
    assert!(held <= 8 * MIB, "{held}");
}

#[cfg(unix)]
#[test]
fn a_fifo_or_socket_in_a_granted_directory_is_refused_at_open() {
    // Before: reading a FIFO planted in a granted directory never returned, past the call
    // deadline and past SIGTERM.
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("granted");
    std::fs::create_dir(&data).expect("mkdir");
    let fifo = data.join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let socket = data.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind a socket");
    for (path, refused_by) in [(&fifo, "PermissionDenied"), (&socket, "")] {
        let started = Instant::now();
        let (ok, report, doc, _) = attack(
            tmp.path(),
            &format!(r#"{{"op":"read","path":"{}"}}"#, path.display()),
            &format!(
                "    limits:\n      call_timeout_secs: 3\n    grants:\n      files: [\"{}\"]\n",
                data.display()
            ),
        );
        let took = started.elapsed();
        assert!(ok, "{report}");
        let doc = doc.expect("result");
        // The FIFO is refused by the host's check; a socket cannot be opened at all (ENXIO).
        assert!(doc["error"].is_string(), "{}: {doc}", path.display());
        if !refused_by.is_empty() {
            assert_eq!(doc["kind"], refused_by, "{}: {doc}", path.display());
        }
        assert!(
            took < Duration::from_secs(30),
            "the sync ended ({took:?}) instead of hanging"
        );
    }
}

#[test]
fn sigterm_ends_a_call_blocked_in_the_host() {
    let tmp = tempfile::tempdir().expect("tempdir");
    plugin_dir(tmp.path(), &["hostile"]);
    let config = write_config(
        tmp.path(),
        "connectors:\n  - connector_id: w\n    service_type: hostile\n    configuration:\n      attack: '{\"op\":\"wait\"}'\n    limits:\n      call_timeout_secs: 300\n",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["run", "--config", config.to_str().expect("utf8")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start inlet run");
    // Give the sync time to reach the plugin's blocking wait.
    std::thread::sleep(Duration::from_secs(3));
    if let Some(exit) = child.try_wait().expect("wait") {
        let out = child.wait_with_output().expect("output");
        panic!(
            "inlet ended before the signal ({exit:?}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(20),
            "inlet did not stop within 20 s of SIGTERM while the plugin waited in the host"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = signalled.elapsed();
    let out = child.wait_with_output().expect("output");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(exit.success(), "graceful stop exits 0: {exit:?}\n{log}");
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    assert!(
        log.contains("sync suspended"),
        "the sync is recorded suspended:\n{log}"
    );

    // The suspended sync runs again at the next start (this time with an attack that ends).
    write_config(
        tmp.path(),
        "connectors:\n  - connector_id: w\n    service_type: hostile\n    configuration:\n      attack: '{\"op\":\"handles\",\"count\":1}'\n",
    );
    let out = inlet(&["run", "--config", config.to_str().expect("utf8")]);
    let log = stderr(&out);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("resuming an interrupted sync"),
        "the suspended job is resumed:\n{log}"
    );
    let docs = replay(&tmp.path().join("data/sink/search-w.ndjson"));
    assert_eq!(docs["result"]["made"], 1, "{docs:?}");
}

/// One full sync of the `bigbatch` plugin (JSON-lines batches of `mib` MiB); returns whether it
/// succeeded, its report and the documents in the sink.
fn big_batches(
    tmp: &std::path::Path,
    settings: &str,
) -> (
    bool,
    serde_json::Value,
    std::collections::BTreeMap<String, serde_json::Value>,
) {
    plugin_dir(tmp, &["bigbatch"]);
    let config = write_config(
        tmp,
        &format!(
            "connectors:\n  - connector_id: b\n    service_type: bigbatch\n    configuration:\n{settings}"
        ),
    );
    let out = inlet(&[
        "sync",
        "b",
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}): {}\n{}", stdout(&out), stderr(&out)));
    let docs = replay(&tmp.join("data/sink/search-b.ndjson"));
    (out.status.success(), report, docs)
}

fn assert_refused_transfer(report: &serde_json::Value) {
    assert_eq!(report["error_class"], "budget", "{report}");
    let error = error_of(report);
    assert!(
        error.contains("limits.host_memory_mib")
            && error.contains("one transfer out of the plugin's memory")
            && error.contains("limit 67108864"),
        "{report}"
    );
}

#[test]
fn a_batch_larger_than_the_host_budget_is_stopped_while_it_is_lifted() {
    // Before: a 100 MiB batch (plugin memory 512 MiB) was copied whole into the host and held
    // with its prepared documents, uncharged: 260-360 MiB peak RSS for one sync, times the
    // number of syncs running. Now the lift stops at `host_memory_mib` (64 MiB by default).
    for shape in ["lines", "documents"] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (ok, report, docs) = big_batches(
            tmp.path(),
            &format!("      mib: \"100\"\n      shape: {shape}\n"),
        );
        assert!(!ok, "{shape}: {report}");
        assert_refused_transfer(&report);
        assert!(docs.is_empty(), "{shape}: nothing of the batch is indexed");
    }
    // The same through `sync.next-batch` (the SDKs' `list<document>` path).
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ok, report, doc, _) = attack(
        tmp.path(),
        r#"{"op":"batch","count":1600,"bytes":65536}"#,
        "",
    );
    assert!(!ok, "{report}");
    assert!(doc.is_none());
    assert_refused_transfer(&report);
}

#[test]
fn a_batch_is_charged_while_the_host_holds_it_and_given_back_after() {
    // Four batches of 24 MiB: 96 MiB in all, more than the 64 MiB budget, so this completes
    // only if each batch's charge is given back once the sink has taken it.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ok, report, docs) = big_batches(tmp.path(), "      mib: \"24\"\n      batches: \"4\"\n");
    assert!(ok, "{report}");
    assert_eq!(docs.len(), 4 * 24 * 16, "every document of every batch");
    let held = report["host_peak"]["host_bytes"]
        .as_u64()
        .expect("host_peak");
    assert!(
        (24 * MIB..=64 * MIB).contains(&held),
        "a held batch is charged (24 MiB of lines), within the budget: {report}"
    );
    // A budget smaller than one batch stops it.
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ok, report, _) = big_batches(
        tmp.path(),
        "      mib: \"24\"\n    limits:\n      host_memory_mib: 16\n",
    );
    assert!(!ok, "{report}");
    assert!(
        error_of(&report).contains("limits.host_memory_mib"),
        "{report}"
    );
}
