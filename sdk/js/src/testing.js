// Run a connector under plain Node, without building a component (unit tests, quick checks).
//   import { runSync } from "@inlet/sdk/testing";
//   const { docs, cursor } = runSync(connector, { count: 10 });
import { makeCalls } from "./core.js";
import { describe } from "./errors.js";

const pairs = (config) => Object.entries(config ?? {}).map(([key, v]) => ({ key, value: JSON.stringify(v) }));
const wrap = (fn) => { try { return fn(); } catch (e) { const d = describe(e); throw Object.assign(new Error(`${d.kind}: ${d.message}`), d); } };

export function runSync(def, config, { kind = "full", cursor = null, advancedRules = null, manifest = {} } = {}) {
  const calls = makeCalls(def, manifest);
  const req = { configuration: pairs(config), advancedRules: advancedRules == null ? null : JSON.stringify(advancedRules), cursor };
  const runner = wrap(() => calls[{ full: "fullSync", incremental: "incrementalSync", access_control: "accessControlSync" }[kind]](req));
  const docs = [];
  let batches = 0;
  for (;;) {
    const b = wrap(() => runner.nextBatch());
    if (b == null) break;
    batches++;
    for (const d of b) docs.push({ ...d, body: JSON.parse(d.body) });
  }
  return { docs, batches, cursor: runner.cursor() };
}

export function check(def, config, manifest = {}) {
  const calls = makeCalls(def, manifest);
  wrap(() => calls.validateConfig(pairs(config)));
  wrap(() => calls.ping(pairs(config)));
  return { metadata: calls.metadata(), schema: calls.schema() };
}
