//! Sync-rule drafts: Kibana saves edited rules as a draft with `validation.state: edited`; Inlet
//! validates them (basic rules by the host's own checks, advanced rules by the plugin), writes
//! `{state: valid|invalid, errors}` and activates a valid draft.

use serde::Serialize;
use serde_json::Value;

use super::document::{DEFAULT_DOMAIN, basic_rules, rules_of};
use super::model::{Filtering, FilteringRules, Open, ValidationState};
use inlet_policy::sync_rules::RuleSet;

/// The id Elastic's validation gives errors of the advanced snippet.
const ADVANCED_SNIPPET_ID: &str = "advanced_snippet";

/// One validation error in Elastic's shape: the rules it concerns and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ValidationError {
    /// `ids`: the ids of the rules concerned (`advanced_snippet` for the advanced rules; empty
    /// when the rules cannot be read at all).
    pub(crate) ids: Vec<String>,
    /// `messages`: why, one sentence each; Kibana shows them with the draft.
    pub(crate) messages: Vec<String>,
}

impl ValidationError {
    /// An error of the advanced snippet.
    pub(crate) fn advanced(messages: Vec<String>) -> Self {
        ValidationError {
            ids: vec![ADVANCED_SNIPPET_ID.into()],
            messages,
        }
    }
}

/// The validation written into a draft: `{state: valid|invalid, errors}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DraftValidation {
    /// `state`: `valid` or `invalid` (Inlet never writes `edited`).
    pub(crate) state: ValidationState,
    /// `errors`: empty when valid.
    pub(crate) errors: Vec<ValidationError>,
}

impl DraftValidation {
    /// Whether the draft may become the active rules.
    pub(crate) fn is_valid(&self) -> bool {
        self.state == ValidationState::Valid
    }
}

/// The default domain's draft, if Kibana marked it edited.
pub(crate) fn edited_draft(filtering: Option<&Filtering>) -> Option<&FilteringRules> {
    let Some(Filtering::Domains(domains)) = filtering else {
        return None;
    };
    let draft = domains
        .iter()
        .find(|d| d.domain.as_deref() == Some(DEFAULT_DOMAIN))?
        .draft
        .as_ref()?;
    let state = draft
        .validation
        .as_ref()?
        .state
        .as_ref()
        .and_then(Open::known);
    (state == Some(ValidationState::Edited)).then_some(draft)
}

/// The basic rules' errors.
pub(crate) fn basic_errors(draft: &FilteringRules) -> Vec<ValidationError> {
    let rules = match basic_rules(draft.rules.as_deref().unwrap_or_default()) {
        Ok(r) => r,
        Err(message) => {
            return vec![ValidationError {
                ids: vec![],
                messages: vec![message],
            }];
        }
    };
    match RuleSet::new(rules) {
        Ok(_) => Vec::new(),
        Err(e) => vec![ValidationError {
            ids: vec![e.rule],
            messages: vec![e.message],
        }],
    }
}

/// The advanced snippet to hand to the plugin, if the draft has one.
pub(crate) fn advanced(draft: &FilteringRules) -> Option<Value> {
    rules_of(draft).ok().and_then(|(_, a)| a)
}

/// The validation result to write.
pub(crate) fn validation(errors: Vec<ValidationError>) -> DraftValidation {
    DraftValidation {
        state: if errors.is_empty() {
            ValidationState::Valid
        } else {
            ValidationState::Invalid
        },
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filtering(rules: Value, state: &str) -> Filtering {
        serde_json::from_value(json!([{
            "domain": "DEFAULT",
            "active": {"rules": [], "advanced_snippet": {"value": {}}, "validation": {"state": "valid", "errors": []}},
            "draft": {"rules": rules, "advanced_snippet": {"value": {}}, "validation": {"state": state, "errors": []}},
        }]))
        .expect("filtering")
    }

    #[test]
    fn only_edited_drafts_are_validated() {
        assert!(edited_draft(Some(&filtering(json!([]), "edited"))).is_some());
        assert!(edited_draft(Some(&filtering(json!([]), "valid"))).is_none());
        assert!(edited_draft(Some(&filtering(json!([]), "a later state"))).is_none());
        assert!(edited_draft(None).is_none());
    }

    #[test]
    fn match_all_regex_is_invalid_but_the_default_rule_is_not() {
        let default = json!({"id": "DEFAULT", "order": 0, "policy": "include", "field": "_", "rule": "regex", "value": ".*"});
        let bad = json!({"id": "everything", "order": 1, "policy": "exclude", "field": "path", "rule": "regex", "value": ".*"});
        let good = json!({"id": "md", "order": 1, "policy": "include", "field": "path", "rule": "ends_with", "value": ".md"});
        let f = filtering(json!([bad, default]), "edited");
        let errors = basic_errors(edited_draft(Some(&f)).expect("draft"));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].ids, ["everything"]);
        assert_eq!(validation(errors).state, ValidationState::Invalid);
        let f = filtering(json!([good, default]), "edited");
        let errors = basic_errors(edited_draft(Some(&f)).expect("draft"));
        assert_eq!(
            json!(validation(errors)),
            json!({"state": "valid", "errors": []}),
            "the shape written into the draft"
        );
        assert_eq!(
            json!(ValidationError::advanced(vec!["no".into()])),
            json!({"ids": ["advanced_snippet"], "messages": ["no"]})
        );
    }
}
