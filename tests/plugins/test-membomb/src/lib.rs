//! Allocates without bound: the host must trap it at its memory limit.
use inlet_sdk::{ConfigField, Connector, DocStream, Document, Metadata, Result, SyncRequest};

struct Bomb;

struct Grow(Vec<Vec<u8>>);

impl DocStream for Grow {
    fn next_batch(&mut self) -> Result<Option<Vec<Document>>> {
        loop {
            let mut chunk = vec![0u8; 16 << 20];
            // Touch the pages so nothing is optimised away.
            chunk[0] = 1;
            self.0.push(std::hint::black_box(chunk));
        }
    }
}

impl Connector for Bomb {
    fn metadata() -> Metadata {
        Metadata::new("membomb", "membomb", "0.0.0")
    }
    fn configuration() -> Vec<ConfigField> {
        vec![]
    }
    fn full_sync(_: SyncRequest) -> Result<Box<dyn DocStream>> {
        Ok(Box::new(Grow(Vec::new())))
    }
}

inlet_sdk::export!(Bomb);
