"""Build a connector project into a WASI 0.2 component and its plugin manifest.

    python -m inlet_sdk.build <project dir> [-o <out dir>] [--entry module[:Class]] [--wit <dir>]

A project is a directory with a `plugin.toml` (service_type, name, version, permissions) and a
Python module (default `connector.py`) defining one `Connector` subclass. The component
(`<service_type>.wasm`, or `component` from plugin.toml) and plugin.toml are written to the out
dir, which defaults to the project dir itself.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None

APP_MODULE = "inlet_component_app"
SDK_DIR = os.path.dirname(os.path.abspath(__file__))
# Modules the component needs (build/testing stay out of it).
SDK_MODULES = (
    "__init__.py", "_core.py", "_glue.py", "config.py", "connector.py", "document.py",
    "errors.py", "fields.py", "log.py", "state.py", "http.py",
)
# The `connector-http` world (connector + wasi:http/outgoing-handler) and its wasi:* deps; used
# for projects whose plugin.toml declares `[permissions] http`.
HTTP_WIT_DIR = os.path.join(SDK_DIR, "wit_http")
# `connector-http` plus the optional `json-lines` export (`connector-http` itself is the Go SDK's).
HTTP_WORLD = "connector-http-json-lines"
SKIP_DIRS = {"__pycache__", ".git", ".venv", "venv", "node_modules", "build", "dist", "tests", ".pytest_cache"}
SKIP_EXT = (".wasm", ".cwasm", ".pyc")


class BuildError(Exception):
    pass


def find_wit(project, explicit=None):
    """The WIT directory holding `connector.wit`."""
    candidates = []
    if explicit:
        candidates.append(explicit)
    if os.environ.get("INLET_WIT"):
        candidates.append(os.environ["INLET_WIT"])
    for start in (project, SDK_DIR):
        d = os.path.abspath(start)
        while True:
            candidates.append(os.path.join(d, "wit"))
            parent = os.path.dirname(d)
            if parent == d:
                break
            d = parent
    candidates.append(os.path.join(SDK_DIR, "wit"))
    for c in candidates:
        if os.path.isfile(os.path.join(c, "connector.wit")):
            return os.path.abspath(c)
    raise BuildError("cannot find wit/connector.wit; pass --wit <dir> or set INLET_WIT")


def read_manifest(project):
    path = os.path.join(project, "plugin.toml")
    if not os.path.isfile(path):
        raise BuildError(f"{path} is missing (see sdk/templates/python/plugin.toml)")
    with open(path, "rb") as fh:
        raw = fh.read()
    if tomllib is None:
        raise BuildError("Python 3.11+ is needed to read plugin.toml")
    try:
        manifest = tomllib.loads(raw.decode("utf-8"))
    except Exception as e:
        raise BuildError(f"{path}: {e}") from None
    for key in ("service_type", "name", "version"):
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise BuildError(f"{path}: `{key}` (a string) is required")
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", manifest["service_type"]):
        raise BuildError(f"{path}: service_type {manifest['service_type']!r} must be letters, digits, _ . -")
    return manifest, raw.decode("utf-8")


def manifest_text(text, component):
    """plugin.toml text with `component = "<component>"` set."""
    line = f'component = "{component}"'
    if re.search(r"(?m)^\s*component\s*=", text):
        return re.sub(r'(?m)^\s*component\s*=.*$', line, text, count=1)
    m = re.search(r"(?m)^\s*\[", text)
    if m:
        return text[: m.start()] + line + "\n" + text[m.start():]
    return text.rstrip("\n") + "\n" + line + "\n"


def copy_project(project, dest):
    for root, dirs, files in os.walk(project):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
        rel = os.path.relpath(root, project)
        for f in files:
            if f.endswith(SKIP_EXT) or f.startswith("."):
                continue
            target = os.path.join(dest, rel, f)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(os.path.join(root, f), target)


def wants_http(manifest):
    """True when plugin.toml declares `[permissions] http` origins."""
    perms = manifest.get("permissions") or {}
    return bool(isinstance(perms, dict) and perms.get("http"))


def http_wit(wit_dir, dest):
    """A WIT directory for the `connector-http` world: the contract's .wit files, the world, and
    the wasi:* deps, assembled in `dest`."""
    if not os.path.isdir(HTTP_WIT_DIR):
        raise BuildError(f"{HTTP_WIT_DIR} is missing (the SDK's connector-http world)")
    os.makedirs(dest)
    for name in os.listdir(wit_dir):
        if name.endswith(".wit"):
            shutil.copy2(os.path.join(wit_dir, name), dest)
    shutil.copy2(os.path.join(HTTP_WIT_DIR, "connector-http.wit"), dest)
    shutil.copytree(os.path.join(HTTP_WIT_DIR, "deps"), os.path.join(dest, "deps"))
    return dest


# In the connector-http world the contract's `types` interface is generated as
# `inlet_connector_types` (wasi:http has a `types` too); the glue imports it as `types`.
_HTTP_ALIAS = '''import sys as _sys
import wit_world.imports as _wi
from wit_world.imports import inlet_connector_types as _types
_wi.types = _types
_sys.modules["wit_world.imports.types"] = _types
'''


def has_json_lines(wit_dir):
    """Whether the contract in `wit_dir` has the `connector-json-lines` world (an older copy
    of the contract may not: the plugin then hands over records only)."""
    with open(os.path.join(wit_dir, "connector.wit"), encoding="utf-8") as fh:
        return re.search(r"(?m)^\s*world\s+connector-json-lines\b", fh.read()) is not None


def write_app(dest, entry, manifest, http=False, json_lines=True):
    module, _, cls = entry.partition(":")
    meta = {k: manifest[k] for k in ("service_type", "name", "version")}
    pick = f"_m.{cls}" if cls else "find_connector(_m)"
    alias = _HTTP_ALIAS if http else ""
    exports = "JsonLines, Sync, make_source" if json_lines else "Sync, make_source"
    src = f'''# Generated by inlet_sdk.build: the componentize-py entry module.
{alias}import {module} as _m
from inlet_sdk._glue import {exports}
from inlet_sdk.connector import find_connector

Source = make_source({pick}, {meta!r})
'''
    with open(os.path.join(dest, APP_MODULE + ".py"), "w") as fh:
        fh.write(src)


def componentize_cmd():
    exe = shutil.which("componentize-py")
    if exe:
        return [exe]
    return [sys.executable, "-c", "import sys; from componentize_py import script; sys.argv[0] = 'componentize-py'; sys.exit(script())"]


def build(project, out=None, entry="connector", wit=None, stub_wasi=False, python_paths=(), quiet=False):
    """Build `project`; returns (wasm path, manifest path)."""
    project = os.path.abspath(project)
    out = os.path.abspath(out or project)
    manifest, text = read_manifest(project)
    component = manifest.get("component") or f"{manifest['service_type']}.wasm"
    if os.path.isabs(component) or ".." in component.replace("\\", "/").split("/"):
        raise BuildError("plugin.toml: `component` must be a file name relative to plugin.toml")
    module = entry.partition(":")[0]
    if not os.path.exists(os.path.join(project, module + ".py")) and not os.path.isdir(os.path.join(project, module)):
        raise BuildError(f"{project}: no module `{module}` (expected {module}.py); pass --entry module[:Class]")
    wit_dir = find_wit(project, wit)
    os.makedirs(out, exist_ok=True)
    wasm = os.path.join(out, component)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="inlet-py-build-") as tmp:
        app_dir = os.path.join(tmp, "app")
        sdk_dir = os.path.join(tmp, "sdk", "inlet_sdk")
        os.makedirs(sdk_dir)
        for name in SDK_MODULES:
            shutil.copy2(os.path.join(SDK_DIR, name), sdk_dir)
        copy_project(project, app_dir)
        http = wants_http(manifest)
        json_lines = has_json_lines(wit_dir)
        if http and not json_lines:
            raise BuildError(f"{wit_dir}/connector.wit has no `connector-json-lines` world, which "
                             "the SDK's connector-http world includes; use this SDK's wit/")
        write_app(app_dir, entry, manifest, http, json_lines)
        # `connector` plus the optional `json-lines` export (documents as JSON lines).
        world = "connector-json-lines" if json_lines else "connector"
        if http:
            wit_dir = http_wit(wit_dir, os.path.join(tmp, "wit"))
            world = HTTP_WORLD
        cmd = componentize_cmd() + ["-d", wit_dir, "-w", world, "componentize", APP_MODULE,
                                    "-p", app_dir, "-p", os.path.dirname(sdk_dir)]
        for p in python_paths:
            cmd += ["-p", os.path.abspath(p)]
        if stub_wasi:
            cmd.append("--stub-wasi")
        cmd += ["-o", wasm + ".tmp"]
        if not quiet:
            print("+", " ".join(cmd), file=sys.stderr)
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            # componentize-py prints a Rust backtrace after the error: keep the useful head.
            err = res.stderr.split("\nStack backtrace:")[0]
            raise BuildError(f"componentize-py failed:\n{res.stdout}{err}")
    os.replace(wasm + ".tmp", wasm)
    manifest_path = os.path.join(out, "plugin.toml")
    new_text = manifest_text(text, component)
    if not (os.path.exists(manifest_path) and open(manifest_path).read() == new_text):
        with open(manifest_path, "w") as fh:
            fh.write(new_text)
    if not quiet:
        size = os.path.getsize(wasm)
        print(f"built {wasm} ({size / 1e6:.1f} MB) in {time.monotonic() - started:.1f}s", file=sys.stderr)
        print(f"manifest {manifest_path}", file=sys.stderr)
    return wasm, manifest_path


def main(argv=None):
    ap = argparse.ArgumentParser(prog="inlet-py-build", description="Build an Inlet connector written in Python.")
    ap.add_argument("project", nargs="?", default=".", help="project directory (with plugin.toml)")
    ap.add_argument("-o", "--out", help="output directory (default: the project directory)")
    ap.add_argument("--entry", default="connector", help="module[:Class] defining the Connector (default: connector)")
    ap.add_argument("--wit", help="WIT directory (default: the nearest wit/ above the project, or $INLET_WIT)")
    ap.add_argument("-p", "--python-path", action="append", default=[], help="extra directory with dependencies")
    ap.add_argument("--stub-wasi", action="store_true", help="replace WASI imports with traps (smaller; no clocks, files, random)")
    args = ap.parse_args(argv)
    try:
        build(args.project, args.out, args.entry, args.wit, args.stub_wasi, args.python_path)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
