"""Synthetic load generator: `count` deterministic documents of about `doc_bytes` bytes each.
Used to benchmark documents/s through the host for Python plugins."""

import hashlib

from inlet_sdk import Connector, ConfigError, Document, fields as f

WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
    "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
).split()
CATEGORIES = ("news", "blog", "docs", "wiki", "ticket")


def filler(seed, size):
    """Deterministic text of `size` characters made from `seed`."""
    out = []
    total = 0
    h = hashlib.sha256(seed.encode()).digest()
    i = 0
    while total < size:
        if i == len(h):
            h = hashlib.sha256(h).digest()
            i = 0
        w = WORDS[h[i] % len(WORDS)]
        out.append(w)
        total += len(w) + 1
        i += 1
    return " ".join(out)[:size]


class LoadGen(Connector):
    @classmethod
    def configuration(cls):
        return {
            "count": f.integer("Number of documents", order=1, default=1000,
                               validations=[f.greater_than(-1)]),
            "doc_bytes": f.integer("Approximate document size (bytes)", order=2, default=1024,
                                   validations=[f.greater_than(0)]),
            "seed": f.string("Seed", order=3, default="inlet", required=False,
                             tooltip="Changes the generated text, not the ids"),
        }

    def validate_config(self, config):
        if config["count"] < 0 or config["doc_bytes"] < 1:
            raise ConfigError("count must be >= 0 and doc_bytes >= 1")

    def _docs(self, config, start, end):
        seed = str(config.get("seed") or "inlet")
        # The JSON around `text` takes about 80 bytes.
        text = filler(seed, max(0, config["doc_bytes"] - 80) + 64)
        span = len(text) - 64
        for n in range(start, end):
            yield {
                "_id": f"doc-{n}",
                "_timestamp": f"2024-01-01T00:00:{n % 60:02d}Z",
                "n": n,
                "title": f"Document {n}",
                "category": CATEGORIES[n % len(CATEGORIES)],
                "seed": seed,
                "text": text[n % 64 : n % 64 + span],
            }

    def get_docs(self, config, advanced_rules=None):
        count = config["count"]
        yield from self._docs(config, 0, count)
        self.set_cursor(count)

    def get_docs_incrementally(self, config, cursor, advanced_rules=None):
        count = config["count"]
        reached = int(cursor or 0)
        if count >= reached:
            yield from self._docs(config, reached, count)
        else:
            for n in range(count, reached):
                yield Document.delete(f"doc-{n}")
        self.set_cursor(count)
