//! One live plugin instance: every call gets a wall-clock deadline, and every failure becomes a
//! [`CallError`] that says what happened in words an operator can act on.

use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::ResourceAny;

use super::bindings::since_v0_1;
use super::host_state::{Cancelled, DeadlineExceeded, HostState, LimitExceeded};
use super::types;

/// Extra time the host waits beyond a call's deadline before abandoning it: covers a guest
/// blocked inside an async host call, where epoch checks cannot fire.
const HOST_GRACE: Duration = Duration::from_secs(5);

/// Why a call into a plugin failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin itself reported an error.
    #[error("{}: {}", kind_name(.0.kind), .0.message)]
    Plugin(types::ConnectorError),
    #[error("{call}: {source}")]
    Deadline {
        call: &'static str,
        source: DeadlineExceeded,
    },
    #[error("{call}: the plugin exceeded its memory limit: {source}")]
    Memory {
        call: &'static str,
        source: LimitExceeded,
    },
    #[error("{call}: cancelled")]
    Cancelled { call: &'static str },
    #[error("{call}: the plugin trapped: {reason}")]
    Trap { call: &'static str, reason: String },
    #[error("cannot set up the plugin's sandbox: {0}")]
    Setup(String),
    #[error("the instance is unusable after an earlier failure")]
    Poisoned,
}

pub fn kind_name(kind: types::ErrorKind) -> &'static str {
    match kind {
        types::ErrorKind::Config => "configuration error",
        types::ErrorKind::Auth => "authentication error",
        types::ErrorKind::Network => "network error",
        types::ErrorKind::Source => "source error",
        types::ErrorKind::Cancelled => "cancelled",
        types::ErrorKind::Internal => "internal plugin error",
    }
}

impl CallError {
    /// Short machine-readable class, for counters and job records.
    pub fn class(&self) -> &'static str {
        match self {
            CallError::Plugin(e) => match e.kind {
                types::ErrorKind::Config => "config",
                types::ErrorKind::Auth => "auth",
                types::ErrorKind::Network => "network",
                types::ErrorKind::Source => "source",
                types::ErrorKind::Cancelled => "cancelled",
                types::ErrorKind::Internal => "internal",
            },
            CallError::Deadline { .. } => "deadline",
            CallError::Memory { .. } => "memory",
            CallError::Cancelled { .. } => "cancelled",
            CallError::Trap { .. } => "trap",
            CallError::Setup(_) => "setup",
            CallError::Poisoned => "poisoned",
        }
    }
}

/// Turns a wasmtime error from a call into a [`CallError`].
pub(super) fn classify(
    e: wasmtime::Error,
    store: &Store<HostState>,
    call: &'static str,
) -> CallError {
    if let Some(d) = e.downcast_ref::<DeadlineExceeded>() {
        return CallError::Deadline {
            call,
            source: DeadlineExceeded(d.0),
        };
    }
    if let Some(l) = e.downcast_ref::<LimitExceeded>() {
        return CallError::Memory {
            call,
            source: LimitExceeded {
                what: l.what,
                desired: l.desired,
                limit: l.limit,
            },
        };
    }
    if e.downcast_ref::<Cancelled>().is_some() {
        return CallError::Cancelled { call };
    }
    let mut reason = match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::StackOverflow) => "stack overflow (runaway recursion?)".to_owned(),
        Some(wasmtime::Trap::UnreachableCodeReached) => {
            "unreachable code reached (a panic or abort in the plugin)".to_owned()
        }
        Some(trap) => trap.to_string(),
        None => format!("{e:#}"),
    };
    let tail = store.data().log.stderr_tail();
    if !tail.is_empty() {
        reason.push_str("; last plugin stderr: ");
        reason.push_str(&tail.join(" | "));
    }
    CallError::Trap { call, reason }
}

/// Which export starts a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    Full,
    Incremental,
    AccessControl,
}

pub struct PluginInstance {
    store: Store<HostState>,
    bindings: since_v0_1::Connector,
    call_timeout: Duration,
    poisoned: bool,
}

impl PluginInstance {
    pub(super) fn new(
        store: Store<HostState>,
        bindings: since_v0_1::Connector,
        call_timeout: Duration,
    ) -> Self {
        PluginInstance {
            store,
            bindings,
            call_timeout,
            poisoned: false,
        }
    }

    /// Peak linear memory seen so far, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.store.data().limiter.peak_memory_bytes
    }

    /// Starts a call: refuses a poisoned instance and sets the call's deadline. After a trap or
    /// a timeout the instance is poisoned: its state may be half-updated, so it must not be
    /// called again.
    fn arm(&mut self) -> Result<(), CallError> {
        if self.poisoned {
            return Err(CallError::Poisoned);
        }
        let timeout = self.call_timeout;
        self.store.data_mut().deadline = Some((Instant::now() + timeout, timeout));
        Ok(())
    }

    fn settle<R>(
        &mut self,
        call: &'static str,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
    ) -> Result<R, CallError> {
        self.store.data_mut().deadline = None;
        match outcome {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                self.poisoned = true;
                Err(classify(e, &self.store, call))
            }
            Err(_) => {
                self.poisoned = true;
                Err(CallError::Deadline {
                    call,
                    source: DeadlineExceeded(self.call_timeout),
                })
            }
        }
    }

    fn budget(&self) -> Duration {
        self.call_timeout + HOST_GRACE
    }

    pub async fn metadata(&mut self) -> Result<types::Metadata, CallError> {
        self.arm()?;
        let budget = self.budget();
        let guest = self.bindings.inlet_connector_source();
        let out = tokio::time::timeout(budget, guest.call_metadata(&mut self.store)).await;
        self.settle("metadata", out)
    }

    pub async fn configuration_schema(&mut self) -> Result<Vec<types::ConfigField>, CallError> {
        self.arm()?;
        let budget = self.budget();
        let guest = self.bindings.inlet_connector_source();
        let out =
            tokio::time::timeout(budget, guest.call_configuration_schema(&mut self.store)).await;
        self.settle("configuration-schema", out)
    }

    pub async fn validate_config(
        &mut self,
        configuration: &[types::ConfigValue],
    ) -> Result<(), CallError> {
        self.arm()?;
        let budget = self.budget();
        let guest = self.bindings.inlet_connector_source();
        let out = tokio::time::timeout(
            budget,
            guest.call_validate_config(&mut self.store, configuration),
        )
        .await;
        self.settle("validate-config", out)?
            .map_err(CallError::Plugin)
    }

    pub async fn ping(&mut self, configuration: &[types::ConfigValue]) -> Result<(), CallError> {
        self.arm()?;
        let budget = self.budget();
        let guest = self.bindings.inlet_connector_source();
        let out =
            tokio::time::timeout(budget, guest.call_ping(&mut self.store, configuration)).await;
        self.settle("ping", out)?.map_err(CallError::Plugin)
    }

    pub async fn validate_advanced_rules(
        &mut self,
        configuration: &[types::ConfigValue],
        rules: &str,
    ) -> Result<types::RulesValidation, CallError> {
        self.arm()?;
        let budget = self.budget();
        let guest = self.bindings.inlet_connector_source();
        let out = tokio::time::timeout(
            budget,
            guest.call_validate_advanced_rules(&mut self.store, configuration, rules),
        )
        .await;
        self.settle("validate-advanced-rules", out)?
            .map_err(CallError::Plugin)
    }

    /// Starts a sync; returns the handle to pull batches from.
    pub async fn start_sync(
        &mut self,
        kind: SyncKind,
        request: &types::SyncRequest,
    ) -> Result<ResourceAny, CallError> {
        self.arm()?;
        let budget = self.budget();
        let guest = self.bindings.inlet_connector_source();
        let (call, out) = match kind {
            SyncKind::Full => (
                "full-sync",
                tokio::time::timeout(budget, guest.call_full_sync(&mut self.store, request)).await,
            ),
            SyncKind::Incremental => (
                "incremental-sync",
                tokio::time::timeout(
                    budget,
                    guest.call_incremental_sync(&mut self.store, request),
                )
                .await,
            ),
            SyncKind::AccessControl => (
                "access-control-sync",
                tokio::time::timeout(
                    budget,
                    guest.call_access_control_sync(&mut self.store, request),
                )
                .await,
            ),
        };
        self.settle(call, out)?.map_err(CallError::Plugin)
    }

    /// The next batch, or `None` when the sync is complete.
    pub async fn next_batch(
        &mut self,
        sync: ResourceAny,
    ) -> Result<Option<Vec<types::Document>>, CallError> {
        self.arm()?;
        let budget = self.budget();
        let guest = self.bindings.inlet_connector_source().sync();
        let out = tokio::time::timeout(budget, guest.call_next_batch(&mut self.store, sync)).await;
        self.settle("next-batch", out)?.map_err(CallError::Plugin)
    }

    pub async fn cursor(&mut self, sync: ResourceAny) -> Result<Option<String>, CallError> {
        self.arm()?;
        let budget = self.budget();
        let guest = self.bindings.inlet_connector_source().sync();
        let out = tokio::time::timeout(budget, guest.call_cursor(&mut self.store, sync)).await;
        self.settle("cursor", out)
    }

    /// Releases the guest's sync resource (its destructor runs in the guest).
    pub async fn end_sync(&mut self, sync: ResourceAny) -> Result<(), CallError> {
        self.arm()?;
        let budget = self.budget();
        let out = tokio::time::timeout(budget, sync.resource_drop_async(&mut self.store)).await;
        self.settle("drop sync", out)
    }
}
