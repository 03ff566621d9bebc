// The language-neutral part of the glue: config decoding, batching, each exported call on plain
// values. Used by the component glue (glue.js) and by the local test runner (testing.js).
import { normalize as normalizeSchema } from "./fields.js";
import { Document, normalize as normalizeDoc } from "./document.js";
import { ConfigError, SourceError } from "./errors.js";

function coerce(type, v) {
  if (v == null) return v;
  if (type === "int" && typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Math.trunc(Number(v));
  if (type === "bool" && typeof v === "string") {
    const low = v.trim().toLowerCase();
    if (["true", "yes", "1", "on"].includes(low)) return true;
    if (["false", "no", "0", "off", ""].includes(low)) return false;
  }
  if (type === "list" && typeof v === "string") return v.split(",").map((s) => s.trim()).filter(Boolean);
  if (type === "str" && typeof v === "number") return String(v);
  return v;
}

/** [{ key, value: JSON text }] -> { key: value } with schema defaults filled in and types coerced. */
export function makeConfig(schema, pairs) {
  const cfg = {};
  for (const { key, value } of pairs) {
    try { cfg[key] = JSON.parse(value); } catch { cfg[key] = value; }
  }
  for (const f of schema) {
    if ((cfg[f.key] == null || cfg[f.key] === "") && f.defaultValue != null) cfg[f.key] = f.defaultValue;
    if (f.key in cfg) cfg[f.key] = coerce(f.type, cfg[f.key]);
  }
  return cfg;
}

function decodeRules(text) {
  if (text == null) return null;
  try { return JSON.parse(text); } catch (e) { throw new ConfigError(`advanced rules are not valid JSON: ${e.message}`); }
}
const decodeCursor = (text) => { if (text == null) return null; try { return JSON.parse(text); } catch { return text; } };
const encodeCursor = (v) => (v == null ? null : JSON.stringify(v));

const NOTHING = Symbol("nothing");

/** A document a JSON line carries as it is: Elastic's object shape, nothing to convert. */
function isPlain(item) {
  if (item === null || typeof item !== "object" || Array.isArray(item) || item instanceof Document) return false;
  const id = item._id, ts = item._timestamp;
  return typeof id === "string" && id !== "" && item._attachment === undefined &&
    (ts === undefined || typeof ts === "string" || ts instanceof Date);
}

/** Pulls up to `batchSize` documents (or `batchBytes` of bodies) per nextBatch(); nothing is read early. */
export class SyncRunner {
  constructor(ctx, iterable, defaultCursor = null) {
    if (iterable == null || typeof iterable[Symbol.iterator] !== "function") {
      throw new SourceError("the sync method must be a generator (function*) or return an iterable; async generators are not supported");
    }
    this.ctx = ctx;
    this.batchSize = Math.max(1, ctx.batchSize ?? 100);
    this.batchBytes = Math.max(1, ctx.batchBytes ?? 4 * 1024 * 1024);
    this.defaultCursor = defaultCursor;
    this.it = iterable[Symbol.iterator]();
    this.done = false;
    this.returned = undefined;
    this.peek = this.pull(); // setup errors fail the sync call itself
  }
  pull() {
    const r = this.it.next();
    if (r.done) { this.done = true; this.returned = r.value; return NOTHING; }
    return r.value;
  }
  take() {
    if (this.peek !== NOTHING) { const item = this.peek; this.peek = NOTHING; return item; }
    return this.done ? NOTHING : this.pull();
  }
  nextBatch() {
    const batch = [];
    let size = 0;
    while (batch.length < this.batchSize && size < this.batchBytes) {
      const item = this.take();
      if (item === NOTHING) break;
      const d = normalizeDoc(item);
      size += d.body.length + (d.attachment ? d.attachment.val.length : 0);
      batch.push(d);
    }
    return batch.length ? batch : null;
  }
  /**
   * The next batch for `inlet:connector/json-lines`, or null when the sync is complete:
   * `{ tag: "json-lines", val: text }`, JSON lines of the plain documents to index (objects with
   * a string `_id`, a string or Date `_timestamp` if any, no `_attachment`), each encoded whole
   * with no copy of the object; or `{ tag: "documents", val: [...] }` for everything else
   * (deletions, attachments, `Document`s), as nextBatch makes them. A batch ends where the kind
   * changes, so documents keep their order.
   */
  nextLines() {
    const first = this.take();
    if (first === NOTHING) return null;
    if (!isPlain(first)) return { tag: "documents", val: this.records(first) };
    const lines = [JSON.stringify(first)];
    let size = lines[0].length;
    while (lines.length < this.batchSize && size < this.batchBytes) {
      const item = this.take();
      if (item === NOTHING) break;
      if (!isPlain(item)) { this.peek = item; break; }
      const line = JSON.stringify(item);
      lines.push(line);
      size += line.length;
    }
    return { tag: "json-lines", val: lines.join("\n") };
  }
  records(first) {
    const batch = [normalizeDoc(first)];
    let size = batch[0].body.length;
    while (batch.length < this.batchSize && size < this.batchBytes) {
      const item = this.take();
      if (item === NOTHING) break;
      if (isPlain(item)) { this.peek = item; break; }
      const d = normalizeDoc(item);
      size += d.body.length + (d.attachment ? d.attachment.val.length : 0);
      batch.push(d);
    }
    return batch;
  }
  cursor() {
    const v = this.ctx._cursor !== undefined ? this.ctx._cursor : this.returned;
    return v == null ? this.defaultCursor : encodeCursor(v);
  }
}

const OPTIONAL = new Set(["validateConfig", "ping"]);
const notImplemented = (what) => () => { throw new Error(`this connector does not implement ${what}`); };

/** Checks a definition and returns the exported calls on plain values. */
export function makeCalls(def, manifest = {}) {
  const schema = normalizeSchema(typeof def.configuration === "function" ? def.configuration() : def.configuration ?? {});
  for (const k of ["serviceType", "name", "version"]) {
    const m = manifest[k];
    if (def[k] != null && m != null && def[k] !== m) throw new Error(`connector ${k} is ${JSON.stringify(def[k])} but plugin.toml says ${JSON.stringify(m)}; keep one`);
  }
  const features = {
    incrementalSync: typeof def.getDocsIncrementally === "function",
    documentLevelSecurity: typeof def.getAccessControl === "function",
    advancedRules: typeof def.validateAdvancedRules === "function",
    basicRules: true,
    ...(def.features ?? {}),
  };
  const metadata = {
    serviceType: def.serviceType ?? manifest.serviceType ?? "connector",
    name: def.name ?? manifest.name ?? def.serviceType ?? "connector",
    version: def.version ?? manifest.version ?? "0.0.0",
    features,
  };
  // One context per call: `this` inside connector methods (the definition's methods and
  // properties, plus setCursor).
  const context = () => {
    const ctx = Object.create(def);
    ctx._cursor = undefined;
    ctx.setCursor = (v) => { ctx._cursor = v; };
    return ctx;
  };
  const cfg = (pairs) => makeConfig(schema, pairs);
  const call = (name, ...args) => {
    const ctx = context();
    const fn = def[name] ?? (OPTIONAL.has(name) ? () => undefined : notImplemented(name));
    return [ctx, fn.apply(ctx, args)];
  };
  return {
    metadata: () => metadata,
    schema: () => schema,
    validateConfig: (pairs) => { call("validateConfig", cfg(pairs)); },
    ping: (pairs) => { call("ping", cfg(pairs)); },
    validateAdvancedRules(pairs, rules) {
      if (typeof def.validateAdvancedRules !== "function") return { valid: true, messages: [] };
      const [, res] = call("validateAdvancedRules", cfg(pairs), decodeRules(rules));
      if (res == null || res === true) return { valid: true, messages: [] };
      if (res === false) return { valid: false, messages: ["advanced rules are invalid"] };
      if (typeof res === "string") return { valid: false, messages: [res] };
      if (Array.isArray(res)) return { valid: res.length === 0, messages: res.map(String) };
      return { valid: !!res.valid, messages: (res.messages ?? []).map(String) };
    },
    fullSync({ configuration, advancedRules, cursor }) {
      const [ctx, it] = call("getDocs", cfg(configuration), decodeRules(advancedRules));
      return new SyncRunner(ctx, it);
    },
    incrementalSync({ configuration, advancedRules, cursor }) {
      const [ctx, it] = call("getDocsIncrementally", cfg(configuration), decodeCursor(cursor), decodeRules(advancedRules));
      return new SyncRunner(ctx, it, cursor ?? null);
    },
    accessControlSync({ configuration }) {
      const [ctx, it] = call("getAccessControl", cfg(configuration));
      return new SyncRunner(ctx, it);
    },
  };
}
