"""Plugin job latencies of the local and the Ray executor, side by side, against targets.

Run: ``python benchmarks/bench_jobs.py [--runs 10] [--ray-runs 3] [--no-ray]``. One run,
printed as one table. The baseline measured in the same run is the start of a bare
``python -c pass`` process (what any job process costs at least); each latency is shown as a
ratio to it and to its target. The Ray columns run the same plugin on a local Ray head this
script starts first (one CPU, token auth; its start time is a row of its own) and stops at the
end, once with each job's release shipped to Ray as its working_dir (the default) and once
run in the release's folder in place (``ship_release = False``, a head on this machine); each
Ray backend runs one job first that is not counted:

* ``run_plugin`` -> the job is RUNNING (target 1 s local, 5 s Ray with the head up), and ->
  the plugin code's first line;
* a line the plugin prints -> a client tailing ``tail_console_logs`` reads it (target 300 ms);
* ``PATCH status=STOPPED`` -> the job has ended (target 2 s), for a plugin that checks
  ``ctx.stop_requested`` and for one that never looks (it is interrupted).

``--log-cost 20000`` measures something else, alone: the characters fetched from Ray to follow
one job that prints that many lines, by the backend's streaming follower and, on the same job
in the same run, by the former follower's way (the whole log read again every 0.2 s).

With ``--export-tasks N`` (e.g. 100000) a second table exports N bulk-seeded tasks (DM, no
originals) with the built-in ``dataset-export`` job: on the local executor, on Ray in one piece
(``shard_size`` above N) and on Ray split into Ray tasks (``--shard-size``, default 5000), each
as a ratio to the same export run in this process (the baseline, measured in the same run).
On two cores the Ray rows show overhead, not a speed-up: the shards share the same cores.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import threading
import time
import zipfile

import requests

from synapse_nb.server import start

PLUGIN = """
import time


def ticker(params, ctx):
    print("first line", flush=True)
    for _ in range(params.get("lines", 0)):
        time.sleep(0.05)
        print(f"tick {time.time():.6f}", flush=True)
    deadline = time.monotonic() + params.get("linger", 0)
    while time.monotonic() < deadline:
        time.sleep(0.02)
        if params.get("aware") and ctx.stop_requested:
            return {"stopped": True}
    return {"ok": True}
"""
CONFIG = """name: Bench
code: bench
version: 1.0.0
actions:
  run:
    entrypoint: bench:ticker
"""


def release(api: requests.Session, url: str) -> None:
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as zf:
        zf.writestr("config.yaml", CONFIG)
        zf.writestr("bench.py", PLUGIN)
    api.post(url + "plugins/", json={"name": "Bench", "code": "bench"}).raise_for_status()
    api.post(
        url + "plugin_releases/",
        data={"plugin": "bench", "version": "1.0.0"},
        files={"file": ("bench.zip", body.getvalue())},
    ).raise_for_status()


def run(api: requests.Session, url: str, **params: object) -> tuple[str, float]:
    started = time.perf_counter()
    response = api.post(url + "plugins/bench/run/", json={"params": params})
    response.raise_for_status()
    return response.json()["id"], started


def until(check, timeout: float = 30.0, every: float = 0.005) -> float:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(every)
    return time.perf_counter()


def job(api: requests.Session, url: str, job_id: str) -> dict:
    return api.get(url + f"jobs/{job_id}/").json()


def messages(api: requests.Session, url: str, job_id: str) -> list[str]:
    body = api.get(url + f"jobs/{job_id}/console_logs/", params={"page_size": 1000}).json()
    return [e["message"] for e in body["results"]]


def start_latencies(api, url, runs: int) -> tuple[list[float], list[float]]:
    running, first_line = [], []
    for _ in range(runs):
        job_id, t0 = run(api, url)
        running.append(until(lambda j=job_id: job(api, url, j)["status"] != "PENDING") - t0)
        first_line.append(until(lambda j=job_id: "first line" in messages(api, url, j)) - t0)
        until(lambda j=job_id: job(api, url, j)["status"] == "SUCCEEDED")
    return running, first_line


def tail_latencies(api, url, lines: int) -> list[float]:
    job_id, _ = run(api, url, lines=lines)
    delays = []
    with api.get(url + f"jobs/{job_id}/tail_console_logs/", stream=True, timeout=60) as response:
        for raw in response.iter_lines(decode_unicode=True):
            if not raw:
                continue
            event = json.loads(raw.removeprefix("data: "))
            if event.get("type") != "log":
                continue
            inner = json.loads(event["data"].removeprefix("data: "))
            if inner["message"].startswith("tick "):
                delays.append(time.time() - float(inner["message"].split()[1]))
    return delays


def stop_latencies(api, url, srv, runs: int, aware: bool) -> list[float]:
    out = []
    for _ in range(runs):
        job_id, _ = run(api, url, linger=30, aware=aware)
        until(lambda j=job_id: "first line" in messages(api, url, j))
        t0 = time.perf_counter()
        api.patch(url + f"jobs/{job_id}/", json={"status": "STOPPED"}).raise_for_status()
        out.append(until(lambda j=job_id: not srv.state.jobs.is_active(j)) - t0)
    return out


def python_start(runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        out.append(time.perf_counter() - t0)
    return out


def measure(srv, runs: int, lines: int, warmup: int = 0) -> dict[str, list[float]]:
    """Every latency of one backend (its executor is the local or the Ray one); ``warmup``
    jobs run first and are not counted (a fresh Ray head starts its worker pool on the first)."""
    api = requests.Session()
    api.headers["Synapse-Access-Token"] = f"Token {srv.token}"
    url = srv.url
    try:
        release(api, url)
        start_latencies(api, url, warmup)
        running, first_line = start_latencies(api, url, runs)
        return {
            "running": running,
            "first_line": first_line,
            "tail": tail_latencies(api, url, lines),
            "stop_aware": stop_latencies(api, url, srv, runs, aware=True),
            "stop_blind": stop_latencies(api, url, srv, runs, aware=False),
        }
    finally:
        api.close()


ROWS = [
    # key, label, target local, target Ray
    ("running", "run_plugin -> RUNNING", 1.0, 5.0),
    ("first_line", "run_plugin -> plugin's first line", None, None),
    ("tail", "printed line -> tailing client", 0.3, 0.3),
    ("stop_aware", "stop -> job ended (plugin checks)", 2.0, 2.0),
    ("stop_blind", "stop -> job ended (plugin never looks)", 2.0, 2.0),
]


def _cell(values: list[float] | None, target: float | None, baseline: float) -> str:
    if not values:
        return f"{'-':>8} {'-':>7} {'-':>7} {'-':>7}"
    ordered = sorted(values)
    median = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    ratio = f"{median / target:7.2f}" if target else f"{'-':>7}"
    return f"{median:8.3f} {p95:7.3f} {ratio} {median / baseline:7.1f}"


def export_job(api: requests.Session, url: str, project: int, **params: object) -> float:
    """Seconds from run_plugin to SUCCEEDED of one dataset-export job over ``project``."""
    body = {"action": "export", "params": {"target": "task", "format": "dm",
                                           "query": {"project": project},
                                           "save_original_file": False, **params}}  # fmt: skip
    started = time.perf_counter()
    response = api.post(url + "plugins/dataset-export/run/", json=body)
    response.raise_for_status()
    job_id = response.json()["id"]
    ended = until(lambda: job(api, url, job_id)["status"] in {"SUCCEEDED", "FAILED", "STOPPED"},
                  timeout=3600, every=0.2)  # fmt: skip
    done = job(api, url, job_id)
    if done["status"] != "SUCCEEDED":
        raise RuntimeError(f"export job {job_id} {done['status']}: {done.get('result')}")
    return ended - started


def export_in_process(srv, project: int) -> float:
    """Seconds of the same export run in this process (the baseline), into a temp dir."""
    import tempfile

    from synapse_nb.clients import BackendClient
    from synapse_nb.plugins.export import export

    with tempfile.TemporaryDirectory() as folder, BackendClient(
            srv.url, api_token=srv.token) as client:  # fmt: skip
        started = time.perf_counter()
        export(client, "task", "dm", folder, params={"project": project}, progress=False,
               save_original_file=False, workers=4)  # fmt: skip
        return time.perf_counter() - started


def scale_project(api: requests.Session, url: str) -> int:
    rows = api.get(url + "projects/", params={"page_size": 100}).json()["results"]
    return next(r["id"] for r in rows if str(r.get("title", "")).startswith("Scale project"))


def measure_export(n: int, shard_size: int, ray_head: object | None) -> dict[str, float]:
    """The export of ``n`` tasks: in process, as a local job, as Ray jobs (one piece, shards)."""
    out: dict[str, float] = {}
    with start(demo=True, tasks=n, ray=ray_head) as srv:
        api = requests.Session()
        api.headers["Synapse-Access-Token"] = f"Token {srv.token}"
        project = scale_project(api, srv.url)
        out["in_process"] = export_in_process(srv, project)
        if ray_head is None:
            out["local_job"] = export_job(api, srv.url, project)
        else:
            out["ray_whole"] = export_job(api, srv.url, project, shard_size=n + 1)
            out["ray_sharded"] = export_job(api, srv.url, project, shard_size=shard_size)
        api.close()
    return out


def print_export_table(n: int, shard_size: int, local: dict, ray: dict | None) -> None:
    """Each job against the in-process export of the same backend (its baseline)."""
    print(f"\nexport of {n} tasks (DM, no originals)           | seconds | / baseline")
    rows = [("in this process (baseline)", local["in_process"], local["in_process"]),
            ("dataset-export job, local executor", local["local_job"], local["in_process"])]
    if ray:
        base = ray["in_process"]
        rows += [("in this process, backend on Ray (baseline)", base, base),
                 ("dataset-export job on Ray, one piece", ray["ray_whole"], base),
                 (f"dataset-export job on Ray, shards of {shard_size}", ray["ray_sharded"], base)]
    for label, seconds, baseline in rows:
        print(f"{label:48} | {seconds:7.2f} | {seconds / baseline:6.2f}")


def print_table(baseline: float, columns: list[tuple[str, dict, int]],
                head_start: float | None) -> None:  # fmt: skip
    """One column per (title, latencies, 0 for the local targets / 1 for Ray's)."""
    head = f"{'median s':>8} {'p95 s':>7} {'/target':>7} {'/base':>7}"
    print(f"{'measure':40} | " + " | ".join(f"{title:^31}" for title, _, _ in columns))
    print(f"{'':40} | " + " | ".join(head for _ in columns))
    print(f"{'bare `python -c pass` start (baseline)':40} | {baseline:8.3f}")
    if head_start is not None:
        print(f"{'ray start --head (once, not per job)':40} | {'':31} | {head_start:8.3f}")
    for key, label, *targets in ROWS:
        cells = [_cell(values[key], targets[which], baseline) for _, values, which in columns]
        print(f"{label:40} | " + " | ".join(cells))
    print("targets: RUNNING 1 s local / 5 s Ray; tail 0.3 s; stop 2 s")


CHATTY = """
import time


def chatty(params, ctx):
    for i in range(params["lines"]):
        print(f"line {i}")
        if i % 1000 == 999:
            time.sleep(0.1)  # a log that grows for a while, as a chatty training job's does
    return {"ok": True}
"""


def _reread_follower(client, ray_id: str) -> tuple[int, int]:
    """How the Ray follower read a job's log before the stream: the whole log every 0.2 s."""
    chars = reads = 0
    while True:
        status = str(client.get_job_status(ray_id).value)
        chars += len(client.get_job_logs(ray_id))
        reads += 1
        if status in ("SUCCEEDED", "FAILED", "STOPPED"):
            return chars, reads
        time.sleep(0.2)


def log_cost(lines: int) -> None:
    """Characters fetched from Ray to follow one chatty job's log: the streaming follower
    of the backend against the former whole-log re-read, run side by side on the same job."""
    from ray.job_submission import JobSubmissionClient

    from synapse_nb.server.executors.ray_head import LocalRayHead

    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as zf:
        zf.writestr("config.yaml", CONFIG.replace("bench:ticker", "chatty:chatty"))
        zf.writestr("chatty.py", CHATTY)
    with LocalRayHead(num_cpus=1) as head, start(ray=head) as srv:
        api = requests.Session()
        api.headers["Synapse-Access-Token"] = f"Token {srv.token}"
        api.post(srv.url + "plugins/", json={"name": "Bench", "code": "bench"}).raise_for_status()
        api.post(
            srv.url + "plugin_releases/",
            data={"plugin": "bench", "version": "1.0.0"},
            files={"file": ("chatty.zip", body.getvalue())},
        ).raise_for_status()
        executor = srv.state.jobs
        before = executor.log_chars_fetched
        job_id, t0 = run(api, srv.url, lines=lines)
        until(lambda: executor.describe(job_id)["ray_job_id"] is not None, timeout=120)
        ray_id = executor.describe(job_id)["ray_job_id"]
        client = JobSubmissionClient(
            head.dashboard_url, headers={"Authorization": f"Bearer {head.token}"}
        )
        old_chars, reads = _reread_follower(client, ray_id)
        until(lambda: not executor.is_active(job_id), timeout=120)
        took = time.perf_counter() - t0
        new_chars = executor.log_chars_fetched - before
        size = len(client.get_job_logs(ray_id))
        status = job(api, srv.url, job_id)["status"]
        api.close()
    print(f"one Ray job printing {lines} lines ({size} characters of Ray log, {status}, "
          f"{took:.1f} s from run_plugin to its end)")
    print(f"{'follower':44} | {'chars fetched':>13} | {'/ log size':>10}")
    print(f"{f'whole log every 0.2 s (before; {reads} reads)':44} | {old_chars:13d} | "
          f"{old_chars / size:10.2f}")
    print(f"{'streamed, tail_job_logs (now)':44} | {new_chars:13d} | {new_chars / size:10.2f}")
    print(f"ratio before / now: {old_chars / max(new_chars, 1):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--ray-runs", type=int, default=3, help="runs of each Ray measure")
    parser.add_argument("--lines", type=int, default=40)
    parser.add_argument("--no-ray", action="store_true", help="the local executor only")
    parser.add_argument("--quick", action="store_true", help="a smoke run (3 runs, 10 lines)")
    parser.add_argument(
        "--log-cost", type=int, metavar="LINES", default=0,
        help="only: characters fetched from Ray to follow a job printing LINES lines",
    )
    parser.add_argument("--export-tasks", type=int, default=0,
                        help="also export this many tasks as jobs (e.g. 100000)")
    parser.add_argument("--shard-size", type=int, default=5000, help="items per Ray task")
    parser.add_argument("--export-only", action="store_true", help="skip the latency table")
    args = parser.parse_args()
    if args.log_cost:
        log_cost(args.log_cost)
        return
    if args.export_only:
        return main_export(args)
    if args.quick:
        args.runs, args.ray_runs, args.lines = 3, 2, 10
    baseline = statistics.median(python_start(args.runs))
    with start() as srv:
        local = measure(srv, args.runs, args.lines)
    columns = [("local executor", local, 0)]
    ray, head_start = None, None
    if not args.no_ray:
        from synapse_nb.server.executors.ray_head import LocalRayHead

        with LocalRayHead(num_cpus=1) as head:
            head_start = head.started_in
            with start(ray=head) as srv:  # the default: each job's release as working_dir
                shipped = measure(srv, args.ray_runs, args.lines, warmup=1)
            with start(ray=head) as srv:  # opt-in: run in the release's folder, in place
                srv.state.jobs.ship_release = False
                ray = measure(srv, args.ray_runs, args.lines, warmup=1)
        columns += [("Ray, release as working_dir", shipped, 1),
                    ("Ray, release in place (opt-in)", ray, 1)]
    print_table(baseline, columns, head_start)
    print(
        f"({args.runs} local / {args.ray_runs} Ray runs each; {len(local['tail'])} tailed lines "
        f"local, {len(ray['tail']) if ray else 0} Ray; {threading.active_count()} threads left)"
    )
    if args.export_tasks:
        main_export(args)


def main_export(args: argparse.Namespace) -> None:
    local = measure_export(args.export_tasks, args.shard_size, None)
    ray = None
    if not args.no_ray:
        from synapse_nb.server.executors.ray_head import LocalRayHead

        with LocalRayHead(num_cpus=2) as head:  # both cores: the shards may run side by side
            ray = measure_export(args.export_tasks, args.shard_size, head)
    print_export_table(args.export_tasks, args.shard_size, local, ray)


if __name__ == "__main__":
    main()
