//! `inlet config check`: what would stop each connector from syncing, said per connector.
//!
//! Standalone mode: config.yml holds everything, so each connector's values are checked against
//! its plugin's schema, then by the plugin (`validate-config`, `ping`).
//!
//! Kibana mode: config.yml owns the cluster, the plugins, grants and credentials; the connector's
//! configuration values are filled in Kibana's form and live in its `.elastic-connectors`
//! document. So a value missing from config.yml is not a problem: when the cluster answers, the
//! values are read from the document and the check says which ones Kibana still needs; when it
//! does not, only config.yml's part is checked. The exit code is non-zero only for problems that
//! stop a sync (a plugin that does not load, a refused grant, an unknown connector id, a service
//! type that is not the connector's, values Kibana saved that the plugin refuses).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use inlet::config::{self, ProtocolMode};
use inlet::protocol::api::Api;
use inlet::protocol::cluster::Cluster;
use inlet::protocol::{EsClient, EsError, EsSettings, document};
use inlet::service::Service;

/// `GET /` gets this long: a check should not hang on a cluster that is down.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(config: &Path, plugins: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut loaded = config::load(config)?;
    let kibana = loaded.config.protocol() == ProtocolMode::Kibana;
    // In Kibana mode the cluster is only read here; the service below runs on the embedded sink
    // so that a cluster that is down does not hide config.yml's own problems.
    let es = if kibana {
        loaded.config.elasticsearch.take()
    } else {
        None
    };
    let svc = Service::open(loaded, plugins).await?;
    let bad = if kibana {
        check_kibana_mode(&svc, es.as_ref()).await
    } else {
        check_standalone(&svc).await
    };
    for k in &svc.config.unknown_keys {
        println!("warning: unknown key `{k}`");
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn check_standalone(svc: &Service) -> usize {
    let mut bad = 0;
    for c in &svc.config.config.connectors {
        match svc.check(c).await {
            Ok(()) => println!("{}: ok ({})", c.connector_id, c.service_type),
            Err(e) => {
                bad += 1;
                println!("{}: {e}", c.connector_id);
            }
        }
    }
    bad
}

/// How the cluster answered.
enum Reach {
    /// It answered and serves the connector API.
    Up(Api),
    /// It did not answer; the connectors' Kibana-side values are not read.
    Down,
}

async fn check_kibana_mode(svc: &Service, es: Option<&config::Elasticsearch>) -> usize {
    let mut bad = 0;
    let reach = match reach_cluster(es, &svc.config.base_dir()).await {
        Ok(r) => r,
        Err(e) => {
            bad += 1;
            println!("cluster: {e}");
            Reach::Down
        }
    };
    for c in &svc.config.config.connectors {
        match check_kibana_connector(svc, c, &reach).await {
            Ok(note) => println!("{}: ok ({}){note}", c.connector_id, c.service_type),
            Err(e) => {
                bad += 1;
                println!("{}: {e}", c.connector_id);
            }
        }
    }
    bad
}

/// `GET /` on the configured cluster: `Err` for what config.yml gets wrong (no host, a refused
/// credential, a cluster without the connector API), `Down` when nothing answers.
async fn reach_cluster(
    es: Option<&config::Elasticsearch>,
    config_dir: &std::path::Path,
) -> Result<Reach, String> {
    let es = es.ok_or(
        "Kibana mode (inlet.protocol: kibana) needs elasticsearch.host (or cloud_id)".to_owned(),
    )?;
    let mut settings = EsSettings::from_config(es, config_dir).map_err(|e| e.to_string())?;
    settings.request_timeout = settings.request_timeout.min(CLUSTER_TIMEOUT);
    let api = Api::new(EsClient::new(&settings).map_err(|e| e.to_string())?);
    let info = match api.info().await {
        Ok(info) => info,
        Err(e @ EsError::Transport { .. }) => {
            println!(
                "cluster: {}: not reachable, so the connectors' configuration (filled in Kibana) is not checked: {e}",
                api.url()
            );
            return Ok(Reach::Down);
        }
        Err(e) => {
            return Err(format!(
                "{e} (check elasticsearch.api_key or elasticsearch.username/password)"
            ));
        }
    };
    let cluster = Cluster::from_info(&info, api.url())?;
    println!(
        "cluster: {}: Elasticsearch {}{}",
        api.url(),
        if cluster.serverless {
            "serverless".to_owned()
        } else {
            cluster.version.clone()
        },
        if cluster.fallbacks().is_empty() {
            ""
        } else {
            " (served the way Elastic's service served this release)"
        }
    );
    Ok(Reach::Up(api.with_cluster(cluster)))
}

/// One connector in Kibana mode: `Ok` carries what to add to its `ok` line.
async fn check_kibana_connector(
    svc: &Service,
    c: &config::Connector,
    reach: &Reach,
) -> Result<String, String> {
    // Loads the plugin and instantiates it with the connector's grants: what config.yml owns.
    let (_, schema) = svc.describe(c).await?;
    let Reach::Up(api) = reach else {
        return Ok(": config.yml's part; the configuration is filled in Kibana".into());
    };
    let doc = api
        .connector(&c.connector_id)
        .await
        .map_err(|e| format!("cannot read the connector document: {e}"))?
        .ok_or_else(|| {
            format!(
                "no connector `{}` in {}: create it in Kibana (Search → Connectors → New connector → self-managed) and copy its id into config.yml (connectors[].connector_id)",
                c.connector_id,
                api.url()
            )
        })?;
    if let Some(kibana_type) = doc.source.service_type()
        && kibana_type != c.service_type
    {
        return Err(format!(
            "the connector's service type in Kibana is `{kibana_type}` but config.yml serves it as `{}` (connectors[].service_type)",
            c.service_type
        ));
    }
    let merged = document::merge(c, &doc.source, None)?;
    let form_written = doc
        .source
        .configuration
        .as_ref()
        .is_some_and(|o| !o.is_empty());
    let unfilled = document::unfilled(&schema, &merged.configuration);
    if let Some(invalid) = unfilled.invalid {
        return Err(format!("the configuration saved in Kibana: {invalid}"));
    }
    if !unfilled.required.is_empty() {
        let names: Vec<String> = unfilled
            .required
            .iter()
            .map(|f| format!("{} ({})", f.key, f.label))
            .collect();
        return Ok(format!(
            "; Kibana still needs: {} — fill in the connector's configuration form{}",
            names.join(", "),
            if form_written {
                ""
            } else {
                " (`inlet run` writes the form into the connector at its first contact)"
            }
        ));
    }
    svc.check(&merged)
        .await
        .map_err(|e| format!("the configuration saved in Kibana: {e}"))?;
    Ok("; the configuration saved in Kibana is complete and the source answers".into())
}
