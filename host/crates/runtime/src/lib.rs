//! The sandboxed runtime: one engine, one linker, a compiled-plugin cache, and fresh stores per
//! use with limits always on (crate `inlet-runtime`, on inlet-policy and inlet-store; the host
//! re-exports it as `inlet::runtime`).
//!
//! The host builds one [`Runtime`] per process, [`Runtime::load`]s each plugin's component once
//! (checked against the `inlet:connector` contract, compiled or taken from the cache), and
//! [`Runtime::instantiate`]s a fresh [`PluginInstance`] for every sync, check or inspection with
//! exactly what the capability granter (`inlet_broker::capabilities`) allowed it: the
//! [`InstanceOptions`]. Every call into an instance has a wall-clock deadline and every failure
//! becomes a [`CallError`] an operator can act on. The guest reaches the outside only through
//! deny-by-default WASI (read-only preopened directories, logs), `wasi:http` through the
//! connector's [`brokers::HttpBroker`], and the contract's own imports (`log`, `state`, `sql`;
//! `sql` through its [`brokers::SqlBroker`]), whose host side lives here: private modules
//! `guest_services` (log, state), `plugin_state` (quota and staged writes), `sql_host`, and
//! `host_state`'s `fs_guard`, `http_budget` and `http_hooks` (what the guest makes the host
//! open or hold, charged to its host budget, whichever broker serves it). The brokers are
//! reached only through the traits of [`brokers`]; `inlet-broker` implements them.

#![warn(missing_docs, unreachable_pub)]

mod bindings;
pub mod brokers;
mod cache;
mod engine;
mod guest_services;
mod host_state;
mod instance;
mod plugin_state;
mod sql_host;
mod sql_resources;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

pub use bindings::types;
pub use cache::CacheOutcome;
pub use engine::{AllocatorKind, EngineSettings};
pub use host_state::{DeadlineExceeded, LimitExceeded};
pub use instance::{Batch, CallError, HeldBatch, PluginInstance};
pub use plugin_state::StateQuota;

use inlet_policy::guest_output::GuestLog;

use bindings::since_v0_1;
use host_state::{HostState, Limiter};
use inlet_store::StateStore;

/// Why a component cannot be used ([`Runtime::load`]). Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Not a component (a core module, not WebAssembly at all), or wasmtime refused to
    /// compile it; the text is the reason.
    #[error("not a valid WebAssembly component: {0}")]
    Invalid(String),
    /// A component, but without the `inlet:connector/source` export every plugin must have.
    #[error(
        "not an Inlet connector: it exports no `inlet:connector/source` interface (it exports: {exports})"
    )]
    NotAConnector {
        /// What it exports instead, comma-separated (`nothing` when nothing).
        exports: String,
    },
    /// Built against a contract version this host cannot run (semver: `0.x` within one minor,
    /// `x.*` within one major).
    #[error(
        "targets contract inlet:connector@{found}, but this host supports {supported}.x; rebuild the plugin against that contract or upgrade inlet"
    )]
    IncompatibleContract {
        /// The version the component exports, or `(unversioned)`.
        found: String,
        /// The major.minor this host supports (`0.1`).
        supported: String,
    },
    /// It imports something the host does not link (an interface of a newer WASI, or one
    /// outside the sandbox).
    #[error("imports `{import}`, which this host does not provide ({detail})")]
    MissingImport {
        /// The import wasmtime named, or `(unknown)`.
        import: String,
        /// wasmtime's whole message.
        detail: String,
    },
    /// Compiled, but the artifact could not be written to the cache directory.
    #[error("cannot store the compiled plugin in the cache: {0}")]
    Cache(String),
}

/// A component compiled (or loaded from the cache), checked against the contract, and linked:
/// ready for any number of [`Runtime::instantiate`] calls.
pub struct LoadedComponent {
    pub(crate) pre: since_v0_1::ConnectorPre<HostState>,
    /// Where the optional `json-lines` export is, when the component has it.
    pub(crate) json_lines: Option<since_v0_1::json_lines::GuestIndices>,
    /// The `inlet:connector` version the component exports (e.g. `0.1.0`).
    pub contract: String,
    /// Whether it was compiled now or loaded precompiled.
    pub cache: CacheOutcome,
    /// How long compiling it (or loading it from the cache) took.
    pub load_time: Duration,
    /// Every interface the component imports, as WIT names (`wasi:http/outgoing-handler@0.2.x`).
    pub imports: Vec<String>,
}

/// What a fresh instance is allowed to use: built from the connector's limits and what the
/// capability granter allowed (`inlet_broker::capabilities::grant`).
pub struct InstanceOptions {
    /// The connector the instance runs for: names its log lines, its plugin state and its
    /// network.
    pub connector_id: String,
    /// Most linear memory the plugin may grow to, in bytes (`limits.memory_mib`); growing past
    /// it traps, and the call fails with [`CallError::Memory`].
    pub memory_limit_bytes: usize,
    /// Wall-clock budget of each call into the plugin (`limits.call_timeout_secs`); past it the
    /// call fails with [`CallError::Deadline`] and the instance is not called again.
    pub call_timeout: Duration,
    /// Host directories mounted read-only at the same path.
    pub read_only_dirs: Vec<PathBuf>,
    /// Where the plugin's `state` import reads and commits; with `None` (inspections, checks)
    /// `get` finds nothing and `set` is refused.
    pub state: Option<Arc<StateStore>>,
    /// The connector's plugin-state quota (`limits.max_state_keys`, `limits.max_state_bytes`).
    pub state_quota: StateQuota,
    /// Set to stop the instance: a running call ends with [`CallError::Cancelled`] within a
    /// tick (10 ms) while the guest runs, or about 50 ms while it waits in a host call.
    pub cancel: Arc<AtomicBool>,
    /// Brokered HTTP for this connector; `None` refuses every request.
    pub network: Option<Arc<dyn brokers::HttpBroker>>,
    /// Databases this connector may open; `None` refuses every `sql` open.
    pub databases: Option<Arc<dyn brokers::SqlBroker>>,
    /// What the host may hold or open on the instance's behalf.
    pub budget: inlet_policy::budget::HostBudget,
}

/// The process's wasmtime engine and linker (WASI, `wasi:http` and the contract's imports) and
/// the compiled-plugin cache. An epoch ticker thread runs while it lives, driving the deadlines.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: cache::CompileCache,
    allocator: AllocatorKind,
    _ticker: engine::EpochTicker,
}

impl Runtime {
    /// Builds the engine (the pooling allocator, or on-demand allocation when the machine cannot
    /// reserve the pool's address space), the linker and the cache in `cache_dir` (created with
    /// mode 0700 if missing). Fails on a cache directory this user does not own or others may
    /// write to (compiled plugins are native code), naming the fix.
    pub fn new(settings: &EngineSettings, cache_dir: &Path) -> anyhow::Result<Self> {
        let (engine, allocator) = engine::build(settings).map_err(anyhow::Error::from)?;
        let mut linker = Linker::new(&engine);
        // WASI is linked whole so components from every toolchain load; what it can reach is
        // decided per store by the deny-by-default `WasiCtx` below.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(anyhow::Error::from)?;
        // `wasi:http` too, so ordinary HTTP clients work; every request goes through the
        // connector's broker (`host_state::http_hooks`), never straight out.
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)?;
        // What a guest makes the host open or hold is budgeted: these shadow the WASI and
        // `wasi:http` functions that open files or keep guest bytes in host memory.
        host_state::fs_guard::add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        host_state::http_budget::add_to_linker(&mut linker).map_err(anyhow::Error::from)?;
        since_v0_1::Connector::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(anyhow::Error::from)?;
        // The error names the path and the fix (create it, chmod it, or choose another).
        let cache = cache::CompileCache::new(cache_dir, &engine)
            .map_err(|e| anyhow::anyhow!("cannot use the plugin cache directory: {e}"))?;
        let ticker = engine::EpochTicker::start(&engine)?;
        Ok(Runtime {
            engine,
            linker,
            cache,
            allocator,
            _ticker: ticker,
        })
    }

    /// Which instance allocator the engine ended up with, for the start-up log line.
    pub fn allocator(&self) -> AllocatorKind {
        self.allocator
    }

    /// Compiles (or loads from the cache), checks the contract version and links the component.
    pub fn load(&self, bytes: &[u8], sha256: &[u8; 32]) -> Result<LoadedComponent, LoadError> {
        if !looks_like_component(bytes) {
            return Err(LoadError::Invalid(
                "the file is not a component (a core module or not WebAssembly at all); \
                 build it for wasm32-wasip2 or wrap it with `wasm-tools component new`"
                    .into(),
            ));
        }
        let loaded = self
            .cache
            .load_or_compile(&self.engine, bytes, sha256)
            .map_err(|e| match e {
                cache::CacheError::Compile(e) => LoadError::Invalid(format!("{e:#}")),
                cache::CacheError::Io(e) => LoadError::Cache(e.to_string()),
            })?;
        let component = loaded.component;
        let (imports, exports) = describe(&self.engine, &component);
        let contract = check_contract(&exports)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| missing_import(&e, &imports))?;
        // Optional: a component without it is asked for `sync.next-batch`.
        let json_lines = since_v0_1::json_lines::GuestIndices::new(&instance_pre).ok();
        let pre = since_v0_1::ConnectorPre::new(instance_pre)
            .map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        Ok(LoadedComponent {
            pre,
            json_lines,
            contract,
            cache: loaded.outcome,
            load_time: loaded.elapsed,
            imports,
        })
    }

    /// A fresh store and instance: nothing carries over from any earlier use.
    pub async fn instantiate(
        &self,
        component: &LoadedComponent,
        opts: InstanceOptions,
    ) -> Result<PluginInstance, CallError> {
        let log = GuestLog::new(&opts.connector_id);
        // The broker's refusals of this instance's requests share its log budget.
        if let Some(network) = &opts.network {
            network.attach_log(log.clone());
        }
        let mut wasi = WasiCtxBuilder::new();
        // Deny by default: no env, args, stdin, sockets or name lookups. Output goes to the
        // host's logs; files only where the operator granted a directory.
        wasi.stdout(wasmtime_wasi::cli::AsyncStdoutStream::new(
            64 * 1024,
            log.writer(false),
        ))
        .stderr(wasmtime_wasi::cli::AsyncStdoutStream::new(
            64 * 1024,
            log.writer(true),
        ));
        // File operations on granted directories run on the calling thread instead of a hop
        // through tokio's blocking pool per call (open, stat, read, ...): the `dir` connector
        // goes from ~2k to ~25k files/s. The cost: a read stuck on a hung network filesystem
        // holds one runtime worker until the kernel returns (the call deadline then fires
        // right after) instead of a pool thread; granted directories are meant to be local.
        wasi.allow_blocking_current_thread(true);
        for dir in &opts.read_only_dirs {
            let guest = dir.to_string_lossy().into_owned();
            wasi.preopened_dir(dir, &guest, FsPerms::ReadOnly)
                .map_err(|e| {
                    CallError::Setup(format!("cannot open granted directory {guest}: {e}"))
                })?;
        }
        // Every host object of the instance (header maps, streams, files, rows...) lives in
        // this table: its capacity is the handle budget.
        let mut table = wasmtime::component::ResourceTable::new();
        table.set_max_capacity(
            usize::try_from(opts.budget.limits().max_handles).unwrap_or(usize::MAX),
        );
        let state = HostState {
            wasi: wasi.build(),
            table,
            limiter: Limiter {
                max_memory_bytes: opts.memory_limit_bytes,
                max_table_elements: 1_000_000,
                peak_memory_bytes: 0,
            },
            deadline: None,
            cancel: opts.cancel,
            log,
            state: opts
                .state
                .map(|s| plugin_state::PluginState::new(s, &opts.connector_id, opts.state_quota)),
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_hooks: host_state::http_hooks::HttpHooks::new(
                &opts.connector_id,
                opts.network,
                opts.budget.clone(),
            ),
            sql: opts.databases,
            budget: opts.budget,
            http_held: Default::default(),
            files: Default::default(),
        };
        let transfer_limit = state.budget.limits().host_memory_bytes;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Whatever one call moves out of the guest (a batch returned, a host call's strings and
        // lists) is lifted into host memory before any of our code sees it. wasmtime's
        // hostcall fuel stops the lift at a byte count: make that count the instance's host
        // budget instead of wasmtime's fixed 128 MiB, so no single transfer gets past
        // `limits.host_memory_mib` even for a moment (`instance::classify` names the key).
        store.set_hostcall_fuel(usize::try_from(transfer_limit).unwrap_or(usize::MAX));
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| ctx.data().on_epoch());
        let started = Instant::now();
        store.data_mut().deadline = Some((started + opts.call_timeout, opts.call_timeout));
        let result =
            instance::instantiate(&component.pre, component.json_lines.as_ref(), &mut store).await;
        store.data_mut().deadline = None;
        let bindings = result.map_err(|e| instance::classify(e, &store, "instantiate"))?;
        tracing::debug!(connector_id = %opts.connector_id, elapsed = ?started.elapsed(), "plugin instantiated");
        Ok(PluginInstance::new(store, bindings, opts.call_timeout))
    }
}

/// Cheap structural check before handing bytes to the compiler: components and core modules
/// share the magic number and differ in the layer field.
fn looks_like_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[0..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

fn describe(engine: &Engine, component: &Component) -> (Vec<String>, Vec<String>) {
    let ty = component.component_type();
    let imports = ty.imports(engine).map(|(n, _)| n.to_owned()).collect();
    let exports = ty.exports(engine).map(|(n, _)| n.to_owned()).collect();
    (imports, exports)
}

/// Finds the contract version from the exported `inlet:connector/source@X.Y.Z`.
fn check_contract(exports: &[String]) -> Result<String, LoadError> {
    let Some(found) = exports
        .iter()
        .find_map(|e| e.strip_prefix("inlet:connector/source"))
    else {
        return Err(LoadError::NotAConnector {
            exports: if exports.is_empty() {
                "nothing".into()
            } else {
                exports.join(", ")
            },
        });
    };
    let version = found
        .strip_prefix('@')
        .unwrap_or("(unversioned)")
        .to_owned();
    let supported = since_v0_1::VERSION;
    if !semver_compatible(&version, supported) {
        return Err(LoadError::IncompatibleContract {
            found: version,
            supported: supported
                .rsplit_once('.')
                .map(|(a, _)| a.to_owned())
                .unwrap_or_default(),
        });
    }
    Ok(version)
}

/// Cargo's rule, which wasmtime's linker also follows: 0.x.* are compatible within one minor,
/// x.*.* within one major.
fn semver_compatible(found: &str, supported: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split('.');
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(found), parse(supported)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

fn missing_import(e: &wasmtime::Error, imports: &[String]) -> LoadError {
    let detail = format!("{e:#}");
    // wasmtime names the import in backticks; fall back to the first import it mentions.
    let import = detail
        .split('`')
        .nth(1)
        .map(str::to_owned)
        .or_else(|| {
            imports
                .iter()
                .find(|i| detail.contains(i.as_str()))
                .cloned()
        })
        .unwrap_or_else(|| "(unknown)".into());
    LoadError::MissingImport { import, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_versions() {
        assert!(semver_compatible("0.1.3", "0.1.0"));
        assert!(!semver_compatible("0.2.0", "0.1.0"));
        assert!(!semver_compatible("1.0.0", "0.1.0"));
        assert!(semver_compatible("1.4.0", "1.0.0"));
        let exports = vec!["inlet:connector/source@0.2.0".to_owned()];
        assert!(matches!(
            check_contract(&exports),
            Err(LoadError::IncompatibleContract { .. })
        ));
        assert!(matches!(
            check_contract(&["wasi:cli/run@0.2.0".to_owned()]),
            Err(LoadError::NotAConnector { .. })
        ));
    }
}
