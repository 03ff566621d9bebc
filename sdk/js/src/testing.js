// Run a connector under plain Node, without building a component (unit tests, quick checks).
//   import { runSync } from "@inlet/sdk/testing";
//   const { docs, cursor } = runSync(connector, { count: 10 });
import { makeCalls } from "./core.js";
import { describe } from "./errors.js";

const pairs = (config) => Object.entries(config ?? {}).map(([key, v]) => ({ key, value: JSON.stringify(v) }));
const wrap = (fn) => { try { return fn(); } catch (e) { const d = describe(e); throw Object.assign(new Error(`${d.kind}: ${d.message}`), d); } };

// `jsonLines: true` hands batches over as the component does (`inlet:connector/json-lines`: plain
// documents as JSON lines, decoded back here; the rest as records); false uses records only
// (`sync.next-batch`). Both give the same documents.
export function runSync(def, config, { kind = "full", cursor = null, advancedRules = null, manifest = {}, jsonLines = true } = {}) {
  const calls = makeCalls(def, manifest);
  const req = { configuration: pairs(config), advancedRules: advancedRules == null ? null : JSON.stringify(advancedRules), cursor };
  const runner = wrap(() => calls[{ full: "fullSync", incremental: "incrementalSync", access_control: "accessControlSync" }[kind]](req));
  const docs = [];
  let batches = 0;
  for (;;) {
    const b = wrap(() => (jsonLines ? runner.nextLines() : { tag: "documents", val: runner.nextBatch() }));
    if (b == null || b.val == null) break;
    batches++;
    if (b.tag === "json-lines") for (const line of b.val.split("\n")) docs.push(fromLine(line));
    else for (const d of b.val) docs.push({ ...d, body: JSON.parse(d.body) });
  }
  return { docs, batches, cursor: runner.cursor() };
}

/** A JSON line as the host reads it: `_id` is the id, `_timestamp` the timestamp. */
function fromLine(line) {
  const { _id, _timestamp, ...body } = JSON.parse(line);
  return { id: _id, timestamp: _timestamp ?? null, body, op: "index", attachment: null };
}

export function check(def, config, manifest = {}) {
  const calls = makeCalls(def, manifest);
  wrap(() => calls.validateConfig(pairs(config)));
  wrap(() => calls.ping(pairs(config)));
  return { metadata: calls.metadata(), schema: calls.schema() };
}
