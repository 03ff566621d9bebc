//! Connecting: flavour detection and the messages an operator sees when the cluster is not usable.

use inlet_indexer::testing::{FakeCluster, Faults};
use inlet_indexer::{Auth, Distribution, Indexer, IndexerConfig, IndexerError};

fn cfg(url: String, dir: &tempfile::TempDir) -> IndexerConfig {
    IndexerConfig {
        hosts: vec![url],
        dead_letter_dir: dir.path().to_owned(),
        ..IndexerConfig::default()
    }
}

#[tokio::test]
async fn detects_elasticsearch_and_opensearch() {
    let dir = tempfile::tempdir().unwrap();
    let es = FakeCluster::start(Faults::default()).await.unwrap();
    let info = Indexer::connect(cfg(es.url(), &dir))
        .await
        .unwrap()
        .flavour()
        .clone();
    assert_eq!(
        (info.distribution, info.major, info.version.as_str()),
        (Distribution::Elasticsearch, 8, "8.15.0")
    );
    let os = FakeCluster::start(Faults {
        opensearch: true,
        ..Faults::default()
    })
    .await
    .unwrap();
    let info = Indexer::connect(cfg(os.url(), &dir))
        .await
        .unwrap()
        .flavour()
        .clone();
    assert_eq!(
        (info.distribution, info.major),
        (Distribution::OpenSearch, 2)
    );
}

#[tokio::test]
async fn unreachable_cluster_names_the_url_and_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    // Bind then drop: a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let err = Indexer::connect(cfg(url.clone(), &dir))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, IndexerError::Unreachable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("Check that"),
        "{msg}"
    );
}

#[tokio::test]
async fn wrong_credentials_say_which_url_and_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let es = FakeCluster::start(Faults {
        required_auth: Some("ApiKey right".into()),
        ..Faults::default()
    })
    .await
    .unwrap();
    let mut c = cfg(es.url(), &dir);
    c.auth = Auth::Basic {
        username: "elastic".into(),
        password: "nope".into(),
    };
    let msg = Indexer::connect(c.clone()).await.err().unwrap().to_string();
    assert!(
        msg.contains(&es.url())
            && msg.contains("HTTP 401")
            && msg.contains("api_key or username/password"),
        "{msg}"
    );
    c.auth = Auth::ApiKey("right".into());
    Indexer::connect(c).await.unwrap();
}

#[tokio::test]
async fn a_second_host_is_used_when_the_first_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let es = FakeCluster::start(Faults::default()).await.unwrap();
    let mut c = cfg(format!("http://127.0.0.1:{port}"), &dir);
    c.hosts.push(es.url());
    let indexer = Indexer::connect(c).await.unwrap();
    assert!(indexer.flavour().url.contains(&es.addr.to_string()));
}
