//! The sandbox's limits as configured: the operator's caps (`inlet.limits`) and a connector's
//! requests within them (`connectors[].limits`). Defined here, below the configuration, so the
//! budget and the runtime read them without importing the configuration's other sections.

use serde::Deserialize;

/// Sandbox limits. Used both as the operator's caps (`inlet.limits`) and as per-connector
/// requests (`connectors[].limits`, every field optional there).
///
/// `memory_mib` caps the plugin's own linear memory; the `host_*`/`max_*` budgets cap what the
/// host holds or opens on the plugin's behalf (see [`super::budget`]), which the linear-memory
/// limit cannot see.
#[derive(Debug, Clone, Deserialize)]
pub struct Limits {
    /// `memory_mib`: linear memory per plugin instance, in MiB (default 512).
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u64,
    /// `call_timeout_secs`: wall-clock budget of one call into the plugin (one batch, one
    /// ping...), in seconds (default 300).
    #[serde(default = "default_call_timeout")]
    pub call_timeout_secs: u64,
    /// `max_document_bytes`: largest document body accepted from a plugin; a larger one is
    /// dead-lettered (default 10 MiB).
    #[serde(default = "default_max_document_bytes")]
    pub max_document_bytes: usize,
    /// `max_batch_docs`: most documents in one batch from a plugin; a larger batch fails the
    /// sync (default 10000).
    #[serde(default = "default_max_batch_docs")]
    pub max_batch_docs: usize,
    /// `host_memory_mib`: host memory held for one instance (`wasi:http` header maps and
    /// buffered request bodies, SQL rows waiting to be read), in MiB (default 64).
    #[serde(default = "default_host_memory_mib")]
    pub host_memory_mib: u64,
    /// `max_open_files`: files and directory listings one instance may hold open at once
    /// (default 64).
    #[serde(default = "default_max_open_files")]
    pub max_open_files: u64,
    /// `max_requests_in_flight`: `wasi:http` requests one instance may have sent and not yet
    /// seen answered (default 32).
    #[serde(default = "default_max_requests_in_flight")]
    pub max_requests_in_flight: u64,
    /// `max_handles`: host objects (handles of every kind: fields, streams, files, rows...)
    /// one instance may hold at once (default 4096).
    #[serde(default = "default_max_handles")]
    pub max_handles: u64,
    /// `max_state_keys`: keys a connector may keep in its plugin state (default 1000).
    #[serde(default = "default_max_state_keys")]
    pub max_state_keys: u64,
    /// `max_state_bytes`: bytes (keys and values) a connector may keep in its plugin state
    /// (default 4 MiB).
    #[serde(default = "default_max_state_bytes")]
    pub max_state_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mib: default_memory_mib(),
            call_timeout_secs: default_call_timeout(),
            max_document_bytes: default_max_document_bytes(),
            max_batch_docs: default_max_batch_docs(),
            host_memory_mib: default_host_memory_mib(),
            max_open_files: default_max_open_files(),
            max_requests_in_flight: default_max_requests_in_flight(),
            max_handles: default_max_handles(),
            max_state_keys: default_max_state_keys(),
            max_state_bytes: default_max_state_bytes(),
        }
    }
}

/// Per-connector limit requests (`connectors[].limits`). Each key means what it means in
/// [`Limits`]; unset, the operator's cap applies; set, it must be above 0 and at most the cap
/// (checked when the configuration loads).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LimitOverrides {
    /// `limits.memory_mib`, in MiB.
    pub memory_mib: Option<u64>,
    /// `limits.call_timeout_secs`, in seconds.
    pub call_timeout_secs: Option<u64>,
    /// `limits.max_document_bytes`, in bytes.
    pub max_document_bytes: Option<usize>,
    /// `limits.max_batch_docs`, in documents per batch.
    pub max_batch_docs: Option<usize>,
    /// `limits.host_memory_mib`, in MiB.
    pub host_memory_mib: Option<u64>,
    /// `limits.max_open_files`.
    pub max_open_files: Option<u64>,
    /// `limits.max_requests_in_flight`.
    pub max_requests_in_flight: Option<u64>,
    /// `limits.max_handles`.
    pub max_handles: Option<u64>,
    /// `limits.max_state_keys`.
    pub max_state_keys: Option<u64>,
    /// `limits.max_state_bytes`, in bytes.
    pub max_state_bytes: Option<u64>,
}

impl LimitOverrides {
    /// The limits in force: the request where given, else the cap.
    pub fn within(&self, caps: &Limits) -> Limits {
        Limits {
            memory_mib: self.memory_mib.unwrap_or(caps.memory_mib),
            call_timeout_secs: self.call_timeout_secs.unwrap_or(caps.call_timeout_secs),
            max_document_bytes: self.max_document_bytes.unwrap_or(caps.max_document_bytes),
            max_batch_docs: self.max_batch_docs.unwrap_or(caps.max_batch_docs),
            host_memory_mib: self.host_memory_mib.unwrap_or(caps.host_memory_mib),
            max_open_files: self.max_open_files.unwrap_or(caps.max_open_files),
            max_requests_in_flight: self
                .max_requests_in_flight
                .unwrap_or(caps.max_requests_in_flight),
            max_handles: self.max_handles.unwrap_or(caps.max_handles),
            max_state_keys: self.max_state_keys.unwrap_or(caps.max_state_keys),
            max_state_bytes: self.max_state_bytes.unwrap_or(caps.max_state_bytes),
        }
    }

    /// Each request against the operator's cap: the key (under `limits`) and why, for the
    /// first one that is 0 or over its cap.
    pub(crate) fn check(&self, caps: &Limits) -> Result<(), (&'static str, String)> {
        let over = |name: &'static str, asked: Option<u64>, cap: u64| match asked {
            Some(0) => Err((name, "must be greater than 0".to_owned())),
            Some(a) if a > cap => Err((
                name,
                format!("{a} exceeds the operator's cap inlet.limits.{name} = {cap}"),
            )),
            _ => Ok(()),
        };
        over("memory_mib", self.memory_mib, caps.memory_mib)?;
        over(
            "call_timeout_secs",
            self.call_timeout_secs,
            caps.call_timeout_secs,
        )?;
        over(
            "max_document_bytes",
            self.max_document_bytes.map(|v| v as u64),
            caps.max_document_bytes as u64,
        )?;
        over(
            "max_batch_docs",
            self.max_batch_docs.map(|v| v as u64),
            caps.max_batch_docs as u64,
        )?;
        over(
            "host_memory_mib",
            self.host_memory_mib,
            caps.host_memory_mib,
        )?;
        over("max_open_files", self.max_open_files, caps.max_open_files)?;
        over(
            "max_requests_in_flight",
            self.max_requests_in_flight,
            caps.max_requests_in_flight,
        )?;
        over("max_handles", self.max_handles, caps.max_handles)?;
        over("max_state_keys", self.max_state_keys, caps.max_state_keys)?;
        over(
            "max_state_bytes",
            self.max_state_bytes,
            caps.max_state_bytes,
        )
    }
}

fn default_memory_mib() -> u64 {
    512
}
fn default_call_timeout() -> u64 {
    300
}
fn default_max_document_bytes() -> usize {
    10 * 1024 * 1024
}
fn default_max_batch_docs() -> usize {
    10_000
}
/// 64 MiB: far more than a well-behaved connector holds (a few header maps, one SQL batch of
/// rows), and small enough that dozens of hostile instances stay well under a process's means.
fn default_host_memory_mib() -> u64 {
    64
}
/// Connectors read a file at a time; 64 leaves room for a walk that keeps a few directories
/// open. All plugins together are also held to half of the process's descriptor limit (see
/// [`super::budget`]), so the host's own sockets and files always have room.
fn default_max_open_files() -> u64 {
    64
}
/// Twice the default `grants.http_limits.max_concurrent_requests` (16): a plugin may queue
/// some requests behind the connector's concurrency limit, not thousands.
fn default_max_requests_in_flight() -> u64 {
    32
}
/// Handles of every kind (a `wasi:http` request alone takes half a dozen while in flight);
/// componentize-py and -js guests hold a few dozen at rest.
fn default_max_handles() -> u64 {
    4096
}
fn default_max_state_keys() -> u64 {
    1000
}
/// 4 MiB: checkpoints and small caches, not a database.
fn default_max_state_bytes() -> u64 {
    4 * 1024 * 1024
}
