//! A plugin's batch turned into bulk actions: each document checked, the host's fields spliced
//! in, the sync rules applied.

use inlet_policy::budget::Charge;
use inlet_policy::sync_rules::RuleSet;
use inlet_runtime::{Batch, HeldBatch, types};

use super::document::{self, DocError};
use crate::sink::Action;

/// What every batch of one sync is checked against.
pub(super) struct Checks<'a> {
    /// `limits.max_document_bytes`.
    pub(super) max_body_bytes: usize,
    /// `limits.max_batch_docs`.
    pub(super) max_batch_docs: usize,
    /// The connector's pipeline settings, written into each document.
    pub(super) pipeline: Option<&'a inlet_policy::config::Pipeline>,
    /// The connector's basic sync rules.
    pub(super) rules: &'a RuleSet,
}

/// A document the host refused: its id, its body or line, and why.
pub(super) type Refused = (String, String, DocError);

/// A batch checked and made into bulk actions.
pub(super) struct Prepared {
    /// Documents the plugin returned in the batch.
    pub(super) count: usize,
    /// What goes to the sink, in the plugin's order.
    pub(super) actions: Vec<Action>,
    /// Documents refused by the checks (for the dead-letter file).
    pub(super) refused: Vec<Refused>,
    /// Documents the basic sync rules left out.
    pub(super) filtered: u64,
    /// The batch's charge against the instance's host budget: held until the sink has taken
    /// the actions made of it.
    pub(super) charge: Charge,
}

/// Why a batch as a whole was refused.
#[derive(Debug, thiserror::Error)]
pub(super) enum BatchError {
    #[error(
        "the plugin returned {count} documents in one batch; the limit is {limit} (limits.max_batch_docs)"
    )]
    TooManyDocuments { count: usize, limit: usize },
}

impl Checks<'_> {
    /// Checks every document of `held` and builds the bulk actions of the good ones. A bad
    /// document is refused alone; only a batch over `max_batch_docs` fails as a whole.
    pub(super) fn prepare(&self, held: HeldBatch) -> Result<Prepared, BatchError> {
        let HeldBatch { batch, charge } = held;
        // JSON lines are split once, up front: their count is the batch's document count.
        let lines = match &batch {
            Batch::Documents(_) => Vec::new(),
            Batch::JsonLines(bytes) => document::json_lines(bytes),
        };
        let count = match &batch {
            Batch::Documents(docs) => docs.len(),
            Batch::JsonLines(_) => lines.len(),
        };
        if count > self.max_batch_docs {
            return Err(BatchError::TooManyDocuments {
                count,
                limit: self.max_batch_docs,
            });
        }
        let limits = document::DocLimits {
            max_body_bytes: self.max_body_bytes,
            pipeline: self.pipeline,
        };
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut out = Prepared {
            count,
            actions: Vec::with_capacity(count),
            refused: Vec::new(),
            filtered: 0,
            charge,
        };
        let mut keep = |prepared: Result<Action, Refused>| match prepared {
            Ok(action) if !self.rules.is_empty() && !passes(self.rules, &action) => {
                out.filtered += 1;
            }
            Ok(action) => out.actions.push(action),
            Err(refused) => out.refused.push(refused),
        };
        match &batch {
            Batch::Documents(docs) => {
                for doc in docs {
                    keep(document::prepare(doc, &now, &limits).map_err(|e| {
                        let body = match doc.op {
                            types::Operation::Index => doc.body.clone(),
                            types::Operation::Delete => String::new(),
                        };
                        (doc.id.clone(), body, e)
                    }));
                }
            }
            // Each line is checked as a `document` is; a bad one is refused alone.
            Batch::JsonLines(_) => {
                for line in lines {
                    keep(
                        document::prepare_line(line, &now, &limits)
                            .map_err(|r| (r.id, r.line, r.error)),
                    );
                }
            }
        }
        Ok(out)
    }
}

/// Whether basic rules let a document through. Deletions always pass.
fn passes(rules: &RuleSet, action: &Action) -> bool {
    match action.source.as_deref() {
        None => true,
        Some(src) => rules.includes_source(src),
    }
}
