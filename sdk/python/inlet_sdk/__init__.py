"""Inlet SDK for Python: write a search connector as a class; the SDK does the WIT glue.

    from inlet_sdk import Connector, fields as f

    class Hello(Connector):
        @classmethod
        def configuration(cls):
            return {"count": f.integer("How many", order=1, default=3)}

        def get_docs(self, config, advanced_rules=None):
            for i in range(config["count"]):
                yield {"_id": f"hello-{i}", "title": f"Hello {i}"}

Build: `python -m inlet_sdk.build <project dir>` (see README.md).
"""

from . import fields, http, state
from .config import Config
from .connector import Connector
from .document import OP_DELETE, OP_INDEX, Document
from .errors import (
    AuthError,
    CancelledError,
    ConfigError,
    ConnectorError,
    InternalError,
    NetworkError,
    SourceError,
)

__version__ = "0.1.0"

__all__ = [
    "Connector",
    "Config",
    "Document",
    "OP_INDEX",
    "OP_DELETE",
    "fields",
    "http",
    "state",
    "ConnectorError",
    "ConfigError",
    "AuthError",
    "NetworkError",
    "SourceError",
    "CancelledError",
    "InternalError",
]
