//! `config.yml`: Elastic's connector-service keys as they are, plus Inlet's standalone sections.
//!
//! Loading goes YAML text → YAML value → `${ENV}` interpolation → dotted keys expanded
//! (`elasticsearch.host: x` means `elasticsearch: {host: x}`, as Elastic allows) → typed
//! [`Config`]. Every error names the key path; unknown keys are collected as warnings because
//! Elastic's file has sections Inlet does not use (`sources`, `extraction_service`).

pub mod credentials;
pub mod databases;
mod interpolate;
mod keys;
mod model;

use std::path::{Path, PathBuf};

pub use keys::{ConnectorKey, warn_undeclared};
pub use model::*;
use serde_yaml_ng::Value;

/// A problem with the configuration file, always naming the key path when there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The cause is part of the message and not a `source()`: `{:#}` printing would say it
    // twice ("cannot read x: No such file…: No such file…").
    /// The file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file, as given to [`load`].
        path: PathBuf,
        /// Why reading it failed.
        error: std::io::Error,
    },
    /// The text is not YAML at all; the YAML error has the line and column.
    #[error("{path} is not valid YAML: {error}")]
    Yaml {
        /// The file, as given to [`load`].
        path: PathBuf,
        /// The parser's error, with its position.
        error: serde_yaml_ng::Error,
    },
    /// A value is wrong: a type, a missing `${ENV}` variable, or a check across keys.
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        /// The file, as given to [`load`].
        path: PathBuf,
        /// The key path, e.g. `connectors[0].limits.memory_mib`, or `(top level)`.
        key: String,
        /// What is wrong and, where it can, what to write instead; never a secret's value.
        message: String,
    },
}

/// A loaded configuration plus what the loader noticed but did not reject.
#[derive(Debug)]
pub struct Loaded {
    /// The validated configuration.
    pub config: Config,
    /// The file the configuration came from; relative paths in it are relative to its folder.
    pub path: PathBuf,
    /// Keys Inlet does not know, as `a.b.c` paths.
    pub unknown_keys: Vec<String>,
}

impl Loaded {
    /// The folder relative paths in the file are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        self.path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Resolves a path from the file against its folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir().join(p)
        }
    }
}

/// Reads, interpolates and validates a configuration file.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    let (config, unknown_keys) =
        parse(&text, &|name| std::env::var(name).ok()).map_err(|e| match e {
            ParseError::Yaml(error) => ConfigError::Yaml {
                path: path.to_path_buf(),
                error,
            },
            ParseError::Invalid { key, message } => ConfigError::Invalid {
                path: path.to_path_buf(),
                key,
                message,
            },
        })?;
    Ok(Loaded {
        config,
        path: path.to_path_buf(),
        unknown_keys,
    })
}

#[derive(Debug)]
enum ParseError {
    Yaml(serde_yaml_ng::Error),
    Invalid { key: String, message: String },
}

fn parse(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Config, Vec<String>), ParseError> {
    let mut value: Value = serde_yaml_ng::from_str(text).map_err(ParseError::Yaml)?;
    if value.is_null() {
        value = Value::Mapping(Default::default());
    }
    interpolate::interpolate(&mut value, env, &mut Vec::new())
        .map_err(|(key, message)| ParseError::Invalid { key, message })?;
    let value = expand_dotted_keys(value);

    let mut unknown = Vec::new();
    let mut record = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let ignored = serde_ignored::Deserializer::new(value, &mut record);
    let config: Config = serde_path_to_error::deserialize(ignored).map_err(|e| {
        let key = e.path().to_string();
        ParseError::Invalid {
            key: if key == "." {
                "(top level)".into()
            } else {
                key
            },
            message: e.into_inner().to_string(),
        }
    })?;
    config
        .validate()
        .map_err(|(key, message)| ParseError::Invalid { key, message })?;
    Ok((config, unknown))
}

/// `a.b: 1` → `a: {b: 1}`, merged with any `a:` mapping already there. Keys inside a connector's
/// `configuration` are left alone: they belong to the plugin.
fn expand_dotted_keys(value: Value) -> Value {
    match value {
        Value::Mapping(map) => {
            let mut out = serde_yaml_ng::Mapping::new();
            for (k, v) in map {
                let key_str = k.as_str().map(str::to_owned);
                let v = if key_str.as_deref() == Some("configuration") {
                    v
                } else {
                    expand_dotted_keys(v)
                };
                match key_str {
                    Some(s) if is_dotted(&s) => {
                        let mut parts: Vec<&str> = s.split('.').collect();
                        let first = parts.remove(0);
                        let nested = parts.iter().rev().fold(v, |inner, part| {
                            Value::Mapping(
                                [(Value::String((*part).to_owned()), inner)]
                                    .into_iter()
                                    .collect(),
                            )
                        });
                        merge_into(&mut out, Value::String(first.to_owned()), nested);
                    }
                    _ => merge_into(&mut out, k, v),
                }
            }
            Value::Mapping(out)
        }
        Value::Sequence(seq) => Value::Sequence(seq.into_iter().map(expand_dotted_keys).collect()),
        other => other,
    }
}

fn is_dotted(key: &str) -> bool {
    key.contains('.') && key.split('.').all(|part| !part.is_empty())
}

fn merge_into(map: &mut serde_yaml_ng::Mapping, key: Value, value: Value) {
    match (map.get_mut(&key), value) {
        (Some(Value::Mapping(existing)), Value::Mapping(incoming)) => {
            for (k, v) in incoming {
                merge_into(existing, k, v);
            }
        }
        (_, value) => {
            map.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> (Config, Vec<String>) {
        parse(text, &|name| {
            (name == "ES_KEY").then(|| "s3cr3t".to_owned())
        })
        .expect("parses")
    }

    fn parse_err(text: &str) -> (String, String) {
        match parse(text, &|_| None) {
            Err(ParseError::Invalid { key, message }) => (key, message),
            other => panic!("expected an invalid-key error, got {other:?}"),
        }
    }

    #[test]
    fn elastic_shape_with_dotted_keys_and_env() {
        let (c, unknown) = parse_ok(
            "elasticsearch.host: http://es:9200\n\
             elasticsearch.api_key: ${ES_KEY}\n\
             elasticsearch:\n  bulk:\n    chunk_size: 700\n\
             service.idling: 5\n\
             sources:\n  dir: connectors.sources.directory:DirectoryDataSource\n\
             connectors:\n  - connector_id: abc\n    service_type: dir\n    api_key: k\n",
        );
        let es = c.elasticsearch.expect("elasticsearch section");
        assert_eq!(es.host.as_deref(), Some("http://es:9200"));
        use secrecy::ExposeSecret;
        assert_eq!(
            es.api_key.as_ref().map(|k| k.expose_secret().to_owned()),
            Some("s3cr3t".into())
        );
        assert_eq!(es.bulk.chunk_size, Some(700));
        assert_eq!(c.service.idling, 5);
        assert_eq!(c.connectors[0].connector_id, "abc");
        assert_eq!(c.connectors[0].index_name(), "search-abc");
        assert_eq!(unknown, vec!["sources".to_owned()]);
    }

    #[test]
    fn a_connectors_debug_print_shows_configuration_keys_not_values() {
        let (c, _) = parse_ok(
            "connectors:\n  - connector_id: sp\n    service_type: sharepoint_online\n    api_key: ${ES_KEY}\n    configuration:\n      secret_value: hunter2-form-secret\n",
        );
        let printed = format!("{:?}", c.connectors[0]);
        assert!(printed.contains("secret_value"), "{printed}");
        assert!(!printed.contains("hunter2-form-secret"), "{printed}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
    }

    #[test]
    fn wrong_type_names_the_key_path() {
        let (key, message) = parse_err(
            "connectors:\n  - connector_id: a\n    service_type: dir\n    limits:\n      memory_mib: lots\n",
        );
        assert_eq!(key, "connectors[0].limits.memory_mib");
        assert!(message.contains("invalid type"), "{message}");
    }

    #[test]
    fn missing_env_var_names_key_and_variable() {
        let (key, message) = parse_err("elasticsearch:\n  api_key: ${NOPE}\n");
        assert_eq!(key, "elasticsearch.api_key");
        assert!(message.contains("NOPE"), "{message}");
    }

    #[test]
    fn duplicate_connector_ids_are_rejected() {
        let (key, message) = parse_err(
            "connectors:\n  - {connector_id: a, service_type: dir}\n  - {connector_id: a, service_type: dir}\n",
        );
        assert_eq!(key, "connectors[1].connector_id");
        assert!(message.contains("duplicate"), "{message}");
    }

    #[test]
    fn bad_cron_is_rejected_with_its_key() {
        let (key, message) = parse_err(
            "connectors:\n  - connector_id: a\n    service_type: dir\n    schedule:\n      full: every day\n",
        );
        assert_eq!(key, "connectors[0].schedule.full");
        assert!(message.contains("cron"), "{message}");
    }

    #[test]
    fn a_bad_database_tls_block_names_its_key_and_the_choices() {
        let db =
            |tls: &str| format!("databases:\n  crm:\n    url: postgres://db/crm\n    tls:\n{tls}");
        let (key, message) = parse_err(&db("      mode: verify_full\n"));
        assert_eq!(key, "databases.crm.tls.mode");
        assert!(
            message.contains("disable, prefer, require, verify-ca, verify-full")
                && message.contains("did you mean verify-full?"),
            "{message}"
        );
        let (key, message) = parse_err(&db("      mode: require\n      ca_file: ca.pem\n"));
        assert_eq!(key, "databases.crm.tls.ca_file");
        assert!(message.contains("verify-ca and verify-full"), "{message}");
        let (key, message) = parse_err(&db("      mode: verify-full\n      ca: ca.pem\n"));
        assert_eq!(key, "databases.crm.tls.ca");
        assert!(
            message.contains("unknown field `ca`") && message.contains("`ca_file`"),
            "{message}"
        );
        let (c, _) = parse_ok(&db("      ca_file: ca.pem\n"));
        let tls = c.databases["crm"].tls.as_ref().expect("tls");
        assert_eq!(tls.mode, databases::TlsMode::VerifyFull);
    }

    #[test]
    fn empty_file_is_a_valid_embedded_setup() {
        let (c, _) = parse_ok("");
        assert!(c.elasticsearch.is_none());
        assert!(c.connectors.is_empty());
    }

    /// Random `config.yml` files made of Elastic's and Inlet's keys, with values of every YAML
    /// type and `${ENV}` forms: the loader never panics, and every value it refuses is named
    /// by its key path.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Keys of every level of the file, so random trees reach deep paths; some dotted.
        const KEYS: &[&str] = &[
            "elasticsearch",
            "host",
            "cloud_id",
            "api_key",
            "username",
            "password",
            "ssl",
            "verify_certs",
            "bulk",
            "chunk_size",
            "chunk_max_mem_size",
            "max_concurrency",
            "max_retries",
            "retry_interval",
            "service",
            "idling",
            "heartbeat",
            "max_concurrent_content_syncs",
            "log_level",
            "metrics",
            "listen",
            "connectors",
            "connector_id",
            "service_type",
            "index_name",
            "configuration",
            "schedule",
            "full",
            "incremental",
            "access_control",
            "limits",
            "memory_mib",
            "call_timeout_secs",
            "max_document_bytes",
            "max_batch_docs",
            "max_state_keys",
            "max_state_bytes",
            "grants",
            "files",
            "http",
            "http_limits",
            "credentials",
            "databases",
            "tls",
            "mode",
            "ca_file",
            "sha256",
            "sync_rules",
            "basic",
            "advanced",
            "pipeline",
            "name",
            "inlet",
            "data_dir",
            "plugins_dir",
            "cache_dir",
            "protocol",
            "sources",
            "extraction_service",
            "elasticsearch.host",
            "elasticsearch.bulk.chunk_size",
            "service.idling",
            "inlet.limits.memory_mib",
            "limits.memory_mib",
            "a..b",
            ".",
            "",
        ];

        fn leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| Value::Number(n.into())),
                (0u64..100_000).prop_map(|n| Value::Number(n.into())),
                any::<f64>().prop_map(|f| Value::Number(f.into())),
                prop::sample::select(vec![
                    "",
                    "lots",
                    "dir",
                    "abc",
                    "http://127.0.0.1:9200",
                    "0 0 * * * ?",
                    "every day",
                    "standalone",
                    "kibana",
                    "/tmp",
                    "${ES_KEY}",
                    "${NOPE}",
                    "${NOPE:-fallback}",
                    "${",
                    "${A",
                    "${A:-",
                    "$${ES_KEY}",
                    "x${ES_KEY}y",
                    "${ES_KEY:-}",
                    "*.example.com",
                    "info",
                    "verify-full",
                    "verify_full",
                    "-1",
                    "1e400",
                ])
                .prop_map(|s| Value::String(s.to_owned())),
                "\\PC{0,16}".prop_map(Value::String),
            ]
        }

        fn tree() -> impl Strategy<Value = Value> {
            leaf().prop_recursive(5, 48, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Sequence),
                    prop::collection::vec((prop::sample::select(KEYS), inner), 0..5).prop_map(
                        |entries| {
                            Value::Mapping(
                                entries
                                    .into_iter()
                                    .map(|(k, v)| (Value::String(k.to_owned()), v))
                                    .collect(),
                            )
                        }
                    ),
                ]
            })
        }

        /// A connector entry that is often nearly right, so validation past the types runs.
        fn connector() -> impl Strategy<Value = Value> {
            (
                prop::sample::select(vec!["a", "b", "a", ""]),
                prop::sample::select(vec!["dir", "loadgen", ""]),
                prop::collection::vec((prop::sample::select(KEYS), tree()), 0..4),
            )
                .prop_map(|(id, service_type, extra)| {
                    let mut m = serde_yaml_ng::Mapping::new();
                    m.insert("connector_id".into(), id.into());
                    m.insert("service_type".into(), service_type.into());
                    for (k, v) in extra {
                        m.insert(k.into(), v);
                    }
                    Value::Mapping(m)
                })
        }

        fn file() -> impl Strategy<Value = String> {
            (
                prop::collection::vec((prop::sample::select(KEYS), tree()), 0..5),
                prop::option::of(prop::collection::vec(connector(), 0..3)),
            )
                .prop_map(|(top, connectors)| {
                    let mut m: serde_yaml_ng::Mapping = top
                        .into_iter()
                        .map(|(k, v)| (Value::String(k.to_owned()), v))
                        .collect();
                    if let Some(c) = connectors {
                        m.insert("connectors".into(), Value::Sequence(c));
                    }
                    serde_yaml_ng::to_string(&Value::Mapping(m)).unwrap_or_default()
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1000))]

            #[test]
            fn never_panics_and_every_refusal_names_its_key(text in file()) {
                let outcome = parse(&text, &|name| (name == "ES_KEY").then(|| "s3cr3t".to_owned()));
                if let Err(ParseError::Invalid { key, message }) = outcome {
                    prop_assert!(!message.is_empty(), "{}", text);
                    // A path into the file (`connectors[0].limits.memory_mib`), or the file as
                    // a whole when its top level is the wrong shape. (A key the file spells
                    // `.` is named as written, like any other.)
                    let spelled = text.lines().any(|l| l.trim_start().starts_with(&format!("{key}:")));
                    prop_assert!(
                        !key.is_empty() && (key != "." || spelled),
                        "key {:?} in\n{}",
                        key,
                        text
                    );
                    if key != "(top level)" {
                        let first = key
                            .split(['.', '['])
                            .next()
                            .unwrap_or_default();
                        let named = text.lines().any(|l| {
                            let l = l.trim_start_matches([' ', '-']);
                            l.starts_with(first) || l.trim_start_matches('\'').starts_with(first)
                        });
                        prop_assert!(named, "key {:?} is not a key of\n{}", key, text);
                    }
                }
            }
        }
    }
}
