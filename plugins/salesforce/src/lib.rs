//! Salesforce connector (Elastic's `salesforce` service type) over the Salesforce REST API.
//!
//! Content, as Elastic's connector reads it: the configured standard objects (Account,
//! Opportunity, Contact, Lead, Campaign, Case) with Elastic's fields, relationships and child
//! records, custom objects (every field), and the files linked to them (ContentDocuments, with
//! their bytes as `_attachment`: Elastic's extensions and 10 MiB limit). `_id` = the record's or
//! file's Salesforce Id. Advanced rules: Elastic's SOQL and SOSL queries. Incremental syncs:
//! records whose `SystemModstamp` changed, records deleted since (Salesforce's getDeleted), and
//! changed files (Elastic declares incremental sync for Salesforce but does not implement it).
//!
//! Authentication is the host's: an `oauth2_client_credentials` credential for the org's My
//! Domain, declared by the operator in config.yml (README.md explains why the form's client id
//! and secret cannot become a form credential). The plugin never sees a secret or a token.

mod client;
mod docs;
mod rules;
mod soql;
mod sync;

use inlet_sdk::{
    Config, ConfigField, Connector, DocStream, ErrorKind, Metadata, Result, RulesValidation,
    SyncRequest, error, field, log,
};
use serde_json::Value;

use client::Client;
use sync::{Plan, STANDARD_OBJECTS, Sync};

const WILDCARD: &str = "*";
const DLS_TOOLTIP: &str = "Document level security ensures identities and permissions set in Salesforce are maintained in Elasticsearch. This enables you to restrict and personalize read-access users and groups have to documents in this index. Access control syncs ensure this metadata is kept up to date in your Elasticsearch documents.";

struct Salesforce;

/// The org's REST base URL: `instance_url` if set (Inlet's addition), else
/// `https://<domain>.my.salesforce.com`.
fn base_url(config: &Config) -> Result<String> {
    let instance = config
        .get("instance_url")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .trim_end_matches('/');
    if !instance.is_empty() {
        let ok = instance.split_once("://").is_some_and(|(s, rest)| {
            matches!(s, "http" | "https")
                && !rest.is_empty()
                && !rest.contains(['/', '?', '#', '@'])
        });
        if !ok {
            return Err(error(
                ErrorKind::Config,
                format!(
                    "instance_url must be a scheme and host such as https://acme.my.salesforce.com, not {instance:?}"
                ),
            ));
        }
        return Ok(instance.to_owned());
    }
    let raw = config.str("domain")?;
    let domain = raw
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .trim_end_matches(".my.salesforce.com");
    let valid = !domain.is_empty()
        && domain.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !valid {
        return Err(error(
            ErrorKind::Config,
            format!(
                "domain must be your My Domain name: for https://acme.my.salesforce.com write acme (sandboxes: acme--dev.sandbox); got {raw:?}"
            ),
        ));
    }
    Ok(format!(
        "https://{}.my.salesforce.com",
        domain.to_ascii_lowercase()
    ))
}

/// A list field's values: Kibana sends a list, config.yml may give a comma-separated string.
fn list(config: &Config, key: &str) -> Vec<String> {
    let items: Vec<String> = match config.get(key) {
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect(),
        Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The standard objects to sync, in Elastic's order, and the configured names that are not
/// standard objects (Elastic ignores them; the sync warns).
fn standard_objects(config: &Config) -> (Vec<String>, Vec<String>) {
    let wanted = match config.get("standard_objects_to_sync") {
        None | Some(Value::Null) => STANDARD_OBJECTS.iter().map(|s| (*s).to_owned()).collect(),
        Some(_) => list(config, "standard_objects_to_sync"),
    };
    if wanted.iter().any(|w| w == WILDCARD) {
        return (
            STANDARD_OBJECTS.iter().map(|s| (*s).to_owned()).collect(),
            Vec::new(),
        );
    }
    let unknown = wanted
        .iter()
        .filter(|w| !STANDARD_OBJECTS.contains(&w.as_str()))
        .cloned()
        .collect();
    let objects = STANDARD_OBJECTS
        .iter()
        .filter(|s| wanted.iter().any(|w| w == *s))
        .map(|s| (*s).to_owned())
        .collect();
    (objects, unknown)
}

/// The custom objects to sync (`__c` added as Elastic does), checked against the org.
fn custom_objects(config: &Config, client: &mut Client) -> Result<Vec<String>> {
    if !config.bool("sync_custom_objects") {
        return Ok(Vec::new());
    }
    let wanted: Vec<String> = list(config, "custom_objects_to_sync")
        .into_iter()
        .map(|o| {
            if o == WILDCARD || o.ends_with("__c") {
                o
            } else {
                format!("{o}__c")
            }
        })
        .collect();
    let available = client.custom_objects()?;
    if wanted.iter().any(|w| w == WILDCARD) {
        return Ok(available);
    }
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|w| !available.contains(w))
        .map(|w| w.trim_end_matches("__c"))
        .collect();
    if !missing.is_empty() {
        return Err(error(
            ErrorKind::Config,
            format!("custom_objects_to_sync: Custom objects {missing:?} are not available."),
        ));
    }
    Ok(wanted)
}

fn parse_rules(rules: Option<&str>) -> Result<Vec<rules::Rule>> {
    rules::parse(rules.unwrap_or_default()).map_err(|errors| {
        error(
            ErrorKind::Config,
            format!("advanced sync rules: {}", errors.join("; ")),
        )
    })
}

fn check(config: &Config) -> Result<String> {
    let base = base_url(config)?;
    if config.bool("use_document_level_security") {
        return Err(error(
            ErrorKind::Config,
            "use_document_level_security: document-level security is not supported by this connector yet; turn it off",
        ));
    }
    if config.bool("use_text_extraction_service") {
        log::warn(
            "use_text_extraction_service: Inlet has no text extraction service; file contents are sent as _attachment for the ingest pipeline, and the 10 MiB file size limit stays",
        );
    }
    Ok(base)
}

fn start(request: &SyncRequest, since: Option<String>) -> Result<Box<dyn DocStream>> {
    let config = Config::from(request);
    let base = check(&config)?;
    let rules = parse_rules(request.advanced_rules.as_deref())?;
    let mut client = Client::new(base);
    let (standard, custom) = if rules.is_empty() {
        let (standard, unknown) = standard_objects(&config);
        for name in unknown {
            log::warn(&format!(
                "standard_objects_to_sync: {name:?} is not one of {}; ignored",
                STANDARD_OBJECTS.join(", ")
            ));
        }
        (standard, custom_objects(&config, &mut client)?)
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(Box::new(Sync::new(
        client,
        Plan {
            standard,
            custom,
            rules,
            since,
        },
    )))
}

impl Connector for Salesforce {
    fn metadata() -> Metadata {
        let mut m =
            Metadata::new("salesforce", "Salesforce", env!("CARGO_PKG_VERSION")).incremental();
        m.features.advanced_rules = true;
        m
    }

    fn configuration() -> Vec<ConfigField> {
        vec![
            field("domain", "Domain").order(1).tooltip(
                "The domain for your Salesforce instance. If your Salesforce URL is 'foo.my.salesforce.com', the domain would be 'foo'.",
            ),
            // Elastic's client id and secret (both sensitive): never handed to this plugin, and
            // not turned into a credential by the host (the token endpoint is on the org's own
            // domain, which a form value may not choose). Optional: the operator's config.yml
            // credential carries them (README.md).
            field("client_id", "Client ID")
                .order(2)
                .sensitive()
                .optional()
                .tooltip("The client id for your OAuth2-enabled connected app. Also called 'consumer key'. Inlet reads it from the operator's config.yml credential for the org (see the connector's README); this value is not used."),
            field("client_secret", "Client Secret")
                .order(3)
                .sensitive()
                .optional()
                .tooltip("The client secret for your OAuth2-enabled connected app. Also called 'consumer secret'. Inlet reads it from the operator's config.yml credential for the org (see the connector's README); this value is not used."),
            field("standard_objects_to_sync", "Standard Objects to Sync")
                .list()
                .order(4)
                .default_value(&serde_json::to_string(&STANDARD_OBJECTS.join(", ")).unwrap_or_default())
                .tooltip("The list of Salesforce Standard Objects to sync. Remove any from list to exclude from sync."),
            field("sync_custom_objects", "Sync Custom Objects")
                .toggle()
                .order(5)
                .default_value("false")
                .tooltip("Whether or not to sync custom objects"),
            field("custom_objects_to_sync", "Custom Objects to Sync")
                .list()
                .order(6)
                .depends_on("sync_custom_objects", "true")
                .tooltip("List of custom objects to sync. Use '*' to sync all custom objects. "),
            field("use_text_extraction_service", "Use text extraction service")
                .toggle()
                .order(7)
                .default_value("false")
                .advanced()
                .tooltip("Requires a separate deployment of the Elastic Text Extraction Service. Requires that pipeline settings disable text extraction."),
            field("use_document_level_security", "Enable document level security")
                .toggle()
                .order(8)
                .default_value("false")
                .tooltip(DLS_TOOLTIP),
            // Inlet's addition (Elastic: the SALESFORCE_EMULATOR_HOST environment variable, for
            // its functional tests): a proxy or a test server.
            field("instance_url", "Salesforce URL")
                .order(9)
                .optional()
                .advanced()
                .tooltip("Base URL of the org's REST API (scheme and host). Leave it empty for https://<domain>.my.salesforce.com."),
        ]
    }

    fn validate_config(config: &Config) -> Result<()> {
        check(config).map(|_| ())
    }

    fn ping(config: &Config) -> Result<()> {
        let client = Client::new(base_url(config)?);
        client
            .get_json(
                &format!("/services/data/{}/limits", client::API_VERSION),
                "ping (the org's limits)",
            )
            .map(|_| ())
    }

    fn validate_advanced_rules(_config: &Config, rules: &str) -> Result<RulesValidation> {
        Ok(match rules::parse(rules) {
            Ok(_) => RulesValidation {
                valid: true,
                messages: Vec::new(),
            },
            Err(messages) => RulesValidation {
                valid: false,
                messages,
            },
        })
    }

    fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        start(&request, None)
    }

    fn incremental_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        let previous: Option<Value> = request
            .cursor
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok());
        let since = previous
            .as_ref()
            .and_then(|c| c.get("cursor_timestamp"))
            .and_then(Value::as_str)
            .and_then(|t| docs::earlier(t, sync::OVERLAP_SECS))
            .ok_or_else(|| {
                error(
                    ErrorKind::Source,
                    "Unable to start incremental sync. Please perform a full sync to re-enable incremental syncs.",
                )
            })?;
        start(&request, Some(since))
    }
}

inlet_sdk::export!(Salesforce);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::ConfigValue;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let values: Vec<ConfigValue> = pairs
            .iter()
            .map(|(k, v)| ConfigValue {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect();
        Config::from(values.as_slice())
    }

    #[test]
    fn the_org_url_comes_from_the_domain_or_instance_url() {
        let base = |pairs: &[(&str, &str)]| base_url(&config(pairs));
        assert_eq!(
            base(&[("domain", "\"acme\"")]).expect("ok"),
            "https://acme.my.salesforce.com"
        );
        assert_eq!(
            base(&[("domain", "\"Acme--Dev.sandbox\"")]).expect("ok"),
            "https://acme--dev.sandbox.my.salesforce.com"
        );
        assert_eq!(
            base(&[("domain", "\"https://acme.my.salesforce.com/\"")]).expect("ok"),
            "https://acme.my.salesforce.com"
        );
        for bad in [
            "\"evil.com/x\"",
            "\"a b\"",
            "\"\"",
            "\"acme@evil.com\"",
            "\"..\"",
        ] {
            let e = base(&[("domain", bad)]).expect_err(bad);
            assert_eq!(e.kind, ErrorKind::Config, "{bad}");
            assert!(e.message.contains("domain"), "{}", e.message);
        }
        assert_eq!(
            base(&[
                ("domain", "\"acme\""),
                ("instance_url", "\"http://127.0.0.1:8080/\"")
            ])
            .expect("ok"),
            "http://127.0.0.1:8080"
        );
        for bad in [
            "\"127.0.0.1:8080\"",
            "\"https://h/services\"",
            "\"ftp://h\"",
            "\"https://u@h\"",
        ] {
            let e = base(&[("domain", "\"acme\""), ("instance_url", bad)]).expect_err(bad);
            assert!(e.message.contains("instance_url"), "{}", e.message);
        }
    }

    #[test]
    fn standard_objects_keep_elastics_order_and_take_strings_or_lists() {
        let objects = |v: &str| standard_objects(&config(&[("standard_objects_to_sync", v)]));
        assert_eq!(objects("[\"Case\", \"Account\"]").0, ["Account", "Case"]);
        assert_eq!(objects("\"Lead, Contact\"").0, ["Contact", "Lead"]);
        assert_eq!(objects("[\"*\"]").0, STANDARD_OBJECTS);
        assert_eq!(
            objects("[\"Nope\", \"Lead\"]"),
            (vec!["Lead".to_owned()], vec!["Nope".to_owned()])
        );
        assert_eq!(standard_objects(&config(&[])).0, STANDARD_OBJECTS);
    }

    #[test]
    fn the_form_is_elastics_with_the_secrets_optional() {
        let fields = Salesforce::configuration();
        let keys: Vec<(&str, u32)> = fields.iter().map(|f| (f.key.as_str(), f.order)).collect();
        assert_eq!(
            keys,
            [
                ("domain", 1),
                ("client_id", 2),
                ("client_secret", 3),
                ("standard_objects_to_sync", 4),
                ("sync_custom_objects", 5),
                ("custom_objects_to_sync", 6),
                ("use_text_extraction_service", 7),
                ("use_document_level_security", 8),
                ("instance_url", 9),
            ]
        );
        let sensitive: Vec<&str> = fields
            .iter()
            .filter(|f| f.sensitive)
            .map(|f| f.key.as_str())
            .collect();
        assert_eq!(sensitive, ["client_id", "client_secret"]);
        assert!(fields.iter().filter(|f| f.sensitive).all(|f| !f.required));
        assert_eq!(
            fields[3].default_value.as_deref(),
            Some("\"Account, Opportunity, Contact, Lead, Campaign, Case\"")
        );
        assert!(
            fields[5].required,
            "custom_objects_to_sync: required when shown, as in Elastic"
        );
        assert_eq!(fields[5].depends_on[0].field, "sync_custom_objects");
        let dls = config(&[
            ("domain", "\"acme\""),
            ("use_document_level_security", "true"),
        ]);
        assert_eq!(
            Salesforce::validate_config(&dls).expect_err("DLS").kind,
            ErrorKind::Config
        );
        let m = Salesforce::metadata();
        assert!(
            m.features.incremental_sync
                && m.features.advanced_rules
                && !m.features.document_level_security
        );
    }

    #[test]
    fn advanced_rules_are_validated_without_the_org() {
        let ok = Salesforce::validate_advanced_rules(
            &config(&[]),
            r#"[{"query": "SELECT Id FROM Lead", "language": "SOQL"}]"#,
        )
        .expect("validation");
        assert!(ok.valid);
        let bad = Salesforce::validate_advanced_rules(
            &config(&[]),
            r#"[{"query": "SELECT Id FROM Lead"}]"#,
        )
        .expect("validation");
        assert!(!bad.valid && bad.messages[0].contains("language"));
        let e = parse_rules(Some("{}")).expect_err("an object");
        assert_eq!(e.kind, ErrorKind::Config);
        assert!(e.message.starts_with("advanced sync rules:"));
    }
}
