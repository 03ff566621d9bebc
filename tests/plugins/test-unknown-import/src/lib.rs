//! Imports an interface no Inlet host provides: loading must fail and name it.
use inlet_sdk::{ConfigField, Connector, DocStream, Metadata, Result, SyncRequest};

mod teleport {
    wit_bindgen::generate!({
        inline: "
            package test:teleport;
            interface beam { up: func(); }
            world plugin { import beam; }
        ",
        world: "plugin",
    });
}

struct Unknown;

impl Connector for Unknown {
    fn metadata() -> Metadata {
        Metadata::new("unknown_import", "unknown import", "0.0.0")
    }
    fn configuration() -> Vec<ConfigField> {
        vec![]
    }
    fn ping(_: &inlet_sdk::Config) -> Result<()> {
        teleport::test::teleport::beam::up();
        Ok(())
    }
    fn full_sync(_: SyncRequest) -> Result<Box<dyn DocStream>> {
        Ok(inlet_sdk::batches(std::iter::empty(), 1))
    }
}

inlet_sdk::export!(Unknown);
