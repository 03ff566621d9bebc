// Host services (the WIT `log` and `state` imports). Inside a component the generated entry
// module plugs in the real imports; under plain Node (tests) console and a Map stand in.
const memory = new Map();
let impl = {
  log: (level, message) => console.error(`[${level}] ${message}`),
  state: {
    get: (key) => memory.get(key),
    set: (key, value) => { memory.set(key, value); },
    delete: (key) => { memory.delete(key); },
  },
};

/** Called by the generated entry module with the component's imports. */
export function _setHost(host) { impl = host; }

const emit = (level) => (...parts) => {
  try { impl.log(level, parts.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join(" ")); } catch { /* never break a sync */ }
};
/** Levelled logs through the host: log.info("fetched", n, "pages"). */
export const log = { trace: emit("trace"), debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };

/** Small per-connector key/value storage that survives restarts (string values, size-capped by the host). */
export const state = {
  get(key) { return impl.state.get(key) ?? null; },
  set(key, value) {
    if (typeof value !== "string") throw new TypeError("state values are strings (use JSON.stringify)");
    impl.state.set(key, value);
  },
  delete(key) { impl.state.delete(key); },
};
