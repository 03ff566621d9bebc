//! Short calls into a connector's plugin outside a sync: what Kibana's protocol needs to write
//! the configuration form, report the connector's status and validate sync rules. Each call gets
//! a fresh instance with the connector's grants, like a sync.

use std::sync::Arc;

use super::Service;
use crate::sync::{self, configuration};
use inlet_policy::config::Connector;
use inlet_runtime::{PluginInstance, types};

impl Service {
    async fn instance_for(&self, connector: &Connector) -> Result<PluginInstance, String> {
        let plugin = self.plugin_for(connector)?;
        let limits = connector.limits.within(&self.env.caps);
        sync::instantiate(
            &self.env,
            connector,
            &plugin,
            &limits,
            Arc::default(),
            false,
        )
        .await
        .map_err(|e| e.to_string())
    }

    /// The plugin's metadata and configuration schema, from a fresh instance. The error says
    /// why there is no plugin, or why the instance or a call failed.
    pub async fn describe(
        &self,
        connector: &Connector,
    ) -> Result<(types::Metadata, Vec<types::ConfigField>), String> {
        let mut instance = self.instance_for(connector).await?;
        let metadata = instance.metadata().await.map_err(|e| e.to_string())?;
        let schema = instance
            .configuration_schema()
            .await
            .map_err(|e| e.to_string())?;
        Ok((metadata, schema))
    }

    /// A fresh instance and the connector's values, checked against the plugin's schema.
    async fn instance_with_values(
        &self,
        connector: &Connector,
    ) -> Result<(PluginInstance, Vec<types::ConfigValue>), String> {
        let mut instance = self.instance_for(connector).await?;
        let schema = instance
            .configuration_schema()
            .await
            .map_err(|e| e.to_string())?;
        let plugin = self.plugin_for(connector)?;
        let handover = configuration::Handover::new(connector, plugin.manifest.as_ref());
        let (values, _) = configuration::resolve(&schema, &connector.configuration, &handover)
            .map_err(|e| e.to_string())?;
        Ok((instance, values))
    }

    /// Checks the connector's configuration against the schema, then with the plugin's
    /// `validate-config` and `ping`. The error is the message Kibana shows.
    pub async fn check(&self, connector: &Connector) -> Result<(), String> {
        let (mut instance, values) = self.instance_with_values(connector).await?;
        instance
            .validate_config(&values)
            .await
            .map_err(|e| e.to_string())?;
        instance.ping(&values).await.map_err(|e| e.to_string())
    }

    /// Has the plugin validate advanced sync rules (JSON).
    pub async fn validate_advanced_rules(
        &self,
        connector: &Connector,
        rules: &serde_json::Value,
    ) -> Result<types::RulesValidation, String> {
        let (mut instance, values) = self.instance_with_values(connector).await?;
        instance
            .validate_advanced_rules(&values, &rules.to_string())
            .await
            .map_err(|e| e.to_string())
    }
}
