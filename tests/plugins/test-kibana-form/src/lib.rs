//! A form whose plugin-side JSON is valid but, rendered naively into the connector document,
//! is refused by Elasticsearch's `ConnectorConfiguration` parser: dropdown options whose values
//! are numbers, a list default, a boolean dependency, validation constraints of every kind. It
//! also declares document-level security, so access-control syncs (and the Platinum licence
//! they need) can be exercised. Its documents say what the plugin received.
use inlet_sdk::{
    Config, ConfigField, Connector, DocStream, Document, Metadata, Result, SyncRequest, batches,
    field,
};

struct KibanaForm;

impl Connector for KibanaForm {
    fn metadata() -> Metadata {
        let mut m = Metadata::new("kibana_form", "Kibana form shapes", "0.0.0");
        m.features.document_level_security = true;
        m
    }

    fn configuration() -> Vec<ConfigField> {
        vec![
            field("page_size", "Documents per sync")
                .int()
                .dropdown(&[("Ten", "10"), ("Twenty", "20")])
                .default_value("10")
                .validation("included_in", "[10, 20]"),
            field("tags", "Tags")
                .list()
                .default_value(r#"["red", "green"]"#)
                .validation("list_type", r#""str""#),
            field("strict", "Strict mode")
                .toggle()
                .default_value("false"),
            field("reason", "Why strict")
                .optional()
                .depends_on("strict", "true")
                .validation("regex", r#""[a-z ]+""#),
        ]
    }

    fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        let config = Config::from(&request);
        let n = config.int("page_size")?;
        let tags = config.list("tags");
        Ok(batches(
            (0..n).map(move |i| {
                Ok(Document::index(
                    format!("doc-{i}"),
                    &serde_json::json!({"n": i, "tags": tags.clone()}),
                ))
            }),
            100,
        ))
    }

    fn access_control_sync(_request: SyncRequest) -> Result<Box<dyn DocStream>> {
        Ok(batches(
            std::iter::once(Ok(Document::index(
                "user-1",
                &serde_json::json!({"identity": {"email": "user@example.com"}}),
            ))),
            100,
        ))
    }
}

inlet_sdk::export!(KibanaForm);
