//! The `postgresql` and `mysql` connectors' documents and `_id`s compared with Elastic's, on
//! the real PostgreSQL and MariaDB servers (INLET_TEST_POSTGRES / INLET_TEST_MYSQL, started by
//! tests/databases/start when unset): a table of every common column type on each server, and
//! a table keyed by the non-text types.
//!
//! The expected values are facts about Elastic's connector (elastic/connectors, app/
//! connectors_service/connectors/…), written down from its code, each with the function it
//! comes from:
//! - `_id`: `str()` of each non-NULL key value joined by `_` after the sorted table names —
//!   `sources/shared/database/generic_database.py::hash_id` (PostgreSQL, prefixed by
//!   `{database}_{schema}_`) and `sources/mysql/client.py::generate_id`; `str()` of what the
//!   driver returns: asyncpg (via SQLAlchemy) for PostgreSQL, PyMySQL (text protocol) for MySQL.
//! - fields: `connectors_sdk/source.py::BaseDataSource.serialize` (datetime/date/time →
//!   `isoformat()`, `Decimal` → `float`, bytes → `decode(errors="ignore")`) and
//!   `sources/postgresql/datasource.py::PostgreSQLDataSource.serialize` (inet/cidr/uuid →
//!   `str`, Point → `f"({x}, {y})"`, Box/LineSegment → `[(…), (…)]`, Polygon → `str(coords)`,
//!   Path → `f"{open|closed} {coords}"`, Line → `str(tuple)`, BitString → `as_string()`).
//! - `id`: `es/sink.py::Extractor.get_docs` sets `doc["id"] = doc_id` over any column `id`.
//!
//! Where Inlet differs on purpose (docs/CONNECTORS.md, "SQL documents"), the test asserts
//! Inlet's value and says why next to it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use crate::support::*;
use serde_json::Value as Json;

struct Server {
    url: String,
    user: String,
    password: String,
    admin_url: String,
}

fn servers() -> &'static (Server, Server) {
    static S: OnceLock<(Server, Server)> = OnceLock::new();
    S.get_or_init(|| {
        let (pg, my) = match (
            std::env::var("INLET_TEST_POSTGRES"),
            std::env::var("INLET_TEST_MYSQL"),
        ) {
            (Ok(pg), Ok(my)) => (pg, my),
            _ => {
                let out = Command::new(root().join("tests/databases/start"))
                    .output()
                    .expect("run tests/databases/start");
                assert!(
                    out.status.success(),
                    "tests/databases/start failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let get = |k: &str| {
                    text.lines()
                        .find_map(|l| l.strip_prefix(k))
                        .expect("start prints both URLs")
                        .to_owned()
                };
                (get("INLET_TEST_POSTGRES="), get("INLET_TEST_MYSQL="))
            }
        };
        (split(&pg), split(&my))
    })
}

fn split(full: &str) -> Server {
    let (scheme, rest) = full.split_once("://").expect("scheme");
    let (userinfo, host) = rest.split_once('@').expect("user and password");
    let (user, password) = userinfo.split_once(':').expect("password");
    Server {
        url: format!("{scheme}://{host}"),
        user: user.to_owned(),
        password: password.to_owned(),
        admin_url: full.to_owned(),
    }
}

fn exec(url: &str, statements: &[&str]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(url).await.expect("connect");
            for s in statements {
                sqlx::raw_sql(s)
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        } else {
            let pool = sqlx::MySqlPool::connect(url).await.expect("connect");
            for s in statements {
                sqlx::raw_sql(s)
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        }
    });
}

/// Syncs `tables` of the server with the named plugin; returns the documents by `_id` and the
/// raw sink text (to check the exact JSON of numbers).
fn sync_tables(
    tmp: &Path,
    plugin: &str,
    server: &Server,
    configuration: &str,
) -> (std::collections::BTreeMap<String, Json>, String) {
    let secret = tmp.join("db.password");
    std::fs::write(&secret, format!("{}\n", server.password)).expect("write secret");
    plugin_dir(tmp, &[plugin]);
    let config: PathBuf = write_config(
        tmp,
        &format!(
            "databases:\n  {plugin}:\n    url: {}\n    username: {}\n    password: {{file: {}}}\nconnectors:\n  - connector_id: docs\n    service_type: {plugin}\n    configuration:\n{configuration}    grants:\n      databases: [{plugin}]\n",
            server.url,
            server.user,
            secret.display()
        ),
    );
    let out: Output = inlet(&[
        "sync",
        "docs",
        "--type",
        "full",
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    let report: Json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
    assert!(
        out.status.success() && report["status"] == "completed",
        "the sync must complete whatever the column types: {}\n{}",
        stdout(&out),
        stderr(&out)
    );
    let sink = tmp.join("data/sink/search-docs.ndjson");
    // What the sync reported, for a failing assertion below (`--nocapture`).
    eprintln!("{report}\n{}", stderr(&out));
    (replay(&sink), std::fs::read_to_string(&sink).expect("sink"))
}

/// The raw JSON text of `field` in the source line of the document with this `_id`.
fn raw_field<'a>(sink: &'a str, id: &str, field: &str) -> &'a str {
    let action = format!("\"_id\":{}", Json::from(id));
    let mut lines = sink.lines();
    while let Some(l) = lines.next() {
        if l.contains(&action) {
            let source = lines.next().expect("source line");
            let key = format!("{}:", Json::from(field));
            let at = source
                .find(&key)
                .unwrap_or_else(|| panic!("{field} in {source}"))
                + key.len();
            let rest = &source[at..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            return &rest[..end];
        }
    }
    panic!("no document {id} in the sink");
}

const PG_SCHEMA: &str = "inlet_e2e_docs";

#[test]
fn postgres_every_column_type_as_elastic_writes_it() {
    let (pg, _) = servers();
    let s = PG_SCHEMA;
    exec(
        &pg.admin_url,
        &[
            &format!("DROP SCHEMA IF EXISTS {s} CASCADE"),
            &format!("CREATE SCHEMA {s}"),
            &format!("CREATE TYPE {s}.mood AS ENUM ('sad', 'happy')"),
            &format!(
                "CREATE TABLE {s}.every_type (
                    id int PRIMARY KEY, i2 smallint, i8 bigint, n_unscaled numeric,
                    n_scaled numeric(12,2), n38 numeric(38,10), n_nan numeric, f4 real,
                    f8 double precision, b boolean, t text, ts timestamp, tstz timestamptz,
                    ts_inf timestamp, d date, tm time, ttz timetz, iv interval, ip inet,
                    ipnet inet, net cidr, mac macaddr, cash money, bits bit(6), vbits varbit,
                    tsv tsvector, pt point, bx box, seg lseg, poly polygon, pth path, ln line,
                    circ circle, ia int[], ta text[], na numeric[], m2 int[][], ea int[],
                    tsa timestamp[], ir int4range, u uuid, j jsonb, by bytea, e {s}.mood,
                    x xml, nil int)"
            ),
            &format!(
                "INSERT INTO {s}.every_type VALUES (
                    1, 7, 9007199254740993, 125, 125.00,
                    1234567890123456789012345678.1234567890, 'NaN', 1.1,
                    2, true, 'héllo', '2024-01-02 03:04:05.5', '2024-01-02 03:04:05.5+00',
                    'infinity', '2024-01-02', '03:04:05.25', '03:04:05+02',
                    '1 year 2 mons 3 days 04:05:06.5', '192.168.0.1', '10.1.2.3/8',
                    '10.0.0.0/8', '08:00:2b:01:02:03', 1234.56, B'101011', B'1',
                    'a fat cat', '(1,2)', '((3,4),(1,2))', '[(1,2),(3,4)]',
                    '((0,0),(1,0),(1,1))', '[(0,0),(1,1)]', '{{1,-1,0}}', '<(1,2),3>',
                    '{{1,NULL,3}}', '{{a,\"b c\"}}', '{{1.5,2}}', '{{{{1,2}},{{3,4}}}}', '{{}}',
                    '{{\"2024-01-02 03:04:05\"}}', '[1,10)',
                    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{{\"a\": 1}}', '\\x00ff',
                    'happy', '<a/>', NULL)"
            ),
            // A key over the non-text types: the `_id` joins `str()` of each.
            &format!(
                "CREATE TABLE {s}.keys (
                    kts timestamp, kfrac timestamp, ktz timestamptz, kbool boolean,
                    kf8 double precision, kf4 real, knum numeric(10,2), ktiny numeric,
                    kbytes bytea, ktime time, kdate date, kuuid uuid, kiv interval, label text,
                    PRIMARY KEY (kts, kfrac, ktz, kbool, kf8, kf4, knum, ktiny, kbytes, ktime,
                                 kdate, kuuid, kiv))"
            ),
            &format!(
                "INSERT INTO {s}.keys VALUES ('2024-01-02 03:04:05', '2024-01-02 03:04:05.5',
                    '2024-01-02 03:04:05+00', false, 2, 1.5, 125.00, 0.0000001, '\\x00ff27',
                    '03:04:05', '2024-01-02', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
                    '1 mon 1 day 02:00:00.5', 'k')"
            ),
        ],
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let (docs, sink) = sync_tables(
        tmp.path(),
        "postgresql",
        pg,
        &format!("      schema: {s}\n      tables: [every_type, keys]\n"),
    );
    assert_eq!(docs.len(), 2, "{docs:?}");

    let id = format!("inlet_test_{s}_every_type_1");
    let d = &docs[&id];
    let f = |c: &str| format!("{s}_every_type_{c}");
    let raw = |c: &str| raw_field(&sink, &id, &f(c));
    // `id` carries the `_id` (es/sink.py); the column itself is `{schema}_{table}_id`.
    assert_eq!(d["id"], id.as_str());
    assert_eq!(d[f("id")], 1);
    assert_eq!(d[f("i2")], 7);
    assert_eq!(d[f("i8")], 9_007_199_254_740_993_i64);
    // numeric: Elastic writes float(Decimal): a float token whatever the value. Inlet writes
    // the same float token with the database's digits (125 → 125.0, 125.00 stays 125.00), so
    // Elasticsearch maps it as Elastic's (a float) and parses the same double, and `_source`
    // keeps every digit of numeric(38,10) (float() keeps 17).
    assert_eq!(raw("n_unscaled"), "125.0");
    assert_eq!(raw("n_scaled"), "125.00");
    assert_eq!(raw("n38"), "1234567890123456789012345678.1234567890");
    assert!(d[f("n38")].is_f64());
    // NaN: Elastic's float('nan') is not JSON (Elasticsearch refuses the document); Inlet
    // writes the string, which a float field parses.
    assert_eq!(d[f("n_nan")], "NaN");
    // real: asyncpg widens the float4 to a double; repr of that.
    assert_eq!(raw("f4"), "1.100000023841858");
    assert_eq!(raw("f8"), "2.0");
    assert_eq!(d[f("b")], true);
    assert_eq!(d[f("t")], "héllo");
    // datetime.isoformat(): microseconds as six digits; timestamptz in UTC with +00:00.
    assert_eq!(d[f("ts")], "2024-01-02T03:04:05.500000");
    assert_eq!(d[f("tstz")], "2024-01-02T03:04:05.500000+00:00");
    // asyncpg turns infinity into datetime.max; Inlet keeps PostgreSQL's word.
    assert_eq!(d[f("ts_inf")], "infinity");
    assert_eq!(d[f("d")], "2024-01-02");
    assert_eq!(d[f("tm")], "03:04:05.250000");
    assert_eq!(d[f("ttz")], "03:04:05+02:00");
    // interval: asyncpg's timedelta has no JSON form in Elastic's serializer; PostgreSQL's
    // text.
    assert_eq!(d[f("iv")], "1 year 2 mons 3 days 04:05:06.5");
    assert_eq!(d[f("ip")], "192.168.0.1");
    assert_eq!(d[f("ipnet")], "10.1.2.3/8");
    assert_eq!(d[f("net")], "10.0.0.0/8");
    assert_eq!(d[f("mac")], "08:00:2b:01:02:03");
    // money: asyncpg returns the locale's text ("$1,234.56"); Inlet the amount as a number.
    assert_eq!(raw("cash"), "1234.56");
    assert_eq!(d[f("bits")], "1010 11");
    assert_eq!(d[f("vbits")], "1");
    assert_eq!(d[f("tsv")], "'a' 'cat' 'fat'");
    assert_eq!(d[f("pt")], "(1.0, 2.0)");
    assert_eq!(d[f("bx")], "[(3.0, 4.0), (1.0, 2.0)]");
    assert_eq!(d[f("seg")], "[(1.0, 2.0), (3.0, 4.0)]");
    assert_eq!(d[f("poly")], "[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]");
    assert_eq!(d[f("pth")], "open [(0.0, 0.0), (1.0, 1.0)]");
    assert_eq!(d[f("ln")], "(1.0, -1.0, 0.0)");
    // circle: Elastic writes the repr of asyncpg's tuple (with its class path); Inlet
    // PostgreSQL's shape with Python's float digits.
    assert_eq!(d[f("circ")], "<(1.0, 2.0), 3.0>");
    assert_eq!(d[f("ia")], serde_json::json!([1, null, 3]));
    assert_eq!(d[f("ta")], serde_json::json!(["a", "b c"]));
    assert_eq!(raw_field(&sink, &id, &f("na")), "[1.5");
    assert_eq!(d[f("na")], serde_json::json!([1.5, 2.0]));
    assert!(d[f("na")][1].is_f64(), "numeric elements stay floats");
    assert_eq!(d[f("m2")], serde_json::json!([[1, 2], [3, 4]]));
    assert_eq!(d[f("ea")], serde_json::json!([]));
    assert_eq!(d[f("tsa")], serde_json::json!(["2024-01-02T03:04:05"]));
    // ranges: asyncpg's Range has no JSON form in Elastic's serializer; PostgreSQL's text.
    assert_eq!(d[f("ir")], "[1,10)");
    assert_eq!(d[f("u")], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(d[f("j")], serde_json::json!({"a": 1}));
    // bytea: Elastic decodes the bytes as UTF-8 dropping errors ("\u0000" here, lossy);
    // Inlet writes base64 for every value of a binary column.
    assert_eq!(d[f("by")], "AP8=");
    assert_eq!(d[f("e")], "happy");
    assert_eq!(d[f("x")], "<a/>");
    assert_eq!(d[f("nil")], Json::Null);
    assert_eq!(d["table"], "every_type");
    assert_eq!(d["schema"], s);
    assert_eq!(d["database"], "inlet_test");

    // str(datetime) with a space, microseconds only when set; str(bool) is True/False;
    // repr(float); str(Decimal) keeps the scale and goes scientific below 1e-6; repr(bytes);
    // str(timedelta) of an interval, a month counted as 30 days (pgproto interval_decode).
    let key_id = format!(
        "inlet_test_{s}_keys_2024-01-02 03:04:05_2024-01-02 03:04:05.500000_2024-01-02 03:04:05+00:00_False_2.0_1.5_125.00_1E-7_b\"\\x00\\xff'\"_03:04:05_2024-01-02_a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11_31 days, 2:00:00.500000"
    );
    let k = docs
        .get(&key_id)
        .unwrap_or_else(|| panic!("no {key_id} in {:?}", docs.keys()));
    assert_eq!(k["id"], key_id.as_str());
    assert_eq!(k[format!("{s}_keys_label")], "k");
}

#[test]
fn mysql_every_column_type_as_elastic_writes_it() {
    let (_, my) = servers();
    exec(
        &my.admin_url,
        &[
            "DROP TABLE IF EXISTS docs_every_type",
            "DROP TABLE IF EXISTS docs_keys",
            "CREATE TABLE docs_every_type (
                id INT PRIMARY KEY, ti1 TINYINT(1), bo BOOLEAN, u64 BIGINT UNSIGNED, fl FLOAT,
                db DOUBLE, db2 DOUBLE, dc DECIMAL(12,2), d38 DECIMAL(38,10), tm TIME,
                tneg TIME(6), dt DATETIME(3), ts TIMESTAMP NULL, dd DATE, zd DATE, yr YEAR,
                bin BINARY(4), vb VARBINARY(8), bl BLOB, bt BIT(10), js JSON,
                en ENUM('a','b'), st SET('x','y'), vbin VARCHAR(20) COLLATE utf8mb4_bin,
                g GEOMETRY, u UUID, i6 INET6, nul INT)",
            // A zero date needs a session without NO_ZERO_DATE; one string, one connection.
            "SET SESSION sql_mode = ''; INSERT INTO docs_every_type VALUES (
                1, 2, -1, 18446744073709551615, 3.14159265, 0.1, 2, 125.00,
                1234567890123456789012345678.1234567890, '25:00:00', '-01:00:00.5',
                '2024-01-02 03:04:05.5', '2024-01-02 03:04:05', '2024-01-02', '0000-00-00',
                2024, 'abcd', 0x00ff, 'text', b'1000000001', '{\"a\": 1}', 'b', 'x,y',
                'bin text', ST_GeomFromText('POINT(1 2)'),
                'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '::1', NULL)",
            "CREATE TABLE docs_keys (
                kdt DATETIME, kts TIMESTAMP NOT NULL DEFAULT '2000-01-01 00:00:00',
                kbool BOOLEAN, kfl FLOAT, kdb DOUBLE, kdec DECIMAL(10,7), kbin VARBINARY(4),
                ktime TIME, kdate DATE, label TEXT,
                PRIMARY KEY (kdt, kts, kbool, kfl, kdb, kdec, kbin, ktime, kdate))",
            "INSERT INTO docs_keys VALUES
                ('2024-01-02 03:04:05', '2024-01-02 03:04:05', 0, 2, 1e20, 0.0000001,
                 0x00ff27, '-01:00:00', '2024-01-02', 'negative'),
                ('2024-01-02 03:04:05', '2024-01-02 03:04:05', 1, 3.14159265, 0.1, 1.5,
                 'ab', '25:00:00', '2024-01-02', 'long')",
        ],
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let (docs, sink) = sync_tables(
        tmp.path(),
        "mysql",
        my,
        "      tables: [docs_every_type, docs_keys]\n",
    );
    assert_eq!(docs.len(), 3, "{:?}", docs.keys());

    let id = "docs_every_type_1";
    let d = &docs[id];
    let raw = |c: &str| raw_field(&sink, id, c);
    // The column `id` is replaced by the `_id` string, as Elastic's sink writes it.
    assert_eq!(d["id"], id);
    // TINYINT(1)/BOOLEAN: PyMySQL returns the integer.
    assert_eq!(d["ti1"], 2);
    assert_eq!(d["bo"], -1);
    assert_eq!(raw("u64"), "18446744073709551615");
    // FLOAT through the text protocol: six significant digits, then repr(float).
    assert_eq!(raw("fl"), "3.14159");
    assert_eq!(raw("db"), "0.1");
    assert_eq!(raw("db2"), "2.0");
    // DECIMAL: a float token with the column's digits (Elastic: float(Decimal), 17 digits).
    assert_eq!(raw("dc"), "125.00");
    assert_eq!(raw("d38"), "1234567890123456789012345678.1234567890");
    // TIME is a duration: PyMySQL's timedelta has no JSON form in Elastic's serializer; Inlet
    // writes MySQL's own text, hours past 24 and sign kept.
    assert_eq!(d["tm"], "25:00:00");
    assert_eq!(d["tneg"], "-01:00:00.500000");
    assert_eq!(d["dt"], "2024-01-02T03:04:05.500000");
    // TIMESTAMP: naive, as PyMySQL returns it (the server runs in UTC).
    assert_eq!(d["ts"], "2024-01-02T03:04:05");
    assert_eq!(d["dd"], "2024-01-02");
    // A zero date: PyMySQL leaves the text "0000-00-00"; the host's driver (sqlx) reports it
    // as NULL before any decoding, so Inlet writes null (a documented difference).
    assert_eq!(d["zd"], Json::Null);
    assert_eq!(d["yr"], 2024);
    // Binary columns: base64 for every value, text-looking or not (Elastic decodes bytes as
    // UTF-8 dropping errors, lossy).
    assert_eq!(d["bin"], "YWJjZA==");
    assert_eq!(d["vb"], "AP8=");
    assert_eq!(d["bl"], "dGV4dA==");
    // BIT(n) as its number (Elastic: the bytes decoded as text, "\u0002\u0001" here).
    assert_eq!(d["bt"], 513);
    // MariaDB's JSON is LONGTEXT: PyMySQL returns the text, and so does Inlet.
    assert_eq!(d["js"], "{\"a\": 1}");
    assert_eq!(d["en"], "b");
    assert_eq!(d["st"], "x,y");
    // A text column with a binary collation stays text.
    assert_eq!(d["vbin"], "bin text");
    // Spatial: WKT (Elastic: WKB bytes decoded as text, lossy).
    assert_eq!(d["g"], "POINT(1 2)");
    assert_eq!(d["u"], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(d["i6"], "::1");
    assert_eq!(d["nul"], Json::Null);
    assert_eq!(d["Table"], "docs_every_type");
    assert_eq!(d["database"], "inlet_test");

    // generate_id: str(datetime) with a space; BOOLEAN as 0/1; repr(float) of the text
    // protocol's value; str(Decimal) (1E-7); repr(bytes); str(timedelta).
    let negative = "docs_keys_2024-01-02 03:04:05_2024-01-02 03:04:05_0_2.0_1e+20_1E-7_b\"\\x00\\xff'\"_-1 day, 23:00:00_2024-01-02";
    let long = "docs_keys_2024-01-02 03:04:05_2024-01-02 03:04:05_1_3.14159_0.1_1.5000000_b'ab'_1 day, 1:00:00_2024-01-02";
    for (key, label) in [(negative, "negative"), (long, "long")] {
        let k = docs
            .get(key)
            .unwrap_or_else(|| panic!("no {key} in {:?}", docs.keys()));
        assert_eq!(k["label"], label);
        assert_eq!(k["id"], key);
    }
}
