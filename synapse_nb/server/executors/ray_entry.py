"""The entrypoint of a plugin job on Ray: run the job process, turn its pipes into one log.

Ray runs ``python -P ray_entry.py <spec> <job id>`` in the job's working directory (the
release's files plus the job's spec). Ray keeps a single merged log per job, so this launcher
starts the ordinary job process (:mod:`.process`: the runtime in its own process group, with
stdout, stderr and the event pipe apart) and writes what it collects to its own stdout as
one marked JSON line per batch; the backend reads those lines back from Ray's log with their
levels, progress, metrics and result intact. A SIGTERM from Ray's stop is passed on to the
job's process group (SIGKILL follows after the grace period); the last line carries the exit
code.

The spec Ray carries holds a one-time claim code, not the job's token: before the job process
starts, the launcher exchanges the code over HTTP at the backend's internal
``internal/jobs/<id>/claim/`` route (once; the code is void afterwards) and writes the spec the
job process reads, with the token, as a 0600 file in the job's scratch folder (not in the
working directory Ray packaged); the job process deletes it once read. That spec also gets the
cluster's address and token (the job process does not inherit Ray's token), so a job can start
Ray tasks of its own. A refused claim ends the launcher with an error line and exit code
:data:`CLAIM_FAILED`. It is run by path and imports only the standard library and
:mod:`.process` (by path).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

#: the prefix of the lines this launcher writes for the backend
MARK = "\x1esynapse-nb:"
#: the launcher's exit code when the backend refused (or never answered) the claim
CLAIM_FAILED = 2
#: pauses between tries of the claim while the backend is unreachable or busy (429, 5xx)
CLAIM_RETRIES = (0.5, 1.0, 2.0, 4.0)
#: the file the job process reads its spec from, in the job's scratch folder
PRIVATE_SPEC = "job_spec.json"


class ClaimFailed(Exception):
    """The backend gave no token for the job's claim code."""


def claim_token(base_url: str, job_id: str, claim: str) -> str:
    """Exchange the job's one-time claim code for its token at the backend (tried again while
    the backend is unreachable or busy; a refusal is final)."""
    url = f"{base_url.rstrip('/')}/internal/jobs/{urllib.parse.quote(job_id, safe='')}/claim/"
    body = json.dumps({"claim": claim}).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight there
    for delay in (*CLAIM_RETRIES, None):
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with opener.open(request, timeout=30) as response:
                return str(json.loads(response.read())["token"])
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}: {exc.read(2000).decode(errors='replace')}"
            if exc.code != 429 and exc.code < 500:
                raise ClaimFailed(problem) from None
        except (OSError, ValueError, KeyError) as exc:  # unreachable, cut, not JSON
            problem = f"{type(exc).__name__}: {exc}"
        if delay is None:
            raise ClaimFailed(problem)
        time.sleep(delay)
    raise AssertionError("unreachable")


def write_private(spec: dict, folder: Path) -> Path:
    """``spec`` as a 0600 file of ``folder`` (an existing file is replaced, a link refused)."""
    path = folder / PRIVATE_SPEC
    path.unlink(missing_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    with os.fdopen(os.open(path, flags, 0o600), "w", encoding="utf-8") as fh:
        json.dump(spec, fh)
    return path


def _process_module() -> Any:
    path = Path(__file__).with_name("process.py")
    spec = importlib.util.spec_from_file_location("_synapse_nb_job_process", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def emit(record: dict) -> None:
    sys.stdout.write(MARK + json.dumps(record, default=str) + "\n")
    sys.stdout.flush()


def run(spec_path: Path, job_id: str) -> int:
    process_mod = _process_module()
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    spec_path.unlink(missing_ok=True)  # read once; what Ray keeps of it holds no token
    for key in ("scratch_dir", "checkpoint_dir"):  # on another node the folders are new
        if spec.get(key):
            Path(spec[key]).mkdir(parents=True, exist_ok=True)
    grace = float(spec.pop("grace", 2.0))
    spec["release_dir"] = str(Path.cwd())
    claim = spec.pop("claim", None)
    if claim:
        try:
            spec["token"] = claim_token(str(spec["base_url"]), job_id, str(claim))
        except ClaimFailed as exc:
            message = f"The job could not claim its token from the backend: {exc}"
            emit({"logs": [{"message": message, "level": "error", "step": "executor"}]})
            emit({"exit_code": CLAIM_FAILED, "terminated": False})
            return CLAIM_FAILED
    if os.environ.get("RAY_ADDRESS"):  # what the job needs to start Ray tasks of its own
        spec["ray"] = {"address": os.environ["RAY_ADDRESS"],
                       "token": os.environ.get("RAY_AUTH_TOKEN")}  # fmt: skip
    private = write_private(spec, Path(spec.get("scratch_dir") or spec_path.parent))
    job = process_mod.JobProcess.launch(private, job_id, Path.cwd())
    signal.signal(signal.SIGTERM, lambda *_: job.terminate())
    signal.signal(signal.SIGINT, lambda *_: job.terminate())
    try:
        while job.open_streams or job.popen.poll() is None:
            collected = job.pump(0.05)
            if collected or collected.result or collected.errors:
                emit(dataclasses.asdict(collected))
            job.enforce_grace(grace)
            if job.popen.poll() is not None:
                job.end_group()
        code = job.reap()
    finally:
        job.close()
        private.unlink(missing_ok=True)  # the job process normally removed it already
    emit({"exit_code": code, "terminated": job.term_sent_at is not None})
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), sys.argv[2]))
