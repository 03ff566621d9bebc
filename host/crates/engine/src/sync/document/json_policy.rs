//! The JSON policy every document body passes before any sink sees it: the host refuses what
//! Elasticsearch refuses, so the embedded sink holds only what a cluster accepts on replay, and
//! a refused document goes to the dead-letter file with the reason in both cases.
//!
//! Elasticsearch parses `_bulk` sources with Jackson, configured in elastic/elasticsearch
//! `libs/x-content/impl/src/main/java/org/elasticsearch/xcontent/provider/json/JsonXContentImpl.java`:
//! `JsonParser.Feature.STRICT_DUPLICATE_DETECTION` is on (`Duplicate field 'a'`), and
//! `XContentImplUtils.configure` raises only the string-length constraint, so Jackson's other
//! `StreamReadConstraints` defaults hold (jackson 2.15, `build-tools-internal/version.properties`):
//! - `DEFAULT_MAX_DEPTH = 1000`: at most 1000 objects and arrays open at once
//!   (`Depth (1001) exceeds the maximum allowed nesting depth (1000)`);
//! - `DEFAULT_MAX_NUM_LEN = 1000`: at most 1000 digits in a number, counted as
//!   `ParserBase.resetInt` (integer digits) and `resetFloat` (integer + fraction + exponent
//!   digits) count them.
//!
//! One more, measured on Elasticsearch 8.15.3: a key with an unpaired surrogate escape
//! (`{"\ud800":1}`) is parsed, then fails the shard's refresh (HTTP 500
//! `refresh_failed_engine_exception`; the primary goes unassigned, the index red). A value with
//! one is stored as sent, so only keys are refused.
//!
//! Hand-written and iterative, because the crate we use everywhere else cannot do this job:
//! serde_json stops at 128 levels (it would refuse depths Elasticsearch accepts), its
//! `unbounded_depth` feature would lift that guard for every other parse in the process (Cargo
//! unifies features), and it keeps the last of duplicate keys without a word. One pass, no tree:
//! keys are compared as borrowed slices of the body unless they contain escapes.

use std::borrow::Cow;
use std::collections::HashSet;

/// Objects and arrays open at once (Jackson's `StreamReadConstraints.DEFAULT_MAX_DEPTH`).
pub(crate) const MAX_DEPTH: usize = 1000;
/// Digits in one number (Jackson's `StreamReadConstraints.DEFAULT_MAX_NUM_LEN`).
pub(crate) const MAX_NUMBER_DIGITS: usize = 1000;
/// Objects with more keys than this check duplicates with a hash set instead of a scan.
const SMALL_OBJECT: usize = 16;
/// Longest key quoted back in a refusal.
const MAX_QUOTED_KEY: usize = 64;

/// Why a body breaks the policy. `at` is a byte offset into the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    Syntax {
        expected: &'static str,
        at: usize,
    },
    DuplicateKey {
        key: String,
        at: usize,
    },
    TooDeep {
        at: usize,
    },
    NumberTooLong {
        digits: usize,
        at: usize,
    },
    /// A key whose `\uXXXX` escapes leave an unpaired UTF-16 surrogate.
    LoneSurrogateKey {
        at: usize,
    },
}

/// Top-level keys the host adds to a document unless the body has them already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HostField {
    Id,
    Timestamp,
    Attachment,
    Body,
    ExtractBinaryContent,
    ReduceWhitespace,
    RunMlInference,
}

impl HostField {
    pub(crate) const ALL: [HostField; 7] = [
        HostField::Id,
        HostField::Timestamp,
        HostField::Attachment,
        HostField::Body,
        HostField::ExtractBinaryContent,
        HostField::ReduceWhitespace,
        HostField::RunMlInference,
    ];

    pub(crate) fn key(self) -> &'static str {
        match self {
            HostField::Id => "id",
            HostField::Timestamp => "_timestamp",
            HostField::Attachment => "_attachment",
            HostField::Body => "body",
            HostField::ExtractBinaryContent => "_extract_binary_content",
            HostField::ReduceWhitespace => "_reduce_whitespace",
            HostField::RunMlInference => "_run_ml_inference",
        }
    }

    fn of(key: &str) -> Option<HostField> {
        // Most keys are none of these: one byte tells.
        if !matches!(key.as_bytes().first(), Some(b'_' | b'i' | b'b')) {
            return None;
        }
        HostField::ALL.into_iter().find(|f| f.key() == key)
    }
}

/// What the scan learned about a body that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// An object; `empty` when it has no keys.
    Object { empty: bool, has: HostFields },
    /// Valid JSON, but not an object: `an array`, `a string`, ...
    Other(&'static str),
}

/// Which [`HostField`]s the top-level object already has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct HostFields(u8);

impl HostFields {
    pub(crate) fn contains(self, f: HostField) -> bool {
        self.0 & (1 << f as u8) != 0
    }
    fn insert(&mut self, f: HostField) {
        self.0 |= 1 << f as u8;
    }
}

/// Where a top-level member sits in the text (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    /// The `,` before it; `None` for the object's first member.
    pub(crate) comma_before: Option<usize>,
    /// The opening quote of its key.
    pub(crate) key: usize,
    /// Its value, from its first byte to just past its last.
    pub(crate) value: (usize, usize),
}

/// The members of a JSON line (`inlet:connector/json-lines`) that are Elastic's metadata, not
/// body: `_id` and `_timestamp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LineMembers {
    pub(crate) id: Option<Member>,
    pub(crate) timestamp: Option<Member>,
}

/// Checks `body` against the policy in one pass.
pub(crate) fn check(body: &str) -> Result<Shape, Violation> {
    check_tracking(body, false).0
}

/// [`check`] for a JSON line, which also says where its `_id` and `_timestamp` members are —
/// those it got past, when the line breaks the policy (so a refusal can name the document).
pub(crate) fn check_line(line: &str) -> (Result<Shape, Violation>, LineMembers) {
    check_tracking(line, true)
}

fn check_tracking(body: &str, track: bool) -> (Result<Shape, Violation>, LineMembers) {
    let mut scan = Scanner {
        b: body.as_bytes(),
        s: body,
        i: 0,
        track,
        comma: None,
        pending: None,
        members: LineMembers::default(),
    };
    let shape = scan.document();
    (shape, scan.members)
}

impl Scanner<'_> {
    /// The whole text as one JSON value.
    fn document(&mut self) -> Result<Shape, Violation> {
        self.skip_ws();
        let kind = match self.peek() {
            Some(b'{') => None,
            Some(b'[') => Some("an array"),
            Some(b'"') => Some("a string"),
            Some(b'-' | b'0'..=b'9') => Some("a number"),
            Some(b't' | b'f') => Some("a boolean"),
            Some(b'n') => Some("null"),
            _ => return Err(self.expected("a JSON value")),
        };
        let (empty, has) = self.value()?;
        self.skip_ws();
        if self.i != self.b.len() {
            return Err(self.expected("the end of the document"));
        }
        Ok(match kind {
            None => Shape::Object { empty, has },
            Some(other) => Shape::Other(other),
        })
    }
}

/// A key as Jackson compares it: its decoded text.
type Key<'a> = Cow<'a, str>;

fn quoted(key: &str) -> String {
    match key.char_indices().nth(MAX_QUOTED_KEY) {
        Some((cut, _)) => format!("{}…", &key[..cut]),
        None => key.to_owned(),
    }
}

/// An open object: its keys so far live at `keys[from..]` of the scanner's key stack until
/// there are many, then in `set`.
struct OpenObject<'a> {
    from: usize,
    set: Option<HashSet<Key<'a>>>,
}

enum Open<'a> {
    Array,
    Object(OpenObject<'a>),
}

/// Bytes that end the fast part of a string scan: the closing quote, an escape, or a control
/// character (JSON forbids them raw).
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// A top-level metadata member whose value is being scanned.
#[derive(Clone, Copy)]
enum LineField {
    Id,
    Timestamp,
}

struct Scanner<'a> {
    b: &'a [u8],
    s: &'a str,
    i: usize,
    /// Whether to note where the top-level `_id` and `_timestamp` are (JSON lines only).
    track: bool,
    /// The last `,` between top-level members.
    comma: Option<usize>,
    /// A tracked member whose key is read and whose value is not finished yet.
    pending: Option<(LineField, Member)>,
    members: LineMembers,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn expected(&self, expected: &'static str) -> Violation {
        Violation::Syntax {
            expected,
            at: self.i,
        }
    }

    /// One whole value, containers walked with an explicit stack. Returns, for a top-level
    /// object, whether it is empty and which host fields it has.
    fn value(&mut self) -> Result<(bool, HostFields), Violation> {
        // Sized for ordinary documents, so they never grow.
        let mut open: Vec<Open<'a>> = Vec::with_capacity(16);
        let mut keys: Vec<Key<'a>> = Vec::with_capacity(32);
        let mut has = HostFields::default();
        let mut top_empty = false;
        let mut want_value = true;
        loop {
            if want_value {
                self.skip_ws();
                match self.peek() {
                    Some(b'{') => {
                        if open.len() == MAX_DEPTH {
                            return Err(Violation::TooDeep { at: self.i });
                        }
                        self.i += 1;
                        self.skip_ws();
                        if self.peek() == Some(b'}') {
                            self.i += 1;
                            top_empty |= open.is_empty();
                            want_value = false;
                        } else {
                            open.push(Open::Object(OpenObject {
                                from: keys.len(),
                                set: None,
                            }));
                            self.comma = None;
                            self.key(&mut open, &mut keys, &mut has)?;
                        }
                    }
                    Some(b'[') => {
                        if open.len() == MAX_DEPTH {
                            return Err(Violation::TooDeep { at: self.i });
                        }
                        self.i += 1;
                        self.skip_ws();
                        if self.peek() == Some(b']') {
                            self.i += 1;
                            want_value = false;
                        } else {
                            open.push(Open::Array);
                        }
                    }
                    Some(b'"') => {
                        self.string()?;
                        want_value = false;
                    }
                    Some(b'-' | b'0'..=b'9') => {
                        self.number()?;
                        want_value = false;
                    }
                    Some(b't') => self.literal(b"true", &mut want_value)?,
                    Some(b'f') => self.literal(b"false", &mut want_value)?,
                    Some(b'n') => self.literal(b"null", &mut want_value)?,
                    _ => return Err(self.expected("a JSON value")),
                }
            } else {
                // A value just ended; at the top level it may be a tracked member's.
                if open.len() == 1
                    && let Some((field, mut member)) = self.pending.take()
                {
                    member.value.1 = self.i;
                    match field {
                        LineField::Id => self.members.id = Some(member),
                        LineField::Timestamp => self.members.timestamp = Some(member),
                    }
                }
                let Some(innermost) = open.last() else {
                    return Ok((top_empty, has));
                };
                self.skip_ws();
                match (self.peek(), innermost) {
                    (Some(b','), Open::Object(_)) => {
                        if open.len() == 1 {
                            self.comma = Some(self.i);
                        }
                        self.i += 1;
                        self.key(&mut open, &mut keys, &mut has)?;
                        want_value = true;
                    }
                    (Some(b','), Open::Array) => {
                        self.i += 1;
                        want_value = true;
                    }
                    (Some(b'}'), Open::Object(o)) => {
                        self.i += 1;
                        keys.truncate(o.from);
                        open.pop();
                    }
                    (Some(b']'), Open::Array) => {
                        self.i += 1;
                        open.pop();
                    }
                    (_, Open::Object(_)) => return Err(self.expected("`,` or `}`")),
                    (_, Open::Array) => return Err(self.expected("`,` or `]`")),
                }
            }
        }
    }

    fn literal(&mut self, word: &'static [u8], want_value: &mut bool) -> Result<(), Violation> {
        if self.b[self.i..].starts_with(word) {
            self.i += word.len();
            *want_value = false;
            Ok(())
        } else {
            Err(self.expected("a JSON value"))
        }
    }

    /// A key of the innermost (object) frame and its `:`; refuses a key the object has already.
    fn key(
        &mut self,
        open: &mut [Open<'a>],
        keys: &mut Vec<Key<'a>>,
        has: &mut HostFields,
    ) -> Result<(), Violation> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return Err(self.expected("a key (a string in double quotes)"));
        }
        let at = self.i;
        let (start, escaped) = self.string()?;
        let raw = &self.s[start..self.i - 1];
        let key: Key<'a> = if escaped {
            Cow::Owned(decode(raw).ok_or(Violation::LoneSurrogateKey { at })?)
        } else {
            Cow::Borrowed(raw)
        };
        let tracked = if open.len() == 1 {
            if let Some(field) = HostField::of(&key) {
                has.insert(field);
            }
            match &*key {
                "_id" if self.track => Some(LineField::Id),
                "_timestamp" if self.track => Some(LineField::Timestamp),
                _ => None,
            }
        } else {
            None
        };
        let Some(Open::Object(object)) = open.last_mut() else {
            return Err(self.expected("a key inside an object"));
        };
        let duplicate = match &mut object.set {
            Some(set) => set.replace(key).map(|k| quoted(&k)),
            None => {
                let mine = &keys[object.from..];
                if mine.contains(&key) {
                    Some(quoted(&key))
                } else if mine.len() + 1 > SMALL_OBJECT {
                    let mut set: HashSet<Key<'a>> = keys.drain(object.from..).collect();
                    set.insert(key);
                    object.set = Some(set);
                    None
                } else {
                    keys.push(key);
                    None
                }
            }
        };
        if let Some(key) = duplicate {
            return Err(Violation::DuplicateKey { key, at });
        }
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.expected("`:` after a key"));
        }
        self.i += 1;
        if let Some(field) = tracked {
            self.skip_ws();
            let member = Member {
                comma_before: self.comma,
                key: at,
                value: (self.i, self.i),
            };
            self.pending = Some((field, member));
        }
        Ok(())
    }

    /// A string starting at the opening quote. Returns where its text starts and whether it
    /// has escapes; leaves `i` after the closing quote.
    fn string(&mut self) -> Result<(usize, bool), Violation> {
        self.i += 1;
        let start = self.i;
        let mut escaped = false;
        loop {
            self.skip_plain();
            match self.peek() {
                Some(b'"') => {
                    self.i += 1;
                    return Ok((start, escaped));
                }
                Some(b'\\') => {
                    escaped = true;
                    self.i += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.i += 1,
                        Some(b'u')
                            if self
                                .b
                                .get(self.i + 1..self.i + 5)
                                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) =>
                        {
                            self.i += 5;
                        }
                        _ => {
                            return Err(self.expected(
                                "a valid escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)",
                            ));
                        }
                    }
                }
                Some(_) => return Err(self.expected("no raw control character in a string")),
                None => return Err(self.expected("the closing `\"` of a string")),
            }
        }
    }

    /// Skips string bytes that need no attention: eight at a time while a word has no quote,
    /// backslash or control byte (the test is exact for "none in this word"), then byte by
    /// byte. Most of a document is string text, so this loop is most of the scan's time.
    fn skip_plain(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        while let Some(chunk) = self.b.get(self.i..self.i + 8) {
            let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
                break;
            };
            let w = u64::from_le_bytes(bytes);
            let quote = w ^ (ONES * u64::from(b'"'));
            let backslash = w ^ (ONES * u64::from(b'\\'));
            let stop = (quote.wrapping_sub(ONES) & !quote)
                | (backslash.wrapping_sub(ONES) & !backslash)
                | (w.wrapping_sub(ONES * 0x20) & !w);
            if stop & HIGH != 0 {
                break;
            }
            self.i += 8;
        }
        while self.i < self.b.len() && !STRING_STOP[self.b[self.i] as usize] {
            self.i += 1;
        }
    }

    /// A number per RFC 8259, with Jackson's digit count.
    fn number(&mut self) -> Result<(), Violation> {
        let at = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_digits = match self.peek() {
            Some(b'0') => {
                self.i += 1;
                1
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.expected("a digit")),
        };
        let mut digits = int_digits;
        if self.peek() == Some(b'.') {
            self.i += 1;
            let n = self.digits();
            if n == 0 {
                return Err(self.expected("a digit after `.`"));
            }
            digits += n;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            let n = self.digits();
            if n == 0 {
                return Err(self.expected("a digit in the exponent"));
            }
            digits += n;
        }
        if digits > MAX_NUMBER_DIGITS {
            return Err(Violation::NumberTooLong { digits, at });
        }
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        self.i - start
    }
}

/// Decodes a key's escapes (already checked by the scan); `None` if they leave an unpaired
/// surrogate, which Rust strings cannot hold and Elasticsearch cannot index (below).
fn decode(raw: &str) -> Option<String> {
    let mut units: Vec<u16> = Vec::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let unit = match chars.next()? {
            'b' => 0x08,
            'f' => 0x0c,
            'n' => 0x0a,
            'r' => 0x0d,
            't' => 0x09,
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                u16::from_str_radix(&hex, 16).ok()?
            }
            other => other as u16, // `"`, `\` and `/`
        };
        units.push(unit);
    }
    String::from_utf16(&units).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(depth: usize) -> String {
        // `{"a":` + `[` × (depth - 1) + `]` × (depth - 1) + `}`: `depth` levels open at once.
        format!(
            "{{\"a\":{}{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    }

    #[test]
    fn accepts_the_depth_elasticsearch_accepts_and_refuses_one_more() {
        assert!(matches!(check(&deep(1000)), Ok(Shape::Object { .. })));
        assert!(matches!(check(&deep(1001)), Err(Violation::TooDeep { .. })));
        // serde_json alone gives up at 128, far below what a cluster takes.
        assert!(serde_json::from_str::<serde_json::Value>(&deep(200)).is_err());
        assert!(check(&deep(200)).is_ok());
        // The measured attack: 100,000 levels, refused without recursion.
        let attack = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            check(&attack),
            Err(Violation::TooDeep { at: 1004 })
        ));
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth_as_decoded() {
        assert_eq!(
            check(r#"{"a":1,"a":2}"#),
            Err(Violation::DuplicateKey {
                key: "a".into(),
                at: 7
            })
        );
        assert!(matches!(
            check(r#"{"x":[{"k":1},{"k":2,"y":{"b":1,"c":2,"b":3}}]}"#),
            Err(Violation::DuplicateKey { ref key, .. }) if key == "b"
        ));
        // Jackson compares decoded names: `\u0061` is `a`.
        assert!(matches!(
            check(r#"{"a":1,"\u0061":2}"#),
            Err(Violation::DuplicateKey { .. })
        ));
        // The same key in sibling or nested objects is fine.
        assert!(check(r#"{"a":{"a":1},"b":[{"a":1},{"a":2}]}"#).is_ok());
        // Big objects switch to a set; a duplicate far apart is still found.
        let mut big: Vec<String> = (0..500).map(|i| format!("\"k{i}\":{i}")).collect();
        assert!(check(&format!("{{{}}}", big.join(","))).is_ok());
        big.push("\"k3\":0".into());
        assert!(matches!(
            check(&format!("{{{}}}", big.join(","))),
            Err(Violation::DuplicateKey { ref key, .. }) if key == "k3"
        ));
        // A pair of surrogate escapes is one character; an unpaired one breaks a shard.
        assert!(matches!(
            check(r#"{"\ud83d\ude00":1,"😀":2}"#),
            Err(Violation::DuplicateKey { .. })
        ));
        assert_eq!(
            check(r#"{"ok":{"\ud800x":1}}"#),
            Err(Violation::LoneSurrogateKey { at: 7 })
        );
        assert!(check(r#"{"v":"\ud800 in a value is stored as sent"}"#).is_ok());
    }

    #[test]
    fn number_digits_are_counted_as_jackson_counts_them() {
        let n = |s: String| check(&format!("{{\"n\":{s}}}"));
        assert!(n("9".repeat(1000)).is_ok());
        assert!(n(format!("-{}", "9".repeat(1000))).is_ok());
        assert!(matches!(
            n("9".repeat(1001)),
            Err(Violation::NumberTooLong { digits: 1001, .. })
        ));
        assert!(n(format!("1.{}e-10", "5".repeat(997))).is_ok());
        assert!(n(format!("1.{}e-10", "5".repeat(998))).is_err());
    }

    #[test]
    fn top_level_shape_and_host_fields() {
        assert_eq!(check("[1]"), Ok(Shape::Other("an array")));
        assert_eq!(check(" \"x\" "), Ok(Shape::Other("a string")));
        assert_eq!(check("-1.5"), Ok(Shape::Other("a number")));
        assert_eq!(check("null"), Ok(Shape::Other("null")));
        assert!(matches!(
            check(" {} "),
            Ok(Shape::Object { empty: true, .. })
        ));
        let Ok(Shape::Object { empty, has }) =
            check(r#"{"id":"x","nested":{"_timestamp":1},"body":"b"}"#)
        else {
            panic!("object");
        };
        assert!(!empty);
        assert!(has.contains(HostField::Id));
        assert!(has.contains(HostField::Body));
        assert!(
            !has.contains(HostField::Timestamp),
            "only top-level keys count"
        );
    }

    #[test]
    fn syntax_errors_name_what_was_expected_and_where() {
        for bad in [
            "",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "[1,]",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":tru}",
            "{\"a\":\"x}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\u12g4\"}",
            "{\"a\":\"\u{1}\"}",
            "{a:1}",
            "{\"a\":1} x",
            "{'a':1}",
            "\u{feff}{}",
            "{\"a\":NaN}",
            "{\"a\":1}}",
            "[1]]",
        ] {
            assert!(
                matches!(check(bad), Err(Violation::Syntax { .. })),
                "{bad:?} should be refused: {:?}",
                check(bad)
            );
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(bad).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(
            check("{\"a\":}"),
            Err(Violation::Syntax {
                expected: "a JSON value",
                at: 5
            })
        );
    }
}
