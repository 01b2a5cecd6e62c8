"""The storage built-ins against their notebook-side baselines, side by side, in one run.

Run: ``python benchmarks/bench_storage_upload.py [--files 200] [--size 320]``. One demo
backend on 127.0.0.1 and one ``file_system`` storage in a temp folder:

* upload: ``upload()`` run here (the baseline) against the ``storage-upload`` job on a folder
  of the same number of images (other bytes, so nothing is skipped), each into its own empty
  collection; the job time runs from ``run_plugin`` to SUCCEEDED, so it includes starting the
  job process and importing the package there; the row below it is the ``upload()`` call
  inside the job alone (its ``elapsed_s``);
* export: the ``dataset-export`` job publishing a data file (the baseline) against the same
  job writing the zip to a storage path.

Each row prints seconds and the ratio to its baseline. Times vary on a loaded machine; the
ratios are what to compare.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import requests
from PIL import Image

from synapse_nb.clients import BackendClient
from synapse_nb.plugins.upload import upload
from synapse_nb.server import ServerHandle, start

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
EXPORT = {"target": "task", "format": "coco", "query": {"project": 1},
          "save_original_file": True}  # fmt: skip


def images(folder: Path, count: int, size: int, shade: int) -> None:
    """``count`` distinct JPEGs (``shade`` makes the bytes differ between folders)."""
    folder.mkdir(parents=True)
    for i in range(count):
        img = Image.new("RGB", (size, size * 3 // 4), (i % 256, (i // 256) % 256, shade))
        img.save(folder / f"img_{i:05d}.jpg", quality=90)


def collection(srv: ServerHandle) -> int:
    """A new empty image collection (the client has no call that creates one)."""
    specs = [{"name": "image_1", "file_type": "image", "is_primary": True}]
    body = {"name": f"bench {time.monotonic_ns()}", "file_specifications": specs}
    headers = {"Synapse-Access-Token": f"Token {srv.token}"}
    reply = requests.post(f"{srv.url}data_collections/", json=body, headers=headers, timeout=30)
    reply.raise_for_status()
    return int(reply.json()["id"])


def job_seconds(
    client: BackendClient, plugin: str, action: str, params: dict
) -> tuple[float, dict]:
    """Seconds from ``run_plugin`` to SUCCEEDED, and the job's result."""
    started = time.perf_counter()
    job = client.run_plugin(plugin, {"action": action, "params": params})
    while (state := client.get_job(job["id"]))["status"] not in TERMINAL:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    if state["status"] != "SUCCEEDED":
        raise SystemExit(f"{plugin} job {job['id']} ended {state['status']}: {state['result']}")
    return elapsed, state["result"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--size", type=int, default=320, help="image width in pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, start(demo=True, storage_roots=[tmp]) as srv:
        root = Path(tmp)
        images(root / "here", args.files, args.size, shade=10)
        images(root / "there", args.files, args.size, shade=200)
        client = BackendClient(srv.url, api_token=srv.token)
        disk = client.create_storage({"name": "bench", "provider": "file_system",
                                      "configuration": {"location": tmp}})["id"]  # fmt: skip
        started = time.perf_counter()
        upload(client, root / "here", collection(srv), progress=False, workers=4)
        local = time.perf_counter() - started
        server, result = job_seconds(client, "storage-upload", "upload",
                                     {"storage": disk, "path": "there",
                                      "collection": collection(srv)})  # fmt: skip
        published, _ = job_seconds(client, "dataset-export", "export", EXPORT)
        stored, _ = job_seconds(client, "dataset-export", "export",
                                {**EXPORT, "storage": disk, "path": "exports"})  # fmt: skip
        client.close()
    rows = [
        (f"upload() of {args.files} images, notebook side", local, local),
        ("storage-upload job, same count", server, local),
        ("  of which upload() inside the job", result["elapsed_s"], local),
        ("dataset-export job -> data file (coco + originals)", published, published),
        ("dataset-export job -> storage path", stored, published),
    ]
    print(f"{'measure':<52} {'seconds':>8} {'ratio':>6}")
    for name, seconds, baseline in rows:
        print(f"{name:<52} {seconds:>8.2f} {seconds / baseline:>6.2f}")


if __name__ == "__main__":
    main()
