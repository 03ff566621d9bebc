// Rich Configurable Fields, in Elastic's shape. `configuration` is `{ key: field }`; a field is
// a plain object in Elastic's format or built with these helpers:
//   configuration: {
//     host: fields.string("Host", { order: 1 }),
//     port: fields.integer("Port", { order: 2, default: 443 }),
//     mode: fields.dropdown("Mode", ["fast", "safe"], { default: "safe" }),
//   }
export const FIELD_TYPES = ["str", "int", "bool", "list"];
export const DISPLAY_TYPES = ["text", "textarea", "numeric", "toggle", "dropdown"];
export const VALIDATION_TYPES = ["less_than", "greater_than", "list_type", "included_in", "regex"];
const DEFAULT_DISPLAY = { str: "text", int: "numeric", bool: "toggle", list: "text" };

const opts = (options) => (options ?? []).map((o) => (o && typeof o === "object" ? o : { label: String(o), value: o }));
const deps = (d) => (Array.isArray(d) ? d : Object.entries(d ?? {}).map(([field, value]) => ({ field, value })));

export function field(label, { type = "str", display, order, default: dflt, required = true, sensitive = false,
  tooltip, dependsOn, validations, uiRestrictions, options } = {}) {
  return {
    label, type, display: display ?? DEFAULT_DISPLAY[type], order, value: dflt, default_value: dflt, required,
    sensitive, tooltip, depends_on: deps(dependsOn), validations: validations ?? [],
    ui_restrictions: uiRestrictions ?? [], options: opts(options),
  };
}
export const string = (label, o = {}) => field(label, { ...o, type: "str" });
export const textarea = (label, o = {}) => field(label, { ...o, type: "str", display: "textarea" });
export const integer = (label, o = {}) => field(label, { ...o, type: "int" });
export const toggle = (label, o = {}) => field(label, { default: false, ...o, type: "bool" });
export const boolean = toggle;
export const list = (label, o = {}) => field(label, { ...o, type: "list" });
export const dropdown = (label, options, o = {}) => field(label, { type: "str", ...o, display: "dropdown", options });

export const lessThan = (n) => ({ type: "less_than", constraint: n });
export const greaterThan = (n) => ({ type: "greater_than", constraint: n });
export const listType = (t) => ({ type: "list_type", constraint: t });
export const includedIn = (values) => ({ type: "included_in", constraint: [...values] });
export const regex = (pattern) => ({ type: "regex", constraint: pattern });
export const ADVANCED = "advanced";

/** Validates `{ key: field }` (camelCase or Elastic's snake_case keys) into complete fields sorted by order. */
export function normalize(schema) {
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) {
    throw new Error("configuration must be an object { key: field }");
  }
  const out = Object.entries(schema).map(([key, raw], i) => {
    const type = raw.type ?? "str";
    if (!FIELD_TYPES.includes(type)) throw new Error(`configuration field ${key}: type must be one of ${FIELD_TYPES}`);
    const display = raw.display ?? DEFAULT_DISPLAY[type];
    if (!DISPLAY_TYPES.includes(display)) throw new Error(`configuration field ${key}: display must be one of ${DISPLAY_TYPES}`);
    let dflt = raw.default_value ?? raw.defaultValue ?? raw.default;
    if (dflt === undefined && raw.value !== undefined && raw.value !== null && raw.value !== "") dflt = raw.value;
    const validations = (raw.validations ?? []).map((v) => {
      if (!VALIDATION_TYPES.includes(v.type)) throw new Error(`configuration field ${key}: validation type must be one of ${VALIDATION_TYPES}`);
      return { type: v.type, constraint: v.constraint };
    });
    return {
      key, label: String(raw.label ?? key), order: Number(raw.order ?? i + 1), type, display,
      defaultValue: dflt ?? null, required: raw.required ?? true, sensitive: raw.sensitive ?? false,
      tooltip: raw.tooltip ?? null, dependsOn: deps(raw.depends_on ?? raw.dependsOn),
      validations, uiRestrictions: (raw.ui_restrictions ?? raw.uiRestrictions ?? []).map(String),
      options: opts(raw.options),
    };
  });
  return out.sort((a, b) => a.order - b.order);
}
