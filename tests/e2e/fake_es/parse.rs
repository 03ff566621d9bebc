//! How Elasticsearch parses a JSON request body, as facts from its x-content library
//! (`libs/x-content/.../ObjectParser.java`, `ConstructingObjectParser.java`), which every
//! `_connector` request parser is declared with:
//!
//! - A field is declared with a `ValueType`, the set of JSON tokens it accepts: `STRING` only a
//!   string (not `null`); `STRING_OR_NULL` a string or `null`; `LONG`/`INT` a number or a numeric
//!   string; `BOOLEAN` a boolean or `"true"`/`"false"`; `OBJECT` an object (not `null`);
//!   `OBJECT_OR_NULL`; `OBJECT_OR_STRING`; `STRING_ARRAY` an array or a single string;
//!   `OBJECT_ARRAY` an array or a single object; `VALUE` a string, number, boolean or `null`;
//!   `VALUE_OBJECT_ARRAY` anything. Another token: `x_content_parse_exception`
//!   "`[parser] field doesn't support values of type: TOKEN`".
//! - A parser built with `ignoreUnknownFields = false` (every request parser of the connector API)
//!   refuses an undeclared field: "`[parser] unknown field [name]`"; a lenient one (the parsers of
//!   stored documents) skips it.
//! - A `constructorArg()` field that is missing: `illegal_argument_exception` "`Required [a, b]`".
//! - A field's own parse function failing (an unknown enum value, a list where a scalar is
//!   expected): "`[parser] failed to parse field [name]`", with the cause.
//!
//! All are HTTP 400.

use serde_json::Value;

/// The accepted tokens of a declared field (`ObjectParser.ValueType`).
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Str,
    StrOrNull,
    Long,
    LongOrNull,
    Int,
    Bool,
    Object,
    ObjectOrNull,
    ObjectOrString,
    StrArray,
    ObjectArray,
    /// `VALUE`: a scalar or null.
    Scalar,
    /// `VALUE_OBJECT_ARRAY`: anything; the field's parse function decides.
    Any,
}

/// The JSON token name Elasticsearch reports.
pub fn token(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Null => "VALUE_NULL",
        Value::Object(_) => "START_OBJECT",
        Value::Array(_) => "START_ARRAY",
    }
}

impl Kind {
    fn supports(self, v: &Value) -> bool {
        use Value as V;
        match self {
            Kind::Str => matches!(v, V::String(_)),
            Kind::StrOrNull => matches!(v, V::String(_) | V::Null),
            Kind::Long | Kind::Int => matches!(v, V::Number(_) | V::String(_)),
            Kind::LongOrNull => matches!(v, V::Number(_) | V::String(_) | V::Null),
            Kind::Bool => matches!(v, V::Bool(_) | V::String(_)),
            Kind::Object => v.is_object(),
            Kind::ObjectOrNull => matches!(v, V::Object(_) | V::Null),
            Kind::ObjectOrString => matches!(v, V::Object(_) | V::String(_)),
            Kind::StrArray => matches!(v, V::Array(_) | V::String(_)),
            Kind::ObjectArray => matches!(v, V::Array(_) | V::Object(_)),
            Kind::Scalar => !matches!(v, V::Array(_) | V::Object(_)),
            Kind::Any => true,
        }
    }

    /// The value conversion the declared type implies (`p.longValue()`, `p.booleanValue()`…).
    fn convert(self, v: &Value) -> Result<(), String> {
        match (self, v) {
            (Kind::Long | Kind::LongOrNull | Kind::Int, Value::Number(n))
                if n.is_i64() || n.is_u64() =>
            {
                Ok(())
            }
            (Kind::Long | Kind::LongOrNull | Kind::Int, Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(drop)
                .map_err(|_| format!("For input string: \"{s}\"")),
            (Kind::Long | Kind::LongOrNull | Kind::Int, Value::Number(n)) => {
                Err(format!("{n} is not an integer"))
            }
            (Kind::Bool, Value::String(s)) if s != "true" && s != "false" => Err(format!(
                "Failed to parse value [{s}] as only [true] or [false] are allowed."
            )),
            (Kind::StrArray, Value::Array(items)) => items
                .iter()
                .all(|i| matches!(i, Value::String(_) | Value::Number(_)))
                .then_some(())
                .ok_or_else(|| "expected strings".to_owned()),
            _ => Ok(()),
        }
    }
}

/// A field's own parse function.
pub type Check = fn(&Value) -> Result<(), Refusal>;

/// A declared field.
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// The field's own parse function, beyond the token check: an enum, a nested parser, a
    /// shape rule.
    pub check: Option<Check>,
    /// The first release whose parser declares the field (an older one refuses it as unknown
    /// when the parser is strict).
    pub since: (u32, u32),
}

impl Field {
    pub const fn new(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            required: false,
            check: None,
            since: (8, 0),
        }
    }

    pub const fn required(mut self) -> Field {
        self.required = true;
        self
    }

    pub const fn check(mut self, f: Check) -> Field {
        self.check = Some(f);
        self
    }

    pub const fn since(mut self, release: (u32, u32)) -> Field {
        self.since = release;
        self
    }
}

/// A declared parser.
pub struct Parser {
    pub name: &'static str,
    /// `ignoreUnknownFields`.
    pub lenient: bool,
    pub fields: &'static [Field],
}

/// Why Elasticsearch refused a body: the error `type`, `reason`, and the cause it nests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: &'static str,
    pub reason: String,
    pub cause: Option<String>,
}

impl Refusal {
    pub fn parse(reason: String) -> Refusal {
        Refusal {
            kind: "x_content_parse_exception",
            reason,
            cause: None,
        }
    }

    pub fn illegal(reason: String) -> Refusal {
        Refusal {
            kind: "illegal_argument_exception",
            reason,
            cause: None,
        }
    }

    /// `ActionRequest.validate()`'s answer.
    pub fn validation(errors: &[&str]) -> Refusal {
        let mut reason = "Validation Failed: ".to_owned();
        for (i, e) in errors.iter().enumerate() {
            reason.push_str(&format!("{}: {e};", i + 1));
        }
        Refusal {
            kind: "action_request_validation_exception",
            reason,
            cause: None,
        }
    }

    fn wrapped(parser: &str, field: &str, cause: Refusal) -> Refusal {
        Refusal {
            kind: "x_content_parse_exception",
            reason: format!("[{parser}] failed to parse field [{field}]"),
            cause: Some(format!("{}: {}", cause.kind, cause.reason)),
        }
    }
}

impl Parser {
    /// Parses `body` as Elasticsearch `release` would.
    pub fn parse(&self, body: &Value, release: (u32, u32)) -> Result<(), Refusal> {
        let Some(object) = body.as_object() else {
            return Err(Refusal::parse(format!(
                "[{}] Expected START_OBJECT but was: {}",
                self.name,
                token(body)
            )));
        };
        for (key, value) in object {
            let Some(field) = self
                .fields
                .iter()
                .find(|f| f.name == key && release >= f.since)
            else {
                if self.lenient {
                    continue;
                }
                return Err(Refusal::parse(format!(
                    "[{}] unknown field [{key}]",
                    self.name
                )));
            };
            if !field.kind.supports(value) {
                return Err(Refusal::parse(format!(
                    "[{}] {key} doesn't support values of type: {}",
                    self.name,
                    token(value)
                )));
            }
            field
                .kind
                .convert(value)
                .map_err(|m| Refusal::wrapped(self.name, key, Refusal::illegal(m)))?;
            // A `null` the token check let through is the declared "or null" (no parse
            // function runs); a `VALUE_OBJECT_ARRAY` field's parse function sees every token.
            let runs = !value.is_null() || matches!(field.kind, Kind::Any);
            if let (Some(check), true) = (field.check, runs) {
                check(value).map_err(|cause| Refusal::wrapped(self.name, key, cause))?;
            }
        }
        let missing: Vec<&str> = self
            .fields
            .iter()
            .filter(|f| f.required && release >= f.since && !object.contains_key(f.name))
            .map(|f| f.name)
            .collect();
        if !missing.is_empty() {
            return Err(Refusal::illegal(format!(
                "Required [{}]",
                missing.join(", ")
            )));
        }
        Ok(())
    }
}

/// An enum parsed from a string (`Xxx.fromString`): the value must be one of `allowed`.
pub fn one_of(v: &Value, what: &str, allowed: &[&str]) -> Result<(), Refusal> {
    match v.as_str() {
        Some(s) if allowed.iter().any(|a| a.eq_ignore_ascii_case(s)) => Ok(()),
        _ => Err(Refusal::illegal(format!("Unknown {what} [{}].", text(v)))),
    }
}

/// A nested object (`declareObject(…, Nested::fromXContent, …)`), or each object of an array
/// (`declareObjectArray`).
pub fn nested(parser: &Parser, v: &Value) -> Result<(), Refusal> {
    match v {
        Value::Array(items) => items.iter().try_for_each(|i| match i {
            Value::Object(_) => parser.parse(i, (99, 0)),
            other => Err(Refusal::parse(format!(
                "[{}] Expected START_OBJECT but was: {}",
                parser.name,
                token(other)
            ))),
        }),
        other => parser.parse(other, (99, 0)),
    }
}

/// An ISO-8601 instant (`Instant.parse`).
pub fn instant(v: &Value) -> Result<(), Refusal> {
    let s = v.as_str().unwrap_or_default();
    chrono::DateTime::parse_from_rfc3339(s)
        .map(drop)
        .map_err(|_| Refusal::illegal(format!("Text '{s}' could not be parsed")))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
