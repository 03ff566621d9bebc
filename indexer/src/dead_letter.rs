//! The dead-letter files: one NDJSON line per action we gave up on, with the document as the host sent it,
//! so an operator can fix the mapping (or the data) and replay it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;
use serde_json::value::RawValue;

use crate::IndexerError;
use crate::response::ErrorInfo;

#[derive(Serialize)]
pub(crate) struct Record<'a> {
    pub time: String,
    pub connector_id: &'a str,
    pub sync_id: &'a str,
    pub index: &'a str,
    pub op: crate::Op,
    pub id: &'a str,
    /// HTTP status of the item or request; `null` when no answer came (connection errors, timeouts).
    pub status: Option<u16>,
    pub error: &'a ErrorInfo,
    pub document: Option<&'a RawValue>,
}

/// Appends to `dead-letter-<index>.ndjson` under the configured directory; files stay open for the process.
pub(crate) struct DeadLetters {
    dir: PathBuf,
    files: Mutex<HashMap<String, File>>,
}

impl DeadLetters {
    pub(crate) fn new(dir: &Path) -> Result<Arc<DeadLetters>, IndexerError> {
        std::fs::create_dir_all(dir).map_err(|source| IndexerError::DeadLetter {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Arc::new(DeadLetters {
            dir: dir.to_owned(),
            files: Mutex::new(HashMap::new()),
        }))
    }

    pub(crate) fn path_for(&self, index: &str) -> PathBuf {
        // Index names cannot contain `/` or `\`, but a file name must never escape the directory whatever we get.
        let safe: String = index
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("dead-letter-{safe}.ndjson"))
    }

    /// Writes already-serialized lines (each ending with `\n`) in one `write_all`, straight to the OS
    /// (no user-space buffer), so a crash right after cannot lose them. Blocking: call from `spawn_blocking`.
    pub(crate) fn append(&self, index: &str, lines: &[u8]) -> Result<(), IndexerError> {
        let path = self.path_for(index);
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        let file = match files.entry(index.to_owned()) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|source| IndexerError::DeadLetter {
                        path: path.clone(),
                        source,
                    })?;
                v.insert(f)
            }
        };
        file.write_all(lines)
            .and_then(|()| file.flush())
            .map_err(|source| IndexerError::DeadLetter { path, source })
    }
}

/// Serializes one record as a line.
pub(crate) fn line(out: &mut Vec<u8>, record: &Record<'_>) {
    // Serializing plain strings and numbers into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, record);
    out.push(b'\n');
}

pub(crate) fn now() -> String {
    jiff::Timestamp::now().to_string()
}
