#!/usr/bin/env -S node --experimental-wasm-extended-const
// Smoke-test a built connector component without the Inlet host: transpile it with jco into
// JS + core wasm (run by V8, WASI from @bytecodealliance/preview2-shim), then call its exports
// like the host does and print what came back.
//
//   node sdk/js/test/run-component.mjs <component.wasm> [--config '{"count":5}'] [--docs N]
//
// Throughput measured here is V8 running the guest, not wasmtime: only a rough guide.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const sdk = path.dirname(here);
const args = process.argv.slice(2);
const wasm = path.resolve(args[0] ?? "");
if (!args[0] || !fs.existsSync(wasm)) {
  console.error("usage: run-component.mjs <component.wasm> [--config JSON] [--show N]");
  process.exit(2);
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const config = JSON.parse(opt("--config", "{}"));
const show = Number(opt("--show", "2"));

const name = path.basename(wasm, ".wasm");
const out = path.join(sdk, "node_modules", ".cache", "inlet-test", name);
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const shim = path.relative(out, path.join(here, "host-shim.js")).split(path.sep).join("/");
execFileSync(path.join(sdk, "node_modules", ".bin", "jco"), [
  "transpile", wasm, "-o", out, "--no-typescript", "--name", name,
  "--map", `inlet:connector/log@0.1.0=${shim}`,
  "--map", `inlet:connector/state@0.1.0=${shim}`,
  "--map", `inlet:connector/sql@0.1.0=${shim}`,
], { stdio: ["ignore", "ignore", "inherit"] });

const mod = await import(pathToFileURL(path.join(out, `${name}.js`)).href);
const source = mod.source ?? mod["inlet:connector/source@0.1.0"] ?? mod.source$0_1_0;
if (!source) throw new Error(`no source export; exports: ${Object.keys(mod)}`);
const host = await import(pathToFileURL(path.join(here, "host-shim.js")).href);

const pairs = Object.entries(config).map(([key, v]) => ({ key, value: JSON.stringify(v) }));
const report = {};
report.metadata = source.metadata();
report.schema = source.configurationSchema().map((f) => `${f.key}:${f.type}/${f.display} default=${f.defaultValue}`);
const attempt = (fn) => {
  try { fn(); return "ok"; } catch (e) { return e?.payload ?? e?.message ?? String(e); }
};
report.validateConfig = attempt(() => source.validateConfig(pairs));
report.ping = attempt(() => source.ping(pairs));

function drain(kind, cursor) {
  const req = { configuration: pairs, advancedRules: undefined, cursor };
  const t0 = performance.now();
  const sync = source[kind](req);
  let docs = 0, batches = 0, bytes = 0, deletes = 0;
  const sample = [];
  for (;;) {
    let batch;
    try { batch = sync.nextBatch(); } catch (e) {
      return { docs, batches, error: e?.payload ?? String(e), sample };
    }
    if (batch == null) break;
    batches++;
    for (const d of batch) {
      docs++;
      bytes += d.body.length;
      if (d.op === "delete") deletes++;
      if (sample.length < show) sample.push({ ...d, body: JSON.parse(d.body) });
    }
  }
  const secs = (performance.now() - t0) / 1000;
  const c = sync.cursor();
  return { docs, deletes, batches, bodyBytes: bytes, seconds: +secs.toFixed(3),
           docsPerSec: Math.round(docs / secs), cursor: c ?? null, sample };
}
const guarded = (kind, cursor) => { try { return drain(kind, cursor); } catch (e) { return { error: e?.payload ?? String(e) }; } };
report.fullSync = guarded("fullSync", undefined);
if (report.metadata.features.incrementalSync) {
  report.incrementalSync = guarded("incrementalSync", report.fullSync.cursor ?? undefined);
}
report.logs = host.logs.slice(0, 5);
console.log(JSON.stringify(report, null, 2));
