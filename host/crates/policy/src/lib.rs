//! Inlet's policy: what the operator grants and configures (`config`: config.yml, its grants,
//! credentials and databases), what a plugin asks for (`manifest`: plugin.toml, its permissions
//! and form-credential declarations), and the sandbox's rules as plain types — which origins a
//! plugin may reach (`http`), the limits a connector runs under (`limits`), what the host may
//! hold on an instance's behalf (`budget`), how guest-supplied text is made safe to log
//! (`guest_output`), basic sync rules (`sync_rules`) and a job's type and status (`job`).
//!
//! It is the bottom of the host's crates: the brokers, the runtime, the sync engine and the
//! Kibana protocol all read these types, and nothing here knows about any of them
//! (docs/ARCHITECTURE.md).

#![warn(missing_docs, unreachable_pub)]

pub mod budget;
pub mod config;
pub mod guest_output;
pub mod http;
pub mod job;
pub mod limits;
pub mod manifest;
pub mod sync_rules;
