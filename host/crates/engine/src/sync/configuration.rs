//! Turns a connector's configuration values into what the plugin receives, checked against the
//! plugin's schema the way Elastic's framework does: defaults for empty optional fields, an
//! error for a missing required one, values of the declared type.
//!
//! Sensitive values are checked like the others but **withheld** (neither the operator's value
//! nor the plugin's default is handed over) unless the operator lists the field in the
//! connector's `grants.sensitive_fields`. So are fields the plugin's form credentials take
//! their secret from (`broker::form_credentials`): the host injects those itself.

use serde_json::Value;

use inlet_policy::config::Connector;
use inlet_policy::manifest::Manifest;
use inlet_policy::manifest::credentials::{FieldUse, Role};
use inlet_runtime::types::{ConfigField, ConfigValue, FieldType};

/// Why a connector's configuration does not fit the plugin's schema: the first field that
/// fails, by key and label. Never quotes a sensitive value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration field `{key}` ({label}): {message}")]
pub struct FieldError {
    /// The field's key in the schema (and in `connectors[].configuration`).
    pub key: String,
    /// The field's label, as the form shows it.
    pub(crate) label: String,
    /// What is wrong: missing, of the wrong type, a bad default, or a sensitive field the
    /// plugin's manifest misplaces.
    pub(crate) message: String,
}

/// What of the configuration the host may hand to one connector's plugin.
/// `Handover::default()` hands over no sensitive value (for checks that only want the errors).
#[derive(Debug, Default)]
pub struct Handover<'a> {
    connector_id: &'a str,
    /// `grants.sensitive_fields`.
    granted: &'a [String],
    /// The placeholders of the plugin's form credentials.
    uses: Vec<FieldUse>,
}

impl<'a> Handover<'a> {
    /// What `connector`'s grants let through to the plugin `manifest` describes (no form
    /// credentials without a manifest).
    pub(crate) fn new(connector: &'a Connector, manifest: Option<&Manifest>) -> Self {
        Handover {
            connector_id: &connector.connector_id,
            granted: &connector.grants.sensitive_fields,
            uses: manifest
                .map(|m| {
                    m.credentials
                        .iter()
                        .flat_map(|(name, d)| d.field_uses(name))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// True when `field`'s value stays with the host.
    fn withholds(&self, field: &ConfigField) -> bool {
        let secret = field.sensitive
            || self
                .uses
                .iter()
                .any(|u| u.role == Role::Secret && u.field == field.key);
        secret && !self.granted.contains(&field.key)
    }

    /// A form credential position other than a secret one that names this sensitive field: its
    /// value would end up in a URL, a user name or a scope, where secrets do not belong.
    fn misplaced(&self, field: &ConfigField) -> Option<&FieldUse> {
        self.uses
            .iter()
            .find(|u| field.sensitive && u.role != Role::Secret && u.field == field.key)
    }

    /// Warns about `grants.sensitive_fields` entries that hand nothing over.
    fn warn_about_grants(&self, schema: &[ConfigField]) {
        for (i, key) in self.granted.iter().enumerate() {
            let why = match schema.iter().find(|f| &f.key == key) {
                None => "the plugin has no such configuration field",
                Some(f) if !f.sensitive && !self.uses.iter().any(|u| u.field == f.key) => {
                    "the field is not sensitive, so its value is handed over anyway"
                }
                Some(_) => continue,
            };
            tracing::warn!(
                connector_id = %self.connector_id,
                "grants.sensitive_fields[{i}] = {key:?}: {why}"
            );
        }
    }
}

/// Builds the values handed to the plugin. `values` are the user's (config.yml or Kibana).
/// Every field is checked (required, type), sensitive ones too; what `handover` withholds is
/// then left out. Keys not in the schema are returned as the second element so the caller can
/// warn. Values go out in schema order, each as JSON text; a field whose `depends_on` is not
/// met is skipped. Also warns (log) about `grants.sensitive_fields` entries that grant nothing.
pub fn resolve(
    schema: &[ConfigField],
    values: &serde_json::Map<String, Value>,
    handover: &Handover<'_>,
) -> Result<(Vec<ConfigValue>, Vec<String>), FieldError> {
    let mut out = Vec::with_capacity(schema.len());
    for field in schema {
        let err = |message: String| FieldError {
            key: field.key.clone(),
            label: field.label.clone(),
            message,
        };
        if let Some(used) = handover.misplaced(field) {
            return Err(err(format!(
                "is sensitive, but the plugin's manifest puts it in `{}`, where only non-secret values go (a sensitive value may fill password, token, value or client_secret): the plugin must be fixed",
                used.position
            )));
        }
        if !depends_on_satisfied(field, schema, values) {
            continue;
        }
        let given = values.get(&field.key).filter(|v| !is_empty(v));
        let value = match (given, &field.default_value) {
            // A sensitive value never goes into the message: it is logged and reported.
            (Some(v), _) => coerce(field.type_, v)
                .map_err(|m| {
                    if field.sensitive {
                        format!(
                            "expected {} (the value is sensitive and not shown)",
                            type_name(field.type_)
                        )
                    } else {
                        m
                    }
                })
                .map_err(err)?,
            (None, Some(default)) => serde_json::from_str(default)
                .map_err(|e| err(format!("the plugin's default {default:?} is not JSON: {e}")))?,
            (None, None) if field.required => {
                return Err(err("is required and has no default".into()));
            }
            (None, None) => continue,
        };
        if handover.withholds(field) {
            continue;
        }
        out.push(ConfigValue {
            key: field.key.clone(),
            value: value.to_string(),
        });
    }
    let unknown = values
        .keys()
        .filter(|k| !schema.iter().any(|f| &f.key == *k))
        .cloned()
        .collect();
    handover.warn_about_grants(schema);
    Ok((out, unknown))
}

fn is_empty(v: &Value) -> bool {
    matches!(v, Value::Null) || v.as_str().is_some_and(str::is_empty)
}

fn depends_on_satisfied(
    field: &ConfigField,
    schema: &[ConfigField],
    values: &serde_json::Map<String, Value>,
) -> bool {
    field.depends_on.iter().all(|dep| {
        let expected: Value = serde_json::from_str(&dep.value).unwrap_or(Value::Null);
        let actual = values.get(&dep.field).cloned().or_else(|| {
            schema
                .iter()
                .find(|f| f.key == dep.field)
                .and_then(|f| f.default_value.as_deref())
                .and_then(|d| serde_json::from_str(d).ok())
        });
        actual.as_ref() == Some(&expected)
    })
}

/// Elastic accepts strings for every type (Kibana sends strings); convert them.
fn coerce(ty: FieldType, v: &Value) -> Result<Value, String> {
    match (ty, v) {
        (FieldType::Str, Value::String(_)) => Ok(v.clone()),
        (FieldType::Str, Value::Number(n)) => Ok(Value::String(n.to_string())),
        (FieldType::Int, Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(v.clone()),
        (FieldType::Int, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("expected an integer, got {s:?}")),
        (FieldType::Bool, Value::Bool(_)) => Ok(v.clone()),
        (FieldType::Bool, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "off" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("expected true or false, got {s:?}")),
        },
        (FieldType::List, Value::Array(_)) => Ok(v.clone()),
        (FieldType::List, Value::String(s)) => Ok(Value::Array(
            s.split(',')
                .map(|p| Value::String(p.trim().to_owned()))
                .filter(|p| p.as_str() != Some(""))
                .collect(),
        )),
        (ty, v) => Err(format!("expected {}, got {v}", type_name(ty))),
    }
}

fn type_name(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Str => "a string",
        FieldType::Int => "an integer",
        FieldType::Bool => "a boolean",
        FieldType::List => "a list",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_runtime::types::{Dependency, DisplayType};

    fn field(key: &str, ty: FieldType, default: Option<&str>, required: bool) -> ConfigField {
        ConfigField {
            key: key.into(),
            label: key.to_uppercase(),
            order: 1,
            type_: ty,
            display: DisplayType::Text,
            default_value: default.map(str::to_owned),
            required,
            sensitive: false,
            tooltip: None,
            depends_on: vec![],
            validations: vec![],
            ui_restrictions: vec![],
            options: vec![],
        }
    }

    fn obj(v: serde_json::Value) -> serde_json::Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    fn resolved(
        schema: &[ConfigField],
        v: serde_json::Value,
        handover: &Handover<'_>,
    ) -> Vec<(String, String)> {
        resolve(schema, &obj(v), handover)
            .expect("resolves")
            .0
            .into_iter()
            .map(|c| (c.key, c.value))
            .collect()
    }

    fn sensitive(key: &str, ty: FieldType, required: bool) -> ConfigField {
        ConfigField {
            sensitive: true,
            ..field(key, ty, None, required)
        }
    }

    /// A connector named `c` granting `sensitive_fields`, and a manifest declaring `credentials`.
    fn connector(sensitive_fields: &[&str]) -> Connector {
        let mut c: Connector =
            serde_yaml_ng::from_str("{connector_id: c, service_type: x}").expect("connector");
        c.grants.sensitive_fields = sensitive_fields.iter().map(|s| s.to_string()).collect();
        c
    }

    fn manifest(credentials: &str) -> Manifest {
        toml::from_str(&format!(
            "service_type = \"x\"\ncomponent = \"x.wasm\"\n{credentials}"
        ))
        .expect("manifest")
    }

    #[test]
    fn defaults_coercion_and_required() {
        let schema = vec![
            field("dir", FieldType::Str, None, true),
            field("depth", FieldType::Int, Some("3"), false),
            field("tags", FieldType::List, None, false),
            field("deep", FieldType::Bool, None, false),
        ];
        let values = serde_json::json!({"dir": "/x", "tags": "a, b", "deep": "yes", "zzz": 1});
        let (out, unknown) = resolve(&schema, &obj(values), &Handover::default()).expect("ok");
        let get = |k: &str| out.iter().find(|v| v.key == k).map(|v| v.value.clone());
        assert_eq!(get("dir").as_deref(), Some("\"/x\""));
        assert_eq!(get("depth").as_deref(), Some("3"));
        assert_eq!(get("tags").as_deref(), Some("[\"a\",\"b\"]"));
        assert_eq!(get("deep").as_deref(), Some("true"));
        assert_eq!(unknown, vec!["zzz".to_owned()]);

        let err = resolve(&schema, &obj(serde_json::json!({})), &Handover::default()).unwrap_err();
        assert_eq!(err.key, "dir");
        let err = resolve(
            &schema,
            &obj(serde_json::json!({"dir": "/x", "depth": "deep"})),
            &Handover::default(),
        )
        .unwrap_err();
        assert_eq!(err.key, "depth");
    }

    #[test]
    fn sensitive_values_stay_out_of_errors() {
        let pin = sensitive("pin", FieldType::Int, true);
        let err = resolve(
            &[pin],
            &obj(serde_json::json!({"pin": "s3cr3t-pin"})),
            &Handover::default(),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(err.to_string().contains("sensitive"), "{err}");
    }

    #[test]
    fn sensitive_values_are_withheld_unless_granted() {
        let schema = vec![
            field("user", FieldType::Str, None, true),
            sensitive("password", FieldType::Str, true),
            ConfigField {
                default_value: Some("\"plugin-default\"".into()),
                ..sensitive("pin", FieldType::Str, false)
            },
        ];
        let values = serde_json::json!({"user": "u", "password": "hunter2"});
        // Checked, then withheld: neither the value nor the plugin's own default goes over.
        let none = connector(&[]);
        assert_eq!(
            resolved(&schema, values.clone(), &Handover::new(&none, None)),
            vec![("user".to_owned(), "\"u\"".to_owned())]
        );
        assert_eq!(
            resolved(&schema, values.clone(), &Handover::default()),
            vec![("user".to_owned(), "\"u\"".to_owned())]
        );
        // A required sensitive field must still be filled.
        let err = resolve(
            &schema,
            &obj(serde_json::json!({"user": "u"})),
            &Handover::new(&none, None),
        )
        .unwrap_err();
        assert_eq!(err.key, "password");
        // Granted per field by the operator.
        let granted = connector(&["password", "nope", "user"]);
        assert_eq!(
            resolved(&schema, values, &Handover::new(&granted, None)),
            vec![
                ("user".to_owned(), "\"u\"".to_owned()),
                ("password".to_owned(), "\"hunter2\"".to_owned()),
            ]
        );
    }

    #[test]
    fn form_credential_fields_are_withheld_and_never_misplaced() {
        let schema = vec![
            field("tenant", FieldType::Str, None, true),
            // Not marked sensitive by the plugin, but the secret of its form credential.
            field("api_key", FieldType::Str, None, false),
        ];
        let m = manifest(
            "[credentials.api]\ntype = \"oauth2_client_credentials\"\ntoken_url = \"https://login.example/{tenant}/token\"\nclient_id = \"c\"\nclient_secret = \"{api_key}\"\nhosts = [\"https://api.example\"]\n",
        );
        let c = connector(&[]);
        let values = serde_json::json!({"tenant": "t", "api_key": "k-123"});
        assert_eq!(
            resolved(&schema, values.clone(), &Handover::new(&c, Some(&m))),
            vec![("tenant".to_owned(), "\"t\"".to_owned())]
        );
        let granted = connector(&["api_key"]);
        assert_eq!(
            resolved(&schema, values.clone(), &Handover::new(&granted, Some(&m))).len(),
            2
        );
        // A sensitive field in a non-secret position (here the token URL's path) fails the sync.
        let schema = vec![
            sensitive("tenant", FieldType::Str, true),
            field("api_key", FieldType::Str, None, false),
        ];
        let err = resolve(&schema, &obj(values), &Handover::new(&c, Some(&m))).unwrap_err();
        assert_eq!(err.key, "tenant");
        assert!(
            err.message.contains("credentials.api.token_url"),
            "{}",
            err.message
        );
    }

    #[test]
    fn depends_on_skips_fields() {
        let mut token = field("token", FieldType::Str, None, true);
        token.depends_on = vec![Dependency {
            field: "auth".into(),
            value: "\"token\"".into(),
        }];
        let schema = vec![
            field("auth", FieldType::Str, Some("\"none\""), false),
            token,
        ];
        let (out, _) =
            resolve(&schema, &obj(serde_json::json!({})), &Handover::default()).expect("ok");
        assert_eq!(out.len(), 1);
        assert!(
            resolve(
                &schema,
                &obj(serde_json::json!({"auth": "token"})),
                &Handover::default()
            )
            .is_err()
        );
    }
}
