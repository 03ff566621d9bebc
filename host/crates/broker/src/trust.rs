//! Certificate authorities the operator adds to the platform's roots — brokered HTTP's
//! `inlet.network.ca_file` and `grants.http_ca_file`, the SQL broker's `tls.ca_file` and the
//! form's `ssl_ca` — read by one parser, so every place accepts and refuses the same bundles.

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// The certificates of a PEM bundle, each checked to be usable as a trust anchor, so a wrong
/// file fails when it is read rather than at every connection. The error completes a sentence
/// that starts with the file's name.
pub(crate) fn ca_bundle(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let mut certs = Vec::new();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("is not valid PEM: {e}"))?;
        roots
            .add(cert.clone())
            .map_err(|e| format!("holds a certificate not usable as a CA: {e}"))?;
        certs.push(cert);
    }
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_certificates_is_refused() {
        let e = ca_bundle(b"hello\n").expect_err("no certificate");
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let e = ca_bundle(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")
            .expect_err("broken base64");
        assert!(e.contains("not valid PEM"), "{e}");
    }
}
