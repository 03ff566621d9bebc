//! The refresh token of an `oauth2_refresh_token` credential, kept across restarts.
//!
//! Providers that rotate refresh tokens (Dropbox, Box, Zoom, Entra ID for public clients) answer
//! each refresh with a new one and invalidate the old: a host that forgot the new one at a
//! restart would be left with a dead grant and an operator asked to authorize again. So each
//! rotated token is written to `<data_dir>/credentials/<name>.json` (mode 0600, replaced
//! atomically) before it is used, together with the SHA-256 of the token the configuration
//! holds. At load, the stored token is used only if it descends from the configured one: an
//! operator who puts a new refresh token in config.yml (or the form) starts a new chain.
//!
//! The stored token is as secret as the configured one; it never reaches a plugin or a log.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// What `<name>.json` holds.
#[derive(Serialize, Deserialize)]
struct Stored {
    /// SHA-256 (hex) of the configured refresh token this one was rotated from.
    initial_sha256: String,
    refresh_token: String,
}

pub(crate) struct RotatingRefreshToken {
    credential: String,
    /// Where rotations are stored; `None` keeps them in memory only (tests, `config check`).
    path: Option<PathBuf>,
    initial_sha256: String,
    current: Mutex<SecretString>,
}

/// A file name for a credential name (form credentials are named `form:<connector>/<name>`).
fn file_name(credential: &str) -> String {
    let safe: String = credential
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    // Two names that differ only in replaced characters must not share a file.
    let tag = hex::encode(&Sha256::digest(credential.as_bytes())[..4]);
    format!("{safe}-{tag}.json")
}

impl RotatingRefreshToken {
    /// The configured token, or the one rotated from it that `dir` holds.
    pub(crate) fn load(credential: &str, configured: SecretString, dir: Option<&Path>) -> Self {
        let initial_sha256 = hex::encode(Sha256::digest(configured.expose_secret().as_bytes()));
        let path = dir.map(|d| d.join(file_name(credential)));
        let mut current = configured;
        if let Some(p) = &path {
            match std::fs::read(p) {
                Ok(bytes) => match serde_json::from_slice::<Stored>(&bytes) {
                    Ok(stored) if stored.initial_sha256 == initial_sha256 => {
                        tracing::debug!(credential, path = %p.display(), "using the rotated refresh token");
                        current = SecretString::from(stored.refresh_token);
                    }
                    Ok(_) => tracing::info!(
                        credential,
                        "the configured refresh token changed: starting from it (the one rotated from the old token in {} is not used)",
                        p.display()
                    ),
                    Err(e) => tracing::warn!(
                        credential,
                        "{} is not a stored refresh token ({e}); starting from the configured one",
                        p.display()
                    ),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(
                    credential,
                    "cannot read {} ({e}); starting from the configured refresh token",
                    p.display()
                ),
            }
        }
        RotatingRefreshToken {
            credential: credential.to_owned(),
            path,
            initial_sha256,
            current: Mutex::new(current),
        }
    }

    pub(crate) fn current(&self) -> SecretString {
        self.current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The endpoint issued `next` in place of the current token: store it, then use it. A
    /// failure to store is logged, not fatal: the token still works until the next restart.
    pub(crate) fn rotate(&self, next: SecretString) {
        if next.expose_secret() == self.current().expose_secret() {
            return;
        }
        if let Some(path) = &self.path
            && let Err(e) = self.store(path, &next)
        {
            tracing::error!(
                credential = %self.credential,
                "cannot store the rotated refresh token in {} ({e}): it works until inlet restarts; after that, authorize again and put a new refresh token in the configuration",
                path.display()
            );
        }
        *self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = next;
    }

    fn store(&self, path: &Path, token: &SecretString) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let text = serde_json::to_vec(&Stored {
            initial_sha256: self.initial_sha256.clone(),
            refresh_token: token.expose_secret().to_owned(),
        })
        .map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        // Atomic: a crash leaves the old token or the new one, never half of one.
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_survives_a_restart_until_the_configuration_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let configured = || SecretString::from("rt-initial".to_owned());
        let token = RotatingRefreshToken::load("form:c1/dropbox", configured(), Some(dir.path()));
        assert_eq!(token.current().expose_secret(), "rt-initial");
        token.rotate(SecretString::from("rt-2".to_owned()));
        assert_eq!(token.current().expose_secret(), "rt-2");

        // A restart with the same configuration continues the chain.
        let again = RotatingRefreshToken::load("form:c1/dropbox", configured(), Some(dir.path()));
        assert_eq!(again.current().expose_secret(), "rt-2");
        // Another credential does not see it.
        let other = RotatingRefreshToken::load("form:c1_dropbox", configured(), Some(dir.path()));
        assert_eq!(other.current().expose_secret(), "rt-initial");
        // A new token in the configuration starts a new chain.
        let reissued = RotatingRefreshToken::load(
            "form:c1/dropbox",
            SecretString::from("rt-reissued".to_owned()),
            Some(dir.path()),
        );
        assert_eq!(reissued.current().expose_secret(), "rt-reissued");

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let file = std::fs::read_dir(dir.path())
                .expect("dir")
                .flatten()
                .find(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .expect("a stored token");
            let mode = file.metadata().expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_damaged_store_falls_back_to_the_configured_token() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(file_name("box")), b"{not json").expect("write");
        let token = RotatingRefreshToken::load(
            "box",
            SecretString::from("rt-configured".to_owned()),
            Some(dir.path()),
        );
        assert_eq!(token.current().expose_secret(), "rt-configured");
    }
}
