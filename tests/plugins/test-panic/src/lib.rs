//! Emits one good batch, then panics: the sync must fail with the panic's reason, nothing
//! stale may be deleted, and other connectors must carry on.
use inlet_sdk::{ConfigField, Connector, DocStream, Document, Metadata, Result, SyncRequest};

struct Panic;

struct Once(u32);

impl DocStream for Once {
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>> {
        self.0 += 1;
        if self.0 == 1 {
            return Ok(Some(vec![Document::index(
                "first",
                &serde_json::json!({"ok": true}),
            )]));
        }
        panic!("connector bug: source returned garbage on page {}", self.0);
    }
}

impl Connector for Panic {
    fn metadata() -> Metadata {
        Metadata::new("panic", "panic", "0.0.0")
    }
    fn configuration() -> Vec<ConfigField> {
        vec![]
    }
    fn full_sync(_: SyncRequest) -> Result<Box<dyn DocStream>> {
        Ok(Box::new(Once(0)))
    }
}

inlet_sdk::export!(Panic);
