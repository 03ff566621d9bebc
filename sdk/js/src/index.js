// Inlet SDK for JavaScript: write a search connector as an object; the SDK does the WIT glue.
//
//   import { defineConnector, fields } from "@inlet/sdk";
//   export default defineConnector({
//     configuration: { count: fields.integer("How many", { order: 1, default: 3 }) },
//     *getDocs(config) {
//       for (let i = 0; i < config.count; i++) yield { _id: `hello-${i}`, title: `Hello ${i}` };
//     },
//   });
export * as fields from "./fields.js";
export { Document } from "./document.js";
export { ConnectorError, ConfigError, AuthError, NetworkError, SourceError, CancelledError } from "./errors.js";
export { log, state } from "./host.js";
export { http, HttpError, Response } from "./http.js";

const KNOWN = new Set([
  "serviceType", "name", "version", "features", "batchSize", "batchBytes", "configuration",
  "validateConfig", "ping", "getDocs", "getDocsIncrementally", "getAccessControl", "validateAdvancedRules",
]);

/**
 * Declares a connector. Methods (all optional but getDocs): validateConfig(config), ping(config),
 * *getDocs(config, advancedRules), *getDocsIncrementally(config, cursor, advancedRules),
 * *getAccessControl(config), validateAdvancedRules(config, rules). Inside them `this` has the
 * definition's properties and `this.setCursor(value)`. serviceType/name/version default to plugin.toml.
 */
export function defineConnector(def) {
  if (typeof def?.getDocs !== "function") throw new TypeError("defineConnector: getDocs (a generator function) is required");
  for (const k of Object.keys(def)) {
    if (!KNOWN.has(k) && typeof def[k] !== "function") {
      // helper methods are fine; unknown plain settings are probably typos
      throw new TypeError(`defineConnector: unknown setting ${k}`);
    }
  }
  return Object.freeze({ ...def, __inletConnector: true });
}
