//! Credentials the host holds and injects: loaded from `credentials:` into `SecretString`s,
//! applied only to requests whose origin the credential is bound to, and never shown to a
//! plugin, a log line or an error message (`Debug` prints the name, type and hosts only).
//!
//! OAuth2 tokens (client credentials with a secret or a certificate's signed assertion, and
//! Google's service-account JWT grant) are fetched by the host, cached until shortly before they
//! expire, and refreshed when they expire or when the source answers 401 with them. Token
//! requests are rate-limited per credential, whatever the plugins do: concurrent requests wait
//! for one fetch, a 401 drops a token at most once per [`REFUSED_TOKEN_INTERVAL`], and a failed
//! fetch is not retried for [`FAILED_FETCH_BACKOFF`]. A source that refuses every token (a
//! disabled app, a missing scope) so costs the token endpoint one request per interval, not one
//! per plugin request of every connector sharing the credential.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use super::assertion::{self, ClientCertificate, ServiceAccount};
use super::azure_shared_key::AzureSharedKey;
use super::refresh_token::RotatingRefreshToken;
use super::send;
use super::sigv4::SigV4;
use inlet_policy::config::credentials::{ClientAuth, CredentialKind, CredentialSpec, SecretSource};
use inlet_policy::http::{OriginPattern, Target};

/// Why a credential could not be loaded (at start for config.yml's, before a sync for a form
/// credential, whose `name` is `form:<connector_id>/<name>`). Names the key path and never the
/// secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// A secret given as `{file: path}` could not be read.
    #[error("`credentials.{name}.{field}`: cannot read the secret file {path}: {source}")]
    File {
        /// The credential's key under `credentials:`.
        name: String,
        /// The secret's field (`token`, `password`, `client_secret`, …).
        field: &'static str,
        /// The file read: relative paths resolved against config.yml's directory.
        path: String,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// The secret (a value, or a file's content without its trailing newline) is empty: an
    /// empty file, or an `${ENV}` set to (or defaulting to) nothing.
    #[error("`credentials.{name}.{field}`: the secret is empty")]
    Empty {
        /// The credential's key under `credentials:`.
        name: String,
        /// The secret's field.
        field: &'static str,
    },
    /// A secret injected as a header value has a character a header cannot carry (a newline,
    /// a control character).
    #[error(
        "`credentials.{name}.{field}`: the secret contains characters not allowed in an HTTP header"
    )]
    NotHeaderSafe {
        /// The credential's key under `credentials:`.
        name: String,
        /// The secret's field.
        field: &'static str,
    },
    /// An `azure_shared_key` account key that does not decode.
    #[error("`credentials.{name}.{field}`: {source}")]
    NotBase64 {
        /// The credential's key under `credentials:`.
        name: String,
        /// The secret's field (`account_key`).
        field: &'static str,
        /// The decoding failure (names no value).
        source: super::azure_shared_key::NotBase64,
    },
    /// Anything else about the definition: a field its type requires is missing, a bad
    /// `hosts` pattern or header name, a key or certificate that does not parse.
    #[error("`credentials.{name}`: {message}")]
    Invalid {
        /// The credential's key under `credentials:`.
        name: String,
        /// What is wrong, naming the field.
        message: String,
    },
}

/// A token could not be obtained from an OAuth2 token endpoint.
#[derive(Debug, thiserror::Error)]
#[error("credential `{name}`: {reason}")]
pub(crate) struct TokenError {
    pub name: String,
    pub reason: String,
    /// The failure of an earlier fetch, repeated without asking the endpoint again (already
    /// logged once).
    pub repeated: bool,
}

/// What a credential adds to a request.
enum Secret {
    /// A complete header value: basic, bearer, API-key header.
    Header {
        name: HeaderName,
        value: SecretString,
    },
    Query {
        param: String,
        value: SecretString,
    },
    OAuth2(Box<OAuth2>),
    /// Signs the whole request (`aws_sigv4`).
    SigV4(Box<SigV4>),
    /// Signs the whole request (`azure_shared_key`).
    AzureSharedKey(Box<AzureSharedKey>),
}

pub(crate) struct Credential {
    name: String,
    kind: CredentialKind,
    hosts: Vec<OriginPattern>,
    secret: Secret,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("name", &self.name)
            .field("type", &self.kind.name())
            .field(
                "hosts",
                &self.hosts.iter().map(|h| h.as_str()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// What to do to one request, decided before it is sent.
pub(crate) enum Injection<'a> {
    Header(HeaderName, HeaderValue),
    Query(&'a str, &'a SecretString),
    /// A bearer token from this client; `generation` identifies the token for a 401 refresh.
    OAuth2 {
        client: &'a OAuth2,
        header: HeaderValue,
        generation: u64,
    },
    /// Sign the request as it will be sent.
    SigV4(&'a SigV4),
    /// Sign the request as it will be sent.
    AzureSharedKey(&'a AzureSharedKey),
}

impl Credential {
    /// Reads the secret sources (files relative to `base_dir`) and checks the values. Rotated
    /// refresh tokens are stored in `refresh_tokens` (`None`: kept in memory only).
    pub(crate) fn load(
        name: &str,
        spec: &CredentialSpec,
        base_dir: &Path,
        refresh_tokens: Option<&Path>,
    ) -> Result<Self, CredentialError> {
        let read = |field: &'static str,
                    src: &Option<SecretSource>|
         -> Result<SecretString, CredentialError> {
            let src = src.as_ref().ok_or_else(|| CredentialError::Invalid {
                name: name.to_owned(),
                message: format!("`{field}` is required for type {}", spec.kind.name()),
            })?;
            let secret = src
                .read(base_dir)
                .map_err(|(path, source)| CredentialError::File {
                    name: name.to_owned(),
                    field,
                    path: path.display().to_string(),
                    source,
                })?;
            if secret.expose_secret().is_empty() {
                return Err(CredentialError::Empty {
                    name: name.to_owned(),
                    field,
                });
            }
            Ok(secret)
        };
        let header_safe = |field: &'static str, s: &SecretString| {
            if HeaderValue::from_str(s.expose_secret()).is_ok() {
                Ok(())
            } else {
                Err(CredentialError::NotHeaderSafe {
                    name: name.to_owned(),
                    field,
                })
            }
        };
        let invalid = |message: String| CredentialError::Invalid {
            name: name.to_owned(),
            message,
        };
        let hosts = spec
            .hosts
            .iter()
            .map(|h| OriginPattern::parse(h).map_err(|e| invalid(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let secret = match spec.kind {
            CredentialKind::Basic => {
                let user = spec.username.clone().unwrap_or_default();
                let password = read("password", &spec.password)?;
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", password.expose_secret()));
                Secret::Header {
                    name: http::header::AUTHORIZATION,
                    value: SecretString::from(format!("Basic {encoded}")),
                }
            }
            CredentialKind::Bearer => {
                let token = read("token", &spec.token)?;
                header_safe("token", &token)?;
                Secret::Header {
                    name: http::header::AUTHORIZATION,
                    value: SecretString::from(format!("Bearer {}", token.expose_secret())),
                }
            }
            CredentialKind::ApiKeyHeader => {
                let value = read("value", &spec.value)?;
                header_safe("value", &value)?;
                let header = spec.header.as_deref().unwrap_or_default();
                Secret::Header {
                    name: HeaderName::from_bytes(header.as_bytes())
                        .map_err(|_| invalid(format!("{header:?} is not a header name")))?,
                    value,
                }
            }
            CredentialKind::ApiKeyQuery => Secret::Query {
                param: spec.param.clone().unwrap_or_default(),
                value: read("value", &spec.value)?,
            },
            CredentialKind::Oauth2ClientCredentials => {
                let grant = Grant::ClientSecret {
                    client_id: spec.client_id.clone().unwrap_or_default(),
                    client_secret: read("client_secret", &spec.client_secret)?,
                    client_auth: spec.client_auth,
                };
                let url = spec.token_url.as_deref().unwrap_or_default();
                Secret::OAuth2(Box::new(OAuth2::new(name, url, &spec.scopes, grant)?))
            }
            CredentialKind::GoogleServiceAccount => {
                let key = read("service_account_key", &spec.service_account_key)?;
                let account = ServiceAccount::from_key_json(&key, spec.subject.as_deref())
                    .map_err(|m| invalid(format!("`service_account_key`: {m}")))?;
                // config.yml's token_url (a private endpoint, a test) before the key file's.
                let url = match (&spec.token_url, account.token_uri()) {
                    (Some(url), _) => url.clone(),
                    (None, Some(uri)) => {
                        inlet_policy::config::credentials::check_token_url(uri).map_err(|m| {
                            invalid(format!(
                                "`service_account_key`: its token_uri: {m}; set `token_url`"
                            ))
                        })?;
                        uri.to_owned()
                    }
                    (None, None) => assertion::GOOGLE_TOKEN_URL.to_owned(),
                };
                let grant = Grant::ServiceAccount(Box::new(account));
                Secret::OAuth2(Box::new(OAuth2::new(name, &url, &spec.scopes, grant)?))
            }
            CredentialKind::OAuth2ClientCertificate => {
                let client_id = spec.client_id.clone().unwrap_or_default();
                let certificate = read("certificate", &spec.certificate)?;
                let key = read("private_key", &spec.private_key)?;
                let signer = ClientCertificate::new(&client_id, &certificate, &key)
                    .map_err(|(field, m)| invalid(format!("`{field}`: {m}")))?;
                let grant = Grant::ClientCertificate {
                    client_id,
                    signer: Box::new(signer),
                };
                let url = spec.token_url.as_deref().unwrap_or_default();
                Secret::OAuth2(Box::new(OAuth2::new(name, url, &spec.scopes, grant)?))
            }
            CredentialKind::OAuth2RefreshToken => {
                let configured = read("refresh_token", &spec.refresh_token)?;
                let client_secret = spec
                    .client_secret
                    .as_ref()
                    .map(|_| read("client_secret", &spec.client_secret))
                    .transpose()?;
                let grant = Grant::RefreshToken {
                    client_id: spec.client_id.clone().unwrap_or_default(),
                    client_secret,
                    client_auth: spec.client_auth,
                    token: RotatingRefreshToken::load(name, configured, refresh_tokens),
                };
                let url = spec.token_url.as_deref().unwrap_or_default();
                Secret::OAuth2(Box::new(OAuth2::new(name, url, &spec.scopes, grant)?))
            }
            CredentialKind::AwsSigV4 => {
                let secret = read("secret_access_key", &spec.secret_access_key)?;
                let token = spec
                    .session_token
                    .as_ref()
                    .map(|_| read("session_token", &spec.session_token))
                    .transpose()?;
                if let Some(t) = &token {
                    header_safe("session_token", t)?;
                }
                Secret::SigV4(Box::new(SigV4::new(
                    spec.access_key_id.as_deref().unwrap_or_default(),
                    &secret,
                    token.as_ref(),
                    spec.region.as_deref().unwrap_or_default(),
                    spec.service.as_deref().unwrap_or_default(),
                )))
            }
            CredentialKind::AzureSharedKey => {
                let key = read("account_key", &spec.account_key)?;
                let signer =
                    AzureSharedKey::new(spec.account_name.as_deref().unwrap_or_default(), &key)
                        .map_err(|source| CredentialError::NotBase64 {
                            name: name.to_owned(),
                            field: "account_key",
                            source,
                        })?;
                Secret::AzureSharedKey(Box::new(signer))
            }
        };
        Ok(Credential {
            name: name.to_owned(),
            kind: spec.kind,
            hosts,
            secret,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn hosts(&self) -> &[OriginPattern] {
        &self.hosts
    }

    /// True when this credential is bound to the request's origin.
    pub(crate) fn applies_to(&self, target: &Target) -> bool {
        self.hosts.iter().any(|h| h.matches(target))
    }

    /// The headers this credential sets, which the plugin therefore may not set itself.
    pub(crate) fn header_names(&self) -> Vec<HeaderName> {
        match &self.secret {
            Secret::Header { name, .. } => vec![name.clone()],
            Secret::OAuth2(_) => vec![http::header::AUTHORIZATION],
            Secret::SigV4(_) => super::sigv4::SIGNED_BY_HOST.to_vec(),
            Secret::AzureSharedKey(_) => super::azure_shared_key::SIGNED_BY_HOST.to_vec(),
            Secret::Query { .. } => Vec::new(),
        }
    }

    pub(crate) fn is_oauth2(&self) -> bool {
        matches!(self.secret, Secret::OAuth2(_))
    }

    /// Whether the signature covers the body (SigV4: its hash; Shared Key: its length), so the
    /// broker keeps a small body whole to sign.
    pub(crate) fn signs_body(&self) -> bool {
        matches!(self.secret, Secret::SigV4(_) | Secret::AzureSharedKey(_))
    }

    /// The query parameter this credential sets.
    pub(crate) fn query_param(&self) -> Option<&str> {
        match &self.secret {
            Secret::Query { param, .. } => Some(param),
            _ => None,
        }
    }

    /// OAuth2 tokens fetched so far (for metrics).
    pub(crate) fn token_fetches(&self) -> u64 {
        match &self.secret {
            Secret::OAuth2(o) => o.fetches.load(Ordering::Relaxed),
            _ => 0,
        }
    }

    /// What to add to a request, fetching an OAuth2 token if none is cached.
    pub(crate) async fn injection(&self, net: &send::Connect) -> Result<Injection<'_>, TokenError> {
        let named = |e: TokenError| TokenError {
            name: self.name.clone(),
            ..e
        };
        Ok(match &self.secret {
            Secret::Header { name, value } => Injection::Header(
                name.clone(),
                sensitive_header(value.expose_secret()).map_err(named)?,
            ),
            Secret::Query { param, value } => Injection::Query(param, value),
            Secret::SigV4(signer) => Injection::SigV4(signer),
            Secret::AzureSharedKey(signer) => Injection::AzureSharedKey(signer),
            Secret::OAuth2(client) => {
                let (token, generation) = client.token(net).await?;
                Injection::OAuth2 {
                    client,
                    header: sensitive_header(&format!("Bearer {}", token.expose_secret()))
                        .map_err(named)?,
                    generation,
                }
            }
        })
    }
}

/// A header value marked sensitive (kept out of HPACK tables and `Debug` output).
fn sensitive_header(value: &str) -> Result<HeaderValue, TokenError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| TokenError {
        name: String::new(),
        reason: "the secret cannot be sent in an HTTP header".into(),
        repeated: false,
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// Authenticates the client at the token endpoint (RFC 6749 §2.3.1): HTTP Basic or the form
/// body with a secret; a public client without one sends its id in the body.
fn client_authentication(
    builder: http::request::Builder,
    form: &mut form_urlencoded::Serializer<'_, String>,
    client_id: &str,
    client_secret: Option<&SecretString>,
    client_auth: ClientAuth,
) -> Result<http::request::Builder, TokenError> {
    let Some(secret) = client_secret else {
        form.append_pair("client_id", client_id);
        return Ok(builder);
    };
    match client_auth {
        ClientAuth::Basic => {
            // Form-encode id and secret before joining them.
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(client_id), enc(secret.expose_secret()));
            let value = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            );
            Ok(builder.header(http::header::AUTHORIZATION, sensitive_header(&value)?))
        }
        ClientAuth::Body => {
            form.append_pair("client_id", client_id);
            form.append_pair("client_secret", secret.expose_secret());
            Ok(builder)
        }
    }
}

/// An OAuth2 client of a token endpoint, with its token cache.
pub(crate) struct OAuth2 {
    credential: String,
    token_url: http::Uri,
    scopes: Vec<String>,
    grant: Grant,
    /// Held across a fetch so concurrent requests wait for one token instead of each fetching.
    cache: tokio::sync::Mutex<TokenState>,
    fetches: AtomicU64,
}

/// How the host asks the token endpoint for a token.
enum Grant {
    /// `oauth2_client_credentials`: client credentials, the client authenticated by its secret.
    ClientSecret {
        client_id: String,
        client_secret: SecretString,
        client_auth: ClientAuth,
    },
    /// `google_service_account`: a JWT signed with the account's key is the grant.
    ServiceAccount(Box<ServiceAccount>),
    /// `oauth2_client_certificate`: client credentials, the client authenticated by a JWT its
    /// certificate's key signs.
    ClientCertificate {
        client_id: String,
        signer: Box<ClientCertificate>,
    },
    /// `oauth2_refresh_token`: the refresh-token grant; a confidential client authenticates
    /// like `ClientSecret`, a public one sends its id only.
    RefreshToken {
        client_id: String,
        client_secret: Option<SecretString>,
        client_auth: ClientAuth,
        token: RotatingRefreshToken,
    },
}

#[derive(Default)]
struct TokenState {
    current: Option<CachedToken>,
    generation: u64,
    /// When a 401 last made us drop a token.
    last_refused_drop: Option<Instant>,
    /// The last fetch failed: its reason, repeated to requests until this instant.
    failed: Option<(Instant, String)>,
}

struct CachedToken {
    value: SecretString,
    refresh_at: Instant,
    generation: u64,
}

/// A token is refreshed this long before the endpoint says it expires (capped at a tenth of its
/// lifetime, so short-lived tokens are still reused).
const EXPIRY_SKEW: Duration = Duration::from_secs(30);
/// Lifetime assumed when the endpoint gives no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// Largest token endpoint response read.
const MAX_TOKEN_RESPONSE: u64 = 64 * 1024;
/// A 401 drops the cached token (so the next request fetches another) at most once per this
/// interval per credential. A revoked token is replaced at the first 401; a source that
/// refuses every token costs one token request per interval.
pub(crate) const REFUSED_TOKEN_INTERVAL: Duration = Duration::from_secs(30);
/// After a failed fetch, requests needing the token fail at once for this long instead of each
/// asking the endpoint again.
pub(crate) const FAILED_FETCH_BACKOFF: Duration = Duration::from_secs(5);

/// When a token fetched at `now` with `expires_in` should be replaced.
pub(crate) fn refresh_at(now: Instant, expires_in: Option<Duration>) -> Instant {
    let lifetime = expires_in.unwrap_or(DEFAULT_LIFETIME);
    now + lifetime - EXPIRY_SKEW.min(lifetime / 10)
}

impl TokenState {
    fn fresh(&self, now: Instant) -> Option<(SecretString, u64)> {
        self.current
            .as_ref()
            .filter(|t| now < t.refresh_at)
            .map(|t| (t.value.clone(), t.generation))
    }

    /// The source answered 401 to token `generation`. Drops it if it is still the current
    /// token and no 401 dropped one in the last [`REFUSED_TOKEN_INTERVAL`]. True when the
    /// next request will carry a different token than `generation` (worth one more try).
    fn refused(&mut self, generation: u64, now: Instant) -> bool {
        match &self.current {
            // Already replaced (or dropped) by another request.
            Some(t) if t.generation != generation => true,
            None => true,
            Some(_) => {
                let recently = self
                    .last_refused_drop
                    .is_some_and(|at| now.duration_since(at) < REFUSED_TOKEN_INTERVAL);
                if recently {
                    return false;
                }
                self.current = None;
                self.last_refused_drop = Some(now);
                true
            }
        }
    }
}

impl OAuth2 {
    fn new(
        credential: &str,
        token_url: &str,
        scopes: &[String],
        grant: Grant,
    ) -> Result<OAuth2, CredentialError> {
        Ok(OAuth2 {
            credential: credential.to_owned(),
            token_url: token_url.parse().map_err(|e| CredentialError::Invalid {
                name: credential.to_owned(),
                message: format!("token_url {token_url:?}: {e}"),
            })?,
            scopes: scopes.to_vec(),
            grant,
            cache: tokio::sync::Mutex::new(TokenState::default()),
            fetches: AtomicU64::new(0),
        })
    }

    /// A valid token: the cached one, or a new one from the token endpoint. The lock is held
    /// across the fetch, so concurrent requests wait for one fetch instead of each making one.
    pub(crate) async fn token(
        &self,
        net: &send::Connect,
    ) -> Result<(SecretString, u64), TokenError> {
        let mut state = self.cache.lock().await;
        let now = Instant::now();
        if let Some(t) = state.fresh(now) {
            return Ok(t);
        }
        if let Some((until, reason)) = &state.failed
            && now < *until
        {
            return Err(TokenError {
                name: self.credential.clone(),
                reason: format!(
                    "{reason} (the endpoint is asked again in {} ms at the earliest)",
                    until.duration_since(now).as_millis()
                ),
                repeated: true,
            });
        }
        let (value, expires_in) = match self.fetch(net).await {
            Ok(fetched) => fetched,
            Err(e) => {
                state.failed = Some((Instant::now() + FAILED_FETCH_BACKOFF, e.reason.clone()));
                return Err(e);
            }
        };
        state.failed = None;
        state.generation += 1;
        let generation = state.generation;
        state.current = Some(CachedToken {
            value: value.clone(),
            refresh_at: refresh_at(now, expires_in),
            generation,
        });
        tracing::debug!(credential = %self.credential, generation, expires_in = ?expires_in, "OAuth2 token fetched");
        Ok((value, generation))
    }

    /// The source answered 401 to token `generation`: it may have been revoked before its
    /// expiry. Drops it (rate-limited, see [`REFUSED_TOKEN_INTERVAL`]) unless another request
    /// already replaced it. True when the next request will carry another token, so sending
    /// the refused request once more is worth it.
    pub(crate) async fn refused(&self, generation: u64) -> bool {
        let mut state = self.cache.lock().await;
        let renewed = state.refused(generation, Instant::now());
        if !renewed {
            tracing::debug!(
                credential = %self.credential,
                generation,
                "401 with a token fetched after an earlier 401 less than {}s ago; keeping it (the source may refuse every token)",
                REFUSED_TOKEN_INTERVAL.as_secs()
            );
        }
        renewed
    }

    /// The token request of this client's grant (a plain function: the form serializer is
    /// not `Send`, so it must not live in `fetch`'s future).
    fn token_request(
        &self,
        endpoint: &str,
        fail: &dyn Fn(String) -> TokenError,
    ) -> Result<http::Request<bytes::Bytes>, TokenError> {
        let scope = self.scopes.join(" ");
        let mut form = form_urlencoded::Serializer::new(String::new());
        let mut builder = http::Request::post(self.token_url.clone())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json");
        match &self.grant {
            Grant::ClientSecret {
                client_id,
                client_secret,
                client_auth,
            } => {
                form.append_pair("grant_type", "client_credentials");
                if !scope.is_empty() {
                    form.append_pair("scope", &scope);
                }
                builder = client_authentication(
                    builder,
                    &mut form,
                    client_id,
                    Some(client_secret),
                    *client_auth,
                )
                .map_err(|e| fail(e.reason))?;
            }
            Grant::RefreshToken {
                client_id,
                client_secret,
                client_auth,
                token,
            } => {
                form.append_pair("grant_type", "refresh_token");
                form.append_pair("refresh_token", token.current().expose_secret());
                if !scope.is_empty() {
                    form.append_pair("scope", &scope);
                }
                builder = client_authentication(
                    builder,
                    &mut form,
                    client_id,
                    client_secret.as_ref(),
                    *client_auth,
                )
                .map_err(|e| fail(e.reason))?;
            }
            Grant::ServiceAccount(account) => {
                // The scopes travel inside the signed JWT (Google's token endpoint reads them
                // there), its audience is the endpoint.
                let jwt = account
                    .assertion(endpoint, &scope, assertion::unix_now())
                    .map_err(fail)?;
                form.append_pair("grant_type", assertion::JWT_BEARER_GRANT);
                form.append_pair("assertion", &jwt);
            }
            Grant::ClientCertificate { client_id, signer } => {
                let jwt = signer
                    .assertion(endpoint, assertion::unix_now())
                    .map_err(fail)?;
                form.append_pair("grant_type", "client_credentials");
                if !scope.is_empty() {
                    form.append_pair("scope", &scope);
                }
                form.append_pair("client_id", client_id);
                form.append_pair("client_assertion_type", assertion::JWT_CLIENT_ASSERTION);
                form.append_pair("client_assertion", &jwt);
            }
        }
        let body = form.finish();
        builder
            .body(bytes::Bytes::from(body))
            .map_err(|e| fail(format!("cannot build the token request: {e}")))
    }

    async fn fetch(
        &self,
        net: &send::Connect,
    ) -> Result<(SecretString, Option<Duration>), TokenError> {
        let fail = |reason: String| TokenError {
            name: self.credential.clone(),
            reason,
            repeated: false,
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let endpoint = format!(
            "{}://{}{}",
            self.token_url.scheme_str().unwrap_or("https"),
            self.token_url.authority().map(|a| a.as_str()).unwrap_or(""),
            self.token_url.path()
        );
        let request = self.token_request(&endpoint, &fail)?;
        let (status, body) = net
            .fetch_small(request, MAX_TOKEN_RESPONSE)
            .await
            .map_err(|e| fail(format!("token endpoint {endpoint}: {e}")))?;
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if !status.is_success() {
            // RFC 6749 §5.2's error code and description (Entra's `AADSTS…` code, Google's
            // "Invalid JWT Signature.") say what to fix; the rest of the body is not read.
            let field = |key: &str, max: usize| {
                json.get(key).and_then(|e| e.as_str()).map(|e| {
                    e.chars()
                        .filter(|c| !c.is_control())
                        .take(max)
                        .collect::<String>()
                })
            };
            let code = match (field("error", 64), field("error_description", 200)) {
                (Some(e), Some(d)) => format!(" (error: {e}: {d})"),
                (Some(e), None) => format!(" (error: {e})"),
                _ => String::new(),
            };
            let hint = match (&self.grant, field("error", 64).as_deref()) {
                (Grant::RefreshToken { .. }, Some("invalid_grant")) => format!(
                    ": the refresh token was refused (revoked, expired, or already used by another process); authorize again and put the new refresh token in `credentials.{}.refresh_token`",
                    self.credential
                ),
                _ => String::new(),
            };
            return Err(fail(format!(
                "token endpoint {endpoint} answered {status}{code}{hint}"
            )));
        }
        let token = json
            .get("access_token")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                fail(format!(
                    "token endpoint {endpoint} returned no access_token"
                ))
            })?;
        let expires_in = match json.get("expires_in") {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            // Some providers send it as a string.
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .map(Duration::from_secs);
        if let Grant::RefreshToken { token: refresh, .. } = &self.grant
            && let Some(next) = json
                .get("refresh_token")
                .and_then(|t| t.as_str())
                .filter(|t| !t.is_empty())
        {
            refresh.rotate(SecretString::from(next.to_owned()));
        }
        Ok((SecretString::from(token.to_owned()), expires_in))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> CredentialSpec {
        serde_yaml_ng::from_str(yaml).expect("spec")
    }

    #[test]
    fn secrets_never_show_in_debug_or_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("pw"), "hunter2-file\n").expect("write");
        let c = Credential::load(
            "db",
            &spec(
                "{type: basic, username: u, password: {file: pw}, hosts: [\"https://x.example\"]}",
            ),
            dir.path(),
            None,
        )
        .expect("loads");
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("db") && debug.contains("basic"), "{debug}");
        match &c.secret {
            Secret::Header { value, .. } => {
                let expected = base64::engine::general_purpose::STANDARD.encode("u:hunter2-file");
                assert_eq!(value.expose_secret(), format!("Basic {expected}"));
                assert!(!format!("{value:?}").contains("Basic"));
            }
            _ => panic!("basic is a header"),
        }
        let err = Credential::load(
            "db",
            &spec("{type: bearer, token: {file: missing}, hosts: [\"https://x.example\"]}"),
            dir.path(),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("credentials.db.token"), "{err}");
        let err = Credential::load(
            "db",
            &spec("{type: bearer, token: \"bad\\nvalue-s3cret\", hosts: [\"https://x.example\"]}"),
            dir.path(),
            None,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        let mut header = sensitive_header("Bearer abc").expect("header");
        assert!(!format!("{header:?}").contains("abc"));
        header.set_sensitive(false);
    }

    #[test]
    fn an_azure_key_must_be_base64_and_signs_with_the_host_only() {
        let err = Credential::load(
            "blobs",
            &spec("{type: azure_shared_key, account_name: inletdocs, account_key: \"s3cret not base64\", hosts: [\"https://inletdocs.blob.core.windows.net\"]}"),
            Path::new("."),
            None,
        )
        .expect_err("not base64");
        let msg = err.to_string();
        assert!(
            msg.contains("credentials.blobs.account_key") && msg.contains("base64"),
            "{msg}"
        );
        assert!(!msg.contains("s3cret"), "{msg}");
        let c = Credential::load(
            "blobs",
            &spec("{type: azure_shared_key, account_name: inletdocs, account_key: a2V5LXMzY3JldA==, hosts: [\"https://inletdocs.blob.core.windows.net\"]}"),
            Path::new("."),
            None,
        )
        .expect("loads");
        assert!(c.signs_body());
        assert_eq!(
            c.header_names(),
            vec![
                http::header::AUTHORIZATION,
                HeaderName::from_static("x-ms-date")
            ]
        );
        assert!(!format!("{c:?}").contains("a2V5"), "{c:?}");
    }

    #[test]
    fn bound_hosts_and_header_names() {
        let c = Credential::load(
            "k",
            &spec("{type: api_key_header, header: X-Api-Key, value: v, hosts: [\"https://*.example.com\"]}"),
            Path::new("."),
            None,
        )
        .expect("loads");
        let t = |u: &str| Target::from_uri(&u.parse().expect("uri")).expect("target");
        assert!(c.applies_to(&t("https://a.example.com/x")));
        assert!(!c.applies_to(&t("https://a.example.org/x")));
        assert!(!c.applies_to(&t("http://a.example.com/x")));
        assert_eq!(c.header_names(), vec![HeaderName::from_static("x-api-key")]);
    }

    #[test]
    fn token_refresh_times_and_cache_freshness() {
        let now = Instant::now();
        // Long-lived tokens are refreshed 30 s early, short ones a tenth of their lifetime early.
        assert_eq!(
            refresh_at(now, Some(Duration::from_secs(3600))),
            now + Duration::from_secs(3570)
        );
        assert_eq!(
            refresh_at(now, Some(Duration::from_secs(2))),
            now + Duration::from_millis(1800)
        );
        assert_eq!(refresh_at(now, None), now + Duration::from_secs(3570));
        let mut state = TokenState::default();
        assert!(state.fresh(now).is_none());
        state.current = Some(CachedToken {
            value: SecretString::from("t1"),
            refresh_at: now + Duration::from_secs(10),
            generation: 1,
        });
        assert_eq!(state.fresh(now).map(|(_, g)| g), Some(1));
        assert!(state.fresh(now + Duration::from_secs(10)).is_none());
    }

    #[test]
    fn a_401_drops_the_token_at_most_once_per_interval() {
        let now = Instant::now();
        let token = |generation| {
            Some(CachedToken {
                value: SecretString::from("t"),
                refresh_at: now + Duration::from_secs(3600),
                generation,
            })
        };
        let mut state = TokenState {
            current: token(1),
            generation: 1,
            ..TokenState::default()
        };
        // A revoked token: dropped at the first 401, so the retry carries a new one.
        assert!(state.refused(1, now));
        assert!(state.current.is_none());
        // Requests that were in flight with it retry with whatever replaces it.
        assert!(state.refused(1, now));
        state.current = token(2);
        state.generation = 2;
        assert!(state.refused(1, now + Duration::from_secs(1)));
        assert_eq!(state.current.as_ref().map(|t| t.generation), Some(2));
        // Its replacement refused too, soon after: kept; the 401 goes to the plugin.
        assert!(!state.refused(2, now + Duration::from_secs(1)));
        assert!(!state.refused(2, now + REFUSED_TOKEN_INTERVAL - Duration::from_millis(1)));
        assert_eq!(state.current.as_ref().map(|t| t.generation), Some(2));
        // One interval later it may be replaced again.
        assert!(state.refused(2, now + REFUSED_TOKEN_INTERVAL));
        assert!(state.current.is_none());
    }
}
