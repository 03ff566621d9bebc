//! Basic sync rules, applied by the host to every document the way Elastic's framework does:
//! rules are tried in `order`; the first whose condition matches decides (include or exclude);
//! a document no rule matches is included.

use std::cmp::Ordering;

use serde::Deserialize;
use serde_json::Value;

/// One basic rule, in Elastic's filtering shape.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct BasicRule {
    /// Kibana's id of the rule; names it in error messages (unset: field, condition and value).
    #[serde(default)]
    pub id: Option<String>,
    /// Position in the set: lower runs first (default 0; equal orders keep their file order).
    #[serde(default)]
    pub order: i64,
    /// What a match does to the document.
    pub policy: Policy,
    /// A top-level field of the document (dots address nested objects: `meta.author`).
    pub field: String,
    /// How the field is compared with `value`.
    pub rule: Condition,
    /// Compared in the field's own type: a number, a boolean, an RFC 3339 instant, else text.
    pub value: String,
}

/// A rule's `policy`: what happens to a document its condition matches.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Indexed, and no later rule is tried.
    Include,
    /// Left out of the index, and no later rule is tried.
    Exclude,
}

/// A rule's `rule`: Elastic's condition names, as Kibana stores them.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum Condition {
    /// `equals`: the same value in the field's type (`2` equals `2.0`).
    #[serde(rename = "equals")]
    Equals,
    /// `starts_with`, on the field as text (an object or array as its JSON).
    #[serde(rename = "starts_with")]
    StartsWith,
    /// `ends_with`, on the field as text.
    #[serde(rename = "ends_with")]
    EndsWith,
    /// `contains`, on the field as text.
    #[serde(rename = "contains")]
    Contains,
    /// `regex`: the whole field as text must match (the pattern is anchored at both ends).
    #[serde(rename = "regex")]
    Regex,
    /// `<`: numbers, booleans and RFC 3339 instants by value, other strings lexically.
    #[serde(rename = "<")]
    LessThan,
    /// `>`: compared like `<`.
    #[serde(rename = ">")]
    GreaterThan,
}

/// A rule set Elastic's validators would refuse; [`RuleSet::new`] returns the first one found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sync rule {rule}: {message}")]
pub struct RuleError {
    /// The rule's `id`, or its field, condition and value when it has none.
    pub rule: String,
    /// What is wrong with it.
    pub message: String,
}

/// A validated, ordered rule set.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<(BasicRule, Option<regex::Regex>)>,
}

impl RuleSet {
    /// Validates the rules as Elastic's validators do (no match-all regex, no duplicates,
    /// compilable regexes) and orders them.
    pub fn new(mut rules: Vec<BasicRule>) -> Result<Self, RuleError> {
        rules.sort_by_key(|r| r.order);
        let mut out: Vec<(BasicRule, Option<regex::Regex>)> = Vec::with_capacity(rules.len());
        for r in rules {
            let name =
                r.id.clone()
                    .unwrap_or_else(|| format!("{} {:?} {:?}", r.field, r.rule, r.value));
            let err = |message: String| RuleError {
                rule: name.clone(),
                message,
            };
            if r.field.trim().is_empty() {
                return Err(err("`field` is empty".into()));
            }
            if out.iter().any(|(o, _)| {
                o.field == r.field && o.rule == r.rule && o.value == r.value && o.policy == r.policy
            }) {
                return Err(err("duplicates an earlier rule".into()));
            }
            let re = if r.rule == Condition::Regex {
                if matches!(r.value.as_str(), ".*" | "(.*)" | "^.*$" | ".+") {
                    return Err(err(format!(
                        "{:?} matches everything; remove the rule instead",
                        r.value
                    )));
                }
                Some(
                    regex::Regex::new(&format!("^(?:{})$", r.value))
                        .map_err(|e| err(format!("invalid regex: {e}")))?,
                )
            } else {
                None
            };
            out.push((r, re));
        }
        Ok(RuleSet { rules: out })
    }

    /// No rules: every document passes, and callers may skip the check.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether the document passes.
    pub fn includes(&self, doc: &Value) -> bool {
        for (rule, re) in &self.rules {
            let Some(field) = lookup(doc, &rule.field) else {
                continue;
            };
            if matches(rule, re.as_ref(), field) {
                return rule.policy == Policy::Include;
            }
        }
        true
    }
}

impl RuleSet {
    /// Whether a document, given as its JSON text, passes. Only the fields the rules name are
    /// parsed: a whole-document `Value` stops at serde_json's 128 levels, while the host accepts
    /// documents up to Elasticsearch's 1000, and a deep document must not slip past the rules.
    pub fn includes_source(&self, src: &str) -> bool {
        let Ok(top) = serde_json::from_str::<RawObject<'_>>(src) else {
            // Not an object: nothing for a rule to look at.
            return true;
        };
        for (rule, re) in &self.rules {
            let Some(field) = lookup_raw(&top, &rule.field) else {
                continue;
            };
            let hit = match serde_json::from_str::<Value>(field.get()) {
                Ok(v) => matches(rule, re.as_ref(), &v),
                // Too deep to build a `Value`: an object or array, which compares as its JSON
                // text, as `as_text` renders one.
                Err(_) => matches(rule, re.as_ref(), &Value::String(field.get().to_owned())),
            };
            if hit {
                return rule.policy == Policy::Include;
            }
        }
        true
    }
}

/// One level of a JSON object, its values left unparsed.
type RawObject<'a> =
    std::collections::HashMap<std::borrow::Cow<'a, str>, &'a serde_json::value::RawValue>;

/// `path` in a document: the top-level key as written (Elastic allows dots in field names),
/// else the dotted path through nested objects.
fn lookup_raw<'a>(top: &RawObject<'a>, path: &str) -> Option<&'a serde_json::value::RawValue> {
    if let Some(v) = top.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut current = *top.get(parts.next()?)?;
    for part in parts {
        let level: RawObject<'a> = serde_json::from_str(current.get()).ok()?;
        current = *level.get(part)?;
    }
    Some(current)
}

fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    doc.get(path)
        .or_else(|| path.split('.').try_fold(doc, |v, part| v.get(part)))
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Compares the field with the rule's value in the field's own type, as Elastic coerces.
fn compare(field: &Value, value: &str) -> Option<Ordering> {
    match field {
        Value::Number(n) => {
            let f = n.as_f64()?;
            let v: f64 = value.trim().parse().ok()?;
            f.partial_cmp(&v)
        }
        Value::Bool(b) => {
            let v: bool = value.trim().parse().ok()?;
            Some(b.cmp(&v))
        }
        Value::String(s) => {
            // RFC 3339 timestamps compare as instants, other strings lexically.
            match (
                chrono::DateTime::parse_from_rfc3339(s),
                chrono::DateTime::parse_from_rfc3339(value),
            ) {
                (Ok(a), Ok(b)) => Some(a.cmp(&b)),
                _ => Some(s.as_str().cmp(value)),
            }
        }
        _ => None,
    }
}

fn matches(rule: &BasicRule, re: Option<&regex::Regex>, field: &Value) -> bool {
    match rule.rule {
        Condition::Equals => compare(field, &rule.value) == Some(Ordering::Equal),
        Condition::LessThan => compare(field, &rule.value) == Some(Ordering::Less),
        Condition::GreaterThan => compare(field, &rule.value) == Some(Ordering::Greater),
        Condition::StartsWith => as_text(field).starts_with(&rule.value),
        Condition::EndsWith => as_text(field).ends_with(&rule.value),
        Condition::Contains => as_text(field).contains(&rule.value),
        Condition::Regex => re.is_some_and(|re| re.is_match(&as_text(field))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(order: i64, policy: Policy, field: &str, cond: Condition, value: &str) -> BasicRule {
        BasicRule {
            id: None,
            order,
            policy,
            field: field.into(),
            rule: cond,
            value: value.into(),
        }
    }

    #[test]
    fn rules_judge_documents_deeper_than_serde_json_builds() {
        let set = RuleSet::new(vec![
            rule(1, Policy::Exclude, "kind", Condition::Equals, "secret"),
            rule(
                2,
                Policy::Exclude,
                "meta.owner",
                Condition::StartsWith,
                "bob",
            ),
        ])
        .expect("valid");
        let deep = format!("{}1{}", "[".repeat(500), "]".repeat(500));
        let doc = format!(r#"{{"deep":{deep},"kind":"secret"}}"#);
        assert!(
            serde_json::from_str::<Value>(&doc).is_err(),
            "deeper than 128"
        );
        assert!(!set.includes_source(&doc), "excluded by its kind");
        let doc = format!(r#"{{"deep":{deep},"kind":"open","meta":{{"owner":"bobby"}}}}"#);
        assert!(!set.includes_source(&doc), "excluded by a nested field");
        let doc = format!(r#"{{"deep":{deep},"kind":"open"}}"#);
        assert!(set.includes_source(&doc));
        // The same verdicts as on a parsed document.
        for doc in [
            json!({"kind": "secret"}),
            json!({"kind": "open", "meta": {"owner": "bob"}}),
            json!({"meta.owner": "bob"}),
            json!({"kind": 3}),
        ] {
            assert_eq!(
                set.includes_source(&doc.to_string()),
                set.includes(&doc),
                "{doc}"
            );
        }
    }

    #[test]
    fn first_matching_rule_decides_and_default_is_include() {
        let set = RuleSet::new(vec![
            rule(2, Policy::Include, "path", Condition::EndsWith, ".md"),
            rule(1, Policy::Exclude, "path", Condition::Contains, "/private/"),
            rule(3, Policy::Exclude, "size", Condition::GreaterThan, "1000"),
        ])
        .expect("valid");
        assert!(!set.includes(&json!({"path": "/a/private/x.md"})));
        assert!(set.includes(&json!({"path": "/a/x.md", "size": 5000})));
        assert!(!set.includes(&json!({"path": "/a/x.txt", "size": 5000})));
        assert!(set.includes(&json!({"path": "/a/x.txt", "size": 10})));
        assert!(set.includes(&json!({"other": 1})));
    }

    #[test]
    fn typed_comparisons_and_regex() {
        let set = RuleSet::new(vec![
            rule(
                1,
                Policy::Exclude,
                "when",
                Condition::LessThan,
                "2024-01-01T00:00:00Z",
            ),
            rule(
                2,
                Policy::Exclude,
                "meta.kind",
                Condition::Regex,
                "draft|tmp",
            ),
            rule(3, Policy::Exclude, "n", Condition::Equals, "2"),
        ])
        .expect("valid");
        assert!(!set.includes(&json!({"when": "2023-06-01T00:00:00+02:00"})));
        assert!(set.includes(&json!({"when": "2024-06-01T00:00:00Z"})));
        assert!(!set.includes(&json!({"meta": {"kind": "draft"}})));
        assert!(
            set.includes(&json!({"meta": {"kind": "drafty"}})),
            "regex is anchored"
        );
        assert!(!set.includes(&json!({"n": 2.0})));
    }

    #[test]
    fn invalid_sets_are_refused() {
        assert!(RuleSet::new(vec![rule(1, Policy::Include, "a", Condition::Regex, ".*")]).is_err());
        assert!(RuleSet::new(vec![rule(1, Policy::Include, "a", Condition::Regex, "(")]).is_err());
        assert!(
            RuleSet::new(vec![
                rule(1, Policy::Include, "a", Condition::Equals, "x"),
                rule(2, Policy::Include, "a", Condition::Equals, "x"),
            ])
            .is_err()
        );
    }
}
