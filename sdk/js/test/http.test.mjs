// Unit tests of the blocking HTTP helper (src/http.js) and of the build's world selection, with
// fake wasi:http bindings: no component, no network. Run: npm test (in sdk/js).
import { test } from "node:test";
import assert from "node:assert/strict";
import { http, AuthError, NetworkError, SourceError, HttpError } from "../src/index.js";
import {
  Response, splitUrl, encodeUtf8, decodeUtf8, normalizeHeaders, errorOfCode, wasiTransport, _setWasi, setTransport,
} from "../src/http.js";
import { wantsHttp, pickBackend, entrySource } from "../build.mjs";

test("splitUrl: authority and path with query; only http(s)", () => {
  assert.deepEqual(splitUrl("https://graph.example:8443/v1.0/sites?search=*"),
    { scheme: "https", authority: "graph.example:8443", pathWithQuery: "/v1.0/sites?search=*" });
  assert.deepEqual(splitUrl("HTTP://h"), { scheme: "http", authority: "h", pathWithQuery: "/" });
  assert.equal(splitUrl("http://h?x=1#frag").pathWithQuery, "/?x=1");
  assert.throws(() => splitUrl("ftp://h/x"), NetworkError);
  assert.throws(() => splitUrl("/relative"), NetworkError);
});

test("UTF-8 both ways, with and without TextEncoder/TextDecoder (QuickJS has neither)", () => {
  const s = "aé€😀\u0000z";
  const native = encodeUtf8(s);
  const saved = [globalThis.TextEncoder, globalThis.TextDecoder];
  try {
    globalThis.TextEncoder = undefined;
    globalThis.TextDecoder = undefined;
    assert.deepEqual(encodeUtf8(s), native);
    assert.equal(decodeUtf8(native), s);
    assert.equal(decodeUtf8(Uint8Array.from([0x61, 0xff, 0x62])), "a\ufffdb", "invalid bytes become U+FFFD");
    assert.equal(decodeUtf8(Uint8Array.from([0xe2, 0x82])), "\ufffd", "a truncated sequence becomes U+FFFD");
    assert.equal(decodeUtf8(Uint8Array.from([0xf4, 0x90, 0x80, 0x80, 0x41])).slice(-1), "A", "beyond U+10FFFF is replaced");
    const long = "ü".repeat(20000);
    assert.equal(decodeUtf8(encodeUtf8(long)), long);
  } finally {
    [globalThis.TextEncoder, globalThis.TextDecoder] = saved;
  }
  assert.equal(decodeUtf8(native), s);
});

test("headers: lower-case names, byte values (Uint8Array or Array), repeats joined", () => {
  const h = normalizeHeaders([["Set-Cookie", Uint8Array.from([97])], ["set-cookie", [98]], ["Retry-After", "2"],
    ["X-Other-Realm", { length: 2, 0: 52, 1: 57 }], ["X-Buffer", Buffer.from("z")]]);
  assert.deepEqual(h, { "set-cookie": "a, b", "retry-after": "2", "x-other-realm": "49", "x-buffer": "z" });
});

test("Response: text, json, header, raiseForStatus", () => {
  const r = new Response(200, [["Content-Type", "application/json"]], encodeUtf8('{"a":[1]}'), "https://x/y");
  assert.equal(r.ok, true);
  assert.deepEqual(r.json(), { a: [1] });
  assert.equal(r.header("content-TYPE"), "application/json");
  assert.equal(r.header("missing", "d"), "d");
  assert.equal(r.raiseForStatus(), r);
  assert.throws(() => new Response(200, [], "not json").json(), SourceError);
  assert.throws(() => new Response(401, [], "no").raiseForStatus(), AuthError);
  assert.throws(() => new Response(403, [], "no").raiseForStatus(), AuthError);
  assert.throws(() => new Response(503, [], "busy").raiseForStatus(),
    (e) => e instanceof HttpError && e instanceof SourceError && e.response.status === 503 && /503.*busy/.test(e.message));
});

test("request: refuses Authorization, drops hop headers, encodes JSON bodies with a length", () => {
  const seen = [];
  const old = setTransport((...args) => { seen.push(args); return new Response(204, [], new Uint8Array(0)); });
  try {
    assert.throws(() => http.get("https://x/", { headers: { authorization: "Bearer t" } }),
      (e) => e instanceof AuthError && /grants.credentials/.test(e.message));
    assert.equal(seen.length, 0, "nothing sent");
    http.request("post", "https://x/p", { headers: { Host: "evil", Connection: "close", "X-A": 1 }, body: { k: "é" } });
    const [method, url, headers, body] = seen[0];
    assert.equal(method, "post");
    assert.equal(url, "https://x/p");
    assert.deepEqual(headers, [["X-A", "1"], ["Content-Type", "application/json"], ["Content-Length", "10"]]);
    assert.equal(decodeUtf8(body), '{"k":"é"}');
    http.get("https://x/g");
    assert.equal(seen[1][3], null, "a GET has no body");
    assert.deepEqual(seen[1][2], []);
  } finally {
    setTransport(old);
  }
});

test("error codes: denied grant, credentials, transport failures keep their WIT case", () => {
  const denied = errorOfCode({ tag: "HTTP-request-denied" }, "https://g.example/v1.0/x");
  assert.ok(denied instanceof NetworkError);
  assert.match(denied.message, /https:\/\/g\.example.*grants\.http/);
  assert.equal(denied.code, "HTTP-request-denied");
  // Bindings that camel-case variant tags map to the same case.
  assert.equal(errorOfCode({ tag: "httpRequestDenied" }, "https://g/").code, "HTTP-request-denied");
  const cred = errorOfCode({ tag: "internal-error", val: "credential graph: token endpoint answered 401" }, "https://g/");
  assert.ok(cred instanceof AuthError);
  const refused = errorOfCode({ tag: "connection-refused" }, "http://127.0.0.1:1/");
  assert.ok(refused instanceof NetworkError);
  assert.equal(refused.code, "connection-refused");
  assert.match(refused.message, /connection-refused/);
});

// A fake of the wasi:http / wasi:io resources the transport uses; records calls and drops.
function fakeWasi({ status = 200, chunks = [], handleError = null, bigint = false } = {}) {
  const events = [];
  const res = (name, methods = {}) => ({ ...methods, [Symbol.dispose]() { events.push(`drop ${name}`); } });
  let written = [];
  const types = {
    Fields: { fromList(list) { events.push(`fields ${list.map(([k]) => k).join(",")}`); return res("fields"); } },
    OutgoingRequest: class {
      constructor() { this.set = {}; }
      setMethod(m) { this.set.method = m; }
      setScheme(s) { this.set.scheme = s; }
      setAuthority(a) { this.set.authority = a; }
      setPathWithQuery(p) { this.set.path = p; }
      body() {
        return res("outgoing-body", { write: () => res("output-stream", { blockingWriteAndFlush: (b) => written.push(...b) }) });
      }
    },
    RequestOptions: class {
      setConnectTimeout(ns) { events.push(`timeout ${typeof ns} ${ns}`); }
      setFirstByteTimeout() {}
      setBetweenBytesTimeout() {}
    },
    OutgoingBody: { finish() { events.push("finish"); } },
  };
  const pending = [...chunks];
  const response = res("incoming-response", {
    status: () => status,
    headers: () => res("headers", { entries: () => [["Content-Type", encodeUtf8("text/plain")]] }),
    consume: () => res("incoming-body", {
      stream: () => res("input-stream", {
        blockingRead(n) {
          events.push(`read ${typeof n}`);
          if (pending.length) return pending.shift();
          throw { tag: "closed" };
        },
      }),
    }),
  });
  const outgoingHandler = {
    handle(req, options) {
      events.push(`handle ${req.set.method.tag} ${req.set.scheme.tag} ${req.set.authority} ${req.set.path} ${options ? "options" : "none"}`);
      if (handleError) throw handleError;
      return res("future", {
        subscribe: () => res("pollable", { block: () => events.push("block") }),
        get: () => ({ tag: "ok", val: { tag: "ok", val: response } }),
      });
    },
  };
  return { wasi: { outgoingHandler, types, bigint }, events, written: () => Uint8Array.from(written) };
}

test("wasi transport: request built, body written after handle, response read to the end, resources dropped child first", () => {
  const f = fakeWasi({ status: 201, chunks: [encodeUtf8("hel"), encodeUtf8("lo")] });
  const send = wasiTransport(f.wasi);
  const r = send("POST", "https://api.example:8443/a?b=c", [["X-A", "1"]], encodeUtf8("payload"), 2);
  assert.equal(r.status, 201);
  assert.equal(r.text(), "hello");
  assert.equal(r.header("content-type"), "text/plain");
  assert.equal(decodeUtf8(f.written()), "payload");
  assert.deepEqual(f.events, [
    "fields X-A",
    "timeout number 2000000000",
    "handle post HTTPS api.example:8443 /a?b=c options",
    "drop output-stream",
    "finish",
    "block",
    "drop pollable",
    "drop future",
    "drop headers",
    "read number", "read number", "read number",
    "drop input-stream",
    "drop incoming-body",
    "drop incoming-response",
  ]);
});

test("wasi transport: u64 as BigInt for componentize-js; errors from handle and payload-wrapped errors", () => {
  const f = fakeWasi({ bigint: true });
  wasiTransport(f.wasi)("GET", "http://h/", [], null, 1);
  assert.ok(f.events.includes("timeout bigint 1000000000"));
  assert.ok(f.events.includes("read bigint"));
  const denied = fakeWasi({ handleError: { tag: "HTTP-request-denied" } });
  assert.throws(() => wasiTransport(denied.wasi)("GET", "https://nope.example/x", [], null, null),
    (e) => e instanceof NetworkError && e.code === "HTTP-request-denied");
  // componentize-js throws an Error whose `payload` is the WIT error.
  const wrapped = Object.assign(new Error("err"), { payload: { tag: "connection-refused" } });
  const refused = fakeWasi({ handleError: wrapped });
  assert.throws(() => wasiTransport(refused.wasi)("GET", "http://h/", [], null, null),
    (e) => e instanceof NetworkError && e.code === "connection-refused");
});

test("sleep: the monotonic clock's pollable, blocked on and dropped", () => {
  const events = [];
  const monotonicClock = {
    subscribeDuration(ns) {
      events.push(ns);
      return { block: () => events.push("block"), [Symbol.dispose]: () => events.push("drop") };
    },
  };
  const old = setTransport(null);
  try {
    _setWasi({ outgoingHandler: {}, types: {}, monotonicClock, bigint: true });
    http.sleep(1.5);
    http.sleep(0);
    assert.deepEqual(events, [1500000000n, "block", "drop"]);
  } finally {
    setTransport(old);
  }
});

test("build: plugins declaring [permissions] http get the connector-http world and SpiderMonkey", () => {
  assert.equal(wantsHttp('service_type = "x"\n[permissions]\nfiles = false\nhttp = ["https://a.example"]\n'), true);
  assert.equal(wantsHttp('[permissions]\nhttp = [\n  "https://a",\n  "http://*:*",\n]\n'), true);
  assert.equal(wantsHttp("[permissions]\nfiles = false\nhttp = []\n"), false);
  assert.equal(wantsHttp('[permissions]\nhttp = [  # none yet\n]\n'), false);
  assert.equal(wantsHttp('[other]\nhttp = ["https://a"]\n[permissions]\nfiles = true\n'), false);
  assert.equal(pickBackend(undefined, false), "spidermonkey");
  assert.equal(pickBackend("qjs", false), "qjs");
  assert.equal(pickBackend(undefined, true), "spidermonkey");
  assert.throws(() => pickBackend("qjs", true), /componentize-qjs/);
  const src = entrySource("/p/connector.js", { service_type: "s", name: "S", version: "1" }, "spidermonkey", true);
  assert.match(src, /import \* as outgoingHandler from "wasi:http\/outgoing-handler@0\.2\.12"/);
  assert.match(src, /_setWasi\(\{ outgoingHandler, types: httpTypes, monotonicClock, bigint: true \}\)/);
  assert.doesNotMatch(entrySource("/p/c.js", { service_type: "s", name: "S", version: "1" }, "qjs", false), /wasi:http/);
});

test("build: the entry exports json-lines, as bytes for SpiderMonkey and as text for QuickJS", () => {
  const meta = { service_type: "s", name: "S", version: "1" };
  assert.match(entrySource("/p/c.js", meta, "spidermonkey", false, true), /export const jsonLines = makeJsonLines\(\{ utf8: true \}\)/);
  assert.match(entrySource("/p/c.js", meta, "qjs", false, true), /export const jsonLines = makeJsonLines\(\{ utf8: false \}\)/);
  // A contract without the connector-json-lines world: records only.
  assert.doesNotMatch(entrySource("/p/c.js", meta, "qjs", false, false), /jsonLines/);
});
