//! Synthetic documents with deterministic ids (`doc-<n>`) and bodies of about `doc_bytes`, for
//! tests and benchmarks. Incremental syncs emit the documents past the last count (the cursor),
//! so raising `count` and syncing incrementally adds exactly the new ones.

use inlet_sdk::{
    Config, ConfigField, Connector, DocStream, Document, Metadata, Result, SyncRequest, field,
};

struct LoadGen;

struct Generator {
    next: u64,
    end: u64,
    batch_size: usize,
    seed: String,
    padding: String,
}

impl Generator {
    fn new(config: &Config, start: u64) -> Result<Self> {
        let count = config.int("count")?.max(0) as u64;
        let doc_bytes = config.int("doc_bytes")?.max(0) as usize;
        let seed = config.str("seed")?;
        // The fixed part of a body is about 90 bytes; pad the text field to reach doc_bytes.
        let padding = "lorem ipsum dolor sit amet ".repeat(doc_bytes / 27 + 1);
        let padding = padding[..doc_bytes.saturating_sub(90).min(padding.len())].to_owned();
        Ok(Generator {
            next: start.min(count),
            end: count,
            batch_size: config.int("batch_size")?.clamp(1, 10_000) as usize,
            seed,
            padding,
        })
    }
}

impl DocStream for Generator {
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>> {
        if self.next >= self.end {
            return Ok(None);
        }
        let stop = (self.next + self.batch_size as u64).min(self.end);
        let batch = (self.next..stop)
            .map(|n| {
                let body = format!(
                    "{{\"title\":\"Document {n}\",\"n\":{n},\"seed\":{seed},\"even\":{even},\"text\":\"{pad}\"}}",
                    seed = serde_json::Value::String(self.seed.clone()),
                    even = n % 2 == 0,
                    pad = self.padding,
                );
                Document::index_json(format!("doc-{n}"), body)
            })
            .collect();
        self.next = stop;
        Ok(Some(batch))
    }

    fn cursor(&self) -> Option<String> {
        Some(self.end.to_string())
    }
}

impl Connector for LoadGen {
    fn metadata() -> Metadata {
        Metadata::new("loadgen", "Load generator", env!("CARGO_PKG_VERSION")).incremental()
    }

    fn configuration() -> Vec<ConfigField> {
        vec![
            field("count", "Number of documents")
                .int()
                .default_value("1000"),
            field("doc_bytes", "Approximate document size (bytes)")
                .int()
                .default_value("1024"),
            field("batch_size", "Documents per batch")
                .int()
                .default_value("500")
                .advanced(),
            field("seed", "Seed (part of every document)").default_value("\"inlet\""),
        ]
    }

    fn validate_config(config: &Config) -> Result<()> {
        if config.int("count")? < 0 || config.int("doc_bytes")? < 0 {
            return Err(inlet_sdk::error(
                inlet_sdk::ErrorKind::Config,
                "count and doc_bytes must not be negative",
            ));
        }
        Ok(())
    }

    fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        Ok(Box::new(Generator::new(&Config::from(&request), 0)?))
    }

    fn incremental_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        let start = request
            .cursor
            .as_deref()
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Ok(Box::new(Generator::new(&Config::from(&request), start)?))
    }
}

inlet_sdk::export!(LoadGen);
