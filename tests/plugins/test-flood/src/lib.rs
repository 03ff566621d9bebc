//! A hostile plugin written against the contract alone. `attack` picks what it does in its
//! first batch; the one document it emits reports what it saw, for the test to check:
//! - `state`: `count` × `state.set` of `size`-byte values under distinct keys;
//! - `log_forge`: log lines with embedded newlines, carriage returns and ANSI escapes that try
//!   to pass for the host's own lines;
//! - `log_flood`: one `log` call holding `count` newlines, then `count` distinct lines through
//!   `log`, stdout and stderr in turn;
//! - `documents`: documents Elasticsearch refuses (duplicate keys, 100,000 levels of nesting,
//!   a 1001-digit number, an unpaired surrogate in a key) between valid ones.
use inlet_sdk::{
    ConfigField, Connector, DocStream, Document, Metadata, Result, SyncRequest, field, log, state,
};

struct Flood;

/// Marks every forged text, so the test can find where it landed.
const FORGED: &str = "FORGED-BY-PLUGIN";

impl Connector for Flood {
    fn metadata() -> Metadata {
        Metadata::new("flood", "flood", "0.0.0")
    }

    fn configuration() -> Vec<ConfigField> {
        vec![
            field("attack", "state | log_forge | log_flood | documents"),
            field("count", "Attempts").int().default_value("30000"),
            field("size", "Bytes per state value")
                .int()
                .default_value("65536"),
        ]
    }

    fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        let config = inlet_sdk::Config::from(&request);
        Ok(Box::new(Attack {
            attack: config.str("attack")?,
            count: config.int("count")?.max(0) as usize,
            size: config.int("size")?.max(0) as usize,
            done: false,
        }))
    }
}

struct Attack {
    attack: String,
    count: usize,
    size: usize,
    done: bool,
}

impl DocStream for Attack {
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(None);
        }
        let docs = match self.attack.as_str() {
            "state" => vec![self.state()],
            "log_forge" => vec![log_forge()],
            "log_flood" => vec![self.log_flood()],
            "documents" => refused_documents(),
            other => {
                return Err(inlet_sdk::error(
                    inlet_sdk::ErrorKind::Config,
                    format!("unknown attack {other:?}"),
                ));
            }
        };
        Ok(Some(docs))
    }
}

impl Attack {
    fn state(&self) -> Document {
        let value = "v".repeat(self.size);
        let mut stored = 0u64;
        let mut refused = 0u64;
        let mut first_error = None;
        for i in 0..self.count {
            match state::set(&format!("key-{i:05}"), &value) {
                Ok(()) => stored += 1,
                Err(e) => {
                    refused += 1;
                    first_error.get_or_insert(e.message);
                }
            }
        }
        // Read-your-writes within the sync.
        let readable = state::get("key-00000").is_some_and(|v| v.len() == self.size);
        Document::index(
            "report",
            &serde_json::json!({
                "stored": stored,
                "refused": refused,
                "first_error": first_error,
                "readable": readable,
            }),
        )
    }

    fn log_flood(&self) -> Document {
        // First, while the bucket is full: one call that is `count` lines if newlines pass.
        log::warn(&"flood newline\n".repeat(self.count));
        for i in 0..self.count {
            match i % 3 {
                0 => log::warn(&format!("flood line {i}")),
                1 => println!("flood line {i}"),
                _ => eprintln!("flood line {i}"),
            }
        }
        Document::index("report", &serde_json::json!({ "attempts": self.count + 1 }))
    }
}

fn log_forge() -> Document {
    let host_like = format!(
        "2026-01-01T00:00:00.000000Z  INFO inlet::sync: sync completed connector_id=\"victim\" {FORGED}"
    );
    log::info(&format!("ordinary progress\n{host_like}"));
    log::warn(&format!("progress\r{host_like}"));
    log::error(&format!(
        "\u{1b}[2J\u{1b}[1;1H\u{1b}[31m{FORGED} screen cleared"
    ));
    log::info(&format!(
        "line\u{2028}{FORGED} after a Unicode line separator"
    ));
    log::info(&format!("\u{202e}{FORGED} right-to-left override"));
    // stdout and stderr: a newline ends a line there (each becomes its own tagged line), but a
    // carriage return or an escape inside one must not reach the terminal.
    println!("stdout\r{host_like}");
    eprintln!("stderr \u{1b}]0;{FORGED} window title\u{7}");
    Document::index("report", &serde_json::json!({ "forged": 7 }))
}

fn refused_documents() -> Vec<Document> {
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    vec![
        Document::index("good-1", &serde_json::json!({"n": 1})),
        Document::index_json("duplicate", r#"{"a":1,"a":2}"#.into()),
        Document::index_json(
            "duplicate-nested",
            r#"{"x":{"y":[{"k":1},{"k":2,"\u006b":3}]}}"#.into(),
        ),
        Document::index_json("deep", deep),
        Document::index_json("long-number", format!("{{\"n\":{}}}", "9".repeat(1001))),
        Document::index_json("lone-surrogate-key", r#"{"\ud800":1}"#.into()),
        Document::index("good-2", &serde_json::json!({"n": 2})),
    ]
}

inlet_sdk::export!(Flood);
