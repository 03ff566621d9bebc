"""Run a connector in plain CPython, without building a component: for unit tests and quick
checks. The same code paths as in the component, except the WIT conversion.

    from inlet_sdk.testing import run_sync
    docs, cursor = run_sync(MyConnector, {"count": 10})
"""

import json

from ._core import Calls
from .errors import ConnectorError, describe


class SyncFailed(Exception):
    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


def _pairs(config):
    return [(k, json.dumps(v)) for k, v in (config or {}).items()]


def _call(fn, *args):
    try:
        return fn(*args)
    except Exception as e:
        raise SyncFailed(*describe(e)) from e


def run_sync(cls, config=None, *, kind="full", cursor=None, advanced_rules=None, batches=False):
    """Run a sync to the end. Returns (documents, cursor) where each document is a dict
    {id, timestamp, body (decoded), op, attachment}; with batches=True, a list of batches.
    Raises SyncFailed(kind, message) as the host would see the error."""
    calls = Calls(cls)
    method = {"full": calls.full_sync, "incremental": calls.incremental_sync, "access_control": calls.access_control_sync}[kind]
    rules = None if advanced_rules is None else json.dumps(advanced_rules)
    runner = _call(method, _pairs(config), rules, cursor)
    out = []
    while True:
        batch = _call(runner.next_batch)
        if batch is None:
            break
        docs = [
            {"id": d[0], "timestamp": d[1], "body": json.loads(d[2]), "op": d[3], "attachment": d[4]} for d in batch
        ]
        if batches:
            out.append(docs)
        else:
            out.extend(docs)
    return out, runner.cursor()


def check(cls, config=None):
    """metadata, schema, validate_config and ping; raises SyncFailed on an error."""
    calls = Calls(cls)
    meta = calls.metadata()
    schema = calls.schema()
    _call(calls.validate_config, _pairs(config))
    _call(calls.ping, _pairs(config))
    return meta, schema


__all__ = ["run_sync", "check", "SyncFailed", "ConnectorError"]
