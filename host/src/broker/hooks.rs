//! The `WasiHttpHooks` of a plugin's store: forbidden headers and the one send path. An
//! instance without a network (plugin inspection) has every request refused.

use std::collections::HashSet;
use std::sync::Arc;

use http::HeaderName;
use wasmtime_wasi_http::{Error, ForbiddenHeaderFilter, RequestOptions, WasiBody, WasiHttpHooks};

use super::network::ConnectorNetwork;

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), Error>> + Send>,
                ),
                Error,
            >,
        > + Send,
>;

pub struct HttpHooks {
    network: Option<Arc<ConnectorNetwork>>,
    forbidden: Arc<HashSet<HeaderName>>,
    connector_id: String,
}

impl HttpHooks {
    pub fn new(connector_id: &str, network: Option<Arc<ConnectorNetwork>>) -> Self {
        let forbidden = match &network {
            Some(n) => n.forbidden_headers(),
            None => wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS
                .iter()
                .cloned()
                .collect(),
        };
        HttpHooks {
            network,
            forbidden: Arc::new(forbidden),
            connector_id: connector_id.to_owned(),
        }
    }
}

impl WasiHttpHooks for HttpHooks {
    fn is_forbidden_header(&mut self, name: &HeaderName) -> bool {
        self.forbidden.contains(name)
    }

    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        let forbidden = self.forbidden.clone();
        Arc::new(move |name| forbidden.contains(name))
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let Some(network) = self.network.clone() else {
            tracing::warn!(
                connector_id = %self.connector_id,
                rule = "no_network",
                "request refused (rule: no_network): this plugin instance has no network (inspection or a tool run)"
            );
            return Box::new(async { Err(Error::HttpRequestDenied) });
        };
        Box::new(async move {
            let res = network.handle(request, options).await?;
            // The connection is driven by its own task (see `send`), so there is no I/O
            // future to hand back.
            let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
            Ok((res, io))
        })
    }

    fn p2_error_from_hyper(
        &mut self,
        err: &hyper::Error,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        tracing::debug!(connector_id = %self.connector_id, error = %err, "HTTP error in a brokered request");
        wasmtime_wasi_http::p2::bindings::http::types::ErrorCode::HttpProtocolError
    }
}
