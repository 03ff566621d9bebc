//! The `WasiHttpHooks` of a plugin's store: forbidden headers, the one send path, and the
//! instance's requests-in-flight budget. Where a request may go and with what credentials is
//! the connector's [`HttpBroker`]'s to decide; what the instance may hold meanwhile is decided
//! here, the same for every broker. An instance without a network (plugin inspection) has every
//! request refused.

use std::collections::HashSet;
use std::sync::Arc;

use http::HeaderName;
use http_body_util::BodyExt as _;
use wasmtime_wasi_http::{Error, ForbiddenHeaderFilter, RequestOptions, WasiBody, WasiHttpHooks};

use crate::brokers::HttpBroker;
use inlet_policy::budget::{BODY_BUFFER_CHUNKS, BODY_CHUNK_BYTES, HostBudget, Slot};

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

/// The `wasi:http` hooks of one plugin instance's store: every request the guest sends goes to
/// its connector's [`HttpBroker`] (or is refused with `HttpRequestDenied` when there is
/// none), counted against the instance's requests-in-flight budget until its response body is
/// read or dropped.
pub(crate) struct HttpHooks {
    network: Option<Arc<dyn HttpBroker>>,
    forbidden: Arc<HashSet<HeaderName>>,
    connector_id: String,
    budget: HostBudget,
}

impl HttpHooks {
    /// Hooks for one instance of `connector_id`'s plugin. `network: None` (plugin inspection,
    /// tool runs) refuses every request; the forbidden headers are wasi-http's defaults plus
    /// every header the network's credentials inject, so a plugin can neither set nor read them.
    pub(crate) fn new(
        connector_id: &str,
        network: Option<Arc<dyn HttpBroker>>,
        budget: HostBudget,
    ) -> Self {
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
            budget,
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
        // A request counts as in flight from here until its response body is read or dropped:
        // each one can hold a connection, a buffered body and a response.
        let slot = match self
            .budget
            .start_request("wasi:http outgoing-handler.handle")
        {
            Ok(slot) => slot,
            Err(e) => {
                tracing::warn!(connector_id = %self.connector_id, "request refused: {e}");
                return Box::new(async { Err(Error::HttpRequestDenied) });
            }
        };
        Box::new(async move {
            let res = network.handle(request, options).await?;
            let res = res.map(|body| InFlight { body, _slot: slot }.boxed_unsync());
            // The connection is driven by its own task (see `send`), so there is no I/O
            // future to hand back.
            let io: Box<dyn Future<Output = Result<(), Error>> + Send> = Box::new(async { Ok(()) });
            Ok((res, io))
        })
    }

    /// Outgoing bodies buffer `chunks + 1` chunks of this size in host memory, charged per
    /// request by the instance's budget (`http_budget`); 64 KiB chunks keep that small
    /// while uploads still move in large writes.
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        BODY_BUFFER_CHUNKS
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        BODY_CHUNK_BYTES
    }

    fn p2_error_from_hyper(
        &mut self,
        err: &hyper::Error,
    ) -> wasmtime_wasi_http::p2::bindings::http::types::ErrorCode {
        tracing::debug!(connector_id = %self.connector_id, error = %err, "HTTP error in a brokered request");
        wasmtime_wasi_http::p2::bindings::http::types::ErrorCode::HttpProtocolError
    }
}

/// A response body that holds its request's in-flight slot until it is read to the end or
/// dropped.
struct InFlight {
    body: WasiBody,
    _slot: Slot,
}

impl http_body::Body for InFlight {
    type Data = bytes::Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
