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
//!     tls:                                 # optional; see below
//!       mode: verify-full                  # disable | prefer | require | verify-ca | verify-full
//!       ca_file: /etc/inlet/crm-ca.pem     # PEM bundle trusted besides the platform's roots
//! connectors:
//!   - connector_id: crm
//!     service_type: postgresql
//!     grants:
//!       databases: [crm]
//! ```
//!
//! The password stays a [`SecretSource`] here; it is read (and files opened) when the SQL broker
//! is built, and never shown in a message.
//!
//! TLS: a `tls:` block decides (its `mode` defaults to `verify-full`). Without one, the url's own
//! `sslmode`/`ssl-mode` does, as the driver reads it; without either, the connector's form
//! (Elastic's `ssl_enabled`/`ssl_ca`) may ask for `verify-full`; else the connection is plain,
//! as before TLS was supported (see the SQL broker).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::credentials::{CredentialKind, CredentialSpec, SecretSource};

// Defaults of a database entry's limits.
const DEFAULT_MAX_CONNECTIONS: u32 = 4;
const DEFAULT_QUERY_TIMEOUT_SECS: u64 = 60;
const DEFAULT_MAX_ROWS: u64 = 10_000_000;
const DEFAULT_MAX_ROW_BYTES: u64 = 16 * 1024 * 1024;

/// One entry of the top-level `databases:` map.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    /// `postgres://host[:port]/database[?options]` or `mysql://host[:port]/database`, without
    /// a password (use `password` or `credential`, which are kept out of logs).
    pub url: String,
    /// The database user, unless `credential` gives it.
    pub username: Option<String>,
    /// The user's password (a value, `${ENV}` or `{file: path}`); not together with
    /// `credential`.
    pub password: Option<SecretSource>,
    /// A `basic` entry of the top-level `credentials:` holding the username and password.
    pub credential: Option<String>,
    /// Pooled connections per connector; each open row stream holds one until it ends
    /// (default 4).
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Longest wait for the database, in seconds: acquiring a connection, the first row, each
    /// next row (default 60).
    #[serde(default = "default_query_timeout")]
    pub query_timeout_secs: u64,
    /// Rows one query may return before it is stopped with an error (default 10,000,000).
    #[serde(default = "default_max_rows")]
    pub max_rows: u64,
    /// Largest single row, in bytes, handed to a plugin (default 16 MiB).
    #[serde(default = "default_max_row_bytes")]
    pub max_row_bytes: u64,
    /// Only statements that read (SELECT, WITH, SHOW, EXPLAIN...), each run inside a read-only
    /// transaction that is rolled back, on a session reset before it is reused (see the SQL
    /// broker). Default `true`; `false` lets plugins write.
    #[serde(default = "yes")]
    pub read_only: bool,
    /// How the connection is protected; absent, the url's `sslmode` or the connector's form
    /// decide (see the module documentation).
    pub tls: Option<TlsSpec>,
}

/// `databases.<name>.tls`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSpec {
    /// Absent: `verify-full`, since a `tls:` block is written to protect the connection.
    #[serde(default)]
    pub mode: TlsMode,
    /// PEM bundle of the CA(s) that sign the server's certificate (a private or managed
    /// service's CA), trusted besides the platform's roots. Relative to the config file; read
    /// when the SQL broker is built.
    pub ca_file: Option<PathBuf>,
}

/// libpq's `sslmode` names, which MySQL's `ssl-mode` values map onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "String")]
pub enum TlsMode {
    /// Plain text.
    Disable,
    /// TLS when the server offers it, without checking its certificate; plain otherwise.
    Prefer,
    /// TLS, without checking the certificate: encrypted, not authenticated.
    Require,
    /// TLS with a certificate signed by a trusted CA, for any host name.
    VerifyCa,
    /// TLS with a certificate signed by a trusted CA for the url's host (MySQL's
    /// `VERIFY_IDENTITY`).
    #[default]
    VerifyFull,
}

impl TlsMode {
    /// Every mode as config.yml spells it, for the error that lists the choices.
    pub(crate) const NAMES: &[&str] = &["disable", "prefer", "require", "verify-ca", "verify-full"];

    /// The mode as config.yml spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the server's certificate is checked against trusted CAs.
    pub(crate) fn verifies(self) -> bool {
        matches!(self, TlsMode::VerifyCa | TlsMode::VerifyFull)
    }
}

impl TryFrom<String> for TlsMode {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        let mode = match value.as_str() {
            "disable" => TlsMode::Disable,
            "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            _ => {
                return Err(format!(
                    "unknown TLS mode {value:?}; expected one of {}{}",
                    TlsMode::NAMES.join(", "),
                    mode_hint(&value)
                ));
            }
        };
        Ok(mode)
    }
}

/// The mode a misspelt one likely meant: MySQL's names (`VERIFY_IDENTITY`, `REQUIRED`) and
/// underscores or capitals are the likeliest mistakes.
fn mode_hint(value: &str) -> String {
    let normal = value.to_ascii_lowercase().replace('_', "-");
    let meant = match normal.as_str() {
        "verify-identity" => "verify-full",
        "disabled" => "disable",
        "preferred" => "prefer",
        "required" => "require",
        other => match TlsMode::NAMES.iter().find(|n| **n == other) {
            Some(name) => name,
            None => return String::new(),
        },
    };
    format!(" (did you mean {meant}?)")
}

/// URL query keys with which the drivers read TLS settings from the url itself.
const URL_TLS_KEYS: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "sslca",
    "ssl-ca",
];

/// The database engine a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `mysql://` or `mariadb://` (MariaDB speaks MySQL's protocol).
    Mysql,
}

impl Engine {
    /// `postgres` or `mysql`: the SQL dialect a plugin's connection reports.
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

    /// The first TLS setting the url's query carries (`sslmode`, `ssl-ca`...), if any.
    pub fn url_tls_key(&self) -> Option<&str> {
        let (_, query) = self.url.split_once('?')?;
        query
            .split('&')
            .map(|pair| pair.split_once('=').map_or(pair, |(k, _)| k))
            .find(|k| URL_TLS_KEYS.contains(k))
    }
}

/// Checks `databases:` and returns the key path and the reason. Never puts a secret in it.
pub(crate) fn validate(
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
        if let Some(tls) = &spec.tls {
            validate_tls(spec, tls, &at)?;
        }
    }
    Ok(())
}

/// A `tls:` block is the one place TLS is set, and a CA is given only where it is checked.
fn validate_tls(
    spec: &DatabaseSpec,
    tls: &TlsSpec,
    at: &dyn Fn(&str) -> String,
) -> Result<(), (String, String)> {
    if let Some(key) = spec.url_tls_key() {
        // Two sources would leave the operator guessing which one won.
        return Err((
            at("tls"),
            format!("the url also sets `{key}`; set TLS in one place: remove it from the url"),
        ));
    }
    if tls.ca_file.is_some() && !tls.mode.verifies() {
        return Err((
            at("tls.ca_file"),
            format!(
                "a CA is only used by verify-ca and verify-full; with `mode: {}` the server's certificate is not checked",
                tls.mode.name()
            ),
        ));
    }
    Ok(())
}

/// Checks a connector's `grants.databases` against `databases:`.
pub(crate) fn validate_grants(
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

    #[test]
    fn tls_blocks_default_to_verify_full_and_every_mode_parses() {
        let d = dbs("d: {url: 'postgres://h/a', tls: {}}
e: {url: 'mysql://h/a'}");
        validate(&d, &BTreeMap::new()).expect("valid");
        let tls = d["d"].tls.as_ref().expect("tls block");
        assert_eq!(tls.mode, TlsMode::VerifyFull);
        assert!(tls.ca_file.is_none());
        assert!(
            d["e"].tls.is_none(),
            "no block: the url and the form decide"
        );
        for name in TlsMode::NAMES {
            let d = dbs(&format!("d: {{url: 'mysql://h/a', tls: {{mode: {name}}}}}"));
            assert_eq!(d["d"].tls.as_ref().map(|t| t.mode.name()), Some(*name));
        }
    }

    #[test]
    fn a_ca_only_goes_with_a_verifying_mode_and_tls_is_set_in_one_place() {
        let d = dbs("d: {url: 'postgres://h/a', tls: {mode: verify-ca, ca_file: ca.pem}}");
        validate(&d, &BTreeMap::new()).expect("valid");
        let (key, msg) = validate(
            &dbs("d: {url: 'postgres://h/a', tls: {mode: require, ca_file: ca.pem}}"),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(key, "databases.d.tls.ca_file");
        assert!(
            msg.contains("verify-full") && msg.contains("require"),
            "{msg}"
        );
        let (key, msg) = validate(
            &dbs("d: {url: 'postgres://h/a?application_name=x&sslmode=require', tls: {}}"),
            &BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(key, "databases.d.tls");
        assert!(msg.contains("`sslmode`"), "{msg}");
        // Without a block, the url's own setting is the operator's choice.
        let d = dbs("d: {url: 'mysql://h/a?ssl-mode=VERIFY_IDENTITY&ssl-ca=/ca.pem'}");
        validate(&d, &BTreeMap::new()).expect("valid");
        assert_eq!(d["d"].url_tls_key(), Some("ssl-mode"));
        assert_eq!(
            dbs("d: {url: 'mysql://h/a?charset=utf8'}")["d"].url_tls_key(),
            None
        );
    }

    #[test]
    fn a_bad_tls_mode_lists_the_modes() {
        for (bad, hint) in [
            ("verify_full", "(did you mean verify-full?)"),
            ("VERIFY_IDENTITY", "(did you mean verify-full?)"),
            ("required", "(did you mean require?)"),
            ("on", "verify-full"),
        ] {
            let err = serde_yaml_ng::from_str::<BTreeMap<String, DatabaseSpec>>(&format!(
                "d: {{url: 'mysql://h/a', tls: {{mode: {bad}}}}}"
            ))
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("disable, prefer, require, verify-ca, verify-full")
                    && err.contains(bad)
                    && err.contains(hint),
                "{err}"
            );
        }
        let err = serde_yaml_ng::from_str::<BTreeMap<String, DatabaseSpec>>(
            "d: {url: 'mysql://h/a', tls: {mode: require, ca: x.pem}}",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("ca_file"), "unknown keys are refused: {err}");
    }
}
