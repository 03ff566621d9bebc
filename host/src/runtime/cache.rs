//! The compiled-plugin cache: `Engine::precompile_component` once, load the artifact afterwards.
//!
//! An 18 MB Python component takes seconds to compile and milliseconds to load from here, so a
//! restart must never recompile. Keys are sha256(component bytes) plus the engine's
//! compatibility hash: a `.cwasm` only loads into an engine with the same settings. Artifacts are
//! only ever read from this host-owned directory (never from a plugin directory), because
//! deserializing is `unsafe` for bytes this host did not produce.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded a precompiled artifact.
    Hit,
    /// Compiled now (and stored for next time).
    Compiled,
}

#[derive(Debug)]
pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

/// Why a component could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The bytes are not a valid component (or use features this engine lacks).
    #[error("{0:#}")]
    Compile(wasmtime::Error),
    /// The cache directory could not be written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A component ready to instantiate, with how long it took to get it.
pub struct Loaded {
    pub component: Component,
    pub outcome: CacheOutcome,
    pub elapsed: Duration,
}

impl CompileCache {
    pub fn new(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        restrict_permissions(dir)?;
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..8]);
        Ok(CompileCache {
            dir: dir.to_path_buf(),
            engine_key,
        })
    }

    fn artifact_path(&self, sha256: &[u8; 32]) -> PathBuf {
        self.dir
            .join(format!("{}-{}.cwasm", hex::encode(sha256), self.engine_key))
    }

    /// Loads the precompiled artifact for these bytes, or compiles and stores it.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &[u8; 32],
    ) -> Result<Loaded, CacheError> {
        let start = Instant::now();
        let path = self.artifact_path(sha256);
        if path.is_file() {
            // SAFETY: the file is in the host-owned cache directory and its name carries both the
            // sha256 of the source component and this engine's compatibility hash; only
            // `precompile_component` below writes such files (atomically, via rename).
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => {
                    return Ok(Loaded {
                        component,
                        outcome: CacheOutcome::Hit,
                        elapsed: start.elapsed(),
                    });
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "discarding unreadable cache entry");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let artifact = engine
            .precompile_component(bytes)
            .map_err(CacheError::Compile)?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &artifact)?;
        std::fs::rename(&tmp, &path)?;
        // SAFETY: `artifact` was produced by `precompile_component` on this engine just now.
        let component =
            unsafe { Component::deserialize(engine, &artifact) }.map_err(CacheError::Compile)?;
        Ok(Loaded {
            component,
            outcome: CacheOutcome::Compiled,
            elapsed: start.elapsed(),
        })
    }
}

/// Feeds `Hash` output into sha256, so the key is stable across runs (unlike `DefaultHasher`).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(unix)]
fn restrict_permissions(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn restrict_permissions(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
