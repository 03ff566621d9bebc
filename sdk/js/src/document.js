// Documents as connectors yield them, normalized to { id, timestamp, body (JSON text), op, attachment }.
//  - a plain object { _id, _timestamp?, _attachment? (Uint8Array), ...fields } (Elastic's shape;
//    `id` is used when `_id` is absent);
//  - Document.delete(id) in an incremental sync;
//  - new Document(id, body, { timestamp, attachment }) — attachment: Uint8Array (binary) or string (extracted text).
export class Document {
  constructor(id, body = {}, { timestamp = null, op = "index", attachment = null } = {}) {
    this.id = id; this.body = body; this.timestamp = timestamp; this.op = op; this.attachment = attachment;
  }
  static delete(id) { return new Document(id, {}, { op: "delete" }); }
}

const toTimestamp = (ts) => (ts == null ? null : ts instanceof Date ? ts.toISOString() : String(ts));
const bin = (a) => {
  if (a == null) return null;
  if (a instanceof Uint8Array) return { tag: "bytes", val: a };
  if (a instanceof ArrayBuffer) return { tag: "bytes", val: new Uint8Array(a) };
  if (typeof a === "string") return { tag: "text", val: a };
  throw new TypeError("attachment must be a Uint8Array (binary) or a string (extracted text)");
};

export function normalize(item) {
  if (item instanceof Document) {
    if (item.op !== "index" && item.op !== "delete") throw new Error(`document ${item.id}: unknown operation ${item.op}`);
    const body = item.op === "delete" ? "{}" : typeof item.body === "string" ? item.body : JSON.stringify(item.body);
    return { id: String(item.id), timestamp: toTimestamp(item.timestamp), body, op: item.op,
      attachment: item.op === "delete" ? null : bin(item.attachment) };
  }
  if (item === null || typeof item !== "object" || Array.isArray(item)) {
    throw new TypeError(`a connector must yield objects or Documents, not ${item === null ? "null" : typeof item}`);
  }
  const id = item._id ?? item.id;
  if (id == null || id === "") throw new Error("document without `_id`");
  const { _id, _timestamp, _attachment, ...body } = item;
  return { id: String(id), timestamp: toTimestamp(_timestamp), body: JSON.stringify(body), op: "index",
    attachment: _attachment instanceof Uint8Array ? bin(_attachment) : _attachment == null ? null : bin(_attachment) };
}
