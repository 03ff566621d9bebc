"""Google Drive connector (service type `google_drive`): one document per file and folder the
service account can see in My Drive and in shared drives, with Elastic's `_id`s (the file id)
and fields (`prepare_file`), contents of Elastic's file types ≤ 10 MiB as `_attachment`, and
Google Docs / Slides / Sheets exported as Elastic exports them.

Configuration keys follow Elastic's connector (`connectors/sources/google_drive/datasource.py`)
plus Inlet's `endpoint` (the Drive API's origin; a stand-in in tests).

The plugin never sees the service account key or a token: the host signs the RFC 7523 JWT
grant with the key (a `google_service_account` credential, from config.yml or formed from the
form's `service_account_credentials`, see plugin.toml) and injects the bearer.

Requests (Drive API v3): `drives.list` and `files.list` of folders (to resolve paths), then
`files.list` over all corpora (`corpora=allDrives`, `supportsAllDrives`,
`includeItemsFromAllDrives`, `pageToken` paging, `fields` limited to what the documents use);
`files.get?alt=media` and `files.export` for contents.
"""

import json
import time
from datetime import datetime, timezone
from urllib.parse import quote, urlencode, urlsplit

from inlet_sdk import AuthError, ConfigError, Connector, Document, NetworkError, SourceError, fields as f
from inlet_sdk import http

DEFAULT_ENDPOINT = "https://www.googleapis.com"
GOOGLE_API_MAX_CONCURRENCY = 25
FOLDER_MIME_TYPE = "application/vnd.google-apps.folder"
# Elastic's GOOGLE_MIME_TYPES_MAPPING: Google Workspace files are exported to these.
EXPORT_MIME_TYPES = {
    "application/vnd.google-apps.document": "text/plain",
    "application/vnd.google-apps.presentation": "text/plain",
    "application/vnd.google-apps.spreadsheet": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Elastic's DRIVE_ITEMS_FIELDS (clients.py): what `prepare_file` reads.
FILE_FIELDS = (
    "id,createdTime,driveId,modifiedTime,name,size,mimeType,fileExtension,webViewLink,owners,parents,trashed,trashedTime"
)
FILES_PAGE_SIZE = 100  # Elastic's, for files
FOLDERS_PAGE_SIZE = 1000  # Elastic's, for folders (Drive's maximum)
DRIVES_PAGE_SIZE = 100  # Elastic's, and drives.list's maximum
# Elastic's framework: contents of TIKA_SUPPORTED_FILETYPES up to FILE_SIZE_LIMIT (10 MiB).
MAX_FILE_SIZE = 10 * 1024 * 1024
SUPPORTED_EXTENSIONS = {
    ".txt", ".py", ".rst", ".html", ".markdown", ".json", ".xml", ".csv", ".md", ".ppt", ".rtf",
    ".docx", ".odt", ".xls", ".xlsx", ".rb", ".paper", ".sh", ".pptx", ".pdf", ".doc", ".aspx",
    ".xlsb", ".xlsm", ".tsv", ".svg", ".msg", ".potx", ".vsd", ".vsdx", ".vsdm",
}
# Elastic's shared Google client retries every failed call 3 times, 2 s apart, doubling.
RETRIES = 3
RETRY_INTERVAL = 2.0
MAX_RETRY_AFTER = 300.0
# Google's rate-limit answers: 429, and 403 with one of these reasons (Drive's guide to
# "Resolve errors"); 5xx are transient too.
RATE_LIMIT_REASONS = {"userRateLimitExceeded", "rateLimitExceeded", "sharingRateLimitExceeded"}
TIMEOUT = 60  # Elastic's DRIVE_API_TIMEOUT
# Elastic's CURSOR_GOOGLE_DRIVE_KEY and the framework's CURSOR_SYNC_TIMESTAMP.
CURSOR_DRIVES = "google_drives"
CURSOR_TIMESTAMP = "cursor_timestamp"
# Elastic's (connectors/utils.py), for the Workspace e-mail fields.
EMAIL_REGEX_PATTERN = r"^\S+@\S+\.\S+$"


def iso_zulu(now=None):
    """Elastic's `iso_zulu()`: the time as `2024-01-02T03:04:05Z`."""
    when = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value):
    """An RFC 3339 time of Drive's (`2024-01-02T03:04:05.123Z`) or the cursor's, or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def later(a, b):
    """Whether time `a` is after `b` (Elastic compares the strings, which puts
    `…05.123Z` before `…05Z`); an unreadable `a` counts as later (the file is deleted)."""
    ta, tb = parse_time(a), parse_time(b)
    return ta is None or tb is None or ta > tb


# ---- documents ------------------------------------------------------------------------------
def resolve_paths(folders, drives):
    """Elastic's `resolve_paths`: {id: {"name", "parents", "path"}} for every folder and shared
    drive (drives are top-level folders), the path the names from the topmost known ancestor
    down, joined by `/`. A parent that is not listed (the service account's My Drive root,
    a folder not shared with it) ends the walk."""
    nodes = {fid: {"name": v["name"], "parents": v.get("parents") or []} for fid, v in folders.items()}
    for did, name in drives.items():
        nodes[did] = {"name": name, "parents": []}

    def path_of(fid, seen):
        node = nodes[fid]
        if "path" in node:
            return node["path"]
        parent = node["parents"][0] if node["parents"] else None
        if parent in nodes and parent not in seen:
            seen.add(fid)
            node["path"] = path_of(parent, seen) + "/" + node["name"]
        else:
            node["path"] = node["name"]
        return node["path"]

    for fid in nodes:
        path_of(fid, set())
    return nodes


def prepare_file(file, paths):
    """Elastic's `prepare_file` (without DLS): the document of one `files.list` item."""
    doc = {
        "_id": file.get("id"),
        "created_at": file.get("createdTime"),
        "last_updated": file.get("modifiedTime"),
        "name": file.get("name"),
        # Drive gives `size` as a string ("1234"); folders and Google files have none.
        "size": file.get("size") or 0,
        "_timestamp": file.get("modifiedTime"),
        "mime_type": file.get("mimeType"),
        "file_extension": file.get("fileExtension"),
        "url": file.get("webViewLink"),
        "trashed": file.get("trashed"),
        "type": "folder" if file.get("mimeType") == FOLDER_MIME_TYPE else "file",
    }
    owners = file.get("owners")
    if owners:
        doc["author"] = ",".join(o.get("displayName", "") for o in owners)
        doc["created_by"] = owners[0].get("displayName")
        doc["created_by_email"] = owners[0].get("emailAddress")
    modifier = file.get("lastModifyingUser")
    if modifier:
        doc["updated_by"] = modifier.get("displayName")
        doc["updated_by_email"] = modifier.get("emailAddress")
        doc["updated_by_photo_url"] = modifier.get("photoLink")
    parents = file.get("parents")
    if parents and parents[0] in paths:
        doc["path"] = f"{paths[parents[0]]['path']}/{file.get('name')}"
    drive = paths.get(file.get("driveId"))
    if drive:
        doc["shared_drive"] = drive.get("name")
    return doc


def content_kind(doc, size_limit=True):
    """How the file's content is fetched: ("export", mime type) for Google Docs / Slides /
    Sheets, ("media", None) for a file of one of Elastic's extensions within the size limit,
    None for no content (Elastic's `get_content`)."""
    mime = doc.get("mime_type")
    if mime in EXPORT_MIME_TYPES:
        return "export", EXPORT_MIME_TYPES[mime]
    try:
        size = int(doc.get("size") or 0)
    except (TypeError, ValueError):
        return None
    if size <= 0:
        return None
    ext = doc.get("file_extension")
    if not ext or f".{ext}".lower() not in SUPPORTED_EXTENSIONS:
        return None
    if size_limit and size > MAX_FILE_SIZE:
        return None
    return "media", None


def google_error(body):
    """(reason, message) of Google's JSON error answer; ("", "") when the body is not one."""
    try:
        err = json.loads(body).get("error")
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(err, dict):
        return (err if isinstance(err, str) else ""), ""
    reasons = [e.get("reason", "") for e in err.get("errors") or [] if isinstance(e, dict)]
    return (reasons[0] if reasons else str(err.get("status") or "")), str(err.get("message") or "")


def retry_after(value, default):
    try:
        return min(max(0.0, float(value)), MAX_RETRY_AFTER)
    except (TypeError, ValueError):
        return default


# ---- the client -----------------------------------------------------------------------------
class Client:
    """Requests to the Drive API v3. Rate limits (429, 403 `userRateLimitExceeded` …), 5xx and
    broken connections are retried `RETRIES` times, waiting as Retry-After says or 2, 4, 8 s."""

    def __init__(self, endpoint, logger, retries=RETRIES, interval=RETRY_INTERVAL):
        self.base = endpoint + "/drive/v3"
        self.endpoint = endpoint
        self.logger = logger
        self.retries = retries
        self.interval = interval
        self.requests = 0

    def url(self, path, params):
        return self.base + path + ("?" + urlencode(params) if params else "")

    def call(self, path, params, what):
        """One GET, retried while Google asks for it; the final response."""
        url = self.url(path, params)
        wait = self.interval
        for attempt in range(self.retries + 1):
            self.requests += 1
            try:
                r = http.request("GET", url, timeout=TIMEOUT)
            except NetworkError as e:
                text = str(e)
                if "denied" in text or "refused the address" in text or attempt >= self.retries:
                    raise
                why, pause = text, wait
            else:
                reason = google_error(r.body)[0] if r.status >= 400 else ""
                throttled = r.status == 429 or (r.status == 403 and reason in RATE_LIMIT_REASONS)
                if not throttled and r.status < 500:
                    return r
                if attempt >= self.retries:
                    raise NetworkError(
                        f"{what}: HTTP {r.status}{' ' + reason if reason else ''}, still failing after "
                        f"{self.retries} retries"
                    )
                why, pause = f"HTTP {r.status}{' ' + reason if reason else ''}", retry_after(r.header("retry-after"), wait)
            self.logger.warning("%s: %s; retry %d/%d in %.1fs", what, why, attempt + 1, self.retries, pause)
            http.sleep(pause)
            wait *= 2
        raise NetworkError(f"{what}: no answer")  # not reached

    def check(self, r, what):
        if 200 <= r.status < 300:
            return r
        reason, message = google_error(r.body)
        detail = f"{reason}: {message}" if reason or message else (r.text[:200].strip() or "no details")
        if r.status == 401:
            raise AuthError(
                f"{what}: Google refused the token (HTTP 401 {detail}). The host injects it from a "
                "google_service_account credential: the form's service_account_credentials, or config.yml "
                f"`credentials:` + `grants.credentials` for {self.endpoint} (see the plugin's README)"
            )
        if r.status == 403:
            raise AuthError(
                f"{what}: HTTP 403 {detail}. The credential needs the scopes drive.readonly and "
                "drive.metadata.readonly, and the Drive API enabled in the service account's project"
            )
        raise SourceError(f"{what}: HTTP {r.status} {detail}")

    def json(self, path, params, what):
        r = self.check(self.call(path, params, what), what)
        try:
            return json.loads(r.body)
        except ValueError:
            raise SourceError(f"{what}: the answer is not JSON") from None

    def paged(self, path, params, what, key):
        """Every item under `key` of every page (`pageToken` / `nextPageToken`)."""
        token = None
        while True:
            page = self.json(path, params + ([("pageToken", token)] if token else []), what)
            items = page.get(key) or []
            if not isinstance(items, list):
                raise SourceError(f"{what}: `{key}` is not a list")
            if page.get("incompleteSearch"):
                self.logger.warning("%s: Drive says the search is incomplete (some corpora were not searched)", what)
            yield from items
            token = page.get("nextPageToken")
            if not token:
                return

    # -- operations --
    def about(self):
        return self.json("/about", [("fields", "kind")], "about.get")

    def drives(self):
        """{shared drive id: name} (Elastic's `get_all_drives`)."""
        params = [("fields", "nextPageToken,drives(id,name)"), ("pageSize", DRIVES_PAGE_SIZE)]
        return {d["id"]: d.get("name", "") for d in self.paged("/drives", params, "drives.list", "drives") if "id" in d}

    def folders(self):
        """{folder id: {"name", "parents"}} (Elastic's `get_all_folders`)."""
        params = [
            ("corpora", "allDrives"),
            ("fields", "nextPageToken,files(id,name,parents)"),
            ("q", f"mimeType='{FOLDER_MIME_TYPE}' and trashed=false"),
            ("includeItemsFromAllDrives", "true"),
            ("supportsAllDrives", "true"),
            ("pageSize", FOLDERS_PAGE_SIZE),
        ]
        return {
            d["id"]: {"name": d.get("name", ""), "parents": d.get("parents") or []}
            for d in self.paged("/files", params, "files.list (folders)", "files")
            if "id" in d
        }

    def files(self, since=None):
        """Every file and folder (Elastic's `list_files`); with `since`, the ones created or
        modified after it and the trashed ones (incremental syncs)."""
        q = "trashed=false" if since is None else f"trashed=true or modifiedTime > '{since}' or createdTime > '{since}'"
        params = [
            ("corpora", "allDrives"),
            ("q", q),
            ("orderBy", "modifiedTime desc"),
            ("fields", f"files({FILE_FIELDS}),incompleteSearch,nextPageToken"),
            ("includeItemsFromAllDrives", "true"),
            ("supportsAllDrives", "true"),
            ("pageSize", FILES_PAGE_SIZE),
        ]
        return self.paged("/files", params, "files.list", "files")

    def content(self, doc, kind, export_mime):
        """The file's bytes, or None when it cannot be had (gone, or too large to export)."""
        fid = quote(doc["_id"], safe="")
        if kind == "export":
            what = f"files.export {doc['_id']} ({doc.get('name')!r})"
            r = self.call(f"/files/{fid}/export", [("mimeType", export_mime)], what)
        else:
            what = f"files.get alt=media {doc['_id']} ({doc.get('name')!r})"
            r = self.call(f"/files/{fid}", [("alt", "media"), ("supportsAllDrives", "true")], what)
        if r.status == 404:
            self.logger.warning("%s: gone (deleted during the sync?): indexed without content", what)
            return None
        if r.status == 403 and google_error(r.body)[0] in ("exportSizeLimitExceeded", "cannotDownloadAbusiveFile"):
            self.logger.warning("%s: %s: indexed without content", what, google_error(r.body)[0])
            return None
        return self.check(r, what).body


# ---- the connector --------------------------------------------------------------------------
def _positive_int(config, key, default):
    v = config.get(key)
    if v is None or v == "":
        return default
    if isinstance(v, str) and v.strip().isdigit():
        v = int(v.strip())
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ConfigError(f"{key} {v!r}: expected a whole number greater than 0")
    return v


class GoogleDrive(Connector):
    batch_size = 100

    @classmethod
    def configuration(cls):
        email = [f.regex(EMAIL_REGEX_PATTERN)]
        # Elastic's form, the key optional (the operator may hold it in config.yml instead),
        # plus Inlet's `endpoint`.
        return {
            "service_account_credentials": f.string(
                "Google Drive service account JSON",
                order=1,
                display="textarea",
                sensitive=True,
                required=False,
                tooltip="This connectors authenticates as a service account to synchronize content from Google Drive.",
            ),
            "use_domain_wide_delegation_for_sync": f.toggle(
                "Use domain-wide delegation for data sync",
                order=2,
                default=False,
                tooltip="Not supported by Inlet yet (see the plugin's README): only items and folders shared with "
                "the service account are synced.",
            ),
            "google_workspace_admin_email_for_data_sync": f.string(
                "Google Workspace admin email",
                order=3,
                required=False,
                depends_on={"use_domain_wide_delegation_for_sync": True},
                validations=email,
            ),
            "google_workspace_email_for_shared_drives_sync": f.string(
                "Google Workspace email for syncing shared drives",
                order=4,
                required=False,
                depends_on={"use_domain_wide_delegation_for_sync": True},
                validations=email,
            ),
            "use_document_level_security": f.toggle(
                "Enable document level security",
                order=5,
                default=False,
                tooltip="Not supported by Inlet yet (see the plugin's README).",
            ),
            "google_workspace_admin_email": f.string(
                "Google Workspace admin email",
                order=6,
                required=False,
                depends_on=[
                    {"field": "use_document_level_security", "value": True},
                    {"field": "use_domain_wide_delegation_for_sync", "value": False},
                ],
                validations=email,
            ),
            "max_concurrency": f.integer(
                "Maximum concurrent HTTP requests",
                order=7,
                default=GOOGLE_API_MAX_CONCURRENCY,
                required=False,
                ui_restrictions=[f.ADVANCED],
                validations=[f.greater_than(0)],
                tooltip="Accepted for Elastic's configurations; Inlet's Python connectors send one request at a time.",
            ),
            "use_text_extraction_service": f.toggle(
                "Use text extraction service",
                order=8,
                default=False,
                ui_restrictions=[f.ADVANCED],
                tooltip="Requires a separate deployment of the Elastic Text Extraction Service. Requires that "
                "pipeline settings disable text extraction.",
            ),
            "endpoint": f.string(
                "Drive API endpoint",
                order=9,
                default=DEFAULT_ENDPOINT,
                required=False,
                ui_restrictions=[f.ADVANCED],
                tooltip="Inlet: the Drive API's origin (a private endpoint or a test server); the credential's "
                "`hosts` and `grants.http` must name the same origin.",
            ),
        }

    # ---- configuration ------------------------------------------------------------------------
    def _setup(self, config):
        if config.get("use_domain_wide_delegation_for_sync"):
            raise ConfigError(
                "use_domain_wide_delegation_for_sync: domain-wide delegation is not supported by Inlet's google_drive "
                "yet (it impersonates every user of the Workspace in turn); share the drives with the service "
                "account, or give a config.yml credential a `subject` to read one user's drives"
            )
        if config.get("use_document_level_security"):
            raise ConfigError("use_document_level_security: document-level security is not supported by Inlet's google_drive yet")
        _positive_int(config, "max_concurrency", GOOGLE_API_MAX_CONCURRENCY)
        endpoint = (config.get("endpoint") or DEFAULT_ENDPOINT).strip().rstrip("/")
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or "@" in parts.netloc:
            raise ConfigError(f"endpoint {endpoint!r}: an origin, scheme://host[:port] (e.g. {DEFAULT_ENDPOINT}), no path")
        if config.get("use_text_extraction_service"):
            # The host has no extraction service: contents still go as `_attachment`, and one
            # larger than the limit would exceed the host's default document limit.
            self.logger.info("use_text_extraction_service: contents go to the ingest pipeline; the 10 MiB limit stays")
        self.size_limit = True
        self.client = Client(endpoint, self.logger)

    def validate_config(self, config):
        self._setup(config)

    def ping(self, config):
        """Elastic's: `about.get` with `fields=kind`."""
        self._setup(config)
        self.client.about()

    # ---- syncs --------------------------------------------------------------------------------
    def _paths(self):
        return resolve_paths(self.client.folders(), self.client.drives())

    def _with_content(self, doc):
        kind = content_kind(doc, self.size_limit)
        if kind is None:
            return doc
        data = self.client.content(doc, *kind)
        if data is None:
            return doc
        if kind[0] == "export" and self.size_limit and len(data) > MAX_FILE_SIZE:
            # Google caps exports at 10 MB anyway; Elastic checks the size after downloading.
            self.logger.warning("%s (%s): exported %d bytes, over 10 MiB: content left out", doc["name"], doc["_id"], len(data))
            return doc
        doc["_attachment"] = data
        return doc

    def get_docs(self, config, advanced_rules=None):
        self._setup(config)
        started = iso_zulu()
        paths = self._paths()
        seen = set()
        for file in self.client.files():
            fid = file.get("id")
            if not fid or fid in seen:
                continue
            seen.add(fid)
            yield self._with_content(prepare_file(file, paths))
        self.set_cursor({CURSOR_DRIVES: {}, CURSOR_TIMESTAMP: started})
        self.logger.info("full sync: %d files and folders after %d requests", len(seen), self.client.requests)

    def get_docs_incrementally(self, config, cursor, advanced_rules=None):
        """Elastic's: files created, modified or trashed since the last sync's start; a trashed
        file is deleted from the index unless it was trashed before that (already gone)."""
        self._setup(config)
        since = cursor.get(CURSOR_TIMESTAMP) if isinstance(cursor, dict) else None
        if not isinstance(since, str) or not since:
            raise ConfigError(
                "Unable to start incremental sync. Please perform a full sync to re-enable incremental syncs."
            )
        started = iso_zulu()
        paths = self._paths()
        seen = set()
        for file in self.client.files(since):
            fid = file.get("id")
            if not fid or fid in seen:
                continue
            seen.add(fid)
            if file.get("trashed") is True:
                trashed_at = file.get("trashedTime")
                if trashed_at is None or later(trashed_at, since):
                    yield Document.delete(fid)
                continue
            yield self._with_content(prepare_file(file, paths))
        self.set_cursor({CURSOR_DRIVES: {}, CURSOR_TIMESTAMP: started})
        self.logger.info("incremental sync: %d changes after %d requests", len(seen), self.client.requests)
