"""Unit tests of the SDK's pure-Python part (no component build). Run: pytest sdk/python/tests"""

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


def test_manifest_component_line():
    assert manifest_text('service_type = "x"\n[permissions]\n', "x.wasm") == \
        'service_type = "x"\ncomponent = "x.wasm"\n[permissions]\n'
    assert 'component = "y.wasm"' in manifest_text('component = "old.wasm"\n', "y.wasm")
