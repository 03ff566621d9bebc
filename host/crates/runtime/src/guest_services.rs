//! The host side of the `log` and `state` imports.

use super::bindings::since_v0_1::inlet::connector::{log, state, types};
use super::host_state::HostState;
use super::plugin_state::SetError;
use inlet_policy::guest_output::Level;

impl types::Host for HostState {}

impl log::Host for HostState {
    fn log(&mut self, level: log::Level, message: String) {
        let level = match level {
            log::Level::Trace => Level::Trace,
            log::Level::Debug => Level::Debug,
            log::Level::Info => Level::Info,
            log::Level::Warn => Level::Warn,
            log::Level::Error => Level::Error,
        };
        self.log.line(level, &message);
    }
}

fn state_error(kind: types::ErrorKind, message: String) -> types::ConnectorError {
    types::ConnectorError { kind, message }
}

impl state::Host for HostState {
    fn get(&mut self, key: String) -> Option<String> {
        let state = self.state.as_ref()?;
        match state.get(&key) {
            Ok(v) => v,
            Err(e) => {
                self.log
                    .host_event(Level::Error, &format!("plugin state read failed: {e}"));
                None
            }
        }
    }

    fn set(&mut self, key: String, value: String) -> Result<(), types::ConnectorError> {
        let Some(state) = self.state.as_mut() else {
            return Err(state_error(
                types::ErrorKind::Internal,
                "no state store in this context (plugin inspection)".into(),
            ));
        };
        state.set(&key, &value).map_err(|e| {
            // Over the quota is for the operator to raise; the rest is the plugin's own doing
            // or the host's disk.
            let kind = match e {
                SetError::TooManyKeys { .. } | SetError::TooManyBytes { .. } => {
                    types::ErrorKind::Config
                }
                _ => types::ErrorKind::Internal,
            };
            // Under the instance's log budget: a plugin that keeps trying cannot flood the log.
            self.log
                .host_event(Level::Warn, &format!("state.set refused: {e}"));
            state_error(kind, e.to_string())
        })
    }

    fn delete(&mut self, key: String) {
        if let Some(state) = self.state.as_mut()
            && let Err(e) = state.delete(&key)
        {
            self.log
                .host_event(Level::Error, &format!("plugin state delete failed: {e}"));
        }
    }
}
