// WIT glue: the exported `inlet:connector/source` interface and its `sync` resource. Imported by
// the entry module that the build generates:
//   import * as log from "inlet:connector/log@0.1.0"; import * as state from "inlet:connector/state@0.1.0";
//   export const source = makeSource(connector, manifest, { log, state });
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
