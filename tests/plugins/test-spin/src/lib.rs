//! Loops forever in its first batch: the host must stop it at the call deadline.
use inlet_sdk::{
    ConfigField, Connector, DocStream, Document, Metadata, Result, SyncRequest, field,
};

struct Spin;

struct Forever;

impl DocStream for Forever {
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>> {
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
}

impl Connector for Spin {
    fn metadata() -> Metadata {
        Metadata::new("spin", "spin", "0.0.0")
    }
    fn configuration() -> Vec<ConfigField> {
        vec![field("unused", "Unused").optional()]
    }
    fn full_sync(_: SyncRequest) -> Result<Box<dyn DocStream>> {
        Ok(Box::new(Forever))
    }
}

inlet_sdk::export!(Spin);
