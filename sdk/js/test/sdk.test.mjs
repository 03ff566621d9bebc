// Unit tests of the SDK's plain-JS part (no component build). Run: node --test sdk/js/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { defineConnector, fields, Document, AuthError } from "../src/index.js";
import { runSync, check } from "../src/testing.js";
import { makeCalls } from "../src/core.js";
import { makeSource, makeJsonLines } from "../src/glue.js";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

// The plugin imports "@inlet/sdk", which plain Node cannot resolve from plugins/: point it here.
const here = path.dirname(fileURLToPath(import.meta.url));
const src = fs.readFileSync(path.join(here, "../../../plugins/loadgen-js/connector.js"), "utf8")
  .replace('from "@inlet/sdk"', `from ${JSON.stringify(pathToFileURL(path.join(here, "../src/index.js")).href)}`);
const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "inlet-sdk-test-")), "connector.mjs");
fs.writeFileSync(tmp, src);
const { default: loadgen } = await import(pathToFileURL(tmp).href);

const demo = defineConnector({
  batchSize: 3,
  configuration: {
    n: fields.integer("N", { order: 2, default: 5 }),
    tags: fields.list("Tags", { order: 1, required: false }),
  },
  *getDocs(config) {
    for (let i = 0; i < config.n; i++) yield { _id: i, tags: config.tags ?? null, x: i };
    this.setCursor({ n: config.n });
  },
});

test("schema sorted, defaults, features", () => {
  const { metadata, schema } = check(demo, {});
  assert.deepEqual(schema.map((f) => f.key), ["tags", "n"]);
  assert.equal(schema[1].defaultValue, 5);
  assert.equal(metadata.features.incrementalSync, false);
});

test("batches, cursor, coercion", () => {
  const r = runSync(demo, { n: "7", tags: "a, b" });
  assert.equal(r.batches, 3);
  assert.equal(r.docs.length, 7);
  assert.deepEqual(r.docs[0], { id: "0", timestamp: null, body: { tags: ["a", "b"], x: 0 }, op: "index", attachment: null });
  assert.equal(r.cursor, '{"n":7}');
});

test("typed errors", () => {
  const bad = defineConnector({ *getDocs() { throw new AuthError("denied"); } });
  assert.throws(() => runSync(bad, {}), (e) => e.kind === "auth");
  const buggy = defineConnector({ *getDocs() {}, validateConfig() { null.x; } });
  assert.throws(() => check(buggy, {}), (e) => e.kind === "internal");
});

test("documents and deletes", () => {
  const c = defineConnector({
    *getDocs() {
      yield new Document("a", { k: 1 }, { attachment: new Uint8Array([0, 1]) });
      yield Document.delete("b");
    },
  });
  const { docs } = runSync(c, {});
  assert.equal(docs[0].attachment.tag, "bytes");
  assert.equal(docs[1].op, "delete");
});

test("loadgen full and incremental", () => {
  let r = runSync(loadgen, { count: 10, doc_bytes: 1024 });
  assert.deepEqual(r.docs.map((d) => d.id), Array.from({ length: 10 }, (_, i) => `doc-${i}`));
  assert.equal(r.cursor, "10");
  const size = JSON.stringify(r.docs[0].body).length;
  assert.ok(size > 900 && size <= 1100, `size ${size}`);
  r = runSync(loadgen, { count: 12 }, { kind: "incremental", cursor: r.cursor });
  assert.deepEqual(r.docs.map((d) => d.id), ["doc-10", "doc-11"]);
  r = runSync(loadgen, { count: 11 }, { kind: "incremental", cursor: r.cursor });
  assert.deepEqual(r.docs.map((d) => [d.id, d.op]), [["doc-11", "delete"]]);
});

// One of each kind of document, plain ones around the others.
const everything = defineConnector({
  batchSize: 4,
  *getDocs() {
    const when = new Date(Date.UTC(2024, 4, 1, 10));
    yield { _id: "p1", _timestamp: "2024-01-01T00:00:00Z", text: 'a "quoted"\nline\ttab\\' };
    yield { _id: "p2", name: "Zoë 東京 \u{1f600}", ctl: "\x01\x7f", lone: "\ud800", when, n: 2.5, skip: undefined };
    yield { _id: "p3", _timestamp: when, nested: { _id: 1, a: [null, true] } };
    yield { _id: 4, x: "number id" };
    yield { id: "by-id", x: "id, not _id" };
    yield { _id: "ts", _timestamp: null };
    yield new Document("doc", { k: "v" }, { timestamp: "2024-02-02T00:00:00Z" });
    yield new Document("att", { k: 1 }, { attachment: new Uint8Array([0, 1]) });
    yield { _id: "p4", k: "after the records" };
    yield { _id: "p5", _attachment: new Uint8Array([2]), k: 5 };
    yield Document.delete("gone");
    for (let i = 0; i < 6; i++) yield { _id: `tail-${i}`, i };
    return { done: true };
  },
});

test("JSON lines give the same documents as records", () => {
  const lines = runSync(everything, {});
  const records = runSync(everything, {}, { jsonLines: false });
  assert.deepEqual(lines.docs, records.docs);
  assert.equal(lines.cursor, '{"done":true}');
  assert.equal(records.cursor, lines.cursor);
  assert.deepEqual(lines.docs.slice(0, 6).map((d) => d.id), ["p1", "p2", "p3", "4", "by-id", "ts"]);
});

test("JSON-lines batches keep order and limits", () => {
  const runner = makeCalls(everything).fullSync({ configuration: [], advancedRules: null, cursor: null });
  const kinds = [];
  for (let b; (b = runner.nextLines()) !== null;) kinds.push([b.tag, b.tag === "json-lines" ? b.val.split("\n").length : b.val.length]);
  assert.deepEqual(kinds, [["json-lines", 3], ["documents", 4], ["documents", 1], ["json-lines", 1],
    ["documents", 2], ["json-lines", 4], ["json-lines", 2]]);
});

test("JSON lines are one document per line, as JSON.stringify writes it", () => {
  const runner = makeCalls(everything).fullSync({ configuration: [], advancedRules: null, cursor: null });
  const { tag, val } = runner.nextLines();
  assert.equal(tag, "json-lines");
  const docs = [...everything.getDocs.call({ setCursor() {} })].slice(0, 3);
  assert.deepEqual(val.split("\n"), docs.map((d) => JSON.stringify(d)));
  assert.ok(val.includes("Zoë 東京 \u{1f600}") && val.includes("\\ud800"));
});

test("JSON lines as UTF-8 bytes for SpiderMonkey, as text for QuickJS", () => {
  const start = () => new (makeSource(everything, {}).Sync)(makeCalls(everything).fullSync({ configuration: [], advancedRules: null, cursor: null }));
  const asBytes = makeJsonLines({ utf8: true }).nextBatch(start());
  const asText = makeJsonLines().nextBatch(start());
  assert.equal(asBytes.tag, "json-lines-utf8");
  assert.ok(asBytes.val instanceof Uint8Array);
  assert.deepEqual(asText.tag, "json-lines");
  assert.equal(new TextDecoder().decode(asBytes.val), asText.val);
  // Documents that need a record are records in either form.
  const sync = start();
  const glue = makeJsonLines({ utf8: true });
  glue.nextBatch(sync);
  assert.equal(glue.nextBatch(sync).tag, "documents");
});
