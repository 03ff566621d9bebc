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

use inlet_policy::manifest::Manifest;
use signature::{Signature, SignatureError, TrustedKeys};

use inlet_runtime::{CacheOutcome, LoadError, LoadedComponent, Runtime};

/// A plugin folder found on disk (not yet compiled), with its manifest parsed and checked.
#[derive(Debug, Clone)]
pub struct Discovered {
    /// The plugin's folder, as found under the plugin directory.
    pub dir: PathBuf,
    /// Its `plugin.toml`.
    pub manifest: Manifest,
}

impl Discovered {
    /// The component file the manifest names (`component`), resolved against the folder; it
    /// need not exist yet.
    pub fn component_path(&self) -> PathBuf {
        self.dir.join(&self.manifest.component)
    }
}

/// Why a plugin could not be used. Each says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin directory cannot be listed (missing, not a directory, or unreadable).
    #[error("plugin directory {0} does not exist (set `inlet.plugins_dir` or pass --plugins)")]
    NoDirectory(PathBuf),
    /// A `plugin.toml` does not parse or fails the manifest's checks.
    #[error("{path}: {message}")]
    Manifest {
        /// The `plugin.toml`.
        path: PathBuf,
        /// The manifest reader's reason.
        message: String,
    },
    /// The component file cannot be read (usually: the plugin was never built).
    #[error("{path}: cannot read the component: {source} (was the plugin built?)")]
    Read {
        /// The component file.
        path: PathBuf,
        /// Why reading it failed.
        source: std::io::Error,
    },
    /// The component's sha256 is not the connector's `sha256` pin in config.yml.
    #[error(
        "{path}: sha256 is {actual}, but config.yml pins {expected}; refusing to load a component that changed"
    )]
    PinMismatch {
        /// The component file.
        path: PathBuf,
        /// The pin as config.yml writes it (compared without regard to case).
        expected: String,
        /// The file's sha256, lowercase hex.
        actual: String,
    },
    /// Trusted keys are configured and the component's signature does not satisfy them
    /// (boxed: the variant names two files and two keys).
    #[error(transparent)]
    Signature(#[from] Box<SignatureError>),
    /// The runtime refused the component: not a component, not a connector, another contract
    /// version, an import the host does not provide, or the cache could not store it.
    #[error("{path}: {source}")]
    Load {
        /// The component file.
        path: PathBuf,
        /// The runtime's reason.
        source: LoadError,
    },
    /// No plugin folder declares this service type (or its folder is broken, see the
    /// other errors of the same scan).
    #[error(
        "no plugin provides service type `{0}` (see `inlet plugins list`; is it built and in the plugin directory?)"
    )]
    Unknown(String),
    /// Two folders declare one service type; the first (in path order) is the one used.
    #[error("service type `{service_type}` is provided twice: {first} and {second}")]
    Duplicate {
        /// The service type both declare.
        service_type: String,
        /// The folder that provides it.
        first: PathBuf,
        /// The folder that is ignored.
        second: PathBuf,
    },
}

/// Finds every `*/plugin.toml` in `dir` (one level down), sorted by folder path. Broken
/// manifests are returned as errors beside the good ones, so one bad folder does not hide the
/// rest; the outer error is only [`PluginError::NoDirectory`].
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

/// Indexes discovered plugins by service type. The second element holds the errors of
/// `found` and a [`PluginError::Duplicate`] for each folder whose service type an earlier one
/// already provides.
pub(crate) fn by_service_type(
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

/// A plugin ready to instantiate: verified, compiled (or taken from the cache) and linked.
/// Immutable; hot reload replaces the whole `Arc<Plugin>`.
pub struct Plugin {
    /// Its `plugin.toml`; `None` for a bare component (`inlet plugins inspect` of a file with
    /// no manifest beside it).
    pub(crate) manifest: Option<Manifest>,
    /// The component file it was loaded from.
    pub(crate) path: PathBuf,
    /// sha256 of the bytes that were verified and compiled, lowercase hex: identifies the
    /// version (what the pin and the compiled-plugin cache compare).
    pub sha256: String,
    /// Size of the component, in bytes.
    pub size: u64,
    /// Its detached signature, as checked at load.
    pub signature: Signature,
    /// The compiled, linked component instances are made from.
    pub component: LoadedComponent,
}

/// Reads, verifies and loads one component. Verification runs on the bytes that are then
/// compiled (never a second read of the file): the optional sha256 pin, then the signature —
/// required, and by one of `trust`'s keys, when `trust` is not empty. Both apply when both are
/// configured. Records the load in the metrics (`inlet_plugin_loads_total`,
/// `inlet_plugin_load_seconds`).
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
