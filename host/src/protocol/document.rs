//! The connector document: what Inlet writes into it (the configuration form in Kibana's Rich
//! Configurable Fields shape, `features`) and how it reads a sync's settings out of it. Pure
//! functions, so every rule here is unit-tested.

use serde_json::{Map, Value, json};

use crate::config;
use crate::runtime::types::{ConfigField, DisplayType, Features, FieldType};
use crate::sync::rules::BasicRule;

/// Kibana's default filtering has one rule that includes everything; it is not a user rule.
const DEFAULT_RULE_ID: &str = "DEFAULT";
/// The filtering domain Kibana edits.
pub const DEFAULT_DOMAIN: &str = "DEFAULT";
/// Cursors that are not JSON objects are stored under this key (`sync_cursor` is an object).
const CURSOR_KEY: &str = "inlet_cursor";

/// JSON text from the plugin (a default, an option value) as JSON; plain text if it is not JSON.
fn json_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned()))
}

fn type_name(t: FieldType) -> &'static str {
    match t {
        FieldType::Str => "str",
        FieldType::Int => "int",
        FieldType::Bool => "bool",
        FieldType::List => "list",
    }
}

fn display_name(d: DisplayType) -> &'static str {
    match d {
        DisplayType::Text => "text",
        DisplayType::Textarea => "textarea",
        DisplayType::Numeric => "numeric",
        DisplayType::Toggle => "toggle",
        DisplayType::Dropdown => "dropdown",
    }
}

/// One field as Kibana renders it. `value` starts as the default so the form shows it.
pub fn rcf_field(f: &ConfigField) -> Value {
    let default = f.default_value.as_deref().map(json_text);
    json!({
        "label": f.label,
        "order": f.order,
        "type": type_name(f.type_),
        "display": display_name(f.display),
        "value": default.clone().unwrap_or_else(|| Value::String(String::new())),
        "default_value": default,
        "required": f.required,
        "sensitive": f.sensitive,
        "tooltip": f.tooltip,
        "depends_on": f.depends_on.iter().map(|d| json!({"field": d.field, "value": json_text(&d.value)})).collect::<Vec<_>>(),
        "validations": f.validations.iter().map(|v| json!({"type": v.type_, "constraint": json_text(&v.constraint)})).collect::<Vec<_>>(),
        "ui_restrictions": f.ui_restrictions,
        "options": f.options.iter().map(|o| json!({"label": o.label, "value": json_text(&o.value)})).collect::<Vec<_>>(),
    })
}

/// The whole form, by field key.
pub fn rcf_schema(fields: &[ConfigField]) -> Map<String, Value> {
    fields
        .iter()
        .map(|f| (f.key.clone(), rcf_field(f)))
        .collect()
}

/// `features` in the connector document's shape.
pub fn features_doc(f: &Features) -> Value {
    json!({
        "document_level_security": {"enabled": f.document_level_security},
        "incremental_sync": {"enabled": f.incremental_sync},
        "native_connector_api_keys": {"enabled": false},
        "sync_rules": {
            "advanced": {"enabled": f.advanced_rules},
            "basic": {"enabled": f.basic_rules},
        },
    })
}

/// What to write into a connector document so it describes `service_type`'s plugin: on first
/// contact (empty configuration) the whole form and `needs_configuration`; later only fields and
/// field properties the document lacks (a plugin upgrade), never a value the user set. `None`
/// when the document is up to date.
pub fn prepare_update(
    source: &Value,
    service_type: &str,
    schema: &Map<String, Value>,
    features: &Value,
) -> Option<Value> {
    let mut doc = Map::new();
    let current = source["configuration"].as_object();
    match current {
        None => {
            doc.insert("configuration".into(), Value::Object(schema.clone()));
            doc.insert("status".into(), json!("needs_configuration"));
        }
        Some(c) if c.is_empty() => {
            doc.insert("configuration".into(), Value::Object(schema.clone()));
            doc.insert("status".into(), json!("needs_configuration"));
        }
        Some(current) => {
            let mut additions = Map::new();
            for (key, field) in schema {
                match current.get(key).and_then(Value::as_object) {
                    None => {
                        additions.insert(key.clone(), field.clone());
                    }
                    Some(have) => {
                        let missing: Map<String, Value> = field
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter(|(k, _)| !have.contains_key(*k))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        if !missing.is_empty() {
                            additions.insert(key.clone(), Value::Object(missing));
                        }
                    }
                }
            }
            if !additions.is_empty() {
                // `_update` merges objects, so only the additions are sent.
                doc.insert("configuration".into(), Value::Object(additions));
            }
        }
    }
    if source["service_type"].as_str().is_none_or(str::is_empty) {
        doc.insert("service_type".into(), json!(service_type));
    }
    if &source["features"] != features {
        doc.insert("features".into(), features.clone());
    }
    (!doc.is_empty()).then_some(Value::Object(doc))
}

/// The user's values: `configuration.<key>.value`.
pub fn values(configuration: &Value) -> Map<String, Value> {
    configuration
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, f)| {
            let v = f.get("value")?;
            (!v.is_null()).then(|| (k.clone(), v.clone()))
        })
        .collect()
}

/// The active rules of the default domain, from a connector's `filtering` (a list of domains)
/// or a job's snapshot (the active rules themselves).
pub fn active_rules(filtering: &Value) -> Option<&Value> {
    match filtering {
        Value::Array(domains) => domains
            .iter()
            .find(|d| d["domain"] == DEFAULT_DOMAIN)
            .or_else(|| domains.first())
            .map(|d| &d["active"]),
        Value::Object(o) if o.contains_key("rules") || o.contains_key("advanced_snippet") => {
            Some(filtering)
        }
        _ => None,
    }
}

/// The user's basic rules (Kibana's catch-all default rule left out) and the advanced snippet
/// (`None` when empty).
pub fn rules_of(rules: &Value) -> Result<(Vec<BasicRule>, Option<Value>), String> {
    let basic = basic_rules(&rules["rules"])?;
    let advanced = rules["advanced_snippet"]["value"].clone();
    let empty = match &advanced {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    };
    Ok((basic, (!empty).then_some(advanced)))
}

/// Basic rules in Kibana's shape, without the default rule.
pub fn basic_rules(rules: &Value) -> Result<Vec<BasicRule>, String> {
    rules
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["id"] != DEFAULT_RULE_ID)
        .map(|r| {
            let mut r = r.clone();
            // Kibana stores values as strings; a number or boolean is accepted as its text.
            if let Some(v) = r.get("value").filter(|v| !v.is_string()).cloned() {
                r["value"] = Value::String(v.to_string());
            }
            serde_json::from_value::<BasicRule>(r.clone())
                .map_err(|e| format!("sync rule {}: {e}", r["id"]))
        })
        .collect()
}

/// The connector a job runs: config.yml's entry (grants, limits, pin, credentials) with what
/// Kibana keeps in the connector document — configuration values, index, pipeline, active sync
/// rules. A job's snapshot (taken when it was created) wins for configuration and rules, as in
/// Elastic's service.
pub fn merge(
    entry: &config::Connector,
    connector: &Value,
    job: Option<&Value>,
) -> Result<config::Connector, String> {
    let mut c = entry.clone();
    let snapshot = job.map(|j| &j["connector"]);
    let configuration = snapshot
        .map(|s| &s["configuration"])
        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        .unwrap_or(&connector["configuration"]);
    c.configuration = values(configuration);
    if let Some(index) = connector["index_name"]
        .as_str()
        .or_else(|| snapshot.and_then(|s| s["index_name"].as_str()))
        .map(|i| i.trim_start_matches(".search-acl-filter-"))
        .filter(|i| !i.is_empty())
    {
        c.index_name = Some(index.to_owned());
    }
    let pipeline = Some(&connector["pipeline"])
        .filter(|p| p.is_object())
        .or_else(|| snapshot.map(|s| &s["pipeline"]).filter(|p| p.is_object()));
    if let Some(p) = pipeline {
        // Kibana always stores pipeline settings; Elastic's service applies them to every sync.
        c.pipeline = Some(
            serde_json::from_value::<config::Pipeline>(p.clone())
                .map_err(|e| format!("the connector's pipeline settings are not valid: {e}"))?,
        );
    }
    let rules = snapshot
        .and_then(|s| active_rules(&s["filtering"]))
        .or_else(|| active_rules(&connector["filtering"]));
    c.sync_rules = match rules {
        Some(r) => {
            let (basic, advanced) = rules_of(r)?;
            config::SyncRules { basic, advanced }
        }
        None => config::SyncRules::default(),
    };
    Ok(c)
}

/// A cursor as the `sync_cursor` object: JSON objects as they are, anything else wrapped.
pub fn cursor_to_doc(cursor: Option<&str>) -> Value {
    match cursor {
        None => Value::Null,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => v,
            _ => json!({ CURSOR_KEY: text }),
        },
    }
}

/// The cursor the plugin gave, from `sync_cursor`.
pub fn cursor_from_doc(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Object(o) if o.is_empty() => None,
        Value::Object(o) if o.len() == 1 && o.get(CURSOR_KEY).is_some_and(Value::is_string) => {
            o.get(CURSOR_KEY).and_then(Value::as_str).map(str::to_owned)
        }
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::{Dependency, SelectOption, Validation};

    fn field(key: &str, ty: FieldType, default: Option<&str>) -> ConfigField {
        ConfigField {
            key: key.into(),
            label: key.to_uppercase(),
            order: 1,
            type_: ty,
            display: DisplayType::Text,
            default_value: default.map(str::to_owned),
            required: true,
            sensitive: false,
            tooltip: None,
            depends_on: vec![],
            validations: vec![],
            ui_restrictions: vec![],
            options: vec![],
        }
    }

    #[test]
    fn rcf_shape_is_kibanas() {
        let mut f = field("mode", FieldType::Str, Some("\"fast\""));
        f.display = DisplayType::Dropdown;
        f.options = vec![SelectOption {
            label: "Fast".into(),
            value: "\"fast\"".into(),
        }];
        f.depends_on = vec![Dependency {
            field: "on".into(),
            value: "true".into(),
        }];
        f.validations = vec![Validation {
            type_: "less_than".into(),
            constraint: "10".into(),
        }];
        f.ui_restrictions = vec!["advanced".into()];
        let v = rcf_field(&f);
        assert_eq!(
            v,
            json!({
                "label": "MODE", "order": 1, "type": "str", "display": "dropdown",
                "value": "fast", "default_value": "fast", "required": true, "sensitive": false,
                "tooltip": null, "depends_on": [{"field": "on", "value": true}],
                "validations": [{"type": "less_than", "constraint": 10}],
                "ui_restrictions": ["advanced"], "options": [{"label": "Fast", "value": "fast"}],
            })
        );
        let plain = rcf_field(&field("count", FieldType::Int, None));
        assert_eq!(plain["value"], "");
        assert_eq!(plain["default_value"], Value::Null);
    }

    #[test]
    fn first_contact_writes_schema_and_needs_configuration() {
        let schema = rcf_schema(&[field("a", FieldType::Int, Some("1"))]);
        let features = features_doc(&Features {
            incremental_sync: true,
            document_level_security: false,
            advanced_rules: false,
            basic_rules: true,
        });
        let doc = json!({"configuration": {}, "service_type": null, "status": "created"});
        let up = prepare_update(&doc, "loadgen", &schema, &features).expect("update");
        assert_eq!(up["status"], "needs_configuration");
        assert_eq!(up["configuration"]["a"]["value"], 1);
        assert_eq!(up["service_type"], "loadgen");
        assert_eq!(up["features"]["incremental_sync"]["enabled"], true);
    }

    #[test]
    fn upgrades_add_fields_and_properties_but_keep_values() {
        let schema = rcf_schema(&[
            field("a", FieldType::Int, Some("1")),
            field("b", FieldType::Str, None),
        ]);
        let features = features_doc(&Features {
            incremental_sync: false,
            document_level_security: false,
            advanced_rules: false,
            basic_rules: true,
        });
        let doc = json!({
            "service_type": "x",
            "features": features,
            "configuration": {"a": {"label": "A", "value": 5}},
        });
        let up = prepare_update(&doc, "x", &schema, &features).expect("update");
        let conf = &up["configuration"];
        assert!(
            conf["a"].get("value").is_none(),
            "the user's value is kept: {up}"
        );
        assert!(
            conf["a"].get("label").is_none(),
            "existing properties are kept"
        );
        assert_eq!(conf["a"]["type"], "int");
        assert_eq!(conf["b"]["label"], "B");
        assert!(up.get("status").is_none());
        // Up to date: nothing to write.
        let full = json!({"service_type": "x", "features": features, "configuration": schema});
        assert_eq!(prepare_update(&full, "x", &schema, &features), None);
    }

    fn kibana_connector() -> Value {
        json!({
            "index_name": "search-docs",
            "configuration": {
                "count": {"label": "Count", "value": "25", "type": "int"},
                "seed": {"label": "Seed", "value": null},
            },
            "pipeline": {"name": "p", "extract_binary_content": false, "reduce_whitespace": true, "run_ml_inference": false},
            "filtering": [{
                "domain": "DEFAULT",
                "active": {
                    "rules": [
                        {"id": "r1", "order": 1, "policy": "exclude", "field": "n", "rule": ">", "value": "10"},
                        {"id": "DEFAULT", "order": 0, "policy": "include", "field": "_", "rule": "regex", "value": ".*"},
                    ],
                    "advanced_snippet": {"value": {}},
                    "validation": {"state": "valid", "errors": []},
                },
                "draft": {},
            }],
        })
    }

    fn entry() -> config::Connector {
        serde_yaml_ng::from_str(
            "connector_id: c1\nservice_type: loadgen\nlimits: {memory_mib: 64}\ngrants: {files: [/data]}\n",
        )
        .expect("entry")
    }

    #[test]
    fn merge_takes_kibanas_settings_and_keeps_the_operators() {
        let c = merge(&entry(), &kibana_connector(), None).expect("merge");
        assert_eq!(c.configuration.get("count"), Some(&json!("25")));
        assert!(
            !c.configuration.contains_key("seed"),
            "null values are unset"
        );
        assert_eq!(c.index_name.as_deref(), Some("search-docs"));
        let pipeline = c.pipeline.expect("pipeline settings");
        assert_eq!(pipeline.name, "p");
        assert!(!pipeline.run_ml_inference);
        assert_eq!(
            c.sync_rules.basic.len(),
            1,
            "the default rule is not a user rule"
        );
        assert_eq!(c.sync_rules.basic[0].id.as_deref(), Some("r1"));
        assert_eq!(c.sync_rules.advanced, None);
        assert_eq!(c.limits.memory_mib, Some(64));
        assert_eq!(c.grants.files.len(), 1);
    }

    #[test]
    fn merge_prefers_the_jobs_snapshot() {
        let job = json!({"connector": {
            "configuration": {"count": {"value": 7}},
            "index_name": ".search-acl-filter-search-docs",
            "filtering": {"rules": [], "advanced_snippet": {"value": [{"q": 1}]}},
        }});
        let c = merge(&entry(), &kibana_connector(), Some(&job)).expect("merge");
        assert_eq!(c.configuration.get("count"), Some(&json!(7)));
        assert_eq!(c.index_name.as_deref(), Some("search-docs"));
        assert!(c.sync_rules.basic.is_empty());
        assert_eq!(c.sync_rules.advanced, Some(json!([{"q": 1}])));
    }

    #[test]
    fn bad_rules_are_reported() {
        let mut doc = kibana_connector();
        doc["filtering"][0]["active"]["rules"][0]["rule"] = json!("sounds_like");
        assert!(merge(&entry(), &doc, None).unwrap_err().contains("r1"));
    }

    #[test]
    fn cursors_round_trip() {
        for c in ["42", "{\"page\":3}", "delta-link"] {
            let doc = cursor_to_doc(Some(c));
            assert!(doc.is_object(), "sync_cursor is an object: {doc}");
            assert_eq!(cursor_from_doc(&doc).as_deref(), Some(c));
        }
        assert_eq!(cursor_to_doc(None), Value::Null);
        assert_eq!(cursor_from_doc(&json!({})), None);
    }
}
