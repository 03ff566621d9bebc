//! Elastic's advanced rules for Salesforce: a list of `{"query": "...", "language": "SOQL" |
//! "SOSL"}`; the records the queries return are what is synced (salesforce/validator.py).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Language {
    Soql,
    Sosl,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub query: String,
    pub language: Language,
}

const EXAMPLE: &str = r#"advanced rules are a JSON list such as [{"query": "SELECT Id, Name FROM Account", "language": "SOQL"}]"#;

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        other => other.to_string(),
    }
}

/// The rules, or every problem with them (`Ok(vec![])` for none: empty text, `null` or `[]`).
///
/// Elastic's schema: a list of objects with exactly `query` (a non-empty string) and
/// `language` (`SOQL` or `SOSL`). Elastic also runs every query against the org to validate
/// it; here the query's shape is checked (`SELECT ... FROM ...`, `FIND ...`), and a query
/// Salesforce rejects fails the sync as a configuration error naming it.
pub fn parse(text: &str) -> Result<Vec<Rule>, Vec<String>> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| vec![format!("advanced rules are not valid JSON: {e}")])?;
    let list = match &value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        other => return Err(vec![format!("{EXAMPLE}; got {}", describe(other))]),
    };
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    for (i, rule) in list.iter().enumerate() {
        let at = format!("rule {}", i + 1);
        let Value::Object(fields) = rule else {
            errors.push(format!("{at} must be an object; got {}", describe(rule)));
            continue;
        };
        for k in fields
            .keys()
            .filter(|k| !["query", "language"].contains(&k.as_str()))
        {
            errors.push(format!(
                "{at}: unknown key {k:?}; the keys are query and language"
            ));
        }
        let query = match fields.get("query") {
            Some(Value::String(q)) if !q.trim().is_empty() => Some(q.trim().to_owned()),
            Some(other) => {
                errors.push(format!(
                    "{at}: query must be a non-empty string; got {}",
                    describe(other)
                ));
                None
            }
            None => {
                errors.push(format!("{at}: query is required"));
                None
            }
        };
        let language = match fields.get("language").and_then(Value::as_str) {
            Some("SOQL") => Some(Language::Soql),
            Some("SOSL") => Some(Language::Sosl),
            Some(other) => {
                errors.push(format!(
                    "{at}: language must be \"SOQL\" or \"SOSL\"; got {other:?}"
                ));
                None
            }
            None => {
                errors.push(format!("{at}: language (\"SOQL\" or \"SOSL\") is required"));
                None
            }
        };
        if let (Some(query), Some(language)) = (query, language) {
            let upper = query.to_ascii_uppercase();
            match language {
                Language::Soql if !(upper.starts_with("SELECT ") && upper.contains(" FROM ")) => {
                    errors.push(format!("{at}: a SOQL query reads `SELECT <fields> FROM <object> ...`; got {query:?}"));
                }
                Language::Sosl if !upper.starts_with("FIND ") => {
                    errors.push(format!(
                        "{at}: a SOSL query reads `FIND {{terms}} ...`; got {query:?}"
                    ));
                }
                _ => rules.push(Rule { query, language }),
            }
        }
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elastic_schema_and_query_shapes() {
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("[]"), Ok(vec![]));
        assert_eq!(parse("null"), Ok(vec![]));
        assert_eq!(
            parse(
                r#"[{"query": "SELECT Id FROM Account", "language": "SOQL"}, {"query": "FIND {Acme} IN ALL FIELDS", "language": "SOSL"}]"#
            ),
            Ok(vec![
                Rule {
                    query: "SELECT Id FROM Account".into(),
                    language: Language::Soql
                },
                Rule {
                    query: "FIND {Acme} IN ALL FIELDS".into(),
                    language: Language::Sosl
                },
            ])
        );
        let bad = [
            (
                r#"{"query": "SELECT Id FROM Account", "language": "SOQL"}"#,
                "JSON list",
            ),
            (
                r#"[{"query": "SELECT Id FROM Account"}]"#,
                "language (\"SOQL\" or \"SOSL\") is required",
            ),
            (
                r#"[{"query": "SELECT Id FROM Account", "language": "soql"}]"#,
                "language must be",
            ),
            (r#"[{"query": "", "language": "SOQL"}]"#, "non-empty string"),
            (
                r#"[{"query": "SELECT Id FROM Account", "language": "SOQL", "limit": 5}]"#,
                "unknown key \"limit\"",
            ),
            (
                r#"[{"query": "Account", "language": "SOQL"}]"#,
                "SELECT <fields> FROM <object>",
            ),
            (
                r#"[{"query": "SELECT Id FROM Account", "language": "SOSL"}]"#,
                "FIND {terms}",
            ),
            (r#"["x"]"#, "must be an object"),
            ("[", "not valid JSON"),
        ];
        for (text, needle) in bad {
            let errors = parse(text).expect_err(text);
            assert_eq!(errors.len(), 1, "{text}: {errors:?}");
            assert!(errors[0].contains(needle), "{text}: {errors:?}");
        }
        // Every problem is reported.
        assert_eq!(parse(r#"[{"x": 1}]"#).expect_err("bad").len(), 3);
    }
}
