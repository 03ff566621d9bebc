//! The operator's side of the SQL broker: the top-level `databases:` map and a connector's
//! `grants.databases`.
//!
//! ```yaml
//! databases:
//!   crm:                                   # the name plugins open; never a URL
//!     url: postgres://127.0.0.1:5432/crm   # postgres://, postgresql://, mysql:// or mariadb://
//!     username: inlet_reader
//!     password: ${CRM_DB_PASSWORD}         # or {file: /run/secrets/crm-db}
//!     # credential: crm_db                 # …or a `basic` entry of `credentials:` instead
//!     max_connections: 4                   # each open row stream holds one
//!     query_timeout_secs: 60               # longest wait for the database between two rows
//!     max_rows: 10000000                   # per query
//!     read_only: true                      # default: reading statements, each in a read-only
//!                                          # transaction that is rolled back
//! connectors:
//!   - connector_id: crm
//!     service_type: postgresql
//!     grants:
//!       databases: [crm]
//! ```
//!
//! The password stays a [`SecretSource`] here; it is read (and files opened) when the SQL broker
//! is built, and never shown in a message.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::credentials::{CredentialKind, CredentialSpec, SecretSource};

/// Defaults and bounds of a database entry.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 4;
pub const DEFAULT_QUERY_TIMEOUT_SECS: u64 = 60;
pub const DEFAULT_MAX_ROWS: u64 = 10_000_000;
pub const DEFAULT_MAX_ROW_BYTES: u64 = 16 * 1024 * 1024;

/// One entry of the top-level `databases:` map.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    /// `postgres://host[:port]/database[?options]` or `mysql://host[:port]/database`, without
    /// a password (use `password` or `credential`, which are kept out of logs).
    pub url: String,
    pub username: Option<String>,
    pub password: Option<SecretSource>,
    /// A `basic` entry of the top-level `credentials:` holding the username and password.
    pub credential: Option<String>,
    /// Pooled connections per connector; each open row stream holds one until it ends.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Longest wait for the database: acquiring a connection, the first row, each next row.
    #[serde(default = "default_query_timeout")]
    pub query_timeout_secs: u64,
    /// Rows one query may return before it is stopped with an error.
    #[serde(default = "default_max_rows")]
    pub max_rows: u64,
    /// Largest single row, in bytes, handed to a plugin.
    #[serde(default = "default_max_row_bytes")]
    pub max_row_bytes: u64,
    /// Only statements that read (SELECT, WITH, SHOW, EXPLAIN...), each run inside a read-only
    /// transaction that is rolled back, on a session reset before it is reused (see the SQL
    /// broker). `false` lets plugins write.
    #[serde(default = "yes")]
    pub read_only: bool,
}

/// The database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
        }
    }
}

impl DatabaseSpec {
    /// The engine from the URL's scheme.
    pub fn engine(&self) -> Result<Engine, String> {
        let scheme = self.url.split_once("://").map(|(s, _)| s).unwrap_or("");
        match scheme {
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            "mysql" | "mariadb" => Ok(Engine::Mysql),
            _ => Err(format!(
                "the url must start with postgres://, postgresql://, mysql:// or mariadb:// (got scheme {scheme:?})"
            )),
        }
    }
}

/// Checks `databases:` and returns the key path and the reason. Never puts a secret in it.
pub fn validate(
    databases: &BTreeMap<String, DatabaseSpec>,
    credentials: &BTreeMap<String, CredentialSpec>,
) -> Result<(), (String, String)> {
    for (name, spec) in databases {
        let at = |k: &str| format!("databases.{name}.{k}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err((
                format!("databases.{name}"),
                "a database name uses letters, digits, `_`, `-` and `.`".into(),
            ));
        }
        spec.engine().map_err(|m| (at("url"), m))?;
        let authority = spec
            .url
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or(""))
            .unwrap_or("");
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && userinfo.contains(':')
        {
            // The URL is shown in messages; a password in it would leak there.
            return Err((
                at("url"),
                "the url contains a password; move it to `password: ${ENV_VAR}` (or {file: ...}) or `credential:`"
                    .into(),
            ));
        }
        if authority.is_empty() {
            return Err((at("url"), "the url names no host".into()));
        }
        match (&spec.credential, spec.password.is_some()) {
            (Some(_), true) => {
                return Err((
                    at("credential"),
                    "set either `credential` or `password`, not both".into(),
                ));
            }
            (Some(c), false) => match credentials.get(c) {
                None => {
                    return Err((
                        at("credential"),
                        format!("no credential named {c:?} in the top-level `credentials:`"),
                    ));
                }
                Some(cred) if cred.kind != CredentialKind::Basic => {
                    return Err((
                        at("credential"),
                        format!(
                            "credential {c:?} has type {}; a database needs type basic (username and password)",
                            cred.kind.name()
                        ),
                    ));
                }
                Some(_) if spec.username.is_some() => {
                    return Err((
                        at("username"),
                        "the username comes from the credential; remove it here".into(),
                    ));
                }
                Some(_) => {}
            },
            (None, _) => {}
        }
        let positive = |k: &str, v: u64| {
            if v == 0 {
                Err((at(k), "must be greater than 0".to_owned()))
            } else {
                Ok(())
            }
        };
        positive("max_connections", u64::from(spec.max_connections))?;
        positive("query_timeout_secs", spec.query_timeout_secs)?;
        positive("max_rows", spec.max_rows)?;
        positive("max_row_bytes", spec.max_row_bytes)?;
    }
    Ok(())
}

/// Checks a connector's `grants.databases` against `databases:`.
pub fn validate_grants(
    granted: &[String],
    databases: &BTreeMap<String, DatabaseSpec>,
    at: &dyn Fn(&str) -> String,
) -> Result<(), (String, String)> {
    for (j, name) in granted.iter().enumerate() {
        if !databases.contains_key(name) {
            let defined: Vec<&str> = databases.keys().map(String::as_str).collect();
            return Err((
                at(&format!("grants.databases[{j}]")),
                format!(
                    "no database named {name:?} in the top-level `databases:` (defined: {})",
                    if defined.is_empty() {
                        "none".to_owned()
                    } else {
                        defined.join(", ")
                    }
                ),
            ));
        }
    }
    Ok(())
}

fn yes() -> bool {
    true
}
fn default_max_connections() -> u32 {
    DEFAULT_MAX_CONNECTIONS
}
fn default_query_timeout() -> u64 {
    DEFAULT_QUERY_TIMEOUT_SECS
}
fn default_max_rows() -> u64 {
    DEFAULT_MAX_ROWS
}
fn default_max_row_bytes() -> u64 {
    DEFAULT_MAX_ROW_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dbs(yaml: &str) -> BTreeMap<String, DatabaseSpec> {
        serde_yaml_ng::from_str(yaml).expect("parses")
    }

    #[test]
    fn accepts_a_plain_entry_with_defaults() {
        let d = dbs("pg: {url: 'postgres://127.0.0.1:5432/app', username: u, password: s3cret}");
        validate(&d, &BTreeMap::new()).expect("valid");
        let pg = &d["pg"];
        assert!(pg.read_only);
        assert_eq!(pg.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(pg.engine(), Ok(Engine::Postgres));
        assert!(!format!("{pg:?}").contains("s3cret"));
    }

    #[test]
    fn refuses_passwords_in_urls_and_unknown_schemes() {
        let (key, msg) = validate(
            &dbs("pg: {url: 'postgres://u:s3cret@h/app'}"),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(key, "databases.pg.url");
        assert!(msg.contains("password") && !msg.contains("s3cret"), "{msg}");
        let (_, msg) = validate(&dbs("x: {url: 'sqlite://f.db'}"), &BTreeMap::new()).unwrap_err();
        assert!(msg.contains("postgres://"), "{msg}");
        // A user without a password in the URL is fine.
        validate(
            &dbs("m: {url: 'mysql://reader@h:3306/app'}"),
            &BTreeMap::new(),
        )
        .expect("ok");
    }

    #[test]
    fn checks_credentials_limits_and_grants() {
        let creds: BTreeMap<String, CredentialSpec> = serde_yaml_ng::from_str(
            "tok: {type: bearer, hosts: ['https://a'], token: t}\nb: {type: basic, hosts: ['https://a'], username: u, password: p}",
        )
        .expect("parses");
        let (key, msg) =
            validate(&dbs("d: {url: 'mysql://h/a', credential: tok}"), &creds).unwrap_err();
        assert_eq!(key, "databases.d.credential");
        assert!(msg.contains("basic"), "{msg}");
        validate(&dbs("d: {url: 'mysql://h/a', credential: b}"), &creds).expect("ok");
        let (key, _) = validate(
            &dbs("d: {url: 'mysql://h/a', max_connections: 0}"),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(key, "databases.d.max_connections");
        let (key, msg) = validate_grants(
            &["nope".to_owned()],
            &dbs("d: {url: 'mysql://h/a'}"),
            &|k| format!("connectors[0].{k}"),
        )
        .unwrap_err();
        assert_eq!(key, "connectors[0].grants.databases[0]");
        assert!(msg.contains("defined: d"), "{msg}");
        assert!(
            serde_yaml_ng::from_str::<BTreeMap<String, DatabaseSpec>>("d: {url: x, pasword: y}")
                .is_err()
        );
    }
}
