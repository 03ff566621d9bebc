// Unit tests of the Graph client shared by sharepoint_online and onedrive, under plain Node with
// the SDK's replaceable HTTP transport. Run: node --test plugins/shared/graph/test/
import { test } from "node:test";
import assert from "node:assert/strict";

const { sdk, importFromRoot } = await import("./load.mjs");
const { http, Response } = sdk;
const graph = await importFromRoot("plugins/shared/graph/graph.js");

const json = (status, obj, headers = []) => new Response(status, [["content-type", "application/json"], ...headers], JSON.stringify(obj));
function serve(responses) {
  const calls = [];
  const transport = (method, url) => { calls.push(url); return responses[url].shift(); };
  const old = http.setTransport(transport);
  return { calls, restore: () => http.setTransport(old) };
}
// Record the waits instead of sleeping.
function sleeps(fn) {
  const waited = [];
  const old = http.sleep;
  http.sleep = (s) => waited.push(s);
  try { fn(); } finally { http.sleep = old; }
  return waited;
}

test("retryDelay: Retry-After seconds, capped at 5 minutes; the fallback without it", () => {
  const r = (v) => new Response(429, v == null ? [] : [["Retry-After", v]], "");
  assert.equal(graph.retryDelay(r("7"), 0), 7);
  assert.equal(graph.retryDelay(r("99999"), 0), 300);
  assert.equal(graph.retryDelay(r(null), 3), 8);
  assert.equal(graph.retryDelay(r(null), 3, () => 30), 30);
  assert.equal(graph.retryDelay(r("Wed, 21 Oct 2015 07:28:00 GMT"), 1), 2);
});

test("fileExtension is Python's splitext; extractable and sizeSkipReason are Elastic's rules", () => {
  assert.deepEqual(["a.TXT", ".profile", "..a.b", "Makefile", "x.tar.gz", ""].map(graph.fileExtension), [".TXT", "", ".b", "", ".gz", ""]);
  assert.deepEqual(["a.TXT", "a.png", ".txt", "a.docx"].map(graph.extractable), [true, false, false, true]);
  assert.equal(graph.sizeSkipReason(graph.MAX_DOCUMENT_SIZE), null);
  assert.match(graph.sizeSkipReason(graph.MAX_DOCUMENT_SIZE + 1), /above/);
  assert.equal(graph.sizeSkipReason(undefined), "empty");
});

test("graphBase: a scheme and host only, named by the field key", () => {
  assert.equal(graph.graphBase("https://graph.microsoft.us/"), "https://graph.microsoft.us/v1.0");
  assert.equal(graph.graphBase(""), "https://graph.microsoft.com/v1.0");
  assert.throws(() => graph.graphBase("graph.microsoft.com/v1.0", "graph_endpoint"), (e) => e.kind === "config" && /graph_endpoint/.test(e.message));
});

test("throttling: 429/503 without Retry-After wait throttleWait, other 5xx 2^attempt; maxRetries bounds them", () => {
  const U = "https://g.test/v1.0/x";
  const s = serve({ [U]: [json(429, {}), json(500, {}), json(503, {}, [["Retry-After", "2"]]), json(200, { ok: 1 })] });
  const client = new graph.GraphClient({ base: "https://g.test/v1.0", maxRetries: 3, throttleWait: () => 30 });
  let body;
  const waited = sleeps(() => { body = client.json(U); });
  s.restore();
  assert.deepEqual(body, { ok: 1 });
  assert.deepEqual(waited, [30, 2, 2]);
  const s2 = serve({ [U]: [json(503, {}), json(503, {}), json(503, { error: { code: "busy", message: "later" } })] });
  const c2 = new graph.GraphClient({ base: "https://g.test/v1.0", maxRetries: 2, throttleWait: () => 0 });
  sleeps(() => assert.throws(() => c2.json(U), (e) => e.kind === "network" && /503 after 2 retries \(busy: later\)/.test(e.message)));
  s2.restore();
});

test("delta: pages with the delta link on the last; missingOk covers the first page only", () => {
  const A = "https://g.test/v1.0/d?a", B = "https://g.test/v1.0/d?b";
  const client = new graph.GraphClient({ base: "https://g.test/v1.0" });
  let s = serve({ [A]: [json(200, { value: [1], "@odata.nextLink": B })], [B]: [json(200, { value: [2], "@odata.deltaLink": "L" })] });
  assert.deepEqual([...client.delta(A)], [{ items: [1], deltaLink: null }, { items: [2], deltaLink: "L" }]);
  s.restore();
  s = serve({ [A]: [json(404, { error: { code: "itemNotFound", message: "no" } })] });
  assert.deepEqual([...client.delta(A, { missingOk: true })], []);
  s.restore();
  s = serve({ [A]: [json(200, { value: [1], "@odata.nextLink": B })], [B]: [json(404, { error: { code: "itemNotFound", message: "gone" } })] });
  assert.throws(() => [...client.delta(A, { missingOk: true })], (e) => e.kind === "source" && /HTTP 404/.test(e.message));
  s.restore();
});
