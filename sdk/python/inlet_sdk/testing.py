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


def run_sync(cls, config=None, *, kind="full", cursor=None, advanced_rules=None, batches=False, json_lines=True):
    """Run a sync to the end. Returns (documents, cursor) where each document is a dict
    {id, timestamp, body (decoded), op, attachment}; with batches=True, a list of batches.
    Raises SyncFailed(kind, message) as the host would see the error.

    `json_lines=True` hands batches over as the component does (`inlet:connector/json-lines`:
    plain documents as JSON lines, decoded back here; the rest as records); False uses records
    only (`sync.next-batch`). Both give the same documents."""
    calls = Calls(cls)
    method = {"full": calls.full_sync, "incremental": calls.incremental_sync, "access_control": calls.access_control_sync}[kind]
    rules = None if advanced_rules is None else json.dumps(advanced_rules)
    runner = _call(method, _pairs(config), rules, cursor)
    out = []
    while True:
        docs = _call(_next_docs, runner, json_lines)
        if docs is None:
            break
        if batches:
            out.append(docs)
        else:
            out.extend(docs)
    return out, runner.cursor()


def _next_docs(runner, json_lines):
    if not json_lines:
        batch = runner.next_batch()
        return None if batch is None else [_record(d) for d in batch]
    batch = runner.next_lines()
    if batch is None:
        return None
    kind, value = batch
    if kind == "documents":
        return [_record(d) for d in value]
    return [_line(line) for line in value.split("\n")]


def _record(d):
    return {"id": d[0], "timestamp": d[1], "body": json.loads(d[2]), "op": d[3], "attachment": d[4]}


def _line(line):
    """A JSON line as the host reads it: `_id` is the id, `_timestamp` the timestamp."""
    body = json.loads(line)
    doc_id = body.pop("_id")
    timestamp = body.pop("_timestamp", None)
    return {"id": doc_id, "timestamp": timestamp, "body": body, "op": "index", "attachment": None}


def check(cls, config=None):
    """metadata, schema, validate_config and ping; raises SyncFailed on an error."""
    calls = Calls(cls)
    meta = calls.metadata()
    schema = calls.schema()
    _call(calls.validate_config, _pairs(config))
    _call(calls.ping, _pairs(config))
    return meta, schema


__all__ = ["run_sync", "check", "SyncFailed", "ConnectorError"]
