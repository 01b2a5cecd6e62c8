"""The entrypoint of a plugin job on Ray: run the job process, turn its pipes into one log.

Ray runs ``python -P ray_entry.py <spec> <job id>`` in the job's working directory (the
release's files plus the job's spec). Ray keeps a single merged log per job, so this launcher
starts the ordinary job process (:mod:`.process`: the runtime in its own process group, with
stdout, stderr and the event pipe apart) and writes what it collects to its own stdout as
one marked JSON line per batch; the backend reads those lines back from Ray's log with their
levels, progress, metrics and result intact. A SIGTERM from Ray's stop is passed on to the
job's process group (SIGKILL follows after the grace period); the last line carries the exit
code. The job's spec also gets the cluster's address and token (the job process does not
inherit Ray's token), so a job can start Ray tasks of its own. It is run by path and imports
only the standard library and :mod:`.process` (by path).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

#: the prefix of the lines this launcher writes for the backend
MARK = "\x1esynapse-nb:"


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
    for key in ("scratch_dir", "checkpoint_dir"):  # on another node the folders are new
        if spec.get(key):
            Path(spec[key]).mkdir(parents=True, exist_ok=True)
    grace = float(spec.pop("grace", 2.0))
    spec["release_dir"] = str(Path.cwd())
    if os.environ.get("RAY_ADDRESS"):  # what the job needs to start Ray tasks of its own
        spec["ray"] = {"address": os.environ["RAY_ADDRESS"],
                       "token": os.environ.get("RAY_AUTH_TOKEN")}  # fmt: skip
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    job = process_mod.JobProcess.launch(spec_path, job_id, Path.cwd())
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
        spec_path.unlink(missing_ok=True)
    emit({"exit_code": code, "terminated": job.term_sent_at is not None})
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]), sys.argv[2]))
