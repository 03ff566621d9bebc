//! `wasi:http` objects a guest builds in host memory, charged to its [`HostBudget`].
//!
//! wasmtime-wasi-http caps each header map (`fields`) at 128 KiB, but not how many a guest keeps:
//! 20,000 maps of 120 KiB took the host to 2.7 GiB while the plugin's own limit saw 1 MiB. The
//! functions that let a guest put bytes into host memory are re-defined here (the linker
//! shadows wasmtime-wasi-http's definitions) to call the original implementation and then charge
//! the object's size: `fields` (constructor, `from-list`, `set`, `append`, `delete`, `clone`),
//! `outgoing-request`/`outgoing-response` (which take over a `fields`, a path and authority, and
//! a body buffer) and `outgoing-body.finish` (which takes over trailers).
//!
//! Charges are kept by resource handle and given back when the object goes: the resource
//! destructors of `fields`, `outgoing-request` and `outgoing-response` are redefined too, and so
//! is `outgoing-handler.handle`, which takes the request over (from then on it counts against
//! the requests-in-flight limit instead, see `http_hooks`). As a safety net, entries whose
//! handle no longer holds an object of their kind are pruned before a charge is refused. Going
//! over the budget traps: the sync fails with the reason.

use std::collections::HashMap;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable, ResourceType};
use wasmtime_wasi_http::FieldMap;
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::p2::bindings::http::types as wit;
use wasmtime_wasi_http::p2::body::HostOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostOutgoingRequest, HostOutgoingResponse};

use super::HostState;
use inlet_policy::budget::{BODY_BUFFER_CHUNKS, BODY_CHUNK_BYTES, Charge, HostBudget};

/// The `wasi:http` instances wasmtime-wasi-http 48 defines (guests importing any 0.2.x version
/// are matched to them by semver).
const TYPES: &str = "wasi:http/types@0.2.12";
const OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";

/// Bytes a guest can make the host buffer per outgoing body: wasmtime-wasi-http keeps
/// `buffer_chunks + 1` chunks of up to `chunk_size` bytes in the body's channel (set by
/// `http_hooks`).
const BODY_BUFFER_BYTES: u64 = ((BODY_BUFFER_CHUNKS + 1) * BODY_CHUNK_BYTES) as u64;

/// Rough in-memory cost of one header beyond its name and value (`HeaderMap` bucket and entry),
/// and of an empty map or request.
const PER_HEADER: u64 = 64;
const PER_OBJECT: u64 = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fields,
    Request,
    Response,
}

struct Entry {
    kind: Kind,
    charge: Charge,
    /// Bytes the object holds that cannot be read back from it (trailers handed to its body).
    extra: u64,
}

/// The charges of one instance's `wasi:http` objects, by resource handle.
#[derive(Default)]
pub(crate) struct HttpHeld {
    entries: HashMap<u32, Entry>,
    /// outgoing-body handle → the request or response it belongs to.
    body_owner: HashMap<u32, u32>,
}

fn fields_size(f: &FieldMap) -> u64 {
    PER_OBJECT
        + f.iter()
            .map(|(k, v)| (k.as_str().len() + v.len()) as u64 + PER_HEADER)
            .sum::<u64>()
}

fn alive(table: &ResourceTable, rep: u32, kind: Kind) -> bool {
    match kind {
        Kind::Fields => table.get(&Resource::<FieldMap>::new_borrow(rep)).is_ok(),
        Kind::Request => table
            .get(&Resource::<HostOutgoingRequest>::new_borrow(rep))
            .is_ok(),
        Kind::Response => table
            .get(&Resource::<HostOutgoingResponse>::new_borrow(rep))
            .is_ok(),
    }
}

/// What the object at `rep` holds now, read from the table.
fn size_of(table: &ResourceTable, rep: u32, kind: Kind) -> u64 {
    match kind {
        Kind::Fields => table
            .get(&Resource::<FieldMap>::new_borrow(rep))
            .map(fields_size)
            .unwrap_or(0),
        Kind::Request => table
            .get(&Resource::<HostOutgoingRequest>::new_borrow(rep))
            .map(|r| {
                fields_size(&r.headers)
                    + r.path_with_query.as_ref().map_or(0, |p| p.len() as u64)
                    + r.authority.as_ref().map_or(0, |a| a.len() as u64)
                    + if r.body.is_some() {
                        BODY_BUFFER_BYTES
                    } else {
                        0
                    }
            })
            .unwrap_or(0),
        Kind::Response => table
            .get(&Resource::<HostOutgoingResponse>::new_borrow(rep))
            .map(|r| {
                fields_size(&r.headers)
                    + if r.body.is_some() {
                        BODY_BUFFER_BYTES
                    } else {
                        0
                    }
            })
            .unwrap_or(0),
    }
}

impl HttpHeld {
    /// Sets the charge of the object at `rep` to its current size (plus what it holds that
    /// cannot be read back), pruning dead entries and trying again before refusing.
    fn recharge(
        &mut self,
        table: &ResourceTable,
        budget: &HostBudget,
        rep: u32,
        kind: Kind,
    ) -> wasmtime::Result<()> {
        let mut entry = match self.entries.remove(&rep) {
            Some(e) if e.kind == kind => e,
            // New, or the handle number was reused by an object of another kind.
            _ => Entry {
                kind,
                charge: budget.empty_charge(),
                extra: 0,
            },
        };
        let size = size_of(table, rep, kind) + entry.extra;
        let what = match kind {
            Kind::Fields => "wasi:http fields",
            Kind::Request => "wasi:http outgoing-request",
            Kind::Response => "wasi:http outgoing-response",
        };
        if entry.charge.resize(size, what).is_err() {
            self.prune(table);
            entry.charge.resize(size, what)?;
        }
        self.entries.insert(rep, entry);
        Ok(())
    }

    fn take(&mut self, rep: u32) -> Option<Entry> {
        self.entries.remove(&rep)
    }

    /// Drops the charges of objects that are gone (dropped by the guest or consumed by the
    /// host).
    fn prune(&mut self, table: &ResourceTable) {
        self.entries.retain(|&rep, e| alive(table, rep, e.kind));
        self.body_owner.retain(|&body, _| {
            table
                .get(&Resource::<HostOutgoingBody>::new_borrow(body))
                .is_ok()
        });
    }

    /// Bytes charged now (for tests and reports).
    #[cfg(test)]
    fn charged(&self) -> u64 {
        self.entries.values().map(|e| e.charge.bytes()).sum()
    }
}

impl HostState {
    fn recharge_http(&mut self, rep: u32, kind: Kind) -> wasmtime::Result<()> {
        let budget = self.budget.clone();
        self.http_held.recharge(&self.table, &budget, rep, kind)
    }
}

fn header_error(
    cx: &mut StoreContextMut<'_, HostState>,
    e: wasmtime_wasi_http::p2::HeaderError,
) -> wasmtime::Result<wit::HeaderError> {
    wit::Host::convert_header_error(&mut cx.data_mut().http(), e)
}

/// Shadows the `wasi:http/types` functions that put guest bytes into host memory with charged
/// versions. Must run after `wasmtime_wasi_http::p2::add_only_http_to_linker_async`.
pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    super::shadowing(linker, define)
}

fn define(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let mut inst = linker.instance(OUTGOING_HANDLER)?;
    inst.func_wrap(
        "handle",
        |mut cx: StoreContextMut<'_, HostState>,
         (request, options): (
            Resource<HostOutgoingRequest>,
            Option<Resource<wasmtime_wasi_http::RequestOptions>>,
        )| {
            let s = cx.data_mut();
            // The network takes the request over: it is counted as in flight from here.
            s.http_held.take(request.rep());
            let sent = wasmtime_wasi_http::p2::bindings::http::outgoing_handler::Host::handle(
                &mut s.http(),
                request,
                options,
            );
            match sent {
                Ok(future) => Ok((Ok(future),)),
                Err(e) => Ok((Err(wit::Host::convert_error_code(&mut s.http(), e)?),)),
            }
        },
    )?;

    let mut inst = linker.instance(TYPES)?;
    inst.resource(
        "fields",
        ResourceType::host::<FieldMap>(),
        |mut cx: StoreContextMut<'_, HostState>, rep| {
            let s = cx.data_mut();
            s.table.delete(Resource::<FieldMap>::new_own(rep))?;
            s.http_held.take(rep);
            Ok(())
        },
    )?;
    inst.resource(
        "outgoing-request",
        ResourceType::host::<HostOutgoingRequest>(),
        |mut cx: StoreContextMut<'_, HostState>, rep| {
            let s = cx.data_mut();
            s.table
                .delete(Resource::<HostOutgoingRequest>::new_own(rep))?;
            s.http_held.take(rep);
            Ok(())
        },
    )?;
    inst.resource(
        "outgoing-response",
        ResourceType::host::<HostOutgoingResponse>(),
        |mut cx: StoreContextMut<'_, HostState>, rep| {
            let s = cx.data_mut();
            s.table
                .delete(Resource::<HostOutgoingResponse>::new_own(rep))?;
            s.http_held.take(rep);
            Ok(())
        },
    )?;

    inst.func_wrap(
        "[constructor]fields",
        |mut cx: StoreContextMut<'_, HostState>, (): ()| {
            let s = cx.data_mut();
            let fields = wit::HostFields::new(&mut s.http())?;
            s.recharge_http(fields.rep(), Kind::Fields)?;
            Ok((fields,))
        },
    )?;

    inst.func_wrap(
        "[static]fields.from-list",
        |mut cx: StoreContextMut<'_, HostState>, (entries,): (Vec<(String, Vec<u8>)>,)| {
            let made = wit::HostFields::from_list(&mut cx.data_mut().http(), entries);
            match made {
                Ok(fields) => {
                    cx.data_mut().recharge_http(fields.rep(), Kind::Fields)?;
                    Ok((Ok(fields),))
                }
                Err(e) => Ok((Err(header_error(&mut cx, e)?),)),
            }
        },
    )?;

    inst.func_wrap(
        "[method]fields.set",
        |mut cx: StoreContextMut<'_, HostState>,
         (this, name, values): (Resource<FieldMap>, String, Vec<Vec<u8>>)| {
            let rep = this.rep();
            let done = wit::HostFields::set(&mut cx.data_mut().http(), this, name, values);
            finish_header_op(&mut cx, rep, done)
        },
    )?;

    inst.func_wrap(
        "[method]fields.append",
        |mut cx: StoreContextMut<'_, HostState>,
         (this, name, value): (Resource<FieldMap>, String, Vec<u8>)| {
            let rep = this.rep();
            let done = wit::HostFields::append(&mut cx.data_mut().http(), this, name, value);
            finish_header_op(&mut cx, rep, done)
        },
    )?;

    inst.func_wrap(
        "[method]fields.delete",
        |mut cx: StoreContextMut<'_, HostState>, (this, name): (Resource<FieldMap>, String)| {
            let rep = this.rep();
            let done = wit::HostFields::delete(&mut cx.data_mut().http(), this, name);
            finish_header_op(&mut cx, rep, done)
        },
    )?;

    inst.func_wrap(
        "[method]fields.clone",
        |mut cx: StoreContextMut<'_, HostState>, (this,): (Resource<FieldMap>,)| {
            let s = cx.data_mut();
            let copy = wit::HostFields::clone(&mut s.http(), this)?;
            s.recharge_http(copy.rep(), Kind::Fields)?;
            Ok((copy,))
        },
    )?;

    inst.func_wrap(
        "[constructor]outgoing-request",
        |mut cx: StoreContextMut<'_, HostState>, (headers,): (Resource<FieldMap>,)| {
            let s = cx.data_mut();
            // The request takes the map over: it is charged as part of the request instead.
            s.http_held.take(headers.rep());
            let request = wit::HostOutgoingRequest::new(&mut s.http(), headers)?;
            s.recharge_http(request.rep(), Kind::Request)?;
            Ok((request,))
        },
    )?;

    inst.func_wrap(
        "[method]outgoing-request.set-path-with-query",
        |mut cx: StoreContextMut<'_, HostState>,
         (this, path): (Resource<HostOutgoingRequest>, Option<String>)| {
            let rep = this.rep();
            let s = cx.data_mut();
            let done = wit::HostOutgoingRequest::set_path_with_query(&mut s.http(), this, path)?;
            s.recharge_http(rep, Kind::Request)?;
            Ok((done,))
        },
    )?;

    inst.func_wrap(
        "[method]outgoing-request.set-authority",
        |mut cx: StoreContextMut<'_, HostState>,
         (this, authority): (Resource<HostOutgoingRequest>, Option<String>)| {
            let rep = this.rep();
            let s = cx.data_mut();
            let done = wit::HostOutgoingRequest::set_authority(&mut s.http(), this, authority)?;
            s.recharge_http(rep, Kind::Request)?;
            Ok((done,))
        },
    )?;

    inst.func_wrap(
        "[method]outgoing-request.body",
        |mut cx: StoreContextMut<'_, HostState>, (this,): (Resource<HostOutgoingRequest>,)| {
            let rep = this.rep();
            let s = cx.data_mut();
            let body = wit::HostOutgoingRequest::body(&mut s.http(), this)?;
            if let Ok(b) = &body {
                s.http_held.body_owner.insert(b.rep(), rep);
                s.recharge_http(rep, Kind::Request)?;
            }
            Ok((body,))
        },
    )?;

    inst.func_wrap(
        "[constructor]outgoing-response",
        |mut cx: StoreContextMut<'_, HostState>, (headers,): (Resource<FieldMap>,)| {
            let s = cx.data_mut();
            s.http_held.take(headers.rep());
            let response = wit::HostOutgoingResponse::new(&mut s.http(), headers)?;
            s.recharge_http(response.rep(), Kind::Response)?;
            Ok((response,))
        },
    )?;

    inst.func_wrap(
        "[method]outgoing-response.body",
        |mut cx: StoreContextMut<'_, HostState>, (this,): (Resource<HostOutgoingResponse>,)| {
            let rep = this.rep();
            let s = cx.data_mut();
            let body = wit::HostOutgoingResponse::body(&mut s.http(), this)?;
            if let Ok(b) = &body {
                s.http_held.body_owner.insert(b.rep(), rep);
                s.recharge_http(rep, Kind::Response)?;
            }
            Ok((body,))
        },
    )?;

    inst.func_wrap(
        "[static]outgoing-body.finish",
        |mut cx: StoreContextMut<'_, HostState>,
         (body, trailers): (Resource<HostOutgoingBody>, Option<Resource<FieldMap>>)| {
            let s = cx.data_mut();
            let owner = s.http_held.body_owner.remove(&body.rep());
            // Trailers go into the body's channel, which the request or response holds.
            let trailer_bytes = trailers
                .as_ref()
                .and_then(|t| s.http_held.take(t.rep()))
                .map_or(0, |e| e.charge.bytes());
            let done = wit::HostOutgoingBody::finish(&mut s.http(), body, trailers);
            if let Some(owner) = owner
                && let Some(entry) = s.http_held.entries.get_mut(&owner)
            {
                entry.extra += trailer_bytes;
                let kind = entry.kind;
                s.recharge_http(owner, kind)?;
            }
            match done {
                Ok(()) => Ok((Ok(()),)),
                Err(e) => Ok((Err(wit::Host::convert_error_code(
                    &mut cx.data_mut().http(),
                    e,
                )?),)),
            }
        },
    )?;
    Ok(())
}

/// After a `fields` mutation: recharge the map, or hand the header error to the guest.
fn finish_header_op(
    cx: &mut StoreContextMut<'_, HostState>,
    rep: u32,
    done: Result<(), wasmtime_wasi_http::p2::HeaderError>,
) -> wasmtime::Result<(Result<(), wit::HeaderError>,)> {
    match done {
        Ok(()) => {
            cx.data_mut().recharge_http(rep, Kind::Fields)?;
            Ok((Ok(()),))
        }
        Err(e) => Ok((Err(header_error(cx, e)?),)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_policy::budget::{BudgetLimits, Resource as Limit};

    fn budget(bytes: u64) -> HostBudget {
        HostBudget::new(BudgetLimits {
            host_memory_bytes: bytes,
            max_open_files: 8,
            max_requests_in_flight: 8,
            max_handles: 100,
        })
    }

    fn map(bytes: usize) -> FieldMap {
        let mut m = http::HeaderMap::new();
        m.insert(
            "x-big",
            http::HeaderValue::from_str(&"a".repeat(bytes)).expect("value"),
        );
        let mut hooks = crate::host_state::http_hooks::HttpHooks::new("t", None, budget(1));
        FieldMap::new_immutable(&mut hooks, m)
    }

    #[test]
    fn live_maps_are_charged_and_dead_ones_pruned() {
        let b = budget(64 * 1024);
        let mut table = ResourceTable::new();
        let mut held = HttpHeld::default();
        let a = table.push(map(30_000)).expect("push");
        held.recharge(&table, &b, a.rep(), Kind::Fields)
            .expect("fits");
        assert!(held.charged() > 30_000);
        let c = table.push(map(30_000)).expect("push");
        held.recharge(&table, &b, c.rep(), Kind::Fields)
            .expect("fits");
        let d = table.push(map(30_000)).expect("push");
        let err = held
            .recharge(&table, &b, d.rep(), Kind::Fields)
            .expect_err("the third map is over 64 KiB");
        let over = err
            .downcast_ref::<inlet_policy::budget::BudgetExceeded>()
            .expect("a budget error");
        assert_eq!(over.resource, Limit::HostMemory);
        // The guest drops one: its charge is pruned and the third fits.
        table.delete(a).expect("delete");
        held.recharge(&table, &b, d.rep(), Kind::Fields)
            .expect("fits after pruning");
        assert_eq!(b.usage().host_bytes, held.charged());
    }
}
