// Loads a connector's source under plain Node for unit tests: its `import ... from "@inlet/sdk"`
// resolves to the SDK's source (sdk/js/src/index.js), the same module instance the tests import,
// so `http.setTransport` reaches the connector; relative imports (../shared/graph/graph.js) work
// as in the build, which bundles the same files.
import { register } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../../../..");
export const sdkIndexUrl = pathToFileURL(path.join(root, "sdk/js/src/index.js")).href;
const testingUrl = pathToFileURL(path.join(root, "sdk/js/src/testing.js")).href;

// A resolve hook (Node >= 20.6): "@inlet/sdk" and "@inlet/sdk/testing" → the SDK's files.
const hooks = `
const map = ${JSON.stringify({ "@inlet/sdk": sdkIndexUrl, "@inlet/sdk/testing": testingUrl })};
export async function resolve(specifier, context, next) {
  return map[specifier] ? { url: map[specifier], shortCircuit: true } : next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);

/** The SDK (`http`, `Response`, errors ...) and its testing helpers (`runSync`, `check`). */
export const sdk = await import(sdkIndexUrl);
export const testing = await import(testingUrl);

/** A module of the repository by path relative to its root (e.g. "plugins/onedrive/connector.js"). */
export const importFromRoot = (rel) => import(pathToFileURL(path.join(root, rel)).href);
