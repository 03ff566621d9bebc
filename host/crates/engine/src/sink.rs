//! Where documents go: the embedded on-disk sink, or a cluster through the bulk indexer. The
//! sync engine sees one interface, with the same stale-deletion semantics on both.

pub mod dead_letter;
pub mod embedded;

use std::sync::Arc;

/// One bulk action (`source`: a JSON object in text, validated and never re-encoded). The
/// embedded sink and the cluster indexer take the same type.
pub use inlet_indexer::{Action, Op};

/// Serialized size of an action, for byte accounting.
pub fn action_bytes(a: &Action) -> u64 {
    (a.id.len() + a.source.as_ref().map_or(0, String::len)) as u64
}

/// Which index a sync writes and how.
#[derive(Debug, Clone)]
pub struct Target {
    pub connector_id: String,
    pub sync_id: String,
    pub index: String,
    /// Full syncs: documents not written by this sync are removed when it succeeds.
    pub stale_deletion: bool,
    /// Elastic semantics: the connector's own API key, used for writes to its index.
    pub api_key: Option<secrecy::SecretString>,
    /// Ingest pipeline for the documents (`_bulk?pipeline=`).
    pub pipeline: Option<String>,
}

/// Counts a sink reports for one sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SinkStats {
    pub indexed: u64,
    pub deleted: u64,
    pub dead_lettered: u64,
    pub stale_deleted: u64,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("embedded sink: {0}")]
    Embedded(String),
    #[error(transparent)]
    Cluster(#[from] inlet_indexer::IndexerError),
}

/// The sink of this process.
#[derive(Clone)]
pub enum Sink {
    Embedded(Arc<embedded::EmbeddedSink>),
    /// Elasticsearch or OpenSearch, through the shared bulk indexer.
    Cluster(inlet_indexer::Indexer),
}

impl Sink {
    pub async fn begin(&self, target: Target) -> Result<Writer, SinkError> {
        match self {
            Sink::Embedded(s) => Ok(Writer::Embedded(s.begin(target))),
            Sink::Cluster(indexer) => {
                use secrecy::ExposeSecret;
                let writer = indexer
                    .begin_sync(inlet_indexer::SyncTarget {
                        connector_id: target.connector_id,
                        sync_id: target.sync_id,
                        index: target.index,
                        api_key: target.api_key.map(|k| k.expose_secret().to_owned()),
                        pipeline: target.pipeline,
                        index_settings: None,
                        index_mappings: None,
                        stale_deletion: target.stale_deletion,
                    })
                    .await?;
                Ok(Writer::Cluster(writer))
            }
        }
    }

    /// Human description for logs ("embedded sink at …", "opensearch 2.19.6 at …").
    pub fn describe(&self) -> String {
        match self {
            Sink::Embedded(s) => format!("embedded sink at {}", s.dir().display()),
            Sink::Cluster(ix) => {
                let info = ix.flavour();
                format!("{:?} {} at {}", info.distribution, info.version, info.url).to_lowercase()
            }
        }
    }

    /// Flushes what is queued or in flight; call once, at the end of the process.
    pub async fn shutdown(&self) -> Result<(), SinkError> {
        match self {
            Sink::Embedded(_) => Ok(()),
            Sink::Cluster(ix) => Ok(ix.clone().shutdown().await?),
        }
    }
}

/// The writing side of one sync.
pub enum Writer {
    Embedded(embedded::Writer),
    Cluster(inlet_indexer::SyncWriter),
}

fn from_indexer(s: inlet_indexer::SyncStats) -> SinkStats {
    SinkStats {
        indexed: s.indexed,
        deleted: s.deleted,
        dead_lettered: s.dead_lettered,
        stale_deleted: s.stale_deleted,
        bytes: s.bytes,
    }
}

impl Writer {
    /// Sends a batch; waits while the sink is saturated (backpressure).
    pub async fn send_batch(&mut self, actions: Vec<Action>) -> Result<(), SinkError> {
        match self {
            Writer::Embedded(w) => w.send_batch(actions).await,
            Writer::Cluster(w) => Ok(w.send_batch(actions).await?),
        }
    }

    pub fn stats(&self) -> SinkStats {
        match self {
            Writer::Embedded(w) => w.stats(),
            Writer::Cluster(w) => from_indexer(w.stats()),
        }
    }

    /// Ends the sync once every document is acknowledged (indexed, deleted or dead-lettered).
    /// Stale documents are removed only when `succeeded` (never after an error). The counts
    /// come back whether or not finishing failed: what was indexed is in the index either way.
    pub async fn finish(self, succeeded: bool) -> (SinkStats, Result<(), SinkError>) {
        match self {
            Writer::Embedded(w) => w.finish(succeeded).await,
            Writer::Cluster(w) => {
                let outcome = if succeeded {
                    inlet_indexer::SyncOutcome::Succeeded
                } else {
                    inlet_indexer::SyncOutcome::Failed
                };
                match w.finish(outcome).await {
                    Ok(stats) => (from_indexer(stats), Ok(())),
                    Err(e) => (from_indexer(e.stats), Err(e.error.into())),
                }
            }
        }
    }
}
