//! Recurses without bound: the host must trap the stack overflow.
use inlet_sdk::{ConfigField, Connector, DocStream, Document, Metadata, Result, SyncRequest};

struct Deep;

#[inline(never)]
#[allow(unconditional_recursion)] // the point of this plugin
fn descend(n: u64, acc: &mut Vec<u64>) -> u64 {
    acc.push(n);
    let r = descend(std::hint::black_box(n + 1), acc);
    r.wrapping_add(acc.len() as u64)
}

struct Dive;

impl DocStream for Dive {
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>> {
        let mut acc = Vec::new();
        let n = descend(0, &mut acc);
        Ok(Some(vec![Document::index(
            n.to_string(),
            &serde_json::json!({}),
        )]))
    }
}

impl Connector for Deep {
    fn metadata() -> Metadata {
        Metadata::new("recursion", "recursion", "0.0.0")
    }
    fn configuration() -> Vec<ConfigField> {
        vec![]
    }
    fn full_sync(_: SyncRequest) -> Result<Box<dyn DocStream>> {
        Ok(Box::new(Dive))
    }
}

inlet_sdk::export!(Deep);
