//! The dead-letter file: every document that could not be written, with the reason, so nothing
//! is lost. NDJSON, one file per connector under `<data_dir>/dead-letter/`, appended.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

/// One line of the dead-letter file.
#[derive(Debug, Serialize)]
pub(crate) struct Entry<'a> {
    pub(crate) time: String,
    pub(crate) connector_id: &'a str,
    pub(crate) sync_id: &'a str,
    pub(crate) index: &'a str,
    pub(crate) id: &'a str,
    pub(crate) op: &'a str,
    /// HTTP status of the item, when a cluster refused it.
    pub(crate) status: Option<u16>,
    pub(crate) error: ErrorInfo<'a>,
    /// The document as the plugin sent it (as a string when it is not valid JSON).
    pub(crate) document: &'a serde_json::value::RawValue,
}

/// Why a document was refused, in Elasticsearch's `error` shape (`type`, `reason`).
#[derive(Debug, Serialize)]
pub(crate) struct ErrorInfo<'a> {
    #[serde(rename = "type")]
    pub(crate) kind: &'a str,
    pub(crate) reason: &'a str,
}

/// The dead-letter directory; writes from concurrent syncs are serialized.
pub(crate) struct DeadLetters {
    dir: PathBuf,
    lock: Mutex<()>,
}

impl DeadLetters {
    pub(crate) fn new(dir: &Path) -> Self {
        DeadLetters {
            dir: dir.to_path_buf(),
            lock: Mutex::new(()),
        }
    }

    /// The file of a connector: its id with every character but ASCII letters, digits, `-`
    /// and `_` replaced by `_`, so an id cannot leave the directory.
    pub(crate) fn path_for(&self, connector_id: &str) -> PathBuf {
        let safe: String = connector_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.ndjson"))
    }

    /// Appends entries and syncs them to disk before returning. All entries go to the file of
    /// the first one's connector: a call carries one connector's entries.
    pub(crate) fn write(&self, entries: &[Entry<'_>]) -> std::io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let _guard = self
            .lock
            .lock()
            .map_err(|_| std::io::Error::other("dead-letter lock poisoned"))?;
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path_for(entries[0].connector_id);
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        let mut buf = Vec::new();
        for e in entries {
            serde_json::to_writer(&mut buf, e)?;
            buf.push(b'\n');
        }
        file.write_all(&buf)?;
        file.sync_data()
    }
}
