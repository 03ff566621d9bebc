"""Documents as connectors produce them, and their conversion to the WIT `document` record.

A connector yields any of:
  * a dict: `{"_id": "...", "_timestamp": "2024-01-01T00:00:00Z", ...fields}` (Elastic's shape;
    `id` is accepted when `_id` is absent). `_attachment` (bytes) becomes a binary attachment;
  * `(doc, lazy_download)` or `(doc, lazy_download, operation)` tuples, as Elastic's
    `get_docs` / `get_docs_incrementally` yield them. `lazy_download(doit=True, timestamp=...)`
    may return a dict with `_attachment` (base64 text or bytes) or `body` (extracted text);
  * `Document(...)`, or `Document.delete(id)` to remove a document in an incremental sync.
"""

import base64
import datetime
import json

OP_INDEX = "index"
OP_DELETE = "delete"
# Elastic's operation names in incremental syncs.
_OPS = {"index": OP_INDEX, "update": OP_INDEX, "create": OP_INDEX, "delete": OP_DELETE}

_RESERVED = ("_id", "_timestamp", "_attachment")


class Document:
    """A document with explicit parts. `body` is a dict (or JSON text)."""

    __slots__ = ("id", "body", "timestamp", "op", "attachment")

    def __init__(self, id, body=None, *, timestamp=None, op=OP_INDEX, attachment=None):
        self.id = id
        self.body = {} if body is None else body
        self.timestamp = timestamp
        self.op = op
        # bytes -> binary attachment; str -> already extracted text.
        self.attachment = attachment

    @classmethod
    def delete(cls, id):
        return cls(id, op=OP_DELETE)

    def __repr__(self):
        return f"Document(id={self.id!r}, op={self.op!r})"


def _json_default(o):
    if isinstance(o, (datetime.datetime, datetime.date, datetime.time)):
        return o.isoformat()
    if isinstance(o, (bytes, bytearray)):
        return base64.b64encode(o).decode("ascii")
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    return str(o)


# One encoder for every body: `json.dumps` with options builds a new `JSONEncoder` per call,
# which costs as much as encoding a small document.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def to_json(obj):
    return _ENCODER.encode(obj)


_LINE_ENCODERS = None


def line_encoders():
    """(ascii, utf8): functions encoding a dict as one compact JSON line, the first with
    non-ASCII text as `\\u` escapes, the second as UTF-8 like `to_json`. They call `_json`'s C
    encoder directly (what `json.dumps` runs after its Python-level setup) when it is there."""
    global _LINE_ENCODERS
    if _LINE_ENCODERS is None:
        from json import encoder as je

        def make(escape, ascii_only):
            if je.c_make_encoder is not None:
                c = je.c_make_encoder({}, _json_default, escape, None, ":", ",", False, False, True)
                return lambda obj: "".join(c(obj, 0))
            py = json.JSONEncoder(ensure_ascii=ascii_only, separators=(",", ":"), default=_json_default)
            return py.encode

        _LINE_ENCODERS = (
            make(je.c_encode_basestring_ascii or je.py_encode_basestring_ascii, True),
            make(je.c_encode_basestring or je.py_encode_basestring, False),
        )
    return _LINE_ENCODERS


def _timestamp(ts):
    if ts is None:
        return None
    if isinstance(ts, datetime.datetime):
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=datetime.timezone.utc)
        return ts.isoformat()
    if isinstance(ts, datetime.date):
        return ts.isoformat()
    return str(ts)


def _attachment(value):
    """-> None | ("bytes", bytes) | ("text", str)"""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ("bytes", bytes(value))
    raise TypeError("attachment must be bytes (use `body` text in the lazy download for extracted text)")


# A normalized document: (id, timestamp, body_json, op, attachment) with plain Python values.
def normalize(item):
    """Turn whatever a connector yielded into (id, timestamp, body_json, op, attachment)."""
    lazy = None
    op = OP_INDEX
    if isinstance(item, tuple):
        if len(item) == 2:
            item, lazy = item
        elif len(item) == 3:
            item, lazy, op = item
        else:
            raise TypeError("a yielded tuple must be (doc, lazy_download) or (doc, lazy_download, operation)")
        op = _OPS.get(op or OP_INDEX)
        if op is None:
            raise ValueError(f"unknown operation {item!r}")

    if isinstance(item, Document):
        body = item.body
        body_json = body if isinstance(body, str) else to_json(body)
        att = item.attachment
        attachment = ("text", att) if isinstance(att, str) else _attachment(att)
        op = _OPS.get(item.op)
        if op is None:
            raise ValueError(f"document {item.id!r}: unknown operation {item.op!r}")
        return (str(item.id), _timestamp(item.timestamp), body_json, op, attachment)

    if not isinstance(item, dict):
        raise TypeError(f"a connector must yield dicts or Documents, not {type(item).__name__}")

    doc_id = item.get("_id", item.get("id"))
    if doc_id is None or doc_id == "":
        raise ValueError("document without `_id`")
    ts = item.get("_timestamp")
    attachment = _attachment(item.get("_attachment"))
    if any(k in item for k in _RESERVED):
        body = {k: v for k, v in item.items() if k not in _RESERVED}
    else:
        body = item

    if lazy is not None and op == OP_INDEX and callable(lazy):
        extra = lazy(doit=True, timestamp=ts)
        if extra:
            if extra.get("_attachment") is not None:
                a = extra["_attachment"]
                attachment = ("bytes", base64.b64decode(a) if isinstance(a, str) else bytes(a))
            elif extra.get("body") is not None:
                attachment = ("text", str(extra["body"]))

    if op == OP_DELETE:
        return (str(doc_id), _timestamp(ts), "{}", OP_DELETE, None)
    return (str(doc_id), _timestamp(ts), to_json(body), op, attachment)
