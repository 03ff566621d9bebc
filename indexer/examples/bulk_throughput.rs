//! Pushes N documents of about 1 KiB through the indexer to a `_bulk` endpoint and prints docs/s.
//!
//! `cargo run --release -p inlet-indexer --example bulk_throughput -- http://127.0.0.1:9200 [docs] [--gzip] [--syncs K]`
//! With `inproc` as the URL, a null server is started inside this process.

use std::time::Instant;

use inlet_indexer::{Action, Indexer, IndexerConfig, SyncOutcome, SyncTarget};

const CHUNK: usize = 1000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut url = args
        .first()
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:9200".into());
    let docs: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let gzip = args.iter().any(|a| a == "--gzip");
    let syncs: usize = args
        .iter()
        .position(|a| a == "--syncs")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    if url == "inproc" {
        let (addr, _) = inlet_indexer::testing::null::start("127.0.0.1:0").await?;
        url = format!("http://{addr}");
    }
    let dir = tempfile::tempdir()?;
    let cfg = IndexerConfig {
        hosts: vec![url.clone()],
        gzip,
        dead_letter_dir: dir.path().to_owned(),
        ..IndexerConfig::default()
    };
    let indexer = Indexer::connect(cfg).await?;

    // A realistic 1 KiB document: a few short fields and a long text body.
    let filler = "lorem ipsum dolor sit amet consectetur adipiscing elit ".repeat(17);
    let template_tail = format!(
        r#","title":"Quarterly report","author":"jdoe","tags":["finance","q3"],"size":12345,"body":"{filler}"}}"#
    );
    let doc_len = template_tail.len() + 20;

    let start = Instant::now();
    let mut tasks = Vec::new();
    for s in 0..syncs {
        let writer = indexer
            .begin_sync(SyncTarget {
                connector_id: format!("bench-{s}"),
                sync_id: format!("sync-{s}"),
                index: format!("bench-{s}"),
                ..SyncTarget::default()
            })
            .await?;
        let tail = template_tail.clone();
        let share = docs / syncs + usize::from(s < docs % syncs);
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while i < share {
                let n = CHUNK.min(share - i);
                let mut chunk = Vec::with_capacity(n);
                for k in i..i + n {
                    let mut src = String::with_capacity(doc_len);
                    src.push_str(r#"{"n":"#);
                    src.push_str(&k.to_string());
                    src.push_str(&tail);
                    chunk.push(Action::index(format!("{s}-{k}"), src));
                }
                writer.send_batch(chunk).await?;
                i += n;
            }
            writer
                .finish(SyncOutcome::Succeeded)
                .await
                .map_err(|e| e.error)
        }));
    }
    let mut indexed = 0;
    for t in tasks {
        let stats = t.await??;
        indexed += stats.indexed;
        assert_eq!(
            stats.indexed, stats.emitted,
            "every document must be acknowledged"
        );
    }
    let secs = start.elapsed().as_secs_f64();
    let total = indexer.stats();
    indexer.shutdown().await?;
    println!(
        "{indexed} docs of ~{doc_len} B in {secs:.2} s: {:.0} docs/s, {:.1} MiB/s of NDJSON (gzip: {gzip}, syncs: {syncs}, url: {url})",
        indexed as f64 / secs,
        total.bytes as f64 / secs / 1048576.0
    );
    Ok(())
}
