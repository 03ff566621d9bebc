//! TLS to databases: which setting applies to a connection, and the driver options that carry
//! it out.
//!
//! Precedence, most explicit first:
//! 1. `databases.<name>.tls` in config.yml;
//! 2. the url's own `sslmode`/`ssl-mode` (PostgreSQL: also `PGSSLMODE`), which the driver
//!    reads;
//! 3. the connector's form: Elastic's `ssl_enabled: true` asks for `verify-full`, trusting the
//!    PEM text of `ssl_ca` besides the platform's roots;
//! 4. none of these: plain text, as before TLS was supported. Not the driver's opportunistic
//!    `prefer`: that would now try TLS and fail where a server's TLS is one rustls refuses (TLS
//!    1.0/1.1 on an old MySQL), breaking connections that worked.
//!
//! config.yml outranks the form because the form can be edited in Kibana by people who do not
//! run the host.

use std::path::Path;
use std::sync::Arc;

use inlet_policy::config::databases::{DatabaseSpec, Engine, TlsMode};

/// PEM certificates to trust, checked when they were read.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Pem(Arc<[u8]>);

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pem({} bytes)", self.0.len())
    }
}

impl Pem {
    /// Checks that `bytes` hold at least one certificate usable as a trust anchor, so a wrong
    /// file fails when it is read rather than at every connection.
    pub(crate) fn parse(bytes: Vec<u8>) -> Result<Pem, String> {
        crate::trust::ca_bundle(&bytes)?;
        Ok(Pem(bytes.into()))
    }

    fn to_vec(&self) -> Vec<u8> {
        self.0.to_vec()
    }
}

/// `databases.<name>.tls` with its CA file read.
#[derive(Debug, Clone)]
pub(crate) struct Configured {
    pub mode: TlsMode,
    pub ca: Option<Pem>,
}

/// Why `databases.<name>.tls.ca_file` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    // `cause` is in the message and deliberately not a `source`: error chains would print it
    // twice.
    /// The file could not be read.
    #[error("`databases.{name}.tls.ca_file`: cannot read {path}: {cause}")]
    Read {
        /// The database's key under `databases:`.
        name: String,
        /// The file, resolved against config.yml's directory.
        path: String,
        /// Why reading it failed.
        cause: std::io::Error,
    },
    /// The file was read but holds no usable certificate.
    #[error("`databases.{name}.tls.ca_file`: {path} {reason}")]
    Invalid {
        /// The database's key under `databases:`.
        name: String,
        /// The file, resolved against config.yml's directory.
        path: String,
        /// What is wrong with it, as the rest of a sentence starting with the path.
        reason: String,
    },
}

/// Reads a database's `tls:` block (its CA file relative to `base_dir`).
pub(crate) fn configured(
    name: &str,
    spec: &DatabaseSpec,
    base_dir: &Path,
) -> Result<Option<Configured>, CaFileError> {
    let Some(tls) = &spec.tls else {
        return Ok(None);
    };
    let ca = match &tls.ca_file {
        None => None,
        Some(p) => {
            let path = if p.is_absolute() {
                p.clone()
            } else {
                base_dir.join(p)
            };
            let shown = path.display().to_string();
            let bytes = std::fs::read(&path).map_err(|cause| CaFileError::Read {
                name: name.to_owned(),
                path: shown.clone(),
                cause,
            })?;
            Some(Pem::parse(bytes).map_err(|reason| CaFileError::Invalid {
                name: name.to_owned(),
                path: shown,
                reason,
            })?)
        }
    };
    Ok(Some(Configured { mode: tls.mode, ca }))
}

/// Whether the url (or, for PostgreSQL, libpq's `PGSSLMODE`, which the driver also reads) sets
/// TLS itself.
pub(crate) fn url_decides(spec: &DatabaseSpec, engine: Engine) -> bool {
    spec.url_tls_key().is_some()
        || (engine == Engine::Postgres && std::env::var_os("PGSSLMODE").is_some())
}

/// Elastic's `ssl_enabled` / `ssl_ca` form fields of a connector, as the operator filled them in
/// (config.yml `configuration:` or Kibana's form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FormTls {
    /// `ssl_enabled` is not true.
    Off,
    /// `ssl_enabled: true`, with `ssl_ca`'s certificates when given.
    Verify(Option<Pem>),
    /// `ssl_enabled: true` with an `ssl_ca` that cannot be used.
    Invalid(String),
}

impl FormTls {
    pub(crate) fn from_configuration(
        configuration: &serde_json::Map<String, serde_json::Value>,
    ) -> FormTls {
        use serde_json::Value;
        // Kibana's toggle stores a boolean; a hand-written config.yml may quote it.
        let enabled = match configuration.get("ssl_enabled") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
            _ => false,
        };
        if !enabled {
            return FormTls::Off;
        }
        // The form carries the certificate itself, not a path (as Elastic's connectors read it).
        match configuration.get("ssl_ca") {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                match Pem::parse(s.as_bytes().to_vec()) {
                    Ok(pem) => FormTls::Verify(Some(pem)),
                    Err(reason) => FormTls::Invalid(format!("`ssl_ca` {reason}")),
                }
            }
            Some(Value::String(_) | Value::Null) | None => FormTls::Verify(None),
            Some(_) => FormTls::Invalid("`ssl_ca` must be the PEM text of a certificate".into()),
        }
    }
}

/// The TLS a connection is opened with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tls {
    /// The url's own setting: the driver's parse of it stands.
    FromUrl,
    Set {
        mode: TlsMode,
        ca: Option<Pem>,
    },
}

/// What applies to one database for one connector, by the precedence of the module
/// documentation. An unusable `ssl_ca` fails only when the form is what decides.
pub(crate) fn choose(
    configured: Option<&Configured>,
    url_decides: bool,
    form: &FormTls,
) -> Result<Tls, String> {
    if let Some(c) = configured {
        return Ok(Tls::Set {
            mode: c.mode,
            ca: c.ca.clone(),
        });
    }
    if url_decides {
        return Ok(Tls::FromUrl);
    }
    match form {
        FormTls::Off => Ok(Tls::Set {
            mode: TlsMode::Disable,
            ca: None,
        }),
        FormTls::Verify(ca) => Ok(Tls::Set {
            mode: TlsMode::VerifyFull,
            ca: ca.clone(),
        }),
        FormTls::Invalid(reason) => Err(reason.clone()),
    }
}

/// True when the form asks for verified TLS but config.yml decides something weaker: worth a
/// warning, since the form's toggle then does not do what it says.
pub(crate) fn form_overridden(
    configured: Option<&Configured>,
    url_decides: bool,
    form: &FormTls,
) -> bool {
    let config_decides = match configured {
        Some(c) => c.mode != TlsMode::VerifyFull,
        None => url_decides,
    };
    config_decides && *form != FormTls::Off
}

pub(crate) fn apply_pg(
    o: sqlx::postgres::PgConnectOptions,
    tls: &Tls,
) -> sqlx::postgres::PgConnectOptions {
    use sqlx::postgres::PgSslMode;
    let Tls::Set { mode, ca } = tls else {
        return o;
    };
    let o = o.ssl_mode(match mode {
        TlsMode::Disable => PgSslMode::Disable,
        TlsMode::Prefer => PgSslMode::Prefer,
        TlsMode::Require => PgSslMode::Require,
        TlsMode::VerifyCa => PgSslMode::VerifyCa,
        TlsMode::VerifyFull => PgSslMode::VerifyFull,
    });
    match ca {
        Some(pem) => o.ssl_root_cert_from_pem(pem.to_vec()),
        None => o,
    }
}

pub(crate) fn apply_mysql(
    o: sqlx::mysql::MySqlConnectOptions,
    tls: &Tls,
) -> sqlx::mysql::MySqlConnectOptions {
    use sqlx::mysql::MySqlSslMode;
    let Tls::Set { mode, ca } = tls else {
        return o;
    };
    let o = o.ssl_mode(match mode {
        TlsMode::Disable => MySqlSslMode::Disabled,
        TlsMode::Prefer => MySqlSslMode::Preferred,
        TlsMode::Require => MySqlSslMode::Required,
        TlsMode::VerifyCa => MySqlSslMode::VerifyCa,
        TlsMode::VerifyFull => MySqlSslMode::VerifyIdentity,
    });
    match ca {
        Some(pem) => o.ssl_ca_from_pem(pem.to_vec()),
        None => o,
    }
}

fn as_rustls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    e.downcast_ref::<rustls::Error>()
}

/// An actionable message for a driver error that is a TLS failure, `None` for any other.
pub(crate) fn failure_message(database: &str, e: &sqlx::Error) -> Option<String> {
    let (text, cause) = match e {
        sqlx::Error::Tls(inner) => (inner.to_string(), as_rustls(inner.as_ref()).cloned()),
        // rustls reports a failed handshake as an I/O error wrapping its own.
        sqlx::Error::Io(io) => {
            let cause = io.get_ref().and_then(|inner| as_rustls(inner)).cloned()?;
            (cause.to_string(), Some(cause))
        }
        _ => return None,
    };
    let settings = format!(
        "`databases.{database}.tls` in config.yml (or, without it, the url's sslmode or the connector's `ssl_enabled`/`ssl_ca`)"
    );
    Some(match cause {
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName
            | rustls::CertificateError::NotValidForNameContext { .. },
        )) => format!(
            "database `{database}`: TLS certificate verification failed: the server's certificate does not name the url's host ({text}); connect by a name the certificate carries, or relax the check to verify-ca in {settings}"
        ),
        Some(rustls::Error::InvalidCertificate(_)) => format!(
            "database `{database}`: TLS certificate verification failed ({text}): trust the CA that signed the server's certificate with `databases.{database}.tls.ca_file` in config.yml (or the connector's `ssl_ca` when config.yml sets no TLS)"
        ),
        _ => format!("database `{database}`: TLS failed: {text}; TLS is set by {settings}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA certificate (openssl, P-256, CN "Inlet unit test CA"); only parsed.
    const CA: &str = "-----BEGIN CERTIFICATE-----
MIIBkTCCATegAwIBAgIUI5tni4a9eYQ90FPzAH8Y923vPL4wCgYIKoZIzj0EAwIw
HTEbMBkGA1UEAwwSSW5sZXQgdW5pdCB0ZXN0IENBMCAXDTI2MTIwMjE2MjQwOFoY
DzIxMjYxMTA4MTYyNDA4WjAdMRswGQYDVQQDDBJJbmxldCB1bml0IHRlc3QgQ0Ew
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASXSfga7CotdPn8GeYO5Ml+Yx/QUDob
lSPeoToVvWLPQRQsphq629A/sl88j+8EslIY3aUgaFZC4CpJVJrRPvvso1MwUTAd
BgNVHQ4EFgQUTeDNezUjkvDvdV+WptcKPPvxnAQwHwYDVR0jBBgwFoAUTeDNezUj
kvDvdV+WptcKPPvxnAQwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBF
AiA8rTnLTfvvWldrBYfKyxKpKgznjWXKw7TSjP28V7HHbQIhAMT+97r7bjqrxvIw
zCZNwJpDFJM9AKJx5O84PR5BHehW
-----END CERTIFICATE-----
";

    fn form(pairs: serde_json::Value) -> FormTls {
        FormTls::from_configuration(pairs.as_object().expect("object"))
    }

    #[test]
    fn the_form_asks_for_verify_full_only_when_ssl_enabled_is_true() {
        assert_eq!(form(serde_json::json!({})), FormTls::Off);
        assert_eq!(
            form(serde_json::json!({"ssl_enabled": false, "ssl_ca": "x"})),
            FormTls::Off,
            "ssl_ca depends on ssl_enabled"
        );
        assert_eq!(
            form(serde_json::json!({"ssl_enabled": true, "ssl_ca": ""})),
            FormTls::Verify(None)
        );
        assert_eq!(
            form(serde_json::json!({"ssl_enabled": "True"})),
            FormTls::Verify(None)
        );
        let FormTls::Invalid(reason) =
            form(serde_json::json!({"ssl_enabled": true, "ssl_ca": "/etc/ca.pem"}))
        else {
            panic!("a path is not PEM text");
        };
        assert!(
            reason.contains("ssl_ca") && reason.contains("PEM"),
            "{reason}"
        );
        let FormTls::Verify(Some(pem)) =
            form(serde_json::json!({"ssl_enabled": true, "ssl_ca": CA}))
        else {
            panic!("the PEM text of a CA is trusted");
        };
        assert_eq!(pem.to_vec(), CA.as_bytes());
        let truncated = CA.replace("zCZNwJpDFJM9AKJx5O84PR5BHehW\n", "");
        assert!(
            matches!(
                form(serde_json::json!({"ssl_enabled": true, "ssl_ca": truncated})),
                FormTls::Invalid(_)
            ),
            "a damaged certificate is refused"
        );
    }

    #[test]
    fn config_yml_outranks_the_url_which_outranks_the_form() {
        let ca = Pem(Arc::from(&b"pem"[..]));
        let require = Configured {
            mode: TlsMode::Require,
            ca: None,
        };
        let verify = FormTls::Verify(Some(ca.clone()));
        let set = |mode, ca| Tls::Set { mode, ca };
        assert_eq!(
            choose(Some(&require), true, &verify),
            Ok(set(TlsMode::Require, None))
        );
        assert!(form_overridden(Some(&require), false, &verify));
        assert_eq!(choose(None, true, &verify), Ok(Tls::FromUrl));
        assert!(form_overridden(None, true, &verify));
        assert_eq!(
            choose(None, false, &verify),
            Ok(set(TlsMode::VerifyFull, Some(ca)))
        );
        assert!(!form_overridden(None, false, &verify));
        assert_eq!(
            choose(None, false, &FormTls::Off),
            Ok(set(TlsMode::Disable, None)),
            "plain, as before TLS was supported"
        );
        let bad = FormTls::Invalid("`ssl_ca` holds no PEM certificate".into());
        assert!(choose(None, false, &bad).is_err());
        assert!(
            choose(Some(&require), false, &bad).is_ok(),
            "not used, not checked"
        );
    }

    #[test]
    fn a_ca_file_is_read_and_checked_naming_key_and_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spec = |yaml: &str| -> DatabaseSpec {
            serde_yaml_ng::from_str(&format!("{{url: 'postgres://h/a', tls: {yaml}}}"))
                .expect("parses")
        };
        let err = configured("crm", &spec("{ca_file: missing.pem}"), dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("`databases.crm.tls.ca_file`: cannot read")
                && text.contains(&dir.path().join("missing.pem").display().to_string()),
            "{text}"
        );
        std::fs::write(dir.path().join("key.pem"), "not a certificate").expect("write");
        let text = configured("crm", &spec("{ca_file: key.pem}"), dir.path())
            .unwrap_err()
            .to_string();
        assert!(text.contains("key.pem holds no PEM certificate"), "{text}");
        std::fs::write(dir.path().join("ca.pem"), CA).expect("write");
        let found = configured("crm", &spec("{ca_file: ca.pem}"), dir.path()).expect("a CA");
        assert!(
            found.is_some_and(|c| c.mode == TlsMode::VerifyFull && c.ca.is_some()),
            "relative to the config file's folder"
        );
        let none = configured("crm", &spec("{mode: require}"), dir.path()).expect("no file");
        assert_eq!(none.map(|c| (c.mode, c.ca)), Some((TlsMode::Require, None)));
    }

    #[test]
    fn certificate_failures_name_the_database_and_what_to_set() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let m = failure_message("crm", &sqlx::Error::Io(io)).expect("a TLS failure");
        assert!(
            m.contains("database `crm`")
                && m.contains("certificate verification failed")
                && m.contains("databases.crm.tls.ca_file")
                && m.contains("ssl_ca"),
            "{m}"
        );
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName),
        );
        let m = failure_message("crm", &sqlx::Error::Io(io)).expect("a TLS failure");
        assert!(
            m.contains("does not name the url's host") && m.contains("verify-ca"),
            "{m}"
        );
        let m = failure_message(
            "crm",
            &sqlx::Error::Tls("server does not support TLS".into()),
        )
        .expect("a TLS failure");
        assert!(
            m.contains("server does not support TLS") && m.contains("databases.crm.tls"),
            "{m}"
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(failure_message("crm", &sqlx::Error::Io(refused)), None);
    }
}
