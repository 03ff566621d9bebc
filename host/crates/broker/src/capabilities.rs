//! The capability granter: what a connector's plugin may reach — directories, HTTP origins and
//! credentials, databases — is what its manifest asks for AND what the operator granted,
//! resolved here in one place for every kind (as Zed's extension host resolves an extension's
//! capabilities once), with one way of naming the key to change and one warning for a grant the
//! plugin does not ask for. Every instance is built from a [`Capabilities`]: the sync, the
//! checks of `inlet config check`, Kibana's configuration checks, so a grant that cannot be
//! honoured (an unknown credential, a bad origin, an unreadable CA file) fails before the
//! plugin runs.

use std::path::PathBuf;
use std::sync::Arc;

use crate::sql::{ConnectorSql, Databases};
use crate::{Broker, ConnectorNetwork};
use inlet_policy::config::{Connector, ConnectorKey, warn_undeclared};
use inlet_policy::manifest::Manifest;

/// What one instance of a connector's plugin gets.
pub struct Capabilities {
    /// Directories mounted read-only at their own path.
    pub read_only_dirs: Vec<PathBuf>,
    /// Brokered HTTP: declared ∩ granted origins, the connector's credentials and limits.
    pub network: Arc<ConnectorNetwork>,
    /// Declared ∩ granted databases.
    pub databases: Arc<ConnectorSql>,
}

/// A grant that cannot be honoured; the message names the key to change.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GrantError(String);

/// Resolves `connector`'s capabilities from its plugin's `manifest` and its grants.
pub fn grant(
    broker: &Broker,
    databases: &Arc<Databases>,
    connector: &Connector,
    manifest: Option<&Manifest>,
) -> Result<Capabilities, GrantError> {
    let key = broker.connector_key(connector);
    Ok(Capabilities {
        read_only_dirs: files(connector, manifest, &key),
        network: broker
            .network_for(connector, manifest)
            .map_err(|e| GrantError(e.to_string()))?,
        databases: databases.for_connector(connector, manifest),
    })
}

/// Two-sided: a directory is mounted only if the plugin asks for files AND the operator
/// granted the directory.
fn files(connector: &Connector, manifest: Option<&Manifest>, key: &ConnectorKey) -> Vec<PathBuf> {
    if manifest.is_some_and(|m| m.permissions.files) {
        return connector.grants.files.clone();
    }
    if !connector.grants.files.is_empty() {
        warn_undeclared(
            connector,
            &key.at("grants.files"),
            "`files = true` in `[permissions]`",
            "nothing is mounted",
        );
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(id: &str) -> Connector {
        serde_yaml_ng::from_str(&format!(
            "{{connector_id: {id}, service_type: dir, grants: {{files: [/srv/docs]}}}}"
        ))
        .expect("connector")
    }

    fn manifest(files: bool) -> Manifest {
        toml::from_str(&format!(
            "service_type = \"dir\"\ncomponent = \"dir.wasm\"\n[permissions]\nfiles = {files}\n"
        ))
        .expect("manifest")
    }

    #[test]
    fn directories_need_the_manifest_and_the_grant() {
        let key = ConnectorKey::of(&[], &connector("c"));
        assert_eq!(
            files(&connector("c"), Some(&manifest(true)), &key),
            vec![PathBuf::from("/srv/docs")]
        );
        assert!(files(&connector("c"), Some(&manifest(false)), &key).is_empty());
        assert!(files(&connector("c"), None, &key).is_empty());
    }
}
