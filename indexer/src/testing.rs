//! Test servers speaking the real `_bulk` wire format (feature `testing`): a fault-injecting fake cluster
//! with a document store, and a null server that acknowledges everything as fast as it can.
//! Used by this crate's tests and examples, and meant for the host's end-to-end tests too.

pub mod fake;
pub mod http;
pub mod null;

pub use fake::{FakeCluster, Faults, LoggedRequest, Verdict};
