//! The broker's sessions against the real PostgreSQL and MariaDB servers (tests/databases/start;
//! scripts/test exports INLET_TEST_POSTGRES / INLET_TEST_MYSQL), with the lexical check
//! bypassed: what the read-only transaction, the session reset and the byte-bounded buffer hold
//! on their own, should a statement get past `classify`.

use std::sync::OnceLock;
use std::time::Duration;

use super::stream::{self, RowStream, STREAM_BUFFER_BYTES};
use super::*;
use inlet_policy::budget::{BudgetLimits, HostBudget};

/// The test servers' URLs (with the password), started if the environment names none.
fn servers() -> &'static (String, String) {
    static S: OnceLock<(String, String)> = OnceLock::new();
    S.get_or_init(|| {
        if let (Ok(pg), Ok(my)) = (
            std::env::var("INLET_TEST_POSTGRES"),
            std::env::var("INLET_TEST_MYSQL"),
        ) {
            return (pg, my);
        }
        // The repository's tests/databases/start, three levels above this crate (host/crates/broker).
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../tests/databases/start");
        let out = std::process::Command::new(script)
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
    })
}

/// A broker pool on `full_url` as config.yml would define it: one connection, so every
/// statement of a test meets the session the previous one left.
fn pool(full_url: &str, read_only: bool) -> Pool {
    let (scheme, rest) = full_url.split_once("://").expect("scheme");
    let (userinfo, host) = rest.split_once('@').expect("user in the test URL");
    let (user, password) = userinfo.split_once(':').expect("password in the test URL");
    let spec = DatabaseSpec {
        url: format!("{scheme}://{host}"),
        username: Some(user.to_owned()),
        password: None,
        credential: None,
        max_connections: 1,
        query_timeout_secs: 20,
        max_rows: 10_000_000,
        max_row_bytes: 16 * 1024 * 1024,
        read_only,
        tls: None,
    };
    let engine = spec.engine().expect("engine");
    // What the broker uses without `tls:`, a url sslmode or a form asking for TLS.
    let plain = tls::Tls::Set {
        mode: inlet_policy::config::databases::TlsMode::Disable,
        ca: None,
    };
    build_pool(
        &Definition {
            name: "test".into(),
            spec,
            engine,
            username: Some(user.to_owned()),
            password: Some(SecretString::from(password.to_owned())),
            tls: None,
            url_decides_tls: false,
        },
        &plain,
    )
    .expect("pool")
}

fn limits(read_only: bool) -> QueryLimits {
    QueryLimits {
        timeout: Duration::from_secs(20),
        max_rows: 10_000_000,
        max_row_bytes: 16 * 1024 * 1024,
        read_only,
    }
}

fn budget(mib: u64) -> HostBudget {
    HostBudget::new(BudgetLimits {
        host_memory_bytes: mib * 1024 * 1024,
        ..BudgetLimits::default()
    })
}

/// Runs `statement` straight through the stream (no `classify`) and reads every row.
async fn run(pool: &Pool, read_only: bool, statement: &str) -> Result<Vec<Vec<Value>>, String> {
    let mut s = stream::start(
        "test".into(),
        pool.clone(),
        statement.into(),
        Vec::new(),
        limits(read_only),
        budget(64),
    )
    .await
    .map_err(|f| f.message)?;
    let mut rows = Vec::new();
    while let Some(batch) = s.next_batch(1000).await.map_err(|f| f.message)? {
        rows.extend(batch);
    }
    Ok(rows)
}

async fn text(pool: &Pool, statement: &str) -> Vec<String> {
    let rows = run(pool, true, statement).await.expect(statement);
    rows[0]
        .iter()
        .map(|v| match v {
            Value::Text(s) | Value::Decimal(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Null => "NULL".into(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Admin statements on a plain connection (fixtures, counts).
async fn admin(url: &str, statements: &[&str]) -> i64 {
    let mut last = 0;
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.expect("connect");
        for s in statements {
            last = sqlx::query_scalar::<_, i64>(s)
                .fetch_optional(&pool)
                .await
                .expect(s)
                .unwrap_or(0);
        }
    } else {
        let pool = sqlx::MySqlPool::connect(url).await.expect("connect");
        for s in statements {
            last = sqlx::query_scalar::<_, i64>(s)
                .fetch_optional(&pool)
                .await
                .expect(s)
                .unwrap_or(0);
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_read_only_transaction_undoes_settings_role_and_writes() {
    let (pg, _) = servers();
    admin(
        pg,
        &[
            "DROP SCHEMA IF EXISTS inlet_lib_ro CASCADE",
            "CREATE SCHEMA inlet_lib_ro",
            "CREATE TABLE inlet_lib_ro.t (id int PRIMARY KEY)",
            "INSERT INTO inlet_lib_ro.t SELECT generate_series(1, 100)",
        ],
    )
    .await;
    let p = pool(pg, true);
    // Issue 12's statements, as if the lexical check had let them through.
    let off = run(
        &p,
        true,
        "SELECT set_config('default_transaction_read_only','off',false)",
    )
    .await;
    assert_eq!(off, Ok(vec![vec![Value::Text("off".into())]]));
    run(&p, true, "SELECT set_config('role', current_user, false)")
        .await
        .expect("role");
    run(
        &p,
        true,
        "SELECT set_config('standard_conforming_strings','off',false)",
    )
    .await
    .expect("lexical mode");
    let delete = run(
        &p,
        true,
        "WITH d AS (DELETE FROM inlet_lib_ro.t RETURNING id) SELECT id FROM d",
    )
    .await;
    let err = delete.expect_err("a write in a read-only transaction");
    assert!(err.contains("read-only transaction"), "{err}");
    assert_eq!(
        text(
            &p,
            "SELECT current_setting('role'), current_setting('default_transaction_read_only'), current_setting('standard_conforming_strings')"
        )
        .await,
        ["none", "on", "on"]
    );
    // A session-level advisory lock does not outlive the statement either.
    run(
        &p,
        true,
        "SELECT count(*) FROM (SELECT pg_advisory_lock(4242)) AS l",
    )
    .await
    .expect("lock");
    assert_eq!(
        text(
            &p,
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242"
        )
        .await,
        ["0"]
    );
    assert_eq!(
        admin(pg, &["SELECT count(*) FROM inlet_lib_ro.t"]).await,
        100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_read_only_transaction_and_session_reset() {
    let (_, my) = servers();
    admin(
        my,
        &[
            "DROP TABLE IF EXISTS inlet_lib_ro",
            "CREATE TABLE inlet_lib_ro (id INT PRIMARY KEY)",
            "INSERT INTO inlet_lib_ro SELECT seq FROM seq_1_to_100",
        ],
    )
    .await;
    let p = pool(my, true);
    let connection = text(&p, "SELECT CONNECTION_ID()").await;
    run(
        &p,
        true,
        "/*!SET SESSION tx_read_only = 0, @x = */ (SELECT 1)",
    )
    .await
    .expect("a SET inside the transaction runs");
    let err = run(
        &p,
        true,
        "/*!DELETE FROM inlet_lib_ro WHERE 1 <> */ (SELECT 0)",
    )
    .await
    .expect_err("a write in a read-only transaction");
    assert!(err.contains("READ ONLY transaction"), "{err}");
    // The lexical mode and named locks are reset too.
    run(
        &p,
        true,
        "SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'",
    )
    .await
    .expect("sql_mode");
    run(&p, true, "SELECT GET_LOCK('inlet_lib_ro', 0)")
        .await
        .expect("lock");
    let after = text(
        &p,
        "SELECT @@SESSION.tx_read_only, CAST(@@SESSION.sql_mode AS CHAR), IS_USED_LOCK('inlet_lib_ro') IS NULL",
    )
    .await;
    assert_eq!(after[0], "1", "{after:?}");
    assert!(
        !after[1].contains("ANSI_QUOTES") && !after[1].contains("NO_BACKSLASH_ESCAPES"),
        "{after:?}"
    );
    assert_eq!(after[2], "1", "the named lock was released: {after:?}");
    assert_eq!(admin(my, &["SELECT count(*) FROM inlet_lib_ro"]).await, 100);
    // All on one session: the reset put it back in the pool rather than closing it.
    assert_eq!(text(&p, "SELECT CONNECTION_ID()").await, connection);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writable_grant_commits_its_writes_and_still_resets_the_session() {
    let (pg, _) = servers();
    admin(
        pg,
        &[
            "DROP SCHEMA IF EXISTS inlet_lib_rw CASCADE",
            "CREATE SCHEMA inlet_lib_rw",
            "CREATE TABLE inlet_lib_rw.t (id int PRIMARY KEY)",
        ],
    )
    .await;
    let p = pool(pg, false);
    run(&p, false, "INSERT INTO inlet_lib_rw.t VALUES (1), (2)")
        .await
        .expect("insert");
    run(&p, false, "SELECT set_config('role', current_user, false)")
        .await
        .expect("role");
    assert_eq!(text(&p, "SELECT current_setting('role')").await, ["none"]);
    assert_eq!(admin(pg, &["SELECT count(*) FROM inlet_lib_rw.t"]).await, 2);
}

/// The backend's process id, from the broker's one connection.
async fn backend_pid(p: &Pool) -> String {
    text(p, "SELECT pg_backend_pid()::text").await[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_half_read_closes_its_connection() {
    let (pg, _) = servers();
    let p = pool(pg, true);
    let first = backend_pid(&p).await;
    // Read to the end: the session goes back to the pool and is used again.
    assert_eq!(backend_pid(&p).await, first);
    let mut s: RowStream = stream::start(
        "test".into(),
        p.clone(),
        "SELECT g FROM generate_series(1, 1000000) g".into(),
        Vec::new(),
        limits(true),
        budget(64),
    )
    .await
    .expect("start");
    assert!(s.next_batch(10).await.expect("rows").is_some());
    drop(s);
    let next = backend_pid(&p).await;
    assert_ne!(next, first, "a half-read session must not be reused");
    assert_eq!(backend_pid(&p).await, next);
}

/// Polls until the stream's buffer stops growing (the database task waits for room).
async fn settled(s: &RowStream) -> u64 {
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = s.held_bytes();
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unread_stream_holds_at_most_its_byte_bound_charged_to_the_budget() {
    let (pg, _) = servers();
    let p = pool(pg, true);
    let b = budget(64);
    // 1000 rows of 100 kB: 100 MB if the buffer counted rows.
    let mut s = stream::start(
        "test".into(),
        p.clone(),
        "SELECT repeat('x', 100000) FROM generate_series(1, 1000)".into(),
        Vec::new(),
        limits(true),
        b.clone(),
    )
    .await
    .expect("start");
    let held = settled(&s).await;
    let row = 100_000 + 64;
    assert!(
        held <= (STREAM_BUFFER_BYTES + row) as u64 && held >= (STREAM_BUFFER_BYTES - row) as u64,
        "held {held} bytes"
    );
    assert_eq!(b.usage().host_bytes, held);
    let mut read = 0;
    while let Some(batch) = s.next_batch(100).await.expect("rows") {
        read += batch.len();
    }
    assert_eq!(read, 1000);
    assert!(
        b.peak().host_bytes <= (STREAM_BUFFER_BYTES + row) as u64,
        "peak {} bytes",
        b.peak().host_bytes
    );
    assert_eq!(b.usage().host_bytes, 0, "everything handed over");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_over_the_host_budget_fails_naming_the_limit() {
    let (_, my) = servers();
    let p = pool(my, true);
    let b = budget(1);
    let mut s = stream::start(
        "test".into(),
        p,
        "SELECT REPEAT('x', 100000) FROM seq_1_to_1000".into(),
        Vec::new(),
        limits(true),
        b.clone(),
    )
    .await
    .expect("start");
    settled(&s).await;
    assert!(b.usage().host_bytes <= 1024 * 1024);
    let mut rows = 0;
    let err = loop {
        match s.next_batch(100).await {
            Ok(Some(batch)) => rows += batch.len(),
            Ok(None) => panic!("the stream ended without an error after {rows} rows"),
            Err(e) => break e,
        }
    };
    assert!(rows < 20, "{rows} rows before the error");
    assert!(
        err.message.contains("limits.host_memory_mib"),
        "{}",
        err.message
    );
    assert!(b.exceeded().is_some(), "the sync sees the budget was hit");
}
