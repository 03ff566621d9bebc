//! Inlet's shared bulk indexer.
//!
//! Every connector's documents flow through one [`Indexer`] into Elasticsearch 8/9 or OpenSearch 2.x via
//! `_bulk`. Per sync, a [`SyncWriter`] queues [`Action`]s; a batcher per sync cuts them into requests by bytes,
//! count and time; a shared, adaptive limit bounds the requests in flight. Failures are handled per item:
//! transient ones are resent (only the failed items), permanent ones go to a dead-letter file with the
//! document, so after [`SyncWriter::finish`] `indexed + deleted + dead_lettered == emitted`, always.
//!
//! Memory is bounded whatever the size of a sync: a byte budget in front of the batchers
//! (`channel_bytes`), one batch being built per sync, and at most `max_in_flight` batches in flight
//! (a batch waiting to retry keeps its slot).

mod action;
mod batch;
mod body_pool;
mod bulk;
mod cluster;
mod concurrency;
mod config;
mod dead_letter;
mod error;
mod indexer;
mod response;
mod retry;
mod setup;
mod stale;
mod stats;
mod sync;
pub mod tls;
mod transport;

#[cfg(feature = "testing")]
pub mod testing;

pub use action::{Action, Op};
pub use cluster::{ClusterInfo, Distribution};
pub use config::{Auth, ConflictPolicy, IndexerConfig, cloud_endpoint};
pub use error::IndexerError;
pub use indexer::Indexer;
pub use response::ErrorInfo;
pub use stats::SyncStats;
pub use sync::{FinishError, SyncOutcome, SyncTarget, SyncWriter};
