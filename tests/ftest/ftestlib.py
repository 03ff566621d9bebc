"""Helpers the functional-test fixtures share: the test database servers and local fake HTTP
sources (a `server.py` per fixture). Standard library only."""

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def database_urls():
    """The test PostgreSQL and MariaDB URLs (with user and password): from the environment
    (scripts/test exports them), else from tests/databases/start, which starts the servers
    once and reuses running ones (tests/databases/stop removes them)."""
    urls = {k: os.environ.get(k) for k in ("INLET_TEST_POSTGRES", "INLET_TEST_MYSQL")}
    if all(urls.values()):
        return urls
    p = subprocess.run([str(ROOT / "tests" / "databases" / "start")], text=True, capture_output=True)
    if p.returncode != 0:
        raise RuntimeError(f"tests/databases/start failed:\n{p.stderr}")
    for line in p.stdout.splitlines():
        key, _, value = line.partition("=")
        urls[key] = value
    return urls


def split_url(url):
    """`scheme://user:password@host:port/db` → (operator-facing URL without credentials, user,
    password, host, port, database)."""
    u = urllib.parse.urlsplit(url)
    return (
        f"{u.scheme}://{u.hostname}:{u.port}{u.path}",
        urllib.parse.unquote(u.username or ""),
        urllib.parse.unquote(u.password or ""),
        u.hostname,
        u.port,
        u.path.lstrip("/"),
    )


def database_grant(workdir, name, url):
    """A `databases:` entry for config.yml; the password goes to a 0600 file, as an operator
    would keep it."""
    plain, user, password, *_ = split_url(url)
    secret = workdir / f"{name}.password"
    secret.write_text(password + "\n")
    secret.chmod(0o600)
    return {name: {"url": plain, "username": user, "password": {"file": str(secret)}}}


class FakeSource:
    """A fixture's `server.py` run as a child process on a free loopback port. The server
    prints `PORT=<n>` as its first line, then serves; `control()` calls its `/_fixture/...`
    endpoints (load, remove, ...), which answer JSON."""

    def __init__(self, server, *args):
        self.proc = subprocess.Popen(
            [sys.executable, str(server), "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=None,
            text=True,
        )
        first = self.proc.stdout.readline().strip()
        if not first.startswith("PORT="):
            self.stop()
            raise RuntimeError(f"{server} did not print PORT=<n> (got {first!r})")
        self.port = int(first.split("=", 1)[1])
        self.origin = f"http://127.0.0.1:{self.port}"

    def control(self, action, body=None, **query):
        url = f"{self.origin}/_fixture/{action}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request(url, data=data, method="POST" if body is not None or query else "GET")
        with urllib.request.urlopen(req, timeout=120) as r:
            return json.loads(r.read() or b"null")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
