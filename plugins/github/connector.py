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
            if r != "*" and not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", r):
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

    def _files(self, repo):
        full_name = repo["full_name"]
        branch = repo.get("default_branch")
        if not branch:
            return
        tree = self._get_json(f"/repos/{full_name}/git/trees/{quote(branch, safe='')}?recursive=1", missing_ok=True)
        if tree is None:  # an empty repository has no tree
            return
        if tree.get("truncated"):
            self.logger.warning("the file tree of %s is truncated by GitHub; some files are not indexed", full_name)
        for entry in tree.get("tree") or []:
            if entry.get("type") != "blob":
                continue
            path = entry["path"]
            name = path.rsplit("/", 1)[-1]
            ext = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name.lstrip(".") else ""
            if name.startswith(".") and "." not in name[1:]:
                ext = name.lower()
            size = int(entry.get("size") or 0)
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
                "sha": entry.get("sha"),
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
            yield doc

    def get_docs(self, config, advanced_rules=None):
        self._setup(config)
        cursor = _Cursor(None)
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
