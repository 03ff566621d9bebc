//! Signed plugins: a detached OpenSSH signature (`<component>.sig`) over the component's bytes.
//!
//! The signature is an SSHSIG (OpenSSH's `PROTOCOL.sshsig`, the format `ssh-keygen -Y sign`
//! writes and git uses for signed commits) made with an ed25519 key, in the namespace
//! `inlet-plugin`. Why this and not a signature embedded in a custom section (wasmsign2):
//! - the component stays byte-identical, so its sha256 (the config.yml pin, the compiled-plugin
//!   cache key, `inlet plugins inspect`) is the same before and after signing, and the file the
//!   build wrote is the file that was signed;
//! - the format is stable and widely deployed, where the WebAssembly signature proposal is still
//!   a draft; keys are ordinary OpenSSH keys operators already know how to make, keep and
//!   distribute (`ssh-ed25519 AAAA… comment` lines);
//! - signing and checking need no Inlet binary: `ssh-keygen -Y sign -n inlet-plugin -f key
//!   x.wasm` writes the same `x.wasm.sig`, which also serves passphrase-protected and
//!   agent-held keys;
//! - the namespace binds a signature to this purpose: a git commit signature made with the same
//!   key never passes as a plugin signature.
//!
//! The signature covers the component only, not `plugin.toml`: the manifest grants nothing by
//! itself (what a plugin may do is the intersection with config.yml's grants), while the
//! component is the code that runs.

use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use ssh_key::public::KeyData;
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};

/// The SSHSIG namespace of plugin signatures (`ssh-keygen -Y sign -n inlet-plugin`).
const NAMESPACE: &str = "inlet-plugin";

/// The config.yml key that lists the trusted keys, named in errors.
const CONFIG_KEY: &str = "inlet.plugins.trusted_keys";

/// An ed25519 SSHSIG is about 300 bytes; a file much larger than that is not one, and is not
/// read whole.
const MAX_SIGNATURE_BYTES: u64 = 64 * 1024;

/// Where the detached signature of `component` lives: beside it, `<file name>.sig` (what
/// `ssh-keygen -Y sign` writes).
pub fn signature_path(component: &Path) -> PathBuf {
    let mut name = component.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

/// Who made a signature: the key's fingerprint as `ssh-keygen -l` prints it, and the comment
/// of the trusted key it matched (empty when unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// `SHA256:` and the base64 digest of the public key.
    pub(crate) fingerprint: String,
    /// The key's comment (often an e-mail address); may be empty.
    pub(crate) comment: String,
}

impl Signer {
    fn of(key: &PublicKey) -> Self {
        Signer {
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
            comment: key.comment().to_owned(),
        }
    }
}

impl fmt::Display for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.comment.is_empty() {
            write!(f, "{}", self.fingerprint)
        } else {
            write!(f, "{} ({})", self.fingerprint, self.comment)
        }
    }
}

/// What a component's signature says, as `inlet plugins list` and `inspect` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// No `<component>.sig`.
    Unsigned,
    /// A signature that is valid over these bytes; `trusted` when the key is one the operator
    /// lists (with no trusted keys configured, nobody vouched for the signer).
    Signed {
        /// The key that made the signature.
        signer: Signer,
        /// Whether that key is one of the trusted keys; always `false` when none are
        /// configured.
        trusted: bool,
    },
    /// A signature file that does not vouch for these bytes, and why. Only reported when no
    /// trusted keys are configured; with them, this is a load error.
    Invalid(String),
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signature::Unsigned => f.write_str("unsigned"),
            Signature::Signed {
                signer,
                trusted: true,
            } => write!(f, "signed by {signer}, trusted"),
            Signature::Signed {
                signer,
                trusted: false,
            } => write!(f, "signed by {signer}, not checked (no trusted keys)"),
            Signature::Invalid(why) => write!(f, "BAD SIGNATURE: {why}"),
        }
    }
}

/// A trusted key that cannot be used, or a secret key that cannot sign.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// An entry of the trusted keys is not an ed25519 public key line, or a readable file of
    /// them.
    #[error("{setting}[{index}]: {message}")]
    Entry {
        /// Where the entries came from (`inlet.plugins.trusted_keys`, `--key`, ...).
        setting: String,
        /// The entry's position, from 0.
        index: usize,
        /// What is wrong and what to list instead; never a secret key's text.
        message: String,
    },
    /// The secret key file cannot be read, is not an OpenSSH ed25519 key, or is
    /// passphrase-protected.
    #[error("{path}: {message}")]
    SecretKey {
        /// The secret key file.
        path: PathBuf,
        /// What is wrong and how to sign instead.
        message: String,
    },
}

/// Why a component's signature does not let it load. Each names the file and the fix.
///
/// In every variant `signature` is the signature file (`<component>.sig`), `setting` where the
/// trusted keys came from and `trusted` those keys as `SHA256:… (comment)`.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// Trusted keys are configured and the component has no signature file.
    #[error(
        "{component}: unsigned: there is no {signature}, and {setting} requires a signature by {trusted}; \
         sign it with `inlet plugins sign --key <secret key> {component}`"
    )]
    Missing {
        /// The component file.
        component: PathBuf,
        /// The signature file that is missing.
        signature: PathBuf,
        /// Where the trusted keys came from.
        setting: String,
        /// The trusted keys.
        trusted: String,
    },
    /// The signature file exists but cannot be read.
    #[error("{signature}: cannot read the signature: {source}")]
    Unreadable {
        /// The signature file.
        signature: PathBuf,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// The file is not an armored SSHSIG, or is larger than 64 KiB.
    #[error(
        "{signature}: not an SSH signature ({message}); make one with `inlet plugins sign` or \
         `ssh-keygen -Y sign -n {NAMESPACE}`"
    )]
    Malformed {
        /// The signature file.
        signature: PathBuf,
        /// The parser's reason.
        message: String,
    },
    /// A signature made for another purpose (e.g. `git`), not `inlet-plugin`.
    #[error(
        "{signature}: signed for the namespace `{found}`, not `{NAMESPACE}`: a signature made for \
         something else does not vouch for a plugin (sign with `-n {NAMESPACE}`)"
    )]
    Namespace {
        /// The signature file.
        signature: PathBuf,
        /// The namespace it was made for.
        found: String,
    },
    /// Signed with a key that is not ed25519.
    #[error(
        "{signature}: signed with a {found} key; plugin signatures must be ed25519 \
         (`inlet plugins keygen` or `ssh-keygen -t ed25519`)"
    )]
    Algorithm {
        /// The signature file.
        signature: PathBuf,
        /// The key's algorithm, as OpenSSH names it.
        found: String,
    },
    /// Signed by a key that is not among the trusted keys.
    #[error(
        "{signature}: signed by {signer}, which is not among {setting} ({trusted}); \
         add its public key there if you trust it"
    )]
    Untrusted {
        /// The signature file.
        signature: PathBuf,
        /// The key the signature names.
        signer: Signer,
        /// Where the trusted keys came from.
        setting: String,
        /// The trusted keys.
        trusted: String,
    },
    /// The signature does not verify over the component's bytes.
    #[error(
        "{signature}: the signature by {signer} does not match {component} (sha256 {sha256}): \
         the component changed after it was signed, or the signature is another component's; \
         restore the signed file or sign this one"
    )]
    Mismatch {
        /// The signature file.
        signature: PathBuf,
        /// The component file.
        component: PathBuf,
        /// The key the signature names.
        signer: Signer,
        /// sha256 of the bytes checked, lowercase hex.
        sha256: String,
    },
}

/// The keys the operator trusts to sign plugins. Empty (`TrustedKeys::default()`): signatures
/// are not required (and are only reported).
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
    /// Where the keys came from (`inlet.plugins.trusted_keys`, `--key`), named in errors.
    setting: String,
}

impl TrustedKeys {
    /// The keys config.yml lists under `inlet.plugins.trusted_keys`, files relative to the
    /// file's folder.
    pub(crate) fn from_config(loaded: &inlet_policy::config::Loaded) -> Result<Self, KeyError> {
        Self::parse(
            &loaded.config.inlet.plugins.trusted_keys,
            &loaded.base_dir(),
            CONFIG_KEY,
        )
    }

    /// Each entry is an OpenSSH public key line (`ssh-ed25519 AAAA… comment`) or the path of
    /// a file of such lines (`#` comments and blank lines allowed), relative to `base_dir`.
    /// `setting` names where the entries came from, for errors. Fails on the first entry that
    /// is not an ed25519 public key, an unreadable or empty file, or a file holding a secret key.
    pub fn parse(entries: &[String], base_dir: &Path, setting: &str) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let bad = |message: String| KeyError::Entry {
                setting: setting.to_owned(),
                index,
                message,
            };
            let entry = entry.trim();
            if looks_like_key(entry) {
                keys.push(parse_public_key(entry).map_err(bad)?);
                continue;
            }
            let path = if Path::new(entry).is_absolute() {
                PathBuf::from(entry)
            } else {
                base_dir.join(entry)
            };
            let text = std::fs::read_to_string(&path).map_err(|e| {
                bad(format!(
                    "cannot read {}: {e} (an entry is an OpenSSH public key line \
                     `ssh-ed25519 AAAA… comment` or a file of them)",
                    path.display()
                ))
            })?;
            if text.contains("PRIVATE KEY-----") {
                return Err(bad(format!(
                    "{} is a secret key: list its public half (the `.pub` file) instead, and \
                     keep the secret key away from the host",
                    path.display()
                )));
            }
            let before = keys.len();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let key = parse_public_key(line)
                    .map_err(|m| bad(format!("{} line {}: {m}", path.display(), n + 1)))?;
                keys.push(key);
            }
            if keys.len() == before {
                return Err(bad(format!("{} holds no public key", path.display())));
            }
        }
        Ok(TrustedKeys {
            keys,
            setting: setting.to_owned(),
        })
    }

    /// True when no key is configured, so signatures are not required.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The keys as `SHA256:… (comment)`, for messages.
    pub(crate) fn describe(&self) -> String {
        let all: Vec<String> = self
            .keys
            .iter()
            .map(|k| Signer::of(k).to_string())
            .collect();
        if all.len() == 1 {
            all.join("")
        } else {
            format!("one of {}", all.join(", "))
        }
    }

    fn find(&self, key: &KeyData) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.key_data() == key)
    }
}

fn looks_like_key(entry: &str) -> bool {
    ["ssh-", "sk-", "ecdsa-"]
        .iter()
        .any(|prefix| entry.starts_with(prefix))
}

fn parse_public_key(line: &str) -> Result<PublicKey, String> {
    let key = PublicKey::from_openssh(line)
        .map_err(|e| format!("not an OpenSSH public key line ({e})"))?;
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(format!(
            "a {} key; plugin signing keys must be ed25519 (`inlet plugins keygen` or \
             `ssh-keygen -t ed25519`)",
            key.algorithm()
        ));
    }
    Ok(key)
}

/// Checks the detached signature of `component` over `bytes` (the bytes about to be compiled,
/// so what is checked is what runs). With trusted keys, anything but a valid signature by one of
/// them is an error; without, the signature is only described (a bad one as
/// [`Signature::Invalid`]).
pub fn check(
    component: &Path,
    bytes: &[u8],
    trust: &TrustedKeys,
) -> Result<Signature, SignatureError> {
    let signature = signature_path(component);
    let parsed = match read_signature(&signature) {
        Ok(Some(sig)) => sig,
        Ok(None) if trust.is_empty() => return Ok(Signature::Unsigned),
        Ok(None) => {
            return Err(SignatureError::Missing {
                component: component.to_path_buf(),
                signature,
                setting: trust.setting.clone(),
                trusted: trust.describe(),
            });
        }
        Err(e) if trust.is_empty() => return Ok(Signature::Invalid(e.to_string())),
        Err(e) => return Err(e),
    };
    // The key the signature names; trusted or not, it must have signed these very bytes.
    let claimed = PublicKey::from(parsed.public_key().clone());
    let (key, trusted) = match trust.find(parsed.public_key()) {
        Some(key) => (key, true),
        None if trust.is_empty() => (&claimed, false),
        None => {
            return Err(SignatureError::Untrusted {
                signature,
                signer: Signer::of(&claimed),
                setting: trust.setting.clone(),
                trusted: trust.describe(),
            });
        }
    };
    let signer = Signer::of(key);
    if key.verify(NAMESPACE, bytes, &parsed).is_err() {
        let e = SignatureError::Mismatch {
            signature,
            component: component.to_path_buf(),
            signer,
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)),
        };
        return if trust.is_empty() {
            Ok(Signature::Invalid(e.to_string()))
        } else {
            Err(e)
        };
    }
    Ok(Signature::Signed { signer, trusted })
}

/// Reads and parses a signature file; `None` when there is none. Checks what does not depend on
/// the component: the format, the namespace and the algorithm.
fn read_signature(path: &Path) -> Result<Option<SshSig>, SignatureError> {
    let unreadable = |source| SignatureError::Unreadable {
        signature: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    let mut text = Vec::new();
    file.take(MAX_SIGNATURE_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(unreadable)?;
    let malformed = |message: String| SignatureError::Malformed {
        signature: path.to_path_buf(),
        message,
    };
    if text.len() as u64 > MAX_SIGNATURE_BYTES {
        return Err(malformed(format!(
            "larger than {MAX_SIGNATURE_BYTES} bytes"
        )));
    }
    let sig = SshSig::from_pem(&text).map_err(|e| malformed(e.to_string()))?;
    if sig.namespace() != NAMESPACE {
        return Err(SignatureError::Namespace {
            signature: path.to_path_buf(),
            found: sig.namespace().to_owned(),
        });
    }
    if sig.algorithm() != Algorithm::Ed25519 {
        return Err(SignatureError::Algorithm {
            signature: path.to_path_buf(),
            found: sig.algorithm().to_string(),
        });
    }
    Ok(Some(sig))
}

/// Reads an unencrypted OpenSSH ed25519 secret key (what `inlet plugins keygen` or
/// `ssh-keygen -t ed25519 -N ""` writes).
pub fn read_secret_key(path: &Path) -> Result<PrivateKey, KeyError> {
    let bad = |message: String| KeyError::SecretKey {
        path: path.to_path_buf(),
        message,
    };
    // The crate reads the file into memory it wipes afterwards.
    let key = PrivateKey::read_openssh_file(path).map_err(|e| match e {
        ssh_key::Error::Io(kind) => bad(format!("cannot read: {}", std::io::Error::from(kind))),
        e => bad(format!(
            "not an OpenSSH secret key ({e}); make one with `inlet plugins keygen`"
        )),
    })?;
    if key.is_encrypted() {
        return Err(bad(format!(
            "the key is passphrase-protected; sign with `ssh-keygen -Y sign -n {NAMESPACE} -f {} <component>` \
             (it writes the same <component>.sig)",
            path.display()
        )));
    }
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(bad(format!(
            "a {} key; plugin signing keys must be ed25519",
            key.algorithm()
        )));
    }
    Ok(key)
}

/// A new ed25519 key pair with this comment, from the operating system's random source. Fails
/// only when that source does.
pub fn generate_key(comment: &str) -> Result<PrivateKey, ssh_key::Error> {
    let mut key = PrivateKey::random(&mut ssh_key::rand_core::OsRng, Algorithm::Ed25519)?;
    key.set_comment(comment);
    Ok(key)
}

/// The armored signature (`-----BEGIN SSH SIGNATURE-----`) of `bytes` by `key`, in the
/// `inlet-plugin` namespace over a SHA-512 digest: what `ssh-keygen -Y sign` writes, so either
/// tool's signature verifies with [`check`].
pub fn sign(key: &PrivateKey, bytes: &[u8]) -> Result<String, ssh_key::Error> {
    key.sign(NAMESPACE, HashAlg::Sha512, bytes)?
        .to_pem(LineEnding::LF)
}

/// The signer of a key, as messages show it.
pub fn signer_of(key: &PublicKey) -> Signer {
    Signer::of(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with OpenSSH 9.2: `ssh-keygen -t ed25519 -C vector@inlet.test` and
    /// `ssh-keygen -Y sign -n inlet-plugin` over [`VECTOR_BYTES`]: signatures made without
    /// Inlet are accepted.
    const VECTOR_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAp05fx9ikHciDlXFZIej86Kp7MpxtXx4zYZyswiBkIm vector@inlet.test";
    const VECTOR_BYTES: &[u8] = b"not really a component\n";
    const VECTOR_SIG: &str = "-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgCnTl/H2KQdyIOVcVkh6Pzoqnsy
nG1fHjNhnKzCIGQiYAAAAMaW5sZXQtcGx1Z2luAAAAAAAAAAZzaGE1MTIAAABTAAAAC3Nz
aC1lZDI1NTE5AAAAQKwToaamr2sMg35GIsXe2lGguf7WZwngQHNUo7xs0PbeNIfP6RZIKr
rWL28EmpEHES9IECeLQ3RRL18ylEqyYA8=
-----END SSH SIGNATURE-----
";
    /// The same key over the same bytes, in git's namespace.
    const VECTOR_GIT_SIG: &str = "-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgCnTl/H2KQdyIOVcVkh6Pzoqnsy
nG1fHjNhnKzCIGQiYAAAADZ2l0AAAAAAAAAAZzaGE1MTIAAABTAAAAC3NzaC1lZDI1NTE5
AAAAQGzeH4VEDcuEfiQ8XemRtGa1RkfiGC4+dcIOsLvTqu+HoxRmnJevCT9qypVOCbJJOG
MADJAQWUHuGqqUWg7fewI=
-----END SSH SIGNATURE-----
";
    /// `ssh-keygen -t rsa -b 1024` signing the same bytes in our namespace.
    const VECTOR_RSA_SIG: &str = "-----BEGIN SSH SIGNATURE-----
U1NIU0lHAAAAAQAAAJcAAAAHc3NoLXJzYQAAAAMBAAEAAACBAMBN5fkPRGUU+opY/NUrNm
c3Boo9bA2w5/T4neHj3JH1yqvfJSkJGiZRpmY41qPusL6XTgxl0kUuZ/1Kio8QWvmBZDQA
tQCplrJ/DX9omukoiy1WV9MBjQPcuIBuqCmqZR9BMDcKqnb7ZgYhXvcsvj9c9Lafxhz8KR
U2l9aT10rBAAAADGlubGV0LXBsdWdpbgAAAAAAAAAGc2hhNTEyAAAAlAAAAAxyc2Etc2hh
Mi01MTIAAACAN8lEzIrF8gp0TKEkZ07gSilEyBR/2e2TLkGIAZmhgvJdfNxM9bHppfP5wz
JEbM552MxsNfIS6CfThOYW31q55ltuRwhG8x7D/61NZbXr3nmaLFRggNmUIaLBrA5HioYe
GTE/7VIUrNWru4wp+nLQDVDimMy2283mypyEY6ByfCc=
-----END SSH SIGNATURE-----
";
    const RSA_KEY: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDATeX5D0RlFPqKWPzVKzZnNwaKPWwNsOf0+J3h49yR9cqr3yUpCRomUaZmONaj7rC+l04MZdJFLmf9SoqPEFr5gWQ0ALUAqZayfw1/aJrpKIstVlfTAY0D3LiAbqgpqmUfQTA3Cqp2+2YGIV73LL4/XPS2n8Yc/CkVNpfWk9dKwQ== rsa";

    fn trust(entries: &[&str]) -> TrustedKeys {
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        TrustedKeys::parse(&entries, Path::new("/nonexistent"), CONFIG_KEY).expect("keys parse")
    }

    /// A component file and, when given, its signature file, in a fresh directory.
    fn component(bytes: &[u8], sig: Option<&str>) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.wasm");
        std::fs::write(&path, bytes).expect("write component");
        if let Some(sig) = sig {
            std::fs::write(signature_path(&path), sig).expect("write signature");
        }
        (dir, path)
    }

    fn public(key: &PrivateKey) -> String {
        key.public_key().to_openssh().expect("encode public key")
    }

    #[test]
    fn a_signature_by_a_trusted_key_over_these_bytes_loads() {
        let key = generate_key("release@example.com").expect("keygen");
        let bytes = b"\0asm component bytes";
        let (_dir, path) = component(bytes, Some(&sign(&key, bytes).expect("sign")));
        let status = check(&path, bytes, &trust(&[&public(&key)])).expect("accepted");
        let Signature::Signed { signer, trusted } = status else {
            panic!("not signed: {status:?}")
        };
        assert!(trusted);
        assert_eq!(signer.comment, "release@example.com");
        assert_eq!(
            signer.fingerprint,
            key.fingerprint(HashAlg::Sha256).to_string()
        );
    }

    #[test]
    fn ssh_keygen_signatures_are_accepted() {
        let (_dir, path) = component(VECTOR_BYTES, Some(VECTOR_SIG));
        let status = check(&path, VECTOR_BYTES, &trust(&[VECTOR_KEY])).expect("accepted");
        assert!(
            matches!(&status, Signature::Signed { trusted: true, signer } if signer.comment == "vector@inlet.test"),
            "{status:?}"
        );
    }

    #[test]
    fn unsigned_is_refused_naming_the_missing_file_and_the_keys() {
        let (_dir, path) = component(VECTOR_BYTES, None);
        let err = check(&path, VECTOR_BYTES, &trust(&[VECTOR_KEY])).expect_err("refused");
        assert!(matches!(err, SignatureError::Missing { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("x.wasm.sig"), "{msg}");
        assert!(msg.contains(CONFIG_KEY), "{msg}");
        assert!(msg.contains("vector@inlet.test"), "{msg}");
        // Without trusted keys the same component loads, reported unsigned.
        assert_eq!(
            check(&path, VECTOR_BYTES, &TrustedKeys::default()).expect("loads"),
            Signature::Unsigned
        );
    }

    #[test]
    fn tampered_bytes_are_refused() {
        let mut tampered = VECTOR_BYTES.to_vec();
        tampered[0] ^= 1;
        let (_dir, path) = component(&tampered, Some(VECTOR_SIG));
        let err = check(&path, &tampered, &trust(&[VECTOR_KEY])).expect_err("refused");
        assert!(matches!(err, SignatureError::Mismatch { .. }), "{err:?}");
        assert!(err.to_string().contains("does not match"), "{err}");
        // Without trusted keys it is reported, not hidden.
        let status = check(&path, &tampered, &TrustedKeys::default()).expect("reported");
        assert!(
            matches!(&status, Signature::Invalid(why) if why.contains("does not match")),
            "{status:?}"
        );
    }

    #[test]
    fn a_signature_by_a_key_nobody_trusts_is_refused_naming_the_signer() {
        let other = generate_key("someone-else").expect("keygen");
        let (_dir, path) = component(VECTOR_BYTES, Some(VECTOR_SIG));
        let err = check(&path, VECTOR_BYTES, &trust(&[&public(&other)])).expect_err("refused");
        let SignatureError::Untrusted { signer, .. } = &err else {
            panic!("{err:?}")
        };
        let vector = PublicKey::from_openssh(VECTOR_KEY).expect("vector key");
        assert_eq!(
            signer.fingerprint,
            vector.fingerprint(HashAlg::Sha256).to_string()
        );
        assert!(err.to_string().contains("someone-else"), "{err}");
    }

    #[test]
    fn a_signature_of_another_component_is_refused() {
        let key = generate_key("release").expect("keygen");
        let other_component = b"\0asm the github component";
        let this_component = b"\0asm the confluence component";
        let sig = sign(&key, other_component).expect("sign");
        let (_dir, path) = component(this_component, Some(&sig));
        let err = check(&path, this_component, &trust(&[&public(&key)])).expect_err("refused");
        assert!(matches!(err, SignatureError::Mismatch { .. }), "{err:?}");
    }

    #[test]
    fn a_signature_made_for_another_purpose_is_refused() {
        let (_dir, path) = component(VECTOR_BYTES, Some(VECTOR_GIT_SIG));
        let err = check(&path, VECTOR_BYTES, &trust(&[VECTOR_KEY])).expect_err("refused");
        assert!(
            matches!(&err, SignatureError::Namespace { found, .. } if found == "git"),
            "{err:?}"
        );
    }

    #[test]
    fn only_ed25519_keys_and_signatures_are_accepted() {
        let (_dir, path) = component(VECTOR_BYTES, Some(VECTOR_RSA_SIG));
        let err = check(&path, VECTOR_BYTES, &trust(&[VECTOR_KEY])).expect_err("refused");
        assert!(
            matches!(
                err,
                SignatureError::Algorithm { .. } | SignatureError::Malformed { .. }
            ),
            "{err:?}"
        );
        let entries = vec![RSA_KEY.to_string()];
        let err = TrustedKeys::parse(&entries, Path::new("."), CONFIG_KEY).expect_err("refused");
        assert!(err.to_string().contains("must be ed25519"), "{err}");
        assert!(
            err.to_string().starts_with(&format!("{CONFIG_KEY}[0]")),
            "{err}"
        );
    }

    #[test]
    fn garbage_and_oversized_signature_files_are_refused() {
        let (_dir, path) = component(VECTOR_BYTES, Some("not a signature"));
        let err = check(&path, VECTOR_BYTES, &trust(&[VECTOR_KEY])).expect_err("refused");
        assert!(matches!(err, SignatureError::Malformed { .. }), "{err:?}");
        let huge = "A".repeat(MAX_SIGNATURE_BYTES as usize + 1);
        let (_dir, path) = component(VECTOR_BYTES, Some(&huge));
        let err = check(&path, VECTOR_BYTES, &trust(&[VECTOR_KEY])).expect_err("refused");
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    #[test]
    fn trusted_keys_come_from_lines_or_files_relative_to_the_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = generate_key("a").expect("keygen");
        let b = generate_key("b").expect("keygen");
        std::fs::write(
            dir.path().join("keys.pub"),
            format!("# release keys\n\n{}\n{}\n", public(&a), public(&b)),
        )
        .expect("write keys");
        let entries = vec!["keys.pub".to_string(), VECTOR_KEY.to_string()];
        let keys = TrustedKeys::parse(&entries, dir.path(), CONFIG_KEY).expect("parse");
        assert_eq!(keys.keys.len(), 3);
        assert!(keys.describe().contains("vector@inlet.test"));

        // A secret key listed by mistake is refused without echoing it.
        std::fs::write(
            dir.path().join("secret"),
            a.to_openssh(LineEnding::LF).expect("encode").as_bytes(),
        )
        .expect("write secret");
        let err =
            TrustedKeys::parse(&["secret".into()], dir.path(), CONFIG_KEY).expect_err("refused");
        assert!(err.to_string().contains("is a secret key"), "{err}");
        let err = TrustedKeys::parse(&["missing.pub".into()], dir.path(), CONFIG_KEY)
            .expect_err("refused");
        assert!(err.to_string().contains("missing.pub"), "{err}");
        std::fs::write(dir.path().join("empty.pub"), "# none yet\n").expect("write");
        let err =
            TrustedKeys::parse(&["empty.pub".into()], dir.path(), CONFIG_KEY).expect_err("refused");
        assert!(err.to_string().contains("holds no public key"), "{err}");
    }

    #[test]
    fn secret_keys_must_be_unencrypted_ed25519() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key");
        let key = generate_key("k").expect("keygen");
        std::fs::write(
            &path,
            key.to_openssh(LineEnding::LF).expect("encode").as_bytes(),
        )
        .expect("write");
        let read = read_secret_key(&path).expect("reads");
        assert_eq!(read.public_key(), key.public_key());
        // `ssh-keygen -t ed25519 -N secret`: a passphrase-protected key points to ssh-keygen.
        std::fs::write(&path, ENCRYPTED_KEY).expect("write");
        let err = read_secret_key(&path).expect_err("refused");
        assert!(err.to_string().contains("ssh-keygen -Y sign"), "{err}");
    }

    const ENCRYPTED_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABAo9IjDdA
xVck65wRyJ9NoxAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIMOvqU+d3XTeaSN7
Rnwg4FMiFdG5qGeXMVb6OMS6hA7OAAAAoErxI8zqdLGESraEEBrlu3LZLr5Ri4rI3PcGOD
e6rFplGec6pdAo/+Rhceago24BTtEiEy+6s7wQDGto1t2CogvGMHLe0UthvjVsQNHmgcTO
JC00EhLDoxUVQZEVTs5jmbmI5z+OCDIhL18Ap45MZTl25jWq5/QFmVjp83xVR2irRy3MXy
OjSiBSfRifx9qZrzHpzRwxwiqHomV764C4JEI=
-----END OPENSSH PRIVATE KEY-----
";
}
