//! Inlet: a WebAssembly plugin host for sandboxed search connectors.
//!
//! Data flows `plugin → sync engine → sink` (the embedded NDJSON sink, or a cluster through the
//! bulk indexer). Modules, one job each:
//! - [`config`]: `config.yml`, Elastic's keys plus Inlet's standalone sections;
//! - [`plugin`]: plugin discovery, manifests, verification and loading;
//! - [`runtime`]: the wasmtime sandbox (limits, deadlines, cache, bindings);
//! - [`sync`]: one sync from start to end, with exact counts;
//! - [`sink`]: where documents go;
//! - [`store`]: the embedded state store (cursors, plugin state, job history);
//! - [`service`]: the run loop (schedules, `--once`);
//! - [`scaffold`]: `inlet new`, connector projects from templates.

pub mod config;
pub mod plugin;
pub mod runtime;
pub mod scaffold;
pub mod service;
pub mod sink;
pub mod store;
pub mod sync;
