"""GitHub connector (service type `github`): repositories, issues, pull requests and the text
files of each repository's default branch, over GitHub's REST API (Cloud or Server).

Configuration keys follow Elastic's GitHub connector (`data_source`, `host`, `repositories`,
`retry_count`). There is no `token` field: the operator declares the token in config.yml
(`credentials:`, type bearer, bound to the API's origin) and grants it to the connector
(`grants.credentials`); the host injects `Authorization` into each request and this plugin never
sees it.

Full sync: every repository, issue, pull request and text file (the host deletes what it did not
see, after a successful sync). Incremental sync: issues and pull requests updated since the
cursor (the highest `updated_at` seen).

Advanced sync rules (Elastic's shape, see README.md): a list of
`{"repository": "owner/repo", "filter": {"issue": q, "pr": q, "branch": b, "path": p}}`. With
rules, `repositories` is ignored and each rule's repository document is indexed, plus the issues
and pull requests its search queries match (GitHub's search API), the files of its branch and
the files directly under its path.
"""

import base64
import re
import time
from datetime import datetime, timezone
from urllib.parse import quote, urlencode, urlsplit

from inlet_sdk import AuthError, ConfigError, Connector, NetworkError, SourceError, fields as f
from inlet_sdk import http

CLOUD_API = "https://api.github.com"
PER_PAGE = 100
# Longest wait for a rate limit to reset before the sync fails (and is retried by its schedule).
MAX_WAIT_SECS = 120
# GitHub's search API serves at most this many results per query (later pages answer 422).
SEARCH_CAP = 1000
RULE_FILTER_KEYS = ("issue", "pr", "branch", "path")
_REPO_NAME = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')
TEXT_EXTENSIONS = {
    "", ".md", ".markdown", ".rst", ".txt", ".adoc", ".py", ".rs", ".go", ".js", ".mjs", ".ts",
    ".tsx", ".jsx", ".java", ".kt", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".rb", ".php",
    ".swift", ".scala", ".sh", ".bash", ".zsh", ".ps1", ".sql", ".html", ".htm", ".css", ".scss",
    ".json", ".yml", ".yaml", ".toml", ".ini", ".cfg", ".conf", ".xml", ".csv", ".tsv", ".proto",
    ".gradle", ".properties", ".tf", ".lua", ".pl", ".r", ".m", ".dart", ".ex", ".exs", ".erl",
    ".hs", ".ml", ".vue", ".svelte", ".wit", ".env", ".lock", ".gitignore", ".dockerfile",
}


def next_link(link_header):
    """The `rel="next"` URL of a `Link` header, or None."""
    if not link_header:
        return None
    for part in link_header.split(","):
        m = _NEXT.search(part)
        if m:
            return m.group(1)
    return None


def _now():
    return time.time()


class GitHub(Connector):
    batch_size = 50

    @classmethod
    def configuration(cls):
        return {
            "data_source": f.dropdown(
                "Data source",
                [{"label": "GitHub Cloud", "value": "github_cloud"}, {"label": "GitHub Server", "value": "github_server"}],
                order=1,
                default="github_cloud",
                tooltip="There is no token field: declare the GitHub token in config.yml "
                "`credentials:` (type bearer, hosts: the API origin) and list it in this "
                "connector's `grants.credentials`. Inlet injects it into each request; the "
                "connector never sees it.",
            ),
            "host": f.string(
                "Server URL",
                order=2,
                depends_on={"data_source": "github_server"},
                tooltip="Base URL of GitHub Server (e.g. https://github.example.com); the API is "
                "at <Server URL>/api/v3. Grant this origin in config.yml `grants.http`.",
            ),
            "repositories": f.list_(
                "List of repositories",
                order=3,
                tooltip="owner/repo names, comma-separated; `*` syncs every repository the token's "
                "user can access.",
            ),
            "retry_count": f.integer(
                "Retries per request",
                order=4,
                default=3,
                required=False,
                validations=[f.greater_than(-1)],
                ui_restrictions=[f.ADVANCED],
                tooltip="How often a request is retried after a rate limit or a server error before the sync fails.",
            ),
            "max_file_size": f.integer(
                "Maximum file size (bytes)",
                order=5,
                default=1048576,
                required=False,
                validations=[f.greater_than(-1)],
                ui_restrictions=[f.ADVANCED],
                tooltip="Text files larger than this are indexed without their content.",
            ),
        }

    # ---- configuration ------------------------------------------------------------------------
    def validate_config(self, config):
        self._api(config)
        repos = self._repo_names(config)
        for r in repos:
            if r != "*" and not _REPO_NAME.fullmatch(r):
                raise ConfigError(f"repositories: {r!r} is not owner/repo (or *)")

    def _api(self, config):
        source = config.get("data_source") or "github_cloud"
        if source == "github_cloud":
            return CLOUD_API
        if source != "github_server":
            raise ConfigError(f"data_source must be github_cloud or github_server, not {source!r}")
        host = (config.get("host") or "").strip().rstrip("/")
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError("host: the GitHub Server URL must be http(s)://host[:port]")
        return host if host.endswith("/api/v3") else host + "/api/v3"

    @staticmethod
    def _repo_names(config):
        repos = config.get("repositories") or []
        if isinstance(repos, str):
            repos = repos.split(",")
        out = [r.strip() for r in repos if r and r.strip()]
        if not out:
            raise ConfigError("repositories: list at least one owner/repo, or *")
        return out

    # ---- HTTP with GitHub's rate limits -------------------------------------------------------
    def _setup(self, config):
        self.api = self._api(config)
        self.retries = max(0, int(config.get("retry_count") or 0))
        self.max_file_size = int(config.get("max_file_size") or 0)
        self.requests = 0

    def _request(self, url):
        if url.startswith("/"):
            url = self.api + url
        attempt = 0
        while True:
            self.requests += 1
            r = http.get(url, headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"})
            wait = self._retry_after(r)
            if wait is None:
                return r
            if attempt >= self.retries:
                raise NetworkError(f"GET {url}: HTTP {r.status} after {attempt + 1} attempts ({r.text[:200].strip()})")
            if wait > MAX_WAIT_SECS:
                raise NetworkError(f"GET {url}: rate limited for {wait:.0f}s more; the sync stops and runs again later")
            attempt += 1
            self.logger.warning("GitHub answered %s for %s; retry %d/%d in %.1fs", r.status, url, attempt, self.retries, wait)
            http.sleep(wait)

    def _retry_after(self, r):
        """Seconds to wait before retrying `r`, or None when it is final."""
        if r.status in (403, 429):
            ra = r.header("retry-after")
            if ra is not None:
                try:
                    return max(0.0, float(ra))
                except ValueError:
                    return 60.0
            if r.header("x-ratelimit-remaining") == "0":
                try:
                    return max(0.0, float(r.header("x-ratelimit-reset")) - _now()) + 1
                except (TypeError, ValueError):
                    return 60.0
            if r.status == 429:
                return 60.0
            return None
        if r.status in (500, 502, 503, 504):
            return 1.0
        return None

    def _get_json(self, url, missing_ok=False):
        r = self._request(url)
        # 404: gone; 409: an empty repository has no tree.
        if r.status in (404, 409) and missing_ok:
            return None
        self._check(r, url)
        return r.json()

    def _check(self, r, url):
        if r.status == 401:
            raise AuthError(
                f"GitHub refused the credentials for {url} (HTTP 401): grant a valid token in "
                "config.yml `credentials:` + `grants.credentials`"
            )
        if r.status == 403:
            raise AuthError(f"GitHub denied {url} (HTTP 403): {r.text[:200].strip()}")
        if r.status >= 400:
            raise SourceError(f"GET {url}: HTTP {r.status}: {r.text[:200].strip()}")

    def _pages(self, url):
        """Every item of a paginated list, following `Link: rel="next"`."""
        while url:
            r = self._request(url)
            self._check(r, url)
            items = r.json()
            if not isinstance(items, list):
                raise SourceError(f"GET {url}: expected a list, got {type(items).__name__}")
            yield from items
            url = next_link(r.header("link"))

    # ---- checks ---------------------------------------------------------------------------
    def ping(self, config):
        self._setup(config)
        self._get_json("/user")

    # ---- documents ------------------------------------------------------------------------
    def _repositories(self, config):
        names = self._repo_names(config)
        if "*" in names:
            yield from self._pages(f"/user/repos?{urlencode({'per_page': PER_PAGE, 'sort': 'full_name'})}")
            return
        for name in names:
            repo = self._get_json(f"/repos/{name}", missing_ok=True)
            if repo is None:
                raise SourceError(f"repository {name} was not found (or the token cannot see it)")
            yield repo

    @staticmethod
    def _repo_doc(repo):
        return {
            "_id": repo["full_name"],
            "_timestamp": repo.get("updated_at") or repo.get("pushed_at"),
            "type": "Repository",
            "name": repo.get("name"),
            "full_name": repo["full_name"],
            "description": repo.get("description"),
            "url": repo.get("html_url"),
            "visibility": repo.get("visibility") or ("private" if repo.get("private") else "public"),
            "default_branch": repo.get("default_branch"),
            "language": repo.get("language"),
            "stargazers_count": repo.get("stargazers_count"),
            "open_issues_count": repo.get("open_issues_count"),
            "created_at": repo.get("created_at"),
        }

    @staticmethod
    def _issue_doc(full_name, issue):
        is_pr = "pull_request" in issue
        kind = "pull" if is_pr else "issues"
        return {
            "_id": f"{full_name}/{kind}/{issue['number']}",
            "_timestamp": issue.get("updated_at"),
            "type": "Pull request" if is_pr else "Issue",
            "repository": full_name,
            "number": issue["number"],
            "title": issue.get("title"),
            "body": issue.get("body") or "",
            "state": issue.get("state"),
            "url": issue.get("html_url"),
            "author": (issue.get("user") or {}).get("login"),
            "labels": [l.get("name") if isinstance(l, dict) else l for l in issue.get("labels") or []],
            "assignees": [a.get("login") for a in issue.get("assignees") or []],
            "created_at": issue.get("created_at"),
            "updated_at": issue.get("updated_at"),
            "closed_at": issue.get("closed_at"),
        }

    def _issues(self, full_name, since=None):
        q = {"state": "all", "per_page": PER_PAGE, "sort": "updated", "direction": "asc"}
        if since:
            q["since"] = since
        for issue in self._pages(f"/repos/{full_name}/issues?{urlencode(q)}"):
            yield issue

    def _files(self, repo, branch=None, strict=False):
        """The files of `branch` (default: the repository's default branch). `strict`: a branch
        named by a sync rule that does not exist fails the sync instead of indexing nothing, so
        a typo does not silently delete the repository's files from the index."""
        full_name = repo["full_name"]
        branch = branch or repo.get("default_branch")
        if not branch:
            return
        url = f"/repos/{full_name}/git/trees/{quote(branch, safe='')}?recursive=1"
        r = self._request(url)
        if r.status == 409:  # an empty repository has no tree
            return
        if r.status == 404:
            if strict:
                raise SourceError(f"sync rule: branch {branch!r} of {full_name} was not found")
            return
        self._check(r, url)
        tree = r.json()
        if tree.get("truncated"):
            self.logger.warning("the file tree of %s is truncated by GitHub; some files are not indexed", full_name)
        for entry in tree.get("tree") or []:
            if entry.get("type") != "blob":
                continue
            yield self._file_doc(repo, branch, entry["path"], entry.get("size"), entry.get("sha"))

    def _path_files(self, repo, path):
        """The files directly under `path` (or the file at `path`) on the default branch, as
        Elastic's `path` filter reads them: the contents API, files only, no recursion."""
        full_name = repo["full_name"]
        path = path.strip("/")
        url = f"/repos/{full_name}/contents/{quote(path)}"
        listing = self._get_json(url, missing_ok=True)
        if listing is None:
            raise SourceError(f"sync rule: path {path!r} of {full_name} was not found")
        entries = listing if isinstance(listing, list) else [listing]
        branch = repo.get("default_branch")
        for entry in entries:
            if isinstance(entry, dict) and entry.get("type") == "file":
                yield self._file_doc(repo, branch, entry["path"], entry.get("size"), entry.get("sha"))

    def _file_doc(self, repo, branch, path, size, sha):
        full_name = repo["full_name"]
        name = path.rsplit("/", 1)[-1]
        ext = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name.lstrip(".") else ""
        if name.startswith(".") and "." not in name[1:]:
            ext = name.lower()
        size = int(size or 0)
        doc = {
            "_id": f"{full_name}/blob/{path}",
            "_timestamp": repo.get("pushed_at") or repo.get("updated_at"),
            "type": "File",
            "repository": full_name,
            "branch": branch,
            "path": path,
            "name": name,
            "extension": ext,
            "size": size,
            "sha": sha,
            "url": f"{repo.get('html_url')}/blob/{branch}/{path}" if repo.get("html_url") else None,
        }
        if ext in TEXT_EXTENSIONS and size <= self.max_file_size:
            content = self._get_json(
                f"/repos/{full_name}/contents/{quote(path)}?{urlencode({'ref': branch})}", missing_ok=True
            )
            if isinstance(content, dict) and content.get("encoding") == "base64":
                try:
                    doc["body"] = base64.b64decode(content.get("content") or "").decode("utf-8")
                except (ValueError, UnicodeDecodeError):
                    pass
        return doc

    # ---- advanced sync rules --------------------------------------------------------------
    def validate_advanced_rules(self, config, rules):
        """Elastic's checks: the rules' shape, then that every rule's repository is accessible
        with the granted token. An empty list is valid (and means: no rules)."""
        if rules is None or rules == []:
            return []
        errors = rule_shape_errors(rules)
        if errors:
            return errors
        self._setup(config)
        _, missing = self._rule_repos(rules)
        if missing:
            return [f"Inaccessible repositories '{', '.join(missing)}'."]
        return []

    def _rule_repos(self, rules):
        """({name: repository JSON}, sorted inaccessible names) of the rules' repositories."""
        repos, missing = {}, []
        for name in dict.fromkeys(rule["repository"] for rule in rules):
            url = f"/repos/{name}"
            r = self._request(url)
            # 404 is GitHub's answer both for a missing repository and for one the token may
            # not see; a 403 that is not a rate limit (those are retried) is a denied one.
            if r.status in (403, 404):
                missing.append(name)
                continue
            self._check(r, url)
            repos[name] = r.json()
        return repos, sorted(missing)

    def _rule_docs(self, rules, cursor, since=None, old=None):
        """Documents of the advanced rules. `since` (incremental): only issues and pull requests
        updated since then, and neither repositories nor files (as without rules)."""
        # Every rule's repository first: an inaccessible one refuses the whole rule set with
        # the validator's message before anything is indexed. The host validates rules itself
        # only when they are edited through Elastic's protocol, not for config.yml's
        # `sync_rules`, so the sync must not rely on `validate_advanced_rules` having run.
        repos, missing = self._rule_repos(rules)
        if missing:
            raise ConfigError(f"advanced rules: Inaccessible repositories '{', '.join(missing)}'.")
        done = set()  # ids already yielded: rules may overlap (same repository, same issues)
        for rule in rules:
            repo = repos[rule["repository"]]
            full_name = repo["full_name"]
            flt = rule["filter"]
            if since is None and full_name not in done:
                done.add(full_name)
                yield self._repo_doc(repo)
            # Pull requests before issues, as Elastic runs them.
            for kind in ("pr", "issue"):
                if not flt.get(kind):
                    continue
                q = rule_search_query(full_name, flt[kind], kind)
                if q is None:
                    self.logger.warning("sync rule for %s: the %s query %r excludes %ss; skipped", full_name, kind, flt[kind], kind)
                    continue
                if since:
                    q += f" updated:>={since}"
                for issue in self._search_issues(q):
                    if old is not None and old.seen(full_name, issue):
                        continue
                    doc = self._issue_doc(full_name, issue)
                    if doc["_id"] in done:
                        continue
                    done.add(doc["_id"])
                    cursor.see(full_name, issue)
                    yield doc
            if since is not None:
                continue
            if flt.get("branch"):
                for doc in self._files(repo, flt["branch"], strict=True):
                    if doc["_id"] not in done:
                        done.add(doc["_id"])
                        yield doc
            if flt.get("path"):
                for doc in self._path_files(repo, flt["path"]):
                    if doc["_id"] not in done:
                        done.add(doc["_id"])
                        yield doc

    def _search_issues(self, q):
        """Every issue/pull request matching the search query `q`. Sorted by creation time, which
        never changes, so pages stay stable while items are updated during the sync. Search
        serves only SEARCH_CAP results per query: past it, the query is run again from the last
        creation time seen (`created:>=`), skipping what was already returned."""
        seen = set()
        after = None
        while True:
            query = q if after is None else f"{q} created:>={after}"
            url = "/search/issues?" + urlencode({"q": query, "sort": "created", "order": "asc", "per_page": PER_PAGE})
            served = new = 0
            total = 0
            while url:
                r = self._request(url)
                self._check(r, url)
                page = r.json()
                if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                    raise SourceError(f"GET {url}: expected search results, got {type(page).__name__}")
                total = int(page.get("total_count") or 0)
                if page.get("incomplete_results"):
                    self.logger.warning("GitHub search timed out for %r: its results may be incomplete", query)
                for item in page["items"]:
                    served += 1
                    key = item.get("number")
                    if key in seen:
                        continue
                    seen.add(key)
                    new += 1
                    if item.get("created_at"):
                        after = item["created_at"]
                    yield item
                # Past the cap GitHub answers 422, whatever its `Link` header offers.
                url = next_link(r.header("link")) if served < SEARCH_CAP else None
            if served < SEARCH_CAP or total <= served or after is None:
                return
            if new == 0:
                # More than SEARCH_CAP items created within the same second: no qualifier can
                # page past them.
                self.logger.warning("search %r: stopping at the %d-result limit", q, SEARCH_CAP)
                return

    def get_docs(self, config, advanced_rules=None):
        self._setup(config)
        cursor = _Cursor(None)
        if advanced_rules:
            _require_valid_rules(advanced_rules)
            yield from self._rule_docs(advanced_rules, cursor)
            self.logger.info("full sync (advanced rules) done after %d requests", self.requests)
            self.set_cursor(cursor.value())
            return
        for repo in self._repositories(config):
            full_name = repo["full_name"]
            yield self._repo_doc(repo)
            for issue in self._issues(full_name):
                cursor.see(full_name, issue)
                yield self._issue_doc(full_name, issue)
            yield from self._files(repo)
        self.logger.info("full sync done after %d requests", self.requests)
        self.set_cursor(cursor.value())

    def get_docs_incrementally(self, config, cursor, advanced_rules=None):
        self._setup(config)
        old = _Cursor(cursor)
        new = _Cursor(cursor)
        if advanced_rules:
            _require_valid_rules(advanced_rules)
            if old.since is None:
                raise SourceError("no cursor: run a full sync first")
            yield from self._rule_docs(advanced_rules, new, since=old.since, old=old)
            self.logger.info("incremental sync (advanced rules) done after %d requests", self.requests)
            self.set_cursor(new.value())
            return
        for repo in self._repositories(config):
            full_name = repo["full_name"]
            since = old.since
            for issue in self._issues(full_name, since):
                if old.seen(full_name, issue):
                    continue
                new.see(full_name, issue)
                yield self._issue_doc(full_name, issue)
        self.logger.info("incremental sync done after %d requests", self.requests)
        self.set_cursor(new.value())


def rule_shape_errors(rules):
    """Messages for every way `rules` departs from Elastic's advanced-rule schema (a list of
    {"repository": non-empty string, "filter": {at least one of issue/pr/branch/path: non-empty
    string}}, no other keys); [] when it conforms. Repositories must also be owner/repo here:
    this connector has no organization setting to complete a bare name with."""
    if not isinstance(rules, list):
        return [f"advanced rules must be a list of rules, not {type(rules).__name__}"]
    errors = []
    for i, rule in enumerate(rules):
        where = f"rule {i}"
        if not isinstance(rule, dict):
            errors.append(f"{where}: must be an object with repository and filter")
            continue
        extra = sorted(set(rule) - {"repository", "filter"})
        if extra:
            errors.append(f"{where}: unknown key(s) {', '.join(extra)} (allowed: repository, filter)")
        repo = rule.get("repository")
        if not isinstance(repo, str) or not repo.strip():
            errors.append(f"{where}: repository must be a non-empty string")
        elif not _REPO_NAME.fullmatch(repo):
            errors.append(f"{where}: repository {repo!r} is not owner/repo")
        flt = rule.get("filter")
        if not isinstance(flt, dict):
            errors.append(f"{where}: filter must be an object with one or more of {', '.join(RULE_FILTER_KEYS)}")
            continue
        if not flt:
            errors.append(f"{where}: filter needs at least one of {', '.join(RULE_FILTER_KEYS)}")
        extra = sorted(set(flt) - set(RULE_FILTER_KEYS))
        if extra:
            errors.append(f"{where}: unknown filter key(s) {', '.join(extra)} (allowed: {', '.join(RULE_FILTER_KEYS)})")
        for k in RULE_FILTER_KEYS:
            if k in flt and (not isinstance(flt[k], str) or not flt[k].strip()):
                errors.append(f"{where}: filter.{k} must be a non-empty string")
    return errors


def _require_valid_rules(rules):
    # The host validates rules before a sync; this guards a sync started with rules it never
    # validated (they would otherwise fail deep inside with a KeyError).
    errors = rule_shape_errors(rules)
    if errors:
        raise ConfigError("advanced rules: " + "; ".join(errors))


def rule_search_query(full_name, query, kind):
    """The search query of a rule's `issue` or `pr` filter, or None when the query itself asks
    for the other kind (Elastic skips such a filter). Scoped to the rule's repository, with
    `is:issue` / `is:pr` added unless the query already says so."""
    words = {w.lower() for w in query.split()}
    mine, other = ({"is:pr", "type:pr"}, {"is:issue", "type:issue"}) if kind == "pr" else ({"is:issue", "type:issue"}, {"is:pr", "type:pr"})
    if words & other:
        return None
    scope = f"repo:{full_name}" if words & mine else f"repo:{full_name} {'is:pr' if kind == 'pr' else 'is:issue'}"
    return f"{scope} {query.strip()}"


class _Cursor:
    """The highest `updated_at` seen, and the issues seen at that instant (GitHub's `since`
    includes it, so they would come again)."""

    def __init__(self, value):
        value = value if isinstance(value, dict) else {}
        self.since = value.get("since")
        self.at = set(value.get("at") or [])

    def see(self, full_name, issue):
        ts = issue.get("updated_at")
        if not ts:
            return
        key = f"{full_name}#{issue['number']}"
        if self.since is None or ts > self.since:
            self.since, self.at = ts, {key}
        elif ts == self.since:
            self.at.add(key)

    def seen(self, full_name, issue):
        ts = issue.get("updated_at")
        if self.since is None or not ts:
            return False
        return ts < self.since or (ts == self.since and f"{full_name}#{issue['number']}" in self.at)

    def value(self):
        if self.since is None:
            return {"since": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "at": []}
        return {"since": self.since, "at": sorted(self.at)}
