"""The language-neutral part of the glue: runs a connector call and batches its documents.
Works in plain CPython (see `inlet_sdk.testing`) and inside the component (see `_glue`)."""

import json

from .config import Config
from .connector import _UNSET, decode_cursor, encode_cursor
from .document import normalize
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
    `next_batch()`. Nothing is read from the source before the host asks for it."""

    def __init__(self, connector, iterable, default_cursor=None):
        self.connector = connector
        self.batch_size = max(1, int(connector.batch_size))
        self.batch_bytes = max(1, int(connector.batch_bytes))
        self._default_cursor = default_cursor
        self._returned_cursor = _UNSET
        if iterable is None:
            raise SourceError("the sync method returned None instead of yielding documents")
        self._it = iter(iterable)
        self._done = False
        # Pull the first document now so that setup errors (bad config, auth) fail the sync call
        # itself instead of the first batch.
        self._peek = self._pull()

    def _pull(self):
        try:
            return next(self._it)
        except StopIteration as stop:
            if stop.value is not None:
                self._returned_cursor = stop.value
            self._done = True
            return _NOTHING

    def next_batch(self):
        """A list of normalized documents, or None when the sync is complete."""
        batch = []
        size = 0
        while len(batch) < self.batch_size and size < self.batch_bytes:
            if self._peek is not _NOTHING:
                item, self._peek = self._peek, _NOTHING
            elif self._done:
                break
            else:
                item = self._pull()
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

    def cursor(self):
        value = self.connector.sync_cursor()
        if value is None and self._returned_cursor is not _UNSET:
            value = self._returned_cursor
        if value is None:
            return self._default_cursor
        return encode_cursor(value)


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
