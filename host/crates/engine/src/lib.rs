//! Inlet's engine: what turns a configured connector into documents in a sink.
//!
//! - [`plugin`]: plugins discovered in a directory, verified (signatures), compiled through the
//!   runtime's cache and linked once;
//! - [`sync`]: one sync from start to end — a fresh sandboxed instance, its configuration checked,
//!   batches pulled at the sink's pace, every document counted, the cursor and stale deletions
//!   applied only after success;
//! - [`sink`]: where documents go (the embedded on-disk sink, or a cluster through the shared
//!   bulk indexer), with the dead-letter file for documents a sink refuses;
//! - [`service`]: the process's run loop — the store, sink and runtime opened once, the plugin
//!   table (hot reload), syncs once, on demand or on cron schedules.
//!
//! It sits on `inlet-policy` (config, manifest, limits), `inlet-store` (cursors, plugin state,
//! job history), `inlet-broker` (the capability granter) and `inlet-runtime` (the sandbox);
//! the Kibana protocol (`inlet-kibana`) and the `inlet` binary sit on it (docs/ARCHITECTURE.md).

#![warn(missing_docs, unreachable_pub)]

pub mod plugin;
pub mod service;
pub mod sink;
pub mod sync;
