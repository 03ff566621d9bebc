//! What Inlet measures, under one naming scheme (`inlet_*`, Prometheus conventions), and the
//! exporter that renders it. Recording is cheap and always on; rendering happens only when
//! `service.metrics.listen` serves it (see [`crate::admin_server`]).

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::job::JobStatus;
use crate::runtime::CacheOutcome;
use crate::sync::SyncReport;

/// Installs the process-wide recorder; returns the handle that renders the text format.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("cannot install the metrics recorder: {e}"))?;
    describe();
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "inlet_syncs_total",
        "Syncs by connector, job type and outcome"
    );
    describe_counter!(
        "inlet_documents_total",
        "Documents by connector and fate (extracted, indexed, deleted, stale_deleted, dead_lettered, filtered)"
    );
    describe_counter!(
        "inlet_bytes_total",
        "Document bytes written to the sink, by connector"
    );
    describe_counter!(
        "inlet_plugin_failures_total",
        "Failed syncs by connector and cause (trap, deadline, memory, config, network, ...)"
    );
    describe_histogram!(
        "inlet_sync_duration_seconds",
        "Wall-clock duration of syncs"
    );
    describe_gauge!(
        "inlet_plugin_memory_peak_bytes",
        "Peak linear memory of a connector's last sync"
    );
    describe_counter!(
        "inlet_plugin_loads_total",
        "Plugin loads by service type and cache outcome (hit, compiled)"
    );
    describe_histogram!(
        "inlet_plugin_load_seconds",
        "Time to load a plugin (from the cache or compiling)"
    );
    describe_counter!(
        "inlet_plugin_reloads_total",
        "Hot reloads of the plugin directory by service type and outcome (loaded, failed, removed)"
    );
}

/// Records a finished sync.
pub fn record_sync(report: &SyncReport, service_type: &str) {
    let connector = report.connector_id.clone();
    let outcome = JobStatus::from(report.status).as_str();
    let job_type = report.job_type.as_str();
    counter!("inlet_syncs_total", "connector" => connector.clone(), "service_type" => service_type.to_owned(), "job_type" => job_type, "outcome" => outcome).increment(1);
    let s = &report.stats;
    for (fate, n) in [
        ("extracted", s.extracted),
        ("indexed", s.indexed),
        ("deleted", s.deleted),
        ("stale_deleted", s.stale_deleted),
        ("dead_lettered", s.dead_lettered),
        ("filtered", s.filtered),
    ] {
        counter!("inlet_documents_total", "connector" => connector.clone(), "fate" => fate)
            .increment(n);
    }
    counter!("inlet_bytes_total", "connector" => connector.clone()).increment(s.bytes);
    if let Some(class) = report.error_class {
        counter!("inlet_plugin_failures_total", "connector" => connector.clone(), "cause" => class)
            .increment(1);
    }
    histogram!("inlet_sync_duration_seconds", "connector" => connector.clone(), "job_type" => job_type)
        .record(report.elapsed_ms as f64 / 1000.0);
    gauge!("inlet_plugin_memory_peak_bytes", "connector" => connector)
        .set(report.peak_memory_bytes as f64);
}

/// Records a plugin load.
pub fn record_plugin_load(service_type: &str, outcome: CacheOutcome, seconds: f64) {
    let outcome = match outcome {
        CacheOutcome::Hit => "hit",
        CacheOutcome::Compiled => "compiled",
    };
    counter!("inlet_plugin_loads_total", "service_type" => service_type.to_owned(), "cache" => outcome).increment(1);
    histogram!("inlet_plugin_load_seconds", "service_type" => service_type.to_owned())
        .record(seconds);
}

/// Records what hot reload did with a changed plugin folder: `loaded`, `failed` (the previous
/// version, if any, keeps serving) or `removed`.
pub fn record_plugin_reload(service_type: &str, outcome: &'static str) {
    counter!("inlet_plugin_reloads_total", "service_type" => service_type.to_owned(), "outcome" => outcome).increment(1);
}

/// Copies the HTTP broker's per-connector counters into the exporter. Called just before each
/// scrape renders, so `/metrics` is always current without the broker knowing about Prometheus.
pub fn record_broker(broker: &crate::broker::Broker) {
    for (connector, m) in broker.metrics() {
        let c = || connector.clone();
        counter!("inlet_http_requests_total", "connector" => c(), "decision" => "allowed")
            .absolute(m.allowed);
        for (rule, n) in &m.denied {
            counter!("inlet_http_requests_total", "connector" => c(), "decision" => "denied", "rule" => *rule).absolute(*n);
        }
        counter!("inlet_http_failures_total", "connector" => c()).absolute(m.failed);
        counter!("inlet_http_oversized_total", "connector" => c()).absolute(m.oversized);
        counter!("inlet_http_bytes_total", "connector" => c(), "direction" => "out")
            .absolute(m.bytes_out);
        counter!("inlet_http_bytes_total", "connector" => c(), "direction" => "in")
            .absolute(m.bytes_in);
        counter!("inlet_http_latency_microseconds_total", "connector" => c())
            .absolute(m.latency_us_total);
        counter!("inlet_http_credential_injections_total", "connector" => c())
            .absolute(m.credential_injections);
    }
    for (credential, n) in broker.token_fetches() {
        counter!("inlet_oauth2_token_fetches_total", "credential" => credential).absolute(n);
    }
}

/// Peak resident memory of this process (`VmHWM` from /proc/self/status), in bytes; 0 where
/// the platform does not say. Reported with each sync so an operator (and the containment
/// tests) can see what a plugin made the host hold.
pub fn process_peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().strip_suffix("kB"))
                .and_then(|kb| kb.trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
