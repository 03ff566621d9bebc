//! The one public error type. Every message names what was tried (URL, index, file) and what to check,
//! because these errors end up in front of an operator, not a developer.

use std::path::PathBuf;

/// Everything that can go wrong in the indexer, seen from the caller.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    /// The configuration cannot work (empty host list, bad Cloud ID, unreadable CA file...).
    #[error("invalid indexer configuration: {0}")]
    Config(String),

    /// No configured host answered at all.
    #[error(
        "cannot reach the search cluster at {url}: {reason}. Check that Elasticsearch/OpenSearch is running, \
         that `hosts` (or `cloud_id`) is right, and for https that `ca_certs`/`verify_certs` match the server's certificate"
    )]
    Unreachable { url: String, reason: String },

    /// The cluster answered 401/403: the credentials are wrong or lack a privilege.
    #[error(
        "the search cluster at {url} refused our credentials for {what} (HTTP {status}: {reason}). \
         Check the configured api_key or username/password{hint}"
    )]
    Unauthorized {
        url: String,
        what: String,
        status: u16,
        reason: String,
        hint: String,
    },

    /// The cluster answered, but not with something we understand (e.g. `GET /` is not Elasticsearch).
    #[error("unexpected answer from {url} to {what}: HTTP {status}: {reason}")]
    Unexpected {
        url: String,
        what: String,
        status: u16,
        reason: String,
    },

    /// The action was refused before it reached the queue: it could never be indexed.
    #[error("invalid action for index {index} (id {id:?}): {reason}")]
    InvalidAction {
        index: String,
        id: String,
        reason: String,
    },

    /// The indexer is shutting down (or the sync was already finished): nothing more is accepted.
    #[error("the indexer is shut down; no more actions are accepted")]
    Closed,

    /// A dead-letter record could not be written. This stops the sync from claiming success,
    /// because a document we could neither index nor record would otherwise be lost silently.
    #[error(
        "cannot write the dead-letter file {path}: {source}; check that the directory is writable and the disk not full"
    )]
    DeadLetter {
        path: PathBuf,
        source: std::io::Error,
    },

    /// Stale-document deletion after a successful full sync failed; the documents indexed by the sync are safe.
    #[error("deleting stale documents from index {index} failed: {reason}")]
    StaleDeletion { index: String, reason: String },

    /// A bug in the indexer (a background task panicked or the counters disagree). Please report it.
    #[error("internal indexer error: {0}")]
    Internal(String),
}
