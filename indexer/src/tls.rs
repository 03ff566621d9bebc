//! TLS for connections to Elasticsearch / OpenSearch.

use std::sync::Arc;

use crate::IndexerError;

/// The TLS settings of every connection to the cluster: rustls with the `ring` provider (no
/// cmake/aws-lc build); trusts `ca_certs` when given, the platform's roots otherwise;
/// `verify_certs: false` accepts any certificate. Shared with the host's `_connector` client.
pub fn client_config(
    ca_certs: Option<&std::path::Path>,
    verify_certs: bool,
) -> Result<rustls::ClientConfig, IndexerError> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| IndexerError::Config(format!("TLS setup failed: {e}")))?;
    let config = if !verify_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(danger::AcceptAny(provider)))
            .with_no_client_auth()
    } else if let Some(path) = ca_certs {
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path).map_err(|e| {
            IndexerError::Config(format!("cannot read ca_certs {}: {e}", path.display()))
        })?;
        for cert in certs {
            let cert = cert.map_err(|e| {
                IndexerError::Config(format!("bad PEM in ca_certs {}: {e}", path.display()))
            })?;
            roots.add(cert).map_err(|e| {
                IndexerError::Config(format!(
                    "bad certificate in ca_certs {}: {e}",
                    path.display()
                ))
            })?;
        }
        if roots.is_empty() {
            return Err(IndexerError::Config(format!(
                "ca_certs {} holds no certificate",
                path.display()
            )));
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .with_platform_verifier()
            .map_err(|e| {
                IndexerError::Config(format!("cannot load the system's CA certificates: {e}"))
            })?
            .with_no_client_auth()
    };
    Ok(config)
}

mod danger {
    //! `verify_certs: false`: accept any certificate but still check the handshake signatures, so the
    //! connection is at least encrypted to whoever holds the key.
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    #[derive(Debug)]
    pub(super) struct AcceptAny(pub Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}
