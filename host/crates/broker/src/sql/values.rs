//! Typed values across the broker: database rows → [`Value`], and [`Value`] parameters → bound
//! query arguments. One function per engine because their wire types differ.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use sqlx::{Column as _, Row as _, TypeInfo as _, ValueRef as _};

pub(crate) use inlet_runtime::brokers::{Column, Value};

fn naive_ts(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

fn utc_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn bad(column: &str, ty: &str, e: impl std::fmt::Display) -> String {
    format!("cannot read column `{column}` of type {ty}: {e}; cast it in the query (e.g. to text)")
}

pub(super) fn pg_columns(row: &sqlx::postgres::PgRow) -> Vec<Column> {
    row.columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_owned(),
            db_type: c.type_info().name().to_owned(),
        })
        .collect()
}

/// One PostgreSQL row as values.
pub(super) fn pg_row(row: &sqlx::postgres::PgRow) -> Result<Vec<Value>, String> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let ty = col.type_info().name();
        let name = col.name();
        let raw = row.try_get_raw(i).map_err(|e| bad(name, ty, e))?;
        if raw.is_null() {
            out.push(Value::Null);
            continue;
        }
        let e = |e: sqlx::Error| bad(name, ty, e);
        let v = match ty {
            "BOOL" => Value::Bool(row.try_get(i).map_err(e)?),
            "INT2" => Value::Int(row.try_get::<i16, _>(i).map_err(e)?.into()),
            "INT4" => Value::Int(row.try_get::<i32, _>(i).map_err(e)?.into()),
            "INT8" => Value::Int(row.try_get(i).map_err(e)?),
            "OID" => Value::Int(
                row.try_get::<sqlx::postgres::types::Oid, _>(i)
                    .map_err(e)?
                    .0
                    .into(),
            ),
            "FLOAT4" => Value::Float(row.try_get::<f32, _>(i).map_err(e)?.into()),
            "FLOAT8" => Value::Float(row.try_get(i).map_err(e)?),
            // Exact, with the column's scale: rust_decimal holds 28 digits and would drop
            // trailing zeros; PostgreSQL's numeric holds up to 131072.
            "NUMERIC" => {
                super::pg_binary::scalar(ty, raw.as_bytes().map_err(|e| bad(name, ty, e))?)
                    .map_err(|m| bad(name, ty, m))?
            }
            "BYTEA" => Value::Bytes(row.try_get(i).map_err(e)?),
            "UUID" => Value::Text(
                row.try_get::<sqlx::types::Uuid, _>(i)
                    .map_err(e)?
                    .to_string(),
            ),
            // Decoded from the wire here, not by sqlx's chrono decoding, which panics on
            // `infinity`: microsecond-exact ISO 8601 text (`+00:00` for time zone aware
            // columns), PostgreSQL's `infinity` words kept.
            "TIMESTAMP" | "TIMESTAMPTZ" | "DATE" | "TIME" => {
                super::pg_binary::scalar(ty, raw.as_bytes().map_err(|e| bad(name, ty, e))?)
                    .map_err(|m| bad(name, ty, m))?
            }
            "JSON" | "JSONB" => Value::Json(
                row.try_get::<serde_json::Value, _>(i)
                    .map_err(e)?
                    .to_string(),
            ),
            // Text on the wire, whatever it holds.
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "XML" | "UNKNOWN" => {
                Value::Text(row.try_get_unchecked::<String, _>(i).map_err(e)?)
            }
            // An extension type: sqlx reports the name as the server spells it.
            t if t.eq_ignore_ascii_case("citext") => {
                Value::Text(row.try_get_unchecked::<String, _>(i).map_err(e)?)
            }
            // Arrays, intervals, network, bit, text-search, geometric and range types, enums
            // and extension types: decoded from their binary form, so no column type fails a
            // sync.
            _ => super::pg_binary::scalar(ty, raw.as_bytes().map_err(|e| bad(name, ty, e))?)
                .map_err(|m| bad(name, ty, m))?,
        };
        out.push(v);
    }
    Ok(out)
}

pub(super) fn my_columns(row: &sqlx::mysql::MySqlRow) -> Vec<Column> {
    row.columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_owned(),
            db_type: c.type_info().name().to_owned(),
        })
        .collect()
}

/// One MySQL/MariaDB row as values.
pub(super) fn my_row(row: &sqlx::mysql::MySqlRow) -> Result<Vec<Value>, String> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let ty = col.type_info().name();
        let name = col.name();
        let raw = row.try_get_raw(i).map_err(|e| bad(name, ty, e))?;
        if raw.is_null() {
            out.push(Value::Null);
            continue;
        }
        let e = |e: sqlx::Error| bad(name, ty, e);
        let v = match ty {
            // BOOLEAN is TINYINT(1): it holds -128..127, and Elastic's connector keeps the
            // integer, so the value is not folded into true/false.
            "BOOLEAN" => Value::Int(row.try_get_unchecked::<i8, _>(i).map_err(e)?.into()),
            "BIGINT UNSIGNED" => {
                let u: u64 = row.try_get(i).map_err(e)?;
                // Above i64::MAX the exact value survives as a decimal.
                i64::try_from(u).map_or_else(|_| Value::Decimal(u.to_string()), Value::Int)
            }
            t if t.ends_with("UNSIGNED") => {
                Value::Int(row.try_get_unchecked::<u32, _>(i).map_err(e)?.into())
            }
            "TINYINT" | "SMALLINT" | "INT" | "MEDIUMINT" | "BIGINT" | "YEAR" => {
                Value::Int(row.try_get_unchecked::<i64, _>(i).map_err(e)?)
            }
            "FLOAT" => Value::Float(row.try_get::<f32, _>(i).map_err(e)?.into()),
            "DOUBLE" => Value::Float(row.try_get(i).map_err(e)?),
            // DECIMAL travels as text in both protocols: exact, whatever its precision.
            "DECIMAL" => Value::Decimal(row.try_get_unchecked::<String, _>(i).map_err(e)?),
            // sqlx reports MySQL's zero dates (`0000-00-00`) as NULL before any decoding, so
            // they arrive as NULL (PyMySQL keeps the text): docs/CONNECTORS.md lists it.
            "TIMESTAMP" => Value::Timestamp(utc_ts(row.try_get(i).map_err(e)?)),
            "DATETIME" => Value::Timestamp(naive_ts(row.try_get(i).map_err(e)?)),
            "DATE" => Value::Date(row.try_get::<NaiveDate, _>(i).map_err(e)?.to_string()),
            // TIME is a duration (-838:59:59 … 838:59:59), not a time of day.
            "TIME" => Value::Time(my_duration(
                &row.try_get::<sqlx::mysql::types::MySqlTime, _>(i)
                    .map_err(e)?,
            )),
            "JSON" => Value::Json(row.try_get_unchecked::<String, _>(i).map_err(e)?),
            "BINARY" | "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
                my_binary(row.try_get_unchecked::<Vec<u8>, _>(i).map_err(e)?)
            }
            // BIT(n) as its number (big-endian, at most 64 bits).
            "BIT" => {
                let b = row.try_get_unchecked::<Vec<u8>, _>(i).map_err(e)?;
                let n = b.iter().fold(0u64, |n, &x| (n << 8) | u64::from(x));
                i64::try_from(n).map_or_else(|_| Value::Decimal(n.to_string()), Value::Int)
            }
            // Spatial values as WKT; a shape the decoder does not know stays bytes.
            "GEOMETRY" => {
                let b = row.try_get_unchecked::<Vec<u8>, _>(i).map_err(e)?;
                super::wkb::mysql_wkt(&b).map_or(Value::Bytes(b), Value::Text)
            }
            _ => Value::Text(row.try_get_unchecked::<String, _>(i).map_err(e)?),
        };
        out.push(v);
    }
    Ok(out)
}

/// A MySQL TIME as MySQL prints it: `[-]HH:MM:SS[.ffffff]`, hours past 24 as they are.
fn my_duration(t: &sqlx::mysql::types::MySqlTime) -> String {
    // `MySqlTime::is_negative` answers the opposite in sqlx 0.8.6; the sign itself is right.
    let sign = if t.sign().is_negative() { "-" } else { "" };
    let mut s = format!(
        "{sign}{:02}:{:02}:{:02}",
        t.hours(),
        t.minutes(),
        t.seconds()
    );
    if t.microseconds() != 0 {
        s.push_str(&format!(".{:06}", t.microseconds()));
    }
    s
}

/// MySQL flags text columns with a `_bin` collation (MariaDB's JSON columns among them) as
/// binary, and the driver does not expose the character set that would tell them apart. Text
/// is what prints: valid UTF-8 without control characters other than tab and newlines; real
/// binary data (images, hashes, packed numbers) almost never is.
fn my_binary(bytes: Vec<u8>) -> Value {
    match String::from_utf8(bytes) {
        Ok(s)
            if !s
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) =>
        {
            Value::Text(s)
        }
        Ok(s) => Value::Bytes(s.into_bytes()),
        Err(e) => Value::Bytes(e.into_bytes()),
    }
}

/// A timestamp parameter: with an offset it binds as an instant, without as a local time.
enum Ts {
    Utc(DateTime<Utc>),
    Naive(NaiveDateTime),
}

fn parse_ts(s: &str) -> Result<Ts, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Ts::Utc(t.with_timezone(&Utc)));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(Ts::Naive(t));
        }
    }
    Err(format!("{s:?} is not an RFC 3339 or ISO 8601 timestamp"))
}

macro_rules! bind_all {
    ($query:expr, $params:expr) => {{
        let mut q = $query;
        for (n, p) in $params.iter().enumerate() {
            let at = |m: String| format!("parameter {}: {m}", n + 1);
            q = match p {
                Value::Null => q.bind(Option::<String>::None),
                Value::Bool(b) => q.bind(*b),
                Value::Int(i) => q.bind(*i),
                Value::Float(f) => q.bind(*f),
                Value::Decimal(d) => q.bind(
                    d.parse::<rust_decimal::Decimal>()
                        .map_err(|e| at(format!("{d:?} is not a decimal: {e}")))?,
                ),
                Value::Text(s) => q.bind(s.clone()),
                Value::Bytes(b) => q.bind(b.clone()),
                Value::Timestamp(s) => match parse_ts(s).map_err(at)? {
                    Ts::Utc(t) => q.bind(t),
                    Ts::Naive(t) => q.bind(t),
                },
                Value::Date(s) => q.bind(
                    s.parse::<NaiveDate>()
                        .map_err(|e| at(format!("{s:?} is not a date: {e}")))?,
                ),
                Value::Time(s) => q.bind(
                    s.parse::<NaiveTime>()
                        .map_err(|e| at(format!("{s:?} is not a time: {e}")))?,
                ),
                Value::Json(s) => q.bind(
                    serde_json::from_str::<serde_json::Value>(s)
                        .map_err(|e| at(format!("not JSON: {e}")))?,
                ),
            };
        }
        Ok::<_, String>(q)
    }};
}

pub(super) fn pg_query<'q>(
    statement: &'q str,
    params: &[Value],
) -> Result<sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>, String> {
    bind_all!(sqlx::query::<sqlx::Postgres>(statement), params)
}

pub(super) fn my_query<'q>(
    statement: &'q str,
    params: &[Value],
) -> Result<sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>, String> {
    bind_all!(sqlx::query::<sqlx::MySql>(statement), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_and_parse() {
        let t = NaiveDate::from_ymd_opt(2024, 5, 1)
            .and_then(|d| d.and_hms_milli_opt(10, 0, 0, 250))
            .expect("valid");
        assert_eq!(naive_ts(t), "2024-05-01T10:00:00.250");
        assert_eq!(utc_ts(t.and_utc()), "2024-05-01T10:00:00.250Z");
        assert!(matches!(parse_ts("2024-05-01T10:00:00Z"), Ok(Ts::Utc(_))));
        assert!(matches!(
            parse_ts("2024-05-01T10:00:00+02:00"),
            Ok(Ts::Utc(_))
        ));
        assert!(matches!(
            parse_ts("2024-05-01 10:00:00.5"),
            Ok(Ts::Naive(_))
        ));
        assert!(parse_ts("yesterday").is_err());
    }

    #[test]
    fn parameters_are_checked_before_the_query_runs() {
        assert!(pg_query("SELECT $1", &[Value::Decimal("12.5".into())]).is_ok());
        let e = pg_query(
            "SELECT $1, $2",
            &[Value::Int(1), Value::Date("May 1".into())],
        )
        .err()
        .expect("bad date");
        assert!(e.starts_with("parameter 2:"), "{e}");
        assert!(my_query("SELECT ?", &[Value::Json("{".into())]).is_err());
        assert_eq!(Value::Text("abc".into()).weight(), 11);
    }

    #[test]
    fn mysql_time_is_a_signed_duration() {
        use sqlx::mysql::types::{MySqlTime, MySqlTimeSign};
        let t = |sign, h, m, s, us| {
            my_duration(&MySqlTime::new(sign, h, m, s, us).expect("valid MySQL TIME"))
        };
        assert_eq!(t(MySqlTimeSign::Positive, 25, 0, 0, 0), "25:00:00");
        assert_eq!(t(MySqlTimeSign::Positive, 838, 59, 59, 0), "838:59:59");
        assert_eq!(
            t(MySqlTimeSign::Negative, 1, 0, 0, 500_000),
            "-01:00:00.500000"
        );
        assert_eq!(t(MySqlTimeSign::Positive, 3, 4, 5, 0), "03:04:05");
    }

    #[test]
    fn mysql_bin_collation_text_stays_text_and_binary_stays_bytes() {
        assert_eq!(
            my_binary(b"{\"n\": 8}".to_vec()),
            Value::Text("{\"n\": 8}".into())
        );
        assert_eq!(my_binary(vec![0, 0, 0, 8]), Value::Bytes(vec![0, 0, 0, 8]));
        assert_eq!(my_binary(vec![0xff, 0xd8]), Value::Bytes(vec![0xff, 0xd8]));
    }
}
