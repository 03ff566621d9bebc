//! __NAME__: an Inlet connector.

use inlet_sdk::{Config, ConfigField, Connector, DocStream, Document, Metadata, Result, SyncRequest, field};

struct MyConnector;

impl Connector for MyConnector {
    fn metadata() -> Metadata {
        Metadata::new("__SERVICE_TYPE__", "__NAME__", env!("CARGO_PKG_VERSION"))
    }

    fn configuration() -> Vec<ConfigField> {
        vec![
            field("greeting", "Greeting").default_value("\"Hello\""),
            field("count", "Number of documents").int().default_value("3"),
        ]
    }

    fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        let config = Config::from(&request);
        let greeting = config.str("greeting")?;
        let docs = (0..config.int("count")?).map(move |i| {
            Ok(Document::index(format!("doc-{i}"), &serde_json::json!({"title": format!("{greeting} {i}")})))
        });
        Ok(inlet_sdk::batches(docs, 100))
    }
}

inlet_sdk::export!(MyConnector);
