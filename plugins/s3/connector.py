"""Amazon S3 connector (service type `s3`): one document per object of the configured buckets,
with Elastic's `_id`s and field names, contents of the file types Elastic extracts as
`_attachment`.

Configuration keys follow Elastic's S3 connector (`buckets`, `aws_access_key_id`,
`aws_secret_access_key`, `read_timeout`, `connect_timeout`, `max_attempts`, `page_size`,
`use_text_extraction_service`), plus two of Inlet's: `region` (the signing region and the
endpoint's, default us-east-1) and `endpoint` (an S3-compatible server: MinIO, moto, ...).

The plugin never signs anything and never sees the secret key: the host signs each request with
AWS Signature Version 4 (an `aws_sigv4` credential, from config.yml `credentials:` or formed from
the form's `aws_access_key_id` / `aws_secret_access_key`, see plugin.toml).

Requests: ListObjectsV2 (`GET /<bucket>?list-type=2`, path-style, pages of `page_size` keys
joined by continuation tokens), GetObject for contents, ListBuckets for `buckets: *`.

Advanced sync rules (Elastic's shape): a list of `{"bucket": ..., "prefix": ..., "extension":
[".txt", ...]}`; with rules, `buckets` is ignored.
"""

import hashlib
import posixpath
import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote_plus, urlsplit

from inlet_sdk import AuthError, ConfigError, Connector, NetworkError, SourceError, fields as f
from inlet_sdk import http

# Elastic's defaults (connectors/sources/s3.py).
DEFAULT_PAGE_SIZE = 100
DEFAULT_MAX_RETRY_ATTEMPTS = 5
DEFAULT_CONNECTION_TIMEOUT = 90
DEFAULT_READ_TIMEOUT = 90
DEFAULT_REGION = "us-east-1"
# ListObjectsV2 answers at most 1,000 keys a page, whatever max-keys asks for.
MAX_PAGE_SIZE = 1000
# File contents sent to the ingest pipeline: Elastic's (connectors_sdk
# TIKA_SUPPORTED_FILETYPES and the framework's 10 MiB FILE_SIZE_LIMIT).
MAX_FILE_SIZE = 10 * 1024 * 1024
SUPPORTED_EXTENSIONS = {
    ".txt", ".py", ".rst", ".html", ".markdown", ".json", ".xml", ".csv", ".md", ".ppt", ".rtf",
    ".docx", ".odt", ".xls", ".xlsx", ".rb", ".paper", ".sh", ".pptx", ".pdf", ".doc", ".aspx",
    ".xlsb", ".xlsm", ".tsv", ".svg", ".msg", ".potx", ".vsd", ".vsdx", ".vsdm",
}
# What S3 asks clients to retry (botocore's retryable statuses and error codes).
RETRY_STATUSES = {429, 500, 502, 503, 504}
RETRY_CODES = {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable",
               "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
BACKOFF_BASE_SECS = 0.5
BACKOFF_MAX_SECS = 20.0
MAX_RETRY_AFTER_SECS = 300.0

RULE_KEYS = {"bucket", "prefix", "extension"}


# ---- S3's XML -------------------------------------------------------------------------------
def _local(tag):
    """A tag without its namespace (`{http://s3.amazonaws.com/doc/2006-03-01/}Key` → `Key`)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(el, name):
    return [c for c in el if _local(c.tag) == name]


def _text(el, name, default=None):
    for c in el:
        if _local(c.tag) == name:
            return c.text if c.text is not None else ""
    return default


def _xml(body, what):
    try:
        return ET.fromstring(body)
    except ET.ParseError as e:
        raise SourceError(f"{what}: the answer is not S3's XML ({e})") from None


def to_timestamp(value):
    """S3's `2024-01-02T03:04:05.000Z` as Elastic writes it (botocore's datetime, isoformat):
    `2024-01-02T03:04:05+00:00` (fractions of a second kept when not zero)."""
    if not isinstance(value, str) or len(value) < 19 or value[10] != "T":
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    base, frac, zone = text[:19], "", text[19:]
    if zone.startswith("."):
        digits = zone[1:]
        i = 0
        while i < len(digits) and digits[i].isdigit():
            i += 1
        frac, zone = digits[:i], digits[i:]
    if zone not in ("+00:00", ""):
        return None
    frac = frac[:6].rstrip("0")
    return base + (("." + frac.ljust(6, "0")) if frac else "") + "+00:00"


def parse_list_objects(body, encoded=True):
    """A ListObjectsV2 page: ([{key, size, last_modified, storage_class, owner}], next token
    or None). Keys are URL-decoded when the request asked for `encoding-type=url`."""
    root = _xml(body, "ListObjectsV2")
    if _local(root.tag) != "ListBucketResult":
        raise SourceError(f"ListObjectsV2: expected a ListBucketResult, got {_local(root.tag)!r}")
    encoding = (_text(root, "EncodingType") or "").lower()
    objects = []
    for c in _children(root, "Contents"):
        key = _text(c, "Key")
        if key is None:
            raise SourceError("ListObjectsV2: an object without a Key")
        if encoded and encoding == "url":
            key = unquote_plus(key)
        try:
            size = int(_text(c, "Size", "0") or 0)
        except ValueError:
            raise SourceError(f"ListObjectsV2: object {key!r} has no numeric Size") from None
        owner = ""
        for o in _children(c, "Owner"):
            owner = _text(o, "DisplayName", "") or ""
        objects.append({
            "key": key,
            "size": size,
            "last_modified": _text(c, "LastModified"),
            "storage_class": _text(c, "StorageClass", "STANDARD") or "STANDARD",
            "owner": owner,
        })
    truncated = (_text(root, "IsTruncated", "false") or "").strip().lower() == "true"
    token = _text(root, "NextContinuationToken") or None
    if truncated and not token:
        raise SourceError("ListObjectsV2: the page is truncated but has no NextContinuationToken")
    return objects, (token if truncated else None)


def parse_buckets(body):
    """A ListBuckets answer: ([names], continuation token or None)."""
    root = _xml(body, "ListBuckets")
    if _local(root.tag) != "ListAllMyBucketsResult":
        raise SourceError(f"ListBuckets: expected a ListAllMyBucketsResult, got {_local(root.tag)!r}")
    names = []
    for group in _children(root, "Buckets"):
        for b in _children(group, "Bucket"):
            name = _text(b, "Name")
            if name:
                names.append(name)
    return names, (_text(root, "ContinuationToken") or None)


def parse_error(body):
    """(code, message) of an S3 error document; ("", "") when the body is not one."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "", ""
    if _local(root.tag) != "Error":
        return "", ""
    return (_text(root, "Code", "") or "").strip(), (_text(root, "Message", "") or "").strip()


# ---- documents ------------------------------------------------------------------------------
def doc_id(bucket, key):
    """Elastic's `hash_id(f"{bucket}/{key}")`: the MD5 hex digest."""
    return hashlib.md5(f"{bucket}/{key}".encode("utf-8")).hexdigest()


def file_extension(key):
    """Elastic's `get_file_extension`: `os.path.splitext(name)[-1]` (case kept)."""
    return posixpath.splitext(key)[1]


def format_document(bucket, obj):
    """Elastic's `format_document`."""
    doc = {
        "_id": doc_id(bucket, obj["key"]),
        "filename": obj["key"],
        "size_in_bytes": obj["size"],
        "bucket": bucket,
        "owner": obj.get("owner") or "",
        "storage_class": obj.get("storage_class"),
    }
    ts = to_timestamp(obj.get("last_modified"))
    if ts:
        doc["_timestamp"] = ts
    return doc


def downloadable(obj, size_limit=True):
    """Elastic's `can_file_be_downloaded`: one of Tika's extensions and at most 10 MiB (no limit
    with the text extraction service). Empty objects have no content to fetch."""
    ext = file_extension(obj["key"]).lower()
    if ext == "" or ext not in SUPPORTED_EXTENSIONS:
        return False
    if obj["size"] <= 0:
        return False
    return not size_limit or obj["size"] <= MAX_FILE_SIZE


# ---- advanced rules -------------------------------------------------------------------------
def rule_errors(rules):
    """Elastic's S3AdvancedRulesValidator schema: a list of objects with a non-empty string
    `bucket`, an optional string `prefix` and an optional array `extension`, no other keys.
    Returns the messages ([] when valid)."""
    if not isinstance(rules, list):
        return [f"advanced rules must be a list of rules, not {type(rules).__name__}"]
    errors = []
    for i, rule in enumerate(rules):
        where = f"rule {i}"
        if not isinstance(rule, dict):
            errors.append(f"{where}: must be an object with bucket, prefix, extension")
            continue
        extra = sorted(set(rule) - RULE_KEYS)
        if extra:
            errors.append(f"{where}: unknown key(s) {', '.join(extra)} (allowed: bucket, prefix, extension)")
        b = rule.get("bucket")
        if not isinstance(b, str) or not b:
            errors.append(f"{where}: bucket must be a non-empty string")
        if "prefix" in rule and not isinstance(rule["prefix"], str):
            errors.append(f"{where}: prefix must be a string")
        if "extension" in rule:
            ext = rule["extension"]
            if not isinstance(ext, list):
                errors.append(f"{where}: extension must be an array")
            elif not all(isinstance(e, str) for e in ext):
                errors.append(f"{where}: extension must hold strings such as \".txt\"")
    return errors


def list_prefix(prefix):
    """(the `prefix` to send, the prefix keys must start with, or None when S3's filter is
    exact). A prefix whose only `/` are trailing (`reports/`) is sent without them and the keys
    are filtered here: a `/` in a query value is encoded `%2F`, which moto 5.2.1's signature
    check mishandles (real S3 does not); a deeper prefix is sent as it is."""
    if prefix and prefix.endswith("/"):
        head = prefix.rstrip("/")
        if head and "/" not in head:
            return head, prefix
    return prefix, None


def _q(value):
    """A query value or path piece encoded as SigV4 canonicalizes it: every byte but
    RFC 3986's unreserved characters."""
    return quote(str(value), safe="-_.~")


# ---- the client -----------------------------------------------------------------------------
class Client:
    """Requests to one S3 endpoint (path-style). Throttling (429, 503 SlowDown), 5xx and broken
    connections are retried with exponential backoff, at most `retries` times (Elastic's
    `max_attempts`, botocore's retries after the first attempt)."""

    def __init__(self, endpoint, region, retries, timeout, logger):
        self.endpoint = endpoint
        self.region = region
        self.retries = retries
        self.timeout = timeout
        self.logger = logger
        self.requests = 0

    def url(self, bucket="", key=None, query=None):
        url = self.endpoint + "/"
        if bucket:
            url += _q(bucket)
            if key is not None:
                url += "/" + quote(key, safe="/-_.~")
        if query:
            url += "?" + "&".join(k if v is None else f"{k}={_q(v)}" for k, v in query)
        return url

    def call(self, method, url, what):
        """One request, retried while S3 asks for it; returns the final response."""
        backoff = BACKOFF_BASE_SECS
        for attempt in range(self.retries + 1):
            self.requests += 1
            try:
                r = http.request(method, url, headers={"Accept": "application/xml"}, timeout=self.timeout)
            except NetworkError as e:
                text = str(e)
                if "denied" in text or "refused the address" in text or attempt >= self.retries:
                    raise
                wait, why = backoff, text
            else:
                code = parse_error(r.body)[0] if r.status >= 400 else ""
                if r.status not in RETRY_STATUSES and code not in RETRY_CODES:
                    return r
                if attempt >= self.retries:
                    raise NetworkError(
                        f"{what}: HTTP {r.status}{' ' + code if code else ''}, still failing after "
                        f"{self.retries} retries (max_attempts)"
                    )
                why = f"HTTP {r.status}{' ' + code if code else ''}"
                wait = retry_after(r.header("retry-after"), backoff)
            self.logger.warning("%s: %s; retry %d/%d in %.1fs", what, why, attempt + 1, self.retries, wait)
            http.sleep(wait)
            backoff = min(backoff * 2, BACKOFF_MAX_SECS)
        raise NetworkError(f"{what}: no answer")  # not reached

    def check(self, r, what, bucket=None):
        """`r` if it succeeded, else the error it means."""
        if 200 <= r.status < 300:
            return r
        code, message = parse_error(r.body)
        detail = f"{code}: {message}" if code else (r.text[:200].strip() or "no details")
        origin = self.endpoint
        if code == "AuthorizationHeaderMalformed" or (r.status == 400 and "region" in message.lower()):
            raise ConfigError(
                f"{what}: S3 refused the signing region {self.region!r} ({detail}); set `region` (and the "
                "credential's `region`) to the bucket's region"
            )
        if r.status == 301 or code == "PermanentRedirect":
            where = r.header("x-amz-bucket-region")
            raise ConfigError(
                f"{what}: bucket {bucket!r} is in another region"
                + (f" ({where})" if where else "")
                + f"; set `region` to it (one connector reads the buckets of one region) ({detail})"
            )
        if r.status in (401, 403):
            raise AuthError(
                f"{what}: S3 refused the request (HTTP {r.status} {detail}). The host signs requests to "
                f"{origin} with an aws_sigv4 credential: config.yml `credentials:` + `grants.credentials`, or "
                "the form's aws_access_key_id / aws_secret_access_key (see the plugin's README); the key needs "
                "s3:ListBucket and s3:GetObject on the buckets"
            )
        if r.status == 404 and code == "NoSuchBucket":
            raise ConfigError(f"{what}: bucket {bucket!r} does not exist at {origin}")
        raise SourceError(f"{what}: HTTP {r.status} {detail}")

    # -- operations --
    def list_buckets(self):
        names, token = [], None
        while True:
            query = [("continuation-token", token)] if token else None
            r = self.check(self.call("GET", self.url(query=query), "ListBuckets"), "ListBuckets")
            page, token = parse_buckets(r.body)
            names.extend(page)
            if not token:
                return names

    def list_objects(self, bucket, prefix="", page_size=DEFAULT_PAGE_SIZE):
        """Every object of `bucket` under `prefix`, page by page."""
        sent, must = list_prefix(prefix or "")
        token = None
        while True:
            query = [("list-type", "2"), ("encoding-type", "url"), ("fetch-owner", "true"), ("max-keys", page_size)]
            if sent:
                query.append(("prefix", sent))
            if token:
                query.append(("continuation-token", token))
            what = f"ListObjectsV2 {bucket}" + (f" (prefix {prefix!r})" if prefix else "")
            r = self.check(self.call("GET", self.url(bucket, query=query), what), what, bucket)
            objects, token = parse_list_objects(r.body)
            for obj in objects:
                if must is not None and not obj["key"].startswith(must):
                    if obj["key"] > must:
                        return  # keys come in order: nothing further is under the prefix
                    continue
                yield obj
            if not token:
                return

    def get_object(self, bucket, key):
        """The object's bytes, or None when it cannot be read now (deleted meanwhile, archived)."""
        what = f"GetObject {bucket}/{key}"
        r = self.call("GET", self.url(bucket, key), what)
        if r.status == 404:
            self.logger.warning("%s: gone (deleted during the sync?): indexed without content", what)
            return None
        if r.status == 403 and parse_error(r.body)[0] == "InvalidObjectState":
            # Elastic's: an archived object (Glacier) is inaccessible until restored.
            self.logger.warning("%s: archived and inaccessible until restored: indexed without content", what)
            return None
        return self.check(r, what, bucket).body


def retry_after(value, default):
    try:
        return min(max(0.0, float(value)), MAX_RETRY_AFTER_SECS)
    except (TypeError, ValueError):
        return default


def _int(config, key, default, low, high):
    v = config.get(key)
    if v is None or v == "":
        return default
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        v = int(v.strip())
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise ConfigError(f"{key} {v!r}: expected a whole number from {low} to {high}")
    return v


class S3(Connector):
    batch_size = 100

    @classmethod
    def configuration(cls):
        # Elastic's form (connectors/sources/s3.py), the key fields optional (the operator may
        # hold the key in config.yml instead), plus Inlet's `region` and `endpoint`.
        return {
            "buckets": f.list_(
                "AWS Buckets",
                order=1,
                display="textarea",
                tooltip="AWS Buckets are ignored when Advanced Sync Rules are used.",
            ),
            "aws_access_key_id": f.string("AWS Access Key Id", order=2, required=False),
            "aws_secret_access_key": f.string("AWS Secret Key", order=3, sensitive=True, required=False),
            "read_timeout": f.integer(
                "Read timeout", order=4, default=DEFAULT_READ_TIMEOUT, required=False, ui_restrictions=[f.ADVANCED]
            ),
            "connect_timeout": f.integer(
                "Connection timeout",
                order=5,
                default=DEFAULT_CONNECTION_TIMEOUT,
                required=False,
                ui_restrictions=[f.ADVANCED],
            ),
            "max_attempts": f.integer(
                "Maximum retry attempts",
                order=6,
                default=DEFAULT_MAX_RETRY_ATTEMPTS,
                required=False,
                ui_restrictions=[f.ADVANCED],
            ),
            "page_size": f.integer(
                "Maximum size of page", order=7, default=DEFAULT_PAGE_SIZE, required=False, ui_restrictions=[f.ADVANCED]
            ),
            "use_text_extraction_service": f.toggle(
                "Use text extraction service",
                order=8,
                default=False,
                tooltip="Requires a separate deployment of the Elastic Text Extraction Service. Requires that "
                "pipeline settings disable text extraction.",
                ui_restrictions=[f.ADVANCED],
            ),
            "region": f.string(
                "AWS Region",
                order=9,
                default=DEFAULT_REGION,
                required=False,
                tooltip="Inlet: the region of the buckets (the endpoint's and the signature's), e.g. eu-west-1.",
            ),
            "endpoint": f.string(
                "S3 endpoint",
                order=10,
                default="",
                required=False,
                tooltip="Inlet: an S3-compatible server (MinIO, ...), e.g. http://127.0.0.1:9000. Empty: "
                "AWS, https://s3.<region>.amazonaws.com.",
                ui_restrictions=[f.ADVANCED],
            ),
        }

    # ---- configuration ------------------------------------------------------------------------
    def _setup(self, config):
        region = (config.get("region") or DEFAULT_REGION).strip()
        if not region or not all(c.isascii() and (c.isalnum() or c == "-") for c in region):
            raise ConfigError(f"region {region!r}: an AWS region such as us-east-1")
        endpoint = (config.get("endpoint") or "").strip().rstrip("/")
        if endpoint:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or "@" in parts.netloc:
                raise ConfigError(
                    f"endpoint {endpoint!r}: an origin, scheme://host[:port] (e.g. http://127.0.0.1:9000), no path"
                )
        else:
            endpoint = f"https://s3.{region}.amazonaws.com"
        read_timeout = _int(config, "read_timeout", DEFAULT_READ_TIMEOUT, 1, 3600)
        _int(config, "connect_timeout", DEFAULT_CONNECTION_TIMEOUT, 1, 3600)
        retries = _int(config, "max_attempts", DEFAULT_MAX_RETRY_ATTEMPTS, 0, 100)
        self.page_size = min(_int(config, "page_size", DEFAULT_PAGE_SIZE, 1, 1_000_000), MAX_PAGE_SIZE)
        self.size_limit = not bool(config.get("use_text_extraction_service"))
        self.client = Client(endpoint, region, retries, read_timeout, self.logger)
        buckets = config.get("buckets")
        if isinstance(buckets, str):
            buckets = buckets.split(",")
        self.buckets = list(dict.fromkeys(b.strip() for b in (buckets or []) if isinstance(b, str) and b.strip()))

    def _need_buckets(self):
        if not self.buckets:
            raise ConfigError("Configured keys: buckets can't be empty.")

    def validate_config(self, config):
        self._setup(config)
        self._need_buckets()

    def ping(self, config):
        """Elastic lists the account's buckets; here that is done for `*` only, and a list of
        buckets is checked bucket by bucket (one key each), which a key limited to those
        buckets may do."""
        self._setup(config)
        self._need_buckets()
        if "*" in self.buckets:
            self.client.list_buckets()
            return
        for bucket in self.buckets:
            what = f"ListObjectsV2 {bucket}"
            url = self.client.url(bucket, query=[("list-type", "2"), ("max-keys", "1")])
            self.client.check(self.client.call("GET", url, what), what, bucket)

    # ---- advanced sync rules ------------------------------------------------------------------
    def validate_advanced_rules(self, config, rules):
        if rules is None or rules == []:
            return []
        return rule_errors(rules)

    # ---- syncs --------------------------------------------------------------------------------
    def _document(self, bucket, obj):
        doc = format_document(bucket, obj)
        if downloadable(obj, self.size_limit):
            content = self.client.get_object(bucket, obj["key"])
            if content is not None:
                doc["_attachment"] = content
        return doc

    def get_docs(self, config, advanced_rules=None):
        self._setup(config)
        if advanced_rules:
            errors = rule_errors(advanced_rules)
            if errors:
                raise ConfigError("advanced rules: " + "; ".join(errors))
            # Two rules on one bucket may name one object twice: it goes out once.
            buckets = [r["bucket"] for r in advanced_rules]
            seen = set() if len(set(buckets)) < len(buckets) else None
            for rule in advanced_rules:
                bucket, extensions = rule["bucket"], rule.get("extension") or []
                for obj in self.client.list_objects(bucket, rule.get("prefix") or "", self.page_size):
                    if extensions and file_extension(obj["key"]) not in extensions:
                        continue
                    if seen is not None:
                        key = (bucket, obj["key"])
                        if key in seen:
                            continue
                        seen.add(key)
                    yield self._document(bucket, obj)
        else:
            self._need_buckets()
            buckets = self.client.list_buckets() if "*" in self.buckets else self.buckets
            for bucket in buckets:
                for obj in self.client.list_objects(bucket, "", self.page_size):
                    yield self._document(bucket, obj)
        self.logger.info("sync done after %d requests", self.client.requests)
