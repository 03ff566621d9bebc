//! The one wasmtime [`Engine`] of the process: compiler settings, the pooling allocator (with a
//! fallback), and the epoch ticker that drives deadlines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. A guest notices its deadline at most one tick late, and yields
/// to the async executor once per tick, so other syncs on the same thread keep moving.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Settings that shape the engine. Every one of them is part of the compiled-code cache key
/// through [`Engine::precompile_compatibility_hash`].
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Upper bound of any plugin's linear memory, in bytes (the operator's cap,
    /// `inlet.limits.memory_mib`): the size of each memory slot in the pool.
    pub max_memory_bytes: u64,
    /// Instances the pool can hold at once (concurrent syncs, plus inspections).
    pub pooled_instances: u32,
}

/// Builds the engine. Tries the pooling allocator first (fast instantiation, bounded memory) and
/// falls back to on-demand allocation when the machine cannot reserve the address space for the
/// pool (small VMs, 39-bit address spaces), as Spin does.
pub(crate) fn build(settings: &EngineSettings) -> wasmtime::Result<(Engine, AllocatorKind)> {
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(settings.pooled_instances)
        // componentize-py and componentize-js components hold a dozen or more core instances
        // and several memories and tables: be generous per component, bounded in total.
        .total_core_instances(settings.pooled_instances * 24)
        .total_memories(settings.pooled_instances * 8)
        .total_tables(settings.pooled_instances * 24)
        .max_core_instances_per_component(64)
        .max_memories_per_component(8)
        .max_tables_per_component(24)
        .table_elements(200_000)
        .max_memory_size(settings.max_memory_bytes as usize)
        .linear_memory_keep_resident(1 << 20);

    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    match Engine::new(&config) {
        Ok(engine) => Ok((engine, AllocatorKind::Pooling)),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "the pooling allocator could not reserve its address space; \
                 falling back to on-demand instance allocation (slower instantiation)"
            );
            let mut config = base_config();
            config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
            Ok((Engine::new(&config)?, AllocatorKind::OnDemand))
        }
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        // Deadlines: a ticker thread bumps the epoch; each store traps once past its deadline.
        .epoch_interruption(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        // Guest stack overflow traps instead of taking the host down.
        .max_wasm_stack(1 << 20)
        .memory_init_cow(true);
    // Opt-in, for `perf record`: INLET_PERF_MAP=1 writes /tmp/perf-<pid>.map so guest functions
    // have names in `perf report` (docs/PERFORMANCE.md, "Interpreted guests"). Off by default.
    if std::env::var_os("INLET_PERF_MAP").is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocatorKind {
    /// Instances come from a pool reserved up front: fast instantiation, bounded memory.
    Pooling,
    /// The fallback when the pool's address space could not be reserved: slower
    /// instantiation, same limits (the store's limiter enforces them).
    OnDemand,
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`]; stops when dropped.
pub(crate) struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("inlet-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
