"""Head to head with the official Synapse SDK (issue 16): N tasks -> a pandas frame.

Run: ``python benchmarks/bench_vs_sdk.py`` (100k tasks, 20 ms latency) or ``--tasks 20000``;
``--sdk-source PATH`` installs the SDK from a checkout or an sdist/wheel instead of the
package index; ``--sdk-python PATH`` names the interpreter of its venv.

The SDK is installed in a venv of its own (``~/.cache/synapse_nb/bench-venvs/``, reused
while it imports) on a Python it supports: this one when it can, else the newest
``python3.1x`` found on PATH or under ``~/.pyenv/versions``. Nothing of the SDK is imported
here: a driver script runs in that venv's interpreter. When the SDK cannot be installed the
table says ``skipped: <why>`` and still shows synapse_nb's side.

One backend (``python -m synapse_nb.server`` in its own process, bulk-seeded with ``--tasks``,
20 ms of added latency per request) serves every listing of its seeded project, one run each:

- SDK ``list_tasks(list_all=True)`` + ``pandas.DataFrame(list)`` at its default page size;
- the same with ``params={'page_size': 1000}`` (its best);
- the same with ``url_conversion={}`` too. By default the SDK's ``list_tasks`` downloads
  every task's files into its temp folder while it lists (and rescans that folder to
  evict old files after each page); synapse_nb's listing leaves URLs as strings, so this
  row is the like-for-like listing.
- ``synapse_nb.frames.Client.list_tasks(list_all=True)``, the typed frame.

Wall time is measured inside each listing process (imports excluded); client CPU is that
process's CPU over the listing. Targets: synapse_nb at least 20x faster than the SDK at its
default page size and 5x at its best.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
from bench_client import backend, cpu_seconds, print_table, scale_project

from synapse_nb.frames import Client

VENVS = Path.home() / ".cache" / "synapse_nb" / "bench-venvs"
MIN_SDK_PYTHON = (3, 12)  # what the published releases served here require
MEDIA = Path("/tmp/datamaker/media")  # where the SDK keeps the files it downloads
SDK_RUNS = [  # label, page_size ("" = the SDK's default), files, target speed-up
    ("default page size", "", "files", 20.0),
    ("page_size=1000", "1000", "files", 5.0),
    ("page_size=1000, url_conversion={}", "1000", "nofiles", 5.0),
]

# Runs in the SDK's venv: argv = url token project page_size ("" = the SDK's default) and
# "files" (the SDK's default: every task's files are downloaded while listing) or "nofiles"
# (``url_conversion={}``: URLs stay strings, as in synapse_nb's listing).
DRIVER = r"""
import json, resource, sys, time
import pandas as pd
from synapse_sdk.clients.backend import BackendClient

url, token, project, page_size, files = sys.argv[1:3] + [int(sys.argv[3])] + sys.argv[4:6]
client = BackendClient(url, token)  # the token is the second argument in every release
params = {"project": project}
if page_size:
    params["page_size"] = int(page_size)

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

started, cpu0 = time.perf_counter(), cpu()
options = {} if files == "files" else {"url_conversion": {}}
result = client.list_tasks(params=params, list_all=True, **options)
if isinstance(result, tuple):  # (generator, count) in the releases that return both
    result = result[0]
frame = pd.DataFrame(list(result))
seconds, cpu_s = time.perf_counter() - started, cpu() - cpu0
from importlib.metadata import version
print(json.dumps({"seconds": seconds, "cpu": cpu_s, "rows": len(frame),
                  "version": version("synapse-sdk"), "pandas": pd.__version__}))
"""


def python_version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    major, minor = out.split()
    return int(major), int(minor)


def find_sdk_python(explicit: str | None) -> str | None:
    """An interpreter the SDK supports: ``explicit``, this one, or the newest one found."""
    if explicit:
        return explicit
    if sys.version_info[:2] >= MIN_SDK_PYTHON:
        return sys.executable
    found = [shutil.which(f"python3.{minor}") for minor in range(20, MIN_SDK_PYTHON[1] - 1, -1)]
    found += sorted(glob.glob(str(Path.home() / ".pyenv/versions/3.*/bin/python3")), reverse=True)
    candidates = [(python_version(p), p) for p in found if p]
    usable = [(v, p) for v, p in candidates if v is not None and v >= MIN_SDK_PYTHON]
    return max(usable)[1] if usable else None


def sdk_venv(python: str, source: str | None) -> tuple[str | None, str]:
    """(the venv's python, "") once the SDK imports there, else (None, why not)."""
    found = python_version(python)
    if found is None:
        return None, f"{python} does not run"
    major, minor = found
    name = f"synapse-sdk-py{major}.{minor}" + ("-source" if source else "")
    venv = VENVS / name
    venv_python = str(venv / "bin" / "python")
    probe = [venv_python, "-c", "import synapse_sdk.clients.backend, pandas"]
    if Path(venv_python).exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return venv_python, ""
    VENVS.mkdir(parents=True, exist_ok=True)
    made = subprocess.run([python, "-m", "venv", "--clear", str(venv)], capture_output=True)
    if made.returncode != 0:
        return None, f"cannot create a venv with {python}: {made.stderr.decode()[-200:]}"
    print(f"installing the Synapse SDK in {venv} (once; a few minutes)...", flush=True)
    spec = source or "synapse-sdk"
    pip = [venv_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", spec, "pandas"]
    done = subprocess.run(pip, capture_output=True, text=True)
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
        return None, f"pip install {spec} failed: {(errors or ['?'])[-1][:300]}"
    if subprocess.run(probe, capture_output=True).returncode != 0:
        return None, f"{spec} installed but synapse_sdk.clients.backend does not import"
    return venv_python, ""


def run_sdk(
    venv_python: str, url: str, token: str, project: int, page_size: str, files: str
) -> dict[str, Any]:
    argv = [venv_python, "-c", DRIVER, url, token, str(project), page_size, files]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the SDK listing failed: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_ours(url: str, token: str, project: int) -> dict[str, Any]:
    client = Client(url, api_token=token, progress=False)
    started, cpu0 = time.perf_counter(), cpu_seconds()
    frame = client.list_tasks({"project": project}, list_all=True)
    seconds, cpu_s = time.perf_counter() - started, cpu_seconds() - cpu0
    client.close()
    return {"seconds": seconds, "cpu": cpu_s, "rows": len(frame)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--sdk-source", help="a checkout, sdist or wheel of the Synapse SDK")
    parser.add_argument("--sdk-python", help="interpreter for the SDK's venv (>= 3.12)")
    args = parser.parse_args(argv)
    n = args.tasks

    if args.sdk_source and not Path(args.sdk_source).exists():
        parser.error(f"--sdk-source: no such file or folder: {args.sdk_source!r}")
    python = find_sdk_python(args.sdk_python)
    venv_python, why = (None, "no Python >= 3.12 found") if python is None else (None, "")
    if python is not None:
        venv_python, why = sdk_venv(python, args.sdk_source)

    if venv_python is None:
        print(f"Synapse SDK skipped: {why}", flush=True)
    rows: list[list[Any]] = []
    with backend("process", tasks=n, latency_ms=args.latency_ms) as srv:
        project = scale_project(srv.url, srv.token)
        sdk: dict[str, dict[str, Any]] = {}
        cached_media = len(list(MEDIA.iterdir())) if MEDIA.is_dir() else 0
        for label, size, files, _target in SDK_RUNS if venv_python is not None else ():
            try:
                sdk[label] = run_sdk(venv_python, srv.url, srv.token, project, size, files)
            except RuntimeError as error:  # e.g. a release whose API differs: still show ours
                print(f"Synapse SDK skipped ({label}): {error}", flush=True)
        ours = run_ours(srv.url, srv.token, project)

    for label, _size, _files, target in SDK_RUNS:
        name = f"SDK list_tasks(list_all=True) + DataFrame, {label}"
        if label not in sdk:
            rows.append([name, "skipped", "", "", "", ""])
            continue
        run = sdk[label]
        assert run["rows"] == n, (label, run["rows"], n)
        speedup = run["seconds"] / ours["seconds"]
        rows.append([name, f"{run['seconds']:.2f}", f"{run['cpu'] / n * 1e6:.1f}",
                     f"synapse_nb {speedup:.1f}x faster", f">= {target:g}x",
                     "PASS" if speedup >= target else "FAIL"])  # fmt: skip
    assert ours["rows"] == n, (ours["rows"], n)
    rows.append(["synapse_nb Client.list_tasks(list_all=True), typed frame",
                 f"{ours['seconds']:.2f}", f"{ours['cpu'] / n * 1e6:.1f}", "", "", ""])  # fmt: skip

    version = next(iter(sdk.values()))["version"] if sdk else "not installed"
    load = os.getloadavg()[0]
    print_table(
        f"{n:,} tasks, {args.latency_ms:g} ms latency, backend in its own process, "
        f"{os.cpu_count()} CPUs (load {load:.1f}); Synapse SDK {version} ({cached_media} "
        f"files in its download cache {MEDIA} at the start), pandas {pd.__version__} here; "
        "one run each",
        ["listing", "wall s", "client CPU us/row", "ratio", "target", "verdict"],
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
