// Unit tests of the Google Cloud Storage connector under plain Node, against a small in-memory
// Cloud Storage JSON API behind the SDK's replaceable HTTP transport (no component, no host).
// The functional test with the real host, the real emulator and a JWT-checking token endpoint
// is tests/ftest/run google_cloud_storage. Run: node --test plugins/google_cloud_storage/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";

const { sdk, testing, importFromRoot } = await import("../../shared/graph/test/load.mjs");
const { http, Response, NetworkError } = sdk;
const { runSync, check } = testing;
const connector = await importFromRoot("plugins/google_cloud_storage/connector.js");
const gcs = await importFromRoot("plugins/google_cloud_storage/gcs.js");
const { MAX_DOCUMENT_SIZE } = await importFromRoot("plugins/shared/content/content.js");
const def = connector.default;

const E = "https://gcs.test";
const API = `${E}/storage/v1`;
const config = { buckets: ["alpha", "beta"], project_id: "proj-1", endpoint: E, retry_count: 3 };
const DATE = "Tue, 01 Dec 2026 10:00:00 GMT";
const json = (status, obj, headers = []) => new Response(status, [["content-type", "application/json"], ["date", DATE], ...headers], JSON.stringify(obj));
const gerror = (status, reason, message) => json(status, { error: { code: status, message, errors: [{ reason, message, domain: "global" }] } });

let generation = 1000;
/** An object resource as objects.list returns it. */
function blob(bucket, name, { size = 5, updated = "2026-11-30T08:00:00.123Z", ...extra } = {}) {
  const gen = String(++generation);
  return {
    kind: "storage#object", id: `${bucket}/${name}/${gen}`, name, bucket, generation: gen, metageneration: "1",
    contentType: "text/plain", timeCreated: "2026-11-01T00:00:00.000Z", updated, storageClass: "STANDARD",
    size: String(size), md5Hash: "x", selfLink: `${API}/b/${bucket}/o/${encodeURIComponent(name)}`, ...extra,
  };
}

/**
 * Buckets of objects (`store[bucket]`: resources), paged `pageSize` at a time with an opaque
 * page token; `content[bucket/name]` the bytes (else the name's bytes). `faults` maps a URL
 * part to responses given first. Every request is recorded.
 */
function storage({ store = {}, content = {}, pageSize = 1000, faults = {}, forbidden = [] } = {}) {
  const calls = [];
  const token = (i) => Buffer.from(`after:${i}`).toString("base64");
  const page = (items, q, key) => {
    const max = Math.min(Number(q.get("maxResults") ?? 1000), pageSize);
    const start = q.get("pageToken") ? Number(Buffer.from(q.get("pageToken"), "base64").toString().split(":")[1]) : 0;
    const slice = items.slice(start, start + max);
    return json(200, { kind: key, items: slice, ...(start + max < items.length ? { nextPageToken: token(start + max) } : {}) });
  };
  const route = (url) => {
    const u = new URL(url);
    const q = u.searchParams;
    const path = u.pathname.slice("/storage/v1".length);
    if (path === "/b") {
      if (!q.get("project")) return gerror(400, "required", "Required parameter: project");
      return page(Object.keys(store).map((name) => ({ kind: "storage#bucket", id: name, name })), q, "storage#buckets");
    }
    const list = /^\/b\/([^/]+)\/o$/.exec(path);
    if (list) {
      const bucket = decodeURIComponent(list[1]);
      if (forbidden.includes(bucket)) return gerror(403, "forbidden", `sa@x does not have storage.objects.list access to ${bucket}`);
      if (!store[bucket]) return gerror(404, "notFound", "The specified bucket does not exist.");
      return page(store[bucket], q, "storage#objects");
    }
    const obj = /^\/b\/([^/]+)\/o\/([^/]+)$/.exec(u.pathname.slice("/storage/v1".length));
    if (obj && q.get("alt") === "media") {
      const bucket = decodeURIComponent(obj[1]);
      const name = decodeURIComponent(obj[2]);
      const found = (store[bucket] ?? []).find((b) => b.name === name && (!q.get("generation") || b.generation === q.get("generation")));
      if (!found) return gerror(404, "notFound", "No such object");
      return new Response(200, [["content-type", "application/octet-stream"]], content[`${bucket}/${name}`] ?? Buffer.from(`bytes of ${name}`));
    }
    return gerror(404, "notFound", path);
  };
  const transport = (method, url, headers) => {
    calls.push({ method, url, headers });
    const key = Object.keys(faults).find((k) => url.includes(k) && faults[k].length);
    if (key) {
      const f = faults[key].shift();
      if (f instanceof Error) throw f;
      return f;
    }
    return route(url);
  };
  return { calls, transport };
}

/** Runs `fn` with `server` as the transport and http.sleep recording instead of sleeping. */
function withServer(server, fn) {
  const old = http.setTransport(server.transport);
  const oldSleep = http.sleep;
  const waited = [];
  http.sleep = (s) => waited.push(s);
  try { return { result: fn(), waited }; } finally { http.setTransport(old); http.sleep = oldSleep; }
}
const sync = (server, cfg = config, opts) => withServer(server, () => runSync(def, cfg, opts));
const byId = (docs) => Object.fromEntries(docs.map((d) => [d.id, d]));

test("documents carry Elastic's _id and fields (BLOB_ADAPTER), values as the API gives them", () => {
  const a = blob("alpha", "reports/Q1 (final)'s.txt", {
    size: 12, componentCount: 2, contentEncoding: "identity", contentLanguage: "en", metadata: { owner: "ops" }, storageClass: "NEARLINE",
  });
  const server = storage({ store: { alpha: [a], beta: [] } });
  const { docs } = sync(server).result;
  assert.equal(docs.length, 1);
  const d = docs[0];
  assert.equal(d.id, a.id);
  assert.equal(d.timestamp, a.updated);
  assert.deepEqual({ ...d.body, _attachment: undefined }, {
    _attachment: undefined,
    id: a.id, component_count: 2, content_encoding: "identity", content_language: "en", created_at: a.timeCreated,
    last_updated: a.updated, metadata: { owner: "ops" }, name: a.name, size: "12", storage_class: "NEARLINE", type: "text/plain",
    // urllib.parse.quote(name, safe="'"): '/', ' ', '(' and ')' encoded, the quote kept.
    url: "https://console.cloud.google.com/storage/browser/_details/alpha/reports%2FQ1%20%28final%29's.txt;tab=live_object?project=proj-1",
    version: a.generation, bucket_name: "alpha",
  });
});

test("fields the API leaves out are null, as Elastic's blob.get() makes them; no project, no ?project=", () => {
  const a = blob("alpha", "x.bin");
  const server = storage({ store: { alpha: [a], beta: [] } });
  const { docs } = sync(server, { ...config, project_id: "" }).result;
  const body = docs[0].body;
  for (const k of ["component_count", "content_encoding", "content_language", "metadata"]) assert.equal(body[k], null, k);
  assert.equal(body.url, "https://console.cloud.google.com/storage/browser/_details/alpha/x.bin;tab=live_object");
  assert.ok(server.calls.every((c) => !c.url.includes("userProject")), "no userProject without a project");
});

test("pyQuote is Python's urllib.parse.quote(s, safe=\"'\")", () => {
  const names = ["a b/c.txt", "(x)!*'~-_.", "ümlaut€/日本.pdf", "100%+#?&=;,@$:", "tab\there"];
  const python = JSON.parse(execFileSync("python3", ["-c",
    "import json,sys,urllib.parse; print(json.dumps([urllib.parse.quote(s, safe=\"'\") for s in json.loads(sys.argv[1])]))",
    JSON.stringify(names)]).toString());
  assert.deepEqual(names.map(connector.pyQuote), python);
});

test("contents: Elastic's extensions up to 10 MiB as _attachment, at the listed generation; others without", () => {
  const objs = [
    blob("alpha", "a.txt"), blob("alpha", "B.PDF"), blob("alpha", "img.png"), blob("alpha", "empty.txt", { size: 0 }),
    blob("alpha", "big.docx", { size: MAX_DOCUMENT_SIZE + 1 }), blob("alpha", "edge.docx", { size: MAX_DOCUMENT_SIZE }),
    blob("alpha", "folder/"), blob("alpha", "noext", { size: 3 }),
  ];
  const server = storage({ store: { alpha: objs, beta: [] }, content: { "alpha/a.txt": Buffer.from("hello") } });
  const docs = byId(sync(server).result.docs);
  const has = (o) => docs[o.id].attachment != null;
  assert.deepEqual(objs.map(has), [true, true, false, false, false, true, false, false]);
  assert.deepEqual([...docs[objs[0].id].attachment.val], [...Buffer.from("hello")]);
  const media = server.calls.filter((c) => c.url.includes("alt=media"));
  assert.equal(media.length, 3);
  assert.ok(media[0].url.startsWith(`${API}/b/alpha/o/a.txt?alt=media&generation=${objs[0].generation}&userProject=proj-1`), media[0].url);
});

test("an object gone before its download is indexed without content", () => {
  const a = blob("alpha", "gone.txt");
  const server = storage({ store: { alpha: [a], beta: [] }, faults: { "gone.txt?alt=media": [gerror(404, "notFound", "No such object")] } });
  const { docs } = sync(server).result;
  assert.equal(docs.length, 1);
  assert.equal(docs[0].attachment, null);
});

test("objects.list pages: maxResults=1000, the page token sent back until there is none; names encoded", () => {
  const alpha = Array.from({ length: 7 }, (_, i) => blob("alpha", `f/n${i}.bin`));
  const beta = [blob("beta", "b.bin")];
  const server = storage({ store: { alpha, beta }, pageSize: 3 });
  const { docs } = sync(server).result;
  assert.deepEqual(docs.map((d) => d.id), [...alpha, ...beta].map((b) => b.id));
  const lists = server.calls.filter((c) => /\/o\?/.test(c.url));
  assert.equal(lists.length, 4); // alpha: 3 pages, beta: 1
  assert.ok(lists.every((c) => c.url.includes("maxResults=1000") && c.url.includes("userProject=proj-1") && c.url.includes("fields=nextPageToken%2Citems(")));
  assert.ok(!lists[0].url.includes("pageToken") && lists[1].url.includes(`pageToken=${encodeURIComponent(Buffer.from("after:3").toString("base64"))}`));
});

test("buckets * lists every bucket of the project (paged) and needs project_id", () => {
  const server = storage({ store: { b1: [blob("b1", "x.bin")], b2: [], b3: [blob("b3", "y.bin")] }, pageSize: 2 });
  const { result } = sync(server, { ...config, buckets: ["*"] });
  assert.deepEqual(result.docs.map((d) => d.body.bucket_name), ["b1", "b3"]);
  const bl = server.calls.filter((c) => c.url.startsWith(`${API}/b?`));
  assert.equal(bl.length, 2);
  assert.ok(bl[0].url.includes("project=proj-1") && bl[0].url.includes("userProject=proj-1"));
  assert.deepEqual(JSON.parse(result.cursor).buckets, ["b1", "b2", "b3"]);
  assert.throws(() => sync(server, { ...config, buckets: ["*"], project_id: "" }), /project_id is required with buckets "\*"/);
});

test("429/503/5xx are retried with Retry-After or Elastic's back-off, then the sync fails", () => {
  const a = blob("alpha", "a.txt");
  const server = storage({
    store: { alpha: [a], beta: [] },
    faults: {
      "/b/alpha/o?": [gerror(503, "backendError", "busy"), new Response(429, [["retry-after", "7"]], "")],
      "a.txt?alt=media": [gerror(500, "internalError", "oops")],
    },
  });
  const { result, waited } = sync(server);
  assert.equal(result.docs.length, 1);
  assert.ok(result.docs[0].attachment);
  assert.deepEqual(waited, [2, 7, 2]);

  const failing = storage({ store: { alpha: [a], beta: [] }, faults: { "/b/beta/o?": Array(9).fill(gerror(502, "badGateway", "down")) } });
  assert.throws(() => sync(failing, { ...config, retry_count: 2 }), (e) => e.kind === "network" && /HTTP 502 after 2 retries/.test(e.message));
  assert.equal(failing.calls.filter((c) => c.url.includes("/b/beta/o?")).length, 3);
});

test("a broken connection is retried; a refused grant is not, and names the origin to grant", () => {
  const broken = Object.assign(new NetworkError("connection reset"), { code: "connection-terminated" });
  const server = storage({ store: { alpha: [blob("alpha", "x.bin")], beta: [] }, faults: { "/b/alpha/o?": [broken] } });
  const { result, waited } = sync(server);
  assert.equal(result.docs.length, 1);
  assert.deepEqual(waited, [2]);
  const denied = Object.assign(new NetworkError("request denied"), { code: "HTTP-request-denied" });
  const refused = storage({ store: { alpha: [], beta: [] }, faults: { "/b/alpha/o?": [denied] } });
  assert.throws(() => sync(refused), /Grant https:\/\/gcs\.test in this connector's grants\.http/);
});

test("a bucket the key may not list is skipped (Elastic's warning); a missing one is a configuration error", () => {
  const server = storage({ store: { alpha: [blob("alpha", "x.bin")], beta: [blob("beta", "y.bin")] }, forbidden: ["alpha"] });
  const { result } = sync(server);
  assert.deepEqual(result.docs.map((d) => d.body.bucket_name), ["beta"]);
  // Not read, so not known: the next incremental sync reads it whole.
  assert.deepEqual(JSON.parse(result.cursor).buckets, ["beta"]);
  const missing = storage({ store: { alpha: [] } });
  assert.throws(() => sync(missing), (e) => e.kind === "config" && /buckets: bucket beta does not exist/.test(e.message));
});

test("401 is an authentication error saying which credential to give", () => {
  const server = storage({ store: { alpha: [] }, faults: { "/b/alpha/o?": [gerror(401, "required", "Anonymous caller")] } });
  assert.throws(() => sync(server), (e) => e.kind === "auth" && /service_account_credentials/.test(e.message) && /google_service_account/.test(e.message));
});

test("incremental: objects updated since the last sync's start (Cloud Storage's clock, minus the margin); new buckets whole", () => {
  const started = Date.parse(DATE);
  const iso = (ms) => new Date(ms).toISOString();
  const old = blob("alpha", "old.txt", { updated: iso(started - connector.CLOCK_MARGIN_MS - 1) });
  const edge = blob("alpha", "edge.txt", { updated: iso(started - connector.CLOCK_MARGIN_MS) });
  const fresh = blob("alpha", "fresh.txt", { updated: iso(started + 5000) });
  const betaOld = blob("beta", "b-old.bin", { updated: iso(started - 86400000) });
  const store = { alpha: [old, edge, fresh], beta: [betaOld] };

  const full = sync(storage({ store })).result;
  assert.equal(full.docs.length, 4);
  const cursor = JSON.parse(full.cursor);
  assert.deepEqual(cursor, { started: iso(started), buckets: ["alpha", "beta"] });

  const server = storage({ store });
  const inc = sync(server, config, { kind: "incremental", cursor: full.cursor }).result;
  assert.deepEqual(inc.docs.map((d) => d.id).sort(), [edge.id, fresh.id].sort());
  assert.equal(server.calls.filter((c) => c.url.includes("alt=media")).length, 2, "only the changed objects are downloaded");

  // beta was not in the last sync's buckets: all of it is sent.
  const narrow = JSON.stringify({ ...cursor, buckets: ["alpha"] });
  assert.deepEqual(sync(storage({ store }), config, { kind: "incremental", cursor: narrow }).result.docs.map((d) => d.id).sort(),
    [edge.id, fresh.id, betaOld.id].sort());
  // No usable cursor: everything.
  assert.equal(sync(storage({ store }), config, { kind: "incremental", cursor: null }).result.docs.length, 4);
  assert.equal(sync(storage({ store }), config, { kind: "incremental", cursor: '{"started":"never"}' }).result.docs.length, 4);
});

test("a cursor too big for the host leaves the bucket names out", () => {
  const names = Array.from({ length: 2000 }, (_, i) => `bucket-with-a-rather-long-name-${i}`);
  const c = connector.fitCursor({ started: "2026-12-01T10:00:00.000Z", buckets: names });
  assert.deepEqual(c, { started: "2026-12-01T10:00:00.000Z", buckets: null });
  const small = { started: "2026-12-01T10:00:00.000Z", buckets: ["a"] };
  assert.equal(connector.fitCursor(small), small);
});

test("configuration errors name the key", () => {
  const bad = (patch, re) => assert.throws(() => connector.settings({ ...config, ...patch }), (e) => e.name === "ConfigError" && re.test(e.message));
  bad({ buckets: [] }, /^buckets must name at least one bucket/);
  bad({ buckets: ["Bad_Bucket"] }, /^buckets: "Bad_Bucket" is not a Cloud Storage bucket name/);
  bad({ retry_count: 21 }, /^retry_count must be a whole number from 0 to 20/);
  bad({ endpoint: "storage.googleapis.com" }, /^endpoint must be a scheme and host/);
  bad({ endpoint: "https://x/path" }, /^endpoint must be a scheme and host/);
  bad({ project_id: "a b" }, /^project_id must be a Google Cloud project ID/);
  assert.deepEqual(connector.settings({ buckets: ["a-b.c", "a-b.c"] }), {
    buckets: ["a-b.c"], retries: 3, projectId: "", endpoint: "https://storage.googleapis.com",
  });
});

test("the form: Elastic's keys, labels, types and order, then Inlet's; the key is sensitive and optional", () => {
  const { schema, metadata } = withServer(storage({ store: { alpha: [], beta: [] } }), () => check(def, config)).result;
  const f = Object.fromEntries(schema.map((x) => [x.key, x]));
  assert.deepEqual(schema.map((x) => x.key), ["buckets", "service_account_credentials", "use_text_extraction_service", "retry_count", "project_id", "endpoint"]);
  assert.deepEqual([f.buckets.label, f.buckets.type, f.buckets.display, f.buckets.required], ["Google Cloud Storage buckets", "list", "textarea", true]);
  const key = f.service_account_credentials;
  assert.deepEqual([key.label, key.type, key.display, key.sensitive, key.required], ["Google Cloud service account JSON", "str", "textarea", true, false]);
  assert.deepEqual([f.use_text_extraction_service.type, f.use_text_extraction_service.defaultValue, f.use_text_extraction_service.uiRestrictions], ["bool", false, ["advanced"]]);
  assert.equal(f.endpoint.defaultValue, "https://storage.googleapis.com");
  assert.equal(f.retry_count.defaultValue, 3);
  assert.deepEqual(metadata.features.incrementalSync, true);
  assert.deepEqual(metadata.features.advancedRules, false);
});

test("ping lists one object of each configured bucket, or one bucket of the project for *", () => {
  const server = storage({ store: { alpha: [blob("alpha", "x.bin")], beta: [] } });
  withServer(server, () => check(def, config));
  assert.deepEqual(server.calls.map((c) => new URL(c.url).pathname), ["/storage/v1/b/alpha/o", "/storage/v1/b/beta/o"]);
  assert.ok(server.calls.every((c) => c.url.includes("maxResults=1&")));
  const star = storage({ store: { alpha: [] } });
  withServer(star, () => check(def, { ...config, buckets: ["*"] }));
  assert.equal(star.calls.length, 1);
  assert.ok(star.calls[0].url.startsWith(`${API}/b?project=proj-1&maxResults=1`));
  const denied = storage({ store: { alpha: [], beta: [] }, forbidden: ["beta"] });
  assert.throws(() => withServer(denied, () => check(def, config)), (e) => e.kind === "auth" && /Storage Object Viewer/.test(e.message));
  assert.throws(() => withServer(storage({ store: { alpha: [] } }), () => check(def, config)), /buckets: bucket beta does not exist/);
});

test("retryDelay: Retry-After in seconds or as a date, capped at 5 minutes; else 2, 4, 8 s", () => {
  const r = (v) => new Response(429, v == null ? [] : [["retry-after", v]], "");
  assert.equal(gcs.retryDelay(r("7"), 0), 7);
  assert.equal(gcs.retryDelay(r("9999"), 0), 300);
  assert.equal(gcs.retryDelay(r("Tue, 01 Dec 2026 10:00:30 GMT"), 0, Date.parse(DATE)), 30);
  assert.deepEqual([0, 1, 2].map((a) => gcs.retryDelay(r(null), a)), [2, 4, 8]);
});

test("the plugin never sets Authorization (the host's credential does)", () => {
  const server = storage({ store: { alpha: [blob("alpha", "a.txt")], beta: [] } });
  sync(server);
  assert.ok(server.calls.length > 0);
  assert.ok(server.calls.every((c) => c.headers.every(([k]) => k.toLowerCase() !== "authorization")));
});
