//! What Inlet measures, under one naming scheme (`inlet_*`, Prometheus conventions), and the
//! exporter that renders it. Recording is cheap and always on; rendering happens only when
//! `service.metrics.listen` serves it (see [`crate::admin_server`]). Each part records its own
//! figures where it has them (the sync engine its reports, the plugin loader its loads, the HTTP
//! broker its counters) with the `metrics` crate's macros, so this module depends on none of
//! them; the names are described here, in one place.

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
