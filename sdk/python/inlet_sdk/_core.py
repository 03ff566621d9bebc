"""The language-neutral part of the glue: runs a connector call and batches its documents.
Works in plain CPython (see `inlet_sdk.testing`) and inside the component (see `_glue`)."""

import json

from .config import Config
from .connector import _UNSET, decode_cursor, encode_cursor
from .document import line_encoders, normalize
from .errors import ConfigError, SourceError

_NOTHING = object()


def make_config(cls, pairs):
    return Config.from_pairs(pairs, cls.schema())


def decode_rules(text):
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as e:
        raise ConfigError(f"advanced rules are not valid JSON: {e}") from None


class SyncRunner:
    """Pulls documents from a connector's generator, at most `batch_size` (or `batch_bytes`) per
    batch. Nothing is read from the source before the host asks for it.

    Two ways to hand a batch over: `next_batch()` (records, `sync.next-batch`) and
    `next_lines()` (`inlet:connector/json-lines`, what the component uses)."""

    def __init__(self, connector, iterable, default_cursor=None):
        self.connector = connector
        self.batch_size = max(1, int(connector.batch_size))
        self.batch_bytes = max(1, int(connector.batch_bytes))
        self._default_cursor = default_cursor
        self._returned_cursor = _UNSET
        if iterable is None:
            raise SourceError("the sync method returned None instead of yielding documents")
        self._it = self._capture(iterable)
        self._done = False
        # Pull the first document now so that setup errors (bad config, auth) fail the sync call
        # itself instead of the first batch.
        self._peek = self._pull()

    def _capture(self, iterable):
        # `yield from` keeps the generator's return value (a cursor) and costs no Python code
        # per document, unlike catching StopIteration around each `next`.
        value = yield from iterable
        if value is not None:
            self._returned_cursor = value

    def _pull(self):
        item = next(self._it, _NOTHING)
        if item is _NOTHING:
            self._done = True
        return item

    def _take(self):
        """The next item (the one pulled ahead first), or _NOTHING at the end."""
        if self._peek is not _NOTHING:
            item, self._peek = self._peek, _NOTHING
            return item
        if self._done:
            return _NOTHING
        return self._pull()

    def next_batch(self):
        """A list of normalized documents, or None when the sync is complete."""
        batch = []
        size = 0
        while len(batch) < self.batch_size and size < self.batch_bytes:
            item = self._take()
            if item is _NOTHING:
                break
            doc = normalize(item)
            batch.append(doc)
            size += len(doc[2])
            if doc[4] is not None:
                size += len(doc[4][1])
        if not batch:
            return None
        return batch

    def next_lines(self):
        """The next batch for `inlet:connector/json-lines`, or None when the sync is complete:
        `("lines", text)`, JSON lines of the plain documents to index (dicts with a string
        `_id`, a string `_timestamp` if any, no `_attachment`): each encoded whole, in one C
        call, with no copy of the dict; or `("documents", [normalized])` for everything else
        (deletions, attachments, `Document`s, lazy downloads), as `next_batch` makes them. A
        batch ends where the kind changes, so documents keep their order."""
        item = self._take()
        if item is _NOTHING:
            return None
        ascii_line, utf8_line = line_encoders()
        if not _plain(item):
            return ("documents", self._records(item))
        limit, budget = self.batch_size, self.batch_bytes
        items = [item]
        lines = [ascii_line(item)]
        size = len(lines[0])
        it = self._it
        while len(lines) < limit and size < budget:
            item = next(it, _NOTHING)
            if item is _NOTHING:
                self._done = True
                break
            # `_plain`, inlined: this loop runs once per document.
            if type(item) is not dict:
                self._peek = item
                break
            doc_id = item.get("_id")
            if type(doc_id) is not str or not doc_id or "_attachment" in item:
                self._peek = item
                break
            if "_timestamp" in item and type(item["_timestamp"]) is not str:
                self._peek = item
                break
            line = ascii_line(item)
            items.append(item)
            lines.append(line)
            size += len(line)
        text = "\n".join(lines)
        # The ASCII encoder is twice as fast, and its output is the UTF-8 one's whenever the
        # text needs no `\u` escape; documents that do are encoded again, so bodies are the
        # same bytes as on the record path. (A backslash is looked for first: CPython finds one
        # character with memchr, a two-character needle with a slower search.)
        if "\\" in text and "\\u" in text:
            text = "\n".join(utf8_line(i) if "\\u" in ln else ln for i, ln in zip(items, lines))
        return ("lines", text)

    def _records(self, first):
        batch = [normalize(first)]
        size = len(batch[0][2])
        while len(batch) < self.batch_size and size < self.batch_bytes:
            item = self._take()
            if item is _NOTHING:
                break
            if _plain(item):
                self._peek = item
                break
            doc = normalize(item)
            batch.append(doc)
            size += len(doc[2])
            if doc[4] is not None:
                size += len(doc[4][1])
        return batch

    def cursor(self):
        value = self.connector.sync_cursor()
        if value is None and self._returned_cursor is not _UNSET:
            value = self._returned_cursor
        if value is None:
            return self._default_cursor
        return encode_cursor(value)


def _plain(item):
    """A document a JSON line can carry as it is: Elastic's dict shape, nothing to convert."""
    if type(item) is not dict:
        return False
    doc_id = item.get("_id")
    if type(doc_id) is not str or not doc_id or "_attachment" in item:
        return False
    return "_timestamp" not in item or type(item["_timestamp"]) is str


class Calls:
    """Each exported function, on plain Python values. `pairs` is a list of (key, json_text)."""

    def __init__(self, cls):
        self.cls = cls

    def metadata(self):
        return self.cls.metadata()

    def schema(self):
        return self.cls.schema()

    def validate_config(self, pairs):
        c = self.cls()
        c.validate_config(make_config(self.cls, pairs))

    def ping(self, pairs):
        c = self.cls()
        c.ping(make_config(self.cls, pairs))

    def validate_advanced_rules(self, pairs, rules):
        c = self.cls()
        res = c.validate_advanced_rules(make_config(self.cls, pairs), decode_rules(rules))
        if res is None or res is True:
            return True, []
        if res is False:
            return False, ["advanced rules are invalid"]
        if isinstance(res, tuple):
            valid, messages = res
            return bool(valid), [str(m) for m in messages or []]
        if isinstance(res, str):
            return False, [res]
        messages = [str(m) for m in res]
        return not messages, messages

    def full_sync(self, pairs, advanced_rules, cursor):
        c = self.cls()
        gen = c.get_docs(make_config(self.cls, pairs), decode_rules(advanced_rules))
        return SyncRunner(c, gen)

    def incremental_sync(self, pairs, advanced_rules, cursor):
        c = self.cls()
        gen = c.get_docs_incrementally(make_config(self.cls, pairs), decode_cursor(cursor), decode_rules(advanced_rules))
        return SyncRunner(c, gen, default_cursor=cursor)

    def access_control_sync(self, pairs, advanced_rules, cursor):
        c = self.cls()
        gen = c.get_access_control(make_config(self.cls, pairs))
        return SyncRunner(c, gen)
