//! Turns a connector's configuration values into what the plugin receives, checked against the
//! plugin's schema the way Elastic's framework does: defaults for empty optional fields, an
//! error for a missing required one, values of the declared type.

use serde_json::Value;

use crate::runtime::types::{ConfigField, ConfigValue, FieldType};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration field `{key}` ({label}): {message}")]
pub struct FieldError {
    pub key: String,
    pub label: String,
    pub message: String,
}

/// Builds the values handed to the plugin. `values` are the user's (config.yml or Kibana).
/// Keys not in the schema are returned as the second element so the caller can warn.
pub fn resolve(
    schema: &[ConfigField],
    values: &serde_json::Map<String, Value>,
) -> Result<(Vec<ConfigValue>, Vec<String>), FieldError> {
    let mut out = Vec::with_capacity(schema.len());
    for field in schema {
        let err = |message: String| FieldError {
            key: field.key.clone(),
            label: field.label.clone(),
            message,
        };
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
    use crate::runtime::types::{Dependency, DisplayType};

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

    #[test]
    fn defaults_coercion_and_required() {
        let schema = vec![
            field("dir", FieldType::Str, None, true),
            field("depth", FieldType::Int, Some("3"), false),
            field("tags", FieldType::List, None, false),
            field("deep", FieldType::Bool, None, false),
        ];
        let values = serde_json::json!({"dir": "/x", "tags": "a, b", "deep": "yes", "zzz": 1});
        let (out, unknown) = resolve(&schema, values.as_object().expect("object")).expect("ok");
        let get = |k: &str| out.iter().find(|v| v.key == k).map(|v| v.value.clone());
        assert_eq!(get("dir").as_deref(), Some("\"/x\""));
        assert_eq!(get("depth").as_deref(), Some("3"));
        assert_eq!(get("tags").as_deref(), Some("[\"a\",\"b\"]"));
        assert_eq!(get("deep").as_deref(), Some("true"));
        assert_eq!(unknown, vec!["zzz".to_owned()]);

        let err = resolve(&schema, serde_json::json!({}).as_object().expect("object")).unwrap_err();
        assert_eq!(err.key, "dir");
        let err = resolve(
            &schema,
            serde_json::json!({"dir": "/x", "depth": "deep"})
                .as_object()
                .expect("object"),
        )
        .unwrap_err();
        assert_eq!(err.key, "depth");
    }

    #[test]
    fn sensitive_values_stay_out_of_errors() {
        let mut pin = field("pin", FieldType::Int, None, true);
        pin.sensitive = true;
        let err = resolve(
            &[pin],
            serde_json::json!({"pin": "s3cr3t-pin"})
                .as_object()
                .expect("object"),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(err.to_string().contains("sensitive"), "{err}");
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
            resolve(&schema, serde_json::json!({}).as_object().expect("object")).expect("ok");
        assert_eq!(out.len(), 1);
        assert!(
            resolve(
                &schema,
                serde_json::json!({"auth": "token"})
                    .as_object()
                    .expect("object")
            )
            .is_err()
        );
    }
}
