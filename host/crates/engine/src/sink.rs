//! Where documents go: the embedded on-disk sink, or a cluster through the bulk indexer. The
//! sync engine sees one interface, with the same stale-deletion semantics on both.

pub(crate) mod dead_letter;
pub mod embedded;

use std::sync::Arc;

/// One bulk action (`source`: a JSON object in text, validated and never re-encoded). The
/// embedded sink and the cluster indexer take the same type.
pub(crate) use inlet_indexer::{Action, Op};

/// Size of an action for byte accounting: its id and body, in bytes.
pub(crate) fn action_bytes(a: &Action) -> u64 {
    (a.id.len() + a.source.as_ref().map_or(0, String::len)) as u64
}

/// Which index a sync writes and how.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) connector_id: String,
    /// The job id; the embedded sink's ledger records it per document, so stale deletion
    /// knows what this sync wrote.
    pub(crate) sync_id: String,
    pub(crate) index: String,
    /// Full and access-control syncs: documents not written by this sync are removed when it
    /// succeeds.
    pub(crate) stale_deletion: bool,
    /// Elastic semantics: the connector's own API key, used for writes to its index.
    pub(crate) api_key: Option<secrecy::SecretString>,
    /// Ingest pipeline for the documents (`_bulk?pipeline=`).
    pub(crate) pipeline: Option<String>,
}

/// Counts a sink reports for one sync; each means what the field of the same name in the
/// sync report's `SyncStats` means.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct SinkStats {
    pub(crate) indexed: u64,
    pub(crate) deleted: u64,
    pub(crate) dead_lettered: u64,
    pub(crate) stale_deleted: u64,
    pub(crate) bytes: u64,
}

/// A sink that cannot take or finish a sync's documents; it fails the sync.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The embedded sink's file or ledger: what failed, on which file.
    #[error("embedded sink: {0}")]
    Embedded(String),
    /// The cluster indexer's error (the cluster unreachable, the credentials refused, an
    /// answer it does not understand, ...).
    #[error(transparent)]
    Cluster(#[from] inlet_indexer::IndexerError),
}

/// The sink of this process, chosen at start: a cluster when `elasticsearch.host` or
/// `cloud_id` is set, else the embedded sink. Cloning shares it.
#[derive(Clone)]
pub enum Sink {
    /// NDJSON files under `<data_dir>/sink`, one per index.
    Embedded(Arc<embedded::EmbeddedSink>),
    /// Elasticsearch or OpenSearch, through the shared bulk indexer.
    Cluster(inlet_indexer::Indexer),
}

impl Sink {
    /// Starts writing one sync's documents to `target`'s index.
    pub(crate) async fn begin(&self, target: Target) -> Result<Writer, SinkError> {
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
    pub(crate) fn describe(&self) -> String {
        match self {
            Sink::Embedded(s) => format!("embedded sink at {}", s.dir().display()),
            Sink::Cluster(ix) => {
                let info = ix.flavour();
                format!("{:?} {} at {}", info.distribution, info.version, info.url).to_lowercase()
            }
        }
    }

    /// Flushes what the cluster indexer holds, queued or in flight (the embedded sink has
    /// written everything when a sync finishes); call once, at the end of the process, after
    /// the last sync.
    pub async fn shutdown(&self) -> Result<(), SinkError> {
        match self {
            Sink::Embedded(_) => Ok(()),
            Sink::Cluster(ix) => Ok(ix.clone().shutdown().await?),
        }
    }
}

/// The writing side of one sync.
pub(crate) enum Writer {
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
    pub(crate) async fn send_batch(&mut self, actions: Vec<Action>) -> Result<(), SinkError> {
        match self {
            Writer::Embedded(w) => w.send_batch(actions).await,
            Writer::Cluster(w) => Ok(w.send_batch(actions).await?),
        }
    }

    /// The counts so far.
    pub(crate) fn stats(&self) -> SinkStats {
        match self {
            Writer::Embedded(w) => w.stats(),
            Writer::Cluster(w) => from_indexer(w.stats()),
        }
    }

    /// Ends the sync once every document is acknowledged (indexed, deleted or dead-lettered).
    /// Stale documents are removed only when `succeeded` (never after an error). The counts
    /// come back whether or not finishing failed: what was indexed is in the index either way.
    pub(crate) async fn finish(self, succeeded: bool) -> (SinkStats, Result<(), SinkError>) {
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
