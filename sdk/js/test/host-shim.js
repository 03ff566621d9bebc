// Stand-ins for the host's `log` and `state` imports, for running components under Node via
// `jco transpile` (test/run-component.mjs). Not used in components.
export const logs = [];
export function log(level, message) {
  logs.push([level, message]);
  if (process.env.INLET_TEST_LOG) console.error(`[guest ${level}] ${message}`);
}
const store = new Map();
export function get(key) { return store.has(key) ? store.get(key) : undefined; }
export function set(key, value) {
  if (value.length > 65536) throw { kind: "source", message: "state value too large" };
  store.set(key, value);
}
function del(key) { store.delete(key); }
export { del as delete };
// `inlet:connector/sql`: components built with SpiderMonkey import the whole world, sql included.
// No databases here.
export class Connection {
  static open(name) { throw { kind: "config", message: `no database ${name} under run-component` }; }
}
export class RowStream {}
