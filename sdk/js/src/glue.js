// WIT glue: the exported `inlet:connector/source` interface and its `sync` resource, and the
// optional `inlet:connector/json-lines` interface. Imported by the entry module that the build
// generates:
//   import * as log from "inlet:connector/log@0.1.0"; import * as state from "inlet:connector/state@0.1.0";
//   export const source = makeSource(connector, manifest, { log, state });
//   export const jsonLines = makeJsonLines({ utf8: true });
import { makeCalls } from "./core.js";
import { describe } from "./errors.js";
import { _setHost } from "./host.js";

const fail = (e) => { throw describe(e); }; // WIT result errors are thrown as { kind, message }
const json = (v) => JSON.stringify(v);

export function makeSource(def, manifest, host) {
  if (host) _setHost({ log: (level, msg) => host.log.log(level, msg), state: host.state });
  const calls = makeCalls(def, manifest);

  class Sync {
    constructor(runner) { this.runner = runner; }
    nextBatch() { try { return this.runner.nextBatch(); } catch (e) { return fail(e); } }
    cursor() { try { return this.runner.cursor(); } catch { return null; } }
  }
  const guard = (fn) => (...args) => { try { return fn(...args); } catch (e) { return fail(e); } };
  const schema = calls.schema().map((f) => ({
    ...f,
    defaultValue: f.defaultValue == null ? null : json(f.defaultValue),
    tooltip: f.tooltip ?? null,
    dependsOn: f.dependsOn.map((d) => ({ field: d.field, value: json(d.value) })),
    validations: f.validations.map((v) => ({ type: v.type, constraint: json(v.constraint) })),
    options: f.options.map((o) => ({ label: String(o.label), value: json(o.value) })),
  }));
  return {
    metadata: () => calls.metadata(),
    configurationSchema: () => schema,
    validateConfig: guard(calls.validateConfig),
    ping: guard(calls.ping),
    validateAdvancedRules: guard(calls.validateAdvancedRules),
    fullSync: guard((req) => new Sync(calls.fullSync(req))),
    incrementalSync: guard((req) => new Sync(calls.incrementalSync(req))),
    accessControlSync: guard((req) => new Sync(calls.accessControlSync(req))),
    Sync,
  };
}

/**
 * The exported `json-lines` interface: the host asks it for batches instead of `Sync.nextBatch`.
 * Plain documents cross as one JSON-lines text per batch instead of a record of three strings
 * each. `utf8`: hand the text over as bytes (`json-lines-utf8`), for SpiderMonkey, whose
 * bindings measure a string's UTF-8 length in JavaScript one character at a time while
 * TextEncoder is native; QuickJS has no TextEncoder and lowers strings natively.
 */
export function makeJsonLines({ utf8 = false } = {}) {
  const encoder = utf8 ? new TextEncoder() : null;
  // One buffer for every batch (the bindings copy it out before the call returns): a new array
  // per batch is garbage the GC lets pile up, and linear memory never shrinks.
  let buffer = new Uint8Array(0);
  return {
    nextBatch(sync) {
      let batch;
      try { batch = sync.runner.nextLines(); } catch (e) { return fail(e); }
      if (batch === null || !encoder || batch.tag !== "json-lines") return batch;
      const most = batch.val.length * 3; // UTF-8 bytes per UTF-16 unit, at most
      if (buffer.length < most) buffer = new Uint8Array(Math.max(most, 2 * buffer.length));
      const { written } = encoder.encodeInto(batch.val, buffer);
      return { tag: "json-lines-utf8", val: buffer.subarray(0, written) };
    },
  };
}
