//! What the sync engine asks of a connector: [`Source`]. Production syncs run a
//! [`PluginInstance`]; the engine's own rules (counting, dead letters, stale deletion and the
//! cursor only after success, cancellation, limits) are unit-tested on a scripted in-memory
//! source (`sync::tests`), without compiling a component.

use wasmtime::component::ResourceAny;

use inlet_policy::budget::Usage;
use inlet_policy::job::JobType;
use inlet_runtime::{CallError, HeldBatch, PluginInstance, types};
use inlet_store::StoreError;

/// A connector as the sync engine drives it: the calls of the `source` interface, in order.
/// Not object-safe (async methods): the engine is generic over it.
pub(crate) trait Source {
    /// A running sync's handle.
    type Sync: Copy;

    async fn metadata(&mut self) -> Result<types::Metadata, CallError>;
    async fn configuration_schema(&mut self) -> Result<Vec<types::ConfigField>, CallError>;
    async fn validate_config(
        &mut self,
        configuration: &[types::ConfigValue],
    ) -> Result<(), CallError>;
    async fn validate_advanced_rules(
        &mut self,
        configuration: &[types::ConfigValue],
        rules: &str,
    ) -> Result<types::RulesValidation, CallError>;
    async fn start_sync(
        &mut self,
        kind: JobType,
        request: &types::SyncRequest,
    ) -> Result<Self::Sync, CallError>;
    /// The next batch, charged to the source's host budget; `None` when the sync is complete.
    async fn next_batch(&mut self, sync: Self::Sync) -> Result<Option<HeldBatch>, CallError>;
    async fn cursor(&mut self, sync: Self::Sync) -> Result<Option<String>, CallError>;
    async fn end_sync(&mut self, sync: Self::Sync) -> Result<(), CallError>;
    /// Commits the source's state written since the last accepted step.
    fn flush_state(&mut self) -> Result<(), StoreError>;
    /// Peak linear memory, bytes.
    fn peak_memory(&self) -> usize;
    /// High-water marks of what the host held for the source.
    fn host_peak(&self) -> Usage;
}

impl Source for PluginInstance {
    type Sync = ResourceAny;

    async fn metadata(&mut self) -> Result<types::Metadata, CallError> {
        PluginInstance::metadata(self).await
    }
    async fn configuration_schema(&mut self) -> Result<Vec<types::ConfigField>, CallError> {
        PluginInstance::configuration_schema(self).await
    }
    async fn validate_config(
        &mut self,
        configuration: &[types::ConfigValue],
    ) -> Result<(), CallError> {
        PluginInstance::validate_config(self, configuration).await
    }
    async fn validate_advanced_rules(
        &mut self,
        configuration: &[types::ConfigValue],
        rules: &str,
    ) -> Result<types::RulesValidation, CallError> {
        PluginInstance::validate_advanced_rules(self, configuration, rules).await
    }
    async fn start_sync(
        &mut self,
        kind: JobType,
        request: &types::SyncRequest,
    ) -> Result<ResourceAny, CallError> {
        PluginInstance::start_sync(self, kind, request).await
    }
    async fn next_batch(&mut self, sync: ResourceAny) -> Result<Option<HeldBatch>, CallError> {
        PluginInstance::next_batch(self, sync).await
    }
    async fn cursor(&mut self, sync: ResourceAny) -> Result<Option<String>, CallError> {
        PluginInstance::cursor(self, sync).await
    }
    async fn end_sync(&mut self, sync: ResourceAny) -> Result<(), CallError> {
        PluginInstance::end_sync(self, sync).await
    }
    fn flush_state(&mut self) -> Result<(), StoreError> {
        PluginInstance::flush_state(self)
    }
    fn peak_memory(&self) -> usize {
        PluginInstance::peak_memory(self)
    }
    fn host_peak(&self) -> Usage {
        PluginInstance::host_peak(self)
    }
}
