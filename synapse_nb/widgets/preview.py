"""``AnnotationPreview``: a frame's images with their annotations drawn on top.

One widget with three ways of looking at the rows of a task, assignment or ground-truth
frame:

* **single** — one image with boxes, polygons, polylines, keypoints with their skeleton and
  masks; prev/next move through the frame's rows;
* **gallery** — a grid of thumbnails (24 by default) with the same overlays; prev/next move
  by pages, and a thumbnail's button opens it in the single view;
* **compare** (``compare=`` a second frame) — two annotation sources on one image, e.g. ground
  truth version A vs B or a model's predictions vs ground truth. Rows are paired by
  ``data_unit_id``; boxes of the same class are matched greedily by IoU (by descending score
  when the second source has scores) and drawn as **matched** (green), **missed** (red: only
  in the first source) or **extra** (magenta: only in the second), with the counts.

Every class has one colour, the same in every image (:func:`~._colors.class_color`); the
legend's checkboxes hide and show classes, and "labels" turns the class labels off.

Label-level views: ``min_score`` (the "score ≥" slider in compare mode) hides predictions
below a confidence; :meth:`AnnotationPreview.show_only` draws only chosen annotations of each
row (e.g. the false positives of an evaluation) and :meth:`AnnotationPreview.highlight` frames
chosen annotations in :data:`HIGHLIGHT` (an evaluation's confusion cell).

Loading: nothing is fetched in ``__init__``. The widget loads the first time it is displayed,
or when :meth:`AnnotationPreview.load` is called (a container such as the Explorer calls it).
After that, every change of ``index``, ``mode``, ``page``, ``show_labels``, ``hidden_classes``,
``iou_threshold``, ``min_score`` or ``image_format`` (from Python or from the browser)
re-renders. Images are downloaded once into the client's cache directory
(``client.cache_dir``, shared with ``url_conversion``) and drawn at display size; the rows'
DM data comes from the frame's ``data`` column when it has one (``include_data=True``), else
it is fetched for the rows on screen, one request per batch of rows. Drawn images go to the
browser as JPEGs when the row's image is a JPEG photo and as exact PNGs otherwise
(``image_format``); each ``Image`` widget's ``format`` names its bytes.

Example:
    >>> from synapse_nb.frames import Client
    >>> isinstance(client, Client)
    True
    >>> gt_v1 = client.list_ground_truth_events({"ground_truth_dataset_versions": [1]},
    ...                                         list_all=True)
    >>> single = AnnotationPreview(gt_v1).load()
    >>> single.mode, single.current_id
    ('single', 1)
    >>> preds = client.list_ground_truth_events({"ground_truth_dataset_versions": [3]},
    ...                                         list_all=True)
    >>> both = AnnotationPreview(gt_v1, compare=preds, compare_labels=("GT", "yolo")).load()
    >>> both.comparison().counts()
    {'matched': 6, 'missed': 2, 'extra': 3}
"""

from __future__ import annotations

import contextlib
import html
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd
from PIL import Image, ImageDraw
from traitlets import (
    Any as AnyTrait,
)
from traitlets import (
    Bool,
    CaselessStrEnum,
    Dict,
    Float,
    Int,
    List,
    TraitError,
    Unicode,
    observe,
    validate,
)

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.client import Client, as_client, client_for
from synapse_nb.utils.file import download_file
from synapse_nb.widgets._colors import STATUS_COLORS, class_color, hex_color, register_classes
from synapse_nb.widgets._display import (
    LoadOnDisplay,
    check_callback,
    check_widget_options,
    error_html,
    note_html,
)
from synapse_nb.widgets._imageio import (
    IMAGE_FORMATS,
    DisplayImage,
    display_format,
    encode_image,
    read_display,
)
from synapse_nb.widgets._render import (
    CompareResult,
    RenderOptions,
    Shape,
    match_shapes,
    placeholder,
    render,
    shapes_from_doc,
    skeleton_from_configuration,
)

__all__ = ["HIGHLIGHT", "AnnotationPreview", "preview"]

#: List method that re-reads rows of each frame kind by id (for their DM data).
_DATA_METHODS = {
    "task": "list_tasks",
    "assignment": "list_assignments",
    "ground_truth_event": "list_ground_truth_events",
}
#: Rows whose data is fetched in one request (a gallery page plus some look-ahead).
DATA_BATCH = 48
#: Decoded display images kept in memory (per widget).
IMAGE_MEMO = 64
#: Rows ahead (and behind) whose images download in the background while one is shown.
PREFETCH = 3
#: Display size of the single view and of gallery thumbnails (fits in, aspect kept).
SINGLE_SIZE = (960, 720)
THUMB_SIZE = (160, 120)
#: Outline colour of highlighted annotations (:meth:`AnnotationPreview.highlight`).
HIGHLIGHT = (255, 215, 0)
#: Sources of compare mode: the frame (``a``) and ``compare=`` (``b``).
_SOURCES = ("a", "b")


def _invalid(field: str, value: Any, problem: str) -> InvalidInputError:
    return InvalidInputError(field, value, problem, method="AnnotationPreview")


class PreviewOptionError(InvalidInputError, TraitError):
    """An option of :class:`AnnotationPreview` given at construction that its trait refuses:
    an :class:`~synapse_nb.exceptions.InvalidInputError` naming it, and still the
    ``TraitError`` traitlets raises when the trait is set later."""


def _trait_problem(exc: TraitError) -> str:
    """The problem a trait's check found, without the name and value the error repeats.

    Example:
        >>> _trait_problem(TraitError("gallery_size=0 must be between 1 and 200"))
        'must be between 1 and 200'
        >>> _trait_problem(TraitError("The 'mode' trait of an AnnotationPreview instance "
        ...                           "expected any of ['single', 'gallery'], not the str 'x'."))
        "expected any of ['single', 'gallery'], not the str 'x'"
    """
    text = str(exc)
    if text.startswith("The '") and " expected " in text:  # traitlets' type check
        return text[text.index(" expected ") + 1 :].rstrip(".")
    head, _, rest = text.partition(" ")
    return rest if "=" in head and rest else text


def _cell(value: Any) -> Any:
    if value is None:
        return None
    try:
        return None if pd.isna(value) else value
    except (TypeError, ValueError):  # lists and dicts are never NA
        return value


@dataclass(frozen=True)
class _Picture:
    """One drawn row: the encoded image and what was drawn on it."""

    data: bytes
    fmt: str
    shapes: list[Shape]
    result: CompareResult | None
    problem: str | None
    lit: list[str]


@dataclass(frozen=True)
class _Row:
    id: Any
    url: str | None
    width: int | None
    height: int | None
    data_unit: int | None


class _Source:
    """The rows of one frame and their DM data (read from the frame or fetched by id)."""

    def __init__(self, frame: Any, client: Client | None, field: str) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise _invalid(field, type(frame).__name__, "must be a pandas DataFrame")
        if "file_url" not in frame.columns:
            raise _invalid(
                field,
                sorted(map(str, frame.columns))[:8],
                "needs a file_url column (a task, assignment or ground-truth event frame)",
            )
        meta = frame.attrs.get("synapse") if isinstance(frame.attrs, dict) else None
        self.kind = meta.get("kind") if isinstance(meta, dict) else None
        self.client = client
        self.field = field
        self.has_data = "data" in frame.columns
        if not self.has_data and client is None:
            raise _invalid(
                field,
                self.kind,
                "has no data column and no live client; list it with include_data=True "
                "or pass client=",
            )
        if not self.has_data and self.kind not in _DATA_METHODS:
            raise _invalid(
                field,
                self.kind,
                f"has no data column; only {sorted(_DATA_METHODS)} frames can fetch theirs",
            )

        def column(name: str) -> list[Any]:
            values = frame[name].tolist() if name in frame.columns else [None] * len(frame)
            return [_cell(v) for v in values]

        self.rows = [
            _Row(
                _cell(pk),
                url if isinstance(url, str) and url else None,
                None if w is None else int(w),
                None if h is None else int(h),
                None if unit is None else int(unit),
            )
            for pk, url, w, h, unit in zip(
                frame.index.tolist(),
                column("file_url"),
                column("width"),
                column("height"),
                column("data_unit_id"),
                strict=True,
            )
        ]
        # dataset-health flags of a frame from df.synapse.health(): {annotation id: issues}
        self.flags = {pk: f for pk, f in zip(frame.index.tolist(), column("flagged_annotations"),
                                             strict=True) if isinstance(f, dict) and f}
        self.docs: dict[Any, Any] = {}
        if self.has_data:
            self.docs = dict(zip(frame.index.tolist(), frame["data"].tolist(), strict=True))
        projects = column("project")
        self.project = next((int(p) for p in projects if p is not None), None)
        version = column("version")
        self.version = next((str(v) for v in version if v is not None), None)
        self._by_unit: dict[int, int] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def position_of_unit(self, data_unit: int | None) -> int | None:
        if self._by_unit is None:
            self._by_unit = {}
            for position, row in enumerate(self.rows):
                if row.data_unit is not None:
                    self._by_unit.setdefault(row.data_unit, position)
        return None if data_unit is None else self._by_unit.get(data_unit)

    def doc(self, position: int) -> Any:
        return self.docs.get(self.rows[position].id)

    def ensure_docs(self, positions: Iterable[int]) -> None:
        """Fetch the data of rows not read yet, ``DATA_BATCH`` ids per request."""
        if self.has_data:
            return
        wanted = [
            self.rows[p].id
            for p in positions
            if self.rows[p].id is not None and self.rows[p].id not in self.docs
        ]
        wanted = list(dict.fromkeys(wanted))
        for start in range(0, len(wanted), DATA_BATCH):
            chunk = wanted[start : start + DATA_BATCH]
            self.docs.update(self._fetch(chunk))
            for pk in chunk:
                self.docs.setdefault(pk, None)  # not on the server (any more): no overlay

    def _fetch(self, ids: list[Any]) -> dict[Any, Any]:
        if self.client is None:  # unreachable: a frame without a client has its data column
            return {}
        return self.client.rows.data(str(self.kind), [int(i) for i in ids])


class _Images:
    """Image files downloaded once (disk cache) and decoded at display size (memory LRU)."""

    def __init__(self, cache_dir: Path, workers: int = 4) -> None:
        self.cache_dir = cache_dir
        self._lock = threading.Lock()  # gallery thumbnails are drawn in worker threads
        self._memo: OrderedDict[tuple[str, tuple[int, int]], DisplayImage] = OrderedDict()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="synapse-preview")

    def path(self, url: str) -> Path:
        local = Path(url)
        if not url.startswith(("http://", "https://")) and local.is_file():
            return local  # a frame listed with url_conversion holds local paths
        return download_file(url, self.cache_dir)

    def display(self, url: str, size: tuple[int, int]) -> DisplayImage:
        key = (url.split("?", 1)[0], size)
        with self._lock:
            hit = self._memo.get(key)
            if hit is not None:
                self._memo.move_to_end(key)
                return hit
        result = read_display(self.path(url), size)
        with self._lock:
            self._memo[key] = result
            while len(self._memo) > IMAGE_MEMO:
                self._memo.popitem(last=False)
        return result

    def prefetch(self, urls: Iterable[str | None]) -> None:
        for url in urls:
            if url and url.startswith(("http://", "https://")):
                self._pool.submit(self._quiet_path, url)

    def _quiet_path(self, url: str) -> None:
        # a prefetch failure shows up (with its message) when the row is shown
        with contextlib.suppress(Exception):
            self.path(url)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return list(self._pool.map(fn, items))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


#: inline style of legend text: wraps at spaces, or anywhere inside a long class name
_WRAP = "white-space:normal;overflow-wrap:anywhere;line-height:1.3"


def _swatch(rgb: tuple[int, int, int], size: int = 12) -> str:
    return (
        f'<span style="display:inline-block;width:{size}px;height:{size}px;'
        f'background:{hex_color(rgb)};border:1px solid #333;vertical-align:middle"></span>'
    )


class AnnotationPreview(LoadOnDisplay, widgets.VBox):
    """Images of a frame's rows with their annotations drawn on top.

    Args:
        frame: A task, assignment or ground-truth-event frame from
            :class:`~synapse_nb.frames.Client` (needs ``file_url``; ``data`` is used when
            present, else fetched), or any frame with ``file_url`` and ``data`` columns.
        client: Client to fetch data and project configuration with; defaults to the
            client that returned ``frame``.
        compare: A second frame (same data units, another annotation source) to compare
            with; turns compare mode on.
        compare_labels: Names of the two sources in the legend (default: their ``version``
            values, or "A" and "B").
        iou_threshold: Minimum IoU for two boxes to match in compare mode.
        mode: ``"single"`` or ``"gallery"``.
        index: Row shown first.
        skeleton: Keypoint skeleton as joint-name pairs; default: the project's
            configuration (``keypoints`` + ``skeleton``), else COCO Person-17.
        project: Project whose configuration holds the skeleton (default: the frame's
            ``project`` column).
        gallery_size: Thumbnails per gallery page.
        image_format: How drawn images are sent: ``"auto"`` (default) sends a JPEG photo
            as a JPEG (quality 90 at full colour resolution: no visible loss, a tenth of a
            PNG's encoding time) and anything else (PNG, TIFF... sources, placeholders) as
            an exact PNG; ``"png"`` always sends exact PNGs (to compare pixels);
            ``"jpeg"`` always JPEGs. Also a trait: setting it redraws.
        cache_dir: Where images are downloaded (default: the client's ``cache_dir``).

    Raises:
        InvalidInputError: A bad argument, before anything is fetched.

    Example:
        >>> tasks = client.list_tasks({"project": 1}, list_all=True)
        >>> preview = AnnotationPreview(tasks.head(50)).load()
        >>> preview.index = 3; preview.show_labels = False
        >>> preview.current_id
        7
        >>> preview.mode = "gallery"
        >>> preview.page, preview.page_count
        (0, 3)
    """

    index = Int(0, help="Position (0-based) of the row shown in the single view").tag(sync=True)
    mode = CaselessStrEnum(
        ("single", "gallery"), "single", help="single image or a grid of thumbnails"
    ).tag(sync=True)
    page = Int(0, help="Gallery page (0-based)").tag(sync=True)
    gallery_size = Int(24, help="Thumbnails per gallery page").tag(sync=True)
    show_labels = Bool(True, help="Draw class labels (with scores and IoU)").tag(sync=True)
    hidden_classes = List(Unicode(), help="Classes not drawn (legend checkboxes)").tag(sync=True)
    iou_threshold = Float(0.5, help="Compare mode: minimum IoU of a match").tag(sync=True)
    image_format = CaselessStrEnum(
        IMAGE_FORMATS,
        "auto",
        help="Images sent as 'auto' (JPEG for JPEG sources, else PNG), 'png' or 'jpeg'",
    ).tag(sync=True)
    min_score = Float(0.0, help="Hide annotations whose score (confidence) is below this").tag(
        sync=True
    )
    visible_ids = List(
        Unicode(),
        read_only=True,
        help="Annotations drawn in the single view, as 'source:id' (after label filters)",
    ).tag(sync=True)
    highlighted = List(
        Unicode(),
        read_only=True,
        help="Highlighted annotations of the row in the single view, as 'source:id'",
    ).tag(sync=True)
    classes = List(
        Unicode(), read_only=True, help="Classes in the current view (legend entries)"
    ).tag(sync=True)
    compare_counts = Dict(
        read_only=True,
        help="Compare mode: matched/missed/extra counts of the current view, and per class",
    ).tag(sync=True)
    current_id = AnyTrait(None, read_only=True, help="Id of the row in the single view").tag(
        sync=True
    )
    row_count = Int(0, read_only=True, help="Rows in the frame").tag(sync=True)
    loaded = Bool(False, read_only=True, help="Loaded: first display or load() done").tag(sync=True)

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        client: Any = None,
        compare: pd.DataFrame | None = None,
        compare_labels: Sequence[str] | None = None,
        iou_threshold: float = 0.5,
        mode: str = "single",
        index: int = 0,
        skeleton: Sequence[Sequence[str]] | None = None,
        project: int | None = None,
        gallery_size: int = 24,
        image_format: str = "auto",
        cache_dir: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        check_widget_options(type(self), kwargs)
        if client is None and isinstance(frame, pd.DataFrame):
            try:
                client = client_for(frame)
            except InvalidInputError:
                client = None
        if client is not None:
            client = as_client(client, "AnnotationPreview")
        self._source = _Source(frame, client, "frame")
        self._other = _Source(compare, client, "compare") if compare is not None else None
        if image_format not in IMAGE_FORMATS:
            raise _invalid("image_format", image_format, f"must be one of {list(IMAGE_FORMATS)}")
        if project is not None and (isinstance(project, bool) or not isinstance(project, int)):
            raise _invalid("project", project, "must be a project id (int)")
        self._labels = self._source_labels(compare_labels)
        self._skeleton = self._check_skeleton(skeleton)
        self._project = project if project is not None else self._source.project
        self._client = client
        directory = cache_dir or (client.cache_dir if client is not None else None)
        if directory is None:
            from synapse_nb._config import default_cache_dir

            directory = default_cache_dir()
        self._images = _Images(Path(directory))
        self._row_callbacks = widgets.CallbackDispatcher()
        self._thumbs: list[tuple[widgets.Image, widgets.Button]] = []
        self._cells: list[widgets.VBox] = []
        self._class_rows: dict[str, widgets.HBox] = {}
        self._rendering = False
        self._highlights: dict[Any, frozenset[tuple[str, str]]] = {}
        self._shown: dict[Any, frozenset[tuple[str, str]]] | None = None
        #: milliseconds of the last render (single view: one image; gallery: the page)
        self.last_render_ms = 0.0
        self._build_controls()
        super().__init__(children=self._layout(), **kwargs)
        self.set_trait("row_count", len(self._source))
        options = {"image_format": image_format, "gallery_size": gallery_size,
                   "iou_threshold": iou_threshold, "mode": mode, "index": index}  # fmt: skip
        for name, value in options.items():
            try:
                setattr(self, name, value)
            except TraitError as exc:  # the trait's own check, as an error naming the option
                self.close()
                problem = _trait_problem(exc)
                raise PreviewOptionError(name, value, problem, method="AnnotationPreview") from None
        # linked after the widget exists, so the controls take the widget's values
        widgets.link((self, "mode"), (self._mode_toggle, "value"))
        widgets.link((self, "show_labels"), (self._labels_box, "value"))
        widgets.link((self, "iou_threshold"), (self._iou_slider, "value"))
        widgets.link((self, "min_score"), (self._score_slider, "value"))

    # ------------------------------------------------------------------ validation
    def _source_labels(self, labels: Sequence[str] | None) -> tuple[str, str]:
        if labels is None:
            a = self._source.version or "A"
            b = (self._other.version if self._other else None) or "B"
            return (f"{a} (A)", f"{b} (B)") if a == b else (a, b)
        if (
            isinstance(labels, str)
            or not isinstance(labels, Sequence)
            or len(labels) != 2
            or not all(isinstance(v, str) and v for v in labels)
        ):
            raise _invalid("compare_labels", labels, "must be two non-empty names")
        return labels[0], labels[1]

    @staticmethod
    def _check_skeleton(skeleton: Any) -> tuple[tuple[str, str], ...] | None:
        if skeleton is None:
            return None
        ok = isinstance(skeleton, Sequence) and not isinstance(skeleton, str)
        pairs = list(skeleton) if ok else []
        if not ok or not all(
            isinstance(e, Sequence)
            and not isinstance(e, str)
            and len(e) == 2
            and all(isinstance(n, str) for n in e)
            for e in pairs
        ):
            raise _invalid("skeleton", skeleton, "must be a list of (joint, joint) name pairs")
        return tuple((a, b) for a, b in pairs)

    @validate("index")
    def _valid_index(self, proposal: Any) -> int:
        value = proposal["value"]
        count = len(self._source)
        if count and not 0 <= value < count:
            raise TraitError(f"index={value!r} is outside the frame's rows 0..{count - 1}")
        return value

    @validate("page")
    def _valid_page(self, proposal: Any) -> int:
        value = proposal["value"]
        if not 0 <= value < self.page_count:
            raise TraitError(
                f"page={value!r} is outside the gallery pages 0..{self.page_count - 1}"
            )
        return value

    @validate("gallery_size")
    def _valid_gallery_size(self, proposal: Any) -> int:
        value = proposal["value"]
        if not 1 <= value <= 200:
            raise TraitError(f"gallery_size={value!r} must be between 1 and 200")
        return value

    @validate("min_score")
    def _valid_min_score(self, proposal: Any) -> float:
        value = proposal["value"]
        if not 0.0 <= value <= 1.0:
            raise TraitError(f"min_score={value!r} must be between 0 and 1")
        return value

    @validate("iou_threshold")
    def _valid_iou(self, proposal: Any) -> float:
        value = proposal["value"]
        if not 0.0 <= value <= 1.0:
            raise TraitError(f"iou_threshold={value!r} must be between 0 and 1")
        return value

    # ------------------------------------------------------------------ layout
    def _build_controls(self) -> None:
        self._prev = widgets.Button(description="◀ prev", layout=widgets.Layout(width="90px"))
        self._next = widgets.Button(description="next ▶", layout=widgets.Layout(width="90px"))
        self._position = widgets.HTML()
        self._mode_toggle = widgets.ToggleButtons(
            options=[("single", "single"), ("gallery", "gallery")],
            style={"button_width": "70px"},
        )
        self._labels_box = widgets.Checkbox(description="labels", indent=False)
        self._labels_box.layout.width = "80px"
        self._iou_slider = widgets.FloatSlider(
            min=0.0, max=1.0, step=0.05, description="IoU ≥", readout_format=".2f"
        )
        self._score_slider = widgets.FloatSlider(
            min=0.0, max=1.0, step=0.05, description="score ≥", readout_format=".2f"
        )
        self._score_slider.add_class("snb-score-slider")
        self._image = widgets.Image(format="png")
        self._image.layout.max_width = "100%"
        self._image.add_class("snb-preview-image")
        self._legend = widgets.VBox(layout=widgets.Layout(min_width="250px", padding="0 8px"))
        self._legend.add_class("snb-preview-legend")
        self._body = widgets.HBox([self._image, self._legend])
        self._grid = widgets.GridBox(
            layout=widgets.Layout(
                # as many columns as fit beside the legend
                grid_template_columns=f"repeat(auto-fill, {THUMB_SIZE[0] + 4}px)",
                grid_gap="4px",
                flex="1 1 auto",
            )
        )
        self._grid.add_class("snb-preview-gallery")
        self._status = widgets.HTML()
        self._compare_html = widgets.HTML()
        self._compare_html.add_class("snb-compare-counts")
        self._prev.on_click(lambda _b: self.previous())
        self._next.on_click(lambda _b: self.next())

    def _layout(self) -> list[widgets.Widget]:
        bar = [self._prev, self._next, self._position, self._mode_toggle, self._labels_box]
        if self._other is not None:
            bar += [self._iou_slider, self._score_slider]
        toolbar = widgets.HBox(bar, layout=widgets.Layout(align_items="center"))
        return [toolbar, self._body, self._status]

    # ------------------------------------------------------------------ public API
    @property
    def page_count(self) -> int:
        """Number of gallery pages.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> AnnotationPreview(tasks.head(50), gallery_size=24).page_count
            3
        """
        return max(1, -(-len(self._source) // self.gallery_size))

    @property
    def compare_mode(self) -> bool:
        """Whether a second source is compared with the first.

        Example:
            >>> gt = client.list_ground_truth_events({"ground_truth_dataset_versions": [1]})
            >>> preds = client.list_ground_truth_events({"ground_truth_dataset_versions": [3]})
            >>> AnnotationPreview(gt, compare=preds).compare_mode
            True
            >>> AnnotationPreview(gt).compare_mode
            False
        """
        return self._other is not None

    def load(self) -> AnnotationPreview:
        """Fetch what the current view needs and draw it (also done on first display).

        Returns:
            The widget, so ``AnnotationPreview(df).load()`` displays a loaded widget.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> AnnotationPreview(tasks).load().current_id
            1
        """
        if not self._loaded:
            if self._skeleton is None:
                self._skeleton = self._project_skeleton()
            self._loaded = True
            self.set_trait("loaded", True)
        self._refresh()
        return self

    def _show_load_error(self, exc: Exception) -> None:
        self._status.value = error_html(f"could not load the preview: {exc}")

    def next(self) -> None:
        """Show the next row (single view) or the next page (gallery); stops at the end.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> preview = AnnotationPreview(tasks.head(5)).load()
            >>> preview.next()
            >>> preview.index, preview.current_id
            (1, 3)
        """
        if self.mode == "gallery":
            self.page = min(self.page + 1, self.page_count - 1)
        elif len(self._source):
            self.index = min(self.index + 1, len(self._source) - 1)

    def previous(self) -> None:
        """Show the previous row (single view) or page (gallery); stops at the start.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> preview = AnnotationPreview(tasks.head(5), index=2).load()
            >>> preview.previous()
            >>> preview.index
            1
        """
        if self.mode == "gallery":
            self.page = max(self.page - 1, 0)
        else:
            self.index = max(self.index - 1, 0)

    def select(self, row_id: Any) -> None:
        """Show the row whose id is ``row_id`` in the single view.

        Raises:
            InvalidInputError: No row of the frame has this id.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> preview = AnnotationPreview(tasks.head(5), mode="gallery").load()
            >>> preview.select(7)
            >>> preview.mode, preview.index
            ('single', 3)
        """
        for position, row in enumerate(self._source.rows):
            if row.id == row_id:
                self.mode = "single"
                self.index = position
                return
        raise _invalid("row_id", row_id, "is not the id of a row of the frame")

    def set_frame(
        self,
        frame: pd.DataFrame,
        compare: pd.DataFrame | None = None,
        *,
        highlight: Mapping[Any, Iterable[tuple[str, Any]]] | None = None,
        show_only: Mapping[Any, Iterable[tuple[str, Any]]] | None = None,
    ) -> None:
        """Show other rows in this widget (first row, single view), drawing once.

        Reusing the widget is what keeps a click that changes the rows fast: the controls
        and legend stay, only the image is drawn again.

        Args:
            frame: The new rows (as the constructor's ``frame``).
            compare: The new second source; needed exactly when the widget compares.
            highlight: As :meth:`highlight`, for the new rows.
            show_only: As :meth:`show_only`, for the new rows.

        Example:
            >>> gt = client.list_ground_truth_events({"ground_truth_dataset_versions": [1]})
            >>> preview = AnnotationPreview(gt.head(3)).load()
            >>> preview.set_frame(gt.tail(2))
            >>> preview.row_count, bool(preview.current_id == gt.index[-2])
            (2, True)
        """
        source = _Source(frame, self._client, "frame")
        if (compare is None) != (self._other is None):
            raise _invalid(
                "compare", None if compare is None else "<frame>",
                "must be given exactly when the widget was created with compare=",
            )  # fmt: skip
        other = _Source(compare, self._client, "compare") if compare is not None else None
        highlights = self._check_pairs(highlight, "highlight") or {}
        shown = self._check_pairs(show_only, "show_only")
        self._rendering = True  # the trait resets below must not draw the old rows
        try:
            self._source, self._other = source, other
            self._highlights, self._shown = highlights, shown
            self.set_trait("row_count", len(source))
            self.mode = "single"
            self.index = 0
            self.page = 0
        finally:
            self._rendering = False
        if self._loaded:
            self._refresh()

    def highlight(self, annotations: Mapping[Any, Iterable[tuple[str, Any]]] | None) -> None:
        """Frame chosen annotations of each row in :data:`HIGHLIGHT` (None clears).

        Args:
            annotations: Row id -> ``(source, annotation id)`` pairs; source ``a`` is the
                frame, ``b`` the ``compare=`` frame.

        Example:
            >>> gt = client.list_ground_truth_events({"ground_truth_dataset_versions": [1]})
            >>> preview = AnnotationPreview(gt).load()
            >>> preview.highlight({preview.current_id: [("a", "bbox_0001")]})
            >>> preview.highlighted
            ['a:bbox_0001']
        """
        self._highlights = self._check_pairs(annotations, "annotations") or {}
        if self._loaded:
            self._refresh()

    def show_only(self, annotations: Mapping[Any, Iterable[tuple[str, Any]]] | None) -> None:
        """Draw only these annotations of each row (None draws all again).

        A row missing from ``annotations`` shows no annotation.

        Args:
            annotations: Row id -> ``(source, annotation id)`` pairs, as in :meth:`highlight`.

        Example:
            >>> gt = client.list_ground_truth_events({"ground_truth_dataset_versions": [1]})
            >>> preview = AnnotationPreview(gt).load()
            >>> preview.show_only({preview.current_id: [("a", "bbox_0001")]})
            >>> preview.classes
            ['car']
        """
        self._shown = self._check_pairs(annotations, "annotations")
        if self._loaded:
            self._refresh()

    @staticmethod
    def _check_pairs(annotations: Any, field: str) -> dict[Any, frozenset[tuple[str, str]]] | None:
        if annotations is None:
            return None
        if not isinstance(annotations, Mapping):
            raise _invalid(field, type(annotations).__name__, "must map row ids to pairs")
        out: dict[Any, frozenset[tuple[str, str]]] = {}
        for row_id, pairs in annotations.items():
            checked = set()
            for pair in pairs:
                if not (isinstance(pair, tuple) and len(pair) == 2 and pair[0] in _SOURCES):
                    raise _invalid(field, pair, "must be (source 'a' or 'b', annotation id)")
                checked.add((pair[0], str(pair[1])))
            out[row_id] = frozenset(checked)
        return out

    def _visible(self, row_id: Any, shapes: list[Shape]) -> list[Shape]:
        """The shapes the label-level view keeps (``show_only`` and ``min_score``)."""
        allowed = None if self._shown is None else self._shown.get(row_id, frozenset())
        return [
            s
            for s in shapes
            if (allowed is None or (s.source, str(s.ann_id)) in allowed)
            and (s.score is None or s.score >= self.min_score)
        ]

    def _draw_highlights(
        self, image: Image.Image, row_id: Any, shapes: Sequence[Shape], source_size: tuple[int, int]
    ) -> list[str]:
        chosen = self._highlights.get(row_id, frozenset())
        if not chosen:
            return []
        sx, sy = image.width / max(source_size[0], 1), image.height / max(source_size[1], 1)
        draw = ImageDraw.Draw(image)
        width = max(3, round(min(image.size) / 200))
        found = []
        for shape in shapes:
            key = (shape.source, str(shape.ann_id))
            box = shape.box()
            if key not in chosen or box is None or shape.label in self.hidden_classes:
                continue
            x, y, w, h = box
            pad = width + 1
            draw.rectangle(
                [x * sx - pad, y * sy - pad, (x + w) * sx + pad, (y + h) * sy + pad],
                outline=HIGHLIGHT,
                width=width,
            )
            found.append(f"{key[0]}:{key[1]}")
        return sorted(found)

    def on_row_change(self, callback: Callable[[AnnotationPreview], Any], remove: bool = False):
        """Register ``callback(preview)`` to run when the single view shows another row.

        Args:
            callback: Called with the widget; read ``current_id`` for the row's id.
            remove: Unregister ``callback`` instead.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> preview = AnnotationPreview(tasks.head(5)).load()
            >>> preview.on_row_change(lambda p: print("showing", p.current_id))
            >>> preview.next()
            showing 3
        """
        checked = check_callback(callback, "AnnotationPreview.on_row_change")
        self._row_callbacks.register_callback(checked, remove=remove)

    def comparison(self) -> CompareResult | None:
        """The compare result of the row in the single view (None without ``compare=``).

        Example:
            >>> gt = client.list_ground_truth_events({"ground_truth_dataset_versions": [1]})
            >>> preds = client.list_ground_truth_events({"ground_truth_dataset_versions": [3]})
            >>> preview = AnnotationPreview(gt, compare=preds).load()
            >>> preview.comparison().counts()
            {'matched': 6, 'missed': 2, 'extra': 3}
        """
        if self._other is None or not len(self._source):
            return None
        self._source.ensure_docs([self.index])
        return self._compare_row(self.index)

    def close(self) -> None:
        """Close the widget and its children; stop background downloads.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> preview = AnnotationPreview(tasks.head(5)).load()
            >>> preview.close()
            >>> preview.comm is None
            True
        """
        images = getattr(self, "_images", None)  # absent when __init__ refused its input
        if images is not None:
            images.close()
        for image, button in getattr(self, "_thumbs", ()):
            image.close()
            button.close()
        for cell in getattr(self, "_cells", ()):
            cell.close()
        for row in getattr(self, "_class_rows", {}).values():
            for child in row.children:
                child.close()
            row.close()
        super().close()

    # ------------------------------------------------------------------ observers
    @observe(
        "index",
        "mode",
        "page",
        "show_labels",
        "hidden_classes",
        "iou_threshold",
        "min_score",
        "image_format",
    )
    def _on_view_change(self, change: Any) -> None:
        if change["name"] == "index" and self.mode == "single":
            self.page = self.index // self.gallery_size
        if self._loaded:
            self._refresh()

    @observe("gallery_size")
    def _on_gallery_size(self, change: Any) -> None:
        self.page = min(self.index // change["new"], self.page_count - 1)
        if self._loaded and self.mode == "gallery":
            self._refresh()

    # ------------------------------------------------------------------ rendering
    def _refresh(self) -> None:
        if self._rendering:
            return  # a trait set while rendering (page follows index) must not recurse
        self._rendering = True
        try:
            if self.mode == "gallery":
                self._render_gallery()
            else:
                self._render_single()
        except Exception as exc:  # shown in the widget: an observer must not raise
            self._status.value = error_html(str(exc))
        finally:
            self._rendering = False

    def _options(self, show_labels: bool) -> RenderOptions:
        return RenderOptions(
            hidden=frozenset(self.hidden_classes),
            show_labels=show_labels,
            skeleton=self._skeleton,
        )

    def _compare_row(self, position: int) -> CompareResult:
        assert self._other is not None
        a = shapes_from_doc(self._source.doc(position))
        other = self._other.position_of_unit(self._source.rows[position].data_unit)
        b = shapes_from_doc(self._other.doc(other)) if other is not None else []
        # predictions under the confidence threshold take no part in the matching
        b = [s for s in b if s.score is None or s.score >= self.min_score]
        return match_shapes(a, b, self.iou_threshold)

    def _ensure_compare_docs(self, positions: Sequence[int]) -> None:
        if self._other is None:
            return
        found = [self._other.position_of_unit(self._source.rows[p].data_unit) for p in positions]
        self._other.ensure_docs([p for p in found if p is not None])

    def _picture(self, position: int, size: tuple[int, int], show_labels: bool) -> _Picture:
        """One row drawn and encoded, with its shapes, comparison, error note and highlights."""
        row = self._source.rows[position]
        if self._other is not None:
            compared = self._compare_row(position)
            result: CompareResult | None = compared
            shapes = compared.shapes()
        else:
            result = None
            shapes = shapes_from_doc(self._source.doc(position))
            flags = self._source.flags.get(row.id, {})
            for shape in shapes:
                if shape.ann_id in flags and shape.tool != "keypoint":
                    shape.flag = flags[shape.ann_id]
        shapes = self._visible(row.id, shapes)
        shown, problem = self._base_image(row, size)
        drawn = render(
            shown.image, shapes, source_size=shown.source_size, options=self._options(show_labels)
        )
        lit = self._draw_highlights(drawn, row.id, shapes, shown.source_size)
        fmt = display_format(self.image_format, shown.source_format)
        return _Picture(encode_image(drawn, fmt), fmt, shapes, result, problem, lit)

    def _base_image(self, row: _Row, size: tuple[int, int]) -> tuple[DisplayImage, str | None]:
        """The row's image at display size, or a placeholder and why.

        Shapes are drawn on a placeholder in the frame's own coordinates; it has no source
        format (so ``"auto"`` sends it as a PNG).
        """
        frame_size = (row.width or size[0], row.height or size[1])
        if row.url is None:
            blank = placeholder(size, f"row {row.id}: no image")
            return DisplayImage(blank, frame_size, None), f"row {row.id} has no image URL"
        try:
            return self._images.display(row.url, size), None
        except Exception as exc:
            blank = placeholder(size, f"row {row.id}:\nimage failed")
            return DisplayImage(blank, frame_size, None), f"row {row.id}: {exc}"

    @staticmethod
    def _show(image: widgets.Image, data: bytes, fmt: str) -> None:
        """Put new bytes into an Image widget; its format trait goes with them in one message."""
        with image.hold_sync():
            image.format = fmt
            image.value = data

    def _render_single(self) -> None:
        self._body.children = [self._image, self._legend]
        if not len(self._source):
            fmt = display_format(self.image_format, None)
            self._show(self._image, encode_image(placeholder(THUMB_SIZE, "no rows"), fmt), fmt)
            self._position.value = "no rows"
            self._status.value = note_html("the frame has no rows")
            return
        started = time.perf_counter()
        position = self.index
        window = range(position, min(position + DATA_BATCH, len(self._source)))
        self._source.ensure_docs(window)
        self._ensure_compare_docs(list(window))
        picture = self._picture(position, SINGLE_SIZE, self.show_labels)
        self._show(self._image, picture.data, picture.fmt)
        shapes, result, problem = picture.shapes, picture.result, picture.problem
        self.set_trait("highlighted", picture.lit)
        self.set_trait("visible_ids", sorted(f"{s.source}:{s.ann_id}" for s in shapes))
        self.last_render_ms = (time.perf_counter() - started) * 1000
        row = self._source.rows[position]
        previous_id = self.current_id
        self.set_trait("current_id", row.id)
        self._position.value = (
            f"<b>{position + 1}</b> / {len(self._source)} · "
            f"{html.escape(str(self._source.kind or 'row'))} {html.escape(str(row.id))}"
        )
        self._update_legend(shapes, [result] if result is not None else [])
        self._status.value = error_html(problem) if problem else ""
        rows = self._source.rows
        ahead = range(max(position - PREFETCH, 0), min(position + PREFETCH + 1, len(rows)))
        self._images.prefetch(rows[p].url for p in ahead if p != position)
        if previous_id != row.id:
            self._row_callbacks(self)

    def _ensure_thumbs(self) -> None:
        while len(self._thumbs) < self.gallery_size:
            width, height = THUMB_SIZE
            image = widgets.Image(
                format="png",
                # a fixed cell: portrait and landscape thumbnails line up, never upscaled
                layout=widgets.Layout(
                    width=f"{width}px", height=f"{height}px", object_fit="scale-down"
                ),
            )
            image.add_class("snb-preview-thumb")
            button = widgets.Button(layout=widgets.Layout(width=f"{THUMB_SIZE[0]}px"))
            slot = len(self._thumbs)
            button.on_click(lambda _b, slot=slot: self._open_thumb(slot))
            self._thumbs.append((image, button))
            self._cells.append(widgets.VBox([image, button]))

    def _open_thumb(self, slot: int) -> None:
        position = self.page * self.gallery_size + slot
        if position < len(self._source):
            self.mode = "single"
            self.index = position

    def _render_gallery(self) -> None:
        started = time.perf_counter()
        self._ensure_thumbs()
        first = self.page * self.gallery_size
        positions = list(range(first, min(first + self.gallery_size, len(self._source))))
        self._source.ensure_docs(positions)
        self._ensure_compare_docs(positions)
        pictures = self._images.map(lambda p: self._picture(p, THUMB_SIZE, False), positions)
        all_shapes: list[Shape] = []
        results: list[CompareResult] = []
        problems = []
        for slot, (position, picture) in enumerate(zip(positions, pictures, strict=True)):
            image, button = self._thumbs[slot]
            self._show(image, picture.data, picture.fmt)
            shapes, result, problem = picture.shapes, picture.result, picture.problem
            row = self._source.rows[position]
            caption = f"{position + 1} · id {row.id}"
            if result is not None:
                c = result.counts()
                caption = f"{row.id}: ✓{c['matched']} ✗{c['missed']} +{c['extra']}"
            button.description = caption
            button.tooltip = f"open {self._source.kind or 'row'} {row.id}"
            all_shapes.extend(shapes)
            if result is not None:
                results.append(result)
            if problem:
                problems.append(problem)
        self._grid.children = self._cells[: len(positions)]
        self._body.children = [self._grid, self._legend]
        last = positions[-1] + 1 if positions else 0
        self._position.value = (
            f"page <b>{self.page + 1}</b> / {self.page_count} · rows {first + 1}-{last} "
            f"of {len(self._source)}"
        )
        self._update_legend(all_shapes, results)
        self._status.value = error_html("; ".join(problems[:3])) if problems else ""
        self.last_render_ms = (time.perf_counter() - started) * 1000

    # ------------------------------------------------------------------ legend
    def _update_legend(self, shapes: Sequence[Shape], results: Sequence[CompareResult]) -> None:
        present = sorted({s.label for s in shapes if s.label} | set(self.hidden_classes))
        self.set_trait("classes", present)
        counts: dict[str, int] = {}
        skeletons: set[tuple[str, Any]] = set()
        for shape in shapes:
            if shape.status == "matched" and shape.source == "b":
                continue  # a matched pair is one object
            if shape.tool == "keypoint":
                key = (shape.label, shape.group or shape.ann_id)
                if key in skeletons:
                    continue  # a skeleton is one object, however many joints it has
                skeletons.add(key)
            counts[shape.label] = counts.get(shape.label, 0) + 1
        rows: list[widgets.Widget] = []
        if self._other is not None:
            rows.append(self._compare_legend(results))
        for label in present:
            row = self._class_rows.get(label)
            if row is None:
                box = widgets.Checkbox(indent=False, layout=widgets.Layout(width="28px"))
                box.observe(self._on_class_toggle, "value")
                box.add_class("snb-class-toggle")
                box._snb_label = label
                # the name takes the rest of the row and wraps: a long class name is never cut
                name = widgets.HTML(layout=widgets.Layout(flex="1 1 auto", min_width="0"))
                name.add_class("snb-class-name")
                row = widgets.HBox([box, name], layout=widgets.Layout(align_items="center"))
                row.add_class("snb-class-row")
                self._class_rows[label] = row
            box, name = row.children
            box.value = label not in self.hidden_classes
            # the description lives in HTML: a checkbox label is cut at a fixed width
            name.value = (
                f"<div style='{_WRAP}'>{_swatch(class_color(label))} {html.escape(label)} "
                f"<span style='color:#777'>({counts.get(label, 0)})</span></div>"
            )
            rows.append(row)
        self._legend.children = rows

    def _compare_legend(self, results: Sequence[CompareResult]) -> widgets.Widget:
        totals = {"matched": 0, "missed": 0, "extra": 0}
        per_class: dict[str, dict[str, int]] = {}
        hidden = set(self.hidden_classes)
        for result in results:
            for label, counts in result.by_class().items():
                if label in hidden:
                    continue
                slot = per_class.setdefault(label, {"matched": 0, "missed": 0, "extra": 0})
                for key, value in counts.items():
                    slot[key] += value
                    totals[key] += value
        self.set_trait(
            "compare_counts",
            {**totals, "threshold": self.iou_threshold, "by_class": per_class},
        )
        a, b = (html.escape(x) for x in self._labels)
        meaning = {
            "matched": f"in {a} and {b}",
            "missed": f"only in {a}",
            "extra": f"only in {b}",
        }
        lines = "".join(
            f"<div>{_swatch(STATUS_COLORS[k])} <b>{k}</b> {totals[k]}<br>"
            f"<span style='color:#777;font-size:90%'>{meaning[k]}</span></div>"
            for k in ("matched", "missed", "extra")
        )
        title = f"<div><b>{a}</b> vs <b>{b}</b><br>IoU ≥ {self.iou_threshold:.2f}</div>"
        self._compare_html.value = title + lines
        return self._compare_html

    def _on_class_toggle(self, change: Any) -> None:
        label = getattr(change["owner"], "_snb_label", None)
        if label is None or self._rendering:
            return
        hidden = [c for c in self.hidden_classes if c != label]
        if not change["new"]:
            hidden.append(label)
        self.hidden_classes = sorted(hidden)

    # ------------------------------------------------------------------ configuration
    def _project_skeleton(self) -> tuple[tuple[str, str], ...] | None:
        if self._project is None or self._client is None:
            return None
        try:
            project = self._client.get_project(self._project)
        except Exception:  # the skeleton is a nicety: fall back to COCO Person-17
            return None
        configuration = project.get("configuration") if isinstance(project, Mapping) else None
        classes = (
            (configuration or {}).get("classes") if isinstance(configuration, Mapping) else None
        )
        if isinstance(classes, list):
            register_classes(c for c in classes if isinstance(c, str))
        return skeleton_from_configuration(configuration)


def preview(frame: pd.DataFrame, client: Any = None, **options: Any) -> AnnotationPreview:
    """Open an :class:`AnnotationPreview` on ``frame`` (what ``df.synapse.preview()`` calls;
    :mod:`synapse_nb.widgets` registers it).

    Args:
        frame: A task, assignment or ground-truth-event frame.
        client: Client to fetch with (default: the frame's).
        **options: Any :class:`AnnotationPreview` keyword.

    Example:
        >>> tasks = client.list_tasks({"project": 1}, list_all=True)
        >>> widget = preview(tasks.head(24), mode="gallery")
        >>> widget.mode, widget.page_count
        ('gallery', 1)
    """
    return AnnotationPreview(frame, client=client, **options)
