//! Signed JWT assertions the host makes for OAuth2 token requests (RFC 7523), so a plugin
//! reaches Google's or Microsoft's APIs without ever holding the private key:
//! - `google_service_account`: the JWT *is* the grant (§2.1), signed with the service account's
//!   key from Google's JSON key file (`iss` = the account's email, `scope`, `aud` = the token
//!   endpoint, `sub` for domain-wide delegation);
//! - `oauth2_client_certificate`: a client-credentials grant whose client authenticates with a
//!   JWT signed by its certificate's key (§2.2, Entra ID's "certificate credential": `x5t` names
//!   the certificate by its SHA-1 thumbprint, `x5t#S256` by its SHA-256 one).
//!
//! Keys are parsed when the credential is loaded, so a bad key fails `inlet config check` and
//! the start, not the first sync. Errors describe the problem, never the key.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use sha1::Digest as _;

pub(crate) use inlet_policy::config::credentials::GOOGLE_TOKEN_URL;
/// `grant_type` of RFC 7523 §2.1.
pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// `client_assertion_type` of RFC 7523 §2.2.
pub(crate) const JWT_CLIENT_ASSERTION: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Google refuses assertions valid for longer than an hour.
const GOOGLE_LIFETIME_SECS: u64 = 3600;
/// A client assertion is used once, right away; Entra ID's samples use 10 minutes.
const CLIENT_ASSERTION_LIFETIME_SECS: u64 = 600;

/// The fields the host reads from Google's service-account JSON key.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<SecretString>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

/// A Google service account, ready to sign grants.
pub(crate) struct ServiceAccount {
    client_email: String,
    key: EncodingKey,
    key_id: Option<String>,
    /// The key file's `token_uri`, if it has one.
    token_uri: Option<String>,
    subject: Option<String>,
}

#[derive(Serialize)]
struct GoogleClaims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
}

impl ServiceAccount {
    /// Reads a JSON key as Google issues it (`"type": "service_account"`).
    pub(crate) fn from_key_json(
        json: &SecretString,
        subject: Option<&str>,
    ) -> Result<Self, String> {
        // serde_json's messages name a position and what was expected, never the text.
        let key: KeyFile = serde_json::from_str(json.expose_secret())
            .map_err(|e| format!("not a JSON service account key ({e})"))?;
        match key.kind.as_deref() {
            Some("service_account") => {}
            Some(other) => {
                return Err(format!(
                    "a key of type {other:?}, not a service account key (\"type\": \"service_account\"); create one under IAM → Service accounts → Keys"
                ));
            }
            None => return Err("not a Google service account key: it has no \"type\"".into()),
        }
        let client_email = key
            .client_email
            .filter(|e| !e.is_empty())
            .ok_or("the key has no \"client_email\"")?;
        let pem = key.private_key.ok_or("the key has no \"private_key\"")?;
        let signing = EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes())
            .map_err(|e| format!("the key's \"private_key\" is not a PEM RSA key ({e})"))?;
        Ok(ServiceAccount {
            client_email,
            key: signing,
            key_id: key.private_key_id.filter(|k| !k.is_empty()),
            token_uri: key.token_uri.filter(|u| !u.is_empty()),
            subject: subject.map(str::to_owned),
        })
    }

    pub(crate) fn token_uri(&self) -> Option<&str> {
        self.token_uri.as_deref()
    }

    /// The grant's JWT for `audience` (the token endpoint), valid from `now` for an hour.
    pub(crate) fn assertion(
        &self,
        audience: &str,
        scope: &str,
        now: u64,
    ) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key_id.clone();
        let claims = GoogleClaims {
            iss: &self.client_email,
            scope,
            aud: audience,
            iat: now,
            exp: now + GOOGLE_LIFETIME_SECS,
            sub: self.subject.as_deref(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| format!("cannot sign the service account's assertion: {e}"))
    }
}

/// An app's certificate credential, ready to sign client assertions.
pub(crate) struct ClientCertificate {
    client_id: String,
    key: EncodingKey,
    header: Header,
}

#[derive(Serialize)]
struct ClientAssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

impl ClientCertificate {
    /// The certificate (PEM; the first one of a chain is the app's) and its RSA private key.
    /// Refuses a key that does not belong to the certificate: the token endpoint would only say
    /// "invalid client".
    pub(crate) fn new(
        client_id: &str,
        certificate_pem: &SecretString,
        private_key_pem: &SecretString,
    ) -> Result<Self, (&'static str, String)> {
        let der = CertificateDer::pem_slice_iter(certificate_pem.expose_secret().as_bytes())
            .next()
            .ok_or(("certificate", "no PEM certificate in it".to_owned()))?
            .map_err(|e| ("certificate", format!("not a PEM certificate ({e:?})")))?;
        let key = EncodingKey::from_rsa_pem(private_key_pem.expose_secret().as_bytes())
            .map_err(|e| ("private_key", format!("not a PEM RSA private key ({e})")))?;
        let public = DecodingKey::from_rsa_pem(certificate_pem.expose_secret().as_bytes())
            .map_err(|e| {
                (
                    "certificate",
                    format!("no RSA public key in the certificate ({e})"),
                )
            })?;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut header = Header::new(Algorithm::RS256);
        header.x5t = Some(b64.encode(sha1::Sha1::digest(der.as_ref())));
        header.x5t_s256 = Some(b64.encode(sha2::Sha256::digest(der.as_ref())));
        let signer = ClientCertificate {
            client_id: client_id.to_owned(),
            key,
            header,
        };
        signer
            .matches(&public)
            .map_err(|m| ("private_key", m.to_owned()))?;
        Ok(signer)
    }

    /// Signs a probe with the private key and checks it with the certificate's public key.
    fn matches(&self, public: &DecodingKey) -> Result<(), &'static str> {
        let probe = self
            .assertion("urn:inlet:key-check", unix_now())
            .map_err(|_| "cannot sign with this key")?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["urn:inlet:key-check"]);
        jsonwebtoken::decode::<serde_json::Value>(&probe, public, &validation)
            .map(|_| ())
            .map_err(|_| "this private key does not belong to the certificate")
    }

    /// A client assertion for `audience` (the token endpoint), used once.
    pub(crate) fn assertion(&self, audience: &str, now: u64) -> Result<String, String> {
        let claims = ClientAssertionClaims {
            aud: audience,
            iss: &self.client_id,
            sub: &self.client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + CLIENT_ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&self.header, &claims, &self.key)
            .map_err(|e| format!("cannot sign the client assertion: {e}"))
    }
}

/// Seconds since the Unix epoch (a clock before 1970 counts as the epoch: the endpoint then
/// refuses the assertion as expired and says so).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// A fresh RSA key and a self-signed certificate for it, made by `openssl` (PEM texts).
    fn key_and_certificate(dir: &std::path::Path) -> (String, String) {
        let status = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args(["-subj", "/CN=inlet-test", "-keyout"])
            .arg(dir.join("key.pem"))
            .arg("-out")
            .arg(dir.join("cert.pem"))
            .output()
            .expect("openssl (scripts/setup installs it)");
        assert!(status.status.success(), "{status:?}");
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("read");
        (read("key.pem"), read("cert.pem"))
    }

    fn key_json(private_key: &str, kind: &str) -> SecretString {
        SecretString::from(
            serde_json::json!({
                "type": kind,
                "project_id": "inlet-test",
                "private_key_id": "kid-1",
                "private_key": private_key,
                "client_email": "indexer@inlet-test.iam.gserviceaccount.com",
                "token_uri": "https://oauth2.googleapis.com/token",
            })
            .to_string(),
        )
    }

    fn decode(jwt: &str, cert_pem: &str, aud: &str) -> (Header, serde_json::Value) {
        let key = DecodingKey::from_rsa_pem(cert_pem.as_bytes()).expect("public key");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[aud]);
        let data = jsonwebtoken::decode::<serde_json::Value>(jwt, &key, &validation)
            .expect("a valid signature by the certificate's key");
        (data.header, data.claims)
    }

    #[test]
    fn a_service_account_signs_the_grant_google_expects() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, cert) = key_and_certificate(dir.path());
        let account =
            ServiceAccount::from_key_json(&key_json(&key, "service_account"), Some("ann@corp.x"))
                .expect("key");
        assert_eq!(account.token_uri(), Some(GOOGLE_TOKEN_URL));
        let now = unix_now();
        let jwt = account
            .assertion(GOOGLE_TOKEN_URL, "scope-a scope-b", now)
            .expect("sign");
        let (header, claims) = decode(&jwt, &cert, GOOGLE_TOKEN_URL);
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(header.kid.as_deref(), Some("kid-1"));
        assert_eq!(claims["iss"], "indexer@inlet-test.iam.gserviceaccount.com");
        assert_eq!(claims["scope"], "scope-a scope-b");
        assert_eq!(claims["sub"], "ann@corp.x");
        assert_eq!(claims["iat"], now);
        assert_eq!(claims["exp"], now + 3600);

        // Without delegation there is no `sub` at all (Google refuses an empty one).
        let plain =
            ServiceAccount::from_key_json(&key_json(&key, "service_account"), None).expect("key");
        let jwt = plain.assertion(GOOGLE_TOKEN_URL, "s", now).expect("sign");
        assert!(decode(&jwt, &cert, GOOGLE_TOKEN_URL).1.get("sub").is_none());
    }

    #[test]
    fn bad_service_account_keys_say_what_is_wrong_and_never_show_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, _) = key_and_certificate(dir.path());
        let secret_line = key.lines().nth(3).expect("a line of the key").to_owned();
        let cases = [
            (key_json(&key, "authorized_user"), "authorized_user"),
            (
                key_json(
                    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                    "service_account",
                ),
                "not a PEM RSA key",
            ),
            (
                SecretString::from(format!("{{\"private_key\": {key:?}")),
                "not a JSON",
            ),
            (
                SecretString::from("{\"type\": \"service_account\"}".to_owned()),
                "client_email",
            ),
        ];
        for (json, expected) in cases {
            let err = ServiceAccount::from_key_json(&json, None)
                .err()
                .expect("refused");
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains(&secret_line), "{err}");
        }
    }

    #[test]
    fn a_client_assertion_names_its_certificate_and_is_used_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, cert) = key_and_certificate(dir.path());
        let signer = ClientCertificate::new(
            "app-1",
            &SecretString::from(cert.clone()),
            &SecretString::from(key),
        )
        .expect("certificate");
        let aud = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let first = signer.assertion(aud, unix_now()).expect("sign");
        let (header, claims) = decode(&first, &cert, aud);
        // `x5t` from openssl's own SHA-1 fingerprint of the certificate.
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
            .arg(dir.path().join("cert.pem"))
            .output()
            .expect("openssl");
        let text = String::from_utf8_lossy(&out.stdout);
        let hex_digits: String = text
            .split('=')
            .nth(1)
            .expect("fingerprint")
            .trim()
            .replace(':', "");
        let fingerprint = hex::decode(hex_digits).expect("hex");
        assert_eq!(
            header.x5t,
            Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(fingerprint))
        );
        assert!(header.x5t_s256.is_some());
        assert_eq!(claims["iss"], "app-1");
        assert_eq!(claims["sub"], "app-1");
        let exp = claims["exp"].as_u64().expect("exp");
        let nbf = claims["nbf"].as_u64().expect("nbf");
        assert_eq!(exp - nbf, 600);
        let second = signer.assertion(aud, unix_now()).expect("sign");
        assert_ne!(decode(&second, &cert, aud).1["jti"], claims["jti"]);
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_at_load() {
        let a = tempfile::tempdir().expect("tempdir");
        let b = tempfile::tempdir().expect("tempdir");
        let (_, cert) = key_and_certificate(a.path());
        let (other_key, _) = key_and_certificate(b.path());
        let err = ClientCertificate::new(
            "app-1",
            &SecretString::from(cert),
            &SecretString::from(other_key),
        )
        .err()
        .expect("refused");
        assert_eq!(err.0, "private_key");
        assert!(
            err.1.contains("does not belong to the certificate"),
            "{}",
            err.1
        );
        let err = ClientCertificate::new(
            "app-1",
            &SecretString::from("not a certificate".to_owned()),
            &SecretString::from("x".to_owned()),
        )
        .err()
        .expect("refused");
        assert_eq!(err.0, "certificate");
    }
}
