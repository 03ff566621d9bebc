//! Where documents go: the embedded on-disk sink, or a cluster through the bulk indexer. The
//! sync engine sees one interface, with the same stale-deletion semantics on both.

pub mod dead_letter;
pub mod embedded;

/// What to do with one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Index,
    Delete,
}

/// One bulk action. `source` is a JSON object in text, validated and never re-encoded.
#[derive(Debug, Clone)]
pub struct Action {
    pub id: String,
    pub op: Op,
    pub source: Option<String>,
}

impl Action {
    /// Serialized size, for byte accounting.
    pub fn bytes(&self) -> u64 {
        (self.id.len() + self.source.as_ref().map_or(0, String::len)) as u64
    }
}

/// Which index a sync writes and how.
#[derive(Debug, Clone)]
pub struct Target {
    pub connector_id: String,
    pub sync_id: String,
    pub index: String,
    /// Full syncs: documents not written by this sync are removed when it succeeds.
    pub stale_deletion: bool,
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
}

/// The sink of this process.
#[derive(Clone)]
pub enum Sink {
    Embedded(std::sync::Arc<embedded::EmbeddedSink>),
}

impl Sink {
    pub async fn begin(&self, target: Target) -> Result<Writer, SinkError> {
        match self {
            Sink::Embedded(s) => Ok(Writer::Embedded(s.begin(target))),
        }
    }

    /// Human description for logs ("embedded sink at …", "cluster at …").
    pub fn describe(&self) -> String {
        match self {
            Sink::Embedded(s) => format!("embedded sink at {}", s.dir().display()),
        }
    }
}

/// The writing side of one sync.
pub enum Writer {
    Embedded(embedded::Writer),
}

impl Writer {
    /// Sends a batch; waits while the sink is saturated (backpressure).
    pub async fn send_batch(&mut self, actions: Vec<Action>) -> Result<(), SinkError> {
        match self {
            Writer::Embedded(w) => w.send_batch(actions).await,
        }
    }

    pub fn stats(&self) -> SinkStats {
        match self {
            Writer::Embedded(w) => w.stats(),
        }
    }

    /// Ends the sync. Stale documents are removed only when `succeeded` (never after an error).
    pub async fn finish(self, succeeded: bool) -> Result<SinkStats, SinkError> {
        match self {
            Writer::Embedded(w) => w.finish(succeeded).await,
        }
    }
}
