// Synthetic load generator: `count` deterministic documents of about `doc_bytes` bytes each.
// Used to benchmark documents/s through the host for JavaScript plugins.
import { defineConnector, fields, ConfigError, Document } from "@inlet/sdk";

const WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november " +
  "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split(" ");
const CATEGORIES = ["news", "blog", "docs", "wiki", "ticket"];

// Deterministic text of `size` characters from `seed` (FNV-1a seeded xorshift).
function filler(seed, size) {
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619) >>> 0;
  const out = [];
  let total = 0;
  while (total < size) {
    h ^= h << 13; h >>>= 0; h ^= h >>> 17; h ^= h << 5; h >>>= 0;
    const w = WORDS[h % WORDS.length];
    out.push(w);
    total += w.length + 1;
  }
  return out.join(" ").slice(0, size);
}

function* docs(config, start, end) {
  const seed = String(config.seed || "inlet");
  const text = filler(seed, Math.max(0, config.doc_bytes - 80) + 64); // ~80 bytes of JSON around `text`
  const span = text.length - 64;
  for (let n = start; n < end; n++) {
    yield {
      _id: `doc-${n}`,
      _timestamp: `2024-01-01T00:00:${String(n % 60).padStart(2, "0")}Z`,
      n,
      title: `Document ${n}`,
      category: CATEGORIES[n % CATEGORIES.length],
      seed,
      text: text.slice(n % 64, (n % 64) + span),
    };
  }
}

export default defineConnector({
  configuration: {
    count: fields.integer("Number of documents", { order: 1, default: 1000, validations: [fields.greaterThan(-1)] }),
    doc_bytes: fields.integer("Approximate document size (bytes)", { order: 2, default: 1024, validations: [fields.greaterThan(0)] }),
    seed: fields.string("Seed", { order: 3, default: "inlet", required: false, tooltip: "Changes the generated text, not the ids" }),
  },

  validateConfig(config) {
    if (config.count < 0 || config.doc_bytes < 1) throw new ConfigError("count must be >= 0 and doc_bytes >= 1");
  },

  *getDocs(config) {
    yield* docs(config, 0, config.count);
    this.setCursor(config.count);
  },

  *getDocsIncrementally(config, cursor) {
    const reached = Number(cursor ?? 0);
    if (config.count >= reached) yield* docs(config, reached, config.count);
    else for (let n = config.count; n < reached; n++) yield Document.delete(`doc-${n}`);
    this.setCursor(config.count);
  },
});
