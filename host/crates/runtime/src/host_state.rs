//! What a plugin's store holds: its WASI context (deny-by-default), its `wasi:http` context with
//! the broker's hooks, resource limits and host budget, deadline, log pipe and state handle. The
//! host side of the `log` and `state` imports is in `guest_services`.
//!
//! Two parts of it shadow WASI functions to budget what the guest makes the host hold, and keep
//! their books in this state: [`fs_guard`] (files and listings a guest opens) and
//! [`http_budget`] (the `wasi:http` objects it builds). They are submodules because the state
//! and its guards are one unit: the state holds their books, they are defined on the state.

pub(crate) mod fs_guard;
pub(crate) mod http_budget;
pub(crate) mod http_hooks;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use inlet_policy::budget::HostBudget;
use inlet_policy::guest_output::GuestLog;

/// The call ran past its wall-clock budget.
#[derive(Debug, thiserror::Error)]
#[error("the plugin ran past its deadline of {0:?} for one call")]
pub struct DeadlineExceeded(
    /// The budget: the instance's `call_timeout` (`limits.call_timeout_secs`).
    pub Duration,
);

/// The host asked the plugin to stop.
#[derive(Debug, thiserror::Error)]
#[error("the sync was cancelled")]
pub(crate) struct Cancelled;

/// A linear memory or table tried to grow past the plugin's limit.
#[derive(Debug, thiserror::Error)]
#[error("the plugin tried to grow {what} to {desired} (limit {limit})")]
pub struct LimitExceeded {
    /// `linear memory` or `a table`.
    pub what: &'static str,
    /// The size it asked for: bytes for a memory, elements for a table.
    pub desired: usize,
    /// The limit, in the same unit.
    pub limit: usize,
}

/// Memory and table limits, with the high-water mark kept for reports.
pub(crate) struct Limiter {
    pub max_memory_bytes: usize,
    pub max_table_elements: usize,
    pub peak_memory_bytes: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            // An error (not `Ok(false)`) traps at once with a reason, instead of handing the
            // guest a failed `memory.grow` it may mishandle.
            return Err(LimitExceeded {
                what: "linear memory",
                desired,
                limit: self.max_memory_bytes,
            }
            .into());
        }
        self.peak_memory_bytes = self.peak_memory_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            return Err(LimitExceeded {
                what: "a table",
                desired,
                limit: self.max_table_elements,
            }
            .into());
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        64
    }
    fn tables(&self) -> usize {
        64
    }
    fn memories(&self) -> usize {
        16
    }
}

pub(crate) struct HostState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limiter: Limiter,
    /// When the current call must end; `None` between calls.
    pub(super) deadline: Option<(Instant, Duration)>,
    pub(super) cancel: Arc<AtomicBool>,
    pub(super) log: GuestLog,
    /// The connector's plugin state, staged until the sync engine flushes it.
    pub(super) state: Option<super::plugin_state::PluginState>,
    pub(super) http: wasmtime_wasi_http::WasiHttpCtx,
    pub(super) http_hooks: http_hooks::HttpHooks,
    /// The connector's SQL grants (see `sql_host`).
    pub(super) sql: Option<Arc<dyn crate::brokers::SqlBroker>>,
    /// What the host holds on this instance's behalf (see `budget`).
    pub(super) budget: HostBudget,
    /// Charges of the `wasi:http` objects the guest built (see `http_budget`).
    pub(super) http_held: http_budget::HttpHeld,
    /// Files and listings the guest holds open (see `fs_guard`).
    pub(super) files: fs_guard::FilesHeld,
}

impl HostState {
    /// Called on every epoch tick while the guest runs: trap past the deadline or on
    /// cancellation, else yield to the executor so other syncs on this thread progress.
    pub(super) fn on_epoch(&self) -> wasmtime::Result<UpdateDeadline> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Cancelled.into());
        }
        match self.deadline {
            Some((at, budget)) if Instant::now() >= at => Err(DeadlineExceeded(budget).into()),
            _ => Ok(UpdateDeadline::Yield(1)),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl wasmtime_wasi_http::WasiHttpView for HostState {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

/// Runs `define` with shadowing allowed, so its functions replace ones WASI already linked (the
/// budgeted versions of `fs_guard` and `http_budget`); a name defined twice by mistake elsewhere
/// still fails.
fn shadowing(
    linker: &mut wasmtime::component::Linker<HostState>,
    define: impl FnOnce(&mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let defined = define(linker);
    linker.allow_shadowing(false);
    defined
}
