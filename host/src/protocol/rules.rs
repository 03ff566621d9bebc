//! Sync-rule drafts: Kibana saves edited rules as a draft with `validation.state: edited`; Inlet
//! validates them (basic rules by the host's own checks, advanced rules by the plugin), writes
//! `{state: valid|invalid, errors}` and activates a valid draft.

use serde_json::{Value, json};

use super::document::{DEFAULT_DOMAIN, basic_rules, rules_of};
use crate::sync::rules::RuleSet;

/// The default domain's draft, if Kibana marked it edited.
pub fn edited_draft(filtering: &Value) -> Option<&Value> {
    let draft = filtering
        .as_array()?
        .iter()
        .find(|d| d["domain"] == DEFAULT_DOMAIN)
        .map(|d| &d["draft"])?;
    (draft["validation"]["state"] == "edited").then_some(draft)
}

/// Errors in Elastic's shape: `[{ids: [rule id], messages: [why]}]`.
pub fn basic_errors(draft: &Value) -> Vec<Value> {
    let rules = match basic_rules(&draft["rules"]) {
        Ok(r) => r,
        Err(message) => return vec![json!({"ids": [], "messages": [message]})],
    };
    match RuleSet::new(rules) {
        Ok(_) => Vec::new(),
        Err(e) => vec![json!({"ids": [e.rule], "messages": [e.message]})],
    }
}

/// The advanced snippet to hand to the plugin, if the draft has one.
pub fn advanced(draft: &Value) -> Option<Value> {
    rules_of(draft).ok().and_then(|(_, a)| a)
}

/// The validation result to write.
pub fn validation(errors: Vec<Value>) -> Value {
    json!({
        "state": if errors.is_empty() { "valid" } else { "invalid" },
        "errors": errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filtering(rules: Value, state: &str) -> Value {
        json!([{
            "domain": "DEFAULT",
            "active": {"rules": [], "advanced_snippet": {"value": {}}, "validation": {"state": "valid", "errors": []}},
            "draft": {"rules": rules, "advanced_snippet": {"value": {}}, "validation": {"state": state, "errors": []}},
        }])
    }

    #[test]
    fn only_edited_drafts_are_validated() {
        assert!(edited_draft(&filtering(json!([]), "edited")).is_some());
        assert!(edited_draft(&filtering(json!([]), "valid")).is_none());
        assert!(edited_draft(&json!(null)).is_none());
    }

    #[test]
    fn match_all_regex_is_invalid_but_the_default_rule_is_not() {
        let default = json!({"id": "DEFAULT", "order": 0, "policy": "include", "field": "_", "rule": "regex", "value": ".*"});
        let bad = json!({"id": "everything", "order": 1, "policy": "exclude", "field": "path", "rule": "regex", "value": ".*"});
        let good = json!({"id": "md", "order": 1, "policy": "include", "field": "path", "rule": "ends_with", "value": ".md"});
        let f = filtering(json!([bad, default]), "edited");
        let errors = basic_errors(edited_draft(&f).expect("draft"));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["ids"], json!(["everything"]));
        assert_eq!(validation(errors)["state"], "invalid");
        let f = filtering(json!([good, default]), "edited");
        let errors = basic_errors(edited_draft(&f).expect("draft"));
        assert_eq!(validation(errors), json!({"state": "valid", "errors": []}));
    }
}
