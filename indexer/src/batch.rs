//! One `_bulk` request body under construction (or being retried): NDJSON bytes plus, per action, where its
//! lines sit, so failed items can be cut out and resent, and their original document dead-lettered.

use std::ops::Range;

use crate::{Action, Op};

/// One action inside a batch body.
#[derive(Debug)]
pub(crate) struct Entry {
    pub id: String,
    pub op: Op,
    /// Both lines (action/metadata and document), newline included.
    pub range: Range<usize>,
    /// Length of the stamp spliced in right after the document's `{` (0 when none).
    pub stamp_len: usize,
    /// Where the document line starts (index actions only).
    pub doc_start: Option<usize>,
    /// Failed attempts so far (whole-request and per-item failures alike).
    pub attempts: u32,
}

#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub body: Vec<u8>,
    pub entries: Vec<Entry>,
}

impl Batch {
    /// An empty batch writing into `body` (cleared).
    pub(crate) fn with_body(body: Vec<u8>) -> Batch {
        Batch {
            body,
            entries: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends one action. `stamp` is `"field":"sync-id"` (already JSON-encoded) for full syncs.
    /// The action must have passed [`Action::check`].
    pub(crate) fn push(&mut self, action: Action, stamp: Option<&[u8]>) {
        let start = self.body.len();
        self.body.extend_from_slice(b"{\"");
        self.body.extend_from_slice(action.op.as_str().as_bytes());
        self.body.extend_from_slice(b"\":{\"_id\":");
        push_json_string(&mut self.body, &action.id);
        self.body.extend_from_slice(b"}}\n");
        let mut doc_start = None;
        let mut stamp_len = 0;
        if let (Op::Index, Some(source)) = (action.op, &action.source) {
            let doc = source.trim_ascii().as_bytes();
            doc_start = Some(self.body.len());
            let copied_from = self.body.len();
            match (stamp, doc.split_first()) {
                // Splicing textually right after `{` keeps the host's bytes untouched, and lets the
                // dead-letter writer take the stamp out again by position.
                (Some(stamp), Some((b'{', rest))) => {
                    self.body.push(b'{');
                    self.body.extend_from_slice(stamp);
                    if !rest.trim_ascii_start().starts_with(b"}") {
                        self.body.push(b',');
                    }
                    stamp_len = self.body.len() - copied_from - 1;
                    self.body.extend_from_slice(rest);
                }
                _ => self.body.extend_from_slice(doc),
            }
            // A raw line break can only be whitespace in valid JSON (inside strings it must be escaped),
            // so turning it into a space keeps the document and keeps NDJSON framing intact.
            if memchr::memchr2(b'\n', b'\r', doc).is_some() {
                for b in &mut self.body[copied_from..] {
                    if *b == b'\n' || *b == b'\r' {
                        *b = b' ';
                    }
                }
            }
            self.body.push(b'\n');
        }
        let range = start..self.body.len();
        self.entries.push(Entry {
            id: action.id,
            op: action.op,
            range,
            stamp_len,
            doc_start,
            attempts: 0,
        });
    }

    /// A new batch holding only `entries`, whose ranges point into `self.body`.
    pub(crate) fn rebuild(body: &[u8], entries: Vec<Entry>) -> Batch {
        let size = entries.iter().map(|e| e.range.len()).sum();
        let mut out = Batch {
            body: Vec::with_capacity(size),
            entries: Vec::with_capacity(entries.len()),
        };
        for mut e in entries {
            let new_start = out.body.len();
            out.body.extend_from_slice(&body[e.range.clone()]);
            e.doc_start = e.doc_start.map(|d| d - e.range.start + new_start);
            e.range = new_start..out.body.len();
            out.entries.push(e);
        }
        out
    }

    /// Splits in two halves by action count (for 413 and whole-request 400).
    #[cfg(test)]
    pub(crate) fn halve(self) -> (Batch, Batch) {
        Batch::halve_entries(&self.body, self.entries)
    }

    /// Same, for entries whose body has moved into a `Bytes`.
    pub(crate) fn halve_entries(body: &[u8], mut entries: Vec<Entry>) -> (Batch, Batch) {
        let second = entries.split_off(entries.len() / 2);
        (Batch::rebuild(body, entries), Batch::rebuild(body, second))
    }

    /// The document as the host sent it (without our stamp), for the dead-letter file.
    #[cfg(test)]
    pub(crate) fn original_document(&self, e: &Entry) -> Option<Vec<u8>> {
        Batch::original_document_in(&self.body, e)
    }

    /// Same, for an entry whose body has moved into a `Bytes`.
    pub(crate) fn original_document_in(body: &[u8], e: &Entry) -> Option<Vec<u8>> {
        let start = e.doc_start?;
        let end = e.range.end - 1; // the document's newline
        let mut doc = Vec::with_capacity(end - start);
        if e.stamp_len > 0 {
            doc.push(b'{');
            doc.extend_from_slice(&body[start + 1 + e.stamp_len..end]);
        } else {
            doc.extend_from_slice(&body[start..end]);
        }
        Some(doc)
    }
}

/// Writes `s` as a JSON string. Ids are almost always plain ASCII: copy those without serde.
pub(crate) fn push_json_string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(b: &Batch) -> Vec<String> {
        String::from_utf8(b.body.clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn encodes_index_and_delete_with_stamp_and_escaping() {
        let mut b = Batch::default();
        let stamp = br#""_inlet_sync_id":"s1""#;
        b.push(
            Action::index("a\"1", "  {\"x\": 1,\n \"y\": \"two\"}\n"),
            Some(stamp),
        );
        b.push(Action::delete("d1"), Some(stamp));
        b.push(Action::index("e", "{ }"), Some(stamp));
        b.push(Action::index("n", r#"{"z":null}"#), None);
        assert_eq!(
            lines(&b),
            vec![
                r#"{"index":{"_id":"a\"1"}}"#,
                r#"{"_inlet_sync_id":"s1","x": 1,  "y": "two"}"#,
                r#"{"delete":{"_id":"d1"}}"#,
                r#"{"index":{"_id":"e"}}"#,
                r#"{"_inlet_sync_id":"s1" }"#,
                r#"{"index":{"_id":"n"}}"#,
                r#"{"z":null}"#,
            ]
        );
        for line in lines(&b) {
            serde_json::from_str::<serde_json::Value>(&line).unwrap();
        }
        let docs: Vec<_> = b
            .entries
            .iter()
            .map(|e| {
                b.original_document(e)
                    .map(|d| String::from_utf8(d).unwrap())
            })
            .collect();
        assert_eq!(
            docs,
            vec![
                Some("{\"x\": 1,  \"y\": \"two\"}".to_owned()),
                None,
                Some("{ }".into()),
                Some(r#"{"z":null}"#.into())
            ]
        );
    }

    #[test]
    fn halving_and_rebuilding_keep_every_action_intact() {
        let mut b = Batch::default();
        for i in 0..5 {
            b.push(
                Action::index(i.to_string(), format!(r#"{{"n":{i}}}"#)),
                Some(br#""s":"x""#),
            );
        }
        let whole = lines(&b);
        let (l, r) = b.halve();
        assert_eq!((l.len(), r.len()), (2, 3));
        assert_eq!([lines(&l), lines(&r)].concat(), whole);
        assert_eq!(
            String::from_utf8(r.original_document(&r.entries[2]).unwrap()).unwrap(),
            r#"{"n":4}"#
        );
        let picked = Batch::rebuild(&r.body, r.entries.into_iter().skip(1).collect());
        assert_eq!(lines(&picked), whole[6..].to_vec());
    }
}
