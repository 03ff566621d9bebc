"""ServiceNow connector (service type `servicenow`): the records of ServiceNow tables
("services") and their attachments, over the Table, Attachment and Batch REST APIs.

Configuration keys follow Elastic's ServiceNow connector (`url`, `services`, `retry_count`,
`concurrent_downloads`, `use_text_extraction_service`). There are no `username` / `password`
fields: the operator declares the account in config.yml (`credentials:`, type basic, bound to
the instance's origin) and grants it to the connector (`grants.credentials`); the host injects
`Authorization` into each request and this plugin never sees it.

Full sync: every record of each service and the attachments of those records (file contents
as `_attachment`, Elastic's file types and 10 MiB limit); the host deletes what it did not see,
after a successful sync. Record pages are fetched five at a time through the Batch API, as
Elastic's connector does. Incremental sync: records and attachments whose `sys_updated_on` is at
or after the previous sync's start (ServiceNow's clock, from its `Date` header).

Advanced sync rules (Elastic's shape, see README.md): a list of `{"service": "<label>",
"query": "<encoded query>"}`. With rules, `services` is ignored and each rule's table is read
with its encoded query.
"""

import base64
import json
import math
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit

from inlet_sdk import AuthError, ConfigError, Connector, NetworkError, SourceError, fields as f
from inlet_sdk import http

# Elastic's DEFAULT_SERVICE_NAMES: the tables `*` means.
DEFAULT_SERVICES = ["sys_user", "sc_req_item", "incident", "kb_knowledge", "change_request"]
# Records per page and pages per Batch API call (Elastic's TABLE_FETCH_SIZE, TABLE_BATCH_SIZE).
TABLE_FETCH_SIZE = 50
TABLE_BATCH_SIZE = 5
# Attachments per page of the Attachment API.
ATTACHMENT_FETCH_SIZE = 100
# Elastic's defaults: RETRIES, MAX_CONCURRENT_CLIENT_SUPPORT.
RETRIES = 3
MAX_CONCURRENT_CLIENT_SUPPORT = 10
# Waits: a 429 without Retry-After, the longest Retry-After honoured, the first backoff step.
DEFAULT_THROTTLE_SECS = 30.0
MAX_THROTTLE_SECS = 300.0
BACKOFF_BASE_SECS = 1.0
BACKOFF_MAX_SECS = 30.0
# File contents sent to the ingest pipeline: Elastic's (connectors_sdk
# TIKA_SUPPORTED_FILETYPES and the framework's 10 MiB max_file_size).
MAX_FILE_SIZE = 10 * 1024 * 1024
SUPPORTED_EXTENSIONS = {
    ".txt", ".py", ".rst", ".html", ".markdown", ".json", ".xml", ".csv", ".md", ".ppt", ".rtf",
    ".docx", ".odt", ".xls", ".xlsx", ".rb", ".paper", ".sh", ".pptx", ".pdf", ".doc", ".aspx",
    ".xlsb", ".xlsm", ".tsv", ".svg", ".msg", ".potx", ".vsd", ".vsdx", ".vsdm",
}
# ServiceNow's internal date-time format (UTC in the REST APIs).
SN_TIME = "%Y-%m-%d %H:%M:%S"
# Records of one table in a stable order: creation time (Elastic's), then sys_id for ties, so
# offset pages neither repeat nor skip records created in the same second.
ORDER = "ORDERBYsys_created_on^ORDERBYsys_id"


def to_timestamp(value):
    """`2024-01-02 03:04:05` (ServiceNow, UTC) as RFC 3339: `2024-01-02T03:04:05+00:00`.
    (`fromisoformat`, not `strptime`: that one imports a module at run time, which a component
    cannot.)"""
    if not isinstance(value, str) or len(value) != 19 or value[10] != " ":
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=timezone.utc).isoformat()
    except ValueError:
        return None


def format_doc(record):
    """Elastic's `_format_doc`: the record's non-empty fields, `_id` its sys_id, `_timestamp`
    its `sys_updated_on`."""
    doc = {k: v for k, v in record.items() if v}
    sys_id = record.get("sys_id")
    if not sys_id:
        raise SourceError(f"ServiceNow answered a record without sys_id: {sorted(record)[:10]}")
    doc["_id"] = sys_id
    ts = to_timestamp(record.get("sys_updated_on"))
    if ts:
        doc["_timestamp"] = ts
    return doc


def extension(name):
    dot = (name or "").rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def downloadable(meta):
    try:
        size = int(meta.get("size_bytes") or 0)
    except ValueError:
        return False
    return 0 < size <= MAX_FILE_SIZE and extension(meta.get("file_name")) in SUPPORTED_EXTENSIONS


def with_clause(query, clause):
    """An encoded query restricted by `clause` (a condition such as `sys_updated_on>=...`).
    `^NQ` starts a new query OR-ed with the others, so the clause joins each of them; `^` binds
    looser than `^OR`, so appending it to a part ANDs it with the whole part."""
    parts = [p for p in (query or "").split("^NQ")]
    return "^NQ".join(f"{p}^{clause}" if p.strip() else clause for p in parts)


class Client:
    """Requests to one ServiceNow instance with Elastic's retry count: 429 waits its
    Retry-After, 5xx and broken connections back off exponentially; 401/403 fail at once."""

    def __init__(self, url, retries, logger):
        self.url = url
        self.retries = retries
        self.logger = logger
        self.requests = 0
        # ServiceNow's clock at the first answer (its `Date` header): the cursor of a sync.
        self.first_date = None

    def _send(self, method, path, body=None):
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        return http.request(method, self.url + path, headers=headers, body=body)

    def call(self, method, path, body=None):
        """One request, retried; returns the final response (raises on what cannot succeed)."""
        backoff = BACKOFF_BASE_SECS
        for attempt in range(self.retries + 1):
            self.requests += 1
            try:
                r = self._send(method, path, body)
            except NetworkError as e:
                if "denied" in str(e) or attempt >= self.retries:
                    raise
                wait, why = backoff, str(e)
            else:
                if self.first_date is None:
                    self.first_date = server_time(r)
                if r.status in (401, 403):
                    raise AuthError(
                        f"ServiceNow refused the credentials for {path.split('?')[0]} (HTTP {r.status}): grant a basic "
                        f"credential for {self.url} in config.yml `credentials:` + `grants.credentials`"
                    )
                if r.status == 429:
                    wait, why = retry_after(r.header("retry-after")), "HTTP 429"
                elif r.status >= 500:
                    wait, why = backoff, f"HTTP {r.status}"
                else:
                    return r
                if attempt >= self.retries:
                    raise NetworkError(
                        f"{method} {path}: {why}, still failing after {self.retries} retries (retry_count)"
                    )
            self.logger.warning("%s %s: %s; retry %d/%d in %.1fs", method, path.split("?")[0], why, attempt + 1, self.retries, wait)
            http.sleep(wait)
            backoff = min(backoff * 2, BACKOFF_MAX_SECS)
        raise NetworkError(f"{method} {path}: no answer")  # not reached: the loop returns or raises

    def json(self, method, path, body=None):
        r = self.call(method, path, body)
        return check_json(r, path), r

    def batch(self, paths):
        """GETs of `paths` through one Batch API call each round; the sub-requests ServiceNow
        throttled (429) or did not serve go again. Returns the decoded `result` of each, in
        order."""
        results = [None] * len(paths)
        pending = list(range(len(paths)))
        backoff = BACKOFF_BASE_SECS
        for attempt in range(self.retries + 1):
            rest = [
                {"id": str(i), "method": "GET", "url": paths[i],
                 "headers": [{"name": "Accept", "value": "application/json"}]}
                for i in pending
            ]
            answer, _ = self.json("POST", "/api/now/v1/batch", {"batch_request_id": str(attempt), "rest_requests": rest})
            served = {s.get("id"): s for s in answer.get("serviced_requests") or []}
            again, wait = [], 0.0
            for i in pending:
                s = served.get(str(i))
                if s is None:  # unserviced (the batch ran out of time): ask again
                    again.append(i)
                    wait = max(wait, backoff)
                    continue
                status = int(s.get("status_code") or 0)
                body = base64.b64decode(s.get("body") or b"")
                if status == 429:
                    hdrs = {h.get("name", "").lower(): h.get("value") for h in s.get("headers") or []}
                    again.append(i)
                    wait = max(wait, retry_after(hdrs.get("retry-after")))
                elif status in (401, 403):
                    raise AuthError(f"ServiceNow refused {paths[i].split('?')[0]} (HTTP {status}): {error_message(body)}")
                elif status >= 500:
                    again.append(i)
                    wait = max(wait, backoff)
                elif status != 200:
                    raise SourceError(f"GET {paths[i]} (batched): HTTP {status}: {error_message(body)}")
                else:
                    try:
                        results[i] = json.loads(body)["result"]
                    except (ValueError, KeyError, TypeError):
                        raise SourceError(f"GET {paths[i]} (batched): the answer is not a ServiceNow result") from None
            if not again:
                return results
            if attempt >= self.retries:
                raise NetworkError(
                    f"{len(again)} batched request(s) still throttled or failing after {self.retries} retries "
                    f"(retry_count), e.g. GET {paths[again[0]]}"
                )
            self.logger.warning("ServiceNow deferred %d batched request(s); retry %d/%d in %.1fs", len(again), attempt + 1, self.retries, wait)
            http.sleep(wait)
            backoff = min(backoff * 2, BACKOFF_MAX_SECS)
            pending = again
        return results


def retry_after(value):
    try:
        return min(max(0.0, float(value)), MAX_THROTTLE_SECS)
    except (TypeError, ValueError):
        return DEFAULT_THROTTLE_SECS


def error_message(body):
    try:
        err = json.loads(body).get("error") or {}
        return err.get("message") or str(err)
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")


def check_json(r, path):
    """The decoded body of a 2xx JSON answer. ServiceNow answers a sleeping (hibernating)
    instance or a wrong URL with an HTML page, status 200: Elastic's check of the type."""
    if r.status >= 400:
        raise SourceError(f"{path.split('?')[0]}: HTTP {r.status}: {error_message(r.body)}")
    ctype = r.header("content-type", "")
    if not ctype.startswith("application/json"):
        raise SourceError(
            f"Cannot proceed due to unexpected response type '{ctype}'; response type must begin with "
            "'application/json' (is the instance awake, and `url` its address?)"
        )
    try:
        return json.loads(r.body)
    except ValueError:
        raise SourceError(f"{path.split('?')[0]}: the answer is not JSON") from None


def table_path(table, query, limit, offset=0, fields=None):
    params = {"sysparm_query": query, "sysparm_limit": limit, "sysparm_offset": offset}
    if fields:
        params["sysparm_fields"] = fields
    return f"/api/now/table/{table}?{urlencode(params)}"


def attachment_path(query, limit, offset=0):
    return "/api/now/attachment?" + urlencode({"sysparm_query": query, "sysparm_limit": limit, "sysparm_offset": offset})


class ServiceNow(Connector):
    batch_size = 100

    @classmethod
    def configuration(cls):
        # Elastic's form, minus `username` (order 2) and `password` (order 3): the account is a
        # host credential, and `use_document_level_security` (order 8): not supported yet.
        return {
            "url": f.string("Service URL", order=1),
            "services": f.list_(
                "Comma-separated list of services",
                order=4,
                display="textarea",
                default="*",
                tooltip="List of services is ignored when Advanced Sync Rules are used.",
            ),
            "retry_count": f.integer(
                "Retries per request", order=5, default=RETRIES, required=False, ui_restrictions=[f.ADVANCED]
            ),
            "concurrent_downloads": f.integer(
                "Maximum concurrent downloads",
                order=6,
                default=MAX_CONCURRENT_CLIENT_SUPPORT,
                required=False,
                ui_restrictions=[f.ADVANCED],
            ),
            "use_text_extraction_service": f.toggle(
                "Use text extraction service",
                order=7,
                default=False,
                tooltip="Requires a separate deployment of the Elastic Text Extraction Service. Requires that "
                "pipeline settings disable text extraction.",
                ui_restrictions=[f.ADVANCED],
            ),
        }

    # ---- configuration ------------------------------------------------------------------------
    def _setup(self, config):
        url = (config.get("url") or "").strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"url {url!r}: the instance's address, e.g. https://example.service-now.com")
        retries = config.get("retry_count")
        if not isinstance(retries, int) or not 0 <= retries <= 100:
            raise ConfigError(f"retry_count {retries!r}: expected 0 to 100")
        self.client = Client(url, retries, self.logger)
        services = config.get("services") or ["*"]
        if isinstance(services, str):
            services = services.split(",")
        services = [s.strip() for s in services if s and s.strip()]
        self.services = None if not services or "*" in services else list(dict.fromkeys(services))

    def validate_config(self, config):
        self._setup(config)
        if self.services is not None:
            self._tables(self.services)

    def ping(self, config):
        """Elastic's: the size of `sys_db_object` (any authenticated account may read it)."""
        self._setup(config)
        self.client.json("GET", table_path("sys_db_object", "", 1))

    def _tables(self, labels):
        """{label: table name} for service labels (`sys_db_object`); unknown ones are a config
        error with Elastic's message."""
        bad = [label for label in labels if "," in label or "^" in label]
        if bad:
            raise ConfigError(f"services: {', '.join(map(repr, bad))} cannot be a table label (no `,` or `^`)")
        query = "labelIN" + ",".join(labels) + "^ORDERBYsys_created_on"
        found, _ = self.client.json("GET", table_path("sys_db_object", query, 1000, fields="sys_id,label,name"))
        mapping = {}
        # Several tables may share a label: the last one created wins, as in Elastic's mapping.
        for row in found.get("result") or []:
            if row.get("label") in labels and row.get("name"):
                mapping[row["label"]] = row["name"]
        missing = [label for label in labels if label not in mapping]
        if missing:
            available = [label for label in labels if label in mapping]
            raise ConfigError(
                f"Services '{', '.join(missing)}' are not available. Available services are: '{', '.join(available)}'"
            )
        return mapping

    # ---- advanced sync rules ------------------------------------------------------------------
    def validate_advanced_rules(self, config, rules):
        """Elastic's checks: the rules' shape, then that every rule's service exists."""
        if rules is None or rules == []:
            return []
        errors = rule_shape_errors(rules)
        if errors:
            return errors
        self._setup(config)
        try:
            self._tables(list(dict.fromkeys(r["service"] for r in rules)))
        except ConfigError as e:
            return [str(e)]
        return []

    def _rule_queries(self, rules):
        """[(table, encoded query)] of the rules."""
        errors = rule_shape_errors(rules)
        if errors:
            # The host validates rules before a sync; this guards a sync started with rules it
            # never validated.
            raise ConfigError("advanced rules: " + "; ".join(errors))
        tables = self._tables(list(dict.fromkeys(r["service"] for r in rules)))
        return [(tables[r["service"]], r["query"]) for r in rules]

    # ---- syncs --------------------------------------------------------------------------------
    def _queries(self, config, rules):
        if rules:
            return self._rule_queries(rules)
        if self.services is None:
            return [(t, "") for t in DEFAULT_SERVICES]
        tables = self._tables(self.services)
        return [(tables[label], "") for label in self.services]

    def _count(self, table, query):
        """How many records match (Elastic's `get_table_length`, with the query)."""
        _, r = self.client.json("GET", table_path(table, query, 1))
        try:
            return int(r.header("x-total-count") or 0)
        except ValueError:
            return 0

    def _records(self, table, query):
        """Every record of `table` matching `query`, in pages fetched TABLE_BATCH_SIZE at a time
        through the Batch API; yields lists (one batch of pages)."""
        query = f"{query}^{ORDER}" if query else ORDER
        total = self._count(table, query)
        pages = [table_path(table, query, TABLE_FETCH_SIZE, n * TABLE_FETCH_SIZE) for n in range(math.ceil(total / TABLE_FETCH_SIZE))]
        for start in range(0, len(pages), TABLE_BATCH_SIZE):
            results = self.client.batch(pages[start : start + TABLE_BATCH_SIZE])
            yield [rec for page in results for rec in page or []]

    def _attachments(self, query):
        """Every attachment matching `query` (an encoded query on sys_attachment)."""
        query = f"{query}^{ORDER}"
        offset = 0
        while True:
            found, _ = self.client.json("GET", attachment_path(query, ATTACHMENT_FETCH_SIZE, offset))
            rows = found.get("result") or []
            yield from rows
            if len(rows) < ATTACHMENT_FETCH_SIZE:
                return
            offset += len(rows)

    def _attachments_of(self, records):
        """The attachments of these records, one batch of queries (a page of record ids each)."""
        ids = [r["sys_id"] for r in records if r.get("sys_id")]
        groups = [ids[i : i + TABLE_FETCH_SIZE] for i in range(0, len(ids), TABLE_FETCH_SIZE)]
        queries = [f"table_sys_idIN{','.join(g)}^{ORDER}" for g in groups]
        results = self.client.batch([attachment_path(q, ATTACHMENT_FETCH_SIZE) for q in queries]) if queries else []
        for q, rows in zip(queries, results):
            rows = rows or []
            yield from rows
            if len(rows) >= ATTACHMENT_FETCH_SIZE:  # a page's records have more: read on
                offset = len(rows)
                while True:
                    found, _ = self.client.json("GET", attachment_path(q, ATTACHMENT_FETCH_SIZE, offset))
                    more = found.get("result") or []
                    yield from more
                    if len(more) < ATTACHMENT_FETCH_SIZE:
                        break
                    offset += len(more)

    def _attachment_doc(self, meta):
        doc = format_doc(meta)
        if downloadable(meta):
            r = self.client.call("GET", f"/api/now/attachment/{meta['sys_id']}/file")
            if r.status == 404:
                self.logger.warning("attachment %s (%r) is gone (deleted during the sync?): indexed without content", meta["sys_id"], meta.get("file_name"))
            elif r.status >= 400:
                raise SourceError(f"downloading attachment {meta['sys_id']} ({meta.get('file_name')!r}): HTTP {r.status}")
            else:
                doc["_attachment"] = r.body
        return doc

    def _started(self):
        """ServiceNow's time at the sync's first answer: the next incremental sync reads from
        there, whatever the skew between the two clocks."""
        return self.client.first_date or server_time(None)

    def get_docs(self, config, advanced_rules=None):
        self._setup(config)
        queries = self._queries(config, advanced_rules)
        for table, query in queries:
            for records in self._records(table, query):
                for rec in records:
                    yield format_doc(rec)
                for meta in self._attachments_of(records):
                    yield self._attachment_doc(meta)
        self.logger.info("full sync done after %d requests", self.client.requests)
        self.set_cursor({"since": self._started()})

    def get_docs_incrementally(self, config, cursor, advanced_rules=None):
        since = (cursor or {}).get("since") if isinstance(cursor, dict) else None
        if not since or to_timestamp(since) is None:
            raise SourceError("no usable cursor: run a full sync first")
        self._setup(config)
        queries = self._queries(config, advanced_rules)
        changed = f"sys_updated_on>={since}"
        for table, query in queries:
            for records in self._records(table, with_clause(query, changed)):
                for rec in records:
                    yield format_doc(rec)
            # An upload does not change its record: attachments are asked for by their own time.
            for meta in self._changed_attachments(table, query, changed):
                yield self._attachment_doc(meta)
        self.logger.info("incremental sync done after %d requests", self.client.requests)
        self.set_cursor({"since": self._started()})

    def _changed_attachments(self, table, query, changed):
        """The attachments of `table` changed since the cursor, whose record matches `query`
        (every record when there is none)."""
        metas = self._attachments(f"table_name={table}^{changed}")
        if not query:
            yield from metas
            return
        while True:
            chunk = [m for _, m in zip(range(TABLE_FETCH_SIZE), metas)]
            if not chunk:
                return
            parents = sorted({m.get("table_sys_id") for m in chunk if m.get("table_sys_id")})
            found, _ = self.client.json(
                "GET", table_path(table, with_clause(query, "sys_idIN" + ",".join(parents)), len(parents) or 1, fields="sys_id")
            )
            matching = {r.get("sys_id") for r in found.get("result") or []}
            for m in chunk:
                if m.get("table_sys_id") in matching:
                    yield m


def server_time(r):
    """ServiceNow's time at response `r` (its `Date` header), in its query format; our clock
    when the header is missing."""
    try:
        when = parsedate_to_datetime(r.header("date")) if r is not None else None
    except (TypeError, ValueError):
        when = None
    if when is None:
        when = datetime.fromtimestamp(time.time(), timezone.utc)
    return when.astimezone(timezone.utc).strftime(SN_TIME)


def rule_shape_errors(rules):
    """Messages for every way `rules` departs from Elastic's advanced-rule schema (a list of
    {"service": non-empty string, "query": non-empty string}, no other keys); [] when it
    conforms."""
    if not isinstance(rules, list):
        return [f"advanced rules must be a list of rules, not {type(rules).__name__}"]
    errors = []
    for i, rule in enumerate(rules):
        where = f"rule {i}"
        if not isinstance(rule, dict):
            errors.append(f"{where}: must be an object with service and query")
            continue
        extra = sorted(set(rule) - {"service", "query"})
        if extra:
            errors.append(f"{where}: unknown key(s) {', '.join(extra)} (allowed: service, query)")
        for key in ("service", "query"):
            v = rule.get(key)
            if not isinstance(v, str) or not v.strip():
                errors.append(f"{where}: {key} must be a non-empty string")
    return errors
