"""Small per-connector key/value storage that survives restarts (checkpoints, caches).
Values are strings, capped in size by the host. Outside a component a dict stands in."""

from .errors import ConnectorError

try:
    from wit_world.imports import state as _wit_state
    from componentize_py_types import Err as _Err
except ImportError:  # plain CPython: tests and local runs
    _wit_state = None
    _Err = None

_local = {}


def get(key):
    """The value stored under `key`, or None."""
    if _wit_state is None:
        return _local.get(key)
    return _wit_state.get(key)


def set(key, value):
    """Store `value` (a str) under `key`. Raises ConnectorError when the host refuses (too big)."""
    if not isinstance(value, str):
        raise TypeError("state values are strings (encode with json.dumps)")
    if _wit_state is None:
        _local[key] = value
        return
    try:
        _wit_state.set(key, value)
    except _Err as e:
        raise ConnectorError(e.value.message, kind=e.value.kind.name.lower()) from None


def delete(key):
    if _wit_state is None:
        _local.pop(key, None)
        return
    _wit_state.delete(key)
