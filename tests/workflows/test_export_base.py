"""BaseExporter: the Synapse SDK's hooks in its order, layout, names, recorded failures."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest

from synapse_nb.plugins.export import BaseExporter, ExportRun, MetricsRecord
from synapse_nb.plugins.export.originals import OriginalsPrefetcher


def _items(tmp_path: Path, names: list[str]) -> list[dict[str, Any]]:
    items = []
    for n, name in enumerate(names, start=1):
        original = tmp_path / "src" / f"{n}-{name}"
        original.parent.mkdir(parents=True, exist_ok=True)
        original.write_bytes(f"pixels of {name}".encode())
        items.append(
            {
                "id": n,
                "data": {"images": [{"bounding_box": []}], "n": n},
                "files": {"file_name_original": name, "path": original},
            }
        )
    return items


class RecordingExporter(BaseExporter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[Any, ...]] = []

    def before_convert(self, data: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("before_convert", data["id"]))
        return {**data, "seen": ["before"]}

    def convert_data(self, data: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("convert_data", data["id"]))
        return {**data, "seen": [*data["seen"], "convert"]}

    def after_convert(self, data: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("after_convert", data["id"]))
        return {**data, "seen": [*data["seen"], "after"]}

    def process_file_saving(self, final_data: dict[str, Any], *args: Any) -> bool:
        self.calls.append(("process_file_saving", final_data["id"], final_data["seen"], args))
        return super().process_file_saving(final_data, *args)

    def additional_file_saving(self, unique_export_path: Path) -> None:
        self.calls.append(("additional_file_saving", unique_export_path))


def test_hooks_run_per_item_in_the_seeds_order_then_additional_once(tmp_path: Path) -> None:
    items = _items(tmp_path, ["a.jpg", "b.jpg", "c.jpg"])
    exporter = RecordingExporter(ExportRun(progress=False), items, tmp_path / "out", name="run")
    result = exporter.export()

    names = [c[0] for c in exporter.calls]
    per_item = ["before_convert", "convert_data", "after_convert", "process_file_saving"]
    assert names == per_item * 3 + ["additional_file_saving"]
    assert [c[1] for c in exporter.calls if c[0] == "before_convert"] == [1, 2, 3]
    # each hook received what the previous one returned
    saving = [c for c in exporter.calls if c[0] == "process_file_saving"]
    assert all(c[2] == ["before", "convert", "after"] for c in saving)
    # the Synapse SDK's positional arguments, with ``no`` counting from 1
    path, flag, err_json, err_orig, orig_rec, data_rec, _ = saving[0][3]
    assert path == Path(result["export_path"]) and flag is True
    assert err_json == [] and err_orig == []
    assert isinstance(orig_rec, MetricsRecord) and isinstance(data_rec, MetricsRecord)
    assert [c[3][-1] for c in saving] == [1, 2, 3]
    assert exporter.calls[-1][1] == path
    params = list(inspect.signature(BaseExporter.process_file_saving).parameters)
    assert params == [
        "self", "final_data", "unique_export_path", "save_original_file_flag",
        "errors_json_file_list", "errors_original_file_list", "original_file_metrics_record",
        "data_file_metrics_record", "no",
    ]  # fmt: skip


def test_default_layout_names_and_unique_directory(tmp_path: Path) -> None:
    items = _items(tmp_path, ["a.jpg", "a.png", "b.jpg"])
    run = ExportRun(progress=False)
    exporter = BaseExporter(run, items, tmp_path / "out", name="scenes")
    out = Path(exporter.export()["export_path"])

    assert out == tmp_path / "out" / "scenes"
    assert sorted(p.name for p in (out / "labels").iterdir()) == ["a.json", "a__2.json", "b.json"]
    assert json.loads((out / "labels" / "a__2.json").read_text()) == items[1]["data"]
    origin = sorted(p.name for p in (out / "origin_files").iterdir())
    assert origin == ["a.jpg", "a__2.png", "b.jpg"]
    assert (out / "origin_files" / "a__2.png").read_bytes() == b"pixels of a.png"
    assert exporter.filename_collisions == [
        {"name": "a.png", "item_id": 2, "renamed_to": "a__2.png"}
    ]
    assert exporter.exported == 3 and not (out / "error_file_list.json").exists()
    assert run.metrics["data_file"] == {"stand_by": 0, "success": 3, "failed": 0}
    assert run.metrics["original_file"]["success"] == 3

    again = BaseExporter(ExportRun(progress=False), items, tmp_path / "out", name="scenes")
    assert Path(again.export()["export_path"]).name == "scenes(1)"


def test_returning_false_skips_and_failures_are_listed(tmp_path: Path, demo: Any) -> None:
    items = _items(tmp_path, ["ok.jpg", "null.jpg", "bad.jpg", "gone.jpg"])
    items[1]["data"] = None  # the Synapse SDK's NULL_DATA case: no JSON, listed as an error
    items[2]["data"] = "not a document"
    del items[3]["files"]["path"]
    items[3]["files"]["url"] = f"{demo.url}media/data_file/999/nosig/gone.jpg"

    class Strict(BaseExporter):
        def convert_data(self, data: dict[str, Any]) -> dict[str, Any]:
            if not isinstance(data["data"], dict | type(None)):
                raise ValueError(f"item {data['id']}: data is not a DM document")
            return data

    stream = OriginalsPrefetcher(items, tmp_path / "cache", workers=2)
    exporter = Strict(ExportRun(progress=False), stream, tmp_path / "out", count=4)
    out = Path(exporter.export()["export_path"])

    assert exporter.exported == 2  # ok.jpg, and gone.jpg whose JSON is still written
    assert [(e["id"], e["stage"]) for e in exporter.item_errors] == [(2, "save"), (3, "convert")]
    assert "data is Null" in exporter.item_errors[0]["error"]
    assert "not a DM document" in exporter.item_errors[1]["error"]
    assert (out / "labels" / "gone.json").exists()
    assert [f["id"] for f in exporter.original_failures] == [4]
    assert "404" in exporter.original_failures[0]["error"]
    errors = json.loads((out / "error_file_list.json").read_text())
    assert [e[0] for e in errors["json_file_name"]] == ["null.json", "bad.json"]
    assert [e[0] for e in errors["origin_file_name"]] == ["gone.jpg"]


def test_run_forwards_progress_and_metrics(tmp_path: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    run = ExportRun(progress=lambda cur, tot, cat: seen.append((cat, cur, tot)))
    BaseExporter(run, _items(tmp_path, ["a.jpg", "b.jpg"]), tmp_path, name="p").export()
    assert seen[0] == ("dataset_conversion", 0, 2)
    assert seen[-1] == ("dataset_conversion", 2, 2)
    assert "Starting export process." in run.messages


@pytest.mark.parametrize("bad", ["oops", 3])
def test_progress_must_be_callable(bad: Any) -> None:
    with pytest.raises(ValueError, match="progress"):
        ExportRun(progress=bad)
