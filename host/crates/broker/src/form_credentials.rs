//! Form credentials, filled: a plugin's `[credentials.<name>]` declaration
//! ([`inlet_policy::manifest::credentials`], which has the rules) and the connector's configuration
//! values become a credential the host holds and injects, once every field it names is filled
//! and every origin it goes to is granted.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::credentials::{Credential, CredentialError};
use inlet_policy::config::credentials::{ClientAuth, CredentialSpec};
use inlet_policy::http::{OriginPattern, Target};
use inlet_policy::manifest::credentials::{
    Claim, Declaration, Role, exact_origin, host_label, url_origin,
};

/// What the connector's configuration makes of a declaration.
pub(crate) enum Form {
    /// A field it names is empty: the credential is not formed.
    Incomplete {
        missing: Vec<String>,
    },
    Complete(Box<Filled>),
}

/// A declaration filled with the connector's values.
pub(crate) struct Filled {
    pub spec: CredentialSpec,
    /// Of everything the credential was formed from, so a changed form value forms it again.
    pub digest: [u8; 32],
    /// The fields that make the secret (for messages).
    pub secret_fields: Vec<String>,
    declaration: Declaration,
}

/// A configuration value as text: `None` when empty; lists and objects are refused.
fn text_of(field: &str, v: Option<&Value>) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(format!(
            "configuration field `{field}` fills a credential and must be text, not a list or an object"
        )),
    }
}

/// Percent-encodes everything but unreserved characters, so a value stays inside its path
/// segment or query value. `form_urlencoded` (already a dependency) writes a space as `+`,
/// which a path reads literally; its own `+` comes out as `%2B`, so every `+` left is a space.
fn url_escape(field: &str, value: &str) -> Result<String, String> {
    if value.chars().all(|c| c == '.') {
        // `.` and `..` would be dot segments that move the request elsewhere on the endpoint.
        return Err(format!(
            "configuration field `{field}` ({value:?}) cannot stand in a URL path"
        ));
    }
    Ok(form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20"))
}

/// Fills `declaration` (named `name`) from the connector's configuration `values`.
pub(crate) fn form(
    name: &str,
    declaration: &Declaration,
    values: &serde_json::Map<String, Value>,
) -> Result<Form, String> {
    let uses = declaration.field_uses(name);
    let mut filled: BTreeMap<&str, String> = BTreeMap::new();
    let mut missing = Vec::new();
    for u in &uses {
        match text_of(&u.field, values.get(&u.field))? {
            Some(v) => {
                filled.insert(&u.field, v);
            }
            None if !missing.contains(&u.field) => missing.push(u.field.clone()),
            None => {}
        }
    }
    if !missing.is_empty() {
        return Ok(Form::Incomplete { missing });
    }
    let spec = declaration.render(&|field, role| {
        let v = filled
            .get(field)
            .ok_or_else(|| format!("configuration field `{field}` is empty"))?;
        match role {
            Role::UrlPart => url_escape(field, v),
            Role::HostLabel => host_label(field, v),
            Role::Secret | Role::Plain => Ok(v.clone()),
        }
    })?;
    // A filled label leaves the rest of the origin as the plugin wrote it; checked once more so
    // a mistake in either can never send the secret elsewhere.
    for (i, h) in spec.hosts.iter().enumerate() {
        exact_origin(h).map_err(|m| format!("credentials.{name}.hosts[{i}]: {m}"))?;
    }
    // The origin is literal in the template and values are escaped; checked once more so a
    // mistake in either can never send the secret elsewhere.
    if let (Some(template), Some(url)) = (&declaration.token_url, &spec.token_url) {
        let parsed: http::Uri = url
            .parse()
            .map_err(|e| format!("credentials.{name}.token_url: not a URL once filled: {e}"))?;
        if Target::from_uri(&parsed) != url_origin(template).ok() {
            return Err(format!(
                "credentials.{name}.token_url: the form's values changed the URL's origin"
            ));
        }
    }
    let mut hash = Sha256::new();
    let mut put = |s: &str| {
        hash.update((s.len() as u64).to_le_bytes());
        hash.update(s.as_bytes());
    };
    put(declaration.kind.name());
    for h in &declaration.hosts {
        put(h);
    }
    for (position, _, template) in declaration.templated() {
        put(&position);
        put(template);
    }
    for (field, value) in &filled {
        put(field);
        put(value);
    }
    put(match declaration.client_auth {
        ClientAuth::Basic => "basic",
        ClientAuth::Body => "body",
    });
    Ok(Form::Complete(Box::new(Filled {
        spec,
        digest: hash.finalize().into(),
        secret_fields: declaration.secret_fields(name),
        declaration: declaration.clone(),
    })))
}

impl Filled {
    /// The first granted origin missing for this credential: `Err((origin, why))`. Every `hosts`
    /// origin must be granted; the token endpoint by a grant naming its host exactly.
    pub(crate) fn check_granted(
        &self,
        granted: &[OriginPattern],
    ) -> Result<(), (String, &'static str)> {
        for h in &self.spec.hosts {
            let target = exact_origin(h).map_err(|_| (h.clone(), "is not an exact origin"))?;
            if !granted.iter().any(|g| g.matches(&target)) {
                return Err((target.origin(), "injects it into requests to that origin"));
            }
        }
        if let Some(url) = &self.declaration.token_url {
            let target = url_origin(url).map_err(|_| (url.clone(), "is not a URL"))?;
            if !granted
                .iter()
                .any(|g| !g.as_str().contains('*') && g.matches(&target))
            {
                return Err((
                    target.origin(),
                    "sends it to that token endpoint (the grant must name the host exactly, without `*`)",
                ));
            }
        }
        Ok(())
    }

    /// The name of a config.yml credential among `operator` that claims the same header (or query
    /// parameter) on one of this credential's hosts: the operator's explicit choice wins.
    pub(crate) fn claimed_by(&self, operator: &[std::sync::Arc<Credential>]) -> Option<String> {
        let targets: Vec<Target> = self
            .spec
            .hosts
            .iter()
            .filter_map(|h| exact_origin(h).ok())
            .collect();
        let claim = self.declaration.claim();
        operator
            .iter()
            .find(|c| {
                let same = match &claim {
                    Claim::Header(Some(h)) => c.header_names().contains(h),
                    Claim::Header(None) => false,
                    Claim::Query(p) => c.query_param() == Some(p.as_str()),
                };
                same && targets.iter().any(|t| c.applies_to(t))
            })
            .map(|c| c.name().to_owned())
    }

    /// Why [`Credential::load`] refused the filled spec, naming fields, never values.
    pub(crate) fn explain(&self, e: &CredentialError) -> String {
        match e {
            CredentialError::NotHeaderSafe { .. } | CredentialError::Empty { .. } => format!(
                "configuration field(s) {} cannot make an HTTP credential (empty, or characters not allowed in a header)",
                self.secret_fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CredentialError::NotBase64 { field, .. } => format!(
                "the value for `{field}` (from configuration field(s) {}) is not base64",
                self.secret_fields
                    .iter()
                    .map(|f| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            CredentialError::Invalid { message, .. } => message.clone(),
            CredentialError::File { .. } => "a form credential reads no files".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_policy::config::credentials::SecretSource;
    use inlet_policy::manifest::credentials::{FieldUse, validate};

    fn declare(toml_text: &str) -> BTreeMap<String, Declaration> {
        toml::from_str(toml_text).expect("declaration parses")
    }

    const GRAPH: &str = r#"
[graph]
type = "oauth2_client_credentials"
token_url = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"
client_id = "{client_id}"
client_secret = "{secret_value}"
scopes = ["https://graph.microsoft.com/.default"]
client_auth = "body"
hosts = ["https://graph.microsoft.com"]
"#;

    fn values(v: serde_json::Value) -> serde_json::Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    fn filled(d: &BTreeMap<String, Declaration>, v: serde_json::Value) -> Box<Filled> {
        match form("graph", &d["graph"], &values(v)).expect("forms") {
            Form::Complete(f) => f,
            Form::Incomplete { missing } => panic!("incomplete: {missing:?}"),
        }
    }

    fn secret_of(s: &Option<SecretSource>) -> String {
        use secrecy::ExposeSecret;
        match s {
            Some(SecretSource::Value(v)) => v.expose_secret().to_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sharepoint_declaration_is_valid_and_fills_from_the_form() {
        let d = declare(GRAPH);
        assert_eq!(validate(&d), Ok(()));
        assert_eq!(d["graph"].secret_fields("graph"), vec!["secret_value"]);
        assert_eq!(
            d["graph"].token_origin().as_deref(),
            Some("https://login.microsoftonline.com")
        );
        let f = filled(
            &d,
            serde_json::json!({"tenant_id": "t-1", "client_id": "app", "secret_value": "s3cr3t"}),
        );
        assert_eq!(
            f.spec.token_url.as_deref(),
            Some("https://login.microsoftonline.com/t-1/oauth2/v2.0/token")
        );
        assert_eq!(f.spec.client_id.as_deref(), Some("app"));
        assert_eq!(secret_of(&f.spec.client_secret), "s3cr3t");
        assert_eq!(f.spec.client_auth, ClientAuth::Body);
        assert!(Credential::load("form:x/graph", &f.spec, std::path::Path::new("."), None).is_ok());
    }

    #[test]
    fn empty_fields_form_no_credential() {
        let d = declare(GRAPH);
        for v in [
            serde_json::json!({"tenant_id": "t", "client_id": "c"}),
            serde_json::json!({"tenant_id": "t", "client_id": "c", "secret_value": ""}),
            serde_json::json!({"tenant_id": "t", "client_id": "c", "secret_value": null}),
        ] {
            match form("graph", &d["graph"], &values(v)).expect("no error") {
                Form::Incomplete { missing } => assert_eq!(missing, vec!["secret_value"]),
                Form::Complete(_) => panic!("formed without a secret"),
            }
        }
        let err = form(
            "graph",
            &d["graph"],
            &values(serde_json::json!({"tenant_id": ["a"], "client_id": "c", "secret_value": "s"})),
        )
        .err()
        .expect("a list is refused");
        assert!(err.contains("tenant_id"), "{err}");
    }

    #[test]
    fn a_google_key_in_the_form_goes_to_the_plugins_token_endpoint_only() {
        let gcs = r#"
[gcs]
type = "google_service_account"
service_account_key = "{service_account_credentials}"
token_url = "https://oauth2.googleapis.com/token"
scopes = ["https://www.googleapis.com/auth/devstorage.read_only"]
hosts = ["https://storage.googleapis.com"]
"#;
        let d = declare(gcs);
        assert_eq!(validate(&d), Ok(()));
        assert_eq!(
            d["gcs"].secret_fields("gcs"),
            vec!["service_account_credentials"]
        );
        assert_eq!(
            d["gcs"].token_origin().as_deref(),
            Some("https://oauth2.googleapis.com")
        );
        // Without the plugin naming the endpoint, the key's own `token_uri` would choose it.
        let (key, msg) = validate(&declare(
            &gcs.replace("token_url = \"https://oauth2.googleapis.com/token\"\n", ""),
        ))
        .expect_err("no token_url");
        assert_eq!(key, "credentials.gcs.token_url");
        assert!(msg.contains("token_uri"), "{msg}");

        // Elastic's certificate fields are withheld like the key.
        let entra = declare(
            r#"
[sp]
type = "oauth2_client_certificate"
token_url = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"
client_id = "{client_id}"
certificate = "{certificate}"
private_key = "{private_key}"
scopes = ["https://{tenant_name}.sharepoint.com/.default"]
hosts = ["https://graph.microsoft.com"]
"#,
        );
        assert_eq!(validate(&entra), Ok(()));
        assert_eq!(
            entra["sp"].secret_fields("sp"),
            vec!["certificate", "private_key"]
        );
        // The key may not also fill a position that shows in URLs and logs.
        let (key, _) = validate(&declare(
            r#"
[sp]
type = "oauth2_client_certificate"
token_url = "https://login.example/token"
client_id = "{private_key}"
certificate = "{certificate}"
private_key = "{private_key}"
hosts = ["https://graph.microsoft.com"]
"#,
        ))
        .expect_err("a secret in client_id");
        assert_eq!(key, "credentials.sp.client_id");
    }

    #[test]
    fn form_values_cannot_move_the_token_url() {
        let d = declare(GRAPH);
        for hostile in [
            "evil.example/x#",
            "@evil.example",
            "x/../../other?y=1",
            "x y+z%",
        ] {
            let f = filled(
                &d,
                serde_json::json!({"tenant_id": hostile, "client_id": "c", "secret_value": "s"}),
            );
            let url = f.spec.token_url.clone().expect("url");
            let uri: http::Uri = url.parse().expect("still a URL");
            assert_eq!(uri.host(), Some("login.microsoftonline.com"), "{url}");
            assert_eq!(uri.query(), None, "{url}");
            assert_eq!(uri.path().matches('/').count(), 4, "one segment: {url}");
        }
        let f = filled(
            &d,
            serde_json::json!({"tenant_id": "x y+z", "client_id": "c", "secret_value": "s"}),
        );
        assert_eq!(
            f.spec.token_url.as_deref(),
            Some("https://login.microsoftonline.com/x%20y%2Bz/oauth2/v2.0/token")
        );
        for dots in [".", ".."] {
            let err = form(
                "graph",
                &d["graph"],
                &values(
                    serde_json::json!({"tenant_id": dots, "client_id": "c", "secret_value": "s"}),
                ),
            )
            .err()
            .expect("dot segments refused");
            assert!(err.contains("tenant_id"), "{err}");
        }
    }

    #[test]
    fn every_origin_the_secret_goes_to_must_be_granted() {
        let d = declare(GRAPH);
        let f = filled(
            &d,
            serde_json::json!({"tenant_id": "t", "client_id": "c", "secret_value": "s"}),
        );
        let grants = |g: &[&str]| -> Vec<OriginPattern> {
            g.iter()
                .map(|s| OriginPattern::parse(s).expect("origin"))
                .collect()
        };
        let (origin, _) = f.check_granted(&[]).expect_err("nothing granted");
        assert_eq!(origin, "https://graph.microsoft.com");
        let (origin, _) = f
            .check_granted(&grants(&["https://graph.microsoft.com"]))
            .expect_err("token endpoint not granted");
        assert_eq!(origin, "https://login.microsoftonline.com");
        // A wildcard grant covers the hosts, but the token endpoint must be named exactly.
        let (origin, _) = f
            .check_granted(&grants(&["https://*.microsoft.com", "https://*:*"]))
            .expect_err("wildcard token endpoint");
        assert_eq!(origin, "https://login.microsoftonline.com");
        assert_eq!(
            f.check_granted(&grants(&[
                "https://*.microsoft.com",
                "https://login.microsoftonline.com"
            ])),
            Ok(())
        );
    }

    const AZURE: &str = r#"
[azure]
type = "azure_shared_key"
account_name = "{account_name}"
account_key = "{account_key}"
hosts = ["https://{account_name}.blob.core.windows.net"]
"#;

    #[test]
    fn an_azure_account_names_its_endpoint_label_and_nothing_more() {
        let d = declare(AZURE);
        assert_eq!(validate(&d), Ok(()));
        assert_eq!(d["azure"].secret_fields("azure"), vec!["account_key"]);
        let uses = d["azure"].field_uses("azure");
        assert!(uses.contains(&FieldUse {
            position: "credentials.azure.hosts[0]".into(),
            role: Role::HostLabel,
            field: "account_name".into(),
        }));
        let form_of = |v: serde_json::Value| form("azure", &d["azure"], &values(v));
        let filled = match form_of(
            serde_json::json!({"account_name": "inletdocs", "account_key": "a2V5LWJ5dGVz"}),
        )
        .expect("forms")
        {
            Form::Complete(f) => f,
            Form::Incomplete { missing } => panic!("incomplete: {missing:?}"),
        };
        assert_eq!(
            filled.spec.hosts,
            vec!["https://inletdocs.blob.core.windows.net"]
        );
        assert_eq!(filled.spec.account_name.as_deref(), Some("inletdocs"));
        assert_eq!(secret_of(&filled.spec.account_key), "a2V5LWJ5dGVz");
        let grants = |g: &[&str]| -> Vec<OriginPattern> {
            g.iter()
                .map(|s| OriginPattern::parse(s).expect("origin"))
                .collect()
        };
        // The filled origin is what must be granted: a wildcard under Microsoft's domain, or
        // that account's endpoint; another account's endpoint is not enough.
        assert_eq!(
            filled.check_granted(&grants(&["https://*.blob.core.windows.net"])),
            Ok(())
        );
        let (origin, _) = filled
            .check_granted(&grants(&["https://other.blob.core.windows.net"]))
            .expect_err("another account");
        assert_eq!(origin, "https://inletdocs.blob.core.windows.net");
        let credential = Credential::load(
            "form:x/azure",
            &filled.spec,
            std::path::Path::new("."),
            None,
        )
        .expect("loads");
        let t = |u: &str| Target::from_uri(&u.parse().expect("uri")).expect("target");
        assert!(credential.applies_to(&t("https://inletdocs.blob.core.windows.net/c?comp=list")));
        assert!(!credential.applies_to(&t("https://other.blob.core.windows.net/c")));
        // A value that is not one DNS label cannot move the credential anywhere.
        for hostile in [
            "evil.example/x",
            "a.evil.example",
            "in_let",
            "-x",
            "x y",
            "x:80",
        ] {
            let err = form_of(serde_json::json!({"account_name": hostile, "account_key": "a2V5"}))
                .err()
                .unwrap_or_else(|| panic!("{hostile} formed a credential"));
            assert!(
                err.contains("`account_name`") && err.contains("DNS label"),
                "{err}"
            );
            assert!(!err.contains(hostile), "the value is not repeated: {err}");
        }
        // Host names are not case sensitive: a tenant typed as Kibana users write it works.
        assert_eq!(
            host_label("tenant_name", "Contoso"),
            Ok("contoso".to_owned())
        );
        // A key that is not base64 is refused when loaded, naming the field, not the value.
        let filled = match form_of(
            serde_json::json!({"account_name": "inletdocs", "account_key": "not-base64-s3cret!"}),
        )
        .expect("forms")
        {
            Form::Complete(f) => f,
            Form::Incomplete { missing } => panic!("incomplete: {missing:?}"),
        };
        let err = Credential::load(
            "form:x/azure",
            &filled.spec,
            std::path::Path::new("."),
            None,
        )
        .expect_err("not base64");
        let why = filled.explain(&err);
        assert!(
            why.contains("`account_key`") && !why.contains("s3cret"),
            "{why}"
        );
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn digest_changes_with_any_value() {
        let d = declare(GRAPH);
        let v =
            |s: &str| serde_json::json!({"tenant_id": "t", "client_id": "c", "secret_value": s});
        assert_eq!(filled(&d, v("a")).digest, filled(&d, v("a")).digest);
        assert_ne!(filled(&d, v("a")).digest, filled(&d, v("b")).digest);
    }
}
