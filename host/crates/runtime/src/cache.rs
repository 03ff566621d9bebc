//! The compiled-plugin cache: `Engine::precompile_component` once, load the artifact afterwards.
//!
//! An 18 MB Python component takes seconds to compile and milliseconds to load from here, so a
//! restart must never recompile. Keys are sha256(component bytes) plus the engine's
//! compatibility hash: a `.cwasm` only loads into an engine with the same settings.
//!
//! Loading an artifact is `unsafe`: it is native code, run as it is. So an artifact is loaded
//! only from a directory this user owns and nobody else may write to (checked each time the
//! cache opens; created 0700 when missing), and only if the file itself is this user's and not
//! writable by others; anything else is compiled again. Never from a plugin directory, never
//! from a shared `/tmp/inlet` another user could have prepared.

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
pub(crate) struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

/// Why a component could not be produced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheError {
    /// The bytes are not a valid component (or use features this engine lacks).
    #[error("{0:#}")]
    Compile(wasmtime::Error),
    /// The cache directory could not be written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Why a directory cannot hold compiled plugins. Each message names the directory and what to
/// do about it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CacheDirError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a directory; set `inlet.cache_dir` (or `--cache-dir`) to a directory")]
    NotADirectory { path: String },
    #[error(
        "{path} belongs to uid {owner}, not to this user (uid {me}): compiled plugins are native code this host runs, so it only loads them from a directory of its own; set `inlet.cache_dir` (or `--cache-dir`) to a directory you own"
    )]
    NotOwned { path: String, owner: u32, me: u32 },
    #[error(
        "{path} is writable by group or others (mode {mode:04o}): anyone who can write there can plant native code this host would run; run `chmod 700 {path}` (and empty it if you do not trust its contents), or set `inlet.cache_dir` (or `--cache-dir`) to another directory"
    )]
    Shared { path: String, mode: u32 },
}

/// A component ready to instantiate, with how long it took to get it.
pub(crate) struct Loaded {
    pub component: Component,
    pub outcome: CacheOutcome,
    pub elapsed: Duration,
}

impl CompileCache {
    /// Opens the cache in `dir`, creating it (mode 0700) if missing, and refuses a directory
    /// this user does not own or others may write to.
    pub(crate) fn new(dir: &Path, engine: &Engine) -> Result<Self, CacheDirError> {
        private_dir(dir)?;
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
    pub(crate) fn load_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
        sha256: &[u8; 32],
    ) -> Result<Loaded, CacheError> {
        let start = Instant::now();
        let path = self.artifact_path(sha256);
        match trusted_file(&path) {
            Trust::Missing => {}
            Trust::Untrusted(why) => {
                tracing::warn!(path = %path.display(), "not loading cache entry {}: {why}; compiling the component again", path.display());
                let _ = std::fs::remove_file(&path);
            }
            Trust::Trusted => {
                // SAFETY: the file is a regular file this user owns and nobody else may write,
                // in a directory with the same properties (checked when the cache opened); its
                // name carries both the sha256 of the source component and this engine's
                // compatibility hash, and only `precompile_component` below writes such files
                // (atomically, via rename).
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
        }
        let artifact = engine
            .precompile_component(bytes)
            .map_err(CacheError::Compile)?;
        // One temporary name per write, not per process: two threads compiling the same
        // component at once (a service loading its plugins while Kibana's scheduler asks for
        // the form) each write their own file, and the second rename simply replaces the
        // first's identical entry. With one name per process, the first rename took the other
        // thread's file away and its rename failed with ENOENT.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
        if let Err(e) = write_private(&tmp, &artifact).and_then(|()| std::fs::rename(&tmp, &path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
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

/// Whether a cache entry may be loaded.
#[derive(Debug, PartialEq, Eq)]
enum Trust {
    Missing,
    Trusted,
    Untrusted(String),
}

/// The effective uid of this process.
#[cfg(unix)]
pub(crate) fn current_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Makes sure `dir` exists and is this user's alone: created 0700 when missing; an existing
/// one (and a symlink leading to it) must be owned by this user and not writable by group or
/// others.
#[cfg(unix)]
pub(crate) fn private_dir(dir: &Path) -> Result<(), CacheDirError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let path = dir.display().to_string();
    let io = |source| CacheDirError::Io {
        path: path.clone(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io)?;
    let me = current_uid();
    // The entry itself: a symlink someone else planted (in /tmp, say) is refused even when it
    // leads to a directory of ours.
    let link = std::fs::symlink_metadata(dir).map_err(io)?;
    if link.uid() != me {
        return Err(CacheDirError::NotOwned {
            path,
            owner: link.uid(),
            me,
        });
    }
    let meta = std::fs::metadata(dir).map_err(io)?;
    if !meta.is_dir() {
        return Err(CacheDirError::NotADirectory { path });
    }
    if meta.uid() != me {
        return Err(CacheDirError::NotOwned {
            path,
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(CacheDirError::Shared { path, mode });
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn private_dir(dir: &Path) -> Result<(), CacheDirError> {
    std::fs::create_dir_all(dir).map_err(|source| CacheDirError::Io {
        path: dir.display().to_string(),
        source,
    })
}

#[cfg(unix)]
fn trusted_file(path: &Path) -> Trust {
    use std::os::unix::fs::MetadataExt;
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Trust::Missing,
        Err(e) => return Trust::Untrusted(e.to_string()),
    };
    let me = current_uid();
    if !meta.file_type().is_file() {
        Trust::Untrusted("it is not a regular file".into())
    } else if meta.uid() != me {
        Trust::Untrusted(format!(
            "it belongs to uid {}, not to this user (uid {me})",
            meta.uid()
        ))
    } else if meta.mode() & 0o022 != 0 {
        Trust::Untrusted(format!(
            "it is writable by group or others (mode {:04o})",
            meta.mode() & 0o7777
        ))
    } else {
        Trust::Trusted
    }
}

#[cfg(not(unix))]
fn trusted_file(path: &Path) -> Trust {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_file() => Trust::Trusted,
        Ok(_) => Trust::Untrusted("it is not a regular file".into()),
        Err(_) => Trust::Missing,
    }
}

/// Writes a new file readable and writable by this user only, whatever the umask.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    /// The smallest component: the preamble of an empty one.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("metadata").mode() & 0o7777
    }

    #[test]
    fn a_missing_directory_is_created_for_this_user_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join(format!("inlet-{}", current_uid()));
        let engine = Engine::default();
        CompileCache::new(&dir, &engine).expect("opens");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(
            std::fs::metadata(&dir).expect("metadata").uid(),
            current_uid()
        );
        // Opening it again finds it as it was.
        CompileCache::new(&dir, &engine).expect("opens again");
    }

    #[test]
    fn a_directory_others_may_write_is_refused_naming_it_and_the_fix() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("shared");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = CompileCache::new(&dir, &Engine::default()).expect_err("refused");
        let msg = err.to_string();
        assert!(
            matches!(err, CacheDirError::Shared { mode: 0o777, .. }),
            "{msg}"
        );
        assert!(msg.contains(&dir.display().to_string()), "{msg}");
        assert!(
            msg.contains(&format!("chmod 700 {}", dir.display()))
                && msg.contains("inlet.cache_dir")
                && msg.contains("--cache-dir"),
            "{msg}"
        );
        // Not silently "fixed": the operator decides whether to trust what is in it.
        assert_eq!(mode(&dir), 0o777);
        // Group-writable is refused too; group- and world-readable is fine.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).expect("chmod");
        assert!(CompileCache::new(&dir, &Engine::default()).is_err());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        CompileCache::new(&dir, &Engine::default()).expect("0755 is private enough");
    }

    #[test]
    fn a_directory_or_symlink_of_another_user_is_refused() {
        if current_uid() != 0 {
            eprintln!("skipped: needs root to give a directory to another uid");
            return;
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("theirs");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).expect("chown");
        let err = CompileCache::new(&dir, &Engine::default()).expect_err("refused");
        assert!(
            matches!(
                err,
                CacheDirError::NotOwned {
                    owner: 65534,
                    me: 0,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("--cache-dir"), "{err}");
        // A symlink planted by someone else, even to a directory of ours.
        let ours = tmp.path().join("ours");
        std::fs::create_dir(&ours).expect("mkdir");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&ours, &link).expect("symlink");
        CompileCache::new(&link, &Engine::default()).expect("our own symlink is fine");
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).expect("lchown");
        let err = CompileCache::new(&link, &Engine::default()).expect_err("refused");
        assert!(
            matches!(err, CacheDirError::NotOwned { owner: 65534, .. }),
            "{err}"
        );
    }

    #[test]
    fn entries_others_could_have_written_are_compiled_again_not_loaded() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let engine = Engine::default();
        let cache = CompileCache::new(tmp.path(), &engine).expect("opens");
        let sha: [u8; 32] = Sha256::digest(EMPTY_COMPONENT).into();
        let load = || {
            cache
                .load_or_compile(&engine, EMPTY_COMPONENT, &sha)
                .expect("loads")
                .outcome
        };
        assert_eq!(load(), CacheOutcome::Compiled);
        let path = cache.artifact_path(&sha);
        assert_eq!(mode(&path), 0o600, "written for this user only");
        assert_eq!(load(), CacheOutcome::Hit);

        // World-writable: anyone could have replaced its contents.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        assert_eq!(load(), CacheOutcome::Compiled);
        assert_eq!(mode(&path), 0o600, "replaced by a fresh artifact");
        assert_eq!(load(), CacheOutcome::Hit);

        // A valid artifact that is not ours (a planted one) is not deserialized either.
        if current_uid() == 0 {
            std::os::unix::fs::chown(&path, Some(65534), Some(65534)).expect("chown");
            assert_eq!(load(), CacheOutcome::Compiled);
            assert_eq!(std::fs::metadata(&path).expect("metadata").uid(), 0);
            assert_eq!(load(), CacheOutcome::Hit);
        }

        // A symlink in its place (to a file of ours) is not followed.
        let elsewhere = tmp.path().join("elsewhere.cwasm");
        std::fs::rename(&path, &elsewhere).expect("move");
        std::os::unix::fs::symlink(&elsewhere, &path).expect("symlink");
        assert_eq!(load(), CacheOutcome::Compiled);
        assert!(std::fs::symlink_metadata(&path).expect("entry").is_file());
    }

    #[test]
    fn threads_compiling_the_same_component_at_once_all_succeed() {
        // Found by the end-to-end suite: the service and Kibana's scheduler compiled one
        // component at the same moment in one process and shared a temporary file name.
        let tmp = tempfile::tempdir().expect("tempdir");
        let engine = Engine::default();
        let cache = CompileCache::new(tmp.path(), &engine).expect("opens");
        let sha: [u8; 32] = Sha256::digest(EMPTY_COMPONENT).into();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| cache.load_or_compile(&engine, EMPTY_COMPONENT, &sha)))
                .collect();
            for w in workers {
                assert!(w.join().expect("thread").is_ok());
            }
        });
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().contains(".tmp"))
            .collect();
        assert!(left.is_empty(), "temporary files left: {left:?}");
    }
}
