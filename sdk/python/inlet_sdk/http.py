"""Outbound HTTP for connectors, through the host's broker (`wasi:http/outgoing-handler`).

    from inlet_sdk import http

    r = http.get("https://api.example.com/items?page=2", headers={"Accept": "application/json"})
    if r.status == 200:
        items = r.json()

Calls are synchronous (each one blocks on the host until the response body has arrived), which
fits the SDK's generators: fetch the next page only when the host asks for more documents.

Every request passes the host's policy: its origin must be declared in plugin.toml
(`[permissions] http = ["https://api.example.com"]`) and granted in config.yml
(`grants.http`). Credentials are injected by the host (`grants.credentials`): the plugin never
sees them and must not set `Authorization` itself. A refused request raises `NetworkError`
(the host's log names the grant to add); a connection failure or timeout raises `NetworkError`
too. HTTP error statuses (4xx/5xx) are not exceptions: check `Response.status`, or call
`Response.raise_for_status()` (401/403 become `AuthError`).

A project that uses this module must declare `[permissions] http` in plugin.toml: the build then
targets the `connector-http` world, which imports `wasi:http/outgoing-handler`.
"""

import json as _json
from urllib.parse import urlsplit

from .errors import AuthError, NetworkError, SourceError

# The bindings are imported now, at build time: a component cannot import modules at run time
# (its Python files are only there while componentize-py pre-initializes it). Outside the
# `connector-http` world (plain CPython, or a project without `[permissions] http`) they are
# missing and requests fail with a NetworkError saying why.
try:
    from componentize_py_types import Err as _Err, Ok as _Ok
    from wit_world.imports import outgoing_handler as _outgoing_handler
    from wit_world.imports import streams as _streams
    from wit_world.imports import wasi_http_types as _h
    from wit_world.imports import monotonic_clock as _monotonic_clock

    _MISSING = None
except ImportError as _e:  # pragma: no cover - depends on the build
    _MISSING = str(_e)
    _monotonic_clock = None

__all__ = ["Response", "request", "get", "sleep", "HttpError", "set_transport"]

# Headers the host owns (credentials) or that the HTTP layer sets itself.
_DROPPED = {"authorization", "host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade"}
_READ_CHUNK = 64 * 1024
_WRITE_CHUNK = 4096


class HttpError(SourceError):
    """An HTTP error status, from `Response.raise_for_status()`. `response` is the Response."""

    def __init__(self, message, response):
        super().__init__(message)
        self.response = response


class Response:
    """A complete HTTP response: `status` (int), `headers` (dict, lower-case names; repeated
    headers joined with `, `), `body` (bytes), `url`."""

    def __init__(self, status, headers, body, url=None):
        self.status = int(status)
        self.headers = _normalize_headers(headers)
        self.body = body or b""
        self.url = url

    @property
    def ok(self):
        return 200 <= self.status < 300

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        try:
            return _json.loads(self.body.decode("utf-8"))
        except ValueError as e:
            raise SourceError(f"{self.url or 'response'}: body is not JSON ({e})") from None

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def raise_for_status(self):
        """Raise `AuthError` for 401/403, `HttpError` (a `SourceError`) for other 4xx/5xx."""
        if self.status < 400:
            return self
        snippet = self.text[:200].strip()
        msg = f"HTTP {self.status} from {self.url or 'the source'}" + (f": {snippet}" if snippet else "")
        if self.status in (401, 403):
            raise AuthError(msg)
        raise HttpError(msg, self)

    def __repr__(self):
        return f"<Response {self.status} {self.url or ''} {len(self.body)} bytes>"


def _normalize_headers(headers):
    out = {}
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    for k, v in items:
        if isinstance(v, bytes):
            v = v.decode("latin-1")
        k = k.lower()
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def _transport_wasi(method, url, headers, body, timeout):
    """One request over the `wasi:http` bindings that componentize-py generates."""
    if _MISSING is not None:
        raise NetworkError(
            "outbound HTTP is not available in this component: declare `[permissions] http` in "
            f"plugin.toml so the build targets the connector-http world ({_MISSING})"
        )
    Err, Ok, outgoing_handler, streams, h = _Err, _Ok, _outgoing_handler, _streams, _h

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        raise NetworkError(f"not an http(s) URL: {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query

    methods = {
        "GET": h.Method_Get, "HEAD": h.Method_Head, "POST": h.Method_Post, "PUT": h.Method_Put,
        "DELETE": h.Method_Delete, "CONNECT": h.Method_Connect, "OPTIONS": h.Method_Options,
        "TRACE": h.Method_Trace, "PATCH": h.Method_Patch,
    }
    m = method.upper()
    wit_method = methods[m]() if m in methods else h.Method_Other(m)

    entries = []
    for k, v in (headers or {}).items():
        if k.lower() in _DROPPED:
            continue
        entries.append((k, v.encode("latin-1") if isinstance(v, str) else bytes(v)))
    try:
        fields = h.Fields.from_list(entries)
    except Err as e:
        raise NetworkError(f"invalid request headers: {e.value}") from None

    req = h.OutgoingRequest(fields)
    req.set_method(wit_method)
    req.set_scheme(h.Scheme_Http() if scheme == "http" else h.Scheme_Https())
    req.set_authority(parts.netloc)
    req.set_path_with_query(path)
    options = None
    if timeout is not None:
        ns = int(float(timeout) * 1e9)
        options = h.RequestOptions()
        options.set_connect_timeout(ns)
        options.set_first_byte_timeout(ns)
        options.set_between_bytes_timeout(ns)
    out_body = req.body()

    try:
        future = outgoing_handler.handle(req, options)
    except Err as e:
        raise _error_of(e.value, h, url) from None

    # The request body, written after `handle` so the host drains it while we write.
    stream = out_body.write()
    try:
        data = body or b""
        for i in range(0, len(data), _WRITE_CHUNK):
            stream.blocking_write_and_flush(data[i : i + _WRITE_CHUNK])
    except Err as e:
        raise NetworkError(f"{m} {url}: sending the body failed ({e.value})") from None
    finally:
        stream.__exit__(None, None, None)
    try:
        h.OutgoingBody.finish(out_body, None)
    except Err as e:
        raise _error_of(e.value, h, url) from None

    with future.subscribe() as pollable:
        pollable.block()
    got = future.get()
    future.__exit__(None, None, None)
    if got is None:
        raise NetworkError(f"{m} {url}: no response")
    if isinstance(got, Err):
        raise NetworkError(f"{m} {url}: the response was already taken")
    inner = got.value
    if isinstance(inner, Err):
        raise _error_of(inner.value, h, url)
    resp = inner.value if isinstance(inner, Ok) else inner

    status = resp.status()
    with resp.headers() as hdrs:
        header_list = [(k, v) for k, v in hdrs.entries()]
    chunks = []
    incoming = resp.consume()
    instream = incoming.stream()
    try:
        while True:
            try:
                chunk = instream.blocking_read(_READ_CHUNK)
            except Err as e:
                if isinstance(e.value, streams.StreamError_Closed):
                    break
                code = None
                try:
                    code = h.http_error_code(e.value.value)
                except Exception:
                    pass
                raise (_error_of(code, h, url) if code is not None else NetworkError(f"{m} {url}: reading the body failed")) from None
            if chunk:
                chunks.append(chunk)
    finally:
        instream.__exit__(None, None, None)
        incoming.__exit__(None, None, None)
        resp.__exit__(None, None, None)
    return Response(status, header_list, b"".join(chunks), url)


def _error_of(code, h, url):
    """The SDK error for a `wasi:http` error-code."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    name = type(code).__name__.replace("ErrorCode_", "")
    if isinstance(code, h.ErrorCode_HttpRequestDenied):
        return NetworkError(
            f"the host denied the request to {origin}: it must be declared in plugin.toml "
            f"`[permissions] http` and granted in config.yml `grants.http` (the inlet log names the grant)"
        )
    if isinstance(code, h.ErrorCode_DestinationIpProhibited):
        return NetworkError(f"the host refused the address of {origin} (private or loopback; grant it exactly)")
    if isinstance(code, h.ErrorCode_InternalError):
        detail = code.value or "internal error"
        if "credential" in detail:
            return AuthError(f"{origin}: {detail}")
        return NetworkError(f"{origin}: {detail}")
    value = getattr(code, "value", None)
    detail = f" ({value})" if value not in (None, "") else ""
    return NetworkError(f"HTTP request to {origin} failed: {name}{detail}")


_transport = _transport_wasi


def set_transport(fn):
    """Replace the transport (`fn(method, url, headers, body, timeout) -> Response`), e.g. with a
    fake in unit tests outside the component. Returns the previous one."""
    global _transport
    old, _transport = _transport, fn
    return old


def request(method, url, headers=None, body=None, timeout=None):
    """Send one request and return the complete `Response`. `body` is bytes, str (UTF-8) or a
    dict/list (sent as JSON with `Content-Type: application/json`)."""
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = _json.dumps(body).encode("utf-8")
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    elif isinstance(body, str):
        body = body.encode("utf-8")
    if any(k.lower() == "authorization" for k in headers):
        raise AuthError(
            "a plugin may not set Authorization: grant a credential in config.yml "
            "(`credentials:` + `grants.credentials`) and the host injects it"
        )
    return _transport(method, url, headers, body, timeout)


def get(url, headers=None, timeout=None):
    """`request("GET", url, headers)`."""
    return request("GET", url, headers=headers, timeout=timeout)


def sleep(seconds):
    """Wait `seconds` (e.g. for a rate limit to reset). Uses the WASI monotonic clock."""
    if seconds <= 0:
        return
    if _monotonic_clock is not None:
        with _monotonic_clock.subscribe_duration(int(seconds * 1e9)) as p:
            p.block()
    else:
        import time

        time.sleep(seconds)
