"""Unit tests of the Google Drive connector in plain CPython.

The mapping tests call the connector's functions directly. The sync tests run the connector
against the functional test's Drive stand-in (tests/ftest/fixtures/google_drive/server.py:
files.list paging and `fields` partial responses, `q`, shared drives, `alt=media`, export,
throttling, and Google's token endpoint verifying a signed JWT grant). The transport here plays
the host: it obtains a token with an RS256-signed grant for the service account's key and sends
it as the bearer of every request, as the host's `google_service_account` credential does."""

import importlib.util
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
FIXTURES = os.path.join(ROOT, "tests", "ftest", "fixtures")
sys.path.insert(0, os.path.join(ROOT, "sdk", "python"))
sys.path.insert(0, FIXTURES)

from inlet_sdk import http  # noqa: E402
from inlet_sdk.testing import SyncFailed, check, run_sync  # noqa: E402

# Loaded under its own name: other projects' tests import a `connector` module too.
_spec = importlib.util.spec_from_file_location("google_drive_connector", os.path.join(HERE, "..", "connector.py"))
gd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gd)

SCOPES = [
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
]


# ---- the mapping ------------------------------------------------------------------------------
MY_DRIVE_FILE = {
    "id": "1abc",
    "name": "report.pdf",
    "mimeType": "application/pdf",
    "size": "2048",
    "fileExtension": "pdf",
    "createdTime": "2024-01-02T03:04:05.000Z",
    "modifiedTime": "2024-02-03T04:05:06.789Z",
    "webViewLink": "https://drive.google.com/file/d/1abc/view?usp=drivesdk",
    "trashed": False,
    "parents": ["f2"],
    "owners": [
        {"displayName": "Alice", "emailAddress": "alice@example.com"},
        {"displayName": "Bob", "emailAddress": "bob@example.com"},
    ],
}
FOLDERS = {
    "f1": {"name": "Reports", "parents": ["root-of-my-drive"]},
    "f2": {"name": "2024", "parents": ["f1"]},
    "s1": {"name": "Specs", "parents": ["0Adrive"]},
    "s2": {"name": "Archive", "parents": ["s1"]},
}
DRIVES = {"0Adrive": "Engineering"}


def test_paths_are_resolved_as_elastic_does_drives_on_top():
    paths = gd.resolve_paths(FOLDERS, DRIVES)
    assert paths["f2"]["path"] == "Reports/2024", "My Drive's root is not listed: the walk stops under it"
    assert paths["s2"]["path"] == "Engineering/Specs/Archive"
    assert paths["0Adrive"]["path"] == "Engineering"


def test_a_cycle_does_not_loop():
    paths = gd.resolve_paths({"a": {"name": "A", "parents": ["b"]}, "b": {"name": "B", "parents": ["a"]}}, {})
    assert paths["a"]["path"].endswith("A") and paths["b"]["path"].endswith("B")


def test_prepare_file_gives_elastics_fields():
    doc = gd.prepare_file(MY_DRIVE_FILE, gd.resolve_paths(FOLDERS, DRIVES))
    assert doc == {
        "_id": "1abc",
        "created_at": "2024-01-02T03:04:05.000Z",
        "last_updated": "2024-02-03T04:05:06.789Z",
        "name": "report.pdf",
        "size": "2048",
        "_timestamp": "2024-02-03T04:05:06.789Z",
        "mime_type": "application/pdf",
        "file_extension": "pdf",
        "url": "https://drive.google.com/file/d/1abc/view?usp=drivesdk",
        "trashed": False,
        "type": "file",
        "author": "Alice,Bob",
        "created_by": "Alice",
        "created_by_email": "alice@example.com",
        "path": "Reports/2024/report.pdf",
    }


def test_shared_drive_folder_and_a_file_in_the_root():
    paths = gd.resolve_paths(FOLDERS, DRIVES)
    folder = gd.prepare_file(
        {"id": "s3", "name": "New", "mimeType": gd.FOLDER_MIME_TYPE, "parents": ["s2"], "driveId": "0Adrive"}, paths
    )
    assert folder["type"] == "folder" and folder["size"] == 0
    assert folder["path"] == "Engineering/Specs/Archive/New" and folder["shared_drive"] == "Engineering"
    assert "author" not in folder, "shared drive items have no owners"
    loose = gd.prepare_file({"id": "x", "name": "loose.txt", "parents": ["root-of-my-drive"]}, paths)
    assert "path" not in loose and "shared_drive" not in loose


def test_content_kinds():
    def kind(**kw):
        return gd.content_kind({"mime_type": "text/plain", "size": "10", "file_extension": "txt", **kw})

    assert kind() == ("media", None)
    assert kind(file_extension="TXT") == ("media", None), "Elastic lower-cases the extension"
    assert kind(file_extension="bin") is None
    assert kind(file_extension=None) is None
    assert kind(size=0) is None and kind(size="0") is None
    assert kind(size=str(gd.MAX_FILE_SIZE)) == ("media", None)
    assert kind(size=str(gd.MAX_FILE_SIZE + 1)) is None
    assert kind(mime_type="application/vnd.google-apps.document", size=0, file_extension=None) == ("export", "text/plain")
    assert kind(mime_type="application/vnd.google-apps.presentation", size=0) == ("export", "text/plain")
    assert kind(mime_type="application/vnd.google-apps.spreadsheet", size=0)[1].endswith("spreadsheetml.sheet")
    assert kind(mime_type="application/vnd.google-apps.form", size=0, file_extension=None) is None


def test_google_errors_and_times():
    body = json.dumps({"error": {"code": 403, "message": "slow down", "errors": [{"reason": "userRateLimitExceeded"}]}})
    assert gd.google_error(body.encode()) == ("userRateLimitExceeded", "slow down")
    assert gd.google_error(b"<html>") == ("", "")
    assert gd.later("2024-01-02T03:04:05.123Z", "2024-01-02T03:04:05Z"), "compared as times, not as strings"
    assert not gd.later("2024-01-02T03:04:04.999Z", "2024-01-02T03:04:05Z")
    assert gd.iso_zulu(0) == "1970-01-01T00:00:00Z"


# ---- against the Drive stand-in --------------------------------------------------------------
class Drive:
    """The stand-in server and a transport that authenticates as the host does."""

    def __init__(self, tmp_path):
        from common.google_token import service_account, sign_assertion

        key, _ = service_account("inlet-test", "https://oauth2.googleapis.com/token")
        key_path = tmp_path / "key.json"
        key_path.write_text(json.dumps(key))
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(FIXTURES, "google_drive", "server.py"), "--port", "0", "--key", str(key_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.origin = "http://127.0.0.1:" + self.proc.stdout.readline().strip().split("=", 1)[1]
        now = int(time.time())
        claims = {"iss": key["client_email"], "scope": " ".join(SCOPES), "aud": self.origin + "/token",
                  "iat": now, "exp": now + 3600}
        form = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + sign_assertion(key, claims)
        self.token = self.post("/token", form.encode(), "application/x-www-form-urlencoded")["access_token"]
        self.urls = []
        self.bearer = True

    def post(self, path, data, content_type="application/json"):
        req = urllib.request.Request(self.origin + path, data=data, method="POST", headers={"Content-Type": content_type})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def control(self, action, spec):
        return self.post(f"/_fixture/{action}", json.dumps(spec).encode())

    def stats(self):
        with urllib.request.urlopen(self.origin + "/_fixture/stats", timeout=30) as r:
            return json.loads(r.read())

    def transport(self, method, url, headers, body, timeout):
        self.urls.append(url)
        headers = dict(headers)
        if self.bearer:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return http.Response(r.status, dict(r.headers), r.read(), url)
        except urllib.error.HTTPError as e:
            return http.Response(e.code, dict(e.headers), e.read(), url)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def drive(tmp_path, monkeypatch):
    d = Drive(tmp_path)
    old = http.set_transport(d.transport)
    d.sleeps = []
    monkeypatch.setattr(http, "sleep", d.sleeps.append)
    yield d
    http.set_transport(old)
    d.stop()


def content(doc):
    """The bytes of a document's attachment, or None."""
    att = doc["attachment"]
    if att is None:
        return None
    assert att[0] == "bytes", att
    return att[1]


def bodies(docs):
    return {d["id"]: d for d in docs}


def test_full_sync_pages_and_maps_every_file_and_folder(drive):
    expected = drive.control("load", {"n": 250})
    docs, cursor = run_sync(gd.GoogleDrive, {"endpoint": drive.origin})
    by_id = bodies(docs)
    assert len(by_id) == len(docs) == expected == 255, "250 files and 5 folders, each once"
    listings = [u for u in drive.urls if "/drive/v3/files?" in u and "q=trashed%3Dfalse" in u]
    assert len(listings) == 3 and all("pageSize=100" in u for u in listings), "250 items in pages of 100"
    assert all("corpora=allDrives" in u and "includeItemsFromAllDrives=true" in u for u in listings)
    assert drive.stats()["next_pages"] >= 2
    names = {d["body"]["name"]: d for d in docs}
    # i = 2: a .txt in My Drive's Reports/2024, owned by the service account.
    txt = names["note-000002.txt"]
    assert txt["body"]["path"] == "Reports/2024/note-000002.txt"
    assert txt["body"]["created_by_email"].endswith("iam.gserviceaccount.com") and "shared_drive" not in txt["body"]
    assert content(txt).startswith(b"# Note 2\n")
    assert txt["body"]["size"] == str(len(content(txt)))
    # i = 12: a .txt in the shared drive's Specs/Archive.
    shared = names["note-000012.txt"]["body"]
    assert shared["path"] == "Engineering/Specs/Archive/note-000012.txt" and shared["shared_drive"] == "Engineering"
    assert "author" not in shared
    # i = 10: binary, no content; i = 3: a Google Doc in the shared drive's root, exported as text.
    assert names["scan-000010.bin"]["attachment"] is None
    doc = names["Meeting notes 3"]
    assert content(doc).startswith(b"Meeting notes 3") and doc["body"]["size"] == 0
    assert doc["body"]["path"] == "Engineering/Meeting notes 3"
    assert doc["body"]["url"].startswith("https://docs.google.com/document/d/")
    sheet = names["Budget 18"]
    assert content(sheet).startswith(b"PK"), "Sheets are exported as xlsx"
    folder = names["Archive"]["body"]
    assert folder["type"] == "folder" and folder["path"] == "Engineering/Specs/Archive"
    assert "updated_by" not in txt["body"], "Elastic does not ask for lastModifyingUser"
    cursor = json.loads(cursor)
    assert cursor["google_drives"] == {} and gd.parse_time(cursor["cursor_timestamp"])


def test_removed_and_trashed_files_leave_a_full_sync(drive):
    drive.control("load", {"n": 40})
    after = drive.control("remove", {"k": 10})
    docs, _ = run_sync(gd.GoogleDrive, {"endpoint": drive.origin})
    assert len(docs) == after == 35


def test_rate_limits_are_waited_out(drive):
    drive.control("load", {"n": 30})
    drive.control("faults", {"throttle_every": 3})
    docs, _ = run_sync(gd.GoogleDrive, {"endpoint": drive.origin})
    assert len(docs) == 35
    throttled = drive.stats()["throttled"]
    assert throttled >= 5 and len(drive.sleeps) == throttled
    # 429 says Retry-After: 1; Drive's 403 userRateLimitExceeded says nothing: 2 s, Elastic's interval.
    assert set(drive.sleeps) == {1.0, 2.0}


def test_persistent_throttling_fails_the_sync_as_network(drive):
    drive.control("load", {"n": 3})
    drive.control("faults", {"throttle_every": 1})
    with pytest.raises(SyncFailed) as e:
        run_sync(gd.GoogleDrive, {"endpoint": drive.origin})
    assert e.value.kind == "network" and "after 3 retries" in e.value.message
    # Retries wait 2, 4, 8 s (Elastic's interval, doubling) unless a Retry-After says otherwise:
    # the 429s say 1 s, the 403s nothing.
    assert drive.sleeps == [1.0, 4.0, 1.0]


def test_without_the_token_the_sync_is_an_auth_error(drive):
    drive.bearer = False
    with pytest.raises(SyncFailed) as e:
        run_sync(gd.GoogleDrive, {"endpoint": drive.origin})
    assert e.value.kind == "auth" and "google_service_account" in e.value.message


def test_incremental_sync_sends_new_files_and_deletes_trashed_ones(drive):
    drive.control("load", {"n": 20})
    full, cursor = run_sync(gd.GoogleDrive, {"endpoint": drive.origin})
    old = {d["id"] for d in full}
    drive.control("remove", {"k": 4})  # the 4 newest: 2 trashed, 2 deleted for good
    drive.control("load", {"n": 3, "at": "now"})
    docs, cursor2 = run_sync(gd.GoogleDrive, {"endpoint": drive.origin}, kind="incremental", cursor=cursor)
    deleted = [d["id"] for d in docs if d["op"] == "delete"]
    indexed = [d for d in docs if d["op"] != "delete"]
    assert len(deleted) == 2 and set(deleted) <= old
    assert len(indexed) == 3 and all(d["id"] not in old for d in indexed)
    assert all(content(d) for d in indexed), "a .txt, a Doc and a Sheet, with their contents"
    listing = [u for u in drive.urls if "/drive/v3/files?" in u and "trashed%3Dtrue" in u][-1]
    since = json.loads(cursor)["cursor_timestamp"]
    assert "modifiedTime+%3E+%27" + since.replace(":", "%3A") in listing
    assert json.loads(cursor2)["cursor_timestamp"] >= since


def test_incremental_skips_what_was_trashed_before_the_cursor(drive):
    drive.control("load", {"n": 14})  # places 3..6 of 7 are the shared drive: file 12 is in it
    drive.control("remove", {"k": 2})  # 12 trashed (shared drive: trashedTime now), 13 deleted
    later = {"google_drives": {}, "cursor_timestamp": gd.iso_zulu(time.time() + 60)}
    docs, _ = run_sync(gd.GoogleDrive, {"endpoint": drive.origin}, kind="incremental", cursor=json.dumps(later))
    assert docs == [], "trashed before the cursor: already deleted by an earlier sync"


def test_incremental_without_a_cursor_asks_for_a_full_sync():
    with pytest.raises(SyncFailed) as e:
        run_sync(gd.GoogleDrive, {}, kind="incremental", cursor=None)
    assert e.value.kind == "config" and "full sync" in e.value.message


def test_ping_asks_about(drive):
    check(gd.GoogleDrive, {"endpoint": drive.origin})
    assert any("/drive/v3/about?fields=kind" in u for u in drive.urls)


# ---- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "config, key",
    [
        ({"use_domain_wide_delegation_for_sync": True}, "use_domain_wide_delegation_for_sync"),
        ({"use_document_level_security": True}, "use_document_level_security"),
        ({"endpoint": "https://example.com/drive"}, "endpoint"),
        ({"endpoint": "ftp://example.com"}, "endpoint"),
        ({"max_concurrency": 0}, "max_concurrency"),
    ],
)
def test_configuration_errors_name_the_key(config, key):
    with pytest.raises(SyncFailed) as e:
        run_sync(gd.GoogleDrive, config)
    assert e.value.kind == "config" and key in e.value.message


def test_the_form_is_elastics():
    schema = gd.GoogleDrive.configuration()
    elastic = [
        "service_account_credentials", "use_domain_wide_delegation_for_sync", "google_workspace_admin_email_for_data_sync",
        "google_workspace_email_for_shared_drives_sync", "use_document_level_security", "google_workspace_admin_email",
        "max_concurrency", "use_text_extraction_service",
    ]
    assert [k for k, _ in sorted(schema.items(), key=lambda kv: kv[1]["order"])][:8] == elastic
    assert [schema[k]["order"] for k in elastic] == list(range(1, 9))
    assert schema["service_account_credentials"]["sensitive"] and not schema["service_account_credentials"]["required"]
    assert schema["max_concurrency"]["default_value"] == 25
