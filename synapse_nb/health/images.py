"""Image health: duplicates, near duplicates, split leakage and image-quality flags.

:func:`check_images` measures every image once (see :mod:`.measure`; cached by content hash in
a :class:`~.cache.HealthCache`), then derives, for the whole collection:

- **exact duplicates**: images with the same content hash (same file bytes, or same pixels
  for PIL images);
- **near duplicates**: images whose perceptual hashes are within
  ``near_duplicate_distance`` bits, found with the multi-index hashing index of
  :mod:`.index` and grouped into clusters (connected components of the pairs). The
  representative of a cluster is its largest image (the first listed on ties); every other
  member is flagged ``is_near_duplicate`` (or ``is_exact_duplicate`` when it is a byte copy of
  an earlier image);
- **leakage across splits**: a near-duplicate pair whose split labels differ with one of them
  the training split: both images are flagged ``is_leak``;
- dark, overexposed, low-contrast, blurry, low-information, odd aspect ratio and unusual size,
  each a ``<issue>_score`` column and an ``is_<issue>`` flag at the thresholds of
  :class:`~.thresholds.ImageThresholds`.

Example:
    >>> from PIL import Image
    >>> gray = Image.linear_gradient("L").resize((64, 64))
    >>> report = check_images({1: gray, 2: gray.copy(), 3: Image.new("L", (64, 64))},
    ...                       progress=False)
    >>> report.images["is_exact_duplicate"].tolist(), report.images["is_dark"].tolist()
    ([False, True, False], [False, False, True])
"""

from __future__ import annotations

import os
import threading
from collections.abc import Hashable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from PIL import Image

from synapse_nb.health._errors import HealthInputError
from synapse_nb.health._graph import components
from synapse_nb.health.cache import HealthCache
from synapse_nb.health.index import near_pairs
from synapse_nb.health.measure import ImageMeasure, ImageSource, measure_image, read_source
from synapse_nb.health.thresholds import ImageThresholds

__all__ = ["IMAGE_ISSUES", "ImageHealth", "check_images"]

#: Issue name -> flag column of the image frame, in the order of :meth:`ImageHealth.summary`.
IMAGE_ISSUES = {
    "exact_duplicate": "is_exact_duplicate",
    "near_duplicate": "is_near_duplicate",
    "leak": "is_leak",
    "dark": "is_dark",
    "overexposed": "is_overexposed",
    "low_contrast": "is_low_contrast",
    "blurry": "is_blurry",
    "low_information": "is_low_information",
    "odd_aspect": "is_odd_aspect",
    "unusual_size": "is_unusual_size",
    "unreadable": "is_unreadable",
}

_MEASURE_VERSION = 1  # bump when measure_image changes what it computes


@dataclass(frozen=True)
class ImageHealth:
    """The result of :func:`check_images`.

    Attributes:
        images: One row per data unit (index ``data_unit_id``): scores (``Float64``), flags
            (``bool``), sizes, hashes and cluster columns; see :func:`check_images`.
        pairs: One row per near-duplicate pair (``data_unit_a``, ``data_unit_b``,
            ``distance``, ``exact``, ``split_a``, ``split_b``, ``leak``).
        thresholds: The thresholds the flags were computed with.
        recomputed: How many images were decoded and measured in this run (cache misses).
    """

    images: pd.DataFrame
    pairs: pd.DataFrame
    thresholds: ImageThresholds
    recomputed: int

    def summary(self) -> pd.DataFrame:
        """Counts per issue type: ``level``, ``issue``, ``count``, ``share``.

        Example:
            >>> from PIL import Image
            >>> r = check_images([("a", Image.new("L", (8, 8)))], progress=False)
            >>> r.summary().set_index("issue").loc["dark", "count"]
            np.int64(1)
        """
        return issue_summary(self.images, IMAGE_ISSUES, level="image")

    def clusters(self) -> pd.DataFrame:
        """Near-duplicate clusters (size ≥ 2): ``cluster``, ``representative``, ``size``,
        ``members`` (list of data unit ids, representative first).

        Example:
            >>> from PIL import Image
            >>> im = Image.linear_gradient("L")
            >>> r = check_images({"a": im, "b": im.resize((64, 64))}, progress=False)
            >>> r.clusters()[["representative", "size", "members"]].to_dict("records")
            [{'representative': 'a', 'size': 2, 'members': ['a', 'b']}]
        """
        frame = self.images[self.images["near_cluster"].notna()]
        rows = []
        for cluster, group in frame.groupby("near_cluster", sort=True):
            rep = group["cluster_representative"].iloc[0]
            members = [rep, *[i for i in group.index if i != rep]]
            rows.append((int(cluster), rep, len(members), members))
        return pd.DataFrame(rows, columns=["cluster", "representative", "size", "members"])


def issue_summary(frame: pd.DataFrame, issues: Mapping[str, str], *, level: str) -> pd.DataFrame:
    """Counts of each flag column of ``frame``, as a small table.

    Example:
        >>> f = pd.DataFrame({"is_x": [True, False]})
        >>> issue_summary(f, {"x": "is_x"}, level="image").to_dict("records")
        [{'level': 'image', 'issue': 'x', 'count': 1, 'share': 0.5}]
    """
    total = max(len(frame), 1)
    rows = [(level, issue, int(frame[col].sum()), int(frame[col].sum()) / total)
            for issue, col in issues.items()]
    table = pd.DataFrame(rows, columns=["level", "issue", "count", "share"])
    return table.astype({"level": "string", "issue": "string", "count": "int64"})


def _items(images: Any) -> list[tuple[Hashable, ImageSource]]:
    pairs = list(images.items()) if hasattr(images, "items") else list(images)
    seen: set[Hashable] = set()
    for position, item in enumerate(pairs):
        if not isinstance(item, tuple) or len(item) != 2:
            raise HealthInputError(f"images[{position}]", item,
                                   "must be a (data_unit_id, image) pair")
        key, source = item
        if key in seen:
            raise HealthInputError("data_unit_id", key, "appears more than once")
        seen.add(key)
        if not isinstance(source, bytes | bytearray | str | os.PathLike | Image.Image):
            raise HealthInputError(f"image of data unit {key!r}", type(source).__name__,
                                   "must be bytes, a path or a PIL image")
    return pairs


def _measure_all(sources: list[ImageSource], cache: HealthCache, size: int,
                 workers: int | None, progress: bool) -> tuple[list[str | None],
                                                               list[ImageMeasure | None], int]:
    tag = f"v{_MEASURE_VERSION}:t{size}:"
    computed = 0
    lock = threading.Lock()
    in_flight: dict[str, Future[ImageMeasure | None]] = {}

    def one(source: ImageSource) -> tuple[str | None, ImageMeasure | None, bool]:
        try:
            key, data = read_source(source)
        except HealthInputError:
            return None, None, False
        found = cache.get(tag + key)
        if found is not None:
            return key, found, False
        with lock:  # one thread measures each content; copies wait for its result
            pending = in_flight.get(key)
            if pending is None:
                in_flight[key] = Future()
        if pending is not None:
            return key, pending.result(), False
        try:
            measure: ImageMeasure | None = measure_image(data, size)
        except (OSError, ValueError, Image.DecompressionBombError):
            measure = None
        if measure is not None:
            cache.put(tag + key, measure)
        in_flight[key].set_result(measure)
        return key, measure, measure is not None

    from tqdm.auto import tqdm  # lazy: a widget bar in Jupyter, text elsewhere

    def chunk(part: list[ImageSource]) -> list[tuple[str | None, ImageMeasure | None, bool]]:
        return [one(source) for source in part]

    threads = workers or os.cpu_count() or 1
    # Chunks of sources per task: one future per image costs more than a cached image.
    step = max(1, min(64, len(sources) // (threads * 8)))
    parts = [sources[k : k + step] for k in range(0, len(sources), step)]
    keys: list[str | None] = []
    measures: list[ImageMeasure | None] = []
    with ThreadPoolExecutor(max_workers=threads) as pool, tqdm(
        total=len(sources), desc="image health", unit=" images", disable=not progress
    ) as bar:
        for results in pool.map(chunk, parts):
            for key, measure, fresh in results:
                keys.append(key)
                measures.append(measure)
                computed += fresh
            bar.update(len(results))
    return keys, measures, computed


def _representatives(labels: npt.NDArray[np.int64], area: npt.NDArray[np.float64]
                     ) -> npt.NDArray[np.int64]:
    """Position of each item's representative: largest area, first on ties."""
    if labels.size == 0:
        return labels
    position = np.arange(labels.size)
    order = np.lexsort((position, -area, labels))
    first = np.r_[True, labels[order][1:] != labels[order][:-1]]
    rep_of_label = dict(zip(labels[order][first].tolist(), order[first].tolist(), strict=True))
    return np.array([rep_of_label[label] for label in labels.tolist()], dtype=np.int64)


def _cluster_columns(frame: pd.DataFrame, ids: list[Hashable], readable: npt.NDArray[np.bool_],
                     pairs: tuple[npt.NDArray[np.int64], ...]) -> None:
    n = len(ids)
    i, j, _ = pairs
    area = (frame["width"].fillna(0) * frame["height"].fillna(0)).to_numpy(dtype=np.float64)
    labels = components(n, i, j)
    reps = _representatives(labels, area)
    sizes = np.bincount(labels, minlength=n)[labels]
    in_cluster = (sizes > 1) & readable
    numbering = {lab: k for k, lab in enumerate(sorted(set(labels[in_cluster].tolist())))}
    frame["near_cluster"] = pd.array(
        [numbering.get(lab) if ok else None for lab, ok in zip(labels, in_cluster, strict=True)],
        dtype="Int64")
    frame["cluster_size"] = pd.array(np.where(in_cluster, sizes, 1), dtype="Int64")
    frame["cluster_representative"] = pd.Series(
        [ids[r] if ok else None for r, ok in zip(reps, in_cluster, strict=True)],
        index=frame.index, dtype=object)
    first_copy = frame.groupby("content_hash", sort=False, dropna=True).cumcount()
    exact = frame["content_hash"].notna() & (first_copy > 0) & readable
    frame["is_exact_duplicate"] = exact.to_numpy(dtype=bool)
    frame["is_near_duplicate"] = in_cluster & (reps != np.arange(n)) & ~frame[
        "is_exact_duplicate"].to_numpy()


def _pair_frame(frame: pd.DataFrame, ids: list[Hashable], pairs: tuple[npt.NDArray[np.int64], ...],
                train_split: str) -> pd.DataFrame:
    i, j, d = pairs
    split = frame["split"].to_numpy(dtype=object, na_value=None)
    hashes = frame["content_hash"].to_numpy(dtype=object, na_value=None)
    sa, sb = split[i], split[j]
    known = np.array([a is not None and b is not None for a, b in zip(sa, sb, strict=True)],
                     dtype=bool)
    leak = known & (sa != sb) & ((sa == train_split) | (sb == train_split))
    return pd.DataFrame({
        "data_unit_a": pd.Series([ids[k] for k in i], dtype=object),
        "data_unit_b": pd.Series([ids[k] for k in j], dtype=object),
        "distance": pd.array(d, dtype="Int64"),
        "exact": hashes[i] == hashes[j],
        "split_a": pd.array(sa, dtype="string"),
        "split_b": pd.array(sb, dtype="string"),
        "leak": np.asarray(leak, dtype=bool),
    })


def _min_distance(n: int, pairs: pd.DataFrame, positions: Mapping[Any, int],
                  where: npt.NDArray[np.bool_]) -> pd.arrays.IntegerArray:
    best = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    sel = pairs[where]
    for column in ("data_unit_a", "data_unit_b"):
        at = np.array([positions[k] for k in sel[column]], dtype=np.int64)
        np.minimum.at(best, at, sel["distance"].to_numpy(dtype=np.int64))
    out = pd.array(best, dtype="Int64")
    out[best == np.iinfo(np.int64).max] = pd.NA
    return out


def _quality_columns(frame: pd.DataFrame, t: ImageThresholds) -> None:
    def flag(score: str, hit: pd.Series) -> None:
        frame["is_" + score.removesuffix("_score")] = hit.fillna(False).to_numpy(dtype=bool)

    width, height = frame["width"].astype("Float64"), frame["height"].astype("Float64")
    frame["odd_aspect_score"] = np.maximum(width / height, height / width)
    area = width * height
    frame["unusual_size_score"] = np.sqrt(area / area.median()) if area.notna().any() else area
    flag("dark_score", frame["dark_score"] < t.dark)
    flag("overexposed_score", frame["overexposed_score"] > t.overexposed)
    flag("low_contrast_score", frame["low_contrast_score"] < t.low_contrast)
    low_info = frame["low_information_score"] < t.low_information
    flag("blurry_score", (frame["blurry_score"] < t.blurry) & ~low_info.fillna(False))
    flag("low_information_score", low_info)
    flag("odd_aspect_score", frame["odd_aspect_score"] > t.odd_aspect)
    size = frame["unusual_size_score"]
    flag("unusual_size_score", (size > t.unusual_size) | (size < 1.0 / t.unusual_size))


def _base_frame(ids: list[Hashable], keys: list[str | None],
                measures: list[ImageMeasure | None], splits: Any) -> pd.DataFrame:
    names = ImageMeasure.field_names()
    blank = (None,) * len(names)
    rows = [m.as_tuple() if m is not None else blank for m in measures]
    values = dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else {
        name: () for name in names}
    index = pd.Index(ids, name="data_unit_id", dtype=object)
    frame = pd.DataFrame(index=index)
    labels = [None] * len(ids) if splits is None else [splits.get(k) for k in ids]
    frame["split"] = pd.array(labels, dtype="string")
    frame["width"] = pd.array(values["width"], dtype="Int64")
    frame["height"] = pd.array(values["height"], dtype="Int64")
    frame["content_hash"] = pd.array(keys, dtype="string")
    frame["phash"] = pd.array([None if h is None else f"{h:016x}" for h in values["phash"]],
                              dtype="string")
    for name in names[3:]:
        frame[name] = pd.array([np.nan if v is None else v for v in values[name]],
                               dtype="Float64")
        frame[name] = frame[name].mask(frame[name].isna(), None)
    frame["is_unreadable"] = np.array([m is None for m in measures], dtype=bool)
    return frame


def check_images(
    images: Mapping[Any, ImageSource] | Iterable[tuple[Hashable, ImageSource]],
    *,
    splits: Mapping[Any, Any] | pd.Series | None = None,
    thresholds: ImageThresholds | None = None,
    cache: HealthCache | None = None,
    thumbnail_size: int = 256,
    workers: int | None = None,
    progress: bool = True,
    train_split: str = "train",
) -> ImageHealth:
    """Measure a collection of images and flag duplicates, leaks and quality issues.

    Args:
        images: ``{data_unit_id: image}`` or ``(data_unit_id, image)`` pairs; an image is
            encoded bytes, a file path or a PIL image.
        splits: Split label per data unit id (e.g. the ``split`` column of the data units
            frame); images without a label take part in no leak.
        thresholds: Flag thresholds (defaults: :class:`ImageThresholds`).
        cache: Measurements to reuse and extend; images whose content hash it holds are not
            decoded again. A cache with a directory is saved at the end of the run.
        thumbnail_size: Long side of the thumbnail the scores are computed on, px.
        workers: Threads decoding images (default: one per CPU).
        progress: Show a tqdm progress bar.
        train_split: The split label of the training data, for leaks.

    Returns:
        An :class:`ImageHealth`; its ``images`` frame has, per data unit: ``split``,
        ``width``, ``height``, ``content_hash``, ``phash``, the seven ``<issue>_score``
        columns, ``is_<issue>`` flags for every issue of :data:`IMAGE_ISSUES`,
        ``near_cluster``, ``cluster_size``, ``cluster_representative``, ``near_distance``
        (smallest Hamming distance to another image, NA when none is near) and
        ``leak_distance``. Unreadable images get NA scores and only ``is_unreadable``.

    Raises:
        HealthInputError: A data unit id repeats, an image is of an unsupported type, or a
            setting is out of range (before any image is read).

    Example:
        >>> from PIL import Image
        >>> wide = Image.linear_gradient("L").resize((300, 60))
        >>> check_images([(7, wide)], progress=False).images.loc[7, "is_odd_aspect"]
        np.True_
    """
    thresholds = thresholds if thresholds is not None else ImageThresholds()
    if isinstance(thumbnail_size, bool) or not isinstance(thumbnail_size, int) or not (
            32 <= thumbnail_size <= 4096):
        raise HealthInputError("thumbnail_size", thumbnail_size, "must be an int in [32, 4096]")
    if splits is not None and not hasattr(splits, "get"):
        raise HealthInputError("splits", type(splits).__name__, "must be a mapping or Series")
    items = _items(images)
    ids = [k for k, _ in items]
    cache = cache if cache is not None else HealthCache()
    keys, measures, computed = _measure_all([s for _, s in items], cache, thumbnail_size,
                                            workers, progress)
    frame = _base_frame(ids, keys, measures, splits)
    readable = ~frame["is_unreadable"].to_numpy()
    hashes = np.array([m.phash if m is not None else 0 for m in measures], dtype=np.uint64)
    where = np.flatnonzero(readable)
    i, j, d = near_pairs(hashes[where], thresholds.near_duplicate_distance)
    pairs = (where[i].astype(np.int64), where[j].astype(np.int64), d)
    _quality_columns(frame, thresholds)
    _cluster_columns(frame, ids, readable, pairs)
    pair_frame = _pair_frame(frame, ids, pairs, train_split)
    positions = {k: p for p, k in enumerate(ids)}
    frame["near_distance"] = _min_distance(len(ids), pair_frame, positions,
                                           np.ones(len(pair_frame), dtype=bool))
    leak = pair_frame["leak"].to_numpy(dtype=bool)
    frame["leak_distance"] = _min_distance(len(ids), pair_frame, positions, leak)
    frame["is_leak"] = frame["leak_distance"].notna().to_numpy(dtype=bool)
    if computed:
        cache.save()
    return ImageHealth(frame, pair_frame, thresholds, computed)
