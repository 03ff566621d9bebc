//! Column values as Elastic's connectors write them, so an index Elastic's `postgresql` or
//! `mysql` connector filled keeps its `_id`s and field types when Inlet takes over.
//!
//! Elastic builds a document from what its driver returns (asyncpg for PostgreSQL, PyMySQL for
//! MySQL): the `_id` joins `str()` of each key value (`generic_database.py::hash_id`,
//! `mysql/client.py::generate_id`), and the fields go through `BaseDataSource.serialize`
//! (dates `isoformat()`, `Decimal` → `float`, bytes decoded as UTF-8 dropping errors) and
//! `PostgreSQLDataSource.serialize` (network, geometric and bit types as text). The functions
//! here reproduce those Python renderings from the host's typed values and each column's
//! database type. Where Inlet deliberately differs (exact decimals, bytes as base64, durations)
//! the comment says so; docs/CONNECTORS.md lists every case.

use inlet_sdk::sql::{Dialect, Value};

/// How the values of one result column are rendered.
#[derive(Debug, Clone)]
pub struct Kind {
    dialect: Dialect,
    /// The database's type name as the host reports it (`INT8`, `DECIMAL`, `BIGINT UNSIGNED`).
    db_type: String,
    /// MySQL: the column is declared binary (`BINARY`, `VARBINARY`, `*BLOB`), known from
    /// information_schema. MySQL flags text columns with a `_bin` collation as binary too, so
    /// the wire type alone cannot say; `None` when the column is not a table column.
    binary: Option<bool>,
}

impl Kind {
    pub fn new(dialect: Dialect, db_type: &str, binary: Option<bool>) -> Self {
        Kind {
            dialect,
            db_type: db_type.to_ascii_uppercase(),
            binary,
        }
    }

    fn mysql(&self) -> bool {
        self.dialect == Dialect::Mysql
    }

    /// An exact decimal column (as opposed to an integer too large for i64).
    fn is_decimal(&self) -> bool {
        matches!(self.db_type.as_str(), "NUMERIC" | "DECIMAL" | "MONEY")
    }

    /// The bytes of a MySQL value of a column declared binary, however the host sent them (it
    /// sends `_bin`-flagged values that are valid UTF-8 as text).
    fn declared_bytes<'a>(&self, v: &'a Value) -> Option<&'a [u8]> {
        match (self.binary, v) {
            (Some(true), Value::Text(s)) => Some(s.as_bytes()),
            (_, Value::Bytes(b)) => Some(b),
            _ => None,
        }
    }

    /// The value as raw JSON text for the document.
    pub fn json(&self, v: &Value) -> String {
        match v {
            Value::Null => "null".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => float_json(self.float_value(*f)),
            // Decimals stay floats, as Elastic's `float(Decimal)` makes them, but keep every
            // digit (Inlet's deliberate difference): Elasticsearch maps and parses the field
            // exactly as Elastic's documents (a float token, the same double), and `_source`
            // keeps the value the database holds. An integer written as a decimal (an unsigned
            // 64-bit value past i64) stays an integer.
            Value::Decimal(d) if self.is_decimal() => decimal_json(d),
            Value::Decimal(d) => integer_json(d),
            // Bytes as base64, one encoding per column (Elastic decodes them as UTF-8 and
            // drops what does not decode, which loses data).
            Value::Bytes(b) => string(&base64(b)),
            Value::Text(_) if self.mysql() && self.binary == Some(true) => {
                string(&base64(self.declared_bytes(v).unwrap_or_default()))
            }
            Value::Text(s) | Value::Date(s) => string(s),
            Value::Timestamp(s) => string(&self.iso_timestamp(s, 'T')),
            Value::Time(s) if self.mysql() => string(s),
            Value::Time(s) => string(&iso_time(s)),
            // PyMySQL hands JSON columns over as text, so Elastic's MySQL documents carry the
            // text; asyncpg (with SQLAlchemy's codec) parses them.
            Value::Json(s) if self.mysql() => string(s),
            Value::Json(s) => match serde_json::from_str::<serde_json::Value>(s) {
                Ok(_) => s.clone(),
                Err(_) => string(s),
            },
        }
    }

    /// The value's part of an `_id`: `str()` of what Elastic's driver returns for it.
    pub fn id_part(&self, v: &Value) -> String {
        if let Some(b) = self.declared_bytes(v) {
            return python_bytes(b);
        }
        match v {
            Value::Null => "None".into(),
            // asyncpg returns bool; MySQL's BOOLEAN arrives here as an integer already.
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(i) if self.mysql() && self.db_type == "BIT" => {
                // PyMySQL returns BIT(n) as bytes: the big-endian value, one byte or more.
                let bytes = i.to_be_bytes();
                let skip = bytes.iter().take(7).take_while(|&&b| b == 0).count();
                python_bytes(&bytes[skip..])
            }
            Value::Int(i) => i.to_string(),
            Value::Float(f) => python_float(self.float_value(*f)),
            Value::Decimal(d) if self.is_decimal() && self.db_type != "MONEY" => python_decimal(d),
            Value::Decimal(d) => d.clone(),
            Value::Timestamp(s) => self.iso_timestamp(s, ' '),
            Value::Time(s) if self.mysql() => python_timedelta(s).unwrap_or_else(|| s.clone()),
            Value::Time(s) => iso_time(s),
            Value::Text(s) if self.db_type == "INTERVAL" => {
                pg_interval_timedelta(s).unwrap_or_else(|| s.clone())
            }
            Value::Text(s) | Value::Date(s) | Value::Json(s) => s.clone(),
            Value::Bytes(b) => python_bytes(b),
        }
    }

    /// MySQL sends FLOAT through its text protocol (which PyMySQL uses) with six significant
    /// digits: `3.1415927` arrives as `3.14159`. The host reads the exact float; round it the
    /// same way so documents and `_id`s carry the value Elastic's do.
    fn float_value(&self, f: f64) -> f64 {
        if self.mysql() && self.db_type == "FLOAT" && f.is_finite() {
            format!("{f:.5e}").parse().unwrap_or(f)
        } else {
            f
        }
    }

    /// A timestamp as Python's `isoformat(sep)`: microseconds only when not zero, six digits;
    /// `+00:00` for PostgreSQL's `timestamptz` (asyncpg returns it in UTC). MySQL's TIMESTAMP
    /// is naive in Elastic's documents (PyMySQL reads it in the session's zone, the server's;
    /// the host reads it in UTC: equal when the server runs in UTC).
    fn iso_timestamp(&self, s: &str, sep: char) -> String {
        let Some((date, rest)) = s.split_once(['T', ' ']) else {
            return s.to_owned();
        };
        let (time, offset) = split_offset(rest);
        let offset = match offset {
            _ if self.mysql() => "",
            "Z" => "+00:00",
            o => o,
        };
        format!("{date}{sep}{}{offset}", iso_time(time))
    }
}

/// `HH:MM:SS[.f…]` and the offset after it (`Z`, `+02:00`, or empty).
fn split_offset(s: &str) -> (&str, &str) {
    if let Some(t) = s.strip_suffix('Z') {
        return (t, "Z");
    }
    match s.rfind(['+', '-']) {
        Some(at) if at >= 8 => s.split_at(at),
        _ => (s, ""),
    }
}

/// A time of day as Python's `time.isoformat()`: fraction padded to six digits, left out when
/// zero; an offset after it is kept.
fn iso_time(s: &str) -> String {
    let (t, offset) = split_offset(s);
    let Some((hms, frac)) = t.split_once('.') else {
        return s.to_owned();
    };
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    if digits.bytes().all(|b| b == b'0') {
        format!("{hms}{offset}")
    } else {
        format!("{hms}.{digits}{offset}")
    }
}

fn string(s: &str) -> String {
    // Serializing a &str cannot fail.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn float_json(f: f64) -> String {
    if f.is_finite() {
        python_float(f)
    } else {
        // JSON has no NaN or infinity; Elasticsearch parses these strings in a float field.
        string(if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        })
    }
}

fn is_plain_number(t: &str) -> bool {
    let body = t.strip_prefix('-').unwrap_or(t);
    body.chars().next().is_some_and(|c| c.is_ascii_digit())
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
}

/// An exact decimal as a JSON number that is always a float token (`125` → `125.0`) with every
/// digit kept; NaN and the infinities as strings.
pub fn decimal_json(d: &str) -> String {
    let t = d.trim();
    if !is_plain_number(t) {
        return string(t);
    }
    if t.contains(['.', 'e', 'E']) {
        t.to_owned()
    } else {
        format!("{t}.0")
    }
}

fn integer_json(d: &str) -> String {
    let t = d.trim();
    if is_plain_number(t) {
        t.to_owned()
    } else {
        string(t)
    }
}

/// Python's `repr(float)`: shortest round-trip digits, positional for 1e-4 ≤ |f| < 1e16 with
/// a fractional part always, scientific (`1e+16`, `1.5e-05`) outside.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's `{:e}` prints the shortest round-trip digits too.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len() as i32;
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
        } else if point >= n {
            format!("{digits}{}.0", "0".repeat((point - n) as usize))
        } else {
            let (i, frac) = digits.split_at(point as usize);
            format!("{i}.{frac}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.unsigned_abs())
    }
}

/// Python's `str(Decimal(text))` for a plain decimal (`12.50`, `-0.0000001`): positional
/// unless the exponent is positive or the value is below 1e-6, then `1E-7` style.
pub fn python_decimal(d: &str) -> String {
    let t = d.trim();
    let (sign, body) = match t.strip_prefix('-') {
        Some(b) => ("-", b),
        None => ("", t.strip_prefix('+').unwrap_or(t)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        // NaN, Infinity: Python prints them as given.
        return t.to_owned();
    }
    let all = format!("{int}{frac}");
    let coef = all.trim_start_matches('0');
    let coef = if coef.is_empty() { "0" } else { coef };
    let exp = -(frac.len() as i64);
    let len = coef.len() as i64;
    let adjusted = exp + len - 1;
    if adjusted >= -6 {
        if exp == 0 {
            return format!("{sign}{coef}");
        }
        let point = len + exp;
        if point > 0 {
            let (i, f) = coef.split_at(point as usize);
            format!("{sign}{i}.{f}")
        } else {
            format!(
                "{sign}0.{}{coef}",
                "0".repeat(point.unsigned_abs() as usize)
            )
        }
    } else {
        let (first, rest) = coef.split_at(1);
        let rest = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if adjusted < 0 { '-' } else { '+' };
        format!("{sign}{first}{rest}E{esign}{}", adjusted.unsigned_abs())
    }
}

/// Python's `str(timedelta)` of a MySQL TIME (`-01:00:00.5` → `-1 day, 22:59:59.500000`,
/// `25:00:00` → `1 day, 1:00:00`): what PyMySQL returns for TIME, so what Elastic's `_id`s hold.
pub fn python_timedelta(s: &str) -> Option<String> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let (hms, frac) = body.split_once('.').unwrap_or((body, ""));
    let mut parts = hms.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let sec: i64 = parts.next()?.parse().ok()?;
    let micros: i64 = if frac.is_empty() {
        0
    } else {
        frac.chars()
            .chain(std::iter::repeat('0'))
            .take(6)
            .collect::<String>()
            .parse()
            .ok()?
    };
    let mut total = ((h * 60 + m) * 60 + sec) * 1_000_000 + micros;
    if negative {
        total = -total;
    }
    Some(timedelta_str(total))
}

/// Python's `str(timedelta)` of a signed count of microseconds.
fn timedelta_str(total: i64) -> String {
    const DAY: i64 = 86_400_000_000;
    let days = total.div_euclid(DAY);
    let rest = total.rem_euclid(DAY);
    let (secs, micro) = (rest / 1_000_000, rest % 1_000_000);
    let mut out = format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if micro != 0 {
        out.push_str(&format!(".{micro:06}"));
    }
    if days != 0 {
        let plural = if days.abs() == 1 { "" } else { "s" };
        out = format!("{days} day{plural}, {out}");
    }
    out
}

/// Python's `str()` of the `timedelta` asyncpg makes of a PostgreSQL interval, from the
/// interval's text (`1 year 2 mons 3 days -04:05:06.5`): asyncpg counts a year as 365 days
/// and a month as 30 (pgproto `interval_decode`).
pub fn pg_interval_timedelta(s: &str) -> Option<String> {
    const DAY: i64 = 86_400_000_000;
    let mut total: i64 = 0;
    let mut words = s.split_whitespace();
    while let Some(word) = words.next() {
        if word.contains(':') {
            let (negative, body) = match word.strip_prefix('-') {
                Some(b) => (true, b),
                None => (false, word.strip_prefix('+').unwrap_or(word)),
            };
            let (hms, frac) = body.split_once('.').unwrap_or((body, ""));
            let mut parts = hms.split(':');
            let h: i64 = parts.next()?.parse().ok()?;
            let m: i64 = parts.next()?.parse().ok()?;
            let sec: i64 = parts.next()?.parse().ok()?;
            let micros: i64 = if frac.is_empty() {
                0
            } else {
                frac.chars()
                    .chain(std::iter::repeat('0'))
                    .take(6)
                    .collect::<String>()
                    .parse()
                    .ok()?
            };
            let t = ((h * 60 + m) * 60 + sec) * 1_000_000 + micros;
            total += if negative { -t } else { t };
            continue;
        }
        let n: i64 = word.parse().ok()?;
        let days = match words.next()? {
            "year" | "years" => 365,
            "mon" | "mons" => 30,
            "day" | "days" => 1,
            _ => return None,
        };
        total += n * days * DAY;
    }
    Some(timedelta_str(total))
}

/// Python's `repr(bytes)` (`b'\x00ab'`), which is what `str()` gives for bytes.
pub fn python_bytes(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(b.len() + 3);
    out.push('b');
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if char::from(c) == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(char::from(c)),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(quote);
    out
}

fn base64(b: &[u8]) -> String {
    inlet_sdk::sql::base64(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values are what CPython prints; each is the documented behaviour of the
    // function named in the test.

    #[test]
    fn floats_as_python_repr() {
        assert_eq!(python_float(2.0), "2.0");
        assert_eq!(python_float(1e20), "1e+20");
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(9999999999999998.0), "9999999999999998.0");
        assert_eq!(python_float(0.0001), "0.0001");
        assert_eq!(python_float(0.00001), "1e-05");
        assert_eq!(python_float(-0.5), "-0.5");
        assert_eq!(python_float(123457000.0), "123457000.0");
    }

    #[test]
    fn decimals_as_python_str() {
        assert_eq!(python_decimal("125.00"), "125.00");
        assert_eq!(python_decimal("125"), "125");
        assert_eq!(python_decimal("0.0000001"), "1E-7");
        assert_eq!(python_decimal("0.0000000"), "0E-7");
        assert_eq!(python_decimal("0.000001"), "0.000001");
        assert_eq!(python_decimal("-0.50"), "-0.50");
        assert_eq!(python_decimal("007.5"), "7.5");
        assert_eq!(python_decimal("NaN"), "NaN");
        assert_eq!(decimal_json("125"), "125.0");
        assert_eq!(
            decimal_json("1.2345678901234567890123456789"),
            "1.2345678901234567890123456789"
        );
        assert_eq!(decimal_json("NaN"), "\"NaN\"");
    }

    #[test]
    fn durations_as_python_timedelta() {
        assert_eq!(python_timedelta("03:04:05").as_deref(), Some("3:04:05"));
        assert_eq!(
            python_timedelta("25:00:00").as_deref(),
            Some("1 day, 1:00:00")
        );
        assert_eq!(
            python_timedelta("838:59:59").as_deref(),
            Some("34 days, 22:59:59")
        );
        assert_eq!(
            python_timedelta("-01:00:00").as_deref(),
            Some("-1 day, 23:00:00")
        );
        assert_eq!(
            python_timedelta("-01:00:00.500000").as_deref(),
            Some("-1 day, 22:59:59.500000")
        );
        assert_eq!(python_timedelta("00:00:00").as_deref(), Some("0:00:00"));
        assert_eq!(
            pg_interval_timedelta("1 mon 1 day 02:00:00.5").as_deref(),
            Some("31 days, 2:00:00.500000")
        );
        assert_eq!(
            pg_interval_timedelta("1 year -00:00:01").as_deref(),
            Some("364 days, 23:59:59")
        );
        assert_eq!(
            pg_interval_timedelta("00:00:00").as_deref(),
            Some("0:00:00")
        );
        assert_eq!(pg_interval_timedelta("soon"), None);
    }

    #[test]
    fn bytes_as_python_repr() {
        assert_eq!(python_bytes(&[0, 1, 0xff]), "b'\\x00\\x01\\xff'");
        assert_eq!(python_bytes(b"ab\n"), "b'ab\\n'");
        assert_eq!(python_bytes(b"it's"), "b\"it's\"");
        assert_eq!(python_bytes(b"'\""), "b'\\'\"'");
    }

    #[test]
    fn timestamps_as_isoformat() {
        let pg = Kind::new(Dialect::Postgres, "TIMESTAMPTZ", None);
        let t = Value::Timestamp("2024-01-02T03:04:05.500Z".into());
        assert_eq!(pg.json(&t), "\"2024-01-02T03:04:05.500000+00:00\"");
        assert_eq!(pg.id_part(&t), "2024-01-02 03:04:05.500000+00:00");
        let my = Kind::new(Dialect::Mysql, "DATETIME", None);
        let t = Value::Timestamp("2024-01-02T03:04:05".into());
        assert_eq!(my.json(&t), "\"2024-01-02T03:04:05\"");
        assert_eq!(my.id_part(&t), "2024-01-02 03:04:05");
        let my_ts = Kind::new(Dialect::Mysql, "TIMESTAMP", None);
        let t = Value::Timestamp("2024-01-02T03:04:05.250Z".into());
        assert_eq!(my_ts.id_part(&t), "2024-01-02 03:04:05.250000");
        assert_eq!(iso_time("03:04:05.5"), "03:04:05.500000");
        assert_eq!(iso_time("03:04:05.000"), "03:04:05");
    }

    #[test]
    fn mysql_float_has_six_significant_digits() {
        let k = Kind::new(Dialect::Mysql, "FLOAT", None);
        assert_eq!(
            k.id_part(&Value::Float(f64::from(std::f32::consts::PI))),
            "3.14159"
        );
        assert_eq!(k.json(&Value::Float(f64::from(1.1_f32))), "1.1");
        assert_eq!(k.id_part(&Value::Float(2.0)), "2.0");
    }
}
