"""export() writes the same bytes as the export code before its speed work, in every format.

The export code as it was before it was made faster (the commit named below) is taken out of
the repository's history with ``git archive`` and run in a subprocess against the same
backend; its export trees must equal this tree's file for file, byte for byte. The demo
gets a few hostile documents first (labels needing XML escapes, non-ASCII and control
characters, floats that print in exponent form, an integer beyond 64 bits), so the fast
paths meet what they must hand back to the exact ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from wf_helpers import project_id

from synapse_nb.plugins import export

#: The last commit before the export speed work: its output is the oracle.
BEFORE = "4b1f32d9f329dcd4f8721ce7a4cc35cc2811a18d"
REPO = Path(__file__).resolve().parents[2]

#: (name, format, options): every format, splits, segmentation modes and originals.
CONFIGS: list[tuple[str, str, dict[str, Any]]] = [
    ("dm", "dm", {}),
    ("coco", "coco", {"split": True}),
    ("voc", "voc", {}),
    ("voc_semantic", "voc", {"segmentation_mode": "semantic", "split": True}),
    ("yolo", "yolo", {"split": True}),
    ("yolo_originals", "yolo", {"save_original_file": True, "tasks": ["detect", "pose"]}),
]

_RUNNER = """
import json, sys
from pathlib import Path
import synapse_nb
from synapse_nb.clients import BackendClient
from synapse_nb.plugins import export

spec = json.loads(sys.argv[1])
assert synapse_nb.__file__.startswith(spec["old"]), synapse_nb.__file__
with BackendClient(spec["url"], api_token=spec["token"]) as client:
    for name, fmt, options in spec["configs"]:
        export(client, "task", fmt, spec["out"], name=name, progress=False, **options)
"""

HOSTILE = {
    "images": [
        {
            "bounding_box": [
                {
                    "id": "h1",
                    "classification": "caf\u00e9 & <co>",
                    "attrs": [],
                    "data": [10.5, 1e-07, 20.25, 0.1 + 0.2],
                },
                {
                    "id": "h2",
                    "classification": "car",
                    "data": [1.0, 2.0, 3.0, 4.0],
                    "attrs": [
                        {"name": "note", "value": 'tab\there\x01 \u2028 "q" \\ \u00fc'},
                        {"name": "big", "value": 2**70},
                        {"name": "tiny", "value": 1e-05},
                        {"name": "huge", "value": 1e16},
                        {"name": "neg", "value": -0.0},
                    ],
                },
            ],
            "polygon": [
                {
                    "id": "h3",
                    "classification": "lane>",
                    "attrs": [],
                    "data": [[1.25, 2.5], [30.0, 2.0], [15.123456789, 20.987654321]],
                }
            ],
        }
    ],
    "empty": {},
    "nested": [[], {}, [{}], ""],
}


def _old_package(tmp: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("the byte-identity check needs git to take the old export code from history")
    found = subprocess.run(
        ["git", "-C", str(REPO), "cat-file", "-e", f"{BEFORE}^{{commit}}"], capture_output=True
    )
    if found.returncode != 0:
        pytest.skip(f"commit {BEFORE[:10]} (the export code before its speed work) is not here")
    old = tmp / "old-code"
    old.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", BEFORE, "synapse_nb"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    return old


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _comparable_report(raw: bytes) -> dict[str, Any]:
    report = json.loads(raw)
    for key in ("path", "elapsed_s", "items_per_s"):
        report.pop(key)
    return report


@pytest.fixture(scope="module")
def hostile_project(client: Any) -> dict[str, Any]:
    pid = project_id(client, "Street detection")
    tasks, _ = client.list_tasks({"project": pid}, url_conversion=False, list_all=True)
    tasks = list(tasks)[:24]  # boxes, polygons, masks, keypoints and polylines among them
    client.annotate_task_data(tasks[0]["id"], HOSTILE, schema="any")
    client.annotate_task_data(tasks[1]["id"], {"images": []}, schema="any")
    splits = {t["id"]: ("train", "val", "test")[n % 3] for n, t in enumerate(tasks)}
    ids = ",".join(str(t["id"]) for t in tasks)
    return {"params": {"project": pid, "id__in": ids}, "splits": splits}


def test_exports_are_byte_identical_to_the_code_before_the_speed_work(
    demo: Any, client: Any, hostile_project: dict[str, Any], tmp_path: Path
) -> None:
    old = _old_package(tmp_path)
    params, splits = hostile_project["params"], hostile_project["splits"]
    configs = []
    for name, fmt, options in CONFIGS:
        options = {"save_original_file": False, "params": params, **options}
        if options["save_original_file"]:
            options["cache_dir"] = str(tmp_path / "media-cache")
        if options.pop("split", False):
            options["split"] = {str(k): v for k, v in splits.items()}
        configs.append((name, fmt, options))
    spec = {"old": str(old), "url": demo.url, "token": demo.token, "out": str(tmp_path / "old"),
            "configs": configs}  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(old)}
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, json.dumps(spec)], env=env, capture_output=True, text=True,
        cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    for name, fmt, options in configs:
        export(client, "task", fmt, tmp_path / "new", name=name, progress=False, **options)

    for name, _, _ in configs:
        before, after = _files(tmp_path / "old" / name), _files(tmp_path / "new" / name)
        assert sorted(after) == sorted(before), name
        report = "export_report.json"
        written = after[report]  # laid out as json.dumps lays it out (it holds timings)
        assert written == json.dumps(json.loads(written), indent=2, ensure_ascii=False).encode()
        assert _comparable_report(after.pop(report)) == _comparable_report(before.pop(report))
        different = [path for path in before if after[path] != before[path]]
        assert not different, f"{name}: {len(different)} files differ, e.g. {different[:3]}"
        assert len(before) > 3, name
