//! Form credentials, as a plugin declares them: a secret the connector's configuration form collects (Kibana's form, or
//! config.yml's `configuration:`) becomes a credential the host holds and injects, instead of a
//! value handed to the plugin.
//!
//! A plugin declares them in its `plugin.toml`, in the shape of config.yml's `credentials:`
//! entries, with `{field_key}` placeholders for configuration values:
//!
//! ```toml
//! [credentials.graph]
//! type = "oauth2_client_credentials"
//! token_url = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"
//! client_id = "{client_id}"
//! client_secret = "{secret_value}"
//! scopes = ["https://graph.microsoft.com/.default"]
//! client_auth = "body"
//! hosts = ["https://graph.microsoft.com"]
//! ```
//!
//! The plugin chooses the shape; the operator chooses where a secret may go. The rules:
//! - a **secret position** (`password`, `token`, `value`, `client_secret`, `secret_access_key`,
//!   `session_token`, `service_account_key`, `certificate`, `private_key`, `refresh_token`,
//!   `account_key`) names at least one field, any field; such a field is withheld from the
//!   plugin like a sensitive one (`sync::configuration`) and may fill no other position;
//! - the **other positions** (`username`, `client_id`, `scopes`, `subject`, `access_key_id`,
//!   `region`, `account_name`, the path and query of `token_url`, a `hosts` label) must not name
//!   a sensitive field: their values can show up in URLs and log lines (checked against the
//!   plugin's schema once it is known, `sync::configuration`);
//! - `header`, `param`, `service` and `client_auth` take no placeholder; `hosts` are exact origins,
//!   except that a placeholder may be the whole leftmost DNS label under a literal parent domain
//!   (`https://{account_name}.blob.core.windows.net`: Azure names each storage account's
//!   endpoint after it), its value one lower-case DNS label; the scheme and authority of
//!   `token_url` are literal, and values substituted into its path and query are
//!   percent-encoded: a form value cannot send anything outside what the plugin names, and
//!   the operator's grant decides (the filled origin must be granted);
//! - a credential is formed only when every field it names is filled; then each `hosts` origin
//!   and the origin of `token_url` must be granted to the connector (`grants.http`), the token
//!   endpoint by a grant that names its host exactly (the host posts the secret there itself,
//!   without the plugin policy's address checks), or the sync fails before the plugin runs;
//! - a template is text: unlike config.yml, a manifest cannot make the host read a file or an
//!   environment variable.
//!
//! This module reads and checks the declarations (when the manifest is read); the HTTP broker
//! fills them with a connector's values (`broker::form_credentials`).

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;

use crate::config::credentials::{
    self as operator, ClientAuth, CredentialKind, CredentialSpec, SecretSource,
};
use crate::http::{OriginPattern, Target};

/// One `[credentials.<name>]` table of a plugin's manifest: config.yml's credential shape, with
/// templates instead of secrets. Each field is the template of the [`CredentialSpec`] field of
/// the same name, and a `type` needs the fields it needs there; a secret template must name a
/// field, a plain one may not name a secret field, a literal one takes no placeholder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    /// `type`, as in config.yml.
    #[serde(rename = "type")]
    pub kind: CredentialKind,
    /// Exact origins (`scheme://host[:port]`) the credential is sent to; a placeholder only as
    /// the whole leftmost label under a literal domain.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// basic: plain template.
    pub username: Option<String>,
    /// basic: secret template.
    pub password: Option<String>,
    /// bearer: secret template.
    pub token: Option<String>,
    /// api_key_header, api_key_query: secret template.
    pub value: Option<String>,
    /// api_key_header: the header name, literal.
    pub header: Option<String>,
    /// api_key_query: the parameter name, literal.
    pub param: Option<String>,
    /// OAuth2 types: the token endpoint; literal scheme and host, placeholders only in the
    /// path and query (percent-encoded when filled). Required for google_service_account here.
    pub token_url: Option<String>,
    /// OAuth2 types: plain template.
    pub client_id: Option<String>,
    /// OAuth2 types: secret template.
    pub client_secret: Option<String>,
    /// OAuth2 types: plain templates.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// OAuth2 types: `basic` (default) or `body`, literal.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// aws_sigv4: plain template.
    pub access_key_id: Option<String>,
    /// aws_sigv4: secret template.
    pub secret_access_key: Option<String>,
    /// aws_sigv4: secret template.
    pub session_token: Option<String>,
    /// aws_sigv4: plain template.
    pub region: Option<String>,
    /// aws_sigv4: the signed API's name, literal (the plugin's, not the form's).
    pub service: Option<String>,
    /// google_service_account: secret template.
    pub service_account_key: Option<String>,
    /// google_service_account: plain template.
    pub subject: Option<String>,
    /// oauth2_client_certificate: secret template (withheld like the key it pairs with).
    pub certificate: Option<String>,
    /// oauth2_client_certificate: secret template.
    pub private_key: Option<String>,
    /// oauth2_refresh_token: secret template.
    pub refresh_token: Option<String>,
    /// azure_shared_key: plain template.
    pub account_name: Option<String>,
    /// azure_shared_key: secret template.
    pub account_key: Option<String>,
}

/// Where a placeholder stands: what it may name and how its value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `password`, `token`, `value`, `client_secret`: the value as it is, sent only in the
    /// injected header, query parameter or token request.
    Secret,
    /// `username`, `client_id`, `scopes`: the value as it is; never a sensitive field.
    Plain,
    /// The path and query of `token_url`: percent-encoded; never a sensitive field.
    UrlPart,
    /// The leftmost label of a `hosts` origin: one lower-case DNS label; never a sensitive field.
    HostLabel,
}

/// A placeholder of a declaration: which field fills which position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldUse {
    /// `credentials.graph.client_secret`, as in the manifest.
    pub position: String,
    /// What the position allows the field to be.
    pub role: Role,
    /// The configuration field's key, as written between the braces.
    pub field: String,
}

/// Placeholder keys: configuration field keys as every SDK writes them.
fn is_field_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

/// Splits a template into literal text and `{field}` placeholders. There is no escape: a brace
/// that does not open or close a placeholder is an error.
fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find(['{', '}']) {
        if rest.as_bytes()[at] == b'}' {
            return Err(format!("unmatched `}}` in {template:?}"));
        }
        if at > 0 {
            out.push(Piece::Text(&rest[..at]));
        }
        let after = &rest[at + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in {template:?}"))?;
        let key = &after[..close];
        if !is_field_key(key) {
            return Err(format!(
                "`{{{key}}}` in {template:?} is not a placeholder: write {{field_key}}, the key of a configuration field"
            ));
        }
        out.push(Piece::Field(key));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

fn fields_of(template: &str) -> Result<Vec<&str>, String> {
    Ok(pieces(template)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Field(f) => Some(f),
            Piece::Text(_) => None,
        })
        .collect())
}

/// `scheme://authority` of a URL template, and the rest (path, query).
fn split_origin(url: &str) -> Result<(&str, &str), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an absolute http(s) URL"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Ok(url.split_at(scheme.len() + 3 + end))
}

/// A URL template's origin: literal, an http(s) origin without user information.
pub fn url_origin(url: &str) -> Result<Target, String> {
    let (origin, rest) = split_origin(url)?;
    if origin.contains(['{', '}']) {
        return Err(format!(
            "{url:?}: placeholders may stand only in the path and query, never in the scheme or host: the token endpoint is the plugin's to name and the operator's to grant"
        ));
    }
    if rest.contains('#') {
        return Err(format!("{url:?}: a token endpoint has no fragment"));
    }
    let uri: http::Uri = origin
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    Target::checked(&uri).map_err(|d| format!("{url:?}: {}", d.message))
}

/// A `hosts` entry: an exact origin, or one whose whole leftmost DNS label is a placeholder
/// under a literal parent domain of two labels or more, the last not numeric (so no filled
/// value makes it a top-level domain's child or an IP address). Returns the placeholder's field.
fn host_template(text: &str) -> Result<Option<&str>, String> {
    if !text.contains(['{', '}']) {
        exact_origin(text)?;
        return Ok(None);
    }
    let bad = || {
        format!(
            "{text:?}: a placeholder in an origin must be its whole leftmost label under a literal domain of two labels or more, e.g. \"https://{{account_name}}.blob.core.windows.net\""
        )
    };
    let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
    let (key, parent) = rest
        .strip_prefix('{')
        .and_then(|r| r.split_once('}'))
        .ok_or_else(bad)?;
    let parent = parent.strip_prefix('.').ok_or_else(bad)?;
    let domain = parent.split(':').next().unwrap_or_default();
    let labels: Vec<&str> = domain.split('.').collect();
    if !is_field_key(key)
        || parent.contains(['{', '}', '*'])
        || labels.len() < 2
        || labels
            .last()
            .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(bad());
    }
    exact_origin(&format!("{scheme}://x.{parent}")).map_err(|m| format!("{text:?}: {m}"))?;
    Ok(Some(key))
}

/// A form value for a `hosts` label: one DNS label, lower-cased (host names are not case
/// sensitive: a tenant typed `Contoso` is `contoso`). The message names no value: it may be
/// anything the form holds.
pub fn host_label(field: &str, value: &str) -> Result<String, String> {
    let value = value.to_ascii_lowercase();
    let ok = (1..=63).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(value)
    } else {
        Err(format!(
            "configuration field `{field}` names the host a credential is sent to and must be one DNS label: letters, digits and `-`"
        ))
    }
}

/// An exact origin (`hosts` entry): a valid origin pattern without wildcards.
pub fn exact_origin(text: &str) -> Result<Target, String> {
    let pattern = OriginPattern::parse(text).map_err(|e| e.to_string())?;
    if text.contains('*') {
        return Err(format!(
            "{text:?}: a form credential is bound to exact origins (no `*`), each of which the operator grants"
        ));
    }
    let uri: http::Uri = pattern
        .as_str()
        .trim_end_matches('/')
        .parse()
        .map_err(|e| format!("{text:?} is not an origin: {e}"))?;
    Target::checked(&uri).map_err(|d| format!("{text:?}: {}", d.message))
}

impl Declaration {
    /// Every position that may hold placeholders, with its role and template.
    pub fn templated(&self) -> Vec<(String, Role, &str)> {
        let mut out = Vec::new();
        for (name, role, template) in [
            ("username", Role::Plain, &self.username),
            ("password", Role::Secret, &self.password),
            ("token", Role::Secret, &self.token),
            ("value", Role::Secret, &self.value),
            ("client_id", Role::Plain, &self.client_id),
            ("client_secret", Role::Secret, &self.client_secret),
            ("token_url", Role::UrlPart, &self.token_url),
            ("access_key_id", Role::Plain, &self.access_key_id),
            ("secret_access_key", Role::Secret, &self.secret_access_key),
            ("session_token", Role::Secret, &self.session_token),
            ("region", Role::Plain, &self.region),
            (
                "service_account_key",
                Role::Secret,
                &self.service_account_key,
            ),
            ("subject", Role::Plain, &self.subject),
            // Not secret, but withheld like the key it pairs with: Elastic's forms mark both
            // sensitive, and the plugin has no use for it.
            ("certificate", Role::Secret, &self.certificate),
            ("private_key", Role::Secret, &self.private_key),
            ("refresh_token", Role::Secret, &self.refresh_token),
            ("account_name", Role::Plain, &self.account_name),
            ("account_key", Role::Secret, &self.account_key),
        ] {
            if let Some(t) = template {
                out.push((name.to_owned(), role, t.as_str()));
            }
        }
        for (i, s) in self.scopes.iter().enumerate() {
            out.push((format!("scopes[{i}]"), Role::Plain, s.as_str()));
        }
        for (i, h) in self.hosts.iter().enumerate() {
            out.push((format!("hosts[{i}]"), Role::HostLabel, h.as_str()));
        }
        out
    }

    /// Positions that take no placeholder: header and parameter names and the signed API are
    /// the plugin's, never the form's.
    pub(crate) fn literal(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        if let Some(h) = &self.header {
            out.push(("header".to_owned(), h.as_str()));
        }
        if let Some(p) = &self.param {
            out.push(("param".to_owned(), p.as_str()));
        }
        if let Some(s) = &self.service {
            out.push(("service".to_owned(), s.as_str()));
        }
        out
    }

    /// The placeholders of this declaration (named `name` in the manifest).
    pub fn field_uses(&self, name: &str) -> Vec<FieldUse> {
        self.templated()
            .into_iter()
            .flat_map(|(position, role, template)| {
                fields_of(template)
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |field| FieldUse {
                        position: format!("credentials.{name}.{position}"),
                        role,
                        field: field.to_owned(),
                    })
            })
            .collect()
    }

    /// The fields whose values become the secret.
    pub fn secret_fields(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .field_uses(name)
            .into_iter()
            .filter(|u| u.role == Role::Secret)
            .map(|u| u.field)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The origin of the token endpoint (oauth2), as a grant would name it.
    pub fn token_origin(&self) -> Option<String> {
        let url = self.token_url.as_deref()?;
        url_origin(url).ok().map(|t| t.origin())
    }

    /// The header or query parameter the credential claims on a request.
    pub fn claim(&self) -> Claim {
        match self.kind {
            CredentialKind::ApiKeyHeader => Claim::Header(
                self.header
                    .as_deref()
                    .and_then(|h| http::HeaderName::from_bytes(h.as_bytes()).ok()),
            ),
            CredentialKind::ApiKeyQuery => Claim::Query(self.param.clone().unwrap_or_default()),
            _ => Claim::Header(Some(http::header::AUTHORIZATION)),
        }
    }

    /// The spec config.yml would hold, with each placeholder replaced by `fill(field, role)`.
    pub fn render(
        &self,
        fill: &dyn Fn(&str, Role) -> Result<String, String>,
    ) -> Result<CredentialSpec, String> {
        let text = |template: &Option<String>, role: Role| -> Result<Option<String>, String> {
            template
                .as_deref()
                .map(|t| {
                    pieces(t)?
                        .into_iter()
                        .map(|p| match p {
                            Piece::Text(s) => Ok(s.to_owned()),
                            Piece::Field(f) => fill(f, role),
                        })
                        .collect::<Result<String, String>>()
                })
                .transpose()
        };
        let secret = |template: &Option<String>| -> Result<Option<SecretSource>, String> {
            Ok(text(template, Role::Secret)?.map(|s| SecretSource::Value(SecretString::from(s))))
        };
        Ok(CredentialSpec {
            kind: self.kind,
            hosts: self
                .hosts
                .iter()
                .map(|h| text(&Some(h.clone()), Role::HostLabel).map(Option::unwrap_or_default))
                .collect::<Result<_, _>>()?,
            username: text(&self.username, Role::Plain)?,
            password: secret(&self.password)?,
            token: secret(&self.token)?,
            value: secret(&self.value)?,
            header: self.header.clone(),
            param: self.param.clone(),
            token_url: text(&self.token_url, Role::UrlPart)?,
            client_id: text(&self.client_id, Role::Plain)?,
            client_secret: secret(&self.client_secret)?,
            scopes: self
                .scopes
                .iter()
                .map(|s| text(&Some(s.clone()), Role::Plain).map(Option::unwrap_or_default))
                .collect::<Result<_, _>>()?,
            client_auth: self.client_auth,
            access_key_id: text(&self.access_key_id, Role::Plain)?,
            secret_access_key: secret(&self.secret_access_key)?,
            session_token: secret(&self.session_token)?,
            region: text(&self.region, Role::Plain)?,
            // The API the signature is for is the plugin's: no placeholder.
            service: self.service.clone(),
            service_account_key: secret(&self.service_account_key)?,
            subject: text(&self.subject, Role::Plain)?,
            certificate: secret(&self.certificate)?,
            private_key: secret(&self.private_key)?,
            refresh_token: secret(&self.refresh_token)?,
            account_name: text(&self.account_name, Role::Plain)?,
            account_key: secret(&self.account_key)?,
        })
    }
}

/// The part of a request a form credential writes, so the plugin cannot set it itself.
pub enum Claim {
    /// A header: `Authorization`, or an api_key_header's own; `None` when the declared name
    /// is not a valid header name.
    Header(Option<http::HeaderName>),
    /// An api_key_query's parameter name.
    Query(String),
}

/// Checks a manifest's `[credentials]` tables; the error is the key path
/// (`credentials.graph.token_url`) and the reason.
pub fn validate(declared: &BTreeMap<String, Declaration>) -> Result<(), (String, String)> {
    // field → the first secret position naming it, and likewise for the other positions.
    let mut secret_uses: BTreeMap<String, String> = BTreeMap::new();
    let mut other_uses: BTreeMap<String, String> = BTreeMap::new();
    for (name, d) in declared {
        let at = |k: &str| format!("credentials.{name}.{k}");
        for (position, text) in d.literal() {
            if text.contains(['{', '}']) {
                return Err((
                    at(&position),
                    "takes no placeholder: header and parameter names and the API a signature is for are fixed by the plugin".into(),
                ));
            }
        }
        for (i, h) in d.hosts.iter().enumerate() {
            host_template(h).map_err(|m| (at(&format!("hosts[{i}]")), m))?;
        }
        // In config.yml the key file's `token_uri` may choose the endpoint; in a form the key is
        // a value anyone editing the form types, so the plugin names the endpoint itself.
        if d.kind == CredentialKind::GoogleServiceAccount && d.token_url.is_none() {
            return Err((
                at("token_url"),
                format!(
                    "a form credential names its token endpoint, e.g. {:?}: the key's own token_uri is not trusted",
                    operator::GOOGLE_TOKEN_URL
                ),
            ));
        }
        for (position, role, template) in d.templated() {
            let fields = fields_of(template).map_err(|m| (at(&position), m))?;
            if role == Role::Secret && fields.is_empty() {
                return Err((
                    at(&position),
                    "a form credential's secret comes from the configuration form: name the field, e.g. \"{secret_value}\"".into(),
                ));
            }
            if role == Role::UrlPart {
                url_origin(template).map_err(|m| (at(&position), m))?;
            }
            let uses = if role == Role::Secret {
                &mut secret_uses
            } else {
                &mut other_uses
            };
            for f in fields {
                uses.entry(f.to_owned()).or_insert_with(|| at(&position));
            }
        }
        // config.yml's rules for the shape (fields per type, header names, the token URL), on
        // the template with a stand-in for every placeholder (three letters: a valid storage
        // account name and DNS label too).
        let spec = d
            .render(&|_, _| Ok("xyz".to_owned()))
            .map_err(|m| (format!("credentials.{name}"), m))?;
        operator::validate(&BTreeMap::from([(name.clone(), spec)]))?;
    }
    for (field, position) in &other_uses {
        if let Some(secret) = secret_uses.get(field) {
            return Err((
                position.clone(),
                format!(
                    "`{{{field}}}` is a secret ({secret}); a secret field may fill only password, token, value, client_secret, secret_access_key, session_token, service_account_key, certificate, private_key, refresh_token or account_key"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declare(toml_text: &str) -> BTreeMap<String, Declaration> {
        toml::from_str(toml_text).expect("declaration parses")
    }

    #[test]
    fn placeholder_rules() {
        let bad = |toml_text: &str, key: &str, needle: &str| {
            let (k, m) = validate(&declare(toml_text)).expect_err(toml_text);
            assert_eq!(k, key, "{m}");
            assert!(m.contains(needle), "{key}: {m}");
        };
        // No placeholder in the scheme or authority of the token URL.
        bad(
            r#"[a]
type = "oauth2_client_credentials"
token_url = "https://{host}/token"
client_id = "c"
client_secret = "{s}"
hosts = ["https://api.example.com"]"#,
            "credentials.a.token_url",
            "never in the scheme or host",
        );
        bad(
            r#"[a]
type = "oauth2_client_credentials"
token_url = "{scheme}://login.example/token"
client_id = "c"
client_secret = "{s}"
hosts = ["https://api.example.com"]"#,
            "credentials.a.token_url",
            "never in the scheme or host",
        );
        bad(
            r#"[a]
type = "oauth2_client_credentials"
token_url = "https://login.example:{port}/token"
client_id = "c"
client_secret = "{s}"
hosts = ["https://api.example.com"]"#,
            "credentials.a.token_url",
            "never in the scheme or host",
        );
        // hosts take a placeholder only as the whole leftmost label of a literal domain of two
        // labels or more, not numeric at the end; header and param names take none.
        for host in [
            "https://{tenant}.com",
            "https://api.{tenant}.example.com",
            "https://x{tenant}.example.com",
            "https://{tenant}.0.0.1",
            "https://{tenant}.{region}.example.com",
            "https://{tenant}.example.com:{port}",
            "{scheme}://api.example.com",
        ] {
            bad(
                &format!("[a]\ntype = \"bearer\"\ntoken = \"{{t}}\"\nhosts = [\"{host}\"]"),
                "credentials.a.hosts[0]",
                "whole leftmost label",
            );
        }
        bad(
            r#"[a]
type = "bearer"
token = "{t}"
hosts = ["https://{t}.example.com"]"#,
            "credentials.a.hosts[0]",
            "is a secret",
        );
        bad(
            r#"[a]
type = "bearer"
token = "{t}"
hosts = ["https://*.example.com"]"#,
            "credentials.a.hosts[0]",
            "exact origins",
        );
        bad(
            r#"[a]
type = "bearer"
token = "{t}"
hosts = []"#,
            "credentials.a.hosts",
            "list the origins",
        );
        bad(
            r#"[a]
type = "api_key_header"
header = "X-{h}"
value = "{t}"
hosts = ["https://api.example.com"]"#,
            "credentials.a.header",
            "takes no placeholder",
        );
        // A secret comes from the form; a secret field fills secret positions only.
        bad(
            r#"[a]
type = "bearer"
token = "fixed"
hosts = ["https://api.example.com"]"#,
            "credentials.a.token",
            "comes from the configuration form",
        );
        bad(
            r#"[a]
type = "oauth2_client_credentials"
token_url = "https://login.example/{secret}/token"
client_id = "c"
client_secret = "{secret}"
hosts = ["https://api.example.com"]"#,
            "credentials.a.token_url",
            "is a secret",
        );
        bad(
            r#"[a]
type = "basic"
username = "{pw}"
password = "{pw}"
hosts = ["https://api.example.com"]"#,
            "credentials.a.username",
            "is a secret",
        );
        bad(
            r#"[a]
type = "bearer"
token = "{t}"
hosts = ["https://api.example.com"]
[b]
type = "basic"
username = "{t}"
password = "{p}"
hosts = ["https://api.example.com"]"#,
            "credentials.b.username",
            "is a secret",
        );
        // Placeholder syntax, and config.yml's shape rules.
        bad(
            r#"[a]
type = "bearer"
token = "{not a key}"
hosts = ["https://api.example.com"]"#,
            "credentials.a.token",
            "not a placeholder",
        );
        bad(
            r#"[a]
type = "bearer"
token = "{t"
hosts = ["https://api.example.com"]"#,
            "credentials.a.token",
            "unclosed",
        );
        bad(
            r#"[a]
type = "bearer"
token = "{t}"
value = "{v}"
hosts = ["https://api.example.com"]"#,
            "credentials.a.value",
            "not used by type bearer",
        );
        // Unknown keys (e.g. a file source) are refused by the parser itself.
        assert!(
            toml::from_str::<BTreeMap<String, Declaration>>(
                "[a]\ntype = \"bearer\"\ntoken = { file = \"/etc/shadow\" }\nhosts = [\"https://x.example\"]\n"
            )
            .is_err()
        );
        // Allowed: any field in a secret position, mixed text, placeholders in path and query.
        assert_eq!(
            validate(&declare(
                r#"[a]
type = "api_key_query"
param = "key"
value = "{account}:{api_key}"
hosts = ["https://api.example.com", "http://127.0.0.1:8080"]
[b]
type = "oauth2_client_credentials"
token_url = "https://login.example/{tenant}/token?region={region}"
client_id = "{client}"
client_secret = "{secret}"
scopes = ["{scope}/.default"]
hosts = ["https://api.example.com"]"#
            )),
            Ok(())
        );
    }
}
