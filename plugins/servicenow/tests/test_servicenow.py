"""Unit tests of the ServiceNow connector in plain CPython. Requests go to the functional test's
stand-in (tests/ftest/fixtures/servicenow/server.py, ServiceNow's Table, Attachment and Batch
API shapes) through a transport that adds the Basic credential, as the host would. The
end-to-end test (tests/e2e/servicenow.rs) runs the built component through the real host."""

import base64
import importlib.util
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..", "..")
sys.path.insert(0, os.path.join(ROOT, "sdk", "python"))

from inlet_sdk import http  # noqa: E402
from inlet_sdk.testing import SyncFailed, run_sync  # noqa: E402

# Loaded under its own name: other projects' tests import a `connector` module too.
_spec = importlib.util.spec_from_file_location("servicenow_connector", os.path.join(HERE, "..", "connector.py"))
sn = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sn)

SERVER = os.path.join(ROOT, "tests", "ftest", "fixtures", "servicenow", "server.py")
USER, PASSWORD = "inlet", "unit-test-pw"


class Instance:
    """The stand-in server, its control endpoints, and a transport to it."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, SERVER, "--port", "0", "--password", PASSWORD], stdout=subprocess.PIPE, text=True)
        self.origin = "http://127.0.0.1:" + self.proc.stdout.readline().strip().split("=")[1]
        self.auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.sleeps = []

    def control(self, action, body=None):
        req = urllib.request.Request(self.origin + "/_fixture/" + action, method="GET" if action == "requests" else "POST",
                                     data=None if action == "requests" else json.dumps(body or {}).encode())
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def transport(self, method, url, headers, body, timeout):
        assert not any(k.lower() == "authorization" for k in headers), "the plugin sets no credential"
        req = urllib.request.Request(url, data=body, method=method, headers={**headers, "Authorization": self.auth})
        try:
            with urllib.request.urlopen(req) as r:
                return http.Response(r.status, list(r.headers.items()), r.read(), url)
        except urllib.error.HTTPError as e:
            return http.Response(e.code, list(e.headers.items()), e.read(), url)

    def requests(self):
        return self.control("requests")


@pytest.fixture
def instance(monkeypatch):
    inst = Instance()
    old = http.set_transport(inst.transport)
    monkeypatch.setattr(http, "sleep", lambda s: inst.sleeps.append(s))
    yield inst
    http.set_transport(old)
    inst.proc.kill()
    inst.proc.wait()


def config(inst, **extra):
    return {"url": inst.origin + "/", "services": "*", "retry_count": 2, **extra}


def by_id(docs):
    return {d["id"]: d for d in docs}


def test_full_sync_reads_every_default_table_and_attachment(instance):
    expected = instance.control("load?n=60")["expected"]
    # The first page of records (a batched sub-request: counts ask for 1 record).
    instance.control("faults", {"throttle_once": "sysparm_limit=50&sysparm_offset=0"})
    docs, cursor = run_sync(sn.ServiceNow, config(instance))
    assert len(docs) == expected == 60 + 8 + 2
    ids = by_id(docs)
    rec = ids[sn_id(12)]  # record 12: an incident
    body = rec["body"]
    assert body["number"] == "INC0000012" and body["short_description"] == "Record 12 of incident"
    assert body["sys_id"] == sn_id(12)
    assert "assigned_to" not in body and "close_notes" not in body, "empty values are dropped, as Elastic does"
    assert rec["timestamp"] == "2024-01-01T00:00:06+00:00"
    odd = ids[sn_id(7)]["body"]
    assert odd["assigned_to"] == {"link": f"/api/now/table/sys_user/{sn_id(5)}", "value": sn_id(5)}
    atts = [d for d in docs if d["body"].get("table_sys_id") == sn_id(21)]
    by_name = {d["body"]["file_name"]: d for d in atts}
    assert by_name["report-21.txt"]["attachment"] == ("bytes", b"Report of record 21: plain text.\n")
    assert by_name["photo-21.png"]["attachment"] is None, "an image is not extracted (Elastic's file types)"
    assert json.loads(cursor)["since"][:4] == str(__import__("datetime").datetime.now().year)

    seen = instance.requests()
    batched = [r for r in seen if r["batched"]]
    # Record pages of 50 (cap) through the Batch API, in a stable order; each table's
    # attachments by the ids of its records' pages.
    assert all("ORDERBYsys_created_on%5EORDERBYsys_id" in r["target"] for r in batched)
    assert any(r["target"].startswith("/api/now/attachment?sysparm_query=table_sys_idIN") for r in batched)
    # The throttled page was asked again, after its Retry-After.
    throttled = [r for r in batched if r["status"] == 429]
    assert len(throttled) == 1 and 1.0 in instance.sleeps
    assert [r for r in batched if r["target"] == throttled[0]["target"] and r["status"] == 200]
    downloads = [r for r in seen if r["target"].endswith("/file")]
    assert len(downloads) == 8, "the 8 text files, not the 2 images"


def sn_id(i):
    import hashlib

    return hashlib.md5(f"rec/{i}".encode()).hexdigest()


def test_services_by_label(instance):
    instance.control("load?n=20")
    docs, _ = run_sync(sn.ServiceNow, config(instance, services="Incident, Knowledge"))
    tables = {d["body"].get("number", "")[:3] for d in docs if "number" in d["body"]}
    assert tables == {"INC", "KB0"}
    assert len(docs) == 8 + 1  # 4 + 4 records; record 7, an incident, has a file
    with pytest.raises(SyncFailed) as e:
        run_sync(sn.ServiceNow, config(instance, services="Incident,Nope"))
    assert e.value.kind == "config"
    assert e.value.message == "Services 'Nope' are not available. Available services are: 'Incident'"


def test_incremental_sync_reads_changes_since_the_servers_clock(instance):
    instance.control("load?n=40")
    _, cursor = run_sync(sn.ServiceNow, config(instance))
    since = json.loads(cursor)["since"]
    instance.control("requests/clear")
    updated = instance.control("update?n=2")["updated"]
    upload = instance.control(f"attach?sys_id={sn_id(7)}")["sys_id"]
    docs, _ = run_sync(sn.ServiceNow, config(instance), kind="incremental", cursor=cursor)
    assert sorted(d["id"] for d in docs) == sorted(updated + [upload])
    assert by_id(docs)[upload]["attachment"] == ("bytes", f"Uploaded file 2 of {sn_id(7)}.\n".encode())
    queries = [r["target"] for r in instance.requests()]
    assert any(f"sys_updated_on%3E%3D{since.replace(' ', '+').replace(':', '%3A')}" in q for q in queries), queries
    assert any(q.startswith("/api/now/attachment?sysparm_query=table_name%3Dincident%5Esys_updated_on%3E%3D") for q in queries)


def test_advanced_rules(instance):
    instance.control("load?n=60")
    rules = [{"service": "Incident", "query": "priority=3^ORpriority=4"}]
    docs, cursor = run_sync(sn.ServiceNow, config(instance, services="Knowledge"), advanced_rules=rules)
    numbers = sorted(d["body"]["number"] for d in docs if "number" in d["body"])
    # incidents are records 2, 7, 12, ...; priority = 1 + i % 5 = 3, i.e. every one of them.
    assert numbers == [f"INC{i:07d}" for i in range(2, 61, 5)]
    assert len(docs) == 12 + 3, "and the files of incidents 7 and 42 (with an image)"
    rules = [{"service": "Incident", "query": "numberIN" + ",".join(f"INC{i:07d}" for i in (12, 22)) + "^NQnumber=INC0000042"}]
    _, cursor = run_sync(sn.ServiceNow, config(instance), advanced_rules=rules)
    instance.control("update?n=60")
    for i in (12, 17):
        instance.control(f"attach?sys_id={sn_id(i)}")
    instance.control("requests/clear")
    docs, _ = run_sync(sn.ServiceNow, config(instance), kind="incremental", cursor=cursor, advanced_rules=rules)
    # The rule's three records changed; of the two uploads, only the one on a matching record.
    assert sorted(d["body"].get("number", d["body"].get("file_name")) for d in docs) == [
        "INC0000012", "INC0000022", "INC0000042", "upload-1.txt"]
    queries = [r["target"] for r in instance.requests() if "/table/incident" in r["target"]]
    assert any("numberIN" in q and "%5ENQnumber%3DINC0000042%5Esys_updated_on%3E%3D" in q for q in queries), queries


def test_validate_advanced_rules(instance):
    instance.control("load?n=1")
    c = sn.ServiceNow()
    assert c.validate_advanced_rules(config(instance), []) == []
    assert c.validate_advanced_rules(config(instance), [{"service": "Incident", "query": "active=true"}]) == []
    assert c.validate_advanced_rules(config(instance), [{"service": "Incident"}, {"service": "X", "query": "", "y": 1}]) == [
        "rule 0: query must be a non-empty string",
        "rule 1: unknown key(s) y (allowed: service, query)",
        "rule 1: query must be a non-empty string",
    ]
    assert c.validate_advanced_rules(config(instance), [{"service": "Nope", "query": "a=b"}]) == [
        "Services 'Nope' are not available. Available services are: ''"]


def test_errors(instance, monkeypatch):
    instance.control("load?n=5")
    instance.auth = "Basic " + base64.b64encode(b"inlet:wrong").decode()
    with pytest.raises(SyncFailed) as e:
        run_sync(sn.ServiceNow, config(instance))
    assert e.value.kind == "auth" and "credentials" in e.value.message
    instance.auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    instance.control("faults", {"fail": "/api/now/v1/batch", "status": 503, "times": 99})
    with pytest.raises(SyncFailed) as e:
        run_sync(sn.ServiceNow, config(instance))
    assert e.value.kind == "network" and "retry_count" in e.value.message
    assert instance.sleeps == [1.0, 2.0], "exponential backoff, retry_count times"
    instance.control("faults", {})
    monkeypatch.setattr(instance, "transport", None)
    http.set_transport(lambda *a: http.Response(200, {"Content-Type": "text/html"}, b"<html>Instance hibernating</html>", a[1]))
    with pytest.raises(SyncFailed) as e:
        run_sync(sn.ServiceNow, config(instance))
    assert e.value.kind == "source" and "application/json" in e.value.message


def test_with_clause():
    assert sn.with_clause("", "x>=1") == "x>=1"
    assert sn.with_clause("a=1^ORb=2", "x>=1") == "a=1^ORb=2^x>=1"
    assert sn.with_clause("a=1^NQb=2", "x>=1") == "a=1^x>=1^NQb=2^x>=1"
