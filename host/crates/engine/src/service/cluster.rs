//! From Elastic's `elasticsearch.*` keys to the bulk indexer's settings.

use std::path::Path;
use std::time::Duration;

use inlet_indexer::{Auth, IndexerConfig};
use secrecy::ExposeSecret;

use inlet_policy::config::{self, Elasticsearch};

const MIB: f64 = 1024.0 * 1024.0;

/// How to authenticate to the cluster of `elasticsearch.*`, with Elastic's precedence:
/// `api_key` (encoded or `id:key`) wins over `username`/`password` (basic auth, used only when
/// both are set); with neither, no authentication.
pub fn cluster_auth(es: &Elasticsearch) -> Auth {
    match (&es.api_key, &es.username, &es.password) {
        (Some(key), _, _) => Auth::ApiKey(key.expose_secret().to_owned()),
        (None, Some(user), Some(password)) => Auth::Basic {
            username: user.clone(),
            password: password.expose_secret().to_owned(),
        },
        _ => Auth::None,
    }
}

/// The indexer's configuration for this config file. Elastic's names keep their meaning:
/// `bulk.chunk_size` caps actions per request, `bulk.chunk_max_mem_size` its MiB,
/// `bulk.max_concurrency` the requests in flight, `bulk.queue_max_mem_size` the MiB buffered in
/// front of the indexer, `max_retries` the attempts per document before it is dead-lettered.
/// Inlet's own defaults (larger batches than Elastic's 500 / 3 MiB) apply where a key is absent.
pub(super) fn indexer_config(
    loaded: &config::Loaded,
    es: &Elasticsearch,
    data_dir: &Path,
) -> IndexerConfig {
    let defaults = IndexerConfig::default();
    let auth = cluster_auth(es);
    let bulk = &es.bulk;
    IndexerConfig {
        hosts: es.host.iter().cloned().collect(),
        cloud_id: es.cloud_id.clone(),
        auth,
        ca_certs: es.ca_certs.as_ref().map(|p| loaded.resolve(p)),
        verify_certs: es.verify_certs,
        max_batch_bytes: bulk
            .chunk_max_mem_size
            .map(|m| (m * MIB) as usize)
            .unwrap_or(defaults.max_batch_bytes),
        max_batch_docs: bulk.chunk_size.unwrap_or(defaults.max_batch_docs),
        max_in_flight: bulk.max_concurrency.unwrap_or(defaults.max_in_flight),
        channel_bytes: bulk
            .queue_max_mem_size
            .map(|m| (m * MIB) as usize)
            .unwrap_or(defaults.channel_bytes),
        gzip: bulk.gzip,
        request_timeout: Duration::from_secs(es.request_timeout),
        max_retries: es.max_retries.unwrap_or(defaults.max_retries),
        dead_letter_dir: data_dir.join("dead-letter"),
        ..defaults
    }
}
