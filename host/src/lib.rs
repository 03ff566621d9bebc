//! Inlet: a WebAssembly plugin host for sandboxed search connectors.
//!
//! Data flows `plugin → sync engine → sink` (the embedded NDJSON sink, or a cluster through the
//! bulk indexer). Modules, one job each:
//! - [`policy`] (crate `inlet-policy`, the bottom one): [`config`] (`config.yml`), [`manifest`]
//!   (`plugin.toml`), limits, budgets, the HTTP origin policy, [`job`] types, sync rules;
//! - [`store`] (crate `inlet-store`): the embedded state store (cursors, plugin state, job
//!   history);
//! - [`broker`] (crate `inlet-broker`): brokered network access and credentials (the only way
//!   out of the sandbox), with [`sql`], the SQL broker (operator-granted PostgreSQL/MySQL
//!   connections, streamed rows), and [`capabilities`], what a connector's plugin gets: its
//!   manifest ∩ the operator's grants;
//! - [`plugin`]: plugin discovery, verification and loading;
//! - [`runtime`] (crate `inlet-runtime`): the wasmtime sandbox (limits, deadlines, cache,
//!   bindings, the brokers' WIT host side);
//! - [`sync`]: one sync from start to end, with exact counts;
//! - [`sink`]: where documents go;
//! - [`service`]: the run loop (schedules, `--once`);
//! - [`protocol`]: Kibana's connector protocol (the `_connector` API), the service loop of
//!   `inlet run` when a cluster is configured;
//! - [`scaffold`]: `inlet new`, connector projects from templates;
//! - [`metrics`], [`admin_server`]: Prometheus metrics, health and readiness.

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
