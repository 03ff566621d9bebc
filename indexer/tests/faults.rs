//! The indexer against a fault-injecting `_bulk` server. Each test checks real outcomes: the counters add up
//! exactly, the server saw every id, the dead-letter file holds exactly the ids the server refused for good
//! (with their original documents), and every other document is in the server's store.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use inlet_indexer::testing::{FakeCluster, Faults};
use inlet_indexer::{
    Action, ConflictPolicy, Indexer, IndexerConfig, Op, SyncOutcome, SyncStats, SyncTarget,
};
use serde_json::Value;

struct Setup {
    cluster: FakeCluster,
    indexer: Indexer,
    dir: tempfile::TempDir,
}

async fn setup(faults: Faults, tweak: impl FnOnce(&mut IndexerConfig)) -> Setup {
    let cluster = FakeCluster::start(faults).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = IndexerConfig {
        hosts: vec![cluster.url()],
        max_batch_docs: 50,
        max_batch_bytes: 64 * 1024,
        flush_interval: Duration::from_millis(20),
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(20),
        max_retries: 6,
        request_timeout: Duration::from_secs(5),
        dead_letter_dir: dir.path().to_owned(),
        ..IndexerConfig::default()
    };
    tweak(&mut cfg);
    let indexer = Indexer::connect(cfg).await.unwrap();
    Setup {
        cluster,
        indexer,
        dir,
    }
}

fn target(index: &str, sync_id: &str, full: bool) -> SyncTarget {
    SyncTarget {
        connector_id: "conn-1".into(),
        sync_id: sync_id.into(),
        index: index.into(),
        stale_deletion: full,
        ..SyncTarget::default()
    }
}

fn doc(i: usize, poison: bool) -> String {
    let extra = if poison { r#","poison":true"# } else { "" };
    format!(
        r#"{{"n":{i},"title":"document {i}","body":"{}"{extra}}}"#,
        "x".repeat(100 + i % 50)
    )
}

fn docs(range: std::ops::Range<usize>, poison: impl Fn(usize) -> bool) -> Vec<Action> {
    range
        .map(|i| Action::index(format!("doc-{i}"), doc(i, poison(i))))
        .collect()
}

async fn sync(s: &Setup, t: SyncTarget, actions: &[Action], outcome: SyncOutcome) -> SyncStats {
    let w = s.indexer.begin_sync(t).await.unwrap();
    for chunk in actions.chunks(37) {
        w.send_batch(chunk.to_vec()).await.unwrap();
    }
    w.finish(outcome).await.unwrap()
}

fn dead_letters(s: &Setup, index: &str) -> Vec<Value> {
    let path = s.dir.path().join(format!("dead-letter-{index}.ndjson"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn without(doc: &str, field: &str) -> Value {
    let mut v: Value = serde_json::from_str(doc).unwrap();
    v.as_object_mut().unwrap().remove(field);
    v
}

/// The checks every fault test makes.
fn check_accounting(s: &Setup, index: &str, sent: &[Action], stats: &SyncStats) -> HashSet<String> {
    assert_eq!(stats.emitted, sent.len() as u64, "{stats:?}");
    assert_eq!(
        stats.indexed + stats.deleted + stats.dead_lettered,
        stats.emitted,
        "{stats:?}"
    );
    assert_eq!(stats.failed, 0, "{stats:?}");
    assert_eq!(stats.indexed, stats.created + stats.updated, "{stats:?}");

    let seen = s.cluster.seen_ids(index);
    for a in sent {
        assert!(seen.contains(&a.id), "the server never received {}", a.id);
    }
    let dead = dead_letters(s, index);
    assert_eq!(
        dead.len() as u64,
        stats.dead_lettered,
        "one dead-letter line per dead action"
    );
    let dead_ids: HashSet<String> = dead
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        dead_ids.len(),
        dead.len(),
        "an action is dead-lettered once (ids are unique in these tests)"
    );
    assert_eq!(
        dead_ids,
        s.cluster.refused_ids(index),
        "dead-lettered = refused for good by the server"
    );

    let by_id: HashMap<&str, &Action> = sent.iter().map(|a| (a.id.as_str(), a)).collect();
    for d in &dead {
        let a = by_id[d["id"].as_str().unwrap()];
        assert_eq!(d["index"], index);
        assert_eq!(d["connector_id"], "conn-1");
        assert!(d["error"]["type"].is_string() && d["time"].is_string());
        if let Some(src) = &a.source {
            assert_eq!(
                d["document"],
                serde_json::from_str::<Value>(src).unwrap(),
                "document kept unmodified"
            );
        }
    }
    let stored = s.cluster.docs(index);
    for a in sent
        .iter()
        .filter(|a| a.op == Op::Index && !dead_ids.contains(&a.id))
    {
        let got = stored
            .get(&a.id)
            .unwrap_or_else(|| panic!("{} acknowledged but not stored", a.id));
        assert_eq!(
            without(got, "_inlet_sync_id"),
            without(a.source.as_ref().unwrap(), "_inlet_sync_id")
        );
    }
    dead_ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_counts_created_updated_and_deleted_not_found() {
    let s = setup(Faults::default(), |_| {}).await;
    let mut sent = docs(0..500, |_| false);
    sent.push(Action::delete("never-existed"));
    let stats = sync(
        &s,
        target("idx", "s1", false),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    check_accounting(&s, "idx", &sent, &stats);
    assert_eq!(
        (
            stats.created,
            stats.updated,
            stats.deleted,
            stats.dead_lettered
        ),
        (500, 0, 1, 0)
    );
    assert_eq!(stats.retried, 0);
    assert!(stats.bytes > 500 * 100);

    // Second sync: updates and a real delete.
    let mut sent = docs(0..100, |_| false);
    sent.push(Action::delete("doc-150"));
    let stats = sync(
        &s,
        target("idx", "s2", false),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    assert_eq!((stats.created, stats.updated, stats.deleted), (0, 100, 1));
    assert!(!s.cluster.docs("idx").contains_key("doc-150"));
    // Per-index totals span both syncs.
    let per_index = s.indexer.stats_by_index();
    assert_eq!(per_index["idx"].emitted, 602);
    assert_eq!(per_index["idx"].deleted, 2);
    // Responses were shrunk with filter_path.
    let bulk = s
        .cluster
        .requests()
        .into_iter()
        .find(|r| r.path == "/idx/_bulk")
        .unwrap();
    assert!(bulk.query.contains("filter_path="), "{}", bulk.query);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_request_429_storm_is_retried_and_reduces_concurrency() {
    let faults = Faults {
        request_429_first: 15,
        ..Faults::default()
    };
    // Enough retries that no batch can run out during the storm, whichever batches it hits.
    let s = setup(faults, |c| c.max_retries = 20).await;
    let sent = docs(0..600, |_| false);
    let w = s
        .indexer
        .begin_sync(target("storm", "s1", false))
        .await
        .unwrap();
    w.send_batch(sent.clone()).await.unwrap();
    // While the storm lasts the limiter halves the in-flight limit (4 → 2 → 1).
    let mut lowest = usize::MAX;
    for _ in 0..200 {
        lowest = lowest.min(s.indexer.in_flight_limit());
        if s.cluster.bulk_requests() > 15 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let stats = w.finish(SyncOutcome::Succeeded).await.unwrap();
    check_accounting(&s, "storm", &sent, &stats);
    assert_eq!(stats.dead_lettered, 0);
    assert!(stats.retried >= 15 * 50, "{stats:?}");
    assert!(
        lowest < 4,
        "the in-flight limit never went down during the 429 storm"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_item_429_resends_only_the_rejected_items() {
    let faults = Faults {
        item_429_percent: 30,
        item_429_attempts: 2,
        ..Faults::default()
    };
    let s = setup(faults, |_| {}).await;
    let sent = docs(0..1000, |_| false);
    let stats = sync(
        &s,
        target("items", "s1", false),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    check_accounting(&s, "items", &sent, &stats);
    assert_eq!(stats.dead_lettered, 0);
    let throttled: Vec<_> = sent
        .iter()
        .filter(|a| s.cluster.attempts("items", &a.id) > 1)
        .collect();
    // Roughly 30% were throttled twice; the others were sent exactly once.
    assert!((200..400).contains(&throttled.len()), "{}", throttled.len());
    for a in &throttled {
        assert_eq!(s.cluster.attempts("items", &a.id), 3);
    }
    assert_eq!(stats.retried, 2 * throttled.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_request_503_is_retried() {
    let s = setup(
        Faults {
            request_503_every: 3,
            ..Faults::default()
        },
        |_| {},
    )
    .await;
    let sent = docs(0..800, |_| false);
    let stats = sync(
        &s,
        target("unavail", "s1", false),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    check_accounting(&s, "unavail", &sent, &stats);
    assert_eq!(stats.dead_lettered, 0);
    assert!(stats.retried > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_split_and_a_lone_oversized_document_is_dead_lettered() {
    let s = setup(
        Faults {
            max_body_bytes: 6000,
            ..Faults::default()
        },
        |_| {},
    )
    .await;
    let mut sent = docs(0..400, |_| false);
    let huge = format!(r#"{{"n":-1,"body":"{}"}}"#, "y".repeat(8000));
    sent.insert(123, Action::index("huge", huge));
    let stats = sync(
        &s,
        target("big", "s1", false),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    let dead = check_accounting(&s, "big", &sent, &stats);
    assert_eq!(dead, HashSet::from(["huge".to_owned()]));
    assert_eq!(dead_letters(&s, "big")[0]["status"], 413);
    assert_eq!(stats.indexed, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_reset_mid_response_is_retried() {
    let s = setup(
        Faults {
            reset_every: 4,
            ..Faults::default()
        },
        |_| {},
    )
    .await;
    let sent = docs(0..800, |_| false);
    let stats = sync(
        &s,
        target("reset", "s1", false),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    check_accounting(&s, "reset", &sent, &stats);
    assert_eq!(stats.dead_lettered, 0);
    assert!(stats.retried > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_responses_time_out_and_are_retried() {
    let faults = Faults {
        slow_first: 3,
        slow_delay: Duration::from_millis(800),
        ..Faults::default()
    };
    let s = setup(faults, |c| c.request_timeout = Duration::from_millis(300)).await;
    let sent = docs(0..300, |_| false);
    let stats = sync(
        &s,
        target("slow", "s1", false),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    check_accounting(&s, "slow", &sent, &stats);
    assert_eq!(stats.dead_lettered, 0);
    assert!(stats.retried >= 3 * 50, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_errors_are_dead_lettered_once_with_the_unstamped_document() {
    let faults = Faults {
        poison_field: Some("poison".into()),
        ..Faults::default()
    };
    let s = setup(faults, |_| {}).await;
    let sent = docs(0..500, |i| i % 37 == 5);
    // A full sync, so documents are stamped on the wire: the dead letter must hold the original.
    let stats = sync(
        &s,
        target("mapping", "s1", true),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    let dead = check_accounting(&s, "mapping", &sent, &stats);
    let expected: HashSet<String> = (0..500)
        .filter(|i| i % 37 == 5)
        .map(|i| format!("doc-{i}"))
        .collect();
    assert_eq!(dead, expected);
    assert_eq!(stats.retried, 0, "mapping errors are never retried");
    for a in sent.iter().filter(|a| expected.contains(&a.id)) {
        assert_eq!(s.cluster.attempts("mapping", &a.id), 1);
    }
    let d = &dead_letters(&s, "mapping")[0];
    assert_eq!(d["status"], 400);
    assert_eq!(d["error"]["type"], "document_parsing_exception");
    assert!(
        d["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("caused by illegal_argument_exception")
    );
    assert!(d["document"].get("_inlet_sync_id").is_none());
    assert_eq!(d["sync_id"], "s1");
    assert_eq!(d["op"], "index");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_count_mismatch_retries_the_request() {
    let s = setup(
        Faults {
            mismatch_every: 3,
            ..Faults::default()
        },
        |_| {},
    )
    .await;
    let sent = docs(0..600, |_| false);
    let stats = sync(
        &s,
        target("mismatch", "s1", false),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    check_accounting(&s, "mismatch", &sent, &stats);
    assert_eq!(stats.dead_lettered, 0);
    assert!(stats.retried > 0);
    // A retried request re-indexes what the lost answer had done: those count as updated, not lost.
    assert_eq!(stats.indexed, 600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_per_item_5xx_is_dead_lettered_after_max_retries() {
    let bad: HashSet<String> = ["doc-3", "doc-77", "doc-250"].map(String::from).into();
    let s = setup(
        Faults {
            item_503_ids: bad.clone(),
            ..Faults::default()
        },
        |c| c.max_retries = 4,
    )
    .await;
    let sent = docs(0..300, |_| false);
    let stats = sync(
        &s,
        target("shard", "s1", false),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    let dead = check_accounting(&s, "shard", &sent, &stats);
    assert_eq!(dead, bad);
    assert_eq!(stats.retried, 3 * 4);
    for id in &bad {
        assert_eq!(s.cluster.attempts("shard", id), 5, "1 try + max_retries");
    }
    assert_eq!(dead_letters(&s, "shard")[0]["status"], 503);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_follow_the_policy() {
    let conflicts: HashSet<String> = ["doc-1", "doc-2"].map(String::from).into();
    let faults = Faults {
        conflict_ids: conflicts.clone(),
        ..Faults::default()
    };
    let s = setup(faults.clone(), |_| {}).await;
    let sent = docs(0..100, |_| false);
    let stats = sync(
        &s,
        target("conflict", "s1", false),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    assert_eq!(check_accounting(&s, "conflict", &sent, &stats), conflicts);
    assert_eq!(dead_letters(&s, "conflict")[0]["status"], 409);

    let s = setup(faults, |c| c.on_conflict = ConflictPolicy::Ignore).await;
    let stats = sync(
        &s,
        target("conflict", "s1", false),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    assert_eq!(stats.indexed, 100);
    assert_eq!(stats.dead_lettered, 0);
    assert!(dead_letters(&s, "conflict").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_at_once_with_gzip() {
    let faults = Faults {
        request_429_first: 3,
        request_503_every: 7,
        reset_every: 11,
        mismatch_every: 13,
        max_body_bytes: 20_000,
        item_429_percent: 20,
        item_429_attempts: 1,
        item_503_ids: ["doc-42".to_owned()].into(),
        poison_field: Some("poison".into()),
        conflict_ids: ["doc-99".to_owned()].into(),
        ..Faults::default()
    };
    let s = setup(faults, |c| {
        c.gzip = true;
        c.max_retries = 8;
    })
    .await;
    // Deletes target ids this sync does not index: actions of one sync on the same id may be reordered by retries.
    s.cluster.seed(
        "chaos",
        (0..50).map(|i| (format!("old-{i}"), doc(i, false))),
    );
    let mut sent = docs(0..2000, |i| i % 101 == 7);
    sent.extend((0..50).map(|i| Action::delete(format!("old-{i}"))));
    sent.push(Action::delete("ghost"));
    let stats = sync(
        &s,
        target("chaos", "s1", true),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    let dead = check_accounting(&s, "chaos", &sent, &stats);
    let mut expected: HashSet<String> = (0..2000)
        .filter(|i| i % 101 == 7)
        .map(|i| format!("doc-{i}"))
        .collect();
    expected.extend(["doc-42".to_owned(), "doc-99".to_owned()]);
    assert_eq!(dead, expected);
    assert!(
        s.cluster
            .requests()
            .iter()
            .filter(|r| r.path.ends_with("/_bulk"))
            .all(|r| r.content_encoding.as_deref() == Some("gzip"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_deletion_runs_only_after_a_successful_full_sync() {
    let s = setup(
        Faults {
            poison_field: Some("poison".into()),
            ..Faults::default()
        },
        |_| {},
    )
    .await;
    // An earlier run left doc-0..doc-99 (no stamp).
    s.cluster.seed(
        "stale",
        (0..100).map(|i| (format!("doc-{i}"), doc(i, false))),
    );

    // A failed full sync writes doc-50..149 but must delete nothing.
    let sent = docs(50..150, |_| false);
    let stats = sync(
        &s,
        target("stale", "failed-sync", true),
        &sent,
        SyncOutcome::Failed,
    )
    .await;
    check_accounting(&s, "stale", &sent, &stats);
    assert_eq!(stats.stale_deleted, 0);
    assert!(s.cluster.delete_by_query_calls().is_empty());
    assert_eq!(s.cluster.docs("stale").len(), 150);

    // A successful one with doc-60..159, where doc-70 fails mapping: stale ones go, doc-70's old copy stays.
    let sent = docs(60..160, |i| i == 70);
    let stats = sync(
        &s,
        target("stale", "good-sync", true),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    check_accounting(&s, "stale", &sent, &stats);
    assert_eq!(stats.stale_deleted, 60, "doc-0..59 deleted");
    let calls = s.cluster.delete_by_query_calls();
    assert_eq!(calls.len(), 1);
    let left: Vec<String> = s.cluster.docs("stale").into_keys().collect();
    assert_eq!(left.len(), 100);
    assert!(left.contains(&"doc-70".to_owned()));
    let q = s
        .cluster
        .requests()
        .into_iter()
        .find(|r| r.path == "/stale/_delete_by_query")
        .unwrap();
    for p in [
        "conflicts=proceed",
        "refresh=true",
        "wait_for_completion=true",
    ] {
        assert!(q.query.contains(p), "{}", q.query);
    }
    // Every stored document written by the good sync carries its stamp.
    let stored = s.cluster.docs("stale");
    let stamped: Value = serde_json::from_str(&stored["doc-100"]).unwrap();
    assert_eq!(stamped["_inlet_sync_id"], "good-sync");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_index_is_created_with_settings_mappings_and_a_keyword_stale_field() {
    let s = setup(Faults::default(), |_| {}).await;
    let mut t = target("fresh", "s1", true);
    t.index_settings = Some(serde_json::json!({"number_of_shards": 1}));
    t.index_mappings = Some(serde_json::json!({"properties": {"title": {"type": "text"}}}));
    t.pipeline = Some("my pipeline".into());
    let sent = docs(0..10, |_| false);
    sync(&s, t, &sent, SyncOutcome::Succeeded).await;
    let body = s.cluster.creation_body("fresh").unwrap();
    assert_eq!(body["settings"]["number_of_shards"], 1);
    assert_eq!(body["mappings"]["properties"]["title"]["type"], "text");
    assert_eq!(
        body["mappings"]["properties"]["_inlet_sync_id"]["type"],
        "keyword"
    );
    let bulk = s
        .cluster
        .requests()
        .into_iter()
        .find(|r| r.path == "/fresh/_bulk")
        .unwrap();
    assert!(
        bulk.query.contains("pipeline=my+pipeline"),
        "{}",
        bulk.query
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connectors_api_key_replaces_the_global_credentials_for_its_index() {
    let global = "ApiKey Z2xvYmFsOmtleQ==".to_owned(); // global:key
    let connector = "ApiKey Y29ubjpzZWNyZXQ=".to_owned(); // conn:secret
    let faults = Faults {
        required_auth: Some(global.clone()),
        index_auth: HashMap::from([("private".to_owned(), connector.clone())]),
        ..Faults::default()
    };
    let s = setup(faults, |c| {
        c.auth = inlet_indexer::Auth::ApiKey("global:key".into())
    })
    .await;
    let mut t = target("private", "s1", true);
    t.api_key = Some("conn:secret".into());
    let sent = docs(0..200, |_| false);
    let stats = sync(&s, t, &sent, SyncOutcome::Succeeded).await;
    check_accounting(&s, "private", &sent, &stats);
    assert_eq!(stats.dead_lettered, 0);
    let reqs = s.cluster.requests();
    assert!(
        reqs.iter()
            .filter(|r| r.path.starts_with("/private"))
            .all(|r| r.authorization.as_deref() == Some(connector.as_str()))
    );
    assert!(reqs.iter().any(|r| r.path == "/private/_bulk"));
    assert!(reqs.iter().any(|r| r.path == "/private/_delete_by_query"));
    // Other indices keep the global key.
    let other = docs(0..5, |_| false);
    sync(
        &s,
        target("shared", "s2", false),
        &other,
        SyncOutcome::Succeeded,
    )
    .await;
    let reqs = s.cluster.requests();
    assert!(
        reqs.iter()
            .filter(|r| r.path.starts_with("/shared"))
            .all(|r| r.authorization.as_deref() == Some(global.as_str()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_per_connector_key_dead_letters_with_the_status_and_says_so() {
    let faults = Faults {
        index_auth: HashMap::from([("locked".to_owned(), "ApiKey right".to_owned())]),
        ..Faults::default()
    };
    let s = setup(faults, |_| {}).await;
    let mut t = target("locked", "s1", false);
    t.api_key = Some("wrong".into());
    let err = s.indexer.begin_sync(t).await.err().unwrap().to_string();
    assert!(
        err.contains("refused our credentials") && err.contains("401"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_flushes_everything_in_flight() {
    let s = setup(
        Faults {
            item_429_percent: 10,
            item_429_attempts: 1,
            ..Faults::default()
        },
        |c| {
            c.flush_interval = Duration::from_secs(3600);
            c.max_batch_docs = 1000;
            c.max_batch_bytes = 8 << 20;
        },
    )
    .await;
    let sent = docs(0..1500, |_| false);
    let w = s
        .indexer
        .begin_sync(target("down", "s1", false))
        .await
        .unwrap();
    w.send_batch(sent.clone()).await.unwrap();
    // 500 documents sit in a partial batch that only the (one hour) flush interval would send.
    s.indexer.clone().shutdown().await.unwrap();
    assert_eq!(s.cluster.docs("down").len(), 1500);
    assert!(matches!(
        w.send(Action::delete("late")).await,
        Err(inlet_indexer::IndexerError::Closed)
    ));
    let stats = w.finish(SyncOutcome::Succeeded).await.unwrap();
    check_accounting(&s, "down", &sent, &stats);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_syncs_requests_stay_within_max_batch_bytes_stamp_included() {
    // A full sync writes its stamp into every document: counted, each body stays within
    // `max_batch_bytes` (and so within the buffer it grew to, instead of doubling past it).
    let max = 64 * 1024;
    let s = setup(Faults::default(), |c| {
        c.max_batch_docs = 10_000;
        c.max_batch_bytes = max;
        c.flush_interval = Duration::from_secs(3600);
    })
    .await;
    let sent = docs(0..3000, |_| false);
    let stats = sync(
        &s,
        target("stamped", "3f2c9a64-5b1e-4c8e-9d2f-7a6b5c4d3e2f", true),
        &sent,
        SyncOutcome::Succeeded,
    )
    .await;
    check_accounting(&s, "stamped", &sent, &stats);
    let bodies: Vec<usize> = s
        .cluster
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/_bulk"))
        .map(|r| r.body_bytes)
        .collect();
    assert!(bodies.len() >= 8, "{bodies:?}");
    assert!(bodies.iter().all(|&b| b <= max), "{bodies:?}");
    assert!(
        bodies.iter().filter(|&&b| b > max - 1024).count() >= bodies.len() - 1,
        "full requests, not many small ones: {bodies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_byte_budget_still_moves_everything_including_a_document_bigger_than_it() {
    let s = setup(Faults::default(), |c| {
        c.channel_bytes = 4096;
        c.max_batch_bytes = 2048;
        c.max_in_flight = 1;
    })
    .await;
    let mut sent = docs(0..300, |_| false);
    sent.insert(
        10,
        Action::index("wide", format!(r#"{{"body":"{}"}}"#, "z".repeat(10_000))),
    );
    let w = s
        .indexer
        .begin_sync(target("budget", "s1", false))
        .await
        .unwrap();
    for a in &sent {
        w.send(a.clone()).await.unwrap();
    }
    let stats = w.finish(SyncOutcome::Succeeded).await.unwrap();
    check_accounting(&s, "budget", &sent, &stats);
    assert_eq!(stats.indexed, 301);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_actions_are_refused_before_the_queue() {
    let s = setup(Faults::default(), |_| {}).await;
    let w = s
        .indexer
        .begin_sync(target("bad", "s1", false))
        .await
        .unwrap();
    let err = w
        .send(Action::index("", "{}"))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("empty"), "{err}");
    assert!(w.send(Action::index("a", "[1,2]")).await.is_err());
    let stats = w.finish(SyncOutcome::Succeeded).await.unwrap();
    assert_eq!(stats.emitted, 0);
    assert!(
        s.indexer
            .begin_sync(target("Bad Name", "s1", false))
            .await
            .is_err()
    );
}
