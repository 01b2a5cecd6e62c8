"""The built-in exporters: DM (as stored, or v1/v2), COCO, Pascal VOC and YOLO.

Each is a :class:`~synapse_nb.plugins.export.base.BaseExporter` whose ``convert_data``
converts one item with :mod:`synapse_nb.converters` and whose ``process_file_saving`` writes
that item's files; aggregate files are written in ``additional_file_saving``. The format
exporters fix one run-wide class order before the first item (configured classes first,
then the others lexically), so class ids agree across items; every annotation the target
format cannot hold is in :attr:`BaseExporter.audit`.

Layouts (``<split>`` levels appear only when items have a split):

=======  ==================================================================================
dm       ``labels/[<split>/]<stem>.json`` and ``origin_files/[<split>/]<name>``
coco     ``[<split>/]{instances,person_keypoints,stuff}.json`` and ``[<split>/]images/``
voc      ``JPEGImages/``, ``Annotations/``, ``ImageSets/{Main,Segmentation}/<split>.txt``,
         ``SegmentationClass/``, ``SegmentationObject/``, ``labelmap.txt``
yolo     ``<task>/{dataset.yaml,classes.txt}``, ``<task>/images/[<split>/]``,
         ``<task>/labels/[<split>/]<stem>.txt`` for each task of ``detect``, ``segment``,
         ``pose``; ``export_outcomes.json``, ``filename_collisions.json``
=======  ==================================================================================

Example:
    >>> sorted(EXPORTERS)
    ['coco', 'dm', 'voc', 'yolo']

    The same completed tasks in each format (labels only; ``save_original_file=True``, the
    default, also places the images):

    >>> from synapse_nb.plugins import export
    >>> project = backend.list_projects()["results"][0]["id"]
    >>> for fmt in ("dm", "coco", "voc", "yolo"):
    ...     report = export(backend, "task", fmt, tmp, save_original_file=False, progress=False,
    ...                     params={"project": project, "status": "completed"})
    ...     top = sorted(p.name for p in report.path.iterdir() if not p.name.startswith("export"))
    ...     print(fmt, report.exported > 0, top[:4])
    dm True ['labels']
    coco True ['images', 'instances.json', 'person_keypoints.json', 'stuff.json']
    voc True ['Annotations', 'ImageSets', 'JPEGImages', 'SegmentationClass']
    yolo True ['detect', 'filename_collisions.json', 'pose', 'segment']
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from synapse_nb.converters import (
    COCO_ROLES,
    YOLO_TASKS,
    collect_classes,
    dm_v1_to_v2,
    dm_v2_to_v1,
    resolve_class_order,
    to_coco,
    to_voc,
    to_yolo,
    voc_palette,
    write_coco,
    write_voc,
    write_yolo,
)
from synapse_nb.plugins.export._files import write_text
from synapse_nb.plugins.export.base import (
    BaseExporter,
    ExportStatus,
    MetricsRecord,
    _stem_suffix,
)

__all__ = [
    "EXPORTERS",
    "COCOExporter",
    "DMExporter",
    "FormatExporter",
    "VOCExporter",
    "YOLOExporter",
]

SEGMENTATION_MODES = ("instance", "semantic", "exclude")


def _is_dm_v1(doc: Any) -> bool:
    return isinstance(doc, Mapping) and "annotations" in doc and "annotationsData" in doc


class DMExporter(BaseExporter):
    """DM JSON per item (Synapse SDK default layout); ``dm_version="v1"|"v2"`` converts documents.

    Params:
        dm_version: None (as stored), ``"v2"`` (v1 documents are converted) or ``"v1"``
            (v2 documents are converted; group membership without meta is audited).

    Example:
        >>> DMExporter(None, [], ".", dm_version="v2").params["dm_version"]
        'v2'
    """

    def convert_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """Convert the item's document to the requested DM version.

        Example:
            >>> DMExporter(None, [], ".").convert_data({"id": 1, "data": {}})["data"]
            {}
        """
        version = self.params.get("dm_version")
        doc = data.get("data")
        if version == "v2" and isinstance(doc, Mapping) and _is_dm_v1(doc):
            converted, audit = dm_v1_to_v2(doc, item_id=data.get("id"))
            self.audit.extend(audit)
            return {**data, "data": converted["annotation_data"]}
        if version == "v1" and isinstance(doc, Mapping) and doc and not _is_dm_v1(doc):
            converted, audit = dm_v2_to_v1(doc)
            self.audit.extend(audit)
            return {**data, "data": converted}
        return data


class FormatExporter(BaseExporter):
    """Shared part of the COCO/VOC/YOLO exporters: class order, items, originals.

    Params:
        class_order: The run-wide class list (computed from all items when absent).
        classes: Class configuration used to compute it (see
            :func:`~synapse_nb.converters.resolve_class_order`).
        segmentation_mode: ``"instance"`` (default), ``"semantic"`` or ``"exclude"``.

    Example:
        >>> FormatExporter(None, [], ".").segmentation_mode
        'instance'
    """

    def __init__(self, run: Any, export_items: Iterable[Any], path_root: Any, **params: Any):
        super().__init__(run, export_items, path_root, **params)
        self.class_order: list[str] | None = params.get("class_order")
        self.segmentation_mode = params.get("segmentation_mode") or "instance"
        if self.segmentation_mode not in SEGMENTATION_MODES:
            raise ValueError(
                f"segmentation_mode must be one of {SEGMENTATION_MODES}, "
                f"got {self.segmentation_mode!r}"
            )

    def export(
        self, export_items: Iterable[Any] | None = None, results: Any = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Fix the class order (reading all items when not given), then export.

        Example:
            >>> from synapse_nb.plugins.export.base import ExportRun
            >>> result = YOLOExporter(ExportRun(progress=False), [], tmp).export()
            >>> sorted(p.name for p in Path(result["export_path"]).iterdir())[:3]
            ['detect', 'export_outcomes.json', 'filename_collisions.json']
        """
        items = export_items if export_items is not None else self.export_items
        if self.class_order is None:
            items = list(items)
            documents = [
                {"id": n, "data": i.get("data")}
                for n, i in enumerate(items)
                if isinstance(i.get("data"), Mapping)
            ]
            self.class_order = resolve_class_order(
                collect_classes(documents), self.params.get("classes"), self.audit
            )
        return super().export(items, results, **kwargs)

    def image_item(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The converter input of one export item.

        Example:
            >>> FormatExporter(None, [], ".").image_item({"id": 1, "data": {}, "width": 4,
            ...     "height": 3, "export_name": "a.jpg"})["file_name"]
            'a.jpg'
        """
        return {
            "id": data["id"],
            "data": data.get("data"),
            "width": data.get("width"),
            "height": data.get("height"),
            "file_name": self.export_file_name(data),
            "split": data.get("split"),
        }

    def convert_one(self, item: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """Run the format's converter on one item; returns ``(result, audit)``.

        Example:
            >>> result, audit = YOLOExporter(None, [], ".", class_order=["car"]).convert_one(
            ...     {"id": 1, "data": {}, "width": 4, "height": 3, "file_name": "a.jpg"})
            >>> result["detect"]["labels"]
            {'a': ''}
        """
        raise NotImplementedError

    def convert_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """Convert one item; the result is kept under ``"converted"``.

        Example:
            >>> COCOExporter(None, [], ".", class_order=["car"]).convert_data(
            ...     {"id": 1, "data": {}, "width": 4, "height": 3, "export_name": "a.jpg"}
            ... )["converted"]["instances"]["images"][0]["file_name"]
            'images/a.jpg'
        """
        result, audit = self.convert_one(self.image_item(data))
        self.audit.extend(audit)
        return {**data, "converted": result}

    def stem(self, data: Mapping[str, Any]) -> str:
        """The file stem of an item's outputs.

        Example:
            >>> FormatExporter(None, [], ".").stem({"export_name": "a__3.jpg"})
            'a__3'
        """
        return _stem_suffix(self.export_file_name(data))[0]

    def save_original(
        self,
        data: Mapping[str, Any],
        directory: Path,
        flag: bool,
        errors: list,
        record: MetricsRecord,
    ) -> Path | None:
        """Save the original into ``directory`` when requested; its path on success."""
        if not flag:
            return None
        status = self.save_original_file(data, directory, errors)
        self.count_status(status, record, "original_file")
        return directory / self.export_file_name(data) if status == ExportStatus.SUCCESS else None


class COCOExporter(FormatExporter):
    """COCO ``instances``/``person_keypoints``/``stuff`` documents and ``images/``.

    Example:
        >>> COCOExporter(None, [], ".").json_dir_name
        'labels'
    """

    def __init__(self, run: Any, export_items: Iterable[Any], path_root: Any, **params: Any):
        super().__init__(run, export_items, path_root, **params)
        self._documents: dict[str, dict[str, dict[str, Any]]] = {}

    def setup_output_directories(
        self, unique_export_path: Path, save_original_file_flag: bool
    ) -> dict[str, Path]:
        """Nothing up front: each split's directory is made with its first item.

        Example:
            >>> COCOExporter(None, [], ".").setup_output_directories(Path("out"), True)
            {}
        """
        return {}

    def convert_one(self, item: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """The three COCO documents of one item (see :func:`~synapse_nb.converters.to_coco`).

        Example:
            >>> coco, _ = COCOExporter(None, [], ".", class_order=[]).convert_one(
            ...     {"id": 1, "data": {}, "width": 4, "height": 3})
            >>> coco["instances"]["images"][0]["id"]
            1
        """
        return to_coco([item], classes=self.class_order, segmentation_mode=self.segmentation_mode)

    def process_file_saving(
        self,
        final_data: dict[str, Any],
        unique_export_path: Path,
        save_original_file_flag: bool,
        errors_json_file_list: list,
        errors_original_file_list: list,
        original_file_metrics_record: MetricsRecord,
        data_file_metrics_record: MetricsRecord,
        no: int,
    ) -> bool:
        """Copy the original into ``images/`` and add the item to its split's documents."""
        if save_original_file_flag:
            self.save_original(
                final_data,
                self._output_dir(unique_export_path, item=final_data) / "images",
                save_original_file_flag,
                errors_original_file_list,
                original_file_metrics_record,
            )
        documents = self._documents.setdefault(final_data.get("split") or "", {})
        for role, part in final_data["converted"].items():
            target = documents.setdefault(role, {**part, "images": [], "annotations": []})
            image_id = len(target["images"]) + 1
            target["images"].extend({**image, "id": image_id} for image in part["images"])
            target["annotations"].extend(
                {**ann, "image_id": image_id} for ann in part["annotations"]
            )
        return self.count_status(ExportStatus.SUCCESS, data_file_metrics_record, "data_file")

    def additional_file_saving(self, unique_export_path: Path) -> None:
        """Write each split's three documents (annotation ids numbered from 1 per role)."""
        if not self._documents:
            empty, _ = to_coco([], classes=self.class_order)
            self._documents[""] = empty
        for split, documents in self._documents.items():
            for role in COCO_ROLES:
                for n, ann in enumerate(documents[role]["annotations"], start=1):
                    ann["id"] = n
            write_coco(documents, unique_export_path / split if split else unique_export_path)


class VOCExporter(FormatExporter):
    """Pascal VOC: boxes as XML, polygons and masks as palette PNGs, image sets per split.

    Items without a split are assigned train/val by ``sha256(item id) % 100 < 80``.

    Example:
        >>> VOCExporter(None, [], ".").origin_dir_name
        'JPEGImages'
    """

    origin_dir_name = "JPEGImages"

    def __init__(self, run: Any, export_items: Iterable[Any], path_root: Any, **params: Any):
        super().__init__(run, export_items, path_root, **params)
        self._image_sets: dict[str, dict[str, list[str]]] = {"Main": {}, "Segmentation": {}}
        self._palette = voc_palette()

    def setup_output_directories(
        self, unique_export_path: Path, save_original_file_flag: bool
    ) -> dict[str, Path]:
        """Create the VOC directories.

        Example:
            >>> sorted(VOCExporter(None, [], ".").setup_output_directories(
            ...     tmp, True))
            ['Annotations', 'JPEGImages', 'SegmentationClass', 'SegmentationObject']
        """
        paths = {
            name: unique_export_path / name
            for name in ("JPEGImages", "Annotations", "SegmentationClass", "SegmentationObject")
        }
        for path in paths.values():
            path.mkdir(parents=True, exist_ok=True)
        return paths

    def convert_one(self, item: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """The VOC XML and masks of one item, with its split when it has one.

        Example:
            >>> VOCExporter(None, [], ".", class_order=[]).convert_one(
            ...     {"id": 1, "data": {}, "width": 4, "height": 3, "split": "val"}
            ... )[0]["image_sets"]["Main"]
            {'val': ['1']}
        """
        split = item.get("split")
        return to_voc(
            [item],
            classes=self.class_order,
            segmentation_mode=self.segmentation_mode,
            splits={item["id"]: split} if split else None,
        )

    def process_file_saving(
        self,
        final_data: dict[str, Any],
        unique_export_path: Path,
        save_original_file_flag: bool,
        errors_json_file_list: list,
        errors_original_file_list: list,
        original_file_metrics_record: MetricsRecord,
        data_file_metrics_record: MetricsRecord,
        no: int,
    ) -> bool:
        """Copy the original into ``JPEGImages/``; write the XML and segmentation PNGs."""
        self.save_original(
            final_data,
            self._output_dir(unique_export_path, "JPEGImages"),
            save_original_file_flag,
            errors_original_file_list,
            original_file_metrics_record,
        )
        voc = final_data["converted"]
        try:
            annotations = self._directories.ensure(unique_export_path, "Annotations")
            for stem, text in voc["annotations"].items():
                write_text(os.path.join(annotations, f"{stem}.xml"), text)
            for folder, key in (
                ("SegmentationClass", "segmentation_class"),
                ("SegmentationObject", "segmentation_object"),
            ):
                for stem, array in voc[key].items():
                    image = Image.fromarray(np.asarray(array, dtype=np.uint8))
                    image.putpalette(self._palette)
                    image.save(unique_export_path / folder / f"{stem}.png")
        except OSError as exc:
            errors_json_file_list.append([f"{self.stem(final_data)}.xml", str(exc)])
            return self.count_status(ExportStatus.FAILED, data_file_metrics_record, "data_file")
        for kind, sets in voc["image_sets"].items():
            for split, stems in sets.items():
                self._image_sets[kind].setdefault(split, []).extend(stems)
        return self.count_status(ExportStatus.SUCCESS, data_file_metrics_record, "data_file")

    def additional_file_saving(self, unique_export_path: Path) -> None:
        """Write the image sets (per split and ``trainval``) and ``labelmap.txt``."""
        aggregate = {
            "labelmap": ["background", *(self.class_order or [])],
            "annotations": {},
            "segmentation_class": {},
            "segmentation_object": {},
            "image_sets": self._image_sets,
        }
        write_voc(aggregate, unique_export_path)


class YOLOExporter(FormatExporter):
    """YOLO detect/segment/pose label files; ``dataset.yaml`` and ``classes.txt`` per task.

    Params:
        tasks: Subset of ``("detect", "segment", "pose")`` (default: all three).

    Example:
        >>> YOLOExporter(None, [], ".", tasks=["detect"]).tasks
        ('detect',)
    """

    def __init__(self, run: Any, export_items: Iterable[Any], path_root: Any, **params: Any):
        super().__init__(run, export_items, path_root, **params)
        self.tasks = tuple(params.get("tasks") or YOLO_TASKS)
        self._paths: dict[tuple[Path, str, Any], tuple[Path, Path]] = {}
        unknown = [t for t in self.tasks if t not in YOLO_TASKS]
        if unknown:
            raise ValueError(f"tasks must be a subset of {YOLO_TASKS}, got {list(self.tasks)}")

    def setup_output_directories(
        self, unique_export_path: Path, save_original_file_flag: bool
    ) -> dict[str, Path]:
        """``<task>/images`` and ``<task>/labels`` for each task.

        Example:
            >>> import tempfile
            >>> sorted(YOLOExporter(None, [], ".", tasks=["detect"]).setup_output_directories(
            ...     Path(tempfile.mkdtemp()), True))
            ['detect_images', 'detect_labels']
        """
        paths = {}
        for task in self.tasks:
            for sub in ("images", "labels"):
                paths[f"{task}_{sub}"] = unique_export_path / task / sub
                paths[f"{task}_{sub}"].mkdir(parents=True, exist_ok=True)
        return paths

    def convert_one(self, item: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        """The label text of one item for each selected task.

        Example:
            >>> YOLOExporter(None, [], ".", class_order=[], tasks=["pose"]).convert_one(
            ...     {"id": 1, "data": {}, "width": 4, "height": 3, "file_name": "a.jpg"}
            ... )[0]["pose"]["labels"]
            {'a': ''}
        """
        return to_yolo(
            [item],
            classes=self.class_order,
            segmentation_mode=self.segmentation_mode,
            tasks=self.tasks,
        )

    def process_file_saving(
        self,
        final_data: dict[str, Any],
        unique_export_path: Path,
        save_original_file_flag: bool,
        errors_json_file_list: list,
        errors_original_file_list: list,
        original_file_metrics_record: MetricsRecord,
        data_file_metrics_record: MetricsRecord,
        no: int,
    ) -> bool:
        """Write the item's label file in every task; place its image in every task.

        The original is saved once (first task) and hard-linked into the others.
        """
        result = final_data["converted"]
        stem = self.stem(final_data)
        saved: Path | None = None
        try:
            for n, task in enumerate(self.tasks):
                images, labels = self._task_dirs(unique_export_path, task, final_data)
                if n == 0:
                    saved = self.save_original(
                        final_data,
                        images,
                        save_original_file_flag,
                        errors_original_file_list,
                        original_file_metrics_record,
                    )
                elif saved is not None:
                    self._place(saved, images, saved.name)
                label_dir = self._directories.ensure(labels)
                write_text(os.path.join(label_dir, f"{stem}.txt"), result[task]["labels"][stem])
        except OSError as exc:
            errors_json_file_list.append([f"{stem}.txt", str(exc)])
            return self.count_status(ExportStatus.FAILED, data_file_metrics_record, "data_file")
        return self.count_status(ExportStatus.SUCCESS, data_file_metrics_record, "data_file")

    def _task_dirs(self, root: Path, task: str, item: Mapping[str, Any]) -> tuple[Path, Path]:
        """A task's ``images`` and ``labels`` directories for an item (by its split)."""
        key = (root, task, item.get("split"))
        known = self._paths.get(key)
        if known is None or type(self).split_dir is not BaseExporter.split_dir:
            task_dir = root / task
            known = self._paths[key] = (
                self.split_dir(task_dir / "images", item),
                self.split_dir(task_dir / "labels", item),
            )
        return known

    def dataset_yaml(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """A task's ``dataset.yaml`` content, pointing at the split folders when there are any.

        Example:
            >>> YOLOExporter(None, [], ".").dataset_yaml({"train": "images", "nc": 1})
            {'train': 'images', 'nc': 1}
        """
        spec = dict(spec)
        if self.split_counts:
            present = [s for s in ("train", "val", "test") if s in self.split_counts]
            spec["train"] = f"images/{present[0] if 'train' not in present else 'train'}"
            spec["val"] = f"images/{'val' if 'val' in present else present[0]}"
            if "test" in present:
                spec["test"] = "images/test"
        return spec

    def additional_file_saving(self, unique_export_path: Path) -> None:
        """Write ``dataset.yaml`` and ``classes.txt`` per task, and the audit outcomes."""
        template, _ = to_yolo([], classes=self.class_order, tasks=self.tasks)
        aggregate: dict[str, Any] = {"filename_collisions": self.filename_collisions}
        for task in self.tasks:
            aggregate[task] = {
                "names": template[task]["names"],
                "labels": {},
                "dataset_yaml": self.dataset_yaml(template[task]["dataset_yaml"]),
            }
        write_yolo(aggregate, unique_export_path, self.audit)


#: Built-in exporters by format name.
EXPORTERS: dict[str, type[BaseExporter]] = {
    "dm": DMExporter,
    "coco": COCOExporter,
    "voc": VOCExporter,
    "yolo": YOLOExporter,
}
