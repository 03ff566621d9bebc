// Unit tests of the SDK's plain-JS part (no component build). Run: node --test sdk/js/test/
import { test } from "node:test";
import assert from "node:assert/strict";
import { defineConnector, fields, Document, AuthError } from "../src/index.js";
import { runSync, check } from "../src/testing.js";
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
