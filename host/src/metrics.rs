//! What Inlet measures, under one naming scheme (`inlet_*`, Prometheus conventions), and the
//! exporter that renders it. Recording is cheap and always on; rendering happens only when
//! `service.metrics.listen` serves it (see [`crate::admin_server`]). Each part records its own
//! figures where it has them (the sync engine its reports, the plugin loader its loads, the HTTP
//! broker its counters) with the `metrics` crate's macros, so this module depends on none of
//! them; the names are described here, in one place.

use metrics::counter;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

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

/// Records what hot reload did with a changed plugin folder: `loaded`, `failed` (the previous
/// version, if any, keeps serving) or `removed`.
pub fn record_plugin_reload(service_type: &str, outcome: &'static str) {
    counter!("inlet_plugin_reloads_total", "service_type" => service_type.to_owned(), "outcome" => outcome).increment(1);
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
