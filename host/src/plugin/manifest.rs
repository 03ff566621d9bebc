//! `plugin.toml`: what a plugin says about itself, beside its component.
//!
//! ```toml
//! service_type = "dir"
//! name = "System Directory"
//! version = "0.1.0"
//! component = "dir.wasm"          # relative to this file
//!
//! [permissions]                   # what the plugin asks for; config.yml grants
//! files = true                    # read-only directories
//! http = ["https://api.github.com"]
//! sql = ["postgresql"]            # names of databases config.yml's `databases:` defines
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const FILE_NAME: &str = "plugin.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub service_type: String,
    pub name: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    /// The component, relative to the manifest.
    pub component: PathBuf,
    #[serde(default)]
    pub permissions: Permissions,
}

/// The plugin's side of the two-sided permission model.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permissions {
    /// Wants read-only access to directories the operator grants.
    #[serde(default)]
    pub files: bool,
    /// Origins (`scheme://host[:port]`) it wants to reach.
    #[serde(default)]
    pub http: Vec<String>,
    /// Names of operator-granted databases (config.yml `databases:`) it wants to query.
    #[serde(default)]
    pub sql: Vec<String>,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
        let manifest: Manifest = toml::from_str(&text).map_err(|e| e.to_string())?;
        if manifest.service_type.trim().is_empty() {
            return Err("`service_type` is empty".into());
        }
        if manifest.component.is_absolute()
            || manifest
                .component
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(format!(
                "`component = {:?}` must be a path inside the plugin's folder",
                manifest.component
            ));
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_unknown_keys_and_escaping_paths() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join(FILE_NAME);
        std::fs::write(
            &p,
            "service_type = \"x\"\ncomponent = \"x.wasm\"\nflavour = 1\n",
        )
        .expect("write");
        assert!(Manifest::read(&p).unwrap_err().contains("flavour"));
        std::fs::write(&p, "service_type = \"x\"\ncomponent = \"../x.wasm\"\n").expect("write");
        assert!(Manifest::read(&p).unwrap_err().contains("inside"));
        std::fs::write(
            &p,
            "service_type = \"x\"\ncomponent = \"x.wasm\"\n[permissions]\nfiles = true\n",
        )
        .expect("write");
        let m = Manifest::read(&p).expect("valid");
        assert!(m.permissions.files);
    }
}
