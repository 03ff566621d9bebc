"""Unit tests of the SDK's pure-Python part (no component build). Run: pytest sdk/python/tests"""

import datetime
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "plugins", "loadgen-py"))

from inlet_sdk import AuthError, ConfigError, Connector, Document, fields as f  # noqa: E402
from inlet_sdk.build import manifest_text  # noqa: E402
from inlet_sdk.testing import SyncFailed, check, run_sync  # noqa: E402


class Demo(Connector):
    batch_size = 3

    @classmethod
    def configuration(cls):
        return {
            "n": f.integer("N", order=2, default=5),
            "tags": f.list_("Tags", order=1, required=False),
            "flag": {"label": "Flag", "type": "bool", "display": "toggle", "value": False},
        }

    def get_docs(self, config, advanced_rules=None):
        for i in range(config["n"]):
            yield {"_id": i, "_timestamp": "2024-01-01T00:00:00Z", "tags": config.get("tags"), "x": i}
        self.set_cursor({"n": config["n"]})


def test_schema_sorted_and_defaults():
    meta, schema = check(Demo)
    assert [s["key"] for s in schema] == ["tags", "n", "flag"]
    assert schema[1]["default_value"] == 5 and schema[1]["display"] == "numeric"
    assert meta["features"] == {"incremental_sync": False, "document_level_security": False,
                                "advanced_rules": False, "basic_rules": True}


def test_batches_cursor_and_coercion():
    out, cursor = run_sync(Demo, {"n": "7", "tags": "a, b"}, batches=True)
    assert [len(b) for b in out] == [3, 3, 1]
    assert out[0][0] == {"id": "0", "timestamp": "2024-01-01T00:00:00Z",
                         "body": {"tags": ["a", "b"], "x": 0}, "op": "index", "attachment": None}
    assert cursor == '{"n":7}'


def test_errors_keep_their_kind():
    class Bad(Connector):
        def get_docs(self, config, advanced_rules=None):
            raise AuthError("denied")
            yield

    with pytest.raises(SyncFailed) as e:
        run_sync(Bad)
    assert e.value.kind == "auth"

    class Buggy(Connector):
        def validate_config(self, config):
            {}["x"]

    with pytest.raises(SyncFailed) as e:
        check(Buggy)
    assert e.value.kind == "internal"


def test_missing_config_value_is_config_error():
    class Needs(Connector):
        def get_docs(self, config, advanced_rules=None):
            yield {"_id": config["host"]}

    with pytest.raises(SyncFailed) as e:
        run_sync(Needs)
    assert e.value.kind == "config"


def test_documents_and_lazy_download():
    class Mixed(Connector):
        def get_docs(self, config, advanced_rules=None):
            yield Document("a", {"k": 1}, attachment=b"\x00\x01")
            yield ({"_id": "b"}, lambda doit=False, timestamp=None: {"_attachment": "AAE="})
            yield ({"_id": "c"}, None, "delete")

    docs, _ = run_sync(Mixed)
    assert docs[0]["attachment"] == ("bytes", b"\x00\x01")
    assert docs[1]["attachment"] == ("bytes", b"\x00\x01")
    assert docs[2]["op"] == "delete"


def test_loadgen_full_and_incremental():
    from connector import LoadGen

    docs, cursor = run_sync(LoadGen, {"count": 10, "doc_bytes": 1024})
    assert [d["id"] for d in docs] == [f"doc-{i}" for i in range(10)]
    assert cursor == "10"
    import json

    assert 900 < len(json.dumps(docs[0]["body"], separators=(",", ":"))) <= 1100
    docs, cursor = run_sync(LoadGen, {"count": 12}, kind="incremental", cursor=cursor)
    assert [d["id"] for d in docs] == ["doc-10", "doc-11"] and cursor == "12"
    docs, cursor = run_sync(LoadGen, {"count": 11}, kind="incremental", cursor=cursor)
    assert [(d["id"], d["op"]) for d in docs] == [("doc-11", "delete")] and cursor == "11"
    with pytest.raises(SyncFailed) as e:
        check(LoadGen, {"count": -1})
    assert e.value.kind == "config"


class Everything(Connector):
    """One of each kind of document, plain ones around the others."""

    batch_size = 4

    def get_docs(self, config, advanced_rules=None):
        when = datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.timezone.utc)
        yield {"_id": "p1", "_timestamp": "2024-01-01T00:00:00Z", "text": "a \"quoted\"\nline\ttab\\"}
        yield {"_id": "p2", "name": "Zoë 東京 \U0001f600", "ctl": "\x01\x7f", "when": when, "n": 2.5}
        yield {"_id": "p3", "_timestamp": "2024-01-01T00:00:00Z", "nested": {"_id": 1, "a": [None, True]}}
        yield {"_id": 4, "x": "int id"}
        yield {"id": "by-id", "x": "id, not _id"}
        yield {"_id": "ts", "_timestamp": when}
        yield Document("doc", {"k": "v"}, timestamp="2024-02-02T00:00:00Z")
        yield Document("att", {"k": 1}, attachment=b"\x00\x01")
        yield {"_id": "p4", "k": "after the records"}
        yield {"_id": "p5", "_attachment": b"\x02", "k": 5}
        yield ({"_id": "lazy"}, lambda doit=False, timestamp=None: {"body": "extracted"})
        yield ({"_id": "gone"}, None, "delete")
        for i in range(6):
            yield {"_id": f"tail-{i}", "i": i}
        return {"done": True}


def test_json_lines_give_the_same_documents_as_records():
    lines, lines_cursor = run_sync(Everything)
    records, records_cursor = run_sync(Everything, json_lines=False)
    assert lines == records
    assert lines_cursor == records_cursor == '{"done":true}'
    assert [d["id"] for d in lines][:6] == ["p1", "p2", "p3", "4", "by-id", "ts"]


def test_json_lines_batches_keep_order_and_limits():
    from inlet_sdk._core import Calls

    runner = Calls(Everything).full_sync([], None, None)
    kinds = []
    while (batch := runner.next_lines()) is not None:
        kind, value = batch
        kinds.append((kind, len(value.split("\n")) if kind == "lines" else len(value)))
    # Plain documents as lines, the others as records; a batch ends where the kind changes and
    # holds at most batch_size documents.
    assert kinds == [("lines", 3), ("documents", 4), ("documents", 1), ("lines", 1),
                     ("documents", 3), ("lines", 4), ("lines", 2)]


def test_json_lines_are_one_document_per_line_in_utf8():
    from inlet_sdk._core import Calls
    from inlet_sdk.document import to_json

    runner = Calls(Everything).full_sync([], None, None)
    kind, text = runner.next_lines()
    assert kind == "lines"
    lines = text.split("\n")
    assert len(lines) == 3
    # Byte for byte what the record path sends (non-ASCII as UTF-8, not as \u escapes), with
    # `_id` and `_timestamp` where the connector put them.
    docs = list(Everything().get_docs({}))[:3]
    assert lines == [to_json(d) for d in docs]
    assert "Zoë 東京 \U0001f600" in lines[1] and "\\u0001" in lines[1]


def test_json_lines_respect_batch_bytes():
    class Big(Connector):
        batch_bytes = 3000

        def get_docs(self, config, advanced_rules=None):
            for i in range(10):
                yield {"_id": str(i), "pad": "x" * 1000}

    from inlet_sdk._core import Calls

    runner = Calls(Big).full_sync([], None, None)
    sizes = []
    while (batch := runner.next_lines()) is not None:
        sizes.append(len(batch[1].split("\n")))
    assert sizes == [3, 3, 3, 1]


def test_manifest_component_line():
    assert manifest_text('service_type = "x"\n[permissions]\n', "x.wasm") == \
        'service_type = "x"\ncomponent = "x.wasm"\n[permissions]\n'
    assert 'component = "y.wasm"' in manifest_text('component = "old.wasm"\n', "y.wasm")
