//! PostgreSQL's binary wire formats for the types sqlx has no decoder for (or decodes lossily):
//! exact `numeric`, arrays of any element type, `interval`, network, bit, text-search and
//! geometric types, ranges, infinite dates. sqlx asks for binary results on every prepared
//! statement, so the text form is not on the wire: these decoders rebuild it.
//!
//! Where Elastic's connector (asyncpg, then `PostgreSQLDataSource.serialize`) has a rendering of
//! its own, the text matches it (points as `(1.0, 2.0)`, bit strings grouped by four); otherwise
//! it is PostgreSQL's own text output.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

use super::values::Value;

/// A cursor over a value's bytes; every read is bounds-checked, a short value is an error.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err(format!("truncated value ({} of {n} bytes)", self.0.len()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }
    fn i16(&mut self) -> Result<i16, String> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, String> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, String> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_be_bytes(self.array()?))
    }
    fn f32(&mut self) -> Result<f32, String> {
        Ok(f32::from_be_bytes(self.array()?))
    }
    /// A length-prefixed field (-1: NULL).
    fn field(&mut self) -> Result<Option<&'a [u8]>, String> {
        let len = self.i32()?;
        if len < 0 {
            return Ok(None);
        }
        usize::try_from(len)
            .map_err(|e| e.to_string())
            .and_then(|n| self.take(n))
            .map(Some)
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

/// The canonical type names of the built-in OIDs an array can hold.
fn oid_name(oid: u32) -> Option<&'static str> {
    Some(match oid {
        16 => "BOOL",
        17 => "BYTEA",
        18 => "CHAR",
        19 => "NAME",
        20 => "INT8",
        21 => "INT2",
        23 => "INT4",
        25 => "TEXT",
        26 => "OID",
        114 => "JSON",
        142 => "XML",
        600 => "POINT",
        601 => "LSEG",
        602 => "PATH",
        603 => "BOX",
        604 => "POLYGON",
        628 => "LINE",
        650 => "CIDR",
        700 => "FLOAT4",
        701 => "FLOAT8",
        718 => "CIRCLE",
        774 => "MACADDR8",
        790 => "MONEY",
        829 => "MACADDR",
        869 => "INET",
        1042 => "BPCHAR",
        1043 => "VARCHAR",
        1082 => "DATE",
        1083 => "TIME",
        1114 => "TIMESTAMP",
        1184 => "TIMESTAMPTZ",
        1186 => "INTERVAL",
        1266 => "TIMETZ",
        1560 => "BIT",
        1562 => "VARBIT",
        1700 => "NUMERIC",
        2950 => "UUID",
        3614 => "TSVECTOR",
        3802 => "JSONB",
        3904 => "INT4RANGE",
        3906 => "NUMRANGE",
        3908 => "TSRANGE",
        3910 => "TSTZRANGE",
        3912 => "DATERANGE",
        3926 => "INT8RANGE",
        _ => return None,
    })
}

/// Python's `repr(float)` (what Elastic's connector writes for a float, in JSON and in `_id`s):
/// the shortest round-trip digits, positional from 1e-4 to below 1e16 and always with a
/// fractional part there, scientific (`1e+16`, `1.5e-05`) outside.
pub(super) fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    // Rust's `{:e}` is the shortest round-trip form too, as `d.ddde±x`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        let n = digits.len() as i32;
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
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
        format!("{sign}{first}{frac}e{esign}{:02}", exp.abs())
    }
}

/// `numeric`'s exact text, with its display scale (`125.00` stays `125.00`); NaN and the
/// infinities as PostgreSQL prints them.
fn numeric(b: &mut Bytes<'_>) -> Result<String, String> {
    let ndigits = b.i16()?;
    let weight = i32::from(b.i16()?);
    let sign = b.u16()?;
    let dscale = usize::from(b.u16()?);
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let mut groups = Vec::with_capacity(usize::try_from(ndigits).unwrap_or(0));
    for _ in 0..ndigits {
        groups.push(b.i16()?);
    }
    let group = |i: i32| -> i16 {
        usize::try_from(i)
            .ok()
            .and_then(|i| groups.get(i).copied())
            .unwrap_or(0)
    };
    // Base-10000 digit i stands for 10000^(weight - i).
    let mut int = String::new();
    for i in 0..=weight {
        if int.is_empty() {
            if group(i) != 0 {
                int.push_str(&group(i).to_string());
            }
        } else {
            int.push_str(&format!("{:04}", group(i)));
        }
    }
    if int.is_empty() {
        int.push('0');
    }
    let mut frac = String::new();
    let mut i = weight + 1;
    while frac.len() < dscale {
        frac.push_str(&format!("{:04}", group(i)));
        i += 1;
    }
    frac.truncate(dscale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// Python's `isoformat()` of a time of day: microseconds only when not zero, then six digits.
fn iso_time(t: NaiveTime) -> String {
    let micros = t.nanosecond() / 1000;
    let base = t.format("%H:%M:%S").to_string();
    if micros == 0 {
        base
    } else {
        format!("{base}.{micros:06}")
    }
}

use chrono::Timelike as _;

/// A `timestamp` (microseconds since 2000-01-01) as `YYYY-MM-DDTHH:MM:SS[.ffffff]`;
/// PostgreSQL's `infinity` and `-infinity` as those words.
fn timestamp(micros: i64) -> String {
    match micros {
        i64::MAX => "infinity".into(),
        i64::MIN => "-infinity".into(),
        m => epoch()
            .checked_add_signed(Duration::microseconds(m))
            .map(|t| format!("{}T{}", t.date(), iso_time(t.time())))
            .unwrap_or_else(|| m.to_string()),
    }
}

fn date(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        d => epoch()
            .date()
            .checked_add_signed(Duration::days(d.into()))
            .map(|d| d.to_string())
            .unwrap_or_else(|| d.to_string()),
    }
}

fn time_of_day(micros: i64) -> String {
    let t = NaiveTime::MIN + Duration::microseconds(micros);
    // 24:00:00 is a valid PostgreSQL time that chrono wraps to 00:00:00.
    if micros >= 86_400_000_000 {
        "24:00:00".into()
    } else {
        iso_time(t)
    }
}

/// An `interval` in PostgreSQL's default output style (`1 year 2 mons 3 days 04:05:06.5`).
fn interval(b: &mut Bytes<'_>) -> Result<String, String> {
    let micros = b.i64()?;
    let days = b.i32()?;
    let months = b.i32()?;
    let (years, months) = (months / 12, months % 12);
    let mut parts = Vec::new();
    let unit =
        |n: i32, one: &str, many: &str| format!("{n} {}", if n.abs() == 1 { one } else { many });
    if years != 0 {
        parts.push(unit(years, "year", "years"));
    }
    if months != 0 {
        parts.push(unit(months, "mon", "mons"));
    }
    if days != 0 {
        parts.push(unit(days, "day", "days"));
    }
    if micros != 0 || parts.is_empty() {
        let sign = if micros < 0 { "-" } else { "" };
        let m = micros.unsigned_abs();
        let (secs, frac) = (m / 1_000_000, m % 1_000_000);
        let mut t = format!(
            "{sign}{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        if frac != 0 {
            t.push_str(format!(".{frac:06}").trim_end_matches('0'));
        }
        parts.push(t);
    }
    Ok(parts.join(" "))
}

/// `inet` and `cidr`: an `inet` with a full-length mask prints without it, as PostgreSQL and
/// Python's `ipaddress` do.
fn inet(b: &mut Bytes<'_>) -> Result<String, String> {
    let family = b.u8()?;
    let bits = b.u8()?;
    let is_cidr = b.u8()? != 0;
    let n = usize::from(b.u8()?);
    let addr = b.take(n)?;
    let (text, max) = match (family, addr.len()) {
        (2, 4) => (
            std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
            32,
        ),
        (3, 16) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(addr);
            (std::net::Ipv6Addr::from(a).to_string(), 128)
        }
        _ => return Err(format!("unknown address family {family}")),
    };
    Ok(if is_cidr || bits != max {
        format!("{text}/{bits}")
    } else {
        text
    })
}

/// `bit`/`varbit` as asyncpg's `BitString.as_string()`, which Elastic's connector writes: the
/// bits, a space after every fourth.
fn bits(b: &mut Bytes<'_>) -> Result<String, String> {
    let len = usize::try_from(b.i32()?).map_err(|e| e.to_string())?;
    let data = b.take(len.div_ceil(8))?;
    let mut s = String::with_capacity(len + len / 4);
    for i in 0..len {
        s.push(if data[i / 8] >> (7 - i % 8) & 1 == 1 {
            '1'
        } else {
            '0'
        });
        if i % 4 == 3 {
            s.push(' ');
        }
    }
    Ok(s.trim_end().to_owned())
}

/// A `tsvector` in PostgreSQL's text form: `'lexeme':1A,2 'other'`.
fn tsvector(b: &mut Bytes<'_>) -> Result<String, String> {
    let count = b.i32()?;
    let mut out = Vec::new();
    for _ in 0..count {
        let rest = b.0;
        let end = rest
            .iter()
            .position(|&c| c == 0)
            .ok_or("unterminated lexeme")?;
        let lexeme = String::from_utf8_lossy(b.take(end)?).into_owned();
        b.take(1)?;
        let npos = b.u16()?;
        let mut s = format!("'{}'", lexeme.replace('\\', "\\\\").replace('\'', "''"));
        for i in 0..npos {
            let p = b.u16()?;
            s.push(if i == 0 { ':' } else { ',' });
            s.push_str(&(p & 0x3FFF).to_string());
            match p >> 14 {
                3 => s.push('A'),
                2 => s.push('B'),
                1 => s.push('C'),
                _ => {}
            }
        }
        out.push(s);
    }
    Ok(out.join(" "))
}

fn point(b: &mut Bytes<'_>) -> Result<String, String> {
    Ok(format!(
        "({}, {})",
        python_float(b.f64()?),
        python_float(b.f64()?)
    ))
}

fn points(b: &mut Bytes<'_>, n: i32) -> Result<String, String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(point(b)?);
    }
    Ok(format!("[{}]", out.join(", ")))
}

/// A range in PostgreSQL's text form (`[1,10)`, `empty`); timestamps quoted as it quotes them.
fn range(b: &mut Bytes<'_>, subtype: &str) -> Result<String, String> {
    let flags = b.u8()?;
    if flags & 0x01 != 0 {
        return Ok("empty".into());
    }
    let mut bound = |infinite: bool| -> Result<String, String> {
        if infinite {
            return Ok(String::new());
        }
        let Some(raw) = b.field()? else {
            return Ok(String::new());
        };
        let text = text_form(&scalar(subtype, raw)?);
        Ok(if text.contains([' ', ',']) {
            format!("\"{text}\"")
        } else {
            text
        })
    };
    let lower = bound(flags & 0x08 != 0)?;
    let upper = bound(flags & 0x10 != 0)?;
    Ok(format!(
        "{}{lower},{upper}{}",
        if flags & 0x02 != 0 { '[' } else { '(' },
        if flags & 0x04 != 0 { ']' } else { ')' }
    ))
}

/// The value as text, for composing the text of ranges.
fn text_form(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => python_float(*f),
        Value::Timestamp(s) => s.replacen('T', " ", 1),
        Value::Decimal(s) | Value::Text(s) | Value::Date(s) | Value::Time(s) | Value::Json(s) => {
            s.clone()
        }
        Value::Bytes(b) => format!("\\x{}", hex::encode(b)),
    }
}

/// The value as a JSON array element: numbers as numbers (an exact decimal keeps its digits
/// and is always written as a float, like the column's other values), the rest as in a
/// document.
fn json_element(value: &Value) -> String {
    let string = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_finite() => python_float(*f),
        Value::Float(f) => string(&python_float(*f)),
        Value::Decimal(d) => decimal_json(d),
        Value::Json(j) => j.clone(),
        Value::Bytes(b) => string(&base64_encode(b)),
        Value::Text(s) | Value::Date(s) | Value::Time(s) | Value::Timestamp(s) => string(s),
    }
}

/// An exact decimal as a JSON number that is always a float token (`125` → `125.0`) and keeps
/// every digit; NaN and the infinities, which JSON has no number for, as strings.
pub(super) fn decimal_json(d: &str) -> String {
    let t = d.trim();
    let is_number = t
        .strip_prefix('-')
        .unwrap_or(t)
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
    if !is_number {
        return serde_json::to_string(t).unwrap_or_else(|_| "\"\"".into());
    }
    if t.contains(['.', 'e', 'E']) {
        t.to_owned()
    } else {
        format!("{t}.0")
    }
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// An array (any dimensions) as a JSON array of its elements.
fn array(b: &mut Bytes<'_>) -> Result<String, String> {
    let ndim = b.i32()?;
    let _has_null = b.i32()?;
    let elem = b.u32()?;
    let mut dims = Vec::new();
    for _ in 0..ndim {
        let len = usize::try_from(b.i32()?).map_err(|e| e.to_string())?;
        let _lower = b.i32()?;
        dims.push(len);
    }
    let name = oid_name(elem).unwrap_or("");
    let mut elems = Vec::new();
    let total: usize = if dims.is_empty() {
        0
    } else {
        dims.iter().product()
    };
    for _ in 0..total {
        elems.push(match b.field()? {
            None => "null".to_owned(),
            Some(raw) => json_element(&scalar(name, raw)?),
        });
    }
    // Nest the flat elements by dimension, innermost first.
    fn nest(elems: &[String], dims: &[usize]) -> String {
        match dims {
            [] | [_] => format!("[{}]", elems.join(",")),
            [_, inner @ ..] => {
                let size: usize = inner.iter().product::<usize>().max(1);
                let parts: Vec<String> = elems.chunks(size).map(|c| nest(c, inner)).collect();
                format!("[{}]", parts.join(","))
            }
        }
    }
    Ok(nest(&elems, &dims))
}

/// Text for a type this module does not know (enums, `citext`, `xml`, domains over text: their
/// binary form is their text); anything else as bytes.
fn unknown(raw: &[u8]) -> Value {
    match std::str::from_utf8(raw) {
        Ok(s)
            if !s
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) =>
        {
            Value::Text(s.to_owned())
        }
        _ => Value::Bytes(raw.to_vec()),
    }
}

/// One value of the named type from its binary form.
pub(super) fn scalar(name: &str, raw: &[u8]) -> Result<Value, String> {
    let mut b = Bytes(raw);
    let b = &mut b;
    // sqlx names the types it knows in capitals and the others (tsvector, extension types) as
    // the server spells them.
    let upper = name.to_ascii_uppercase();
    Ok(match upper.as_str() {
        "BOOL" => Value::Bool(b.u8()? != 0),
        "INT2" => Value::Int(b.i16()?.into()),
        "INT4" => Value::Int(b.i32()?.into()),
        "INT8" => Value::Int(b.i64()?),
        "OID" => Value::Int(b.u32()?.into()),
        "FLOAT4" => Value::Float(b.f32()?.into()),
        "FLOAT8" => Value::Float(b.f64()?),
        "NUMERIC" => Value::Decimal(numeric(b)?),
        // Money is a count of the currency's minor unit; two decimals, as in the C and most
        // lc_monetary locales (the currency symbol and grouping are left out).
        "MONEY" => {
            let cents = b.i64()?;
            let sign = if cents < 0 { "-" } else { "" };
            let c = cents.unsigned_abs();
            Value::Decimal(format!("{sign}{}.{:02}", c / 100, c % 100))
        }
        "BYTEA" => Value::Bytes(b.rest().to_vec()),
        "UUID" => {
            let a: [u8; 16] = b.array()?;
            Value::Text(sqlx::types::Uuid::from_bytes(a).to_string())
        }
        "JSON" => Value::Json(String::from_utf8_lossy(b.rest()).into_owned()),
        "JSONB" => {
            // jsonb's binary form is a version byte (1) and the JSON text.
            let _version = b.u8()?;
            Value::Json(String::from_utf8_lossy(b.rest()).into_owned())
        }
        "TIMESTAMP" => Value::Timestamp(timestamp(b.i64()?)),
        "TIMESTAMPTZ" => Value::Timestamp(match timestamp(b.i64()?) {
            t if t.ends_with("infinity") => t,
            t => format!("{t}+00:00"),
        }),
        "DATE" => Value::Date(date(b.i32()?)),
        "TIME" => Value::Time(time_of_day(b.i64()?)),
        "TIMETZ" => {
            let t = time_of_day(b.i64()?);
            // The zone is in seconds west of UTC; isoformat writes the offset east.
            let west = b.i32()?;
            let east = -west;
            let sign = if east < 0 { '-' } else { '+' };
            let e = east.unsigned_abs();
            let mut offset = format!("{sign}{:02}:{:02}", e / 3600, e / 60 % 60);
            if e % 60 != 0 {
                offset.push_str(&format!(":{:02}", e % 60));
            }
            Value::Time(format!("{t}{offset}"))
        }
        "INTERVAL" => Value::Text(interval(b)?),
        "INET" | "CIDR" => Value::Text(inet(b)?),
        "MACADDR" | "MACADDR8" => Value::Text(
            b.rest()
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
        ),
        "BIT" | "VARBIT" => Value::Text(bits(b)?),
        "TSVECTOR" => Value::Text(tsvector(b)?),
        // Elastic's connector (PostgreSQLDataSource.serialize) writes these shapes.
        "POINT" => Value::Text(point(b)?),
        "LSEG" | "BOX" => Value::Text(format!("[{}, {}]", point(b)?, point(b)?)),
        "PATH" => {
            let closed = b.u8()? != 0;
            let n = b.i32()?;
            let pts = points(b, n)?;
            Value::Text(format!("{} {pts}", if closed { "closed" } else { "open" }))
        }
        "POLYGON" => {
            let n = b.i32()?;
            Value::Text(points(b, n)?)
        }
        "LINE" => Value::Text(format!(
            "({}, {}, {})",
            python_float(b.f64()?),
            python_float(b.f64()?),
            python_float(b.f64()?)
        )),
        // PostgreSQL's text form: Elastic's is the repr of asyncpg's tuple.
        "CIRCLE" => {
            let (x, y, r) = (b.f64()?, b.f64()?, b.f64()?);
            Value::Text(format!(
                "<({}, {}), {}>",
                python_float(x),
                python_float(y),
                python_float(r)
            ))
        }
        "INT4RANGE" => Value::Text(range(b, "INT4")?),
        "INT8RANGE" => Value::Text(range(b, "INT8")?),
        "NUMRANGE" => Value::Text(range(b, "NUMERIC")?),
        "DATERANGE" => Value::Text(range(b, "DATE")?),
        "TSRANGE" => Value::Text(range(b, "TIMESTAMP")?),
        "TSTZRANGE" => Value::Text(range(b, "TIMESTAMPTZ")?),
        t if t.ends_with("[]") || (t.starts_with('_') && raw.len() >= 12) => {
            match array(b) {
                Ok(json) => Value::Json(json),
                // A type named like an array that is not one.
                Err(_) => unknown(raw),
            }
        }
        _ => unknown(raw),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr() {
        assert_eq!(python_float(2.0), "2.0");
        assert_eq!(python_float(125.0), "125.0");
        assert_eq!(python_float(0.1), "0.1");
        assert_eq!(python_float(-1.5), "-1.5");
        assert_eq!(python_float(1e16), "1e+16");
        assert_eq!(python_float(1.5e-5), "1.5e-05");
        assert_eq!(python_float(0.0001), "0.0001");
        assert_eq!(python_float(123456789012345.0), "123456789012345.0");
        assert_eq!(python_float(f64::from(1.1f32)), "1.100000023841858");
        assert_eq!(
            python_float(1.2345678901234568e17),
            "1.2345678901234568e+17"
        );
    }

    fn num(ndigits: i16, weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(ndigits.to_be_bytes());
        v.extend(weight.to_be_bytes());
        v.extend(sign.to_be_bytes());
        v.extend(dscale.to_be_bytes());
        for d in digits {
            v.extend(d.to_be_bytes());
        }
        v
    }

    #[test]
    fn numeric_keeps_its_scale_and_digits() {
        let n = |raw: Vec<u8>| scalar("NUMERIC", &raw).expect("numeric");
        assert_eq!(n(num(1, 0, 0, 2, &[125])), Value::Decimal("125.00".into()));
        assert_eq!(n(num(1, 0, 0, 0, &[125])), Value::Decimal("125".into()));
        assert_eq!(
            n(num(2, 0, 0x4000, 2, &[8, 2500])),
            Value::Decimal("-8.25".into())
        );
        assert_eq!(
            n(num(1, -2, 0, 7, &[10])),
            Value::Decimal("0.0000001".into())
        );
        assert_eq!(n(num(0, 0, 0, 3, &[])), Value::Decimal("0.000".into()));
        assert_eq!(
            n(num(3, 1, 0, 4, &[1, 2345, 6789])),
            Value::Decimal("12345.6789".into())
        );
        assert_eq!(n(num(0, 0, 0xC000, 0, &[])), Value::Decimal("NaN".into()));
    }

    #[test]
    fn decimals_are_always_float_tokens() {
        assert_eq!(decimal_json("125"), "125.0");
        assert_eq!(decimal_json("125.00"), "125.00");
        assert_eq!(decimal_json("-3"), "-3.0");
        assert_eq!(decimal_json("NaN"), "\"NaN\"");
        assert_eq!(decimal_json("-Infinity"), "\"-Infinity\"");
    }

    #[test]
    fn text_forms_of_other_types() {
        let mut v = Vec::new();
        v.extend(5_000_000_i64.to_be_bytes());
        v.extend(3_i32.to_be_bytes());
        v.extend(14_i32.to_be_bytes());
        assert_eq!(
            scalar("INTERVAL", &v),
            Ok(Value::Text("1 year 2 mons 3 days 00:00:05".into()))
        );
        assert_eq!(
            scalar("INET", &[2, 32, 0, 4, 192, 168, 0, 1]),
            Ok(Value::Text("192.168.0.1".into()))
        );
        assert_eq!(
            scalar("CIDR", &[2, 8, 1, 4, 10, 0, 0, 0]),
            Ok(Value::Text("10.0.0.0/8".into()))
        );
        let mut bits = 6_i32.to_be_bytes().to_vec();
        bits.push(0b1010_1100);
        assert_eq!(scalar("BIT", &bits), Ok(Value::Text("1010 11".into())));
        assert_eq!(scalar("mood", b"happy"), Ok(Value::Text("happy".into())));
        assert!(
            scalar("INT4", &[0, 1]).is_err(),
            "a short value is an error"
        );
    }

    #[test]
    fn arrays_become_json_arrays() {
        // int4[] of {1,NULL,3}
        let mut v = Vec::new();
        for x in [1_i32, 1, 23, 3, 1] {
            v.extend(x.to_be_bytes());
        }
        v.extend(4_i32.to_be_bytes());
        v.extend(1_i32.to_be_bytes());
        v.extend((-1_i32).to_be_bytes());
        v.extend(4_i32.to_be_bytes());
        v.extend(3_i32.to_be_bytes());
        assert_eq!(scalar("INT4[]", &v), Ok(Value::Json("[1,null,3]".into())));
        // An empty array has no dimensions.
        let empty: Vec<u8> = [0_i32, 0, 23]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        assert_eq!(scalar("TEXT[]", &empty), Ok(Value::Json("[]".into())));
    }
}
