"""``df.synapse.health()``: the dataset-health signals as columns of a task frame.

:func:`frame_health` runs the checks of :mod:`synapse_nb.health` on the rows of a task,
assignment or ground-truth frame:

- each data unit's image is downloaded once through the client's one transport and download
  cache (concurrently, with a progress bar), then measured by
  :func:`~synapse_nb.health.check_images` (scores cached by content hash, so a re-run measures
  only new or changed images);
- the annotations view (``df.synapse.annotations()``) is checked by
  :func:`~synapse_nb.health.check_annotations` against the project's configuration (its
  classes and declared attributes).

The result's ``frame`` is the input frame plus typed signal columns (``<issue>_score``
``Float64``, ``is_<issue>`` ``bool``, duplicate-cluster columns, per row the lists
``image_issues`` and ``annotation_issues``, and ``flagged_annotations``, ``{annotation id:
issues}``, which the annotation preview draws in its flag colour); ``annotations`` is the
annotations view with the per-annotation flags joined on; ``summary`` counts each issue.

Which annotations are judged:

- geometry, duplicate and class rules: the tools in ``tools`` (boxes and polygons by
  default; keypoints are judged through their box, lines have no area);
- attribute rules: the tools in ``attribute_tools`` (boxes): an outline drawn next to a box
  carries no attributes of its own;
- a skeleton (keypoint group) belongs to the box its ``group`` annotation lists as a member;
  when no group links a box to it, to the box of its class on the same image that holds most
  of its joints (see :mod:`~synapse_nb.frames.health_skeletons`); its *visible* joints
  (visibility 2) must lie inside that box (an occluded joint can be hidden behind another
  object, outside the box of the visible pixels).

Example:
    >>> tasks = client.list_tasks({"project": 1}, list_all=True)
    >>> report = tasks.synapse.health(progress=False)
    >>> bool(report.frame["is_exact_duplicate"].any()), report.summary.columns.tolist()
    (True, ['level', 'issue', 'count', 'share'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from synapse_nb.exceptions import ClientError, InvalidInputError
from synapse_nb.frames.build import STRING, frame_meta
from synapse_nb.frames.client import Client
from synapse_nb.frames.health_label_errors import (
    evaluations_of,
    join_label_errors,
    label_error_summary,
)
from synapse_nb.frames.health_skeletons import skeleton_joints
from synapse_nb.frames.schemas import IMAGE_TOOLS
from synapse_nb.health import (
    ANNOTATION_ISSUES,
    IMAGE_ISSUES,
    AnnotationHealth,
    AnnotationThresholds,
    HealthCache,
    HealthInputError,
    ImageHealth,
    ImageThresholds,
    LabelConfig,
    check_annotations,
    check_images,
)
from synapse_nb.health.label_errors import LABEL_ERROR_KINDS, LabelErrorThresholds, label_errors

__all__ = ["FrameHealth", "frame_health", "health_cache"]

#: Tools whose annotations the geometry, duplicate and class rules judge, by default.
CHECKED_TOOLS = ("bounding_box", "polygon")
#: Tools whose annotations the attribute rules judge, by default.
ATTRIBUTE_TOOLS = ("bounding_box",)
#: Image columns joined onto the frame (besides the issue scores and flags).
_IMAGE_EXTRA = ("near_cluster", "cluster_size", "cluster_representative", "near_distance",
                "leak_distance", "phash")
_ANNOTATION_EXTRA = ("duplicate_of", "unknown_attributes", "missing_attributes")
_CACHES: dict[str, HealthCache] = {}
_T = TypeVar("_T", ImageThresholds, AnnotationThresholds)


@dataclass(frozen=True)
class FrameHealth:
    """What :func:`frame_health` returns.

    Attributes:
        frame: The input rows with the signal columns (see the module docstring).
        annotations: The annotations view of the rows with the per-annotation flags.
        summary: Counts per issue: ``level`` (image or annotation), ``issue``, ``count``,
            ``share`` (of the images or of the judged annotations).
        images: The image check's result (pairs, clusters, thresholds), keyed by data unit.
        annotation_health: The annotation check's result.
        paths: The downloaded image of each data unit (a file in the client's cache).
        label_errors: The label-error candidates (:func:`synapse_nb.health.label_errors`)
            when ``predictions`` were given, else None.
    """

    frame: pd.DataFrame
    annotations: pd.DataFrame
    summary: pd.DataFrame
    images: ImageHealth
    annotation_health: AnnotationHealth
    paths: Mapping[Any, str]
    label_errors: pd.DataFrame | None = None

    def plot_issues(self) -> Any:
        """A bar chart of the issue counts (matplotlib figure).

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> type(tasks.head(20).synapse.health(progress=False).plot_issues()).__name__
            'Figure'
        """
        from synapse_nb.health.plots import plot_issue_counts

        return plot_issue_counts(self.summary)

    def plot_duplicates(self, **options: Any) -> Any:
        """The duplicate clusters as thumbnail strips, the representative first (a figure).

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> type(tasks.head(20).synapse.health(progress=False).plot_duplicates()).__name__
            'Figure'
        """
        from synapse_nb.health.plots import plot_duplicate_clusters

        return plot_duplicate_clusters(self.images, self.paths, **options)

    def clusters(self) -> pd.DataFrame:
        """Duplicate clusters with the rows (frame ids) of each member.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> c = tasks.synapse.health(progress=False).clusters()
            >>> c.columns.tolist(), bool((c["size"] >= 2).all())
            (['cluster', 'representative', 'size', 'members', 'rows'], True)
        """
        clusters = self.images.clusters()
        units = self.frame["data_unit_id"].astype(object)
        rows_of: dict[Any, list[Any]] = {}
        for pk, unit in zip(self.frame.index.tolist(), units.tolist(), strict=True):
            rows_of.setdefault(unit, []).append(pk)
        clusters["rows"] = [[pk for m in members for pk in rows_of.get(m, [])]
                            for members in clusters["members"]]
        return clusters

    def cluster_rows(self, cluster: int) -> pd.DataFrame:
        """The frame rows of one duplicate cluster, its representative first.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> report = tasks.synapse.health(progress=False)
            >>> report.cluster_rows(0)["file_name"].tolist()
            ['scene_0020.jpg', 'scene_0060.jpg']
        """
        clusters = self.clusters().set_index("cluster")
        if (isinstance(cluster, bool | np.bool_) or not isinstance(cluster, int | np.integer)
                or cluster not in clusters.index):
            raise InvalidInputError("cluster", cluster,
                                    f"must be one of {clusters.index.tolist()}",
                                    method="cluster_rows")
        return self.frame.loc[clusters.at[int(cluster), "rows"]]

    def preview_cluster(self, cluster: int, **options: Any) -> Any:
        """The annotation preview's gallery of one duplicate cluster, representative first.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> gallery = tasks.synapse.health(progress=False).preview_cluster(1)
            >>> gallery.mode, gallery.row_count
            ('gallery', 2)
        """
        return self.cluster_rows(cluster).synapse.preview(**{"mode": "gallery", **options})

    def flagged(self, issue: str) -> pd.DataFrame:
        """The rows of the frame with an image or annotation issue.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> report = tasks.synapse.health(progress=False)
            >>> report.flagged("dark")["file_name"].tolist()
            ['scene_0012.jpg']
        """
        known = [*IMAGE_ISSUES, *ANNOTATION_ISSUES]
        if "label_error_kinds" in self.frame:
            known += list(LABEL_ERROR_KINDS)
        if not isinstance(issue, str) or issue not in known:
            raise InvalidInputError("issue", issue, f"must be one of {known}", method="flagged")
        if issue in IMAGE_ISSUES:
            return self.frame[self.frame[IMAGE_ISSUES[issue]]]
        if issue in ANNOTATION_ISSUES:
            hit = self.frame["annotation_issues"].map(lambda issues: issue in issues)
            return self.frame[hit.astype(bool)]
        if issue in LABEL_ERROR_KINDS and "label_error_kinds" in self.frame:
            hit = self.frame["label_error_kinds"].map(lambda kinds: issue in kinds)
            return self.frame[hit.astype(bool)]
        raise InvalidInputError("issue", issue, f"must be one of {known}", method="flagged")


def health_cache(client: Client) -> HealthCache:
    """The image-measure cache of a client: ``<client cache_dir>/health``, one per process.

    Example:
        >>> health_cache(client) is health_cache(client)
        True
    """
    key = str(Path(client.cache_dir) / "health")
    if key not in _CACHES:
        _CACHES[key] = HealthCache(key)
    return _CACHES[key]


def _download_all(live: Client, urls: Mapping[Any, str], progress: bool) -> dict[Any, Any]:
    """Local paths of the images (None where the download failed), concurrently."""
    from tqdm.auto import tqdm  # lazy: a widget bar in Jupyter, text elsewhere

    def one(url: str) -> Path | None:
        try:
            return live.raw.media_path(url)
        except (ClientError, ValueError, OSError):
            return None

    keys = list(urls)
    workers = max(1, min(int(live.max_workers or 4), 16))
    with ThreadPoolExecutor(max_workers=workers) as pool, tqdm(
        total=len(keys), desc="images", unit=" images", disable=not progress
    ) as bar:
        paths = {}
        for key, path in zip(keys, pool.map(one, [urls[k] for k in keys]), strict=True):
            paths[key] = path
            bar.update(1)
    return paths


def _unit_urls(frame: pd.DataFrame) -> dict[Any, str]:
    if "data_unit_id" not in frame.columns or "file_url" not in frame.columns:
        raise InvalidInputError("frame", list(frame.columns)[:8],
                                "needs data_unit_id and file_url columns (a task, assignment "
                                "or ground-truth event frame)", method="health")
    urls: dict[Any, str] = {}
    for unit, url in zip(frame["data_unit_id"].tolist(), frame["file_url"].tolist(), strict=True):
        if unit is not None and not pd.isna(unit) and isinstance(url, str) and url:
            urls.setdefault(int(unit), url)
    return urls


def _unit_splits(frame: pd.DataFrame, split: str | None) -> dict[Any, Any] | None:
    if split is None:
        return None
    if split not in frame.columns:
        raise InvalidInputError("split", split, "must be a column of the frame (e.g. from "
                                "df.synapse.split())", method="health")
    out: dict[Any, Any] = {}
    for unit, label in zip(frame["data_unit_id"].tolist(), frame[split].tolist(), strict=True):
        if unit is not None and not pd.isna(unit) and label is not None and not pd.isna(label):
            out.setdefault(int(unit), str(label))
    return out


def _join_images(frame: pd.DataFrame, images: pd.DataFrame) -> None:
    units = frame["data_unit_id"].astype("Int64")
    table = images.copy()
    table.index = pd.Index([int(k) for k in table.index], dtype="Int64")
    position = table.index.get_indexer(units.fillna(-1).astype("int64"))
    found = position >= 0
    columns = [c for c in table.columns if c.endswith("_score")]
    columns += list(IMAGE_ISSUES.values()) + list(_IMAGE_EXTRA)
    for name in columns:
        source = table[name]
        if source.dtype == bool:
            values = np.zeros(len(frame), dtype=bool)
            values[found] = source.to_numpy()[position[found]]
            frame[name] = values
        elif not len(table):  # no image was checked at all
            picked = pd.Series([None] * len(frame), dtype=object)
        else:
            picked = source.iloc[np.where(found, position, 0)].reset_index(drop=True)
            picked = picked.where(pd.Series(found), None)
            dtype = "Int64" if name == "cluster_representative" else source.dtype
            frame[name] = pd.array(picked.tolist(), dtype=dtype)
    frame["image_issues"] = _issue_lists(frame, IMAGE_ISSUES)


def _issue_lists(frame: pd.DataFrame, issues: Mapping[str, str]) -> list[list[str]]:
    """Per row, the names of the issues whose flag column is set."""
    flags = frame[list(issues.values())].to_numpy(dtype=bool)
    names = list(issues)
    return [[names[k] for k in np.flatnonzero(row)] for row in flags]


def _check_rows(ann: pd.DataFrame, owner: str, tools: tuple[str, ...],
                attribute_tools: tuple[str, ...]) -> pd.DataFrame:
    rows = ann[ann["tool"].isin(tools).fillna(False)]
    judged = pd.DataFrame({
        "annotation_id": rows["annotation_id"].astype(object),
        "data_unit_id": rows[owner].astype(object),
        "class_name": rows["class_name"].astype(object),
        "x": rows["x"].astype("float64"), "y": rows["y"].astype("float64"),
        "w": rows["w"].astype("float64"), "h": rows["h"].astype("float64"),
    }, index=rows.index)
    judged["polygon"] = [g if t == "polygon" else None
                         for t, g in zip(rows["tool"], rows["geometry"], strict=True)]
    judged["attributes"] = [a if t in attribute_tools and isinstance(a, Mapping) else {}
                            for t, a in zip(rows["tool"], rows["attributes"], strict=True)]
    judged["keypoints"] = skeleton_joints(ann, owner, rows)
    return judged


def _config(live: Client, frame: pd.DataFrame, config: Any) -> LabelConfig | None:
    if isinstance(config, LabelConfig):
        return config
    if config is not None:
        if not isinstance(config, Mapping):
            raise InvalidInputError("config", config, "must be a LabelConfig or a project "
                                    "configuration dict with a 'classes' list", method="health")
        try:
            return LabelConfig.from_configuration(config)
        except HealthInputError as err:  # name the argument the caller passed
            field = "config" if err.field == "configuration" else f"config.{err.field}"
            raise InvalidInputError(field, err.value, err.problem,
                                    method="health") from None
    projects = frame["project"].dropna().unique().tolist() if "project" in frame else []
    if len(projects) != 1:
        return None
    configuration = live.get_project(int(projects[0])).get("configuration") or {}
    if not isinstance(configuration.get("classes"), list):
        return None
    return LabelConfig.from_configuration(configuration)


def _join_annotations(ann: pd.DataFrame, result: pd.DataFrame, attribute_tools: tuple[str, ...]
                      ) -> pd.DataFrame:
    out = ann.copy()
    no_attrs = ~ann.loc[result.index, "tool"].isin(attribute_tools).fillna(False).to_numpy()
    for name in result.columns:
        if name in ("annotation_id", "data_unit_id", "class_name"):
            continue
        column = result[name]
        if name in ("is_unknown_attribute", "is_missing_attribute"):
            column = column & ~no_attrs
        if column.dtype == bool:
            values = np.zeros(len(ann), dtype=bool)
            values[ann.index.get_indexer(result.index)] = column.to_numpy()
            out[name] = values
        else:
            out[name] = column.reindex(ann.index)
    for name in ("unknown_attributes", "missing_attributes"):
        out.loc[~out["is_" + name.removesuffix("s")], name] = pd.NA
    out["issues"] = _issue_lists(out, ANNOTATION_ISSUES)
    return out


def _row_annotation_issues(frame: pd.DataFrame, ann: pd.DataFrame, owner: str) -> None:
    by_row: dict[Any, set[str]] = {}
    counts: dict[Any, int] = {}
    for pk, issues in zip(ann[owner].tolist(), ann["issues"].tolist(), strict=True):
        if issues:
            by_row.setdefault(pk, set()).update(issues)
            counts[pk] = counts.get(pk, 0) + 1
    flagged: dict[Any, dict[str, str]] = {}
    for pk, aid, issues in zip(ann[owner].tolist(), ann["annotation_id"].tolist(),
                               ann["issues"].tolist(), strict=True):
        if issues:
            flagged.setdefault(pk, {})[str(aid)] = ", ".join(issues)
    frame["annotation_issues"] = [sorted(by_row.get(pk, ())) for pk in frame.index.tolist()]
    frame["flagged_annotations"] = pd.Series([flagged.get(pk, {}) for pk in frame.index],
                                             index=frame.index, dtype=object)
    frame["n_flagged_annotations"] = pd.array([counts.get(pk, 0) for pk in frame.index],
                                              dtype="Int64")


def frame_health(
    frame: pd.DataFrame,
    live: Client,
    *,
    split: str | None = None,
    image_thresholds: ImageThresholds | Mapping[str, Any] | None = None,
    annotation_thresholds: AnnotationThresholds | Mapping[str, Any] | None = None,
    config: LabelConfig | Mapping[str, Any] | None = None,
    cache: HealthCache | None = None,
    tools: Iterable[str] = CHECKED_TOOLS,
    attribute_tools: Iterable[str] = ATTRIBUTE_TOOLS,
    progress: bool = True,
    predictions: Any = None,
    label_error_thresholds: LabelErrorThresholds | None = None,
) -> FrameHealth:
    """Run the image and annotation health checks on the rows of a frame.

    Args:
        frame: A task, assignment or ground-truth event frame (with ``data_unit_id`` and
            ``file_url``).
        live: The client that downloads the images and the rows' annotations.
        split: A split column of the frame (e.g. from ``df.synapse.split()``) for leaks.
        image_thresholds: Image flag thresholds: an :class:`ImageThresholds` or a dict of
            some of its fields, e.g. ``{"dark": 0.3}`` (the rest keep their defaults).
        annotation_thresholds: Annotation flag thresholds: an :class:`AnnotationThresholds`
            or a dict of some of its fields.
        config: Label configuration (default: the configuration of the frame's project).
        cache: Image measures to reuse (default: the client's, see :func:`health_cache`).
        tools: Tools judged by the geometry, duplicate and class rules.
        attribute_tools: Tools judged by the attribute rules.
        progress: Progress bars for the downloads and the measuring.
        predictions: Models' predictions for label-error candidates (see
            :mod:`synapse_nb.frames.health_label_errors`): evaluation results against these
            rows (one, a ``Comparison``, a list or dict), a model frame, a list of
            prediction sources, or one source ``df.synapse.evaluate()`` takes.
        label_error_thresholds: Thresholds of the candidates (default
            :class:`~synapse_nb.health.LabelErrorThresholds`).

    Returns:
        A :class:`FrameHealth`.

    Raises:
        InvalidInputError: The frame has no images, ``split`` is not one of its columns, a
            tool name is unknown, or an option has the wrong type (before anything is
            downloaded).

    Example:
        >>> tasks = client.list_tasks({"project": 1}, list_all=True)
        >>> report = frame_health(tasks.head(30), client, progress=False)
        >>> report.frame["is_dark"].dtype, report.frame["dark_score"].dtype
        (dtype('bool'), Float64Dtype())
    """
    tools = _check_tools("tools", tools)
    attribute_tools = _check_tools("attribute_tools", attribute_tools)
    if not isinstance(progress, bool):
        raise InvalidInputError("progress", progress, "must be True or False", method="health")
    if cache is not None and not isinstance(cache, HealthCache):
        raise InvalidInputError("cache", type(cache).__name__, "must be a HealthCache",
                                method="health")
    image_thresholds = _thresholds("image_thresholds", image_thresholds, ImageThresholds)
    annotation_thresholds = _thresholds("annotation_thresholds", annotation_thresholds,
                                        AnnotationThresholds)
    urls = _unit_urls(frame)
    splits = _unit_splits(frame, split)
    owner = frame_meta(frame).get("owner") or _owner(frame)
    labels = _config(live, frame, config)
    candidates = _candidates(frame, live, predictions, label_error_thresholds)
    paths = _download_all(live, urls, progress)
    sources = {unit: str(path) for unit, path in paths.items() if path is not None}
    # an image that could not be downloaded is checked as what it is to us: unreadable
    to_check = {unit: str(path) if path is not None else f"<download failed: data unit {unit}>"
                for unit, path in paths.items()}
    images = check_images(to_check, splits=splits, thresholds=image_thresholds,
                          cache=cache if cache is not None else health_cache(live),
                          progress=progress)
    out = frame.copy()
    _join_images(out, images.images)
    ann = frame.synapse.annotations(client=live)
    owner = str(ann.attrs["synapse"].get("owner", owner))
    judged = _check_rows(ann, owner, tools, attribute_tools)
    sizes = {pk: (w, h) for pk, w, h in zip(frame.index, frame["width"], frame["height"],
                                            strict=True)} if "width" in frame else {}
    checked = _check_per_tool(ann, judged, sizes, labels, annotation_thresholds)
    annotations = _join_annotations(ann, checked.annotations, attribute_tools)
    parts = [images.summary(), _annotation_summary(annotations, judged.index)]
    if candidates is not None:
        annotations = join_label_errors(out, annotations, owner, candidates)
        parts.append(label_error_summary(out))
    _row_annotation_issues(out, annotations, owner)
    summary = pd.concat(parts, ignore_index=True)
    return FrameHealth(out, annotations, summary, images, checked, sources, candidates)


def _candidates(frame: pd.DataFrame, live: Client, predictions: Any,
                thresholds: LabelErrorThresholds | None) -> pd.DataFrame | None:
    """The label-error candidates of ``predictions`` (None without predictions)."""
    if thresholds is not None and not isinstance(thresholds, LabelErrorThresholds):
        raise InvalidInputError("label_error_thresholds", thresholds,
                                "must be a LabelErrorThresholds", method="health")
    if predictions is None:
        return None
    return label_errors(evaluations_of(frame, live, predictions), thresholds=thresholds)


def _check_per_tool(ann: pd.DataFrame, judged: pd.DataFrame, sizes: Mapping[Any, Any],
                    labels: LabelConfig | None, thresholds: AnnotationThresholds | None
                    ) -> AnnotationHealth:
    """One check per tool: a polygon traced around a boxed object duplicates no box."""
    tool = ann.loc[judged.index, "tool"].astype(object)
    parts = [check_annotations(judged[tool == name], sizes, config=labels,
                               thresholds=thresholds)
             for name in dict.fromkeys(tool.tolist())]
    if not parts:
        return check_annotations(judged, sizes, config=labels, thresholds=thresholds)
    frame = pd.concat([p.annotations for p in parts]).reindex(judged.index)
    return AnnotationHealth(frame, parts[0].thresholds)


def _thresholds(name: str, value: Any, kind: type[_T]) -> _T | None:
    """The thresholds option as ``kind``: given as one, or as a dict of some of its fields."""
    if value is None or isinstance(value, kind):
        return value
    known = [item.name for item in fields(kind)]
    if not isinstance(value, Mapping):
        raise InvalidInputError(name, value, f"must be an {kind.__name__} or a dict of some of "
                                f"its fields {known}", method="health")
    unknown = [key for key in value if key not in known]
    if unknown:
        raise InvalidInputError(name, value, f"has unknown keys {unknown}; use some of {known}",
                                method="health")
    try:
        return kind(**value)
    except HealthInputError as err:
        raise InvalidInputError(f"{name}[{err.field!r}]", err.value,
                                err.problem, method="health") from None


def _check_tools(name: str, tools: Iterable[str]) -> tuple[str, ...]:
    """Tool names as a tuple; a bare string or an unknown tool is refused."""
    if isinstance(tools, str) or not isinstance(tools, Iterable):
        raise InvalidInputError(name, tools, "must be a list of tool names", method="health")
    out = tuple(tools)
    unknown = [t for t in out if t not in IMAGE_TOOLS]
    if unknown:
        raise InvalidInputError(name, unknown, f"are not tools; use some of {list(IMAGE_TOOLS)}",
                                method="health")
    return out


def _owner(frame: pd.DataFrame) -> str:
    return {"task": "task_id", "assignment": "assignment_id"}.get(
        str(frame_meta(frame).get("kind")), "event_id")


def _annotation_summary(annotations: pd.DataFrame, judged: pd.Index) -> pd.DataFrame:
    rows = annotations.loc[judged]
    total = max(len(rows), 1)
    table = pd.DataFrame(
        [("annotation", issue, int(rows[col].sum()), int(rows[col].sum()) / total)
         for issue, col in ANNOTATION_ISSUES.items()],
        columns=["level", "issue", "count", "share"])
    return table.astype({"level": STRING, "issue": STRING, "count": "int64"})

