//! The operator's side of brokered network access: the top-level `credentials:` map and a
//! connector's network grants (`grants.http`, `grants.credentials`, `grants.http_limits`).
//!
//! ```yaml
//! credentials:
//!   crm:                                   # a name the connector grants refer to
//!     type: bearer                         # basic | bearer | api_key_header | api_key_query
//!     token: ${CRM_TOKEN}                  #   | oauth2_client_credentials | aws_sigv4
//!                                          #   | azure_shared_key
//!     hosts: ["https://api.crm.example"]   # the only origins it is ever sent to
//!   wiki:
//!     type: oauth2_client_credentials
//!     token_url: https://login.example/oauth2/token
//!     client_id: inlet
//!     client_secret: {file: /run/secrets/wiki}
//!     scopes: [read]
//!     hosts: ["https://*.wiki.example"]
//!   drive:
//!     type: google_service_account         # a JWT signed with the key (RFC 7523)
//!     service_account_key: {file: /run/secrets/drive-sa.json}
//!     scopes: ["https://www.googleapis.com/auth/drive.readonly"]
//!     subject: admin@corp.example          # optional: domain-wide delegation
//!     hosts: ["https://www.googleapis.com"]
//!   sharepoint:
//!     type: oauth2_client_certificate      # Entra ID app-only, a certificate's client assertion
//!     token_url: https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token
//!     client_id: 0f0e…
//!     certificate: {file: /run/secrets/app.crt}
//!     private_key: {file: /run/secrets/app.key}
//!     scopes: ["https://corp.sharepoint.com/.default"]
//!     hosts: ["https://corp.sharepoint.com"]
//! connectors:
//!   - connector_id: crm
//!     service_type: crm
//!     grants:
//!       http: ["https://api.crm.example"]
//!       credentials: [crm]
//!       http_limits: {max_response_bytes: 10485760, requests_per_second: 20}
//! ```
//!
//! Secrets are `SecretString` from the moment they are parsed; a `{file: path}` source is read
//! when the broker is built (see `broker::credentials`), never here.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::Deserialize;

use crate::http::OriginPattern;

/// Google's token endpoint, when a key file names none.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

/// Where a secret comes from: the value itself (after `${ENV}` interpolation) or a file whose
/// content (without the trailing newline) is the secret.
#[derive(Clone)]
pub enum SecretSource {
    /// Written in config.yml, usually as `${ENV}`.
    Value(SecretString),
    /// `{file: path}`: read when the broker is built; relative to the config file's folder.
    File(PathBuf),
}

impl SecretSource {
    /// The secret: the value, or the file's content without its trailing newline (secret files
    /// conventionally end with one that is not part of the secret). A relative file is read
    /// from `base_dir`; on failure, the path read and why.
    pub fn read(
        &self,
        base_dir: &std::path::Path,
    ) -> Result<SecretString, (PathBuf, std::io::Error)> {
        match self {
            SecretSource::Value(v) => Ok(v.clone()),
            SecretSource::File(p) => {
                let path = base_dir.join(p);
                let text = std::fs::read_to_string(&path).map_err(|e| (path, e))?;
                Ok(SecretString::from(
                    text.trim_end_matches(['\r', '\n']).to_owned(),
                ))
            }
        }
    }
}

/// [`SecretSource::read`] with the failure as a sentence (no secret in it).
pub fn read_secret(
    source: &SecretSource,
    base_dir: &std::path::Path,
) -> Result<SecretString, String> {
    source
        .read(base_dir)
        .map_err(|(path, e)| format!("cannot read {}: {e}", path.display()))
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::Value(_) => f.write_str("SecretSource::Value([REDACTED])"),
            SecretSource::File(p) => write!(f, "SecretSource::File({})", p.display()),
        }
    }
}

impl<'de> Deserialize<'de> for SecretSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = SecretSource;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a string (the secret, e.g. \"${MY_TOKEN}\") or {file: /path/to/secret}",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(SecretSource::Value(SecretString::from(v)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut file = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "file" {
                        file = Some(map.next_value::<PathBuf>()?);
                    } else {
                        // The key is safe to name; its value may be a secret and is never read.
                        return Err(serde::de::Error::custom(format!(
                            "unknown key `{key}`: a secret is a string or {{file: /path}}"
                        )));
                    }
                }
                file.map(SecretSource::File)
                    .ok_or_else(|| serde::de::Error::custom("expected {file: /path/to/secret}"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A credential's `type`: how the host turns the secret into what each request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// `Authorization: Basic base64(username:password)`.
    Basic,
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `<header>: <value>`.
    ApiKeyHeader,
    /// `?<param>=<value>` appended to the query.
    ApiKeyQuery,
    /// `Authorization: Bearer <token>` with a token the host fetches from `token_url`.
    Oauth2ClientCredentials,
    /// AWS Signature Version 4: the host signs each request (`Authorization`, `x-amz-date`,
    /// `x-amz-content-sha256`, `x-amz-security-token`).
    #[serde(rename = "aws_sigv4")]
    AwsSigV4,
    /// `Authorization: Bearer <token>` with a token Google's endpoint issues for a JWT the host
    /// signs with a service account's private key (RFC 7523 JWT-bearer grant).
    GoogleServiceAccount,
    /// `Authorization: Bearer <token>` with a client-credentials token the host obtains with a
    /// client assertion signed by a certificate's private key (RFC 7523 §2.2; Entra ID app-only).
    #[serde(rename = "oauth2_client_certificate")]
    OAuth2ClientCertificate,
    /// `Authorization: Bearer <token>` with tokens the host obtains with a refresh token,
    /// storing each rotated refresh token (Dropbox, Box, Zoom-style APIs).
    #[serde(rename = "oauth2_refresh_token")]
    OAuth2RefreshToken,
    /// Azure Storage Shared Key: the host signs each request (`Authorization`, `x-ms-date`).
    AzureSharedKey,
}

impl CredentialKind {
    /// The `type` value as config.yml and plugin.toml write it.
    pub fn name(self) -> &'static str {
        match self {
            CredentialKind::Basic => "basic",
            CredentialKind::Bearer => "bearer",
            CredentialKind::ApiKeyHeader => "api_key_header",
            CredentialKind::ApiKeyQuery => "api_key_query",
            CredentialKind::Oauth2ClientCredentials => "oauth2_client_credentials",
            CredentialKind::AwsSigV4 => "aws_sigv4",
            CredentialKind::GoogleServiceAccount => "google_service_account",
            CredentialKind::OAuth2ClientCertificate => "oauth2_client_certificate",
            CredentialKind::OAuth2RefreshToken => "oauth2_refresh_token",
            CredentialKind::AzureSharedKey => "azure_shared_key",
        }
    }

    /// How this type uses a field of [`CredentialSpec`].
    fn field_use(self, field: &str) -> FieldUse {
        use CredentialKind as K;
        use FieldUse::{Optional, Required, Unused};
        match (self, field) {
            (K::Basic, "username" | "password")
            | (K::Bearer, "token")
            | (K::ApiKeyHeader, "value" | "header")
            | (K::ApiKeyQuery, "value" | "param")
            | (K::Oauth2ClientCredentials, "token_url" | "client_id" | "client_secret")
            | (K::AwsSigV4, "access_key_id" | "secret_access_key" | "region" | "service")
            | (K::GoogleServiceAccount, "service_account_key" | "scopes")
            | (
                K::OAuth2ClientCertificate,
                "token_url" | "client_id" | "certificate" | "private_key",
            )
            | (K::OAuth2RefreshToken, "token_url" | "client_id" | "refresh_token")
            | (K::AzureSharedKey, "account_name" | "account_key") => Required,
            (K::Oauth2ClientCredentials, "scopes" | "client_auth")
            // A public client (PKCE) has no secret.
            | (K::OAuth2RefreshToken, "client_secret" | "scopes" | "client_auth")
            | (K::AwsSigV4, "session_token")
            // Default: the key's `token_uri`.
            | (K::GoogleServiceAccount, "token_url" | "subject")
            | (K::OAuth2ClientCertificate, "scopes") => Optional,
            _ => Unused,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldUse {
    Required,
    Optional,
    Unused,
}

/// How the OAuth2 client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// HTTP Basic with client_id:client_secret (the RFC's recommendation).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// One entry of the top-level `credentials:` map.
#[derive(Debug, Clone, Deserialize)]
pub struct CredentialSpec {
    /// `type`: which fields below it needs (see [`CredentialKind`]); any other field is refused.
    #[serde(rename = "type")]
    pub kind: CredentialKind,
    /// Origins (`scheme://host[:port]`, wildcards allowed) the credential is sent to, and only
    /// those.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// basic: the user name, written as is (not a secret: no `{file: path}` form).
    pub username: Option<String>,
    /// basic: the password.
    pub password: Option<SecretSource>,
    /// bearer: the token sent as `Authorization: Bearer`.
    pub token: Option<SecretSource>,
    /// api_key_header, api_key_query: the key sent in `header` or `param`.
    pub value: Option<SecretSource>,
    /// api_key_header: the header name.
    pub header: Option<String>,
    /// api_key_query: the query parameter name.
    pub param: Option<String>,
    /// The token endpoint (http or https, no user information): required by
    /// oauth2_client_credentials, oauth2_client_certificate and oauth2_refresh_token;
    /// google_service_account defaults to the key file's `token_uri`.
    pub token_url: Option<String>,
    /// The OAuth2 client's id (oauth2_client_credentials, oauth2_client_certificate,
    /// oauth2_refresh_token).
    pub client_id: Option<String>,
    /// The OAuth2 client's secret: required by oauth2_client_credentials, optional for
    /// oauth2_refresh_token (a public PKCE client has none).
    pub client_secret: Option<SecretSource>,
    /// OAuth2 scopes asked for in the token request; required by google_service_account,
    /// optional for the other OAuth2 types (default none).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// oauth2_client_credentials, oauth2_refresh_token: `basic` (default) or `body`.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// aws_sigv4: the access key's id (not secret: it shows in every signed request).
    pub access_key_id: Option<String>,
    /// aws_sigv4
    pub secret_access_key: Option<SecretSource>,
    /// aws_sigv4, temporary credentials (STS): sent as `x-amz-security-token`.
    pub session_token: Option<SecretSource>,
    /// aws_sigv4: e.g. `us-east-1`.
    pub region: Option<String>,
    /// aws_sigv4: the signing name of the API, e.g. `s3`.
    pub service: Option<String>,
    /// google_service_account: the JSON key file Google issues for a service account.
    pub service_account_key: Option<SecretSource>,
    /// google_service_account, optional: the user to act as (domain-wide delegation).
    pub subject: Option<String>,
    /// oauth2_client_certificate: the PEM certificate registered with the app (not secret; read
    /// like a secret so it can be a file).
    pub certificate: Option<SecretSource>,
    /// oauth2_client_certificate: the certificate's PEM private key (PKCS#8 or PKCS#1 RSA).
    pub private_key: Option<SecretSource>,
    /// oauth2_refresh_token: the refresh token the authorization gave; the rotated ones the
    /// host stores under the data directory.
    pub refresh_token: Option<SecretSource>,
    /// azure_shared_key: the storage account (not secret: it shows in every signed request).
    pub account_name: Option<String>,
    /// azure_shared_key: the account key, base64 as Azure shows it.
    pub account_key: Option<SecretSource>,
}

/// Per-connector limits of brokered HTTP (`grants.http_limits`); every field optional.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HttpLimits {
    /// DNS lookup + TCP connect + TLS handshake. Default 10.
    pub connect_timeout_secs: Option<u64>,
    /// From sending the request to the response head. Default 60.
    pub first_byte_timeout_secs: Option<u64>,
    /// Longest pause between two chunks of a response body. Default 60.
    pub between_bytes_timeout_secs: Option<u64>,
    /// Largest response body, in bytes, enforced while streaming. Default 100 MiB.
    pub max_response_bytes: Option<u64>,
    /// Requests in flight at once (a response counts until its body is read or dropped).
    /// Default 16.
    pub max_concurrent_requests: Option<u32>,
    /// Requests started per second (evenly spaced); absent means no rate limit.
    pub requests_per_second: Option<f64>,
}

/// The checks types alone cannot make on `credentials:`; returns the key path and the reason.
/// Never puts a secret in the reason.
pub(crate) fn validate(
    credentials: &BTreeMap<String, CredentialSpec>,
) -> Result<(), (String, String)> {
    for (name, spec) in credentials {
        let at = |k: &str| format!("credentials.{name}.{k}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err((
                format!("credentials.{name}"),
                "a credential name uses letters, digits, `_`, `-` and `.`".into(),
            ));
        }
        if spec.hosts.is_empty() {
            return Err((
                at("hosts"),
                "list the origins this credential may be sent to, e.g. [\"https://api.example.com\"]"
                    .into(),
            ));
        }
        for (i, h) in spec.hosts.iter().enumerate() {
            OriginPattern::parse(h).map_err(|e| (at(&format!("hosts[{i}]")), e.to_string()))?;
        }
        let kind = spec.kind;
        let fields: [(&str, bool); 22] = [
            ("username", spec.username.is_some()),
            ("password", spec.password.is_some()),
            ("token", spec.token.is_some()),
            ("value", spec.value.is_some()),
            ("header", spec.header.is_some()),
            ("param", spec.param.is_some()),
            ("token_url", spec.token_url.is_some()),
            ("client_id", spec.client_id.is_some()),
            ("client_secret", spec.client_secret.is_some()),
            ("scopes", !spec.scopes.is_empty()),
            ("access_key_id", spec.access_key_id.is_some()),
            ("secret_access_key", spec.secret_access_key.is_some()),
            ("session_token", spec.session_token.is_some()),
            ("region", spec.region.is_some()),
            ("service", spec.service.is_some()),
            ("service_account_key", spec.service_account_key.is_some()),
            ("subject", spec.subject.is_some()),
            ("certificate", spec.certificate.is_some()),
            ("private_key", spec.private_key.is_some()),
            ("refresh_token", spec.refresh_token.is_some()),
            ("account_name", spec.account_name.is_some()),
            ("account_key", spec.account_key.is_some()),
        ];
        for (field, present) in fields {
            match (kind.field_use(field), present) {
                (FieldUse::Required, false) => {
                    return Err((at(field), format!("required for type {}", kind.name())));
                }
                (FieldUse::Unused, true) => {
                    return Err((at(field), format!("not used by type {}", kind.name())));
                }
                _ => {}
            }
        }
        if let Some(subject) = &spec.subject
            && (subject.is_empty() || subject.contains(char::is_whitespace))
        {
            return Err((
                at("subject"),
                format!("{subject:?} is not an account: write the user's email address"),
            ));
        }
        for (field, value) in [("region", &spec.region), ("service", &spec.service)] {
            if let Some(v) = value
                && (v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            {
                return Err((
                    at(field),
                    format!("{v:?} is not an AWS {field} name (e.g. us-east-1, s3)"),
                ));
            }
        }
        // Azure's rule for storage account names; also keeps the name header-safe.
        let account_name_ok = |a: &str| {
            (3..=24).contains(&a.len())
                && a.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        };
        if let Some(account) = &spec.account_name
            && !account_name_ok(account)
        {
            return Err((
                at("account_name"),
                format!(
                    "{account:?} is not a storage account name (3 to 24 lower-case letters and digits)"
                ),
            ));
        }
        if let Some(header) = &spec.header {
            check_header_name(header).map_err(|m| (at("header"), m))?;
        }
        if let Some(param) = &spec.param
            && (param.is_empty() || param.contains(['&', '=', '#', ' ']))
        {
            return Err((
                at("param"),
                format!("{param:?} is not a query parameter name"),
            ));
        }
        if let Some(url) = &spec.token_url {
            check_token_url(url).map_err(|m| (at("token_url"), m))?;
        }
    }
    Ok(())
}

/// Checks a connector's network grants against the `credentials:` map.
pub(crate) fn validate_grants(
    http: &[String],
    granted_credentials: &[String],
    limits: &HttpLimits,
    credentials: &BTreeMap<String, CredentialSpec>,
    at: &dyn Fn(&str) -> String,
) -> Result<(), (String, String)> {
    for (j, origin) in http.iter().enumerate() {
        OriginPattern::parse(origin)
            .map_err(|e| (at(&format!("grants.http[{j}]")), e.to_string()))?;
    }
    for (j, name) in granted_credentials.iter().enumerate() {
        if !credentials.contains_key(name) {
            let defined: Vec<&str> = credentials.keys().map(String::as_str).collect();
            return Err((
                at(&format!("grants.credentials[{j}]")),
                format!(
                    "no credential named {name:?} in the top-level `credentials:` (defined: {})",
                    if defined.is_empty() {
                        "none".to_owned()
                    } else {
                        defined.join(", ")
                    }
                ),
            ));
        }
    }
    let positive = |k: &str, v: Option<u64>| match v {
        Some(0) => Err((
            at(&format!("grants.http_limits.{k}")),
            "must be greater than 0".to_owned(),
        )),
        _ => Ok(()),
    };
    positive("connect_timeout_secs", limits.connect_timeout_secs)?;
    positive("first_byte_timeout_secs", limits.first_byte_timeout_secs)?;
    positive(
        "between_bytes_timeout_secs",
        limits.between_bytes_timeout_secs,
    )?;
    positive("max_response_bytes", limits.max_response_bytes)?;
    positive(
        "max_concurrent_requests",
        limits.max_concurrent_requests.map(u64::from),
    )?;
    if let Some(r) = limits.requests_per_second
        && !(r.is_finite() && r > 0.0)
    {
        return Err((
            at("grants.http_limits.requests_per_second"),
            "must be a number greater than 0 (leave it out for no rate limit)".into(),
        ));
    }
    Ok(())
}

/// Header names the host manages itself and a credential may not claim.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
];

fn check_header_name(name: &str) -> Result<(), String> {
    let parsed = http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid HTTP header name"))?;
    if RESERVED_HEADERS.contains(&parsed.as_str()) {
        return Err(format!(
            "{name:?} is managed by the host and cannot carry a credential"
        ));
    }
    Ok(())
}

/// A token endpoint must be an absolute http(s) URL with a host and without user information
/// (the client's id and secret have their own keys); the message says which rule failed.
pub fn check_token_url(url: &str) -> Result<(), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("{url:?} must be an http:// or https:// URL")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err(format!(
            "{url:?}: put the client's id and secret in client_id and client_secret, not in the URL"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> BTreeMap<String, CredentialSpec> {
        serde_yaml_ng::from_str(yaml).expect("parses")
    }

    #[test]
    fn secret_from_value_or_file_never_in_debug() {
        let c = spec(
            "a: {type: bearer, token: t0ps3cret, hosts: [\"https://x.example\"]}\n\
             b: {type: bearer, token: {file: /run/s}, hosts: [\"https://x.example\"]}\n",
        );
        assert!(matches!(c["b"].token, Some(SecretSource::File(_))));
        let debug = format!("{c:?}");
        assert!(!debug.contains("t0ps3cret"), "{debug}");
        assert!(debug.contains("/run/s"));
        assert_eq!(validate(&c), Ok(()));
    }

    #[test]
    fn aws_sigv4_needs_its_key_region_and_service() {
        let full = "a: {type: aws_sigv4, access_key_id: AKID, secret_access_key: s, session_token: t, region: eu-west-1, service: s3, hosts: [\"https://*.s3.eu-west-1.amazonaws.com\"]}\n";
        assert_eq!(validate(&spec(full)), Ok(()));
        let c = spec(
            "a: {type: aws_sigv4, access_key_id: AKID, secret_access_key: s, service: s3, hosts: [\"https://x.example\"]}\n",
        );
        let (key, msg) = validate(&c).unwrap_err();
        assert_eq!(key, "credentials.a.region");
        assert!(msg.contains("required for type aws_sigv4"), "{msg}");
        let c = spec(
            "a: {type: aws_sigv4, access_key_id: AKID, secret_access_key: s, region: \"us east\", service: s3, hosts: [\"https://x.example\"]}\n",
        );
        assert_eq!(validate(&c).unwrap_err().0, "credentials.a.region");
        let c =
            spec("a: {type: bearer, token: t, session_token: x, hosts: [\"https://x.example\"]}\n");
        assert_eq!(validate(&c).unwrap_err().0, "credentials.a.session_token");
    }

    #[test]
    fn signed_assertion_types_need_their_key_and_nothing_else() {
        let google = "a: {type: google_service_account, service_account_key: {file: sa.json}, scopes: [s], hosts: [\"https://www.googleapis.com\"]}\n";
        assert_eq!(validate(&spec(google)), Ok(()));
        let err = |yaml: &str| validate(&spec(yaml)).unwrap_err();
        // Google refuses a grant without a scope.
        let (key, msg) = err(
            "a: {type: google_service_account, service_account_key: k, hosts: [\"https://x.example\"]}\n",
        );
        assert_eq!(key, "credentials.a.scopes");
        assert!(
            msg.contains("required for type google_service_account"),
            "{msg}"
        );
        let (key, msg) = err(
            "a: {type: google_service_account, service_account_key: k, scopes: [s], client_secret: x, hosts: [\"https://x.example\"]}\n",
        );
        assert_eq!(key, "credentials.a.client_secret");
        assert!(msg.contains("not used"), "{msg}");
        let (key, _) = err(
            "a: {type: google_service_account, service_account_key: k, scopes: [s], subject: \"ann smith\", hosts: [\"https://x.example\"]}\n",
        );
        assert_eq!(key, "credentials.a.subject");
        assert_eq!(
            err("a: {type: bearer, token: t, subject: ann@x.example, hosts: [\"https://x.example\"]}\n").0,
            "credentials.a.subject"
        );

        let entra = "a: {type: oauth2_client_certificate, token_url: \"https://login.example/t/token\", client_id: app, certificate: {file: c.pem}, private_key: {file: k.pem}, hosts: [\"https://x.example\"]}\n";
        assert_eq!(validate(&spec(entra)), Ok(()));
        for missing in ["token_url", "client_id", "certificate", "private_key"] {
            let mut c = spec(entra);
            let s = c.get_mut("a").expect("a");
            match missing {
                "token_url" => s.token_url = None,
                "client_id" => s.client_id = None,
                "certificate" => s.certificate = None,
                _ => s.private_key = None,
            }
            assert_eq!(
                validate(&c).unwrap_err().0,
                format!("credentials.a.{missing}")
            );
        }
        assert_eq!(
            err("a: {type: oauth2_client_credentials, token_url: \"https://x.example/t\", client_id: i, client_secret: s, private_key: k, hosts: [\"https://x.example\"]}\n").0,
            "credentials.a.private_key"
        );

        // A refresh-token client may be public (no secret), never without the token.
        let public = "a: {type: oauth2_refresh_token, token_url: \"https://x.example/t\", client_id: i, refresh_token: {file: rt}, hosts: [\"https://x.example\"]}\n";
        assert_eq!(validate(&spec(public)), Ok(()));
        assert_eq!(
            err("a: {type: oauth2_refresh_token, token_url: \"https://x.example/t\", client_id: i, client_secret: s, hosts: [\"https://x.example\"]}\n").0,
            "credentials.a.refresh_token"
        );
        assert_eq!(
            err("a: {type: bearer, token: t, refresh_token: r, hosts: [\"https://x.example\"]}\n")
                .0,
            "credentials.a.refresh_token"
        );
    }

    #[test]
    fn azure_shared_key_needs_an_account_name_and_key() {
        let full = "a: {type: azure_shared_key, account_name: inletdocs, account_key: a2V5, hosts: [\"https://inletdocs.blob.core.windows.net\"]}\n";
        assert_eq!(validate(&spec(full)), Ok(()));
        let c = spec(
            "a: {type: azure_shared_key, account_name: inletdocs, hosts: [\"https://x.example\"]}\n",
        );
        let (key, msg) = validate(&c).unwrap_err();
        assert_eq!(key, "credentials.a.account_key");
        assert!(msg.contains("required for type azure_shared_key"), "{msg}");
        for bad in ["Inlet", "ab", "inlet-docs", "a234567890123456789012345"] {
            let c = spec(&format!(
                "a: {{type: azure_shared_key, account_name: {bad}, account_key: a2V5, hosts: [\"https://x.example\"]}}\n"
            ));
            let (key, msg) = validate(&c).unwrap_err();
            assert_eq!(key, "credentials.a.account_name", "{bad}");
            assert!(msg.contains("storage account name"), "{msg}");
        }
        let c =
            spec("a: {type: bearer, token: t, account_name: x, hosts: [\"https://x.example\"]}\n");
        assert_eq!(validate(&c).unwrap_err().0, "credentials.a.account_name");
    }

    #[test]
    fn kind_specific_fields_are_checked_by_key_path() {
        let c = spec("a: {type: basic, username: u, hosts: [\"https://x.example\"]}\n");
        assert_eq!(
            validate(&c).unwrap_err().0,
            "credentials.a.password".to_owned()
        );
        let c = spec("a: {type: bearer, token: t, value: v, hosts: [\"https://x.example\"]}\n");
        let (key, msg) = validate(&c).unwrap_err();
        assert_eq!(key, "credentials.a.value");
        assert!(msg.contains("not used"), "{msg}");
        let c = spec(
            "a: {type: api_key_header, value: v, header: \"bad header\", hosts: [\"https://x.example\"]}\n",
        );
        assert_eq!(validate(&c).unwrap_err().0, "credentials.a.header");
        let c = spec(
            "a: {type: api_key_header, value: v, header: Host, hosts: [\"https://x.example\"]}\n",
        );
        assert_eq!(validate(&c).unwrap_err().0, "credentials.a.header");
        let c = spec("a: {type: bearer, token: t, hosts: []}\n");
        assert_eq!(validate(&c).unwrap_err().0, "credentials.a.hosts");
        let c = spec("a: {type: bearer, token: t, hosts: [\"https://x.example/path\"]}\n");
        assert_eq!(validate(&c).unwrap_err().0, "credentials.a.hosts[0]");
        let c = spec(
            "a: {type: oauth2_client_credentials, token_url: \"ftp://x\", client_id: i, client_secret: s, hosts: [\"https://x.example\"]}\n",
        );
        assert_eq!(validate(&c).unwrap_err().0, "credentials.a.token_url");
    }

    #[test]
    fn grants_name_defined_credentials_and_positive_limits() {
        let creds = spec("a: {type: bearer, token: t, hosts: [\"https://x.example\"]}\n");
        let at = |k: &str| format!("connectors[0].{k}");
        assert!(validate_grants(&[], &["a".into()], &HttpLimits::default(), &creds, &at).is_ok());
        let (key, msg) =
            validate_grants(&[], &["b".into()], &HttpLimits::default(), &creds, &at).unwrap_err();
        assert_eq!(key, "connectors[0].grants.credentials[0]");
        assert!(msg.contains("defined: a"), "{msg}");
        let (key, _) = validate_grants(
            &["https://ok.example".into(), "not an origin".into()],
            &[],
            &HttpLimits::default(),
            &creds,
            &at,
        )
        .unwrap_err();
        assert_eq!(key, "connectors[0].grants.http[1]");
        let limits = HttpLimits {
            requests_per_second: Some(0.0),
            ..Default::default()
        };
        assert_eq!(
            validate_grants(&[], &[], &limits, &creds, &at)
                .unwrap_err()
                .0,
            "connectors[0].grants.http_limits.requests_per_second"
        );
    }
}
