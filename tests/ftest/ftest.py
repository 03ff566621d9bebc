#!/usr/bin/env python3
"""Functional tests of one connector against its source, in the spirit of Elastic's
`make ftest NAME=...`.

    tests/ftest/run postgresql                 # default data set, embedded sink
    tests/ftest/run github --docs 5000 --remove 500
    tests/ftest/run mysql --opensearch http://127.0.0.1:9250
    tests/ftest/run all                        # every fixture, one after the other
    tests/ftest/run all --jobs 2               # two at a time, each into target/ftest/NAME.log
    tests/ftest/run dir mysql --jobs 2         # some of them

For connector NAME, `tests/ftest/fixtures/NAME/fixture.py` defines `Fixture(workdir)` with
`setup()`, `load(n) -> expected`, `connector() -> dict`, `remove(k) -> expected`,
`teardown()` and a module constant `DEFAULT_DOCS`. The run:

 1. builds `inlet` (release) and the plugin from source (scripts/build-plugins NAME);
 2. setup + load N source records, full sync, checks the index holds exactly `expected` docs;
 3. removes K source records, full sync again, checks the new count (stale deletion);
 4. teardown, then prints one line per sync with docs/s, and exits non-zero on any mismatch.

The sink is the embedded one (NDJSON replayed here) unless `--opensearch URL` (or the
environment's INLET_TEST_OPENSEARCH) names a cluster, where `_count` is asked after a refresh.
Everything lands in target/ftest/NAME/ (config.yml, data, the fixture's files), kept for
inspection. Python standard library only.
"""

import argparse
import concurrent.futures
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "ftest" / "fixtures"


class FtestError(Exception):
    """A failed step: the message says which and why."""


def say(msg):
    print(f"\033[1mftest: {msg}\033[0m", file=sys.stderr, flush=True)


def available():
    return sorted(p.parent.name for p in FIXTURES.glob("*/fixture.py"))


def load_fixture_module(name):
    path = FIXTURES / name / "fixture.py"
    if not path.is_file():
        raise FtestError(f"no fixture for {name!r}: expected {path} (have: {', '.join(available())})")
    spec = importlib.util.spec_from_file_location(f"ftest_fixture_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(cmd, **kw):
    """Runs a build step, failing with its output if it fails."""
    p = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=True, **kw)
    if p.returncode != 0:
        raise FtestError(f"`{' '.join(map(str, cmd))}` failed:\n{p.stdout}\n{p.stderr}")
    return p


def build_inlet(profile):
    say(f"building inlet ({profile})")
    run(["cargo", "build", "--quiet", "--profile", profile, "-p", "inlet"])
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / ("debug" if profile == "dev" else profile) / "inlet"


def build_plugin(name):
    say(f"building the {name} plugin from source")
    # The end-to-end tests build the Rust guests in target/guests: sharing it makes this a
    # no-op after `cargo test`.
    env = {**os.environ, "CARGO_TARGET_DIR": str(ROOT / "target" / "guests")}
    run([str(ROOT / "scripts" / "build-plugins"), name], env=env)


def install_plugin(name, workdir):
    """Copies plugins/NAME (manifest + component) into the run's own plugin directory."""
    src = ROOT / "plugins" / name
    manifest = (src / "plugin.toml").read_text()
    component = next(
        (line.split("=", 1)[1].strip().strip('"') for line in manifest.splitlines() if line.startswith("component")),
        None,
    )
    if not component or not (src / component).is_file():
        raise FtestError(f"plugins/{name}: no built component (scripts/build-plugins {name})")
    dest = workdir / "plugins" / name
    dest.mkdir(parents=True)
    shutil.copy(src / "plugin.toml", dest / "plugin.toml")
    shutil.copy(src / component, dest / component)
    return dest.parent


class Sink:
    """Counts the documents a connector's index ends up with."""

    def __init__(self, workdir, opensearch):
        self.workdir = workdir
        self.opensearch = opensearch.rstrip("/") if opensearch else None

    def config(self):
        return {"elasticsearch": {"host": self.opensearch}} if self.opensearch else {}

    def count(self, index):
        if self.opensearch:
            self._http("POST", f"/{index}/_refresh")
            return json.loads(self._http("GET", f"/{index}/_count"))["count"]
        return len(self.replay(index))

    def replay(self, index):
        """The documents the embedded sink's NDJSON file ends with (as `_bulk` would leave them)."""
        path = self.workdir / "data" / "sink" / f"{index}.ndjson"
        docs = {}
        if not path.exists():
            return docs
        with path.open() as f:
            for line in f:
                action = json.loads(line)
                if "index" in action:
                    docs[action["index"]["_id"]] = json.loads(next(f))
                elif "delete" in action:
                    docs.pop(action["delete"]["_id"], None)
                else:
                    raise FtestError(f"{path}: unexpected action {line.strip()}")
        return docs

    def drop(self, index):
        if self.opensearch:
            try:
                self._http("DELETE", f"/{index}")
            except FtestError:
                pass  # not there yet

    def _http(self, method, path):
        req = urllib.request.Request(self.opensearch + path, method=method)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.read().decode()
        except (urllib.error.URLError, OSError) as e:
            raise FtestError(f"{method} {self.opensearch}{path}: {e}") from e


def write_config(workdir, name, index, fixture, sink):
    spec = fixture.connector()
    connector = {"connector_id": f"ftest-{name}", "index_name": index, **spec["connector"]}
    config = {
        "inlet": {
            "data_dir": str(workdir / "data"),
            "plugins_dir": str(workdir / "plugins"),
            "cache_dir": str(ROOT / "target" / "inlet-test-cache"),
        },
        "connectors": [connector],
        **sink.config(),
    }
    for key in ("credentials", "databases"):
        if spec.get(key):
            config[key] = spec[key]
    path = workdir / "config.yml"
    # YAML is a superset of JSON: config.yml may be written as JSON.
    path.write_text(json.dumps(config, indent=2))
    return path, connector["connector_id"]


def sync(inlet, config, connector_id, kind="full"):
    started = time.monotonic()
    p = subprocess.run(
        [str(inlet), "sync", connector_id, "--type", kind, "--json", "--config", str(config)],
        text=True,
        capture_output=True,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )
    wall = time.monotonic() - started
    try:
        report = json.loads(p.stdout)
    except json.JSONDecodeError:
        report = {}
    if p.returncode != 0 or report.get("status") != "completed":
        raise FtestError(f"{kind} sync of {connector_id} failed (exit {p.returncode}):\n{p.stdout}\n{p.stderr[-4000:]}")
    report["wall_secs"] = wall
    return report


def check_count(sink, index, expected, when, report):
    got = sink.count(index)
    if got != expected:
        stats = report.get("stats", {})
        raise FtestError(
            f"{when}: the index holds {got} documents, the fixture expects {expected} (the sync extracted "
            f"{stats.get('extracted')}, dead-lettered {stats.get('dead_lettered')}: see "
            f"{sink.workdir / 'data' / 'dead-letter'})"
        )
    say(f"{when}: {got} documents, as expected")


def ftest(name, args):
    module = load_fixture_module(name)
    docs = args.docs or module.DEFAULT_DOCS
    remove = args.remove if args.remove is not None else max(1, docs // 10)
    inlet = Path(args.inlet) if args.inlet else build_inlet(args.profile)
    build_plugin(name)
    workdir = ROOT / "target" / "ftest" / name
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    install_plugin(name, workdir)
    index = f"ftest-{name.replace('_', '-')}"
    sink = Sink(workdir, args.opensearch)
    sink.drop(index)
    fixture = module.Fixture(workdir)
    results = []
    try:
        say(f"{name}: setting up the source")
        fixture.setup()
        say(f"{name}: loading {docs} records")
        expected = fixture.load(docs)
        config, connector_id = write_config(workdir, name, index, fixture, sink)
        report = sync(inlet, config, connector_id)
        results.append(("full sync", report))
        check_count(sink, index, expected, "after the first full sync", report)
        say(f"{name}: removing {remove} records")
        expected = fixture.remove(remove)
        report = sync(inlet, config, connector_id)
        results.append(("full sync after removal", report))
        check_count(sink, index, expected, "after removing records and syncing again", report)
    finally:
        if not args.keep_source:
            fixture.teardown()
    for what, r in results:
        stats = r.get("stats", {})
        secs = max(r.get("elapsed_ms", 0), 1) / 1000
        print(
            f"{name}: {what}: {stats.get('indexed', 0)} indexed, {stats.get('stale_deleted', 0)} stale deleted "
            f"in {secs:.2f} s = {stats.get('indexed', 0) / secs:.0f} docs/s "
            f"(whole `inlet sync` command {r['wall_secs']:.2f} s; peak plugin memory "
            f"{r.get('peak_memory_bytes', 0) / 2**20:.1f} MiB)"
        )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "names", nargs="+", metavar="name", help=f"connectors (folders of tests/ftest/fixtures), or `all`: {', '.join(available())}"
    )
    p.add_argument("--docs", type=int, help="source records to load (default: the fixture's DEFAULT_DOCS)")
    p.add_argument("--remove", type=int, help="source records to remove before the second sync (default: 10%%)")
    p.add_argument("--opensearch", default=os.environ.get("INLET_TEST_OPENSEARCH"), help="count in this cluster")
    p.add_argument("--embedded", action="store_true", help="use the embedded sink even if INLET_TEST_OPENSEARCH is set")
    p.add_argument("--profile", default="release", help="cargo profile for inlet (default release; `dev` is faster to build)")
    p.add_argument("--inlet", help="an inlet binary to use instead of building one")
    p.add_argument("--keep-source", action="store_true", help="leave the fixture's source running")
    p.add_argument(
        "--jobs", type=int, default=1, help="with several connectors: how many run at a time (each logs to target/ftest/NAME.log)"
    )
    args = p.parse_args()
    if args.embedded:
        args.opensearch = None
    names = available() if args.names == ["all"] else args.names
    failed = []
    if args.jobs > 1 and len(names) > 1:
        failed = run_parallel(names, args)
    else:
        for name in names:
            try:
                ftest(name, args)
            except FtestError as e:
                print(f"ftest: {name}: FAILED: {e}", file=sys.stderr)
                failed.append(name)
    if failed:
        sys.exit(f"ftest: failed: {', '.join(failed)}")


def run_parallel(names, args):
    """Runs each connector's ftest as its own `ftest.py NAME` process, `args.jobs` at a time.
    The connectors share nothing but the inlet binary (built once here, first) and the cluster
    (one index each). A connector's run is a chain of single-threaded steps (a stand-in server
    in Python, the sync waiting on it), so two at a time use both cores. Each one's output goes
    to target/ftest/NAME.log; a line per connector as it ends, its log in full if it failed,
    then a summary. Returns the failed names."""
    inlet = args.inlet or str(build_inlet(args.profile))
    logs = ROOT / "target" / "ftest"
    logs.mkdir(parents=True, exist_ok=True)
    common = ["--inlet", inlet]
    if args.opensearch:
        common += ["--opensearch", args.opensearch]
    else:
        common += ["--embedded"]
    for flag, value in (("--docs", args.docs), ("--remove", args.remove)):
        if value is not None:
            common += [flag, str(value)]
    if args.keep_source:
        common.append("--keep-source")
    started = time.monotonic()

    def one(name):
        log = logs / f"{name}.log"
        began = time.monotonic()
        with log.open("w") as out:
            p = subprocess.run(
                [sys.executable, __file__, name, *common], stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        return name, p.returncode, time.monotonic() - began, log

    say(f"{len(names)} connectors, {args.jobs} at a time; each one's output in {logs.relative_to(ROOT)}/NAME.log")
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for done in concurrent.futures.as_completed([pool.submit(one, n) for n in names]):
            name, code, secs, log = done.result()
            results[name] = (code, secs)
            if code == 0:
                say(f"{name}: passed in {secs:.0f} s")
                # The per-sync lines (docs/s), as a sequential run prints them.
                for line in log.read_text().splitlines():
                    if line.startswith(f"{name}: "):
                        print(line, flush=True)
            else:
                print(f"ftest: {name}: FAILED in {secs:.0f} s (exit {code}); {log}:", file=sys.stderr)
                print(log.read_text(), file=sys.stderr, flush=True)
    say(f"all {len(names)} in {time.monotonic() - started:.0f} s:")
    for name in names:
        code, secs = results[name]
        print(f"  {name:22} {'passed' if code == 0 else 'FAILED':7} {secs:5.0f} s", file=sys.stderr)
    return [n for n in names if results[n][0] != 0]


if __name__ == "__main__":
    main()
