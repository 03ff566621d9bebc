//! The connector document: what Inlet writes into it (the configuration form in Kibana's Rich
//! Configurable Fields shape, `features`) and how it reads a sync's settings out of it. Pure
//! functions, so every rule here is unit-tested.

use serde_json::{Map, Value, json};

use super::model::{ConnectorDoc, Filtering, FilteringRules, JobConnector};
use inlet_engine::sync::configuration;
use inlet_policy::config;
use inlet_policy::sync_rules::BasicRule;
use inlet_runtime::types::{ConfigField, DisplayType, Features, FieldType};

/// Kibana's default filtering has one rule that includes everything; it is not a user rule.
const DEFAULT_RULE_ID: &str = "DEFAULT";
/// The filtering domain Kibana edits.
pub(crate) const DEFAULT_DOMAIN: &str = "DEFAULT";
/// Cursors that are not JSON objects are stored under this key (`sync_cursor` is an object).
const CURSOR_KEY: &str = "inlet_cursor";
/// Access-control jobs write to `.search-acl-filter-<content index>`.
const ACL_INDEX_PREFIX: &str = ".search-acl-filter-";

/// JSON text from the plugin (a default, an option value) as JSON; plain text if it is not JSON.
fn json_text(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.to_owned()))
}

/// A JSON value as the text a form field shows: strings as they are, anything else as JSON.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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

// What Elasticsearch's `ConnectorConfiguration` parser (8.15) accepts, which every
// `POST _connector/_sync_job` runs over the whole connector document: a field's `value` is a
// string, number, boolean, object or null, never a list; `default_value` a string, number,
// boolean or null; an option (`ConfigurationSelectOption`) has a string `label` and a string
// `value`; a dependency's `value` is a scalar or null; a validation's `constraint` is a string, a
// number or a list of strings and numbers. One field outside these shapes fails every sync job of
// the connector, so the plugin's JSON text is rendered into them here.

/// `value` / `default_value` of a field of type `ty`: lists as Kibana's comma-separated text
/// (what Elastic's list fields hold, and what the host splits again), objects as JSON text,
/// numbers and booleans of a `str` field as text.
fn form_value(ty: FieldType, text: &str) -> Value {
    match (ty, json_text(text)) {
        (FieldType::List, Value::Array(items)) => {
            Value::String(items.iter().map(text_of).collect::<Vec<_>>().join(","))
        }
        (_, Value::Array(_) | Value::Object(_)) => Value::String(text.trim().to_owned()),
        (FieldType::Str, v @ (Value::Number(_) | Value::Bool(_))) => Value::String(text_of(&v)),
        (_, v) => v,
    }
}

/// A dropdown option's `value`: always a string (`10`, `true` as text).
fn option_value(text: &str) -> Value {
    Value::String(text_of(&json_text(text)))
}

/// A dependency's `value`: scalars as they are, lists and objects as JSON text.
fn dependency_value(text: &str) -> Value {
    match json_text(text) {
        Value::Array(_) | Value::Object(_) => Value::String(text.trim().to_owned()),
        v => v,
    }
}

/// A validation's `constraint`: a string, a number, or a list of strings and numbers; anything
/// else (a boolean, null, an object, nested lists) as JSON text.
fn constraint_value(text: &str) -> Value {
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_));
    match json_text(text) {
        v if scalar(&v) => v,
        Value::Array(items) if items.iter().all(scalar) => Value::Array(items),
        _ => Value::String(text.trim().to_owned()),
    }
}

/// One field as Kibana renders it. `value` starts as the default so the form shows it.
fn rcf_field(f: &ConfigField) -> Value {
    let default = f.default_value.as_deref().map(|d| form_value(f.type_, d));
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
        "depends_on": f.depends_on.iter().map(|d| json!({"field": d.field, "value": dependency_value(&d.value)})).collect::<Vec<_>>(),
        "validations": f.validations.iter().map(|v| json!({"type": v.type_, "constraint": constraint_value(&v.constraint)})).collect::<Vec<_>>(),
        "ui_restrictions": f.ui_restrictions,
        "options": f.options.iter().map(|o| json!({"label": o.label, "value": option_value(&o.value)})).collect::<Vec<_>>(),
    })
}

/// The whole form, by field key.
pub(crate) fn rcf_schema(fields: &[ConfigField]) -> Map<String, Value> {
    fields
        .iter()
        .map(|f| (f.key.clone(), rcf_field(f)))
        .collect()
}

/// `features` in the connector document's shape.
pub(crate) fn features_doc(f: &Features) -> Value {
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
pub(crate) fn prepare_update(
    source: &ConnectorDoc,
    service_type: &str,
    schema: &Map<String, Value>,
    features: &Value,
) -> Option<Value> {
    let mut doc = Map::new();
    match &source.configuration {
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
    if source.service_type().is_none() {
        doc.insert("service_type".into(), json!(service_type));
    }
    if source.features.as_ref() != Some(features) {
        doc.insert("features".into(), features.clone());
    }
    (!doc.is_empty()).then_some(Value::Object(doc))
}

/// The user's values: `configuration.<key>.value`.
fn values(configuration: Option<&Map<String, Value>>) -> Map<String, Value> {
    configuration
        .into_iter()
        .flatten()
        .filter_map(|(k, f)| {
            let v = f.get("value")?;
            (!v.is_null()).then(|| (k.clone(), v.clone()))
        })
        .collect()
}

/// What a connector's values still lack for its plugin's schema.
#[derive(Debug, Default)]
pub struct Unfilled<'a> {
    /// Required fields without a default that are empty (and shown: their dependencies hold).
    pub required: Vec<&'a ConfigField>,
    /// A value the schema refuses (wrong type), as the sync would report it.
    pub invalid: Option<String>,
}

/// Which required fields `values` leave empty, by the same rules the sync applies
/// ([`configuration::resolve`]): each missing field is filled with a placeholder of its type and
/// the check repeated, so every missing field is named at once, not only the first.
pub fn unfilled<'a>(schema: &'a [ConfigField], values: &Map<String, Value>) -> Unfilled<'a> {
    let mut values = values.clone();
    let mut out = Unfilled::default();
    for _ in 0..=schema.len() {
        let Err(e) = configuration::resolve(schema, &values, &configuration::Handover::default())
        else {
            break;
        };
        let Some(field) = schema.iter().find(|f| f.key == e.key) else {
            out.invalid = Some(e.to_string());
            break;
        };
        let given = values
            .get(&field.key)
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
        if given || !field.required || field.default_value.is_some() {
            out.invalid = Some(e.to_string());
            break;
        }
        out.required.push(field);
        let placeholder = match field.type_ {
            FieldType::Int => json!(0),
            FieldType::Bool => json!(false),
            FieldType::Str | FieldType::List => json!("-"),
        };
        values.insert(field.key.clone(), placeholder);
    }
    out
}

/// The active rules of the default domain, from a connector's `filtering` (a list of domains)
/// or a job's snapshot (the active rules themselves).
fn active_rules(filtering: Option<&Filtering>) -> Option<&FilteringRules> {
    match filtering? {
        Filtering::Domains(domains) => domains
            .iter()
            .find(|d| d.domain.as_deref() == Some(DEFAULT_DOMAIN))
            .or_else(|| domains.first())
            // A domain without active rules has none: the connector's do not stand in.
            .map(|d| d.active.as_ref().unwrap_or(&FilteringRules::NONE)),
        Filtering::Rules(rules) => rules.is_given().then_some(rules),
    }
}

/// The user's basic rules (Kibana's catch-all default rule left out) and the advanced snippet
/// (`None` when empty).
pub(crate) fn rules_of(rules: &FilteringRules) -> Result<(Vec<BasicRule>, Option<Value>), String> {
    let basic = basic_rules(rules.rules.as_deref().unwrap_or_default())?;
    let advanced = rules
        .advanced_snippet
        .as_ref()
        .map(|a| a.value.clone())
        .unwrap_or(Value::Null);
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
pub(crate) fn basic_rules(rules: &[Value]) -> Result<Vec<BasicRule>, String> {
    rules
        .iter()
        .filter(|r| r.get("id").and_then(Value::as_str) != Some(DEFAULT_RULE_ID))
        .map(basic_rule)
        .collect()
}

/// One of Kibana's basic rules; the error names it by its id.
fn basic_rule(rule: &Value) -> Result<BasicRule, String> {
    let mut r = rule.clone();
    // Kibana stores values as strings; a number or boolean is accepted as its text.
    if let Some(v) = r.get_mut("value").filter(|v| !v.is_string()) {
        *v = Value::String(v.to_string());
    }
    serde_json::from_value::<BasicRule>(r).map_err(|e| {
        let id = rule.get("id").unwrap_or(&Value::Null);
        format!("sync rule {id}: {e}")
    })
}

/// The connector a job runs: config.yml's entry (grants, limits, pin, credentials) with what
/// Kibana keeps in the connector document — configuration values, index, pipeline, active sync
/// rules. A job's snapshot (taken by Elasticsearch when the job was created) wins for all of
/// them, as in Elastic's service: a job created before the index or pipeline was changed in
/// Kibana still writes where it was created to write.
pub fn merge(
    entry: &config::Connector,
    connector: &ConnectorDoc,
    snapshot: Option<&JobConnector>,
) -> Result<config::Connector, String> {
    let mut c = entry.clone();
    let configuration = snapshot
        .and_then(|s| s.configuration.as_ref())
        .filter(|o| !o.is_empty())
        .or(connector.configuration.as_ref());
    c.configuration = values(configuration);
    let non_empty = |v: &Option<String>| v.as_deref().filter(|i| !i.is_empty()).map(str::to_owned);
    // An access-control job's snapshot names the ACL index; the sync derives it from the
    // content index.
    if let Some(index) = snapshot
        .and_then(|s| non_empty(&s.index_name))
        .or_else(|| non_empty(&connector.index_name))
        .map(|i| i.trim_start_matches(ACL_INDEX_PREFIX).to_owned())
        .filter(|i| !i.is_empty())
    {
        c.index_name = Some(index);
    }
    // A snapshot's pipeline wins even when it is `null`.
    let pipeline = match snapshot {
        Some(JobConnector {
            pipeline: Some(p), ..
        }) => Some(p),
        _ => connector.pipeline.as_ref(),
    }
    .filter(|p| p.is_object());
    if let Some(p) = pipeline {
        // Kibana always stores pipeline settings; Elastic's service applies them to every sync.
        c.pipeline = Some(
            serde_json::from_value::<config::Pipeline>(p.clone())
                .map_err(|e| format!("the connector's pipeline settings are not valid: {e}"))?,
        );
    }
    let rules = snapshot
        .and_then(|s| active_rules(s.filtering.as_ref()))
        .or_else(|| active_rules(connector.filtering.as_ref()));
    c.sync_rules = match rules {
        Some(r) => {
            let (basic, advanced) = rules_of(r)?;
            config::SyncRules { basic, advanced }
        }
        None => config::SyncRules::default(),
    };
    Ok(c)
}

/// A cursor as the `sync_cursor` object: JSON objects as they are, anything else wrapped;
/// `None` without a cursor (the claim then leaves the key out: its parser refuses `null`).
pub(crate) fn cursor_to_doc(cursor: Option<&str>) -> Option<Value> {
    cursor.map(|text| match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ CURSOR_KEY: text }),
    })
}

/// The cursor the plugin gave, from `sync_cursor`.
pub(crate) fn cursor_from_doc(v: Option<&Value>) -> Option<String> {
    match v? {
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
    use inlet_runtime::types::{Dependency, SelectOption, Validation};

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

    /// Shapes Elasticsearch's `ConnectorConfiguration` parser (8.15) refuses, from plugin JSON
    /// text that is valid for the plugin: each row is (field type, JSON text, what the form
    /// holds).
    #[test]
    fn plugin_json_becomes_shapes_the_parser_accepts() {
        // `value` / `default_value`: never a list; a list field holds comma-separated text.
        for (ty, text, want) in [
            (FieldType::List, r#"["a","b"]"#, json!("a,b")),
            (FieldType::List, r#"[1,"b"]"#, json!("1,b")),
            (FieldType::List, r#""*""#, json!("*")),
            (FieldType::Str, r#"["a"]"#, json!(r#"["a"]"#)),
            (FieldType::Str, "3", json!("3")),
            (FieldType::Str, "true", json!("true")),
            (FieldType::Str, r#"{"k":1}"#, json!(r#"{"k":1}"#)),
            (FieldType::Int, "3", json!(3)),
            (FieldType::Bool, "true", json!(true)),
            (FieldType::Str, "plain text", json!("plain text")),
        ] {
            let mut f = field("f", ty, Some(text));
            f.required = false;
            let v = rcf_field(&f);
            assert_eq!(v["default_value"], want, "{ty:?} {text}");
            assert_eq!(v["value"], want, "{ty:?} {text}");
        }
        let mut f = field("mode", FieldType::Int, Some("10"));
        f.display = DisplayType::Dropdown;
        // Option values: always strings.
        f.options = ["10", "true", r#""fast""#, "[1]"]
            .iter()
            .map(|v| SelectOption {
                label: "x".into(),
                value: (*v).into(),
            })
            .collect();
        // Dependency values: scalars or null, never lists.
        f.depends_on = ["true", "3", r#""on""#, "null", r#"["a"]"#]
            .iter()
            .map(|v| Dependency {
                field: "other".into(),
                value: (*v).into(),
            })
            .collect();
        // Constraints: string, number, or a list of strings and numbers.
        f.validations = ["10", r#""int""#, r#"[1,"a"]"#, "true", "null", r#"[[1]]"#]
            .iter()
            .map(|c| Validation {
                type_: "included_in".into(),
                constraint: (*c).into(),
            })
            .collect();
        let v = rcf_field(&f);
        let values = |k: &str, inner: &str| -> Vec<Value> {
            v[k].as_array()
                .expect("list")
                .iter()
                .map(|o| o[inner].clone())
                .collect()
        };
        assert_eq!(
            values("options", "value"),
            vec![json!("10"), json!("true"), json!("fast"), json!("[1]")]
        );
        assert_eq!(
            values("depends_on", "value"),
            vec![
                json!(true),
                json!(3),
                json!("on"),
                Value::Null,
                json!(r#"["a"]"#)
            ]
        );
        assert_eq!(
            values("validations", "constraint"),
            vec![
                json!(10),
                json!("int"),
                json!([1, "a"]),
                json!("true"),
                json!("null"),
                json!("[[1]]")
            ]
        );
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
        let up = prepare_update(&read(doc), "loadgen", &schema, &features).expect("update");
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
        let up = prepare_update(&read(doc), "x", &schema, &features).expect("update");
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
        assert_eq!(prepare_update(&read(full), "x", &schema, &features), None);
    }

    fn read<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("a document Elasticsearch could hold")
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
        let c = merge(&entry(), &read(kibana_connector()), None).expect("merge");
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
        let snapshot = read(json!({
            "configuration": {"count": {"value": 7}},
            "index_name": ".search-acl-filter-search-docs",
            "filtering": {"rules": [], "advanced_snippet": {"value": [{"q": 1}]}},
        }));
        let c = merge(&entry(), &read(kibana_connector()), Some(&snapshot)).expect("merge");
        assert_eq!(c.configuration.get("count"), Some(&json!(7)));
        assert_eq!(c.index_name.as_deref(), Some("search-docs"));
        assert!(c.sync_rules.basic.is_empty());
        assert_eq!(c.sync_rules.advanced, Some(json!([{"q": 1}])));
    }

    #[test]
    fn a_job_writes_where_its_snapshot_says_not_where_the_connector_now_points() {
        // Kibana moved the connector to another index and pipeline after the job was created.
        let mut now = kibana_connector();
        now["index_name"] = json!("search-moved");
        now["pipeline"]["name"] = json!("moved-pipeline");
        let now: ConnectorDoc = read(now);
        let snapshot = read(json!({
            "index_name": "search-docs",
            "pipeline": {"name": "p", "extract_binary_content": false, "reduce_whitespace": true, "run_ml_inference": false},
            "configuration": {"count": {"value": 7}},
        }));
        let c = merge(&entry(), &now, Some(&snapshot)).expect("merge");
        assert_eq!(c.index_name.as_deref(), Some("search-docs"));
        assert_eq!(c.pipeline.expect("pipeline").name, "p");
        // Without a job (the configuration check), the connector's current settings.
        let c = merge(&entry(), &now, None).expect("merge");
        assert_eq!(c.index_name.as_deref(), Some("search-moved"));
        assert_eq!(c.pipeline.expect("pipeline").name, "moved-pipeline");
    }

    #[test]
    fn a_snapshot_wins_even_where_it_says_none_and_an_empty_one_does_not() {
        // `pipeline: null` in the snapshot: no pipeline, not the connector's current one.
        let snapshot = read(json!({"pipeline": null, "filtering": {}, "configuration": {}}));
        let c = merge(&entry(), &read(kibana_connector()), Some(&snapshot)).expect("merge");
        assert!(c.pipeline.is_none());
        // Empty rules and configuration in the snapshot: the connector's apply.
        assert_eq!(c.sync_rules.basic.len(), 1);
        assert_eq!(c.configuration.get("count"), Some(&json!("25")));
        // A domain without active rules has none; the first domain stands in for DEFAULT.
        let mut doc = kibana_connector();
        doc["filtering"] = json!([{"domain": "OTHER"}]);
        let c = merge(&entry(), &read(doc), None).expect("merge");
        assert!(c.sync_rules.basic.is_empty() && c.sync_rules.advanced.is_none());
    }

    #[test]
    fn bad_rules_are_reported() {
        let mut doc = kibana_connector();
        doc["filtering"][0]["active"]["rules"][0]["rule"] = json!("sounds_like");
        assert!(
            merge(&entry(), &read(doc), None)
                .unwrap_err()
                .contains("r1")
        );
    }

    #[test]
    fn unfilled_names_every_missing_required_field() {
        let mut shown_if = field("token", FieldType::Str, None);
        shown_if.depends_on = vec![Dependency {
            field: "auth".into(),
            value: "\"token\"".into(),
        }];
        let schema = vec![
            field("tenant_id", FieldType::Str, None),
            field("port", FieldType::Int, None),
            field("pattern", FieldType::Str, Some("\"*\"")),
            field("auth", FieldType::Str, Some("\"secret\"")),
            shown_if,
        ];
        let u = unfilled(&schema, &Map::new());
        let keys: Vec<&str> = u.required.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            ["tenant_id", "port"],
            "defaults and hidden fields are not asked for"
        );
        assert!(u.invalid.is_none());
        let given = json!({"tenant_id": "t", "port": "x"});
        let u = unfilled(&schema, given.as_object().expect("object"));
        assert!(u.required.is_empty());
        assert!(u.invalid.expect("invalid").contains("port"));
        let given = json!({"tenant_id": "t", "port": 443, "auth": "token"});
        let u = unfilled(&schema, given.as_object().expect("object"));
        let keys: Vec<&str> = u.required.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["token"], "shown once its dependency holds");
    }

    #[test]
    fn cursors_round_trip() {
        for c in ["42", "{\"page\":3}", "delta-link"] {
            let doc = cursor_to_doc(Some(c)).expect("a cursor");
            assert!(doc.is_object(), "sync_cursor is an object: {doc}");
            assert_eq!(cursor_from_doc(Some(&doc)).as_deref(), Some(c));
        }
        // No cursor: nothing to send (`_claim` refuses `"sync_cursor": null`).
        assert_eq!(cursor_to_doc(None), None);
        assert_eq!(cursor_from_doc(Some(&json!({}))), None);
        assert_eq!(cursor_from_doc(None), None);
    }
}
