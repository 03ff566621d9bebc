"""WIT glue: the exported `inlet:connector/source` interface and its `sync` resource, and the
`inlet:connector/json-lines` interface, built around a `Connector` subclass. Imported only
inside the component (it needs the bindings that componentize-py generates); the generated app
module does:

    Source = inlet_sdk._glue.make_source(MyConnector, manifest)
    from inlet_sdk._glue import JsonLines, Sync
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types as t

try:  # the `connector-json-lines` world (what inlet_sdk.build targets)
    from wit_world.exports import json_lines as _jl
except ImportError:  # a component built for the plain `connector` world
    _jl = None

from . import log as _log
from ._core import Calls
from .errors import describe

_KINDS = {
    "config": t.ErrorKind.CONFIG,
    "auth": t.ErrorKind.AUTH,
    "network": t.ErrorKind.NETWORK,
    "source": t.ErrorKind.SOURCE,
    "cancelled": t.ErrorKind.CANCELLED,
    "internal": t.ErrorKind.INTERNAL,
}
_FIELD_TYPES = {"str": t.FieldType.STR, "int": t.FieldType.INT, "bool": t.FieldType.BOOL, "list": t.FieldType.LIST}
_DISPLAYS = {
    "text": t.DisplayType.TEXT,
    "textarea": t.DisplayType.TEXTAREA,
    "numeric": t.DisplayType.NUMERIC,
    "toggle": t.DisplayType.TOGGLE,
    "dropdown": t.DisplayType.DROPDOWN,
}
_INDEX = t.Operation.INDEX
_DELETE = t.Operation.DELETE
_Document = t.Document
_Bytes = t.Attachment_Bytes
_Text = t.Attachment_Text

# The record is `metadata` in types; tolerate a rename of the type in the WIT.
_Metadata = getattr(t, "Metadata", None) or getattr(t, "ConnectorMetadata")


def _err(exc):
    kind, message = describe(exc)
    return Err(t.ConnectorError(_KINDS[kind], message))


def _json(value):
    from .document import to_json

    return to_json(value)


def _pairs(configuration):
    return [(c.key, c.value) for c in configuration]


def _doc(d):
    doc_id, ts, body, op, att = d
    if att is not None:
        att = _Bytes(att[1]) if att[0] == "bytes" else _Text(att[1])
    return _Document(doc_id, ts, body, _INDEX if op == "index" else _DELETE, att)


class Sync:
    """The exported `sync` resource."""

    def __init__(self, runner):
        self._runner = runner

    def next_batch(self):
        try:
            batch = self._runner.next_batch()
        except Exception as e:
            raise _err(e)
        if batch is None:
            return None
        return [_doc(d) for d in batch]

    def cursor(self):
        try:
            return self._runner.cursor()
        except Exception:
            return None


if _jl is not None:

    class JsonLines(exports.JsonLines):
        """The exported `json-lines` interface: the host asks it for batches instead of
        `Sync.next_batch`. Plain documents cross as one UTF-8 string per batch instead of a
        record of three strings each (see `SyncRunner.next_lines`)."""

        def next_batch(self, sync):
            try:
                batch = sync._runner.next_lines()
            except Exception as e:
                raise _err(e)
            if batch is None:
                return None
            kind, value = batch
            if kind == "lines":
                # A `str`, not `json-lines-utf8`: componentize-py 0.25 never frees the copy it
                # makes of `bytes` returned from an export (its `maybe_pop_list`), so every batch
                # would leak; strings it frees after the call.
                return _jl.Batch_JsonLines(value)
            return _jl.Batch_Documents([_doc(d) for d in value])


def make_source(cls, manifest=None):
    """The class componentize-py instantiates for the exported `source` interface."""
    if manifest:
        cls._manifest = dict(manifest)
        for attr in ("service_type", "name", "version"):
            declared = getattr(cls, attr)
            if declared is not None and manifest.get(attr) is not None and declared != manifest[attr]:
                raise RuntimeError(
                    f"{cls.__name__}.{attr} = {declared!r} but plugin.toml says {manifest[attr]!r}; keep one"
                )
    _log.install()
    calls = Calls(cls)
    # Fail the build, not the first call, on a malformed schema or metadata.
    calls.schema()
    calls.metadata()

    class Source(exports.Source):
        def metadata(self):
            m = calls.metadata()
            f = m["features"]
            return _Metadata(
                m["service_type"],
                m["name"],
                m["version"],
                t.Features(f["incremental_sync"], f["document_level_security"], f["advanced_rules"], f["basic_rules"]),
            )

        get_metadata = metadata

        def configuration_schema(self):
            out = []
            for f in calls.schema():
                out.append(
                    t.ConfigField(
                        key=f["key"],
                        label=f["label"],
                        order=f["order"],
                        type=_FIELD_TYPES[f["type"]],
                        display=_DISPLAYS[f["display"]],
                        default_value=None if f["default_value"] is None else _json(f["default_value"]),
                        required=f["required"],
                        sensitive=f["sensitive"],
                        tooltip=f["tooltip"],
                        depends_on=[t.Dependency(d["field"], _json(d["value"])) for d in f["depends_on"]],
                        validations=[t.Validation(v["type"], _json(v["constraint"])) for v in f["validations"]],
                        ui_restrictions=f["ui_restrictions"],
                        options=[t.SelectOption(str(o["label"]), _json(o["value"])) for o in f["options"]],
                    )
                )
            return out

        def validate_config(self, configuration):
            try:
                calls.validate_config(_pairs(configuration))
            except Exception as e:
                raise _err(e)

        def ping(self, configuration):
            try:
                calls.ping(_pairs(configuration))
            except Exception as e:
                raise _err(e)

        def validate_advanced_rules(self, configuration, rules):
            try:
                valid, messages = calls.validate_advanced_rules(_pairs(configuration), rules)
            except Exception as e:
                raise _err(e)
            return t.RulesValidation(valid, messages)

        def full_sync(self, request):
            try:
                return Sync(calls.full_sync(_pairs(request.configuration), request.advanced_rules, request.cursor))
            except Exception as e:
                raise _err(e)

        def incremental_sync(self, request):
            try:
                return Sync(
                    calls.incremental_sync(_pairs(request.configuration), request.advanced_rules, request.cursor)
                )
            except Exception as e:
                raise _err(e)

        def access_control_sync(self, request):
            try:
                return Sync(
                    calls.access_control_sync(_pairs(request.configuration), request.advanced_rules, request.cursor)
                )
            except Exception as e:
                raise _err(e)

    return Source
