//! The dead-letter file: every document that could not be written, with the reason, so nothing
//! is lost. NDJSON, one file per connector under `<data_dir>/dead-letter/`, appended.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub time: String,
    pub connector_id: &'a str,
    pub sync_id: &'a str,
    pub index: &'a str,
    pub id: &'a str,
    pub op: &'a str,
    /// HTTP status of the item, when a cluster refused it.
    pub status: Option<u16>,
    pub error: ErrorInfo<'a>,
    /// The document as the plugin sent it (as a string when it is not valid JSON).
    pub document: &'a serde_json::value::RawValue,
}

#[derive(Debug, Serialize)]
pub struct ErrorInfo<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub reason: &'a str,
}

pub struct DeadLetters {
    dir: PathBuf,
    lock: Mutex<()>,
}

impl DeadLetters {
    pub fn new(dir: &Path) -> Self {
        DeadLetters {
            dir: dir.to_path_buf(),
            lock: Mutex::new(()),
        }
    }

    pub fn path_for(&self, connector_id: &str) -> PathBuf {
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

    /// Appends entries and flushes them to the OS before returning.
    pub fn write(&self, entries: &[Entry<'_>]) -> std::io::Result<()> {
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
