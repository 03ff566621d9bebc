//! A null `_bulk` server for throughput benchmarks: every bulk request gets a correct all-success answer
//! (one item per action, in order) as fast as possible.
//!
//! `cargo run --release -p inlet-indexer --example null_bulk_server -- 127.0.0.1:9200`

use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9200".to_owned());
    let (local, stats) = inlet_indexer::testing::null::start(&addr).await?;
    println!("null _bulk server listening on http://{local}");
    let mut last = 0;
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let actions = stats.actions.load(Ordering::Relaxed);
        if actions != last {
            println!(
                "{} requests, {} actions, {} MiB received",
                stats.requests.load(Ordering::Relaxed),
                actions,
                stats.bytes.load(Ordering::Relaxed) >> 20
            );
            last = actions;
        }
    }
}
