//! The operator's HTTP endpoint (`service.metrics.listen`, off by default): `/metrics` in
//! Prometheus text format, `/healthz` (the process answers) and `/readyz` (plugins are loaded and
//! the service loop runs).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use metrics_exporter_prometheus::PrometheusHandle;

/// Called before each `/metrics` render, to copy counters kept elsewhere into the exporter.
pub type BeforeScrape = Arc<std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>>;

/// Starts serving `/metrics`, `/healthz` and `/readyz` on `listen` (`service.metrics.listen`);
/// returns once the listener is bound (so a bad address fails at start).
pub async fn serve(
    listen: SocketAddr,
    metrics: PrometheusHandle,
    ready: Arc<AtomicBool>,
    before_scrape: BeforeScrape,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen} (service.metrics.listen): {e}"))?;
    tracing::info!(%listen, "metrics and health endpoints listening");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let metrics = metrics.clone();
            let ready = ready.clone();
            let before_scrape = before_scrape.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let metrics = metrics.clone();
                    let ready = ready.clone();
                    if req.uri().path() == "/metrics"
                        && let Some(refresh) = before_scrape.get()
                    {
                        refresh();
                    }
                    async move { Ok::<_, Infallible>(route(&req, &metrics, &ready)) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await
                {
                    tracing::debug!("admin connection: {e}");
                }
            });
        }
    });
    Ok(())
}

fn route<B>(
    req: &Request<B>,
    metrics: &PrometheusHandle,
    ready: &AtomicBool,
) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match req.uri().path() {
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics.render(),
        ),
        "/healthz" => (StatusCode::OK, "text/plain", "ok\n".to_owned()),
        "/readyz" if ready.load(Ordering::Relaxed) => {
            (StatusCode::OK, "text/plain", "ready\n".to_owned())
        }
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "starting\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /metrics, /healthz or /readyz\n".to_owned(),
        ),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}
