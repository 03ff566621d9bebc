//! One live plugin instance: every call gets a wall-clock deadline, and every failure becomes a
//! [`CallError`] that says what happened in words an operator can act on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::{ResourceAny, ResourceTableError};

use super::bindings::since_v0_1;
use super::bindings::since_v0_1::json_lines;
use super::host_state::{Cancelled, DeadlineExceeded, HostState, LimitExceeded};
use super::types;
use inlet_policy::budget::{BudgetExceeded, Charge, Resource as Limit, Usage};
use inlet_policy::job::JobType;

/// How wasmtime says a transfer from the guest ran past the store's hostcall fuel.
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// Extra time the host waits beyond a call's deadline before abandoning it: covers a guest
/// blocked inside an async host call, where epoch checks cannot fire.
const HOST_GRACE: Duration = Duration::from_secs(5);

/// How often a call blocked in the host looks at the cancellation flag. Epoch checks see it
/// while the guest runs; this covers a guest waiting in a host call (a slow server, a stalled
/// database), so SIGTERM or a cancel from Kibana ends the call within this much.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// Why a call into a plugin failed. After any failure but [`CallError::Plugin`] the instance is
/// poisoned (its state may be half-updated) and every later call returns
/// [`CallError::Poisoned`].
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The plugin itself reported an error; its kind says who can fix it.
    #[error("{}: {}", kind_name(.0.kind), .0.message)]
    Plugin(types::ConnectorError),
    /// The call ran past `limits.call_timeout_secs`.
    #[error("{call}: {source}")]
    Deadline {
        /// The call (`next-batch`, `ping`, `instantiate`, …).
        call: &'static str,
        /// The budget it ran past.
        source: DeadlineExceeded,
    },
    /// A linear memory or table tried to grow past the instance's limit (`limits.memory_mib`).
    #[error("{call}: the plugin exceeded its memory limit: {source}")]
    Memory {
        /// The call (`next-batch`, `ping`, `instantiate`, …).
        call: &'static str,
        /// What grew, and by how much.
        source: LimitExceeded,
    },
    /// The host asked the instance to stop
    /// ([`InstanceOptions::cancel`](crate::InstanceOptions::cancel)).
    #[error("{call}: cancelled")]
    Cancelled {
        /// The call (`next-batch`, `ping`, `instantiate`, …).
        call: &'static str,
    },
    /// The plugin made the host hold or open more than its host budget allows (memory, handles,
    /// requests in flight), even if it carried on after the refusal.
    #[error("{call}: {source}")]
    Budget {
        /// The call (`next-batch`, `ping`, `instantiate`, …).
        call: &'static str,
        /// The limit, naming its key (`limits.host_memory_mib`, …).
        source: BudgetExceeded,
    },
    /// The guest trapped: a panic, a stack overflow, a bad host call.
    #[error("{call}: the plugin trapped: {reason}")]
    Trap {
        /// The call (`next-batch`, `ping`, `instantiate`, …).
        call: &'static str,
        /// The trap in words, with the plugin's last stderr lines when it wrote any.
        reason: String,
    },
    /// The instance could not be built (a granted directory that cannot be opened).
    #[error("cannot set up the plugin's sandbox: {0}")]
    Setup(String),
    /// An earlier call failed and left the instance unusable.
    #[error("the instance is unusable after an earlier failure")]
    Poisoned,
}

pub(crate) fn kind_name(kind: types::ErrorKind) -> &'static str {
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
            CallError::Budget { .. } => "budget",
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
    if let Some(b) = e.downcast_ref::<BudgetExceeded>() {
        return CallError::Budget {
            call,
            source: b.clone(),
        };
    }
    // wasmtime's "hostcall fuel" (set to the host budget in `Runtime::instantiate`) ran out
    // while lifting what the guest handed over. Its error type is private, so it is known by
    // its message; tests/e2e/containment.rs fails if wasmtime rewords it.
    if format!("{e:#}").contains(HOSTCALL_FUEL_EXHAUSTED) {
        let budget = &store.data().budget;
        let limit = budget.limits().host_memory_bytes;
        let source = budget.remember(BudgetExceeded {
            resource: Limit::HostMemory,
            what: "one transfer out of the plugin's memory (a batch, a host call's arguments)",
            // The lift stops at the limit; the transfer was larger, by how much is unknown.
            wanted: limit.saturating_add(1),
            in_use: budget.usage().host_bytes,
            limit,
        });
        return CallError::Budget { call, source };
    }
    if let Some(ResourceTableError::Full) = e.downcast_ref::<ResourceTableError>() {
        let limit = store.data().budget.limits().max_handles;
        let source = store.data().budget.remember(BudgetExceeded {
            resource: Limit::Handles,
            what: "a new host object",
            wanted: 1,
            in_use: limit,
            limit,
        });
        return CallError::Budget { call, source };
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

/// How a guarded call ended.
enum Outcome<R> {
    Done(wasmtime::Result<R>),
    Deadline,
    Cancelled,
}

/// Runs one call into the guest until it returns, its budget (deadline plus grace) runs out, or
/// the sync is cancelled, whichever comes first. Dropping the call's future abandons the guest
/// mid-call; the instance is then poisoned and never called again.
async fn guard<R>(
    budget: Duration,
    cancel: &AtomicBool,
    call: impl Future<Output = wasmtime::Result<R>>,
) -> Outcome<R> {
    let cancelled = async {
        loop {
            if cancel.load(Ordering::Relaxed) {
                return;
            }
            tokio::time::sleep(CANCEL_POLL).await;
        }
    };
    tokio::select! {
        r = tokio::time::timeout(budget, call) => match r {
            Ok(r) => Outcome::Done(r),
            Err(_) => Outcome::Deadline,
        },
        () = cancelled => Outcome::Cancelled,
    }
}

/// One batch as the plugin handed it over.
#[derive(Debug)]
pub enum Batch {
    /// Documents as records (`sync.next-batch`, or the `json-lines` export's `documents`).
    Documents(Vec<types::Document>),
    /// JSON lines, one document per line (`inlet:connector/json-lines`), not yet checked (not
    /// even as UTF-8: the guest may hand them over as bytes).
    JsonLines(Vec<u8>),
}

impl Batch {
    /// Host bytes the lifted batch occupies: what the plugin made the host copy out of its
    /// memory. Records count their own size as well as their strings, so a batch of many empty
    /// documents is not free.
    pub fn host_bytes(&self) -> u64 {
        match self {
            Batch::JsonLines(bytes) => bytes.len() as u64,
            Batch::Documents(docs) => docs
                .iter()
                .map(|d| {
                    let attachment = match &d.attachment {
                        Some(types::Attachment::Bytes(b)) => b.len(),
                        Some(types::Attachment::Text(t)) => t.len(),
                        None => 0,
                    };
                    (std::mem::size_of::<types::Document>()
                        + d.id.len()
                        + d.body.len()
                        + d.timestamp.as_ref().map_or(0, String::len)
                        + attachment) as u64
                })
                .sum(),
        }
    }
}

/// A batch and its charge to the instance's `limits.host_memory_mib`: the host holds the
/// batch's bytes (and the documents made of them) until the sink has taken them, and gives the
/// charge back when this is dropped.
#[derive(Debug)]
pub struct HeldBatch {
    /// What the plugin handed over.
    pub batch: Batch,
    /// Its [`Batch::host_bytes`] against the instance's host budget, given back on drop.
    pub charge: Charge,
}

/// Instantiates the component and finds its exports: the `connector` world every plugin has,
/// and the optional `json-lines` interface when `lines` says the component exports it.
pub(super) async fn instantiate(
    pre: &since_v0_1::ConnectorPre<HostState>,
    lines: Option<&json_lines::GuestIndices>,
    store: &mut Store<HostState>,
) -> wasmtime::Result<(since_v0_1::Connector, Option<json_lines::Guest>)> {
    let instance = pre.instance_pre().instantiate_async(&mut *store).await?;
    let bindings = since_v0_1::Connector::new(&mut *store, &instance)?;
    let lines = match lines {
        Some(indices) => Some(indices.load(&mut *store, &instance).map_err(|e| {
            wasmtime::format_err!(
                "the plugin exports `inlet:connector/json-lines` in a shape this host does not know \
                 (rebuild it with this version's SDK): {e:#}"
            )
        })?),
        None => None,
    };
    Ok((bindings, lines))
}

/// One live instance of a plugin, in a store of its own (from
/// [`Runtime::instantiate`](crate::Runtime::instantiate)): the contract's calls, each under the
/// instance's deadline and cancellation, and what it used. Dropping it discards any plugin
/// state it has not flushed.
pub struct PluginInstance {
    store: Store<HostState>,
    bindings: since_v0_1::Connector,
    /// The plugin's `json-lines` export, asked for batches instead of `sync.next-batch`.
    json_lines: Option<json_lines::Guest>,
    call_timeout: Duration,
    poisoned: bool,
}

impl PluginInstance {
    pub(super) fn new(
        store: Store<HostState>,
        (bindings, json_lines): (since_v0_1::Connector, Option<json_lines::Guest>),
        call_timeout: Duration,
    ) -> Self {
        PluginInstance {
            store,
            bindings,
            json_lines,
            call_timeout,
            poisoned: false,
        }
    }

    /// Whether batches come as JSON lines (the plugin exports `inlet:connector/json-lines`).
    pub fn hands_json_lines(&self) -> bool {
        self.json_lines.is_some()
    }

    /// Commits what the plugin wrote to its state (`state.set`/`delete`) since the last flush,
    /// in one transaction. The sync engine calls it after each step it has accepted — after
    /// `start_sync`, after each batch is handed to the sink, after the cursor — and never after
    /// a failed call: what a failed step wrote is dropped with the instance (see
    /// `plugin_state`). A poisoned instance's staged writes are dropped here too.
    pub fn flush_state(&mut self) -> Result<(), inlet_store::StoreError> {
        let poisoned = self.poisoned;
        match self.store.data_mut().state.as_mut() {
            Some(state) if poisoned => {
                state.discard();
                Ok(())
            }
            Some(state) => state.flush(),
            None => Ok(()),
        }
    }

    /// Peak linear memory seen so far, in bytes.
    pub fn peak_memory(&self) -> usize {
        self.store.data().limiter.peak_memory_bytes
    }

    /// High-water marks of what the host held for this instance.
    pub fn host_peak(&self) -> Usage {
        self.store.data().budget.peak()
    }

    fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.store.data().cancel.clone()
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

    /// Ends a call: classifies its outcome, and fails it if the plugin ran into a host budget
    /// during the call even though it carried on (it got an error it may have ignored).
    fn settle<R>(&mut self, call: &'static str, outcome: Outcome<R>) -> Result<R, CallError> {
        self.store.data_mut().deadline = None;
        let result = match outcome {
            Outcome::Done(Ok(r)) => Ok(r),
            Outcome::Done(Err(e)) => Err(classify(e, &self.store, call)),
            Outcome::Deadline => Err(CallError::Deadline {
                call,
                source: DeadlineExceeded(self.call_timeout),
            }),
            Outcome::Cancelled => Err(CallError::Cancelled { call }),
        };
        let result = match (result, self.store.data().budget.exceeded()) {
            (Ok(_), Some(source)) => Err(CallError::Budget { call, source }),
            (r, _) => r,
        };
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn budget(&self) -> Duration {
        self.call_timeout + HOST_GRACE
    }

    /// The plugin's `metadata`: service type, name, version, features (must not touch the
    /// network).
    pub async fn metadata(&mut self) -> Result<types::Metadata, CallError> {
        self.arm()?;
        let (budget, cancel) = (self.budget(), self.cancel_flag());
        let guest = self.bindings.inlet_connector_source();
        let out = guard(budget, &cancel, guest.call_metadata(&mut self.store)).await;
        self.settle("metadata", out)
    }

    /// The plugin's configuration form, in Elastic's Rich Configurable Fields shape.
    pub async fn configuration_schema(&mut self) -> Result<Vec<types::ConfigField>, CallError> {
        self.arm()?;
        let (budget, cancel) = (self.budget(), self.cancel_flag());
        let guest = self.bindings.inlet_connector_source();
        let out = guard(
            budget,
            &cancel,
            guest.call_configuration_schema(&mut self.store),
        )
        .await;
        self.settle("configuration-schema", out)
    }

    /// The plugin's own checks of `configuration`, beyond what the schema says (combinations,
    /// formats); its refusal is a [`CallError::Plugin`].
    pub async fn validate_config(
        &mut self,
        configuration: &[types::ConfigValue],
    ) -> Result<(), CallError> {
        self.arm()?;
        let (budget, cancel) = (self.budget(), self.cancel_flag());
        let guest = self.bindings.inlet_connector_source();
        let out = guard(
            budget,
            &cancel,
            guest.call_validate_config(&mut self.store, configuration),
        )
        .await;
        self.settle("validate-config", out)?
            .map_err(CallError::Plugin)
    }

    /// Asks the plugin to reach the source with `configuration` (Kibana's connection check).
    pub async fn ping(&mut self, configuration: &[types::ConfigValue]) -> Result<(), CallError> {
        self.arm()?;
        let (budget, cancel) = (self.budget(), self.cancel_flag());
        let guest = self.bindings.inlet_connector_source();
        let out = guard(
            budget,
            &cancel,
            guest.call_ping(&mut self.store, configuration),
        )
        .await;
        self.settle("ping", out)?.map_err(CallError::Plugin)
    }

    /// The plugin's check of advanced sync rules (`rules`, JSON text) before Kibana activates
    /// them.
    pub async fn validate_advanced_rules(
        &mut self,
        configuration: &[types::ConfigValue],
        rules: &str,
    ) -> Result<types::RulesValidation, CallError> {
        self.arm()?;
        let (budget, cancel) = (self.budget(), self.cancel_flag());
        let guest = self.bindings.inlet_connector_source();
        let out = guard(
            budget,
            &cancel,
            guest.call_validate_advanced_rules(&mut self.store, configuration, rules),
        )
        .await;
        self.settle("validate-advanced-rules", out)?
            .map_err(CallError::Plugin)
    }

    /// Starts a sync; returns the handle to pull batches from.
    pub async fn start_sync(
        &mut self,
        kind: JobType,
        request: &types::SyncRequest,
    ) -> Result<ResourceAny, CallError> {
        self.arm()?;
        let (budget, cancel) = (self.budget(), self.cancel_flag());
        let guest = self.bindings.inlet_connector_source();
        let (call, out) = match kind {
            JobType::Full => (
                "full-sync",
                guard(
                    budget,
                    &cancel,
                    guest.call_full_sync(&mut self.store, request),
                )
                .await,
            ),
            JobType::Incremental => (
                "incremental-sync",
                guard(
                    budget,
                    &cancel,
                    guest.call_incremental_sync(&mut self.store, request),
                )
                .await,
            ),
            JobType::AccessControl => (
                "access-control-sync",
                guard(
                    budget,
                    &cancel,
                    guest.call_access_control_sync(&mut self.store, request),
                )
                .await,
            ),
        };
        self.settle(call, out)?.map_err(CallError::Plugin)
    }

    /// The next batch, or `None` when the sync is complete: from the `json-lines` export when
    /// the plugin has one, else from `sync.next-batch`.
    ///
    /// Either way the batch is charged to the instance's host budget (`limits.host_memory_mib`)
    /// until the returned [`HeldBatch`] is dropped. The charge is taken once the canonical ABI
    /// has lifted the batch: that transient copy is bounded by the plugin's own memory
    /// (`limits.memory_mib`), which the batch came out of; what the host keeps past the call is
    /// bounded by the budget.
    pub async fn next_batch(&mut self, sync: ResourceAny) -> Result<Option<HeldBatch>, CallError> {
        self.arm()?;
        let (budget, cancel) = (self.budget(), self.cancel_flag());
        let (call, batch) = if let Some(lines) = &self.json_lines {
            let call = "json-lines.next-batch";
            let out = guard(
                budget,
                &cancel,
                lines.call_next_batch(&mut self.store, sync),
            )
            .await;
            let batch = self.settle(call, out)?.map_err(CallError::Plugin)?;
            let batch = batch.map(|b| match b {
                json_lines::Batch::Documents(docs) => Batch::Documents(docs),
                json_lines::Batch::JsonLines(text) => Batch::JsonLines(text.into_bytes()),
                json_lines::Batch::JsonLinesUtf8(bytes) => Batch::JsonLines(bytes),
            });
            (call, batch)
        } else {
            let call = "next-batch";
            let guest = self.bindings.inlet_connector_source().sync();
            let out = guard(
                budget,
                &cancel,
                guest.call_next_batch(&mut self.store, sync),
            )
            .await;
            let docs = self.settle(call, out)?.map_err(CallError::Plugin)?;
            (call, docs.map(Batch::Documents))
        };
        let Some(batch) = batch else {
            return Ok(None);
        };
        match self
            .store
            .data()
            .budget
            .charge(batch.host_bytes(), "a batch")
        {
            Ok(charge) => Ok(Some(HeldBatch { batch, charge })),
            Err(source) => {
                // As after any failed call: the sync ends and the instance is not called again.
                self.poisoned = true;
                Err(CallError::Budget { call, source })
            }
        }
    }

    /// The cursor to resume from in the next incremental sync, read once [`Self::next_batch`]
    /// returned `None` (`None`: the plugin keeps none).
    pub async fn cursor(&mut self, sync: ResourceAny) -> Result<Option<String>, CallError> {
        self.arm()?;
        let (budget, cancel) = (self.budget(), self.cancel_flag());
        let guest = self.bindings.inlet_connector_source().sync();
        let out = guard(budget, &cancel, guest.call_cursor(&mut self.store, sync)).await;
        self.settle("cursor", out)
    }

    /// Releases the guest's sync resource (its destructor runs in the guest).
    pub async fn end_sync(&mut self, sync: ResourceAny) -> Result<(), CallError> {
        self.arm()?;
        let (budget, cancel) = (self.budget(), self.cancel_flag());
        let out = guard(budget, &cancel, sync.resource_drop_async(&mut self.store)).await;
        self.settle("drop sync", out)
    }
}

#[cfg(test)]
mod tests {
    use std::future::pending;

    use tokio::io::AsyncWriteExt as _;
    use wasmtime::component::ResourceTable;
    use wasmtime::{Engine, Trap};

    use super::*;
    use crate::host_state::Limiter;
    use crate::host_state::http_hooks::HttpHooks;
    use inlet_policy::budget::{BudgetLimits, HostBudget};
    use inlet_policy::guest_output::GuestLog;

    const LIMITS: BudgetLimits = BudgetLimits {
        host_memory_bytes: 1 << 20,
        max_open_files: 4,
        max_requests_in_flight: 4,
        max_handles: 50,
    };

    /// A store as `Runtime::instantiate` builds one, without a component: what `classify`
    /// reads is the store's budget and log.
    fn store() -> Store<HostState> {
        let budget = HostBudget::new(LIMITS);
        let state = HostState {
            wasi: wasmtime_wasi::WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limiter: Limiter {
                max_memory_bytes: 1 << 20,
                max_table_elements: 1000,
                peak_memory_bytes: 0,
            },
            deadline: None,
            cancel: Arc::new(AtomicBool::new(false)),
            log: GuestLog::new("c1"),
            state: None,
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            http_hooks: HttpHooks::new("c1", None, budget.clone()),
            sql: None,
            budget,
            http_held: Default::default(),
            files: Default::default(),
        };
        Store::new(&Engine::default(), state)
    }

    #[test]
    fn each_cause_gets_its_own_error_and_class() {
        let s = store();
        let deadline = classify(
            DeadlineExceeded(Duration::from_secs(7)).into(),
            &s,
            "next-batch",
        );
        assert!(
            matches!(&deadline, CallError::Deadline { call: "next-batch", source } if source.0 == Duration::from_secs(7)),
            "{deadline:?}"
        );
        let memory = LimitExceeded {
            what: "linear memory",
            desired: 2 << 20,
            limit: 1 << 20,
        };
        let memory = classify(memory.into(), &s, "start");
        assert!(
            matches!(&memory, CallError::Memory { source, .. } if source.desired == 2 << 20),
            "{memory:?}"
        );
        assert!(matches!(
            classify(Cancelled.into(), &s, "start"),
            CallError::Cancelled { call: "start" }
        ));
        let files = BudgetExceeded {
            resource: Limit::OpenFiles,
            what: "a file",
            wanted: 1,
            in_use: 4,
            limit: 4,
        };
        let files = classify(files.into(), &s, "next-batch");
        assert!(
            matches!(&files, CallError::Budget { source, .. } if source.resource == Limit::OpenFiles),
            "{files:?}"
        );
        assert_eq!(
            [&deadline, &memory, &files].map(CallError::class),
            ["deadline", "memory", "budget"]
        );
    }

    #[test]
    fn running_out_of_hostcall_fuel_is_the_host_memory_budget() {
        let s = store();
        // wasmtime's own wording, wrapped in the context a lift adds.
        let e = wasmtime::format_err!("{HOSTCALL_FUEL_EXHAUSTED}").context("lifting the batch");
        match classify(e, &s, "next-batch") {
            CallError::Budget { source, .. } => {
                assert_eq!(source.resource, Limit::HostMemory);
                assert_eq!(source.limit, LIMITS.host_memory_bytes);
                assert!(source.wanted > source.limit, "{source:?}");
            }
            other => panic!("{other:?}"),
        }
        // The first refusal is remembered for the sync's report.
        assert!(s.data().budget.exceeded().is_some());
    }

    #[test]
    fn a_full_resource_table_is_the_handle_budget() {
        let s = store();
        match classify(ResourceTableError::Full.into(), &s, "next-batch") {
            CallError::Budget { source, .. } => {
                assert_eq!(source.resource, Limit::Handles);
                assert_eq!(source.limit, LIMITS.max_handles);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_trap_says_what_it_means_and_quotes_the_plugins_last_stderr() {
        let s = store();
        let reason = |e: CallError| match e {
            CallError::Trap { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        assert!(reason(classify(Trap::StackOverflow.into(), &s, "start")).contains("recursion"));
        assert!(
            reason(classify(Trap::UnreachableCodeReached.into(), &s, "start"))
                .contains("a panic or abort in the plugin")
        );
        let mut stderr = s.data().log.writer(true);
        stderr
            .write_all(b"thread panicked at src/lib.rs:3\n")
            .await
            .expect("write");
        stderr.flush().await.expect("flush");
        let why = reason(classify(
            wasmtime::format_err!("wasm trap"),
            &s,
            "next-batch",
        ));
        assert!(
            why.starts_with("wasm trap; last plugin stderr: thread panicked at src/lib.rs:3"),
            "{why}"
        );
    }

    #[tokio::test]
    async fn a_call_ends_at_its_deadline_or_when_cancelled() {
        let flag = AtomicBool::new(false);
        let never = pending::<wasmtime::Result<()>>();
        assert!(matches!(
            guard(Duration::from_millis(20), &flag, never).await,
            Outcome::Deadline
        ));
        flag.store(true, Ordering::Relaxed);
        let never = pending::<wasmtime::Result<()>>();
        assert!(matches!(
            guard(Duration::from_secs(60), &flag, never).await,
            Outcome::Cancelled
        ));
        let flag = AtomicBool::new(false);
        assert!(matches!(
            guard(Duration::from_secs(60), &flag, async { Ok(5) }).await,
            Outcome::Done(Ok(5))
        ));
    }

    #[test]
    fn a_batch_costs_its_bytes_and_each_record() {
        assert_eq!(Batch::JsonLines(vec![b'x'; 100]).host_bytes(), 100);
        let doc = |body: &str| types::Document {
            id: "id-1".into(),
            timestamp: None,
            body: body.into(),
            op: types::Operation::Index,
            attachment: Some(types::Attachment::Text("abc".into())),
        };
        let record = std::mem::size_of::<types::Document>() as u64;
        assert_eq!(
            Batch::Documents(vec![doc("{}"), doc("")]).host_bytes(),
            2 * record + (4 + 2 + 3) + (4 + 3)
        );
    }
}
