//! The SQL broker and the `postgresql` and `mysql` connectors end to end, against real
//! PostgreSQL and MariaDB servers (tests/databases/start; scripts/test starts them and exports
//! INLET_TEST_POSTGRES / INLET_TEST_MYSQL / INLET_TEST_DB_CA): fixtures of 10k rows of mixed
//! types, full and incremental syncs, stale deletion, advanced rules, grants and read-only
//! refusals; a hostile plugin (tests/plugins/test-sql-hostile) trying to write through a
//! read-only grant and to make the host buffer rows it never reads; TLS to both servers (their
//! certificate is signed by a private CA the start script makes).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

use crate::support::*;
use serde_json::Value as Json;

const ROWS: i64 = 10_000;

/// A test server: the URL without the password (as config.yml wants it), user and password.
struct Server {
    url: String,
    user: String,
    password: String,
    /// The full URL, for the fixture loader.
    admin_url: String,
}

/// `key`'s value from the environment (scripts/test exports them), else from what
/// tests/databases/start prints; it starts the servers once and reuses running ones.
fn test_setting(key: &str) -> String {
    if let Ok(v) = std::env::var(key) {
        return v;
    }
    static START: OnceLock<String> = OnceLock::new();
    let text = START.get_or_init(|| {
        let out = Command::new(root().join("tests/databases/start"))
            .output()
            .expect("run tests/databases/start");
        assert!(
            out.status.success(),
            "tests/databases/start failed (PostgreSQL, MariaDB and openssl must be installed: scripts/setup):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("tests/databases/start printed no {key}"))
        .to_owned()
}

fn servers() -> &'static (Server, Server) {
    static S: OnceLock<(Server, Server)> = OnceLock::new();
    S.get_or_init(|| {
        (
            split(&test_setting("INLET_TEST_POSTGRES")),
            split(&test_setting("INLET_TEST_MYSQL")),
        )
    })
}

fn split(full: &str) -> Server {
    let (scheme, rest) = full.split_once("://").expect("scheme");
    let (userinfo, host) = rest
        .split_once('@')
        .expect("user and password in the test URL");
    let (user, password) = userinfo.split_once(':').expect("password in the test URL");
    Server {
        url: format!("{scheme}://{host}"),
        user: user.to_owned(),
        password: password.to_owned(),
        admin_url: full.to_owned(),
    }
}

/// Runs statements on a server with the test user (fixtures and changes between syncs).
fn exec(url: &str, statements: &[String]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(url)
                .await
                .expect("connect to PostgreSQL");
            for s in statements {
                sqlx::raw_sql(s)
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        } else {
            let pool = sqlx::MySqlPool::connect(url)
                .await
                .expect("connect to MariaDB");
            for s in statements {
                sqlx::raw_sql(s)
                    .execute(&pool)
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
        }
    });
}

fn pg_fixture(schema: &str) -> Vec<String> {
    vec![
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        format!("CREATE SCHEMA {schema}"),
        format!(
            "CREATE TABLE {schema}.items (
                id integer PRIMARY KEY, big bigint, price numeric(12,2), ratio double precision,
                active boolean, title text, code varchar(20), created timestamp, day date,
                meta jsonb, raw bytea, note text, updated_at timestamptz NOT NULL)"
        ),
        format!(
            "INSERT INTO {schema}.items
             SELECT g, g::bigint * 1000000000, (g % 1000) + 0.25, g / 8.0, g % 2 = 0,
                    'title ' || g, 'c' || (g % 97), timestamp '2024-01-01 00:00:00' + g * interval '1 minute',
                    date '2024-01-01' + (g % 365), jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'b')),
                    decode(lpad(to_hex(g), 8, '0'), 'hex'), CASE WHEN g % 10 = 0 THEN NULL ELSE 'note' END,
                    timestamptz '2024-06-01 00:00:00+00'
             FROM generate_series(1, {ROWS}) g"
        ),
        // A table with a composite key, to check ids and `*` discovery.
        format!("CREATE TABLE {schema}.tags (a int, b text, label text, PRIMARY KEY (a, b))"),
        format!("INSERT INTO {schema}.tags VALUES (1, 'x', 'one-x'), (2, 'y', 'two-y')"),
    ]
}

fn my_fixture(table: &str) -> Vec<String> {
    vec![
        format!("DROP TABLE IF EXISTS {table}"),
        format!(
            "CREATE TABLE {table} (
                id INT PRIMARY KEY, big BIGINT, price DECIMAL(12,2), ratio DOUBLE, active BOOLEAN,
                title TEXT, code VARCHAR(20), created DATETIME, day DATE, meta JSON, raw BLOB,
                note TEXT, updated_at DATETIME(3) NOT NULL)"
        ),
        // MariaDB caps recursive CTEs at 1000 iterations unless the session raises it; one string
        // so both run on the same connection.
        format!(
            "SET SESSION max_recursive_iterations = 1000000; INSERT INTO {table}
             WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {ROWS})
             SELECT n, n * 1000000000, (n % 1000) + 0.25, n / 8.0, n % 2 = 0, CONCAT('title ', n),
                    CONCAT('c', n % 97), TIMESTAMP '2024-01-01 00:00:00' + INTERVAL n MINUTE,
                    DATE '2024-01-01' + INTERVAL (n % 365) DAY, JSON_OBJECT('n', n),
                    UNHEX(LPAD(HEX(n), 8, '0')), IF(n % 10 = 0, NULL, 'note'),
                    TIMESTAMP '2024-06-01 00:00:00'
             FROM g"
        ),
    ]
}

/// Writes the password to a file (config.yml reads it from there) and returns the YAML of one
/// `databases:` entry.
fn database_entry(tmp: &Path, name: &str, server: &Server, extra: &str) -> String {
    let secret = tmp.join(format!("{name}.password"));
    std::fs::write(&secret, format!("{}\n", server.password)).expect("write secret");
    format!(
        "  {name}:\n    url: {}\n    username: {}\n    password: {{file: {}}}\n{extra}",
        server.url,
        server.user,
        secret.display()
    )
}

struct Run {
    out: Output,
    report: Json,
    secs: f64,
}

fn sync(config: &Path, connector: &str, kind: &str) -> Run {
    let started = Instant::now();
    let out = inlet(&[
        "sync",
        connector,
        "--type",
        kind,
        "--json",
        "--config",
        config.to_str().expect("utf8"),
    ]);
    let secs = started.elapsed().as_secs_f64();
    let report = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
    Run { out, report, secs }
}

/// Prints the sync's rate (`--nocapture` shows it): the sync itself, and the whole command.
fn report_rate(what: &str, run: &Run, rows: i64) {
    let ms = run.report["elapsed_ms"]
        .as_f64()
        .unwrap_or(f64::NAN)
        .max(1.0);
    eprintln!(
        "{what} full sync: {rows} rows in {ms:.0} ms = {:.0} rows/s, peak plugin memory {} bytes ({:.2}s and {:.0} rows/s for the whole `inlet sync` command)",
        rows as f64 * 1000.0 / ms,
        run.report["peak_memory_bytes"],
        run.secs,
        rows as f64 / run.secs
    );
}

fn assert_completed(run: &Run, what: &str) {
    assert!(
        run.out.status.success() && run.report["status"] == "completed",
        "{what} failed: {}\n{}",
        stdout(&run.out),
        stderr(&run.out)
    );
}

fn assert_no_password(runs: &[&Run], password: &str) {
    for r in runs {
        assert!(
            !stdout(&r.out).contains(password) && !stderr(&r.out).contains(password),
            "the database password appeared in inlet's output"
        );
    }
}

fn setup(tmp: &Path, plugin: &str, databases: &str, connector: &str) -> PathBuf {
    plugin_dir(tmp, &[plugin]);
    write_config(
        tmp,
        &format!("databases:\n{databases}connectors:\n{connector}"),
    )
}

#[test]
fn postgres_full_incremental_stale_deletion_and_types() {
    let (pg, _) = servers();
    let schema = "inlet_e2e_full";
    exec(&pg.admin_url, &pg_fixture(schema));
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = setup(
        tmp.path(),
        "postgresql",
        &database_entry(tmp.path(), "postgresql", pg, ""),
        &format!(
            "  - connector_id: pg\n    service_type: postgresql\n    configuration:\n      schema: {schema}\n      tables: ['*']\n      fetch_size: 500\n    grants:\n      databases: [postgresql]\n"
        ),
    );
    let sink = tmp.path().join("data/sink/search-pg.ndjson");

    let full = sync(&config, "pg", "full");
    assert_completed(&full, "full sync");
    assert_eq!(
        full.report["stats"]["extracted"],
        ROWS + 2,
        "{}",
        full.report
    );
    report_rate("postgresql", &full, ROWS + 2);
    let docs = replay(&sink);
    assert_eq!(docs.len() as i64, ROWS + 2);
    let p = |c: &str| format!("{schema}_items_{c}");
    let d = &docs[&format!("inlet_test_{schema}_items_8")];
    assert_eq!(d[p("id")], 8);
    assert_eq!(d[p("big")], 8_000_000_000_i64);
    assert_eq!(d[p("price")].as_f64(), Some(8.25), "{d}");
    assert_eq!(d[p("ratio")], 1.0);
    assert_eq!(d[p("active")], true);
    assert_eq!(d[p("title")], "title 8");
    assert_eq!(d[p("code")], "c8");
    assert_eq!(d[p("created")], "2024-01-01T00:08:00");
    assert_eq!(d[p("day")], "2024-01-09");
    assert_eq!(d[p("meta")]["n"], 8);
    assert_eq!(d[p("meta")]["tags"][1], "b");
    assert_eq!(d[p("raw")], "AAAACA==");
    assert_eq!(d[p("note")], "note");
    assert_eq!(d["table"], "items");
    assert_eq!(d["database"], "inlet_test");
    assert_eq!(d["schema"], schema);
    assert!(
        d["_timestamp"]
            .as_str()
            .is_some_and(|t| t.starts_with("2024-06-01T00:00:00")),
        "{d}"
    );
    assert_eq!(
        docs[&format!("inlet_test_{schema}_items_10")][p("note")],
        Json::Null
    );
    assert!(
        docs.contains_key(&format!("inlet_test_{schema}_tags_1_x")),
        "composite key id"
    );

    // An UPDATE is seen by the next incremental sync, and only it.
    exec(
        &pg.admin_url,
        &[format!(
            "UPDATE {schema}.items SET title = 'changed', updated_at = timestamptz '2024-07-01 00:00:00+00' WHERE id = 42"
        )],
    );
    let inc = sync(&config, "pg", "incremental");
    assert_completed(&inc, "incremental sync");
    // The tags table has no updated_at column: it is read again whole (2 rows).
    assert_eq!(inc.report["stats"]["extracted"], 3, "{}", inc.report);
    assert_eq!(
        replay(&sink)[&format!("inlet_test_{schema}_items_42")][p("title")],
        "changed"
    );

    // A DELETE is removed by the next full sync (stale deletion).
    exec(
        &pg.admin_url,
        &[format!("DELETE FROM {schema}.items WHERE id = 7")],
    );
    let again = sync(&config, "pg", "full");
    assert_completed(&again, "second full sync");
    assert_eq!(
        again.report["stats"]["stale_deleted"], 1,
        "{}",
        again.report
    );
    let docs = replay(&sink);
    assert!(!docs.contains_key(&format!("inlet_test_{schema}_items_7")));
    assert_eq!(docs.len() as i64, ROWS + 1);
    assert_no_password(&[&full, &inc, &again], &pg.password);
}

#[test]
fn postgres_advanced_rule_query_and_rule_validation() {
    let (pg, _) = servers();
    let schema = "inlet_e2e_rules";
    exec(&pg.admin_url, &pg_fixture(schema));
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = setup(
        tmp.path(),
        "postgresql",
        &database_entry(tmp.path(), "postgresql", pg, ""),
        &format!(
            "  - connector_id: pg\n    service_type: postgresql\n    configuration:\n      schema: {schema}\n    grants:\n      databases: [postgresql]\n    sync_rules:\n      advanced:\n        - tables: [items]\n          query: \"SELECT id, title FROM {schema}.items WHERE id <= 25\"\n          id_columns: [id]\n"
        ),
    );
    let run = sync(&config, "pg", "full");
    assert_completed(&run, "advanced-rule sync");
    assert_eq!(run.report["stats"]["extracted"], 25, "{}", run.report);
    let docs = replay(&tmp.path().join("data/sink/search-pg.ndjson"));
    let d = &docs[&format!("inlet_test_{schema}_items_25")];
    assert_eq!(d[format!("{schema}_items_title")], "title 25");
    assert!(
        d.get(format!("{schema}_items_price")).is_none(),
        "only the query's columns"
    );

    // A rule of the wrong shape is refused before any query.
    let bad = setup(
        tmp.path(),
        "postgresql",
        &database_entry(tmp.path(), "postgresql", pg, ""),
        "  - connector_id: pg\n    service_type: postgresql\n    grants:\n      databases: [postgresql]\n    sync_rules:\n      advanced:\n        - tables: []\n          query: SELECT 1\n",
    );
    let run = sync(&bad, "pg", "full");
    assert!(!run.out.status.success());
    let err = run.report["error"].as_str().unwrap_or_default();
    assert!(err.contains("tables"), "{}", run.report);
}

#[test]
fn mysql_full_sync_types_incremental_and_advanced_rule() {
    let (_, my) = servers();
    let table = "inlet_e2e_items";
    exec(&my.admin_url, &my_fixture(table));
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = setup(
        tmp.path(),
        "mysql",
        &database_entry(tmp.path(), "mysql", my, ""),
        &format!(
            "  - connector_id: my\n    service_type: mysql\n    configuration:\n      tables: [{table}]\n    grants:\n      databases: [mysql]\n  - connector_id: myrule\n    service_type: mysql\n    grants:\n      databases: [mysql]\n    sync_rules:\n      advanced:\n        - tables: [{table}]\n          query: \"SELECT id, title, price FROM {table} WHERE active AND id <= 100\"\n          id_columns: [id]\n"
        ),
    );
    let sink = tmp.path().join("data/sink/search-my.ndjson");
    let full = sync(&config, "my", "full");
    assert_completed(&full, "full sync");
    assert_eq!(full.report["stats"]["extracted"], ROWS, "{}", full.report);
    report_rate("mysql", &full, ROWS);
    let docs = replay(&sink);
    assert_eq!(docs.len() as i64, ROWS);
    let d = &docs[&format!("{table}_8")];
    // Elastic's sink writes the `_id` string into `id`, over the column of that name.
    assert_eq!(d["id"], format!("{table}_8"));
    assert_eq!(d["big"], 8_000_000_000_i64);
    assert_eq!(d["price"].as_f64(), Some(8.25), "{d}");
    assert_eq!(d["ratio"], 1.0);
    // BOOLEAN is TINYINT(1): the integer, as PyMySQL returns it to Elastic's connector.
    assert_eq!(d["active"], 1);
    assert_eq!(d["title"], "title 8");
    assert_eq!(d["created"], "2024-01-01T00:08:00");
    assert_eq!(d["day"], "2024-01-09");
    assert_eq!(d["raw"], "AAAACA==");
    assert_eq!(d["Table"], table);
    assert_eq!(d["database"], "inlet_test");
    // MariaDB's JSON is an alias of LONGTEXT: the document keeps the text.
    assert!(d["meta"].to_string().contains('8'), "{d}");
    assert_eq!(docs[&format!("{table}_10")]["note"], Json::Null);

    exec(
        &my.admin_url,
        &[format!(
            "UPDATE {table} SET title = 'changed', updated_at = '2024-07-01 00:00:00' WHERE id = 42"
        )],
    );
    let inc = sync(&config, "my", "incremental");
    assert_completed(&inc, "incremental sync");
    assert_eq!(inc.report["stats"]["extracted"], 1, "{}", inc.report);
    assert_eq!(replay(&sink)[&format!("{table}_42")]["title"], "changed");

    exec(
        &my.admin_url,
        &[format!("DELETE FROM {table} WHERE id = 7")],
    );
    let again = sync(&config, "my", "full");
    assert_completed(&again, "second full sync");
    assert_eq!(
        again.report["stats"]["stale_deleted"], 1,
        "{}",
        again.report
    );

    let rule = sync(&config, "myrule", "full");
    assert_completed(&rule, "advanced-rule sync");
    assert_eq!(rule.report["stats"]["extracted"], 50, "{}", rule.report);
    assert_no_password(&[&full, &inc, &again, &rule], &my.password);
}

#[test]
fn a_connector_without_the_grant_is_refused_naming_it() {
    let (pg, _) = servers();
    let tmp = tempfile::tempdir().expect("tempdir");
    // Defined, but not granted to this connector.
    let config = setup(
        tmp.path(),
        "postgresql",
        &database_entry(tmp.path(), "postgresql", pg, ""),
        "  - connector_id: pg\n    service_type: postgresql\n",
    );
    let run = sync(&config, "pg", "full");
    assert!(
        !run.out.status.success(),
        "a sync without the grant must fail"
    );
    let err = run.report["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("connectors[0].grants.databases"),
        "{}",
        run.report
    );
    assert!(
        stderr(&run.out).contains("WARN"),
        "a refusal is logged: {}",
        stderr(&run.out)
    );

    // Granted, but the plugin does not declare it (its manifest says `sql = ["postgresql"]`).
    let config = setup(
        tmp.path(),
        "postgresql",
        &database_entry(tmp.path(), "other", pg, ""),
        "  - connector_id: pg\n    service_type: postgresql\n    configuration:\n      connection: other\n    grants:\n      databases: [other]\n",
    );
    let run = sync(&config, "pg", "full");
    assert!(!run.out.status.success());
    let err = run.report["error"].as_str().unwrap_or_default();
    assert!(err.contains("sql = [\"other\"]"), "{}", run.report);
    assert_no_password(&[&run], &pg.password);
}

#[test]
fn writes_are_refused_on_a_read_only_grant() {
    let (pg, my) = servers();
    let schema = "inlet_e2e_ro";
    exec(&pg.admin_url, &pg_fixture(schema));
    exec(&my.admin_url, &my_fixture("inlet_e2e_ro"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let rule = |q: &str| {
        format!(
            "    sync_rules:\n      advanced:\n        - tables: [items]\n          query: \"{q}\"\n          id_columns: [id]\n"
        )
    };
    let dbs = format!(
        "{}{}",
        database_entry(tmp.path(), "postgresql", pg, ""),
        database_entry(tmp.path(), "mysql", my, "")
    );
    let connectors = format!(
        "  - connector_id: del\n    service_type: postgresql\n    grants:\n      databases: [postgresql]\n{}  - connector_id: cte\n    service_type: postgresql\n    grants:\n      databases: [postgresql]\n{}  - connector_id: two\n    service_type: postgresql\n    grants:\n      databases: [postgresql]\n{}",
        rule(&format!("DELETE FROM {schema}.items RETURNING id")),
        rule(&format!(
            "WITH d AS (DELETE FROM {schema}.items RETURNING id) SELECT id FROM d"
        )),
        rule(&format!(
            "SELECT id FROM {schema}.items; DELETE FROM {schema}.items"
        )),
    );
    plugin_dir(tmp.path(), &["postgresql", "mysql"]);
    let config = write_config(
        tmp.path(),
        &format!(
            "databases:\n{dbs}connectors:\n{connectors}  - connector_id: myupd\n    service_type: mysql\n    grants:\n      databases: [mysql]\n    sync_rules:\n      advanced:\n        - tables: [inlet_e2e_ro]\n          query: \"UPDATE inlet_e2e_ro SET title = 'x'\"\n          id_columns: [id]\n"
        ),
    );

    for (connector, expect) in [
        ("del", "read-only"),
        // The lexical check refuses the writable CTE by name now; the read-only transaction
        // behind it is tested with server-side functions below.
        ("cte", "`DELETE` writes"),
        ("two", "one statement"),
        ("myupd", "read-only"),
    ] {
        let run = sync(&config, connector, "full");
        assert!(!run.out.status.success(), "{connector}: a write must fail");
        let err = run.report["error"].as_str().unwrap_or_default();
        assert!(err.contains(expect), "{connector}: {}", run.report);
        assert_no_password(&[&run], &pg.password);
    }
    // Nothing was deleted.
    let check = |url: &str, q: &str| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            if url.starts_with("postgres") {
                let pool = sqlx::PgPool::connect(url).await.expect("connect");
                sqlx::query_scalar::<_, i64>(q)
                    .fetch_one(&pool)
                    .await
                    .expect("count")
            } else {
                let pool = sqlx::MySqlPool::connect(url).await.expect("connect");
                sqlx::query_scalar::<_, i64>(q)
                    .fetch_one(&pool)
                    .await
                    .expect("count")
            }
        })
    };
    assert_eq!(
        check(
            &pg.admin_url,
            &format!("SELECT count(*) FROM {schema}.items")
        ),
        ROWS
    );
    assert_eq!(
        check(
            &my.admin_url,
            "SELECT count(*) FROM inlet_e2e_ro WHERE title = 'x'"
        ),
        0
    );
}

#[test]
fn query_limits_stop_slow_and_oversized_queries() {
    let (pg, _) = servers();
    let tmp = tempfile::tempdir().expect("tempdir");
    let limits = "    query_timeout_secs: 1\n    max_rows: 5\n";
    let rule = |q: &str| {
        format!(
            "    sync_rules:\n      advanced:\n        - tables: [t]\n          query: \"{q}\"\n          id_columns: [id]\n"
        )
    };
    let config = setup(
        tmp.path(),
        "postgresql",
        &database_entry(tmp.path(), "postgresql", pg, limits),
        &format!(
            "  - connector_id: slow\n    service_type: postgresql\n    grants:\n      databases: [postgresql]\n{}  - connector_id: big\n    service_type: postgresql\n    grants:\n      databases: [postgresql]\n{}",
            rule("SELECT 1 AS id, pg_sleep(3)"),
            rule("SELECT g AS id FROM generate_series(1, 100) g"),
        ),
    );
    for (connector, expect) in [("slow", "query_timeout_secs"), ("big", "max_rows")] {
        let started = Instant::now();
        let run = sync(&config, connector, "full");
        assert!(!run.out.status.success(), "{connector} must fail");
        let err = run.report["error"].as_str().unwrap_or_default();
        assert!(err.contains(expect), "{connector}: {}", run.report);
        assert!(
            started.elapsed().as_secs() < 30,
            "{connector} took too long"
        );
    }
}

/// One integer from the server (counts after a hostile run).
fn scalar(url: &str, q: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(url).await.expect("connect");
            sqlx::query_scalar::<_, i64>(q)
                .fetch_one(&pool)
                .await
                .expect(q)
        } else {
            let pool = sqlx::MySqlPool::connect(url).await.expect("connect");
            sqlx::query_scalar::<_, i64>(q)
                .fetch_one(&pool)
                .await
                .expect(q)
        }
    })
}

/// A config running the hostile plugin with `script` (a JSON list of steps) against `pg` and
/// `my`, each with one pooled connection, so every step meets the session the step before it
/// left behind.
fn hostile_config(tmp: &Path, script: &Json, connector_extra: &str) -> PathBuf {
    let (pg, my) = servers();
    let one = "    max_connections: 1\n";
    let dbs = format!(
        "{}{}",
        database_entry(tmp, "pg", pg, one),
        database_entry(tmp, "my", my, one)
    );
    // A JSON string literal is a valid YAML double-quoted scalar.
    let script = serde_json::to_string(&script.to_string()).expect("JSON");
    setup(
        tmp,
        "sql_hostile",
        &dbs,
        &format!(
            "  - connector_id: h\n    service_type: sql-hostile\n    grants:\n      databases: [pg, my]\n{connector_extra}    configuration:\n      script: {script}\n"
        ),
    )
}

/// What the hostile plugin reported per step.
fn steps(tmp: &Path) -> std::collections::BTreeMap<String, Json> {
    replay(&tmp.join("data/sink/search-h.ndjson"))
}

fn assert_refused(step: &Json, words: &[&str]) {
    let err = step["error"].as_str().unwrap_or_default();
    assert_eq!(step["ok"], false, "{step}");
    for w in words {
        assert!(err.contains(w), "expected {w:?} in {step}");
    }
}

#[test]
fn a_hostile_plugin_cannot_write_through_a_read_only_postgres_grant() {
    let (pg, _) = servers();
    let s = "inlet_e2e_hostile";
    exec(
        &pg.admin_url,
        &[
            format!("DROP SCHEMA IF EXISTS {s} CASCADE"),
            format!("CREATE SCHEMA {s}"),
            format!("CREATE TABLE {s}.t (id int PRIMARY KEY)"),
            format!("INSERT INTO {s}.t SELECT generate_series(1, 1000)"),
            // Functions a database may well have: they change the session, or write. The
            // lexical check cannot see into them; the read-only transaction must hold.
            format!(
                "CREATE FUNCTION {s}.loosen() RETURNS text LANGUAGE sql AS $$ SELECT set_config('default_transaction_read_only', 'off', false) $$"
            ),
            format!(
                "CREATE FUNCTION {s}.become(r text) RETURNS text LANGUAGE sql AS $$ SELECT set_config('role', r, false) $$"
            ),
            format!(
                "CREATE FUNCTION {s}.purge() RETURNS bigint LANGUAGE sql AS $$ WITH d AS (DELETE FROM {s}.t RETURNING 1) SELECT count(*) FROM d $$"
            ),
        ],
    );
    let q = |id: &str, sql: String| serde_json::json!({"id": id, "op": "query", "db": "pg", "sql": sql});
    let script = Json::Array(vec![
        // Issue 12's statements, exactly.
        q(
            "set_config",
            "SELECT set_config('default_transaction_read_only','off',false)".into(),
        ),
        q(
            "cte_delete",
            format!("WITH d AS (DELETE FROM {s}.t RETURNING id) SELECT id FROM d"),
        ),
        q(
            "set_role",
            "SELECT set_config('role', current_user, false)".into(),
        ),
        // The same through functions the check lets pass.
        q("loosen", format!("SELECT {s}.loosen()")),
        q("become", format!("SELECT {s}.become(current_user)")),
        q("purge", format!("SELECT {s}.purge()")),
        q(
            "after",
            "SELECT current_setting('role'), current_setting('default_transaction_read_only')"
                .into(),
        ),
    ]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = hostile_config(tmp.path(), &script, "");
    let run = sync(&config, "h", "full");
    assert_completed(&run, "hostile sync");
    let st = steps(tmp.path());
    assert_refused(
        &st["set_config"],
        &["set_config", "read-only database grant"],
    );
    assert_refused(&st["cte_delete"], &["DELETE", "read-only database grant"]);
    assert_refused(&st["set_role"], &["set_config"]);
    // The functions ran, inside a transaction that was rolled back...
    assert_eq!(st["loosen"]["rows"][0][0], "off", "{}", st["loosen"]);
    assert_eq!(st["become"]["ok"], true, "{}", st["become"]);
    // ...so the write after them still met a read-only transaction,
    assert_refused(&st["purge"], &["read-only transaction"]);
    // the next statement on the same pooled session saw neither change,
    assert_eq!(
        st["after"]["rows"][0],
        serde_json::json!(["none", "on"]),
        "{}",
        st["after"]
    );
    // and every row is still there (before: all 1000 deleted).
    assert_eq!(
        scalar(&pg.admin_url, &format!("SELECT count(*) FROM {s}.t")),
        1000
    );
    assert_no_password(&[&run], &pg.password);
}

#[test]
fn a_hostile_plugin_cannot_write_through_a_read_only_mariadb_grant() {
    let (_, my) = servers();
    let t = "inlet_e2e_hostile";
    exec(
        &my.admin_url,
        &[
            format!("DROP TABLE IF EXISTS {t}"),
            format!("DROP FUNCTION IF EXISTS {t}_loosen"),
            format!("DROP FUNCTION IF EXISTS {t}_purge"),
            format!("CREATE TABLE {t} (id INT PRIMARY KEY)"),
            format!("INSERT INTO {t} SELECT seq FROM seq_1_to_1000"),
            format!(
                "CREATE FUNCTION {t}_loosen() RETURNS INT BEGIN SET SESSION tx_read_only = 0; RETURN @@SESSION.tx_read_only; END"
            ),
            format!(
                "CREATE FUNCTION {t}_purge() RETURNS INT MODIFIES SQL DATA BEGIN DELETE FROM {t}; RETURN ROW_COUNT(); END"
            ),
        ],
    );
    let q = |id: &str, sql: String| serde_json::json!({"id": id, "op": "query", "db": "my", "sql": sql});
    let script = Json::Array(vec![
        // Issue 12's statements, exactly: MySQL's lexer reads the executable comments as code.
        q("outfile", "SELECT 1 /*!INTO OUTFILE '/tmp/x'*/".into()),
        q(
            "set_session",
            "/*!SET SESSION tx_read_only = 0, @x = */ (SELECT 1)".into(),
        ),
        q(
            "delete",
            format!("/*!DELETE FROM {t} WHERE 1 <> */ (SELECT 0)"),
        ),
        // `--1` is two minus signs, not a comment; `"\""` is a string holding a quote.
        q("dashes", "SELECT 1 --1, 2 INTO @y, @z".into()),
        q("quote", "SELECT \"\\\"\" INTO @x -- \"".into()),
        // A function that flips the session to read-write, then one that writes.
        q("loosen", format!("SELECT {t}_loosen()")),
        q("purge", format!("SELECT {t}_purge()")),
        q("after", "SELECT @@SESSION.tx_read_only, @x, @y".into()),
    ]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = hostile_config(tmp.path(), &script, "");
    let run = sync(&config, "h", "full");
    assert_completed(&run, "hostile sync");
    let st = steps(tmp.path());
    assert_refused(&st["outfile"], &["INTO", "read-only database grant"]);
    assert_refused(&st["set_session"], &["`SET` statements"]);
    assert_refused(&st["delete"], &["`DELETE` statements"]);
    assert_refused(&st["dashes"], &["INTO"]);
    assert_refused(&st["quote"], &["INTO"]);
    assert_eq!(st["loosen"]["rows"][0][0], 0, "{}", st["loosen"]);
    assert_refused(&st["purge"], &["READ ONLY transaction"]);
    assert_eq!(
        st["after"]["rows"][0],
        serde_json::json!([1, null, null]),
        "{}",
        st["after"]
    );
    assert_eq!(
        scalar(&my.admin_url, &format!("SELECT count(*) FROM {t}")),
        1000
    );
    assert_no_password(&[&run], &my.password);
}

/// Runs `inlet sync` and samples its peak resident memory (VmHWM) until it exits.
fn sync_with_peak_rss(config: &Path, connector: &str) -> (Run, u64) {
    let dir = config.parent().expect("config dir");
    let out = std::fs::File::create(dir.join("stdout")).expect("stdout file");
    let err = std::fs::File::create(dir.join("stderr")).expect("stderr file");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_inlet"))
        .args(["sync", connector, "--json", "--config"])
        .arg(config)
        .env("RUST_LOG", "info,wasmtime=warn,cranelift=warn")
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("run inlet");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let stdout = std::fs::read(dir.join("stdout")).expect("stdout");
    let stderr = std::fs::read(dir.join("stderr")).expect("stderr");
    let report = serde_json::from_slice(&stdout).unwrap_or(Json::Null);
    let run = Run {
        out: Output {
            status,
            stdout,
            stderr,
        },
        report,
        secs: started.elapsed().as_secs_f64(),
    };
    (run, peak_kib * 1024)
}

#[test]
fn an_unread_stream_of_large_rows_keeps_host_memory_bounded() {
    // 2000 rows of 1.4 MB (2.8 GB) that the plugin starts and does not read for 6 seconds.
    // Before rows were buffered by bytes, the host held 1024+ of them: about 1.8 GB of RSS.
    let hold = serde_json::json!([{
        "id": "hold", "op": "hold", "db": "pg", "ms": 6000, "read": 3,
        "sql": "SELECT repeat('x', 1400000) FROM generate_series(1, 2000)",
    }]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = hostile_config(tmp.path(), &hold, "");
    let (run, peak) = sync_with_peak_rss(&config, "h");
    assert_completed(&run, "sync holding a stream");
    let st = steps(tmp.path());
    assert_eq!(st["hold"]["rows_read"], 3, "{}", st["hold"]);
    eprintln!(
        "peak RSS of `inlet sync` with an unread stream of 1.4 MB rows: {} MiB",
        peak >> 20
    );
    // The stream keeps at most 4 MiB (plus the row being read); the process, runtime and
    // compiled plugin take the rest.
    assert!(peak < 200 << 20, "peak RSS {} MiB", peak >> 20);

    // With a host budget smaller than the stream's buffer, the budget stops it first and the
    // sync fails naming the key to raise.
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = hostile_config(tmp.path(), &hold, "    limits:\n      host_memory_mib: 2\n");
    let (run, peak) = sync_with_peak_rss(&config, "h");
    assert!(!run.out.status.success(), "{}", run.report);
    let err = run.report["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("SQL rows waiting to be read") && err.contains("limits.host_memory_mib"),
        "{}",
        run.report
    );
    assert!(peak < 200 << 20, "peak RSS {} MiB", peak >> 20);
}

// ---------- TLS ----------

/// The private CA that signed both test servers' certificate (for 127.0.0.1 and localhost).
fn test_ca() -> PathBuf {
    let ca = PathBuf::from(test_setting("INLET_TEST_DB_CA"));
    assert!(ca.is_file(), "{} is missing", ca.display());
    ca
}

/// `tls:` lines of a `databases:` entry.
fn tls_block(mode: &str, ca: Option<&Path>) -> String {
    let ca = ca
        .map(|p| format!("      ca_file: {}\n", p.display()))
        .unwrap_or_default();
    format!("    tls:\n      mode: {mode}\n{ca}")
}

/// A small table on both servers (3 rows), for syncs whose point is the connection.
fn tls_fixtures(schema_or_table: &str) {
    let (pg, my) = servers();
    let t = schema_or_table;
    exec(
        &pg.admin_url,
        &[
            format!("DROP SCHEMA IF EXISTS {t} CASCADE"),
            format!("CREATE SCHEMA {t}"),
            format!(
                "CREATE TABLE {t}.items (id int PRIMARY KEY, title text, updated_at timestamptz NOT NULL DEFAULT now())"
            ),
            format!(
                "INSERT INTO {t}.items (id, title) VALUES (1, 'one'), (2, 'two'), (3, 'three')"
            ),
        ],
    );
    exec(
        &my.admin_url,
        &[
            format!("DROP TABLE IF EXISTS {t}"),
            format!(
                "CREATE TABLE {t} (id INT PRIMARY KEY, title TEXT, updated_at DATETIME(3) NOT NULL DEFAULT NOW(3))"
            ),
            format!("INSERT INTO {t} (id, title) VALUES (1, 'one'), (2, 'two'), (3, 'three')"),
        ],
    );
}

/// The `postgresql` (`pg`) and `mysql` (`my`) connectors on the fixture, with `configuration`
/// lines added to both.
fn tls_connectors(t: &str, configuration: &str) -> String {
    format!(
        "  - connector_id: pg\n    service_type: postgresql\n    configuration:\n      schema: {t}\n{configuration}    grants:\n      databases: [postgresql]\n  - connector_id: my\n    service_type: mysql\n    configuration:\n      tables: [{t}]\n{configuration}    grants:\n      databases: [mysql]\n"
    )
}

/// A config with the `postgresql` and `mysql` connectors, each database entry given `pg_extra` /
/// `my_extra` lines.
fn tls_config(tmp: &Path, t: &str, pg_extra: &str, my_extra: &str, configuration: &str) -> PathBuf {
    let (pg, my) = servers();
    plugin_dir(tmp, &["postgresql", "mysql"]);
    write_config(
        tmp,
        &format!(
            "databases:\n{}{}connectors:\n{}",
            database_entry(tmp, "postgresql", pg, pg_extra),
            database_entry(tmp, "mysql", my, my_extra),
            tls_connectors(t, configuration)
        ),
    )
}

/// The statements that ask each server whether this very session is encrypted.
fn session_tls_script() -> Json {
    serde_json::json!([
        {"id": "pg", "op": "query", "db": "pg",
         "sql": "SELECT ssl, coalesce(version, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()"},
        {"id": "my", "op": "query", "db": "my",
         "sql": "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'SSL_CIPHER'"},
    ])
}

/// Runs the hostile plugin's session check with `pg_extra`/`my_extra` on the database entries
/// and `configuration` lines on its connector; returns (PostgreSQL's `ssl` and protocol version,
/// MariaDB's cipher) as the servers saw the broker's own sessions.
fn session_tls(pg_extra: &str, my_extra: &str, configuration: &str) -> (Json, Json) {
    let (pg, my) = servers();
    let tmp = tempfile::tempdir().expect("tempdir");
    let script = serde_json::to_string(&session_tls_script().to_string()).expect("JSON");
    plugin_dir(tmp.path(), &["sql_hostile"]);
    let config = write_config(
        tmp.path(),
        &format!(
            "databases:\n{}{}connectors:\n  - connector_id: h\n    service_type: sql-hostile\n    grants:\n      databases: [pg, my]\n    configuration:\n      script: {script}\n{configuration}",
            database_entry(tmp.path(), "pg", pg, pg_extra),
            database_entry(tmp.path(), "my", my, my_extra),
        ),
    );
    let run = sync(&config, "h", "full");
    assert_completed(&run, "session check");
    let st = steps(tmp.path());
    for id in ["pg", "my"] {
        assert_eq!(st[id]["ok"], true, "{}", st[id]);
    }
    (st["pg"]["rows"][0].clone(), st["my"]["rows"][0][0].clone())
}

fn assert_encrypted(pg: &Json, my: &Json, what: &str) {
    assert_eq!(
        pg[0], true,
        "{what}: PostgreSQL says the session is not TLS: {pg}"
    );
    assert!(
        my.as_str().is_some_and(|c| !c.is_empty()),
        "{what}: MariaDB says the session has no cipher: {my}"
    );
    eprintln!("{what}: PostgreSQL {}, MariaDB {my}", pg[1]);
}

#[test]
fn tls_verify_full_with_the_private_ca_syncs_and_without_it_fails_losing_nothing() {
    let t = "inlet_e2e_tls_full";
    tls_fixtures(t);
    let ca = test_ca();
    let tmp = tempfile::tempdir().expect("tempdir");
    let verified = tls_block("verify-full", Some(&ca));
    let config = tls_config(tmp.path(), t, &verified, &verified, "");
    let pg_sink = tmp.path().join("data/sink/search-pg.ndjson");
    let my_sink = tmp.path().join("data/sink/search-my.ndjson");

    // (a) verify-full trusting the private CA: both connectors index every row.
    let pg_run = sync(&config, "pg", "full");
    assert_completed(&pg_run, "postgresql over verify-full");
    assert_eq!(pg_run.report["stats"]["indexed"], 3, "{}", pg_run.report);
    assert_eq!(
        replay(&pg_sink)[&format!("inlet_test_{t}_items_2")][format!("{t}_items_title")],
        "two"
    );
    let my_run = sync(&config, "my", "full");
    assert_completed(&my_run, "mysql over verify-full");
    assert_eq!(my_run.report["stats"]["indexed"], 3, "{}", my_run.report);
    assert_eq!(replay(&my_sink)[&format!("{t}_2")]["title"], "two");

    // (b) The same without the CA: the certificate does not verify against the platform's
    // roots. The sync fails naming the database and what to set, and what the first sync
    // indexed stays (no stale deletion after a failure).
    let unverified = tls_block("verify-full", None);
    let config = tls_config(tmp.path(), t, &unverified, &unverified, "");
    for (connector, database, sink) in [("pg", "postgresql", &pg_sink), ("my", "mysql", &my_sink)] {
        let run = sync(&config, connector, "full");
        assert!(
            !run.out.status.success() && run.report["status"] != "completed",
            "{connector}: a sync that cannot verify the server must fail: {}",
            run.report
        );
        let err = run.report["error"].as_str().unwrap_or_default();
        assert!(
            err.contains("certificate verification failed")
                && err.contains(&format!("database `{database}`"))
                && err.contains(&format!("databases.{database}.tls.ca_file")),
            "{connector}: {}",
            run.report
        );
        assert_eq!(run.report["stats"]["indexed"], 0, "{}", run.report);
        assert_eq!(run.report["stats"]["stale_deleted"], 0, "{}", run.report);
        assert_eq!(
            replay(sink).len(),
            3,
            "{connector}: the index lost documents"
        );
        assert_no_password(&[&run], &servers().0.password);
        assert_no_password(&[&run], &servers().1.password);
    }
    assert_no_password(&[&pg_run], &servers().0.password);
    assert_no_password(&[&my_run], &servers().1.password);

    // (a) The broker's own sessions are TLS, as the servers see them.
    let (pg, my) = session_tls(&verified, &verified, "");
    assert_encrypted(&pg, &my, "verify-full");
}

#[test]
fn tls_require_encrypts_and_no_tls_setting_stays_plain() {
    test_ca(); // the servers speak TLS
    // (c) require: encrypted without checking the certificate (no CA given).
    let require = tls_block("require", None);
    let (pg, my) = session_tls(&require, &require, "");
    assert_encrypted(&pg, &my, "require");
    // Nothing set anywhere: plain, as before TLS was supported (backwards compatible).
    let (pg, my) = session_tls("", "", "");
    assert_eq!(pg[0], false, "{pg}");
    assert_eq!(my, "", "{my}");
}

#[test]
fn tls_from_the_connector_form_verifies_with_ssl_ca_and_config_yml_wins() {
    let t = "inlet_e2e_tls_form";
    tls_fixtures(t);
    let pem = std::fs::read_to_string(test_ca()).expect("read the CA");
    // The form carries the certificate's text (a JSON string is a YAML double-quoted scalar).
    let with_ca = format!(
        "      ssl_enabled: true\n      ssl_ca: {}\n",
        serde_json::to_string(&pem).expect("JSON")
    );
    // (d) No `tls:` block: Elastic's `ssl_enabled` + `ssl_ca` connect with verify-full.
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tls_config(tmp.path(), t, "", "", &with_ca);
    for connector in ["pg", "my"] {
        let run = sync(&config, connector, "full");
        assert_completed(&run, &format!("{connector} with the form's ssl_ca"));
        assert_eq!(run.report["stats"]["indexed"], 3, "{}", run.report);
    }
    let (pg, my) = session_tls("", "", &with_ca);
    assert_encrypted(&pg, &my, "form ssl_enabled + ssl_ca");

    // The form's verification is real: without `ssl_ca` the private CA is not trusted.
    let without_ca = "      ssl_enabled: true\n";
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tls_config(tmp.path(), t, "", "", without_ca);
    for (connector, database) in [("pg", "postgresql"), ("my", "mysql")] {
        let run = sync(&config, connector, "full");
        assert!(!run.out.status.success(), "{}", run.report);
        let err = run.report["error"].as_str().unwrap_or_default();
        assert!(
            err.contains("certificate verification failed")
                && err.contains(&format!("database `{database}`"))
                && err.contains("ssl_ca"),
            "{connector}: {}",
            run.report
        );
    }

    // An `ssl_ca` that is not a certificate (a path, say) fails naming the field.
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tls_config(
        tmp.path(),
        t,
        "",
        "",
        "      ssl_enabled: true\n      ssl_ca: /etc/ssl/db-ca.pem\n",
    );
    let run = sync(&config, "pg", "full");
    assert!(!run.out.status.success(), "{}", run.report);
    let err = run.report["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("`ssl_ca` holds no PEM certificate") && err.contains("connector `pg`"),
        "{}",
        run.report
    );

    // An explicit `tls:` in config.yml wins over the form, with a warning saying so.
    let require = tls_block("require", None);
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tls_config(tmp.path(), t, &require, &require, without_ca);
    let run = sync(&config, "pg", "full");
    assert_completed(&run, "config.yml's require over the form's ssl_enabled");
    assert!(
        stderr(&run.out).contains("which wins"),
        "the override is logged: {}",
        stderr(&run.out)
    );
}
