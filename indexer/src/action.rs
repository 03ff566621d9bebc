//! What connectors hand to the indexer, and the checks that keep a bad action from poisoning a whole request.

/// The bulk operation of an [`Action`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Create or replace the document (`_bulk` `index`).
    Index,
    /// Delete the document; deleting a document that is not there counts as done.
    Delete,
}

impl Op {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Op::Index => "index",
            Op::Delete => "delete",
        }
    }
}

/// One document operation.
#[derive(Clone, Debug)]
pub struct Action {
    pub id: String,
    pub op: Op,
    /// For [`Op::Index`]: the document, a JSON object as text. The host validated it; the indexer copies it
    /// byte for byte (only raw line breaks, which NDJSON cannot carry, become spaces).
    pub source: Option<String>,
}

impl Action {
    pub fn index(id: impl Into<String>, source: impl Into<String>) -> Action {
        Action {
            id: id.into(),
            op: Op::Index,
            source: Some(source.into()),
        }
    }

    pub fn delete(id: impl Into<String>) -> Action {
        Action {
            id: id.into(),
            op: Op::Delete,
            source: None,
        }
    }

    /// Bytes this action occupies in the queue's budget (close to its NDJSON size).
    pub(crate) fn budget_bytes(&self) -> usize {
        self.id.len() + self.source.as_ref().map_or(0, String::len) + 32
    }

    /// Refuses what Elasticsearch would reject for the whole request rather than per item
    /// (an empty or over-long `_id` fails request validation), and index actions without an object.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.id.is_empty() {
            return Err("the document id is empty".into());
        }
        if self.id.len() > 512 {
            return Err(format!(
                "the document id is {} bytes long; Elasticsearch allows 512",
                self.id.len()
            ));
        }
        if self.op == Op::Index {
            let Some(source) = &self.source else {
                return Err("an index action needs a source document".into());
            };
            let trimmed = source.trim_ascii();
            if !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
                return Err("the source is not a JSON object".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_rejects_what_would_fail_a_whole_request() {
        assert!(Action::index("1", r#"{"a":1}"#).check().is_ok());
        assert!(Action::index("", r#"{"a":1}"#).check().is_err());
        assert!(Action::index("x".repeat(513), "{}").check().is_err());
        assert!(Action::index("1", "[1]").check().is_err());
        assert!(
            Action {
                id: "1".into(),
                op: Op::Index,
                source: None
            }
            .check()
            .is_err()
        );
        assert!(Action::delete("1").check().is_ok());
    }
}
