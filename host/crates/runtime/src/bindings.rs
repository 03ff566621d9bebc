//! Host-side bindings of the contract, one module per supported major version (Zed's model).
//!
//! Today there is one: `inlet:connector@0.1.x`. When 0.2 (or 1.0) ships, add `since_v0_2` here
//! with its own `bindgen!`, keep this one, and dispatch on the version a component exports.

/// Bindings for `inlet:connector@0.1.x`.
// Generated from wit/connector.wit: items carry the WIT's doc comments. A WIT item without one
// (a plain record field, `connector-error`) can only be documented in the WIT, not here.
#[allow(missing_docs)]
pub(crate) mod since_v0_1 {
    wasmtime::component::bindgen!({
        world: "connector",
        path: "../../../wit",
        exports: { default: async },
        // SQL calls wait on the database: async, so a query never blocks the executor's thread.
        imports: { "inlet:connector/sql": async },
        with: {
            "inlet:connector/sql.connection": crate::sql_resources::Connection,
            "inlet:connector/sql.row-stream": crate::sql_resources::Rows,
        },
    });

    /// The contract version these bindings were generated from.
    pub(crate) const VERSION: &str = "0.1.0";

    /// The optional `json-lines` export (world `connector-json-lines`): only its export side is
    /// used, looked up per plugin, so plugins without it keep loading through [`Connector`].
    pub(crate) mod json_lines {
        wasmtime::component::bindgen!({
            world: "connector-json-lines",
            path: "../../../wit",
            exports: { default: async },
            with: {
                "inlet:connector/types": super::inlet::connector::types,
                "inlet:connector/log": super::inlet::connector::log,
                "inlet:connector/state": super::inlet::connector::state,
                "inlet:connector/sql": super::inlet::connector::sql,
            },
        });

        pub(crate) use exports::inlet::connector::json_lines::{Batch, Guest, GuestIndices};
    }
}

/// The contract's `inlet:connector/types`: the records and enums plugins and the host exchange
/// (documents, configuration fields, errors), generated from wit/connector.wit.
pub use since_v0_1::inlet::connector::types;
