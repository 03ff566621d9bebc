//! The SQL broker: plugins query PostgreSQL and MySQL/MariaDB databases the operator defined in
//! config.yml's `databases:`, on pooled connections the host opens with credentials the plugin
//! never sees (Spin's model).
//!
//! - Two-sided grants: a plugin opens a database only if its manifest declares it
//!   (`[permissions] sql = ["name"]`) AND the connector's `grants.databases` lists it.
//! - Pools are per connector and database name, created on first use and kept for the
//!   process, so syncs of one connector reuse connections and connectors never share them.
//! - Read-only by default, enforced by the database where the effect would happen: every
//!   statement on a `read_only` grant runs inside a read-only transaction (PostgreSQL `BEGIN
//!   READ ONLY`, MySQL `START TRANSACTION READ ONLY`) on a connection its row stream holds, and
//!   is rolled back at the end, which also undoes PostgreSQL `set_config(…, false)` and role
//!   changes. Sessions are reset before they go back to the pool (PostgreSQL `DISCARD ALL`;
//!   MySQL `ROLLBACK`, named locks released, read-only, `sql_mode` and client character set
//!   re-asserted), and a stream dropped half read closes its connection instead. The lexical
//!   check (`classify`) comes first, for a clear error; the lexical mode it assumes is pinned
//!   at connect (PostgreSQL `standard_conforming_strings=on`; MySQL `sql_mode` without
//!   `ANSI_QUOTES` and `NO_BACKSLASH_ESCAPES`).
//! - Results stream: a task per query pulls rows from the database into a buffer bounded by
//!   bytes and charged to the plugin instance's host budget, and the plugin drains it batch by
//!   batch ([`RowStream`]), so a large table never sits in memory, and a slow plugin slows the
//!   database cursor rather than filling RAM.
//! - TLS (rustls): config.yml's `databases.<name>.tls`, else the url's `sslmode`, else the
//!   connector form's `ssl_enabled`/`ssl_ca`, else plain as before (`tls`).

mod classify;
mod pg_binary;
#[cfg(test)]
mod server_tests;
mod stream;
mod tls;
mod values;
mod wkb;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::ConnectOptions as _;

use inlet_policy::budget::HostBudget;
use inlet_policy::config::credentials::SecretSource;
use inlet_policy::config::databases::{DatabaseSpec, Engine};
use inlet_policy::config::{Config, Connector};
use inlet_policy::manifest::Manifest;

pub use inlet_runtime::brokers::{Column, FailureKind, SqlFailure, Value};
pub use stream::RowStream;
pub use tls::CaFileError;

/// Why the SQL broker could not be set up at start ([`Databases::new`]). Names the key; never
/// the secret.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// A password given as `{file: path}` could not be read.
    #[error("`databases.{name}.{field}`: cannot read the secret file {path}: {source}")]
    File {
        /// The database's key under `databases:`.
        name: String,
        /// The secret's field (`password`).
        field: &'static str,
        /// The file read: relative paths resolved against config.yml's directory.
        path: String,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// A bad definition: a `url` scheme that is neither PostgreSQL nor MySQL/MariaDB, or a
    /// `credential` not in `credentials:`.
    #[error("`databases.{name}`: {message}")]
    Invalid {
        /// The database's key under `databases:`.
        name: String,
        /// What is wrong, naming the field.
        message: String,
    },
    /// `databases.<name>.tls.ca_file` cannot be used.
    #[error(transparent)]
    CaFile(#[from] tls::CaFileError),
}

/// Classifies a driver error. Its text names the server's reason, never our password.
pub(crate) fn failure_from_sqlx(database: &str, e: &sqlx::Error) -> SqlFailure {
    // A certificate that does not verify is fixed in the configuration, not by a retry.
    if let Some(message) = tls::failure_message(database, e) {
        return SqlFailure::new(FailureKind::Config, message);
    }
    let kind = match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => {
            FailureKind::Network
        }
        sqlx::Error::Database(d) => match d.code().as_deref() {
            // PostgreSQL invalid_authorization_specification / invalid_password; MySQL
            // ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR.
            Some("28000" | "28P01" | "1045" | "1044") => FailureKind::Auth,
            _ => FailureKind::Source,
        },
        _ => FailureKind::Source,
    };
    // Server messages can quote the statement (an unterminated string "at or near" its
    // whole text): bounded and escaped like any other plugin-controlled text.
    SqlFailure::new(
        kind,
        format!("database `{database}`: {}", excerpt(&e.to_string(), 1000)),
    )
}

/// Plugin-controlled text made safe to repeat in a message or log line: at most `max_chars`
/// characters, with control and invisible (bidirectional, zero-width) characters escaped, so it
/// can neither forge a line nor hide what follows.
pub(crate) fn excerpt(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (n, (at, c)) in text.char_indices().enumerate() {
        if n == max_chars {
            out.push_str(&format!("… ({} more bytes)", text.len() - at));
            break;
        }
        // Zero-width characters, bidirectional overrides and isolates, the byte-order mark.
        let invisible = matches!(
            c,
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
        );
        if c.is_control() || invisible {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A database definition with its secret and CA loaded.
struct Definition {
    name: String,
    spec: DatabaseSpec,
    engine: Engine,
    username: Option<String>,
    password: Option<SecretString>,
    /// `tls:` of config.yml.
    tls: Option<tls::Configured>,
    /// The url (or `PGSSLMODE`) sets TLS itself.
    url_decides_tls: bool,
}

/// A pool of connections to one database for one connector.
#[derive(Clone)]
pub(crate) enum Pool {
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
}

/// The limits a query runs under, from the database's definition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryLimits {
    pub timeout: Duration,
    pub max_rows: u64,
    pub max_row_bytes: u64,
    pub read_only: bool,
}

/// The process-wide SQL broker: definitions (with loaded secrets) and the pools of every
/// connector, which outlive single syncs.
pub struct Databases {
    definitions: BTreeMap<String, Arc<Definition>>,
    connector_ids: Vec<String>,
    /// By connector and database, with the TLS the pool connects with: the connector's form
    /// can change it between syncs (Kibana), and then the pool is replaced.
    pools: Mutex<HashMap<(String, String), (tls::Tls, Pool)>>,
}

impl std::fmt::Debug for Databases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Databases")
            .field("definitions", &self.definitions.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Databases {
    /// Loads every definition's secret and CA file (relative to `base_dir`). Connects to
    /// nothing: pools connect on a plugin's first query.
    pub fn new(config: &Config, base_dir: &Path) -> Result<Self, DatabaseError> {
        let mut definitions = BTreeMap::new();
        for (name, spec) in &config.databases {
            let invalid = |message: String| DatabaseError::Invalid {
                name: name.clone(),
                message,
            };
            let engine = spec.engine().map_err(invalid)?;
            let (username, source) = match &spec.credential {
                Some(c) => {
                    let cred = config.credentials.get(c).ok_or_else(|| {
                        invalid(format!("credential {c:?} is not in `credentials:`"))
                    })?;
                    (cred.username.clone(), cred.password.clone())
                }
                None => (spec.username.clone(), spec.password.clone()),
            };
            let password = source
                .map(|s| read_secret(name, &s, base_dir))
                .transpose()?;
            definitions.insert(
                name.clone(),
                Arc::new(Definition {
                    name: name.clone(),
                    spec: spec.clone(),
                    engine,
                    username,
                    password,
                    tls: tls::configured(name, spec, base_dir)?,
                    url_decides_tls: tls::url_decides(spec, engine),
                }),
            );
        }
        Ok(Databases {
            definitions,
            connector_ids: config
                .connectors
                .iter()
                .map(|c| c.connector_id.clone())
                .collect(),
            pools: Mutex::new(HashMap::new()),
        })
    }

    /// What one connector's plugin may open: its manifest's `sql` ∩ the connector's
    /// `grants.databases`.
    pub(crate) fn for_connector(
        self: &Arc<Self>,
        connector: &Connector,
        manifest: Option<&Manifest>,
    ) -> Arc<ConnectorSql> {
        let key = inlet_policy::config::ConnectorKey::of(&self.connector_ids, connector);
        let declared = manifest
            .map(|m| m.permissions.sql.clone())
            .unwrap_or_default();
        if !connector.grants.databases.is_empty() && declared.is_empty() {
            inlet_policy::config::warn_undeclared(
                connector,
                &key.at("grants.databases"),
                "`[permissions] sql`",
                "every open will be refused",
            );
        }
        Arc::new(ConnectorSql {
            broker: self.clone(),
            connector_id: connector.connector_id.clone(),
            plugin: connector.service_type.clone(),
            declared,
            granted: connector.grants.databases.clone(),
            grant_key: key.at("grants.databases"),
            form_tls: tls::FormTls::from_configuration(&connector.configuration),
        })
    }

    /// The pool of `connector_id` for `def` with `tls`, created (lazily connecting) on first use
    /// or when the TLS it was made with changed.
    fn pool(
        &self,
        connector_id: &str,
        def: &Definition,
        tls: tls::Tls,
    ) -> Result<Pool, SqlFailure> {
        let mut pools = self
            .pools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (connector_id.to_owned(), def.name.clone());
        if let Some((made_with, p)) = pools.get(&key)
            && *made_with == tls
        {
            return Ok(p.clone());
        }
        // A replaced pool closes once the streams still holding it end.
        let pool = build_pool(def, &tls)?;
        pools.insert(key, (tls, pool.clone()));
        Ok(pool)
    }
}

fn read_secret(
    name: &str,
    source: &SecretSource,
    base_dir: &Path,
) -> Result<SecretString, DatabaseError> {
    source
        .read(base_dir)
        .map_err(|(path, source)| DatabaseError::File {
            name: name.to_owned(),
            field: "password",
            path: path.display().to_string(),
            source,
        })
}

fn build_pool(def: &Definition, tls: &tls::Tls) -> Result<Pool, SqlFailure> {
    let spec = &def.spec;
    let invalid = |e: sqlx::Error| {
        // The URL holds no password (config validation refuses one), so the message is safe.
        SqlFailure::new(
            FailureKind::Config,
            format!("databases.{}.url: {e}", def.name),
        )
    };
    let timeout = Duration::from_secs(spec.query_timeout_secs);
    match def.engine {
        Engine::Postgres => {
            let mut o = sqlx::postgres::PgConnectOptions::from_str(&spec.url)
                .map_err(invalid)?
                .application_name("inlet")
                .disable_statement_logging()
                // `DISCARD ALL` (below) deallocates prepared statements: cache none.
                .statement_cache_capacity(0)
                // The lexical mode `classify` assumes. Startup options are what `DISCARD ALL`
                // resets to, and they come after any in the URL, so they win.
                .options([("standard_conforming_strings", "on")]);
            if let Some(u) = &def.username {
                o = o.username(u);
            }
            if let Some(p) = &def.password {
                o = o.password(p.expose_secret());
            }
            if spec.read_only {
                o = o.options([("default_transaction_read_only", "on")]);
            }
            let o = tls::apply_pg(o, tls);
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(spec.max_connections)
                .acquire_timeout(timeout)
                .after_release(|conn, _| {
                    Box::pin(async move {
                        // A transaction left open (a plugin's own `BEGIN` on a writable grant):
                        // close the session rather than guess.
                        if sqlx::Connection::is_in_transaction(conn) {
                            return Ok(false);
                        }
                        // Settings, role, session authorization, advisory locks, temporary
                        // tables, prepared statements, LISTENs: back to the startup state.
                        sqlx::Executor::execute(&mut *conn, "DISCARD ALL").await?;
                        Ok(true)
                    })
                })
                .connect_lazy_with(o);
            Ok(Pool::Postgres(pool))
        }
        Engine::Mysql => {
            let mut o = sqlx::mysql::MySqlConnectOptions::from_str(&spec.url)
                .map_err(invalid)?
                .disable_statement_logging();
            if let Some(u) = &def.username {
                o = o.username(u);
            }
            if let Some(p) = &def.password {
                o = o.password(p.expose_secret());
            }
            let o = tls::apply_mysql(o, tls);
            let read_only = spec.read_only;
            // The session reset, computed from the first connection's settings.
            let reset = Arc::new(Mutex::new(String::new()));
            let reset_at_release = reset.clone();
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(spec.max_connections)
                .acquire_timeout(timeout)
                .after_connect(move |conn, _| {
                    let reset = reset.clone();
                    Box::pin(async move {
                        let statement = mysql_session_reset(conn, read_only).await?;
                        sqlx::Executor::execute(&mut *conn, statement.as_str()).await?;
                        *reset
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = statement;
                        Ok(())
                    })
                })
                .after_release(move |conn, _| {
                    let statement = reset_at_release
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .clone();
                    Box::pin(async move {
                        if statement.is_empty() {
                            return Ok(false);
                        }
                        sqlx::Executor::execute(&mut *conn, statement.as_str()).await?;
                        Ok(true)
                    })
                })
                .connect_lazy_with(o);
            Ok(Pool::Mysql(pool))
        }
    }
}

/// `sql_mode` flags that change how MySQL/MariaDB read a statement's text (quotes, backslashes,
/// MariaDB's Oracle and SQL Server parsers, and the combination modes that include them).
const LEXICAL_SQL_MODES: &[&str] = &[
    "ANSI_QUOTES",
    "NO_BACKSLASH_ESCAPES",
    "ORACLE",
    "MSSQL",
    "ANSI",
    "DB2",
    "MAXDB",
    "POSTGRESQL",
];

/// The statement that puts a MySQL/MariaDB session back in the state `classify` and the grant
/// assume: no open transaction, no named locks, the connection's `sql_mode` without
/// [`LEXICAL_SQL_MODES`], its client character set, and read-only when granted so.
async fn mysql_session_reset(
    conn: &mut sqlx::MySqlConnection,
    read_only: bool,
) -> Result<String, sqlx::Error> {
    use sqlx::Row as _;
    let row = sqlx::Executor::fetch_one(
        &mut *conn,
        "SELECT CAST(@@SESSION.sql_mode AS CHAR), CAST(@@SESSION.character_set_client AS CHAR)",
    )
    .await?;
    let mode: String = row.try_get_unchecked(0)?;
    let charset: String = row.try_get_unchecked(1)?;
    let pinned = pinned_sql_mode(&mode);
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b',')
    };
    if !plain(&pinned) || !plain(&charset) {
        return Err(sqlx::Error::Protocol(format!(
            "unexpected sql_mode {mode:?} or character set {charset:?} from the server"
        )));
    }
    let mut statement = format!(
        "ROLLBACK; DO RELEASE_ALL_LOCKS(); SET SESSION sql_mode = '{pinned}', character_set_client = '{charset}'"
    );
    if read_only {
        statement.push_str("; SET SESSION TRANSACTION READ ONLY");
    }
    Ok(statement)
}

/// `mode` without the flags that change lexing.
fn pinned_sql_mode(mode: &str) -> String {
    mode.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty() && !LEXICAL_SQL_MODES.contains(&m.to_ascii_uppercase().as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// One connector's view of the broker, held by its plugin's store.
pub struct ConnectorSql {
    broker: Arc<Databases>,
    connector_id: String,
    plugin: String,
    declared: Vec<String>,
    granted: Vec<String>,
    grant_key: String,
    /// What the connector's form (`ssl_enabled`/`ssl_ca`) asks for.
    form_tls: tls::FormTls,
}

impl ConnectorSql {
    /// Opens `name` if it is declared and granted; a refusal names what to add (the runtime logs
    /// refusals through the plugin's log budget).
    pub fn open(&self, name: &str) -> Result<SqlConnection, SqlFailure> {
        if !self.declared.iter().any(|d| d == name) {
            // Any text the plugin chose: bounded and escaped before it reaches a log line.
            let name = excerpt(name, 64);
            let message = format!(
                "plugin `{}` does not declare database `{name}`: add `sql = [\"{name}\"]` under [permissions] in its plugin.toml",
                self.plugin
            );
            return Err(SqlFailure::new(FailureKind::Config, message));
        }
        if !self.granted.iter().any(|g| g == name) {
            let message = format!(
                "connector `{}` is not granted database `{name}`: add it to `{}` in config.yml",
                self.connector_id, self.grant_key
            );
            return Err(SqlFailure::new(FailureKind::Config, message));
        }
        let def = self.broker.definitions.get(name).ok_or_else(|| {
            SqlFailure::new(
                FailureKind::Config,
                format!("no database named `{name}` in config.yml's `databases:`"),
            )
        })?;
        let pool = self
            .broker
            .pool(&self.connector_id, def, self.tls_for(def)?)?;
        Ok(SqlConnection {
            name: name.to_owned(),
            engine: def.engine,
            pool,
            limits: QueryLimits {
                timeout: Duration::from_secs(def.spec.query_timeout_secs),
                max_rows: def.spec.max_rows,
                max_row_bytes: def.spec.max_row_bytes,
                read_only: def.spec.read_only,
            },
        })
    }

    /// The TLS this connector's connections to `def` use (see [`tls`] for the precedence).
    fn tls_for(&self, def: &Definition) -> Result<tls::Tls, SqlFailure> {
        let configured = def.tls.as_ref();
        if tls::form_overridden(configured, def.url_decides_tls, &self.form_tls) {
            tracing::warn!(
                connector_id = %self.connector_id,
                "the connector's `ssl_enabled` asks for verified TLS to database `{}`, but config.yml sets its TLS (`databases.{}.tls` or the url's sslmode), which wins",
                def.name,
                def.name
            );
        }
        tls::choose(configured, def.url_decides_tls, &self.form_tls).map_err(|reason| {
            SqlFailure::new(
                FailureKind::Config,
                format!(
                    "connector `{}`: {reason}; its `ssl_enabled` asks for TLS to database `{}`",
                    self.connector_id, def.name
                ),
            )
        })
    }
}

impl inlet_runtime::brokers::SqlBroker for ConnectorSql {
    fn open(&self, name: &str) -> Result<Box<dyn inlet_runtime::brokers::Database>, SqlFailure> {
        ConnectorSql::open(self, name)
            .map(|c| Box::new(c) as Box<dyn inlet_runtime::brokers::Database>)
    }
}

/// An opened (granted) database: a handle on the connector's pool.
pub struct SqlConnection {
    name: String,
    engine: Engine,
    pool: Pool,
    limits: QueryLimits,
}

impl SqlConnection {
    /// `postgres` or `mysql`.
    pub fn dialect(&self) -> &'static str {
        self.engine.name()
    }

    fn lexical_dialect(&self) -> classify::Dialect {
        match self.engine {
            Engine::Postgres => classify::Dialect::Postgres,
            Engine::Mysql => classify::Dialect::Mysql,
        }
    }

    /// Starts a query; returns once the first rows (or the end, or an error) arrived, so SQL
    /// errors surface here rather than at the first batch. Rows waiting for the plugin are
    /// charged to `budget`.
    pub async fn query(
        &self,
        statement: String,
        params: Vec<Value>,
        budget: &HostBudget,
    ) -> Result<RowStream, SqlFailure> {
        let dialect = self.lexical_dialect();
        let checked = if self.limits.read_only {
            classify::check_read_only(dialect, &statement)
        } else {
            classify::check_single(dialect, &statement)
        };
        if let Err(refusal) = checked {
            let hint = if refusal.is_read_only_refusal() {
                format!(
                    "; set `read_only: false` on databases.{} in config.yml to allow writes",
                    self.name
                )
            } else {
                String::new()
            };
            let message = format!(
                "database `{}`: {refusal}{hint} (statement: {})",
                self.name,
                excerpt(&statement, 200)
            );
            return Err(SqlFailure::new(FailureKind::Config, message));
        }
        stream::start(
            self.name.clone(),
            self.pool.clone(),
            statement,
            params,
            self.limits,
            budget.clone(),
        )
        .await
    }
}

impl inlet_runtime::brokers::Database for SqlConnection {
    fn dialect(&self) -> &'static str {
        SqlConnection::dialect(self)
    }

    fn query<'a>(
        &'a self,
        statement: String,
        params: Vec<Value>,
        budget: &'a HostBudget,
    ) -> inlet_runtime::brokers::BoxFuture<
        'a,
        Result<Box<dyn inlet_runtime::brokers::RowStream>, SqlFailure>,
    > {
        Box::pin(async move {
            SqlConnection::query(self, statement, params, budget)
                .await
                .map(|s| Box::new(s) as Box<dyn inlet_runtime::brokers::RowStream>)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_bounded_and_escaped() {
        assert_eq!(excerpt("SELECT 1", 200), "SELECT 1");
        let e = excerpt(
            &format!("a\nINFO forged\u{1b}[0m\u{202e}{}", "x".repeat(500)),
            50,
        );
        assert!(e.starts_with("a\\nINFO forged\\u{1b}[0m\\u{202e}"), "{e}");
        assert!(e.ends_with("… (468 more bytes)"), "{e}");
        assert!(!e.contains('\n') && !e.contains('\u{202e}'));
    }

    #[test]
    fn lexical_sql_modes_are_removed() {
        assert_eq!(
            pinned_sql_mode(
                "STRICT_TRANS_TABLES,ANSI_QUOTES,NO_BACKSLASH_ESCAPES,ERROR_FOR_DIVISION_BY_ZERO"
            ),
            "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO"
        );
        assert_eq!(
            pinned_sql_mode("PIPES_AS_CONCAT,ANSI_QUOTES,IGNORE_SPACE,ORACLE,NO_KEY_OPTIONS"),
            "PIPES_AS_CONCAT,IGNORE_SPACE,NO_KEY_OPTIONS"
        );
        assert_eq!(pinned_sql_mode(""), "");
    }
}
