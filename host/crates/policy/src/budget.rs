//! What the host holds on one plugin instance's behalf, budgeted.
//!
//! Linear memory is the guest's own and the `ResourceLimiter` caps it. Everything the *host*
//! allocates or opens because a guest asked for it lives outside that limit: `wasi:http` header
//! maps and request bodies, SQL rows waiting to be read, open files and directory listings,
//! requests waiting for an answer. A hostile plugin could otherwise grow the host's memory or
//! use up its file descriptors and hurt every other connector in the process. Each such
//! allocation takes a [`Charge`] (or a [`Slot`]) from the instance's [`HostBudget`] first and
//! gives it back when the object goes away.
//!
//! Going over a limit fails the request that did it and is remembered: the sync engine checks
//! [`HostBudget::exceeded`] after each call and fails the sync with the reason, so a plugin that
//! swallows the error still does not get to keep going (the way a trap would end it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Outgoing `wasi:http` bodies buffer `BODY_BUFFER_CHUNKS + 1` chunks of up to this many bytes
/// in host memory (set through `broker::HttpHooks`, charged by `http_budget`).
pub const BODY_CHUNK_BYTES: usize = 64 * 1024;
/// Chunks an outgoing body buffers besides the one being written (see [`BODY_CHUNK_BYTES`]).
pub const BODY_BUFFER_CHUNKS: usize = 1;

/// The limits of one instance, from the connector's `limits:` within the operator's caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLimits {
    /// Bytes the host holds for the instance at once (`limits.host_memory_mib`).
    pub host_memory_bytes: u64,
    /// Files and directory listings open at once (`limits.max_open_files`).
    pub max_open_files: u64,
    /// `wasi:http` requests sent and not yet answered (`limits.max_requests_in_flight`).
    pub max_requests_in_flight: u64,
    /// Host objects (handles of every kind) the instance may hold (`limits.max_handles`).
    pub max_handles: u64,
}

impl Default for BudgetLimits {
    fn default() -> Self {
        let l = super::limits::Limits::default();
        BudgetLimits::from_limits(&l)
    }
}

impl BudgetLimits {
    /// The host-side part of a connector's limits in force (MiB turned into bytes).
    pub fn from_limits(l: &super::limits::Limits) -> Self {
        BudgetLimits {
            host_memory_bytes: l.host_memory_mib.saturating_mul(1024 * 1024),
            max_open_files: l.max_open_files,
            max_requests_in_flight: l.max_requests_in_flight,
            max_handles: l.max_handles,
        }
    }
}

/// Which limit a plugin ran into; names the key that raises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Bytes the host holds for the instance (`limits.host_memory_mib`).
    HostMemory,
    /// The instance's own open files and listings (`limits.max_open_files`).
    OpenFiles,
    /// All plugins' open files together (a share of the process's descriptor limit).
    ProcessOpenFiles,
    /// The instance's unanswered `wasi:http` requests (`limits.max_requests_in_flight`).
    RequestsInFlight,
    /// The instance's resource table is full (`limits.max_handles`); raised by the runtime,
    /// which owns that table, not by a [`HostBudget`] counter.
    Handles,
}

impl Resource {
    /// The `limits.*` key of a connector (capped by `inlet.limits.*`).
    pub(crate) fn key(self) -> &'static str {
        match self {
            Resource::HostMemory => "limits.host_memory_mib",
            Resource::OpenFiles => "limits.max_open_files",
            Resource::ProcessOpenFiles => "limits.max_open_files",
            Resource::RequestsInFlight => "limits.max_requests_in_flight",
            Resource::Handles => "limits.max_handles",
        }
    }

    fn unit(self) -> &'static str {
        match self {
            Resource::HostMemory => "bytes of host memory",
            Resource::OpenFiles => "open files",
            Resource::ProcessOpenFiles => {
                "open files of all plugins together (half the process's descriptor limit, `ulimit -n`)"
            }
            Resource::RequestsInFlight => "HTTP requests in flight",
            Resource::Handles => "host handles",
        }
    }
}

/// A plugin asked the host for more than its budget allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the plugin exceeded its host budget: {what} needed {wanted} {unit} with {in_use} in use (limit {limit}); raise connectors[].{key} (within inlet.{key}) if the source really needs more",
    unit = .resource.unit(),
    key = .resource.key()
)]
pub struct BudgetExceeded {
    /// The limit that was hit; its key is what the operator raises.
    pub resource: Resource,
    /// What was being allocated, e.g. `wasi:http fields`.
    pub what: &'static str,
    /// The amount asked for, in the resource's unit (bytes, files, requests, handles).
    pub wanted: u64,
    /// The amount already held when it was refused.
    pub in_use: u64,
    /// The limit in force, in the same unit.
    pub limit: u64,
}

#[derive(Debug)]
struct Counter {
    used: AtomicU64,
    peak: AtomicU64,
    limit: u64,
    resource: Resource,
}

impl Counter {
    fn new(resource: Resource, limit: u64) -> Self {
        Counter {
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            limit,
            resource,
        }
    }

    fn take(&self, n: u64, what: &'static str) -> Result<(), BudgetExceeded> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let next = used.saturating_add(n);
            if next > self.limit {
                return Err(BudgetExceeded {
                    resource: self.resource,
                    what,
                    wanted: n,
                    in_use: used,
                    limit: self.limit,
                });
            }
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::Relaxed);
                    return Ok(());
                }
                Err(actual) => used = actual,
            }
        }
    }

    fn give(&self, n: u64) {
        // Never below zero, even if a release is miscounted.
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(n))
            });
    }
}

/// Plugins together may hold at most this share of the process's file descriptors, whatever
/// each instance's own limit: the host's sockets (cluster, databases, brokered HTTP) and files
/// (sink, state, dead letters) always keep the other half.
fn process_files() -> &'static Counter {
    static FILES: OnceLock<Counter> = OnceLock::new();
    FILES.get_or_init(|| Counter::new(Resource::ProcessOpenFiles, descriptor_limit() / 2))
}

/// The process's soft limit of open file descriptors.
#[cfg(unix)]
fn descriptor_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; no other memory is touched.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur
    } else {
        1024
    }
}

#[cfg(not(unix))]
fn descriptor_limit() -> u64 {
    1024
}

/// Raises the process's soft descriptor limit to its hard limit (as servers commonly do; the
/// default soft limit of 1024 is low for many concurrent syncs). Call once at start, before any
/// plugin opens a file. Returns the limit in force.
#[cfg(unix)]
pub fn raise_descriptor_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit read and write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                tracing::debug!(
                    "cannot raise the open-files limit; keeping {}",
                    lim.rlim_cur
                );
            }
        }
    }
    descriptor_limit()
}

/// Elsewhere there is no soft limit to raise; returns the assumed limit.
#[cfg(not(unix))]
pub fn raise_descriptor_limit() -> u64 {
    descriptor_limit()
}

#[derive(Debug)]
struct Inner {
    bytes: Counter,
    files: Counter,
    requests: Counter,
    limits: BudgetLimits,
    exceeded: Mutex<Option<BudgetExceeded>>,
}

/// The budget of one plugin instance. Cheap to clone; charges may outlive the store (a response
/// body still streaming, a row stream's task).
#[derive(Debug, Clone)]
pub struct HostBudget {
    inner: Arc<Inner>,
}

impl HostBudget {
    /// A fresh budget, nothing charged, for one instance.
    pub fn new(limits: BudgetLimits) -> Self {
        HostBudget {
            inner: Arc::new(Inner {
                bytes: Counter::new(Resource::HostMemory, limits.host_memory_bytes),
                files: Counter::new(Resource::OpenFiles, limits.max_open_files),
                requests: Counter::new(Resource::RequestsInFlight, limits.max_requests_in_flight),
                limits,
                exceeded: Mutex::new(None),
            }),
        }
    }

    /// The limits it was made with (the runtime sizes the resource table by `max_handles`).
    pub fn limits(&self) -> BudgetLimits {
        self.inner.limits
    }

    /// Takes `bytes` of host memory for `what`; given back when the [`Charge`] drops.
    pub fn charge(&self, bytes: u64, what: &'static str) -> Result<Charge, BudgetExceeded> {
        self.inner
            .bytes
            .take(bytes, what)
            .map_err(|e| self.remember(e))?;
        Ok(Charge {
            budget: self.inner.clone(),
            bytes,
        })
    }

    /// An empty charge, to grow with [`Charge::resize`].
    pub fn empty_charge(&self) -> Charge {
        Charge {
            budget: self.inner.clone(),
            bytes: 0,
        }
    }

    /// Takes one open file, from the instance's limit and from the plugins' share of the
    /// process's descriptors.
    pub fn open_file(&self, what: &'static str) -> Result<Slot, BudgetExceeded> {
        self.inner
            .files
            .take(1, what)
            .map_err(|e| self.remember(e))?;
        if let Err(e) = process_files().take(1, what) {
            self.inner.files.give(1);
            return Err(self.remember(e));
        }
        Ok(Slot {
            budget: self.inner.clone(),
            kind: SlotKind::File,
        })
    }

    /// Takes one request in flight.
    pub fn start_request(&self, what: &'static str) -> Result<Slot, BudgetExceeded> {
        self.inner
            .requests
            .take(1, what)
            .map_err(|e| self.remember(e))?;
        Ok(Slot {
            budget: self.inner.clone(),
            kind: SlotKind::Request,
        })
    }

    /// Records a limit hit somewhere the host cannot return an error through this budget (the
    /// resource table filling up).
    pub fn remember(&self, e: BudgetExceeded) -> BudgetExceeded {
        let mut first = self
            .inner
            .exceeded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if first.is_none() {
            *first = Some(e.clone());
        }
        e
    }

    /// The first limit the plugin ran into, if any: the sync fails with it.
    pub fn exceeded(&self) -> Option<BudgetExceeded> {
        self.inner
            .exceeded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// What is charged now.
    pub fn usage(&self) -> Usage {
        Usage {
            host_bytes: self.inner.bytes.used.load(Ordering::Relaxed),
            open_files: self.inner.files.used.load(Ordering::Relaxed),
            requests_in_flight: self.inner.requests.used.load(Ordering::Relaxed),
        }
    }

    /// The high-water marks so far.
    pub fn peak(&self) -> Usage {
        Usage {
            host_bytes: self.inner.bytes.peak.load(Ordering::Relaxed),
            open_files: self.inner.files.peak.load(Ordering::Relaxed),
            requests_in_flight: self.inner.requests.peak.load(Ordering::Relaxed),
        }
    }
}

/// A snapshot of a budget's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// Bytes of host memory charged.
    pub host_bytes: u64,
    /// Files and directory listings open.
    pub open_files: u64,
    /// `wasi:http` requests sent and not yet answered.
    pub requests_in_flight: u64,
}

/// Bytes charged to a budget, given back on drop.
#[derive(Debug)]
pub struct Charge {
    budget: Arc<Inner>,
    bytes: u64,
}

impl Charge {
    /// The bytes this charge holds now.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Makes this charge `bytes` large (the object grew or shrank). On refusal the charge keeps
    /// its old size.
    pub fn resize(&mut self, bytes: u64, what: &'static str) -> Result<(), BudgetExceeded> {
        if bytes > self.bytes {
            let budget = HostBudget {
                inner: self.budget.clone(),
            };
            budget
                .inner
                .bytes
                .take(bytes - self.bytes, what)
                .map_err(|e| budget.remember(e))?;
        } else {
            self.budget.bytes.give(self.bytes - bytes);
        }
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.bytes.give(self.bytes);
    }
}

#[derive(Debug, Clone, Copy)]
enum SlotKind {
    File,
    Request,
}

/// One open file or request in flight, given back on drop.
#[derive(Debug)]
pub struct Slot {
    budget: Arc<Inner>,
    kind: SlotKind,
}

impl Drop for Slot {
    fn drop(&mut self) {
        match self.kind {
            SlotKind::File => {
                self.budget.files.give(1);
                process_files().give(1);
            }
            SlotKind::Request => self.budget.requests.give(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> HostBudget {
        HostBudget::new(BudgetLimits {
            host_memory_bytes: 100,
            max_open_files: 2,
            max_requests_in_flight: 1,
            max_handles: 10,
        })
    }

    #[test]
    fn charges_are_given_back_on_drop() {
        let b = small();
        let a = b.charge(60, "a").expect("fits");
        let err = b.charge(50, "b").expect_err("over");
        assert_eq!(err.resource, Resource::HostMemory);
        assert_eq!((err.wanted, err.in_use, err.limit), (50, 60, 100));
        assert!(err.to_string().contains("limits.host_memory_mib"), "{err}");
        drop(a);
        let _c = b.charge(100, "c").expect("fits again");
        assert_eq!(b.usage().host_bytes, 100);
        assert_eq!(b.peak().host_bytes, 100);
        // The first refusal is what the sync reports.
        assert_eq!(b.exceeded().map(|e| e.what), Some("b"));
    }

    #[test]
    fn a_charge_resizes_within_the_limit() {
        let b = small();
        let mut c = b.empty_charge();
        c.resize(80, "grow").expect("fits");
        assert!(c.resize(101, "grow more").is_err());
        assert_eq!(c.bytes(), 80);
        c.resize(10, "shrink").expect("shrinks");
        assert_eq!(b.usage().host_bytes, 10);
        drop(c);
        assert_eq!(b.usage().host_bytes, 0);
    }

    #[test]
    fn slots_count_files_and_requests() {
        let b = small();
        let f1 = b.open_file("open").expect("1");
        let _f2 = b.open_file("open").expect("2");
        let e = b.open_file("open").expect_err("3");
        assert!(e.to_string().contains("limits.max_open_files"), "{e}");
        drop(f1);
        let _f3 = b.open_file("open").expect("room again");
        let _r = b.start_request("send").expect("1");
        assert!(b.start_request("send").is_err());
        assert_eq!(b.usage().open_files, 2);
        assert_eq!(b.peak().requests_in_flight, 1);
    }
}
