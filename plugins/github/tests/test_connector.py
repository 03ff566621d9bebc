"""Unit tests of the GitHub connector in plain CPython, with a fake `inlet_sdk.http` transport.
The end-to-end test (tests/e2e/github.rs) runs the built component through the real host."""

import base64
import importlib.util
import json
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "sdk", "python"))

from inlet_sdk import http  # noqa: E402
from inlet_sdk.testing import run_sync  # noqa: E402

# Loaded under its own name: other projects' tests import a `connector` module too.
_spec = importlib.util.spec_from_file_location("github_connector", os.path.join(HERE, "..", "connector.py"))
gh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gh)

API = "http://gh.test/api/v3"
CONFIG = {"data_source": "github_server", "host": "http://gh.test", "repositories": "*", "retry_count": 2}


class Fake:
    def __init__(self, limited=0):
        self.calls = []
        self.limited = limited
        self.sleeps = []

    def __call__(self, method, url, headers, body, timeout):
        assert not any(k.lower() == "authorization" for k in headers)
        self.calls.append(url)
        path = url.split("?")[0][len(API):]
        if path == "/user/repos":
            if self.limited:
                self.limited -= 1
                return http.Response(403, {"Retry-After": "0"}, b"{}", url)
            return self.json([{"full_name": "o/a", "name": "a", "default_branch": "main"}], url)
        if path == "/repos/o/a/issues":
            if "page=2" in url:
                return self.json([{"number": 3, "updated_at": "2024-01-03T00:00:00Z", "pull_request": {}}], url)
            link = {"Link": f'<{API}/repos/o/a/issues?state=all&page=2>; rel="next"'}
            return self.json([{"number": 1, "updated_at": "2024-01-02T00:00:00Z"}], url, link)
        if path == "/repos/o/a/git/trees/main":
            return self.json({"tree": [{"path": "README.md", "type": "blob", "size": 5},
                                       {"path": "a.png", "type": "blob", "size": 5}]}, url)
        if path.startswith("/repos/o/a/contents/"):
            return self.json({"encoding": "base64", "content": base64.b64encode(b"hello").decode()}, url)
        return http.Response(404, {}, b"{}", url)

    @staticmethod
    def json(value, url, headers=None):
        return http.Response(200, headers or {}, json.dumps(value).encode(), url)


@pytest.fixture
def fake(monkeypatch):
    f = Fake()
    old = http.set_transport(f)
    monkeypatch.setattr(http, "sleep", lambda s: f.sleeps.append(s))
    yield f
    http.set_transport(old)


def test_next_link():
    assert gh.next_link('<https://x/2>; rel="next", <https://x/9>; rel="last"') == "https://x/2"
    assert gh.next_link('<https://x/9>; rel="last"') is None
    assert gh.next_link(None) is None


def test_full_sync_follows_pages_and_reads_text_files(fake):
    docs, cursor = run_sync(gh.GitHub, CONFIG, kind="full")
    by_id = {d["id"]: d["body"] for d in docs}
    assert sorted(by_id) == ["o/a", "o/a/blob/README.md", "o/a/blob/a.png", "o/a/issues/1", "o/a/pull/3"]
    assert by_id["o/a/blob/README.md"]["body"] == "hello"
    assert "body" not in by_id["o/a/blob/a.png"]
    assert json.loads(cursor) == {"since": "2024-01-03T00:00:00Z", "at": ["o/a#3"]}

    # Incremental: `since` = cursor; what was seen at that instant is not emitted again.
    fake.calls.clear()
    docs, _ = run_sync(gh.GitHub, CONFIG, kind="incremental", cursor=cursor)
    assert docs == []
    assert any("since=2024-01-03T00%3A00%3A00Z" in c for c in fake.calls)


def test_rate_limit_is_retried_then_fails(fake):
    fake.limited = 1
    docs, _ = run_sync(gh.GitHub, CONFIG, kind="full")
    assert len(docs) == 5 and fake.sleeps == [0.0]
    fake.limited = 10
    with pytest.raises(Exception) as e:
        run_sync(gh.GitHub, CONFIG, kind="full")
    assert "403" in str(e.value)
