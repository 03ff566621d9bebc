//! Plugins: discovered in a directory, verified, compiled through the cache, linked once.
//!
//! A plugin is a folder holding `plugin.toml` and the component it names (and, when the operator
//! requires signed plugins, the component's detached signature `<component>.sig`). Third-party
//! plugins drop in as folders; nothing is recompiled on the host side.

pub mod signature;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use inlet_policy::manifest::{Manifest, Permissions};
pub use signature::{Signature, SignatureError, TrustedKeys};

use inlet_runtime::{CacheOutcome, LoadError, LoadedComponent, Runtime};

/// A plugin folder found on disk (not yet compiled).
#[derive(Debug, Clone)]
pub struct Discovered {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Discovered {
    pub fn component_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.component)
    }
}

/// Why a plugin could not be used. Each says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("plugin directory {0} does not exist (set `inlet.plugins_dir` or pass --plugins)")]
    NoDirectory(PathBuf),
    #[error("{path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("{path}: cannot read the component: {source} (was the plugin built?)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: sha256 is {actual}, but config.yml pins {expected}; refusing to load a component that changed"
    )]
    PinMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    /// Trusted keys are configured and the component's signature does not satisfy them
    /// (boxed: the variant names two files and two keys).
    #[error(transparent)]
    Signature(#[from] Box<SignatureError>),
    #[error("{path}: {source}")]
    Load { path: PathBuf, source: LoadError },
    #[error(
        "no plugin provides service type `{0}` (see `inlet plugins list`; is it built and in the plugin directory?)"
    )]
    Unknown(String),
    #[error("service type `{service_type}` is provided twice: {first} and {second}")]
    Duplicate {
        service_type: String,
        first: PathBuf,
        second: PathBuf,
    },
}

/// Finds every `*/plugin.toml` in `dir`. Broken manifests are returned as errors beside the
/// good ones, so one bad folder does not hide the rest.
pub fn discover(dir: &Path) -> Result<Vec<Result<Discovered, PluginError>>, PluginError> {
    let entries =
        std::fs::read_dir(dir).map_err(|_| PluginError::NoDirectory(dir.to_path_buf()))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join(inlet_policy::manifest::FILE_NAME).is_file())
        .collect();
    found.sort();
    Ok(found
        .into_iter()
        .map(|dir| {
            let path = dir.join(inlet_policy::manifest::FILE_NAME);
            Manifest::read(&path)
                .map(|manifest| Discovered {
                    dir: dir.clone(),
                    manifest,
                })
                .map_err(|message| PluginError::Manifest { path, message })
        })
        .collect())
}

/// Indexes discovered plugins by service type.
pub fn by_service_type(
    found: Vec<Result<Discovered, PluginError>>,
) -> (BTreeMap<String, Discovered>, Vec<PluginError>) {
    let mut map: BTreeMap<String, Discovered> = BTreeMap::new();
    let mut problems = Vec::new();
    for d in found {
        match d {
            Ok(d) => {
                if let Some(first) = map.get(&d.manifest.service_type) {
                    problems.push(PluginError::Duplicate {
                        service_type: d.manifest.service_type.clone(),
                        first: first.dir.clone(),
                        second: d.dir.clone(),
                    });
                } else {
                    map.insert(d.manifest.service_type.clone(), d);
                }
            }
            Err(e) => problems.push(e),
        }
    }
    (map, problems)
}

/// A plugin ready to instantiate.
pub struct Plugin {
    pub manifest: Option<Manifest>,
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// Its detached signature, as checked at load.
    pub signature: Signature,
    pub component: LoadedComponent,
}

/// Reads, verifies and loads one component. Verification runs on the bytes that are then
/// compiled (never a second read of the file): the optional sha256 pin, then the signature —
/// required, and by one of `trust`'s keys, when `trust` is not empty. Both apply when both are
/// configured.
pub fn load(
    runtime: &Runtime,
    path: &Path,
    manifest: Option<Manifest>,
    pin: Option<&str>,
    trust: &TrustedKeys,
) -> Result<Arc<Plugin>, PluginError> {
    let bytes = std::fs::read(path).map_err(|source| PluginError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    let sha256 = hex::encode(digest);
    if let Some(expected) = pin
        && !expected.eq_ignore_ascii_case(&sha256)
    {
        return Err(PluginError::PinMismatch {
            path: path.to_path_buf(),
            expected: expected.to_owned(),
            actual: sha256,
        });
    }
    let signature = signature::check(path, &bytes, trust).map_err(Box::new)?;
    let component = runtime
        .load(&bytes, &digest)
        .map_err(|source| PluginError::Load {
            path: path.to_path_buf(),
            source,
        })?;
    record_load(
        manifest
            .as_ref()
            .map_or("unknown", |m| m.service_type.as_str()),
        component.cache,
        component.load_time.as_secs_f64(),
    );
    tracing::info!(
        plugin = %path.display(),
        cache = ?component.cache,
        signature = %signature,
        elapsed_ms = component.load_time.as_secs_f64() * 1e3,
        "plugin loaded"
    );
    Ok(Arc::new(Plugin {
        manifest,
        path: path.to_path_buf(),
        sha256,
        size: bytes.len() as u64,
        signature,
        component,
    }))
}

/// Records a plugin load in the exporter (the names are described in the host's `inlet::metrics`).
fn record_load(service_type: &str, outcome: CacheOutcome, seconds: f64) {
    let outcome = match outcome {
        CacheOutcome::Hit => "hit",
        CacheOutcome::Compiled => "compiled",
    };
    ::metrics::counter!("inlet_plugin_loads_total", "service_type" => service_type.to_owned(), "cache" => outcome).increment(1);
    ::metrics::histogram!("inlet_plugin_load_seconds", "service_type" => service_type.to_owned())
        .record(seconds);
}
