#!/usr/bin/env node
// Build a JavaScript connector project into a WASI 0.2 component and its plugin manifest.
//
//   node sdk/js/build.mjs <project dir> [-o <out dir>] [--entry connector.js] [--wit <dir>]
//                         [--backend qjs|spidermonkey] [--stub-wasi] [--opt-size]
//
// A project is a directory with plugin.toml (service_type, name, version, permissions) and an ES
// module (default connector.js) whose default export is `defineConnector({...})`. The SDK and the
// project are bundled into one module (rolldown), then componentized against wit/ (world
// `connector-json-lines`: batches as JSON lines): SpiderMonkey by default (componentize-js,
// ~12 MB, the faster engine for documents), or QuickJS (componentize-qjs, ~1.8 MB, less memory;
// see pickBackend). A project whose plugin.toml declares `[permissions] http` targets the
// `connector-http` world (which adds wasi:http/outgoing-handler, for `http` from the SDK) and is
// always built with SpiderMonkey. The .wasm and plugin.toml go to the out dir, by default the
// project dir itself.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SDK = path.dirname(fileURLToPath(import.meta.url));

function usage(msg) {
  if (msg) console.error(`error: ${msg}`);
  console.error("usage: build.mjs <project dir> [-o out] [--entry connector.js] [--wit dir] [--backend qjs|spidermonkey] [--stub-wasi] [--opt-size]");
  process.exit(2);
}

function parseArgs(argv) {
  const a = { project: null, out: null, entry: "connector.js", wit: null, backend: null, stubWasi: false, optSize: false };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const next = () => argv[++i] ?? usage(`${v} needs a value`);
    if (v === "-o" || v === "--out") a.out = next();
    else if (v === "--entry") a.entry = next();
    else if (v === "--wit") a.wit = next();
    else if (v === "--backend") a.backend = next();
    else if (v === "--stub-wasi") a.stubWasi = true;
    else if (v === "--opt-size") a.optSize = true;
    else if (v === "-h" || v === "--help") usage();
    else if (v.startsWith("-")) usage(`unknown option ${v}`);
    else if (!a.project) a.project = v;
    else usage(`unexpected ${v}`);
  }
  if (a.backend != null && !["qjs", "spidermonkey"].includes(a.backend)) usage("--backend is qjs or spidermonkey");
  a.project = path.resolve(a.project ?? ".");
  a.out = path.resolve(a.out ?? a.project);
  return a;
}

/** The top-level keys of plugin.toml (strings only) and its text. */
export function readManifest(project) {
  const file = path.join(project, "plugin.toml");
  if (!fs.existsSync(file)) throw new Error(`${file} is missing (see sdk/templates/js/plugin.toml)`);
  const text = fs.readFileSync(file, "utf8");
  const top = {};
  for (const line of text.split("\n")) {
    if (/^\s*\[/.test(line)) break;
    const m = line.match(/^\s*([A-Za-z0-9_-]+)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(#.*)?$/);
    if (m) top[m[1]] = JSON.parse(`"${m[2]}"`);
  }
  for (const k of ["service_type", "name", "version"]) {
    if (!top[k]) throw new Error(`${file}: \`${k}\` (a string) is required`);
  }
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(top.service_type)) throw new Error(`${file}: service_type must be letters, digits, _ . -`);
  return { manifest: top, text };
}

function manifestText(text, component) {
  const line = `component = "${component}"`;
  if (/^\s*component\s*=.*$/m.test(text)) return text.replace(/^\s*component\s*=.*$/m, line);
  const m = text.match(/^\s*\[/m);
  if (m) return text.slice(0, m.index) + line + "\n" + text.slice(m.index);
  return text.replace(/\n*$/, "\n") + line + "\n";
}

/** True when plugin.toml's `[permissions]` table declares at least one `http` origin. */
export function wantsHttp(text) {
  const section = text.split(/^\s*\[/m).find((s) => /^permissions\]/.test(s));
  const m = section?.match(/^\s*http\s*=\s*\[([^\]]*)\]/m);
  return !!m && /["']/.test(m[1].replace(/#.*$/gm, ""));
}

// The `connector-http` world (connector + wasi:http/outgoing-handler) and its wasi:* WIT deps
// (WASI 0.2.12, wasmtime-wasi-http 48's) are shared with the Python SDK, which owns them.
const HTTP_WORLD = "connector-http";
function findHttpWit() {
  const dir = process.env.INLET_WIT_HTTP ?? path.join(SDK, "..", "python", "inlet_sdk", "wit_http");
  if (!fs.existsSync(path.join(dir, `${HTTP_WORLD}.wit`))) {
    throw new Error(`${dir}/${HTTP_WORLD}.wit is missing (the connector-http world shared with sdk/python); set INLET_WIT_HTTP`);
  }
  return dir;
}

/** A WIT dir for the connector-http world in `dest`: the contract, the world and the wasi deps. */
function assembleHttpWit(wit, dest) {
  const httpWit = findHttpWit();
  fs.mkdirSync(dest);
  for (const f of fs.readdirSync(wit)) {
    if (f.endsWith(".wit")) fs.copyFileSync(path.join(wit, f), path.join(dest, f));
  }
  fs.copyFileSync(path.join(httpWit, `${HTTP_WORLD}.wit`), path.join(dest, `${HTTP_WORLD}.wit`));
  fs.cpSync(path.join(httpWit, "deps"), path.join(dest, "deps"), { recursive: true });
  return dest;
}

function findWit(project, explicit) {
  const cands = [];
  if (explicit) cands.push(explicit);
  if (process.env.INLET_WIT) cands.push(process.env.INLET_WIT);
  for (const start of [project, SDK]) {
    let d = path.resolve(start);
    for (;;) {
      cands.push(path.join(d, "wit"));
      const p = path.dirname(d);
      if (p === d) break;
      d = p;
    }
  }
  const hit = cands.find((c) => fs.existsSync(path.join(c, "connector.wit")));
  if (!hit) throw new Error("cannot find wit/connector.wit; pass --wit <dir> or set INLET_WIT");
  return path.resolve(hit);
}

export function entrySource(connectorPath, manifest, backend, http = false, jsonLines = false) {
  const meta = { serviceType: manifest.service_type, name: manifest.name, version: manifest.version };
  // componentize-qjs exposes an imported interface as the default export, componentize-js as
  // named exports.
  const imp = (name, iface) => backend === "qjs" ? `import ${name} from "${iface}";\n` : `import * as ${name} from "${iface}";\n`;
  let src = "// Generated by @inlet/sdk build.mjs: the component's entry module.\n" +
    imp("hostLog", "inlet:connector/log@0.1.0") + imp("hostState", "inlet:connector/state@0.1.0");
  if (http) {
    src += imp("outgoingHandler", "wasi:http/outgoing-handler@0.2.12") + imp("httpTypes", "wasi:http/types@0.2.12") +
      imp("monotonicClock", "wasi:clocks/monotonic-clock@0.2.12") +
      `import { _setWasi } from ${JSON.stringify(path.join(SDK, "src", "http.js"))};\n` +
      `_setWasi({ outgoingHandler, types: httpTypes, monotonicClock, bigint: ${backend !== "qjs"} });\n`;
  }
  src += `import { makeSource, makeJsonLines } from ${JSON.stringify(path.join(SDK, "src", "glue.js"))};\n` +
    `import connector from ${JSON.stringify(connectorPath)};\n` +
    `export const source = makeSource(connector, ${JSON.stringify(meta)}, { log: hostLog, state: hostState });\n`;
  // Batches as JSON lines (world `connector-json-lines`): as bytes under SpiderMonkey, as text
  // under QuickJS (see makeJsonLines).
  if (jsonLines) src += `export const jsonLines = makeJsonLines({ utf8: ${backend !== "qjs"} });\n`;
  return src;
}

/** Whether the contract in `wit` has the `connector-json-lines` world (an older copy may not). */
export function hasJsonLines(wit) {
  return /^\s*world\s+connector-json-lines\b/m.test(fs.readFileSync(path.join(wit, "connector.wit"), "utf8"));
}

async function bundle(entryFile, outFile) {
  const { rolldown } = await import("rolldown");
  const b = await rolldown({
    input: entryFile,
    external: [/^inlet:/, /^wasi:/],
    platform: "neutral",
    resolve: {
      alias: {
        "@inlet/sdk/testing": path.join(SDK, "src", "testing.js"),
        "@inlet/sdk": path.join(SDK, "src", "index.js"),
      },
    },
    logLevel: "warn",
  });
  await b.write({ file: outFile, format: "esm" });
  await b.close();
}

/**
 * SpiderMonkey unless asked otherwise. Measured with the loadgen plugin (1 KiB documents, see
 * docs/PERFORMANCE.md): SpiderMonkey's native JSON.stringify and TextEncoder take a document to
 * JSON-lines bytes several times faster than QuickJS's JSON.stringify, whose character-by-character
 * quoting bounds a QuickJS plugin at ~50k docs/s against ~70-90k. QuickJS (`--backend qjs`) gives a
 * 1.8 MB component instead of 12 MB, compiles in ~2 s instead of ~10 s (once: the host caches
 * it) and keeps ~50 MiB less resident per sync.
 *
 * The connector-http world is SpiderMonkey only: componentize-qjs 0.4.5 pre-initializes the
 * component (Wizer) with wasmtime-wasi's linker and traps for unknown imports, and those trap
 * stubs give `wasi:http/types` a fresh `input-stream` resource instead of wasi:io's, so
 * instantiation fails ("mismatched resource types"). componentize-js splices its bindings
 * without instantiating the imports, and supports wasi:http.
 */
export function pickBackend(asked, http) {
  if (!http) return asked ?? "spidermonkey";
  if (asked === "qjs") {
    throw new Error("--backend qjs cannot build a plugin that declares `[permissions] http`: componentize-qjs " +
      "0.4.5 fails to pre-initialize components importing wasi:http (mismatched resource types); " +
      "leave --backend out (SpiderMonkey is used) or pass --backend spidermonkey");
  }
  return "spidermonkey";
}

export async function build(opts) {
  const { project, out } = opts;
  const t0 = performance.now();
  const { manifest, text } = readManifest(project);
  const component = manifest.component ?? `${manifest.service_type}.wasm`;
  if (path.isAbsolute(component) || component.split(/[\\/]/).includes("..")) {
    throw new Error("plugin.toml: `component` must be a file name relative to plugin.toml");
  }
  const connectorPath = path.join(project, opts.entry);
  if (!fs.existsSync(connectorPath)) throw new Error(`${connectorPath} is missing; pass --entry <file>`);
  const http = wantsHttp(text);
  opts = { ...opts, backend: pickBackend(opts.backend, http) };
  if (http && opts.stubWasi) throw new Error("--stub-wasi removes the wasi:io and wasi:clocks imports that outgoing HTTP needs; leave it out for plugins with `[permissions] http`");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "inlet-js-build-"));
  try {
    let wit = findWit(project, opts.wit);
    const jsonLines = hasJsonLines(wit);
    if (http && !jsonLines) throw new Error(`${wit}/connector.wit has no \`connector-json-lines\` world, which the connector-http world includes; use this SDK's wit/`);
    // `connector-http` itself (no json-lines) is the Go SDK's world.
    const world = http ? `${HTTP_WORLD}-json-lines` : jsonLines ? "connector-json-lines" : "connector";
    if (http) wit = assembleHttpWit(wit, path.join(tmp, "wit"));
    const entry = path.join(tmp, "entry.js");
    fs.writeFileSync(entry, entrySource(connectorPath, manifest, opts.backend, http, jsonLines));
    const bundled = path.join(tmp, "bundle.js");
    await bundle(entry, bundled);
    const jsSource = fs.readFileSync(bundled, "utf8");
    let bytes;
    if (opts.backend === "qjs") {
      const { componentize } = await import("componentize-qjs");
      const r = await componentize({
        witPath: wit, world, jsSource, jsPath: bundled, moduleRoot: tmp,
        sync: true, // the host calls exports synchronously (no component-model async)
        stubWasi: opts.stubWasi, optSize: opts.optSize,
      });
      bytes = r.component;
    } else {
      const { componentize } = await import("@bytecodealliance/componentize-js");
      const r = await componentize({
        sourcePath: bundled, witPath: wit, worldName: world,
        disableFeatures: opts.stubWasi ? ["stdio", "random", "clocks", "http", "fetch-event"] : ["http", "fetch-event"],
      });
      bytes = r.component;
    }
    fs.mkdirSync(out, { recursive: true });
    const wasm = path.join(out, component);
    fs.writeFileSync(wasm + ".tmp", bytes);
    fs.renameSync(wasm + ".tmp", wasm);
    const mpath = path.join(out, "plugin.toml");
    const mtext = manifestText(text, component);
    if (!fs.existsSync(mpath) || fs.readFileSync(mpath, "utf8") !== mtext) fs.writeFileSync(mpath, mtext);
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    console.error(`built ${wasm} (${(bytes.length / 1e6).toFixed(2)} MB, ${opts.backend}) in ${secs}s`);
    console.error(`manifest ${mpath}`);
    return { wasm, manifest: mpath };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await build(parseArgs(process.argv.slice(2)));
  } catch (e) {
    console.error(`error: ${e?.message ?? e}`);
    process.exit(1);
  }
}
