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
//!
//! [credentials.graph]             # a secret from the configuration form, held by the host
//! type = "oauth2_client_credentials"
//! token_url = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"
//! client_id = "{client_id}"
//! client_secret = "{secret_value}"
//! hosts = ["https://graph.microsoft.com"]
//! ```
//!
//! `[credentials]` tables are checked when the manifest is read ([`credentials`] has the
//! rules); a manifest that breaks one is refused with its key path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub mod credentials;

use credentials::Declaration;

/// The manifest's name in a plugin's folder; a folder without one is not a plugin.
pub const FILE_NAME: &str = "plugin.toml";

/// A parsed and checked `plugin.toml`. Unknown keys are refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The connector type this plugin serves; config.yml's `service_type` picks it. Not empty.
    pub service_type: String,
    /// Display name; accepted, not shown yet (`inlet plugins inspect` shows the name the
    /// component itself reports).
    pub name: Option<String>,
    /// Free-form version, shown by `inlet plugins list`.
    pub version: Option<String>,
    /// Free text; accepted, not shown anywhere yet.
    pub description: Option<String>,
    /// The component, relative to the manifest.
    pub component: PathBuf,
    /// `[permissions]`: what the plugin asks for (default: nothing).
    #[serde(default)]
    pub permissions: Permissions,
    /// Credentials the host forms from the connector's configuration values and injects
    /// (`[credentials.<name>]`, config.yml's credential shape with `{field_key}` placeholders).
    #[serde(default)]
    pub credentials: BTreeMap<String, Declaration>,
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
    /// Reads and checks the manifest at `path`: a non-empty `service_type`, a `component` inside
    /// the plugin's folder, and valid `[credentials]` tables. The error is a sentence without
    /// the path (the caller names the file).
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
        credentials::validate(&manifest.credentials)
            .map_err(|(key, message)| format!("`{key}`: {message}"))?;
        Ok(manifest)
    }

    /// The form credentials, for `inlet plugins inspect`: per name, the type, the fields that
    /// make the secret, and every origin it goes to (each needs `grants.http`).
    pub fn credentials_summary(&self) -> serde_json::Value {
        self.credentials
            .iter()
            .map(|(name, d)| {
                let mut origins = d.hosts.clone();
                origins.extend(d.token_origin());
                (
                    name.clone(),
                    serde_json::json!({
                        "type": d.kind.name(),
                        "secret_from": d.secret_fields(name),
                        "sent_to": origins,
                    }),
                )
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
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
        assert!(m.credentials.is_empty());
    }

    #[test]
    fn form_credentials_are_checked_when_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join(FILE_NAME);
        let base = "service_type = \"x\"\ncomponent = \"x.wasm\"\n";
        std::fs::write(
            &p,
            format!(
                "{base}[credentials.api]\ntype = \"bearer\"\ntoken = \"{{api_token}}\"\nhosts = [\"https://api.example.com\"]\n"
            ),
        )
        .expect("write");
        let m = Manifest::read(&p).expect("valid");
        assert_eq!(m.credentials["api"].secret_fields("api"), vec!["api_token"]);
        assert_eq!(
            m.credentials_summary()["api"]["sent_to"],
            serde_json::json!(["https://api.example.com"])
        );
        std::fs::write(
            &p,
            format!(
                "{base}[credentials.api]\ntype = \"bearer\"\ntoken = \"{{api_token}}\"\nhosts = [\"https://api.{{tenant}}.example.com\"]\n"
            ),
        )
        .expect("write");
        let err = Manifest::read(&p).unwrap_err();
        assert!(err.contains("credentials.api.hosts[0]"), "{err}");
        assert!(err.contains("whole leftmost label"), "{err}");
    }
}
