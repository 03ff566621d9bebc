"""The `Connector` base class: subclass it and override the methods your source supports."""

import json
import logging

from . import fields as _fields

_UNSET = object()


class Connector:
    """Base class for a connector, shaped like Elastic's `BaseDataSource`.

    Class attributes:
      service_type, name, version: default to the values in the project's `plugin.toml`.
      features: dict overriding the detected features (`incremental_sync`,
        `document_level_security`, `advanced_rules`, `basic_rules`). Detected: incremental sync
        when `get_docs_incrementally` is overridden, document-level security when
        `get_access_control` is, advanced rules when `validate_advanced_rules` is; basic rules on.
      batch_size: most documents per batch handed to the host (the host pulls batches).
      batch_bytes: a batch is also closed once its JSON bodies and attachments reach this size.

    One instance serves one host call (a sync, a ping, ...), so instance attributes are a safe
    place for per-sync state. `self.logger` logs through the host.
    """

    service_type = None
    name = None
    version = None
    features = None
    batch_size = 100
    batch_bytes = 4 * 1024 * 1024

    # Filled in by the build from plugin.toml.
    _manifest = {}

    def __init__(self):
        self.logger = logging.getLogger(f"inlet.{self.get_service_type()}")
        self._new_cursor = _UNSET

    # ---- static facts -------------------------------------------------------------------
    @classmethod
    def get_service_type(cls):
        return cls.service_type or cls._manifest.get("service_type") or cls.__name__.lower()

    @classmethod
    def metadata(cls):
        """{service_type, name, version, features}"""
        base = Connector
        detected = {
            "incremental_sync": cls.get_docs_incrementally is not base.get_docs_incrementally,
            "document_level_security": cls.get_access_control is not base.get_access_control,
            "advanced_rules": cls.validate_advanced_rules is not base.validate_advanced_rules,
            "basic_rules": True,
        }
        for k, v in (cls.features or {}).items():
            if k not in detected:
                raise ValueError(f"unknown feature {k!r}; known: {sorted(detected)}")
            detected[k] = bool(v)
        return {
            "service_type": cls.get_service_type(),
            "name": cls.name or cls._manifest.get("name") or cls.__name__,
            "version": cls.version or cls._manifest.get("version") or "0.0.0",
            "features": detected,
        }

    @classmethod
    def configuration(cls):
        """The configuration form: `{key: field}` (see `inlet_sdk.fields`), Elastic's
        `get_default_configuration`."""
        return {}

    @classmethod
    def schema(cls):
        """The normalized configuration fields (a list of dicts)."""
        return _fields.normalize(cls.configuration())

    # ---- checks ---------------------------------------------------------------------------
    def validate_config(self, config):
        """Raise `ConfigError` when values are inconsistent beyond what the schema says."""

    def ping(self, config):
        """Raise (`NetworkError`, `AuthError`, ...) when the source cannot be reached."""

    def validate_advanced_rules(self, config, rules):
        """Check advanced rules (already decoded from JSON). Return None/True when valid, or a
        list of messages (invalid), or `(valid, messages)`."""
        return None

    # ---- syncs ----------------------------------------------------------------------------
    def get_docs(self, config, advanced_rules=None):
        """Yield every document (dicts, `(doc, lazy_download)` tuples or `Document`s)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_docs")

    def get_docs_incrementally(self, config, cursor, advanced_rules=None):
        """Yield what changed since `cursor` (`Document.delete(id)` for removals), and call
        `self.set_cursor(new)` (or `return new`) for the next incremental sync."""
        raise NotImplementedError(f"{type(self).__name__} does not support incremental syncs")

    def get_access_control(self, config):
        """Yield access-control (identity) documents for document-level security."""
        raise NotImplementedError(f"{type(self).__name__} does not support document-level security")

    # ---- cursor ---------------------------------------------------------------------------
    def set_cursor(self, value):
        """The cursor the next incremental sync starts from (any JSON value)."""
        self._new_cursor = value

    def sync_cursor(self):
        return None if self._new_cursor is _UNSET else self._new_cursor


def encode_cursor(value):
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), default=str)


def decode_cursor(text):
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def find_connector(module):
    """The single `Connector` subclass defined in `module`."""
    found = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, Connector) and v is not Connector and v.__module__ == module.__name__
    ]
    if len(found) != 1:
        names = ", ".join(c.__name__ for c in found) or "none"
        raise RuntimeError(
            f"module {module.__name__!r} must define exactly one Connector subclass (found: {names}); "
            "name one with --entry module:Class"
        )
    return found[0]
