//! Elastic's `dir` connector: one document per file under a directory.
//!
//! The directory must be granted to the connector by the operator (`grants.files` in
//! config.yml); the plugin sees it read-only at the same path and nothing else of the host.
//! The tree is walked lazily, one batch at a time, so a huge tree never sits in memory.

use std::fs::{self, ReadDir};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use inlet_sdk::{
    Config, ConfigField, Connector, DocStream, Document, ErrorKind, Metadata, Result, SyncRequest,
    error, field,
};

/// Text files up to this size get their content in `body`.
const DEFAULT_MAX_TEXT_BYTES: i64 = 1024 * 1024;
const BATCH: usize = 200;

struct Dir;

struct Walk {
    root: PathBuf,
    pattern: glob::Pattern,
    /// Directories still being read, deepest last: the walk holds one handle per level.
    stack: Vec<ReadDir>,
    /// Only files modified at or after this (incremental syncs).
    since: Option<SystemTime>,
    max_text_bytes: u64,
    include_binary: bool,
    cursor: String,
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> inlet_sdk::ConnectorError {
    let kind = match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => ErrorKind::Config,
        _ => ErrorKind::Source,
    };
    error(kind, format!("cannot {what} {}: {e}", path.display()))
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

impl Walk {
    fn new(config: &Config, since: Option<SystemTime>) -> Result<Self> {
        let root = PathBuf::from(config.str("directory")?);
        let pattern_text = config.str("pattern")?;
        let pattern = glob::Pattern::new(&pattern_text).map_err(|e| {
            error(
                ErrorKind::Config,
                format!("pattern {pattern_text:?} is not a glob: {e}"),
            )
        })?;
        let top = fs::read_dir(&root).map_err(|e| {
            io_error(
                "read the directory (is it granted in config.yml under grants.files?)",
                &root,
                e,
            )
        })?;
        let now = SystemTime::now();
        let cursor = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos().to_string())
            .unwrap_or_default();
        Ok(Walk {
            root,
            pattern,
            stack: vec![top],
            since,
            max_text_bytes: config
                .int("max_text_bytes")
                .unwrap_or(DEFAULT_MAX_TEXT_BYTES)
                .max(0) as u64,
            include_binary: config.bool("include_binary"),
            cursor,
        })
    }

    /// The next matching file, depth-first.
    fn next_file(&mut self) -> Result<Option<(PathBuf, fs::Metadata)>> {
        while let Some(top) = self.stack.last_mut() {
            let Some(entry) = top.next() else {
                self.stack.pop();
                continue;
            };
            let entry = entry.map_err(|e| io_error("list", &self.root, e))?;
            let path = entry.path();
            let meta = entry.metadata().map_err(|e| io_error("stat", &path, e))?;
            if meta.is_dir() {
                let rd = fs::read_dir(&path).map_err(|e| io_error("read", &path, e))?;
                self.stack.push(rd);
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            let relative = path.strip_prefix(&self.root).unwrap_or(&path);
            let opts = glob::MatchOptions {
                require_literal_separator: true,
                ..Default::default()
            };
            if !self.pattern.matches_path_with(relative, opts) {
                continue;
            }
            if let (Some(since), Ok(modified)) = (self.since, meta.modified())
                && modified < since
            {
                continue;
            }
            return Ok(Some((path, meta)));
        }
        Ok(None)
    }

    fn document(&self, path: &Path, meta: &fs::Metadata) -> Result<Document> {
        let display = path.to_string_lossy().into_owned();
        let modified = meta.modified().ok().map(rfc3339);
        let mut body = serde_json::json!({
            "path": display,
            "title": path.file_name().map(|n| n.to_string_lossy().into_owned()),
            "extension": path.extension().map(|e| e.to_string_lossy().into_owned()),
            "size_in_bytes": meta.len(),
            "last_modified": modified,
        });
        let mut attachment = None;
        if meta.len() <= self.max_text_bytes {
            let bytes = fs::read(path).map_err(|e| io_error("read", path, e))?;
            match String::from_utf8(bytes) {
                Ok(text) => body["body"] = serde_json::Value::String(text),
                Err(e) if self.include_binary => attachment = Some(e.into_bytes()),
                Err(_) => {}
            }
        }
        let mut doc = Document::index(display, &body);
        if let Some(m) = modified {
            doc = doc.at(m);
        }
        if let Some(bytes) = attachment {
            doc = doc.with_bytes(bytes);
        }
        Ok(doc)
    }
}

impl DocStream for Walk {
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>> {
        let mut batch = Vec::with_capacity(BATCH);
        let mut bytes = 0;
        // Up to BATCH files, and no more than the SDK's batch bytes: text files up to
        // `max_text_bytes` each must not make a batch of hundreds of MiB.
        while batch.len() < BATCH && bytes < inlet_sdk::MAX_BATCH_BYTES {
            match self.next_file()? {
                Some((path, meta)) => {
                    let doc = self.document(&path, &meta)?;
                    bytes += inlet_sdk::document_bytes(&doc);
                    batch.push(doc);
                }
                None => break,
            }
        }
        Ok((!batch.is_empty()).then_some(batch))
    }

    fn cursor(&self) -> Option<String> {
        Some(self.cursor.clone())
    }
}

impl Connector for Dir {
    fn metadata() -> Metadata {
        Metadata::new("dir", "System Directory", env!("CARGO_PKG_VERSION")).incremental()
    }

    fn configuration() -> Vec<ConfigField> {
        vec![
            field("directory", "Directory path")
                .tooltip("Must be granted to this connector in config.yml (grants.files)."),
            field("pattern", "File glob-like pattern").default_value("\"**/*.*\""),
            field(
                "max_text_bytes",
                "Largest text file whose content is indexed (bytes)",
            )
            .int()
            .default_value(&DEFAULT_MAX_TEXT_BYTES.to_string())
            .advanced(),
            field(
                "include_binary",
                "Send binary files to the attachment pipeline",
            )
            .toggle()
            .default_value("false")
            .advanced(),
        ]
    }

    fn validate_config(config: &Config) -> Result<()> {
        let dir = config.str("directory")?;
        if !Path::new(&dir).is_absolute() {
            return Err(error(
                ErrorKind::Config,
                format!("directory {dir:?} must be an absolute path"),
            ));
        }
        glob::Pattern::new(&config.str("pattern")?)
            .map_err(|e| error(ErrorKind::Config, format!("pattern is not a glob: {e}")))?;
        Ok(())
    }

    fn ping(config: &Config) -> Result<()> {
        let dir = config.str("directory")?;
        fs::read_dir(&dir)
            .map(|_| ())
            .map_err(|e| io_error("read the directory", Path::new(&dir), e))
    }

    fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        Ok(Box::new(Walk::new(&Config::from(&request), None)?))
    }

    fn incremental_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        let since = request
            .cursor
            .as_deref()
            .and_then(|c| c.parse::<u128>().ok())
            .map(|nanos| UNIX_EPOCH + std::time::Duration::from_nanos(nanos as u64));
        Ok(Box::new(Walk::new(&Config::from(&request), since)?))
    }
}

inlet_sdk::export!(Dir);
