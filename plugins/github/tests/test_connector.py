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


# ---- advanced sync rules --------------------------------------------------------------------

from urllib.parse import parse_qs, urlencode, urlsplit  # noqa: E402

RULES_CONFIG = {**CONFIG, "repositories": "o/unused"}


def _item(number, pr=False, state="open", labels=(), created=None, updated=None):
    v = {
        "number": number,
        "title": f"#{number}",
        "state": state,
        "labels": [{"name": l} for l in labels],
        "created_at": created or f"2024-01-{number:02d}T00:00:00Z",
        "updated_at": updated or f"2024-02-{number:02d}T00:00:00Z",
    }
    if pr:
        v["pull_request"] = {"url": "x"}
    return v


class SearchFake(Fake):
    """Fake with GitHub's search API over `items` of repository o/a (a tiny evaluator of the
    qualifiers the connector sends), `Link` pagination of `page_size`, and a `dev` branch."""

    def __init__(self, items, page_size=2):
        super().__init__()
        self.items = items
        self.page_size = page_size
        self.searches = []
        self.search_limited = 0

    def __call__(self, method, url, headers, body, timeout):
        path = url.split("?")[0][len(API):]
        if path == "/repos/o/a":
            self.calls.append(url)
            return self.json({"full_name": "o/a", "name": "a", "default_branch": "main", "html_url": "http://gh/o/a"}, url)
        if path == "/repos/o/a/git/trees/dev":
            self.calls.append(url)
            return self.json({"tree": [{"path": "CHANGELOG.md", "type": "blob", "size": 5}]}, url)
        if path == "/repos/o/a/contents/docs":
            self.calls.append(url)
            return self.json([{"path": "docs/a.md", "type": "file", "size": 5},
                              {"path": "docs/img", "type": "dir", "size": 0}], url)
        if path == "/search/issues":
            self.calls.append(url)
            if self.search_limited:
                self.search_limited -= 1
                return http.Response(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "0"}, b"{}", url)
            q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
            self.searches.append(q["q"])
            return self.search(url, q)
        return super().__call__(method, url, headers, body, timeout)

    def search(self, url, q):
        words = q["q"].split()
        assert q["sort"] == "created" and q["order"] == "asc"
        hits = []
        for it in self.items:
            ok = True
            for w in words:
                if w == "repo:o/a":
                    continue
                if w in ("is:pr", "is:issue"):
                    ok &= ("pull_request" in it) == (w == "is:pr")
                elif w in ("is:open", "is:closed"):
                    ok &= it["state"] == w[3:]
                elif w.startswith("label:"):
                    ok &= w[6:] in [l["name"] for l in it["labels"]]
                elif w.startswith("created:>="):
                    ok &= it["created_at"] >= w[10:]
                elif w.startswith("updated:>="):
                    ok &= it["updated_at"] >= w[10:]
                else:
                    raise AssertionError(f"unexpected search word {w!r}")
            if ok:
                hits.append(it)
        hits.sort(key=lambda it: it["created_at"])
        page = int(q.get("page", 1))
        size = self.page_size
        chunk = hits[(page - 1) * size: page * size]
        headers = {}
        if page * size < len(hits):
            headers["Link"] = f'<{API}/search/issues?{urlencode({**q, "page": page + 1})}>; rel="next"'
        return self.json({"total_count": len(hits), "incomplete_results": False, "items": chunk}, url, headers)


@pytest.fixture
def search_fake(monkeypatch):
    f = SearchFake([
        _item(1, labels=["bug"]),
        _item(2, labels=["bug"], state="closed"),
        _item(3, pr=True, labels=["bug"]),
        _item(4, labels=["docs"]),
        _item(5, labels=["bug"]),
        _item(6, pr=True, state="closed"),
    ])
    old = http.set_transport(f)
    monkeypatch.setattr(http, "sleep", lambda s: f.sleeps.append(s))
    yield f
    http.set_transport(old)


def test_rule_shape_errors_follow_elastics_schema():
    ok = [{"repository": "o/a", "filter": {"issue": "is:open", "pr": "label:x", "branch": "dev", "path": "docs"}}]
    assert gh.rule_shape_errors(ok) == []
    assert gh.rule_shape_errors({"repository": "o/a"}) == ["advanced rules must be a list of rules, not dict"]
    cases = {
        "filter must be an object": [{"repository": "o/a"}],
        "at least one of": [{"repository": "o/a", "filter": {}}],
        "unknown filter key(s) labels": [{"repository": "o/a", "filter": {"labels": "bug"}}],
        "filter.issue must be a non-empty string": [{"repository": "o/a", "filter": {"issue": ""}}],
        "filter.branch must be a non-empty string": [{"repository": "o/a", "filter": {"branch": 3}}],
        "repository must be a non-empty string": [{"filter": {"branch": "main"}}],
        "is not owner/repo": [{"repository": "a", "filter": {"branch": "main"}}],
        "unknown key(s) extra": [{"repository": "o/a", "filter": {"branch": "main"}, "extra": 1}],
        "must be an object with repository": ["o/a"],
    }
    for needle, rules in cases.items():
        errors = gh.rule_shape_errors(rules)
        assert any(needle in e for e in errors), (needle, errors)


def test_rule_search_query_scopes_and_types_like_elastic():
    q = gh.rule_search_query
    assert q("o/a", "label:bug is:open", "issue") == "repo:o/a is:issue label:bug is:open"
    assert q("o/a", "is:issue label:bug", "issue") == "repo:o/a is:issue label:bug"
    assert q("o/a", "is:closed", "pr") == "repo:o/a is:pr is:closed"
    # A query asking for the other kind is skipped, not rewritten.
    assert q("o/a", "is:pr review:approved", "issue") is None
    assert q("o/a", "is:issue", "pr") is None


def test_validate_advanced_rules(search_fake):
    c = gh.GitHub()
    assert c.validate_advanced_rules(RULES_CONFIG, []) == []
    assert search_fake.calls == [], "an empty rule set needs no request"
    bad = c.validate_advanced_rules(RULES_CONFIG, [{"repository": "o/a", "filter": {"tag": "v1"}}])
    assert len(bad) == 1 and "unknown filter key(s) tag" in bad[0]
    assert search_fake.calls == [], "the shape is checked before any request"
    rules = [{"repository": "o/a", "filter": {"issue": "is:open"}},
             {"repository": "o/gone", "filter": {"branch": "main"}},
             {"repository": "o/nope", "filter": {"pr": "is:open"}}]
    assert c.validate_advanced_rules(RULES_CONFIG, rules) == ["Inaccessible repositories 'o/gone, o/nope'."]
    assert c.validate_advanced_rules(RULES_CONFIG, rules[:1]) == []


def test_full_sync_with_rules_indexes_only_what_the_rules_match(search_fake):
    rules = [{"repository": "o/a", "filter": {"issue": "label:bug is:open", "branch": "dev"}}]
    docs, cursor = run_sync(gh.GitHub, RULES_CONFIG, kind="full", advanced_rules=rules)
    ids = [d["id"] for d in docs]
    # The repository, open bug issues (not the closed one, not the PR), and the dev branch's
    # files; same ids as a full sync, so switching rules on or off does not duplicate.
    assert ids == ["o/a", "o/a/issues/1", "o/a/issues/5", "o/a/blob/CHANGELOG.md"]
    assert search_fake.searches[0] == "repo:o/a is:issue label:bug is:open"
    assert len(search_fake.searches) == 1, "one page of 2 results"
    body = {d["id"]: d["body"] for d in docs}
    assert body["o/a/blob/CHANGELOG.md"]["branch"] == "dev"
    assert body["o/a/blob/CHANGELOG.md"]["body"] == "hello"
    # `repositories` is ignored with rules, and nothing else is listed.
    assert not any("/user/repos" in c or "/repos/o/unused" in c or "/repos/o/a/issues" in c for c in search_fake.calls)
    assert json.loads(cursor)["since"] == "2024-02-05T00:00:00Z"


def test_rules_pr_only_path_only_and_overlaps(search_fake):
    rules = [
        {"repository": "o/a", "filter": {"pr": "is:open"}},
        {"repository": "o/a", "filter": {"pr": "label:bug", "issue": "is:pr is:closed"}},  # issue query skipped
        {"repository": "o/a", "filter": {"path": "docs"}},
    ]
    docs, _ = run_sync(gh.GitHub, RULES_CONFIG, kind="full", advanced_rules=rules)
    # The repository once and PR #3 once, though two rules name them.
    assert [d["id"] for d in docs] == ["o/a", "o/a/pull/3", "o/a/blob/docs/a.md"]
    assert search_fake.searches == ["repo:o/a is:pr is:open", "repo:o/a is:pr label:bug"]


def test_search_follows_link_pages_and_pages_past_the_result_cap(search_fake, monkeypatch):
    search_fake.items = [_item(n, created=f"2024-01-01T00:00:{n // 2:02d}Z") for n in range(1, 12)]
    monkeypatch.setattr(gh, "SEARCH_CAP", 4)
    rules = [{"repository": "o/a", "filter": {"issue": "is:open"}}]
    docs, _ = run_sync(gh.GitHub, RULES_CONFIG, kind="full", advanced_rules=rules)
    assert [d["id"] for d in docs] == ["o/a"] + [f"o/a/issues/{n}" for n in range(1, 12)]
    # Each query stops at the cap; the next starts from the last creation time seen, and the
    # items created at that same second are not emitted twice.
    assert search_fake.searches == [
        "repo:o/a is:issue is:open",
        "repo:o/a is:issue is:open",
        "repo:o/a is:issue is:open created:>=2024-01-01T00:00:02Z",
        "repo:o/a is:issue is:open created:>=2024-01-01T00:00:02Z",
        "repo:o/a is:issue is:open created:>=2024-01-01T00:00:03Z",
        "repo:o/a is:issue is:open created:>=2024-01-01T00:00:03Z",
        # 4 results left (total_count 4): no further query.
        "repo:o/a is:issue is:open created:>=2024-01-01T00:00:04Z",
        "repo:o/a is:issue is:open created:>=2024-01-01T00:00:04Z",
    ]


def test_search_rate_limit_is_waited_out(search_fake):
    search_fake.search_limited = 1
    rules = [{"repository": "o/a", "filter": {"pr": "is:open"}}]
    docs, _ = run_sync(gh.GitHub, RULES_CONFIG, kind="full", advanced_rules=rules)
    assert [d["id"] for d in docs] == ["o/a", "o/a/pull/3"]
    assert len(search_fake.sleeps) == 1


def test_incremental_sync_with_rules_searches_updated_since_cursor(search_fake):
    rules = [{"repository": "o/a", "filter": {"issue": "label:bug", "branch": "dev"}}]
    _, cursor = run_sync(gh.GitHub, RULES_CONFIG, kind="full", advanced_rules=rules)
    assert json.loads(cursor) == {"since": "2024-02-05T00:00:00Z", "at": ["o/a#5"]}
    search_fake.items.append(_item(7, labels=["bug"], created="2024-03-01T00:00:00Z", updated="2024-03-02T00:00:00Z"))
    search_fake.searches.clear()
    docs, cursor = run_sync(gh.GitHub, RULES_CONFIG, kind="incremental", cursor=cursor, advanced_rules=rules)
    # #5 was seen at the cursor's instant; neither the repository nor the files come again.
    assert [d["id"] for d in docs] == ["o/a/issues/7"]
    assert search_fake.searches == ["repo:o/a is:issue label:bug updated:>=2024-02-05T00:00:00Z"]
    assert json.loads(cursor)["since"] == "2024-03-02T00:00:00Z"


def test_missing_branch_of_a_rule_fails_the_sync(search_fake):
    rules = [{"repository": "o/a", "filter": {"branch": "nope"}}]
    with pytest.raises(Exception) as e:
        run_sync(gh.GitHub, RULES_CONFIG, kind="full", advanced_rules=rules)
    assert "branch 'nope' of o/a was not found" in str(e.value)


def test_sync_with_an_inaccessible_rule_repository_fails_before_indexing(search_fake):
    # config.yml rules reach the sync without the host calling validate_advanced_rules.
    rules = [{"repository": "o/a", "filter": {"issue": "is:open"}},
             {"repository": "o/gone", "filter": {"branch": "main"}}]
    with pytest.raises(Exception) as e:
        run_sync(gh.GitHub, RULES_CONFIG, kind="full", advanced_rules=rules)
    assert "Inaccessible repositories 'o/gone'." in str(e.value)
    assert search_fake.searches == []
    with pytest.raises(Exception) as e:
        run_sync(gh.GitHub, RULES_CONFIG, kind="full", advanced_rules=[{"repository": "o/a", "filter": {}}])
    assert "filter needs at least one of issue, pr, branch, path" in str(e.value)
