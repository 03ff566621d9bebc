//! `aws_sigv4` credentials: the host signs each request with AWS Signature Version 4, so a
//! plugin talks to S3 (or any AWS API) without ever holding the access key's secret.
//!
//! What is signed: the method, the URL rebuilt from the checked target (the `host` the wire
//! will carry), the plugin's `x-amz-*`, `content-type`, `content-md5` and `range` headers, and
//! the body's SHA-256. Other headers travel unsigned (AWS accepts that); `x-amz-*` headers must be signed,
//! so all of them are. Bodies up to the broker's replay buffer (1 MiB) are hashed; a larger,
//! streamed body is sent as `UNSIGNED-PAYLOAD`, which S3 accepts and other services refuse —
//! such a request fails here with the reason instead.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret as _, SecretString};

/// The headers this credential writes; a plugin may not set them itself.
pub(crate) const SIGNED_BY_HOST: [HeaderName; 4] = [
    http::header::AUTHORIZATION,
    HeaderName::from_static("x-amz-date"),
    HeaderName::from_static("x-amz-content-sha256"),
    HeaderName::from_static("x-amz-security-token"),
];

/// One AWS identity with the region and service it signs for.
pub(crate) struct SigV4 {
    identity: Identity,
    region: String,
    service: String,
}

impl SigV4 {
    pub(crate) fn new(
        access_key_id: &str,
        secret_access_key: &SecretString,
        session_token: Option<&SecretString>,
        region: &str,
        service: &str,
    ) -> SigV4 {
        let credentials = Credentials::new(
            access_key_id,
            secret_access_key.expose_secret(),
            session_token.map(|t| t.expose_secret().to_owned()),
            None,
            "inlet credentials:",
        );
        SigV4 {
            identity: credentials.into(),
            region: region.to_owned(),
            service: service.to_owned(),
        }
    }

    fn is_s3(&self) -> bool {
        self.service == "s3"
    }

    /// The headers that sign a request for `url` (absolute, its authority the `Host` the
    /// request will carry) with `headers` and `body` (`None`: streamed, not hashed). Header
    /// values come back marked sensitive.
    pub(crate) fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &http::HeaderMap,
        body: Option<&[u8]>,
        now: SystemTime,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let mut settings = SigningSettings::default();
        if self.is_s3() {
            // S3 signs the path as sent (no second encoding, no normalisation) and wants the
            // payload hash in `x-amz-content-sha256`.
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        }
        let body = match body {
            Some(bytes) => SignableBody::Bytes(bytes),
            None if self.is_s3() => SignableBody::UnsignedPayload,
            None => {
                return Err(format!(
                    "the request body is larger than the 1 MiB the host hashes, and `{}` needs the payload's hash in the signature (only S3 accepts UNSIGNED-PAYLOAD)",
                    self.service
                ));
            }
        };
        let signed: Vec<(&str, &str)> = headers
            .iter()
            .filter(|(name, _)| {
                let n = name.as_str();
                n.starts_with("x-amz-") || matches!(n, "content-type" | "content-md5" | "range")
            })
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let request = SignableRequest::new(method, url, signed.into_iter(), body)
            .map_err(|e| format!("cannot sign the request: {e}"))?;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name(&self.service)
            .time(now)
            .settings(settings)
            .build()
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into();
        let (instructions, _) = sign(request, &params)
            .map_err(|e| format!("cannot sign the request: {e}"))?
            .into_parts();
        instructions
            .headers()
            .map(|(name, value)| {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("the signer produced a bad header name {name:?}"))?;
                let mut value = HeaderValue::from_str(value)
                    .map_err(|_| format!("the signer produced a bad value for {name}"))?;
                value.set_sensitive(true);
                Ok((name, value))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// AWS's documented example: "GET Object" of the S3 SigV4 examples (examplebucket,
    /// `Range: bytes=0-9`, 2013-05-24), whose expected signature AWS publishes.
    #[test]
    fn matches_the_signature_aws_documents_for_s3_get_object() {
        let signer = SigV4::new(
            "AKIAIOSFODNN7EXAMPLE",
            &SecretString::from("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            None,
            "us-east-1",
            "s3",
        );
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_369_353_600); // 20130524T000000Z
        let mut headers = http::HeaderMap::new();
        headers.insert("range", HeaderValue::from_static("bytes=0-9"));
        let out = signer
            .sign(
                "GET",
                "https://examplebucket.s3.amazonaws.com/test.txt",
                &headers,
                Some(b""),
                now,
            )
            .expect("signs");
        let get = |n: &str| {
            out.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().expect("ascii").to_owned())
        };
        assert_eq!(get("x-amz-date").as_deref(), Some("20130524T000000Z"));
        assert_eq!(
            get("x-amz-content-sha256").as_deref(),
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(
            get("authorization").as_deref(),
            Some(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            )
        );
        assert!(out.iter().all(|(_, v)| v.is_sensitive()));
    }

    #[test]
    fn a_session_token_is_sent_and_streamed_bodies_are_unsigned_for_s3_only() {
        let token = SecretString::from("FQoGZXIvYXdzEXAMPLETOKEN");
        let s3 = SigV4::new(
            "AKID",
            &SecretString::from("secret"),
            Some(&token),
            "eu-west-1",
            "s3",
        );
        let out = s3
            .sign(
                "PUT",
                "https://b.s3.eu-west-1.amazonaws.com/k",
                &http::HeaderMap::new(),
                None,
                SystemTime::now(),
            )
            .expect("s3 takes UNSIGNED-PAYLOAD");
        let get = |n: &str| {
            out.iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().expect("ascii").to_owned())
        };
        assert_eq!(
            get("x-amz-security-token").as_deref(),
            Some("FQoGZXIvYXdzEXAMPLETOKEN")
        );
        assert_eq!(
            get("x-amz-content-sha256").as_deref(),
            Some("UNSIGNED-PAYLOAD")
        );
        let sqs = SigV4::new(
            "AKID",
            &SecretString::from("secret"),
            None,
            "eu-west-1",
            "sqs",
        );
        let err = sqs
            .sign(
                "POST",
                "https://sqs.eu-west-1.amazonaws.com/",
                &http::HeaderMap::new(),
                None,
                SystemTime::now(),
            )
            .expect_err("sqs needs the hash");
        assert!(err.contains("UNSIGNED-PAYLOAD"), "{err}");
    }

    #[test]
    fn plugin_x_amz_headers_are_signed_and_others_are_not() {
        let signer = SigV4::new(
            "AKID",
            &SecretString::from("secret"),
            None,
            "us-east-1",
            "s3",
        );
        let mut headers = http::HeaderMap::new();
        headers.insert("x-amz-meta-owner", HeaderValue::from_static("docs"));
        headers.insert("user-agent", HeaderValue::from_static("plugin/1"));
        let out = signer
            .sign(
                "GET",
                "http://127.0.0.1:9000/bucket?list-type=2&prefix=a%20b",
                &headers,
                Some(b""),
                SystemTime::now(),
            )
            .expect("signs");
        let auth = out
            .iter()
            .find(|(k, _)| k == http::header::AUTHORIZATION)
            .map(|(_, v)| v.to_str().expect("ascii").to_owned())
            .expect("authorization");
        assert!(
            auth.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-meta-owner,"),
            "{auth}"
        );
    }
}
