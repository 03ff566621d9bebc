//! Inlet: a WebAssembly plugin host for sandboxed search connectors.
//!
//! Data flows `plugin → sync engine → sink` (the embedded NDJSON sink, or a cluster through the
//! bulk indexer). The work is done by the host's crates, bottom-up (docs/ARCHITECTURE.md),
//! re-exported here under the module paths they had before the split:
//! - [`policy`] (crate `inlet-policy`): [`config`] (`config.yml`), [`manifest`] (`plugin.toml`),
//!   limits, budgets, the HTTP origin policy, [`job`] types, [`sync_rules`];
//! - [`store`] (crate `inlet-store`): the embedded state store (cursors, plugin state, job
//!   history);
//! - [`runtime`] (crate `inlet-runtime`): the wasmtime sandbox (limits, deadlines, cache,
//!   bindings, the WIT host side), reaching the brokers through its `brokers` traits;
//! - [`broker`] (crate `inlet-broker`): brokered network access and credentials (the only way
//!   out of the sandbox), with [`sql`], the SQL broker, and [`capabilities`], what a
//!   connector's plugin gets: its manifest ∩ the operator's grants;
//! - [`engine`] (crate `inlet-engine`): [`plugin`] loading, one [`sync`], the [`sink`]s and the
//!   [`service`] loop (schedules, hot reload, `--once`);
//! - [`protocol`] (crate `inlet-kibana`): Kibana's connector protocol (the `_connector` API),
//!   the service loop of `inlet run` when a cluster is configured.
//!
//! This crate adds what only the binary needs: [`scaffold`] (`inlet new`, connector projects
//! from templates), [`metrics`] (the Prometheus exporter) and [`admin_server`] (metrics, health
//! and readiness over HTTP); the CLI and its commands are the binary's own modules.

#![warn(missing_docs, unreachable_pub)]

// The host's crates under their old module paths, so `crate::config`, `crate::policy::budget`,
// `crate::sql::Databases`, `inlet::store::StateStore` and the like keep naming the same items.
pub use inlet_broker as broker;
pub use inlet_broker::{capabilities, sql};
pub use inlet_engine as engine;
pub use inlet_engine::{plugin, service, sink, sync};
pub use inlet_kibana as protocol;
pub use inlet_policy as policy;
pub use inlet_policy::{config, job, manifest, sync_rules};
pub use inlet_runtime as runtime;
pub use inlet_store as store;

pub mod admin_server;
pub mod metrics;
pub mod scaffold;
