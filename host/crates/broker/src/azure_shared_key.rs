//! `azure_shared_key` credentials: the host signs each request with an Azure Storage account
//! key ("Authorize with Shared Key", the string-to-sign of service version 2009-09-19 and
//! later), so a plugin lists and reads blobs without ever holding the key.
//!
//! What is signed (Microsoft's order): the verb; `Content-Encoding`, `Content-Language`,
//! `Content-Length` (empty when 0), `Content-MD5`, `Content-Type`, `Date`, `If-Modified-Since`,
//! `If-Match`, `If-None-Match`, `If-Unmodified-Since`, `Range`; every `x-ms-*` header
//! (lower-case, sorted, values trimmed); and the canonicalized resource: `/<account><path>` with
//! the path as the wire carries it, then each query parameter, names lower-cased and values
//! URL-decoded, sorted, several values of one name sorted and joined by `,`. HMAC-SHA256 with
//! the base64-decoded key, sent as `Authorization: SharedKey <account>:<signature>`. The host
//! sets `x-ms-date` (the plugin may not) and `x-ms-version` when the plugin did not.
//!
//! Written by hand on `hmac` + `sha2`: Microsoft's Rust SDK (`azure_storage`) would bring a
//! whole HTTP client stack for these ~100 lines, and it signs its own requests, not ours.

use std::collections::BTreeMap;
use std::time::SystemTime;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret as _, SecretSlice, SecretString};
use sha2::Sha256;

/// The headers this credential writes; a plugin may not set them itself.
pub(crate) const SIGNED_BY_HOST: [HeaderName; 2] = [
    http::header::AUTHORIZATION,
    HeaderName::from_static("x-ms-date"),
];

/// `x-ms-version` sent when the plugin names none: a current service version (the response
/// formats depend on it, so a plugin should name the one it parses).
pub(crate) const DEFAULT_VERSION: &str = "2025-11-05";

/// The standard headers of the string-to-sign, in Microsoft's order.
const STANDARD: [HeaderName; 11] = [
    http::header::CONTENT_ENCODING,
    http::header::CONTENT_LANGUAGE,
    http::header::CONTENT_LENGTH,
    HeaderName::from_static("content-md5"),
    http::header::CONTENT_TYPE,
    http::header::DATE,
    http::header::IF_MODIFIED_SINCE,
    http::header::IF_MATCH,
    http::header::IF_NONE_MATCH,
    http::header::IF_UNMODIFIED_SINCE,
    http::header::RANGE,
];

/// The account key is not base64 (names no value; the caller names the key path).
#[derive(Debug, thiserror::Error)]
#[error("the account key is not base64 (paste it as the Azure portal shows it)")]
pub struct NotBase64;

/// One storage account and its key.
pub(crate) struct AzureSharedKey {
    account: String,
    key: SecretSlice<u8>,
}

impl AzureSharedKey {
    /// `key` as Azure shows it: base64 (standard alphabet, padded).
    pub(crate) fn new(account: &str, key: &SecretString) -> Result<AzureSharedKey, NotBase64> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.expose_secret().trim())
            .map_err(|_| NotBase64)?;
        if bytes.is_empty() {
            return Err(NotBase64);
        }
        Ok(AzureSharedKey {
            account: account.to_owned(),
            key: SecretSlice::from(bytes),
        })
    }

    /// The headers that authorize `method` on `path_and_query` (as the wire carries it) with
    /// `headers` (`Content-Length` as it will be sent): `x-ms-date`, `x-ms-version` if the
    /// plugin set none, and `Authorization` (marked sensitive).
    pub(crate) fn sign(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        now: SystemTime,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let date = chrono::DateTime::<chrono::Utc>::from(now)
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let mut added = vec![(
            HeaderName::from_static("x-ms-date"),
            HeaderValue::from_str(&date).map_err(|_| "cannot write x-ms-date".to_owned())?,
        )];
        let version = HeaderName::from_static("x-ms-version");
        if !headers.contains_key(&version) {
            added.push((version, HeaderValue::from_static(DEFAULT_VERSION)));
        }
        let mut signed = headers.clone();
        for (name, value) in &added {
            signed.insert(name.clone(), value.clone());
        }
        let to_sign = string_to_sign(&self.account, method, path_and_query, &signed)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose_secret())
            .map_err(|_| "the account key cannot key HMAC-SHA256".to_owned())?;
        mac.update(to_sign.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let mut authorization =
            HeaderValue::from_str(&format!("SharedKey {}:{signature}", self.account))
                .map_err(|_| "the account name cannot be sent in a header".to_owned())?;
        authorization.set_sensitive(true);
        added.push((http::header::AUTHORIZATION, authorization));
        Ok(added)
    }
}

/// The values of one header as signed: each trimmed (HTTP forbids folded lines, so a value
/// cannot hold a line break; runs of spaces inside a value are kept, as Microsoft's SDKs and
/// Azurite keep them), several joined by `,`.
fn header_text(headers: &HeaderMap, name: &HeaderName) -> Result<Option<String>, String> {
    let mut values = Vec::new();
    for v in headers.get_all(name) {
        let text = v
            .to_str()
            .map_err(|_| format!("header `{name}` is not printable ASCII and cannot be signed"))?;
        values.push(text.trim());
    }
    Ok((!values.is_empty()).then(|| values.join(",")))
}

/// Microsoft's string-to-sign for Blob, Queue and File services (version 2009-09-19 and later).
pub(crate) fn string_to_sign(
    account: &str,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
) -> Result<String, String> {
    let mut out = method.to_ascii_uppercase();
    for name in &STANDARD {
        let mut value = header_text(headers, name)?.unwrap_or_default();
        // Version 2015-02-21 and later: a zero length is signed as an empty string.
        if *name == http::header::CONTENT_LENGTH && value == "0" {
            value.clear();
        }
        out.push('\n');
        out.push_str(&value);
    }
    out.push('\n');
    let mut ms: Vec<&HeaderName> = headers
        .keys()
        .filter(|n| n.as_str().starts_with("x-ms-"))
        .collect();
    // Header names are lower-case already (`http` normalises them).
    ms.sort_by_key(|n| n.as_str());
    for name in ms {
        let value = header_text(headers, name)?.unwrap_or_default();
        out.push_str(name.as_str());
        out.push(':');
        out.push_str(&value);
        out.push('\n');
    }
    out.push_str(&canonicalized_resource(account, path_and_query));
    Ok(out)
}

/// `/<account><path>` and the sorted, decoded query parameters, one `\nname:values` each.
fn canonicalized_resource(account: &str, path_and_query: &str) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let path = if path.is_empty() { "/" } else { path };
    let mut out = format!("/{account}{path}");
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Form decoding: `%XX` and `+` (a space, as the service and Azurite read it).
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        params
            .entry(name.to_lowercase())
            .or_default()
            .push(value.into_owned());
    }
    for (name, mut values) in params {
        values.sort();
        out.push('\n');
        out.push_str(&name);
        out.push(':');
        out.push_str(&values.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The storage emulator's development key, which Microsoft publishes.
    const DEV_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    /// 2015-06-26T23:39:12Z, the date of Microsoft's Shared Key examples.
    fn example_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_435_361_952)
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).expect("name"),
                HeaderValue::from_str(v).expect("value"),
            );
        }
        h
    }

    fn get<'a>(out: &'a [(HeaderName, HeaderValue)], name: &str) -> Option<&'a str> {
        out.iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.to_str().ok())
    }

    /// Microsoft's List Blobs example of "Authorize with Shared Key" (three `include` values,
    /// sorted and joined), signed with the emulator's published key. The expected signature
    /// was computed independently, with Python's standard library:
    /// `base64(hmac.new(b64decode(DEV_KEY), string_to_sign, sha256).digest())`.
    #[test]
    fn signs_microsofts_list_blobs_example() {
        let signer =
            AzureSharedKey::new("myaccount", &SecretString::from(DEV_KEY)).expect("base64 key");
        let path = "/mycontainer?restype=container&comp=list&include=snapshots&include=metadata&include=uncommittedblobs";
        let h = headers(&[("x-ms-version", "2015-02-21")]);
        let out = signer.sign("GET", path, &h, example_time()).expect("signs");
        assert_eq!(
            get(&out, "x-ms-date"),
            Some("Fri, 26 Jun 2015 23:39:12 GMT")
        );
        // The plugin's version is kept, not replaced.
        assert_eq!(get(&out, "x-ms-version"), None);
        let mut signed = h.clone();
        signed.insert(
            "x-ms-date",
            HeaderValue::from_static("Fri, 26 Jun 2015 23:39:12 GMT"),
        );
        assert_eq!(
            string_to_sign("myaccount", "GET", path, &signed).expect("sts"),
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Fri, 26 Jun 2015 23:39:12 GMT\nx-ms-version:2015-02-21\n/myaccount/mycontainer\ncomp:list\ninclude:metadata,snapshots,uncommittedblobs\nrestype:container"
        );
        assert_eq!(
            get(&out, "authorization"),
            Some("SharedKey myaccount:qthaFu+XRMRab2FfKeut5XZl1/nvdAhqiaOupMDoYWg=")
        );
        assert!(
            out.iter()
                .find(|(k, _)| k == http::header::AUTHORIZATION)
                .is_some_and(|(_, v)| v.is_sensitive())
        );
    }

    /// A path-style (emulator) PUT with a body, a content type and `x-ms-*` headers, the
    /// default version added; signature computed independently as above.
    #[test]
    fn signs_a_put_with_standard_and_x_ms_headers() {
        let signer = AzureSharedKey::new("devstoreaccount1", &SecretString::from(DEV_KEY))
            .expect("base64 key");
        let h = headers(&[
            ("content-length", "11"),
            ("content-type", "text/plain; charset=utf-8"),
            ("x-ms-blob-type", "BlockBlob"),
            // Trimmed at the ends; the inner run of spaces is signed as sent.
            ("x-ms-meta-owner", "  a  b\t"),
            ("user-agent", "not signed"),
        ]);
        let out = signer
            .sign(
                "PUT",
                "/devstoreaccount1/docs/a%20b.txt",
                &h,
                example_time(),
            )
            .expect("signs");
        assert_eq!(get(&out, "x-ms-version"), Some(DEFAULT_VERSION));
        assert_eq!(
            get(&out, "authorization"),
            Some("SharedKey devstoreaccount1:cCsGpt2Iz5qNAbT6s6guRDBwnaLuZN9/zptrYTjR0vY=")
        );
    }

    #[test]
    fn canonicalization_edge_cases() {
        // Service-level request: the path is `/`, also when the URL had none.
        assert_eq!(
            canonicalized_resource("acct", "/?comp=list"),
            "/acct/\ncomp:list"
        );
        assert_eq!(
            canonicalized_resource("acct", "?comp=list"),
            "/acct/\ncomp:list"
        );
        // Names lower-cased and decoded, values decoded (`%2F`, `+`), several values sorted.
        assert_eq!(
            canonicalized_resource(
                "acct",
                "/c/a%20b?Prefix=x%2Fy+z&comp=list&%69nclude=metadata&include=deleted&marker="
            ),
            "/acct/c/a%20b\ncomp:list\ninclude:deleted,metadata\nmarker:\nprefix:x/y z"
        );
        // Content-Length 0 is signed empty; other lengths as sent.
        let zero =
            string_to_sign("a", "put", "/", &headers(&[("content-length", "0")])).expect("sts");
        assert!(zero.starts_with("PUT\n\n\n\n"), "{zero:?}");
        let five =
            string_to_sign("a", "PUT", "/", &headers(&[("content-length", "5")])).expect("sts");
        assert!(five.starts_with("PUT\n\n\n5\n"), "{five:?}");
        // x-ms-* headers sorted by name, repeated ones joined, others left out.
        let sts = string_to_sign(
            "a",
            "GET",
            "/",
            &headers(&[
                ("x-ms-version", "2025-11-05"),
                ("x-ms-client-request-id", "b"),
                ("x-ms-client-request-id", "a"),
                ("accept", "application/xml"),
            ]),
        )
        .expect("sts");
        assert!(
            sts.ends_with("\nx-ms-client-request-id:b,a\nx-ms-version:2025-11-05\n/a/"),
            "{sts:?}"
        );
        assert!(!sts.contains("accept"), "{sts:?}");
        // A folded header value never reaches the signer: `http` refuses line breaks.
        assert!(HeaderValue::from_bytes(b"a\r\n b").is_err());
        // Bytes outside printable ASCII cannot be signed exactly: refused with the name.
        let mut odd = HeaderMap::new();
        odd.insert(
            "x-ms-meta-name",
            HeaderValue::from_bytes(b"caf\xe9").expect("obs-text"),
        );
        let err = string_to_sign("a", "GET", "/", &odd).expect_err("not ASCII");
        assert!(err.contains("x-ms-meta-name"), "{err}");
    }

    #[test]
    fn a_key_that_is_not_base64_is_refused() {
        for bad in ["not base64!", "", "===="] {
            assert!(
                AzureSharedKey::new("a", &SecretString::from(bad)).is_err(),
                "{bad}"
            );
        }
        assert!(AzureSharedKey::new("a", &SecretString::from(format!(" {DEV_KEY}\n"))).is_ok());
    }
}
