//! Emits valid documents mixed with broken ones (invalid JSON, a non-object, an empty id).
use inlet_sdk::{ConfigField, Connector, DocStream, Document, Metadata, Result, SyncRequest};

struct Bad;

impl Connector for Bad {
    fn metadata() -> Metadata {
        Metadata::new("badjson", "badjson", "0.0.0")
    }
    fn configuration() -> Vec<ConfigField> {
        vec![]
    }
    fn full_sync(_: SyncRequest) -> Result<Box<dyn DocStream>> {
        let docs = vec![
            Document::index("good-1", &serde_json::json!({"n": 1})),
            Document::index_json("broken-json", "{\"n\": 2,".into()),
            Document::index("good-2", &serde_json::json!({"n": 3})),
            Document::index_json("not-object", "[1, 2, 3]".into()),
            Document::index_json("", "{}".into()),
            Document::index("good-3", &serde_json::json!({"n": 4})),
        ];
        Ok(inlet_sdk::batches(docs.into_iter().map(Ok), 2))
    }
}

inlet_sdk::export!(Bad);
