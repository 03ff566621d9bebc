// Outbound HTTP for connectors, through the host's broker (`wasi:http/outgoing-handler`).
//
//   import { http } from "@inlet/sdk";
//   const r = http.get("https://api.example.com/items?page=2", { headers: { Accept: "application/json" } });
//   if (r.status === 200) items = r.json();
//
// Calls are synchronous: each one blocks on the host until the whole response body has arrived.
// Connector methods are plain generators and the component is built without component-model
// async, so `fetch` (a Promise) cannot be awaited; this blocking helper fits the pull model
// instead: fetch the next page only when the host asks for more documents.
//
// Every request passes the host's policy: its origin must be declared in plugin.toml
// (`[permissions] http = ["https://api.example.com"]`, which also makes the build target the
// `connector-http` world) and granted in config.yml (`grants.http`). Credentials are injected by
// the host (`grants.credentials`): the plugin never sees them and may not set `Authorization`.
// A refused request, a connection failure or a timeout throws NetworkError. HTTP error statuses
// are not exceptions: check `status`, or call `raiseForStatus()` (401/403 → AuthError).
import { AuthError, NetworkError, SourceError } from "./errors.js";

// Headers the host owns (credentials) or that the HTTP layer sets itself.
const DROPPED = new Set(["authorization", "host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade"]);
const READ_CHUNK = 64 * 1024;
const WRITE_CHUNK = 4096; // wasi:io output streams accept at most 4096 bytes per blocking write

// ---- UTF-8 (QuickJS has no TextEncoder/TextDecoder; use them when the engine has them) ------

export function encodeUtf8(s) {
  if (typeof TextEncoder === "function") return new TextEncoder().encode(s);
  const out = [];
  for (const ch of String(s)) {
    const c = ch.codePointAt(0);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

export function decodeUtf8(bytes) {
  if (typeof TextDecoder === "function") return new TextDecoder().decode(bytes);
  let out = "";
  const parts = [];
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i];
    let c, n;
    if (b < 0x80) { c = b; n = 1; }
    else if (b >= 0xc2 && b < 0xe0) { c = b & 31; n = 2; }
    else if (b >= 0xe0 && b < 0xf0) { c = b & 15; n = 3; }
    else if (b >= 0xf0 && b < 0xf5) { c = b & 7; n = 4; }
    else { out += "\ufffd"; i += 1; continue; } // not a lead byte
    if (i + n > bytes.length) { out += "\ufffd"; break; }
    let ok = true;
    for (let k = 1; k < n; k++) {
      const t = bytes[i + k];
      if ((t & 0xc0) !== 0x80) { ok = false; break; }
      c = (c << 6) | (t & 63);
    }
    if (!ok || c > 0x10ffff) { out += "\ufffd"; i += 1; continue; }
    out += String.fromCodePoint(c);
    i += n;
    // keep string concatenation cheap on large bodies
    if (out.length > 8192) { parts.push(out); out = ""; }
  }
  parts.push(out);
  return parts.join("");
}

const isBytes = (v) => v != null && typeof v === "object" && typeof v.length === "number";
const latin1 = (bytes) => { let s = ""; for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]); return s; };
const latin1Bytes = (s) => Uint8Array.from(String(s), (ch) => ch.charCodeAt(0) & 0xff);

// ---- Response ---------------------------------------------------------------------------

/** An HTTP error status, from `Response.raiseForStatus()`; `response` is the Response. */
export class HttpError extends SourceError {
  constructor(message, response) { super(message); this.name = "HttpError"; this.response = response; }
}

/** Header pairs → `{ lower-case name: value }`; repeated headers joined with ", ". */
export function normalizeHeaders(headers) {
  const out = {};
  const items = Array.isArray(headers) ? headers : Object.entries(headers ?? {});
  for (const [k, raw] of items) {
    // WIT `list<u8>` header values arrive as bytes whose class depends on the engine (not
    // always a Uint8Array of this realm): anything array-like is bytes.
    const v = typeof raw === "string" ? raw : isBytes(raw) ? latin1(raw) : String(raw);
    const key = String(k).toLowerCase();
    out[key] = key in out ? `${out[key]}, ${v}` : v;
  }
  return out;
}

/** A complete HTTP response: `status`, `headers` (lower-case names), `body` (Uint8Array), `url`. */
export class Response {
  constructor(status, headers, body, url = null) {
    this.status = Number(status);
    this.headers = normalizeHeaders(headers);
    this.body = body instanceof Uint8Array ? body : encodeUtf8(body ?? "");
    this.url = url;
  }
  get ok() { return this.status >= 200 && this.status < 300; }
  text() { return decodeUtf8(this.body); }
  json() {
    try { return JSON.parse(this.text()); } catch (e) {
      throw new SourceError(`${this.url ?? "response"}: body is not JSON (${e.message})`);
    }
  }
  header(name, dflt = null) { return this.headers[String(name).toLowerCase()] ?? dflt; }
  /** Throws AuthError for 401/403, HttpError (a SourceError) for other 4xx/5xx; else returns this. */
  raiseForStatus() {
    if (this.status < 400) return this;
    const snippet = this.text().slice(0, 200).trim();
    const msg = `HTTP ${this.status} from ${this.url ?? "the source"}${snippet ? `: ${snippet}` : ""}`;
    if (this.status === 401 || this.status === 403) throw new AuthError(msg);
    throw new HttpError(msg, this);
  }
}

// ---- URL handling (no URL class in QuickJS) -----------------------------------------------

/** `{ scheme, authority, pathWithQuery }` of an absolute http(s) URL; throws NetworkError otherwise. */
export function splitUrl(url) {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(String(url));
  const scheme = m?.[1].toLowerCase();
  if (!m || (scheme !== "http" && scheme !== "https") || !m[2]) throw new NetworkError(`not an http(s) URL: ${JSON.stringify(url)}`);
  let rest = m[3] || "/";
  if (rest.startsWith("?")) rest = "/" + rest;
  return { scheme, authority: m[2], pathWithQuery: rest };
}

const originOf = (url) => { try { const u = splitUrl(url); return `${u.scheme}://${u.authority}`; } catch { return String(url); } };

// ---- errors from wasi:http ----------------------------------------------------------------

// Binding generators spell variant tags differently (`HTTP-request-denied`, `httpRequestDenied`):
// compare them without case and punctuation.
const tagKey = (tag) => String(tag ?? "").toLowerCase().replace(/[^a-z0-9]/g, "");
// componentize-js wraps a WIT `err` in an Error with `payload`; componentize-qjs throws it as is.
const payloadOf = (e) => (e && typeof e === "object" && "payload" in e ? e.payload : e);

/**
 * The SDK error for a `wasi:http` error-code value (`{ tag, val }`). The error's `code` is the
 * error-code's case in WIT spelling (`connection-refused`, `HTTP-request-denied`...), for
 * connectors that retry some failures.
 */
export function errorOfCode(code, url) {
  const err = describeCode(code, url);
  err.code = witCase(code?.tag);
  return err;
}

// The WIT spelling of an error-code case, whatever the bindings made of it.
const WIT_CASES = ["DNS-timeout", "DNS-error", "destination-not-found", "destination-unavailable",
  "destination-IP-prohibited", "destination-IP-unroutable", "connection-refused", "connection-terminated",
  "connection-timeout", "connection-read-timeout", "connection-write-timeout", "connection-limit-reached",
  "TLS-protocol-error", "TLS-certificate-error", "TLS-alert-received", "HTTP-request-denied",
  "HTTP-request-length-required", "HTTP-request-body-size", "HTTP-request-method-invalid",
  "HTTP-request-URI-invalid", "HTTP-request-URI-too-long", "HTTP-request-header-section-size",
  "HTTP-request-header-size", "HTTP-request-trailer-section-size", "HTTP-request-trailer-size",
  "HTTP-response-incomplete", "HTTP-response-header-section-size", "HTTP-response-header-size",
  "HTTP-response-body-size", "HTTP-response-trailer-section-size", "HTTP-response-trailer-size",
  "HTTP-response-transfer-coding", "HTTP-response-content-coding", "HTTP-response-timeout",
  "HTTP-upgrade-failed", "HTTP-protocol-error", "loop-detected", "configuration-error", "internal-error"];
const witCase = (tag) => WIT_CASES.find((c) => tagKey(c) === tagKey(tag)) ?? (tag == null ? null : String(tag));

function describeCode(code, url) {
  const origin = originOf(url);
  const tag = tagKey(code?.tag);
  const val = code?.val;
  if (tag === "httprequestdenied") {
    return new NetworkError(`the host denied the request to ${origin}: it must be declared in plugin.toml ` +
      "`[permissions] http` and granted in config.yml `grants.http` (the inlet log names the grant)");
  }
  if (tag === "destinationipprohibited") return new NetworkError(`the host refused the address of ${origin} (private or loopback; grant it exactly)`);
  if (tag === "internalerror") {
    const detail = typeof val === "string" && val ? val : "internal error";
    return /credential/i.test(detail) ? new AuthError(`${origin}: ${detail}`) : new NetworkError(`${origin}: ${detail}`);
  }
  if (code == null || typeof code !== "object") return new NetworkError(`HTTP request to ${origin} failed: ${String(code)}`);
  const detail = val == null || val === "" ? "" : ` (${typeof val === "object" ? JSON.stringify(val) : val})`;
  return new NetworkError(`HTTP request to ${origin} failed: ${code.tag}${detail}`);
}

// ---- the wasi:http transport --------------------------------------------------------------

const METHODS = ["get", "head", "post", "put", "delete", "connect", "options", "trace", "patch"];

function drop(resource) {
  try { resource?.[Symbol.dispose]?.(); } catch { /* already consumed or dropped */ }
}

/**
 * A transport over the component's `wasi:http` imports. `wasi` is what the generated entry
 * module passes: `{ outgoingHandler, types, monotonicClock, bigint }` (`bigint`: u64 values are
 * BigInt, as with componentize-js).
 */
export function wasiTransport(wasi) {
  const { outgoingHandler, types: h } = wasi;
  const u64 = wasi.bigint ? (n) => BigInt(Math.trunc(n)) : (n) => Math.trunc(n);

  function buildRequest(method, url, headers, timeout) {
    const { scheme, authority, pathWithQuery } = splitUrl(url);
    let fields;
    try {
      fields = h.Fields.fromList(headers.map(([k, v]) => [k, latin1Bytes(v)]));
    } catch (e) {
      throw new NetworkError(`invalid request headers: ${JSON.stringify(payloadOf(e))}`);
    }
    const req = new h.OutgoingRequest(fields);
    const m = method.toLowerCase();
    req.setMethod(METHODS.includes(m) ? { tag: m } : { tag: "other", val: method });
    req.setScheme({ tag: scheme === "https" ? "HTTPS" : "HTTP" });
    req.setAuthority(authority);
    req.setPathWithQuery(pathWithQuery);
    let options = null;
    if (timeout != null) {
      const ns = u64(Number(timeout) * 1e9);
      options = new h.RequestOptions();
      options.setConnectTimeout(ns);
      options.setFirstByteTimeout(ns);
      options.setBetweenBytesTimeout(ns);
    }
    return { req, options };
  }

  function writeBody(outBody, body, what) {
    const stream = outBody.write();
    try {
      for (let i = 0; i < body.length; i += WRITE_CHUNK) stream.blockingWriteAndFlush(body.subarray(i, i + WRITE_CHUNK));
    } catch (e) {
      throw new NetworkError(`${what}: sending the body failed (${JSON.stringify(payloadOf(e))})`);
    } finally {
      drop(stream); // the stream is a child of the body: it must go before `finish`
    }
  }

  // `future-incoming-response.get` → option<result<result<incoming-response, error-code>, _>>.
  function awaitResponse(future, url, what) {
    const pollable = future.subscribe();
    try { pollable.block(); } finally { drop(pollable); }
    const got = future.get();
    drop(future);
    if (got == null) throw new NetworkError(`${what}: no response`);
    if (tagKey(got.tag) === "err") throw new NetworkError(`${what}: the response was already taken`);
    const inner = got.tag ? got.val : got;
    if (inner && tagKey(inner.tag) === "err") throw errorOfCode(inner.val, url);
    return inner && inner.tag ? inner.val : inner;
  }

  function readBody(resp, url, what) {
    const incoming = resp.consume();
    const stream = incoming.stream();
    const chunks = [];
    let total = 0;
    try {
      for (;;) {
        let chunk;
        try {
          chunk = stream.blockingRead(u64(READ_CHUNK));
        } catch (e) {
          const err = payloadOf(e);
          if (tagKey(err?.tag) === "closed") break;
          let code = null;
          try { code = h.httpErrorCode?.(err.val); } catch { /* not an HTTP error */ }
          throw code ? errorOfCode(code, url) : new NetworkError(`${what}: reading the body failed`);
        }
        if (chunk?.length) { chunks.push(chunk); total += chunk.length; }
      }
    } finally {
      drop(stream); // child before parent: stream, then body, then response
      drop(incoming);
    }
    const body = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) { body.set(c, at); at += c.length; }
    return body;
  }

  return function transport(method, url, headers, body, timeout) {
    const what = `${method.toUpperCase()} ${url}`;
    const { req, options } = buildRequest(method, url, headers, timeout);
    const outBody = req.body();
    let future;
    try {
      future = outgoingHandler.handle(req, options);
    } catch (e) {
      drop(outBody);
      throw errorOfCode(payloadOf(e), url);
    }
    // The body is written after `handle`, so the host streams it while we write.
    writeBody(outBody, body ?? new Uint8Array(0), what);
    try { h.OutgoingBody.finish(outBody, null); } catch (e) { throw errorOfCode(payloadOf(e), url); }
    const resp = awaitResponse(future, url, what);
    try {
      const status = resp.status();
      const hdrs = resp.headers();
      const pairs = hdrs.entries();
      drop(hdrs);
      return new Response(status, pairs, readBody(resp, url, what), url);
    } finally {
      drop(resp);
    }
  };
}

// ---- the public API ---------------------------------------------------------------------

function missing() {
  throw new NetworkError("outbound HTTP is not available in this component: declare `[permissions] http` " +
    "in plugin.toml so the build targets the connector-http world");
}

let transport = missing;
let clock = null;

/** Called by the generated entry module of a `connector-http` component with its imports. */
export function _setWasi(wasi) {
  transport = wasiTransport(wasi);
  clock = wasi.monotonicClock ? { clock: wasi.monotonicClock, bigint: !!wasi.bigint } : null;
}

/**
 * Replaces the transport — `fn(method, url, headers: [[name, value]], body: Uint8Array|null,
 * timeout) → Response` — e.g. with a fake in unit tests. Returns the previous one.
 */
export function setTransport(fn) { const old = transport; transport = fn; return old; }

function encodeBody(body, headers) {
  if (body == null) return null;
  if (body instanceof Uint8Array) return body;
  if (typeof body === "string") return encodeUtf8(body);
  if (typeof body === "object") {
    if (!headers.some(([k]) => k.toLowerCase() === "content-type")) headers.push(["Content-Type", "application/json"]);
    return encodeUtf8(JSON.stringify(body));
  }
  throw new TypeError("body must be a Uint8Array, a string or a JSON-able object");
}

/**
 * Sends one request and returns the complete Response. `body`: Uint8Array, string (UTF-8) or an
 * object/array (sent as JSON). `timeout`: seconds for connect, first byte and between bytes.
 */
export function request(method, url, { headers = {}, body = null, timeout = null } = {}) {
  const pairs = [];
  for (const [k, v] of Array.isArray(headers) ? headers : Object.entries(headers)) {
    const low = String(k).toLowerCase();
    if (low === "authorization") {
      throw new AuthError("a plugin may not set Authorization: grant a credential in config.yml " +
        "(`credentials:` + `grants.credentials`) and the host injects it");
    }
    if (!DROPPED.has(low)) pairs.push([String(k), String(v)]);
  }
  const bytes = encodeBody(body, pairs);
  // A known length rather than chunked encoding: many servers (Python's http.server among
  // them) do not read chunked request bodies.
  if (bytes && bytes.length) pairs.push(["Content-Length", String(bytes.length)]);
  return transport(String(method), String(url), pairs, bytes, timeout);
}

/** `request("GET", url, options)`. */
export function get(url, options = {}) { return request("GET", url, options); }

/** Blocks for `secs` seconds (e.g. for a `Retry-After`), on the WASI monotonic clock. */
export function sleep(secs) {
  if (!(secs > 0)) return;
  if (!clock) {
    // Outside a component (unit tests): a busy wait would burn CPU; Atomics.wait blocks cleanly.
    if (typeof SharedArrayBuffer === "function" && typeof Atomics?.wait === "function") {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, secs * 1000);
      return;
    }
    throw new SourceError("http.sleep needs the connector-http world (wasi:clocks)");
  }
  const ns = Math.trunc(secs * 1e9);
  const p = clock.clock.subscribeDuration(clock.bigint ? BigInt(ns) : ns);
  try { p.block(); } finally { drop(p); }
}

export const http = { request, get, sleep, Response, HttpError, setTransport };
