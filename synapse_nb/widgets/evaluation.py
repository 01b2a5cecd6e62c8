"""``EvaluationPanel``: the review loop of a model evaluation in one widget.

::

    ┌ metrics (COCO summary) ┬ AP per class (bars) ┬ precision-recall curves ────────────┐
    ├ confusion matrix: one button per (true class, predicted class), background row/col ┤
    ├ the tasks of the clicked cell (FilterPanel) ─────┬ one-click tag · TagEditor ──────┤
    ├ label view: TP / FP / FN · classes · score ≥ ──────────────────────────────────────┤
    └ AnnotationPreview in compare mode (ground truth vs predictions), cell highlighted ─┘

Clicking a cell (ground truth ``car`` predicted ``truck``, or ``person`` missed: the
``background`` column) filters the table to the tasks whose images hold that confusion,
opens the preview on them in compare mode with exactly the cell's annotations framed in
:data:`~synapse_nb.widgets.preview.HIGHLIGHT`, and points the tag editor and the one-click
tag button (``needs-review`` by default) at those tasks. Everything the browser does is a
method here too (:meth:`EvaluationPanel.select_cell`, :meth:`EvaluationPanel.tag_cell`,
:meth:`EvaluationPanel.show_labels`), so the loop is scriptable and testable without one.

What the panel needs from the evaluation: an
:class:`~synapse_nb.evaluation.EvaluationResult` (bbox or segm), the task frame the evaluated
images belong to (``file_url`` for the preview; a frame from the client for tagging), and
``images``, a map from the COCO image id used in the evaluation to the task id. Annotations
are the result's own (COCO ids, boxes, scores), listed by
:func:`~synapse_nb.frames.label_filters.evaluation_labels`; the preview draws those boxes, so
what is highlighted is exactly what was counted.

Example:
    >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
    >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(2)
    >>> gt, preds = coco_from_per_image(
    ...     {1: [{"label": "car", "bbox": [10, 10, 80, 60]}], 3: []},
    ...     {1: [{"label": "truck", "bbox": [10, 10, 80, 60], "score": 0.7}],
    ...      3: [{"label": "car", "bbox": [5, 5, 20, 20], "score": 0.4}]})
    >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1, 2: 3})
    >>> panel.select_cell("car", "truck").index.tolist()
    [1]
    >>> panel.preview.highlighted
    ['a:1', 'b:1']
    >>> panel.select_cell("background", "car").index.tolist()
    [3]
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
from traitlets import Float, List, Tuple, Unicode

from synapse_nb.evaluation import EvaluationResult
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.client import as_client, client_for
from synapse_nb.frames.label_filters import (
    BACKGROUND,
    cell_mask,
    evaluation_labels,
    label_mask,
)
from synapse_nb.widgets._display import (
    LoadOnDisplay,
    check_callback,
    check_widget_options,
    error_html,
    muted,
    note_html,
    plural,
)
from synapse_nb.widgets.filter import FilterPanel
from synapse_nb.widgets.filter_ids import check_ids
from synapse_nb.widgets.tags import TagChange, TagEditor

__all__ = ["EvaluationPanel"]

#: Table columns of the cell's tasks.
COLUMNS = ("status", "tag_names", "file_name")
#: Statuses the label view offers.
VIEW_STATUSES = ("TP", "FP", "FN")
#: Cell colours: diagonal (agreement) and off-diagonal (errors), scaled by count.
_DIAGONAL, _ERROR = (46, 125, 50), (198, 40, 40)


def _invalid(field: str, value: Any, problem: str) -> InvalidInputError:
    return InvalidInputError(field, value, problem, method="EvaluationPanel")


def _cell_color(count: int, peak: int, diagonal: bool) -> str:
    if count == 0:
        return "#f5f5f5"
    share = 0.25 + 0.75 * count / max(peak, 1)
    r, g, b = (round(255 - (255 - c) * share) for c in (_DIAGONAL if diagonal else _ERROR))
    return f"#{r:02x}{g:02x}{b:02x}"


def _png(draw: Callable[[Any], Any], size: tuple[float, float]) -> bytes:
    """A matplotlib drawing as PNG bytes (a bare Figure: no pyplot state, no inline output)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, layout="constrained")
    draw(figure.subplots())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


class EvaluationPanel(LoadOnDisplay, widgets.VBox):
    """Metrics, per-class AP, PR curves and a clickable confusion matrix linked to the tasks
    table, a compare-mode preview and the tag editor.

    Args:
        result: A bbox or segm :class:`~synapse_nb.evaluation.EvaluationResult`.
        tasks: Task frame holding every evaluated image's task (index = task id,
            ``file_url`` column); a frame from the client when tags are to be applied.
            Leave out with ``images`` for a result of ``client.evaluate`` (see
            :meth:`from_client`): both are then found from the result's data units.
        images: COCO image id (as in the evaluation inputs) -> task id.
        client: Client for tagging (default: the client that listed ``tasks``).
        project: Without ``tasks``: only tasks of this project.
        iou: IoU threshold of the confusion matrix and the label statuses.
        tag: Name of the tag the one-click button applies.
        preview_rows: Most tasks (worst first) opened in the preview per cell; rows
            checked in the table open in the preview too.
        page_size: Rows per table page.

    Attributes:
        labels: Every annotation with its status (see
            :func:`~synapse_nb.frames.label_filters.evaluation_labels`).
        matrix: The confusion matrix (counts; last row/column ``background``).
        table: The :class:`~synapse_nb.widgets.FilterPanel` of the cell's tasks.
        project: The project of ``tasks`` when they all have one (else None).
        tags: The :class:`~synapse_nb.widgets.TagEditor` on the cell's tasks.
        preview: The compare-mode ``AnnotationPreview`` of the cell (None before a click).
        last_select_ms: Milliseconds of the last :meth:`select_cell`.

    Raises:
        InvalidInputError: A bad argument, before anything is drawn or sent.

    Example:
        >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
        >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(1)
        >>> gt, preds = coco_from_per_image({1: [{"label": "dog", "bbox": [0, 0, 50, 50]}]},
        ...     {1: [{"label": "dog", "bbox": [0, 0, 50, 50], "score": 0.9}]})
        >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1})
        >>> panel.matrix.loc["dog", "dog"], panel.cell_count("dog", "background")
        (np.int64(1), 0)
    """

    selected_cell = Tuple(help="(true class, predicted class) of the clicked cell; () if none")
    view_status = List(Unicode(), help="Label view: statuses drawn (TP, FP, FN)").tag(sync=True)
    view_classes = List(Unicode(), help="Label view: classes drawn (empty: all)").tag(sync=True)
    min_score = Float(0.0, help="Label view: predictions below this score are hidden").tag(
        sync=True
    )

    def __init__(
        self,
        result: EvaluationResult,
        tasks: pd.DataFrame | None = None,
        *,
        images: Mapping[Any, Any] | pd.Series | None = None,
        client: Any = None,
        project: int | None = None,
        iou: float = 0.5,
        tag: str = "needs-review",
        preview_rows: int = 48,
        page_size: int = 20,
        **kwargs: Any,
    ) -> None:
        check_widget_options(type(self), kwargs)
        if tasks is None and images is None:  # a result of client.evaluate: ask the server
            tasks, images = self._tasks_of(result, client, project)
        elif tasks is None or images is None:
            missing = "tasks" if tasks is None else "images"
            raise _invalid(missing, None, "give tasks and images together, or neither (with "
                           "client=, for a result of client.evaluate)")
        self._check_inputs(result, tasks, tag, preview_rows)
        self.result = result
        self.iou = iou
        self.tag = tag
        self.preview_rows = preview_rows
        self.labels = evaluation_labels(result, images, iou=iou)
        self._check_tasks(tasks)
        self.tasks = tasks
        self.client = self._client(client, tasks)
        self.matrix = result.confusion_matrix(iou)
        self._task_ids = self.labels["task_id"].to_numpy(np.int64)  # sorted (by task)
        self._is_gt = (self.labels["source"] == "gt").to_numpy(bool)
        self._in_cell = np.zeros(len(self.labels), bool)
        self._preview_ids = np.zeros(0, np.int64)
        self.last_select_ms = 0.0
        self.preview: Any = None
        self._cell_rows: pd.DataFrame = tasks.iloc[0:0]
        self._cell_labels = self.labels.iloc[0:0]
        self._tag_callbacks = widgets.CallbackDispatcher()
        self._cell_callbacks = widgets.CallbackDispatcher()
        self._build(page_size)
        super().__init__(self._layout(), **kwargs)
        self.add_class("snb-evaluation")
        self.set_trait("view_status", list(VIEW_STATUSES))
        self.observe(self._on_view, ["view_status", "view_classes", "min_score"])
        self._load_when_viewed()

    def __repr__(self) -> str:
        cell = " → ".join(self.selected_cell) if self.selected_cell else "no cell"
        return f"<EvaluationPanel {self.result!r}: {cell}, {plural(len(self._cell_rows), 'task')}>"

    @classmethod
    def from_client(
        cls, client: Any, result: EvaluationResult, *, project: int | None = None,
        **options: Any,
    ) -> EvaluationPanel:
        """The panel of a ``client.evaluate(...)`` result, its tasks found on the server.

        ``client.evaluate`` numbers images by data unit id, so each image's task is its data
        unit's task (one request per 500 data units); ``EvaluationPanel(result,
        client=client)`` does the same.

        Args:
            client: The :class:`~synapse_nb.frames.Client` that evaluated (tags with it too).
            result: The :class:`~synapse_nb.evaluation.EvaluationResult` it returned.
            project: Only tasks of this project (needed when a data unit is in several).
            **options: Other arguments of the panel (``iou``, ``tag``, ``page_size``...).

        Raises:
            InvalidInputError: A result without links (not from ``client.evaluate``), a data
                unit with no task, or several tasks of one data unit and no ``project``.

        Example:
            >>> res = client.evaluate(ground_truth=2, predictions={"model": 3})
            >>> panel = EvaluationPanel.from_client(client, res)
            >>> panel.labels["task_id"].isin(panel.tasks.index).all()
            np.True_
        """
        return cls(result, client=client, project=project, **options)

    @staticmethod
    def _tasks_of(result: Any, client: Any, project: Any) -> tuple[pd.DataFrame, dict[int, int]]:
        from synapse_nb.widgets.evaluation_tasks import tasks_of_result

        if client is None:
            raise _invalid("client", None, "is needed to find the tasks of the result (or give "
                           "tasks= and images=)")
        return tasks_of_result(as_client(client, "EvaluationPanel"), result, project=project,
                               method="EvaluationPanel")

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _check_inputs(result: Any, tasks: Any, tag: Any, preview_rows: Any) -> None:
        if not isinstance(result, EvaluationResult):
            raise _invalid("result", type(result).__name__, "must be an EvaluationResult")
        if result.run.params.iou_type == "keypoints":
            raise _invalid("result", "keypoints", "has no confusion matrix (bbox or segm only)")
        if not isinstance(tasks, pd.DataFrame) or "file_url" not in tasks.columns:
            shown = type(tasks).__name__ if not isinstance(tasks, pd.DataFrame) else "no file_url"
            raise _invalid("tasks", shown, "must be a task frame with a file_url column")
        if not isinstance(tag, str) or not tag:
            raise _invalid("tag", tag, "must be a tag name")
        if isinstance(preview_rows, bool) or not isinstance(preview_rows, int) or preview_rows < 1:
            raise _invalid("preview_rows", preview_rows, "must be a positive integer")

    def _check_tasks(self, tasks: pd.DataFrame) -> None:
        wanted = pd.Index(np.unique(self.labels["task_id"].to_numpy(np.int64)))
        missing = wanted[~wanted.isin(tasks.index)]
        if len(missing):
            raise _invalid("tasks", missing[:10].tolist(), "are task ids of `images` not in tasks")

    @staticmethod
    def _client(client: Any, tasks: pd.DataFrame) -> Any:
        if client is not None:
            return as_client(client, "EvaluationPanel")
        try:
            return client_for(tasks)
        except InvalidInputError:
            return None  # a frame made by hand: everything but tagging works

    # ------------------------------------------------------------------ layout
    def _build(self, page_size: int) -> None:
        self.metrics = widgets.HTML(self._metrics_html())
        self.metrics.add_class("snb-eval-metrics")
        self.ap_chart = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.pr_chart = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.cells: dict[tuple[str, str], widgets.Button] = {}
        self.matrix_box = self._matrix_grid()
        self.table = FilterPanel(self.tasks.iloc[0:0], columns=self._columns(), page_size=page_size)
        self.table.on_select(self._on_rows_selected)
        self.project = self._project()
        self.tags = TagEditor(self.client, project=self.project) if self.client else None
        self.tag_button = widgets.Button(
            description=f"Tag {self.tag}", icon="tag", disabled=True, button_style="warning",
            layout=widgets.Layout(width="auto"),
        )  # fmt: skip
        self.tag_button.add_class("snb-eval-tag")
        self.tag_button.on_click(lambda _b: self._tag_from_ui())
        self.status = widgets.HTML(note_html("Click a cell of the confusion matrix."))
        self.status.add_class("snb-eval-status")
        self._build_view_controls()
        self.preview_box = widgets.VBox([widgets.HTML(muted("The cell's images show here."))])
        self.preview_box.add_class("snb-eval-preview")

    def _columns(self) -> list[str]:
        return [c for c in COLUMNS if c in self.tasks.columns] or list(self.tasks.columns[:3])

    def _project(self) -> int | None:
        if "project" not in self.tasks.columns:
            return None
        projects = self.tasks["project"].dropna().unique()
        return int(projects[0]) if len(projects) == 1 else None

    def _build_view_controls(self) -> None:
        self.status_boxes = {
            s: widgets.ToggleButton(value=True, description=s, layout=widgets.Layout(width="60px"))
            for s in VIEW_STATUSES
        }
        for name, box in self.status_boxes.items():
            box.observe(lambda _c: self._status_from_ui(), "value")
            box.add_class(f"snb-view-{name.lower()}")
        classes = [str(c) for c in self.matrix.index[:-1]]
        self.class_select = widgets.SelectMultiple(
            options=classes, rows=min(6, max(len(classes), 1)), description="classes",
            layout=widgets.Layout(width="260px"),
        )  # fmt: skip
        self.class_select.observe(
            lambda c: setattr(self, "view_classes", list(c["new"])), "value"
        )
        self.score_slider = widgets.FloatSlider(
            min=0.0, max=1.0, step=0.05, description="score ≥", readout_format=".2f"
        )
        self.score_slider.add_class("snb-eval-score")
        widgets.link((self, "min_score"), (self.score_slider, "value"))

    def _status_from_ui(self) -> None:
        self.view_status = [s for s, box in self.status_boxes.items() if box.value]

    def _metrics_html(self) -> str:
        rows = "".join(
            f"<tr><td style='padding:0 8px 0 0'>{html.escape(str(name))}</td>"
            f"<td style='text-align:right'>{value:.3f}</td></tr>"
            for name, value in self.result.summary["value"].items()
        )
        return f"<table class='snb-eval-summary' style='font-size:90%'>{rows}</table>"

    def _matrix_grid(self) -> widgets.GridBox:
        names = [str(n) for n in self.matrix.index]
        values = self.matrix.to_numpy()
        peak = int(values.max()) if values.size else 0
        items: list[widgets.Widget] = [widgets.HTML("<b>GT ↓ / pred →</b>")]
        items += [self._header(n) for n in names]
        for i, true in enumerate(names):
            items.append(self._header(true))
            for j, predicted in enumerate(names):
                items.append(self._cell(true, predicted, int(values[i, j]), peak, i == j))
        grid = widgets.GridBox(items, layout=widgets.Layout(
            # a class name up to ~13 characters fits on one line; longer names wrap
            grid_template_columns=(
                f"minmax(90px, max-content) repeat({len(names)}, minmax(64px, 104px))"),
            grid_gap="2px", overflow="auto", max_width="100%",
        ))  # fmt: skip
        grid.add_class("snb-confusion")
        return grid

    @staticmethod
    def _header(name: str) -> widgets.HTML:
        label = widgets.HTML(
            f"<div style='overflow-wrap:anywhere;line-height:1.2;font-size:90%'>"
            f"{html.escape(name)}</div>",
            layout=widgets.Layout(min_width="0"),
        )
        label.add_class("snb-confusion-label")
        return label

    def _cell(self, true: str, predicted: str, count: int, peak: int, diagonal: bool) -> Any:
        what = (f"{true} missed" if predicted == BACKGROUND else
                f"{predicted} with no ground truth" if true == BACKGROUND else
                f"GT {true} predicted {predicted}")  # fmt: skip
        button = widgets.Button(
            description=f"{count:,}", tooltip=f"{what}: {count:,}", disabled=count == 0,
            layout=widgets.Layout(width="100%", min_width="64px", height="30px", margin="0"),
        )  # fmt: skip
        button.style.button_color = _cell_color(count, peak, diagonal)
        button.add_class("snb-confusion-cell")
        button.on_click(lambda _b: self._select_from_ui(true, predicted))
        self.cells[(true, predicted)] = button
        return button

    def _layout(self) -> list[widgets.Widget]:
        charts = widgets.HBox([self.metrics, self.ap_chart, self.pr_chart],
                              layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"))
        tagging = [self.tag_button] + ([self.tags] if self.tags is not None else [])
        middle = widgets.HBox(
            [self.table, widgets.VBox(tagging, layout=widgets.Layout(min_width="260px"))],
            layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"),
        )
        view = widgets.HBox(
            [widgets.HTML("<b>labels</b>"), *self.status_boxes.values(), self.class_select,
             self.score_slider],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )  # fmt: skip
        return [charts, self.matrix_box, self.status, middle, view, self.preview_box]

    # ------------------------------------------------------------------ public API
    def load(self) -> EvaluationPanel:
        """Draw the charts (AP per class, PR curves) and load the tag list.

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> gt, preds = coco_from_per_image({1: [{"label": "a", "bbox": [0, 0, 9, 9]}]},
            ...     {1: [{"label": "a", "bbox": [0, 0, 9, 9], "score": 0.9}]})
            >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(1)
            >>> len(EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1}).load()
            ...     .ap_chart.value) > 1000
            True
        """
        self.ap_chart.value = _png(lambda ax: self.result.plot_per_class_ap("AP", ax=ax), (4, 3))
        self.pr_chart.value = _png(lambda ax: self.result.plot_pr_curves(self.iou, ax=ax), (4, 3))
        if self.tags is not None:
            self.tags.load()
        self._loaded = True
        return self

    def _show_load_error(self, exc: Exception) -> None:
        self.status.value = error_html(f"could not load the panel: {exc}")

    def cell_count(self, true: str, predicted: str) -> int:
        """The confusion matrix's count in a cell.

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> gt, preds = coco_from_per_image({1: [{"label": "a", "bbox": [0, 0, 9, 9]}]},
            ...     {1: [{"label": "a", "bbox": [50, 50, 9, 9], "score": 0.9}]})
            >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(1)
            >>> EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1}).cell_count("a",
            ...     "background")
            1
        """
        self._check_cell(true, predicted)
        return int(self.matrix.loc[true, predicted])

    def _check_cell(self, true: Any, predicted: Any) -> None:
        names = [str(n) for n in self.matrix.index]
        for field, value in (("true", true), ("predicted", predicted)):
            if value not in names:
                raise InvalidInputError(field, value, f"must be one of {names}",
                                        method="select_cell")
        if true == predicted == BACKGROUND:
            raise InvalidInputError("true", true, "and predicted cannot both be 'background'",
                                    method="select_cell")

    @property
    def cell_labels(self) -> pd.DataFrame:
        """The annotations of the selected cell (rows of :attr:`labels`).

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> gt, preds = coco_from_per_image({1: [{"label": "a", "bbox": [0, 0, 9, 9]}]},
            ...     {1: [{"label": "b", "bbox": [0, 0, 9, 9], "score": 0.9}]})
            >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(1)
            >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1})
            >>> _ = panel.select_cell("a", "b")
            >>> panel.cell_labels[["source", "class_name"]].values.tolist()
            [['gt', 'a'], ['pred', 'b']]
        """
        return self._cell_labels.copy()

    def select_cell(self, true: str, predicted: str) -> pd.DataFrame:
        """What a click on a cell does: filter the table, open the preview, aim the tags.

        Args:
            true: Ground-truth class (matrix row) or ``background`` (false positives).
            predicted: Predicted class (column) or ``background`` (misses).

        Returns:
            The cell's tasks (rows of ``tasks``), most cell annotations first; the frame the
            table shows (copy it before changing it).

        Raises:
            InvalidInputError: A class that is not in the matrix.

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> gt, preds = coco_from_per_image({1: [{"label": "a", "bbox": [0, 0, 9, 9]}]},
            ...     {1: []})
            >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(1)
            >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1})
            >>> panel.select_cell("a", "background").index.tolist(), panel.selected_cell
            ([1], ('a', 'background'))
        """
        import time

        started = time.perf_counter()
        self._check_cell(true, predicted)
        self._in_cell = cell_mask(self.labels, true, predicted)
        rows = np.flatnonzero(self._in_cell)
        self._cell_labels = self.labels.iloc[rows]
        counts = pd.Series(self._task_ids[rows]).value_counts(sort=True)
        order = counts.index.to_numpy()  # most cell annotations first
        self._cell_rows = self.tasks.loc[order]
        self.selected_cell = (true, predicted)
        self.table.set_frame(self._cell_rows)
        if self.tags is not None:
            self.tags.rows = self._cell_rows if len(self._cell_rows) else None
        self.tag_button.disabled = self.tags is None or not len(self._cell_rows)
        self.tag_button.description = f"Tag {plural(len(self._cell_rows), 'task')} {self.tag}"
        self._open_preview(order[: self.preview_rows])
        self.status.value = note_html(
            f"{self._cell_caption()}: {plural(len(rows), 'annotation')} in "
            f"{plural(len(self._cell_rows), 'task')}"
        )
        self.last_select_ms = (time.perf_counter() - started) * 1000
        self._cell_callbacks(true, predicted)
        return self._cell_rows  # a new frame per click (.loc): no copy needed

    def _cell_caption(self) -> str:
        true, predicted = self.selected_cell
        if predicted == BACKGROUND:
            return f"{true} missed"
        if true == BACKGROUND:
            return f"{predicted} predicted where there is no ground truth"
        return f"ground truth {true} predicted {predicted}"

    def _on_rows_selected(self, ids: tuple[Any, ...]) -> None:
        """Rows checked in the table open in the preview (the cell still highlighted)."""
        if ids:
            self._open_preview(np.asarray([int(i) for i in ids], np.int64))

    def _select_from_ui(self, true: str, predicted: str) -> None:
        try:
            self.select_cell(true, predicted)
        except Exception as exc:  # shown in the widget: a click handler must not raise
            self.status.value = error_html(str(exc))

    # ------------------------------------------------------------------ preview
    def _rows_of(self, task_ids: np.ndarray) -> np.ndarray:
        """Positions in :attr:`labels` of the tasks' annotations (labels are sorted by task)."""
        starts = np.searchsorted(self._task_ids, task_ids, "left")
        ends = np.searchsorted(self._task_ids, task_ids, "right")
        if not len(task_ids):
            return np.zeros(0, np.int64)
        return np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])

    def _documents(self, task_ids: np.ndarray, source: str) -> list[dict[str, Any]]:
        """DM documents of the tasks' boxes from one source (ids = COCO annotation ids)."""
        rows = self._rows_of(task_ids)
        rows = rows[self._is_gt[rows] == (source == "gt")]
        picked = self.labels.iloc[rows]
        boxes: dict[int, list[dict[str, Any]]] = {int(t): [] for t in task_ids}
        columns = ["task_id", "annotation_id", "class_name", "x", "y", "w", "h", "score"]
        for task, ann, name, x, y, w, h, score in zip(
                *(picked[c].tolist() for c in columns), strict=True):
            attrs = [] if score != score else [{"name": "score", "value": score}]
            boxes[task].append({"id": ann, "classification": name, "attrs": attrs,
                                "data": [x, y, w, h]})
        return [{"images": [{"bounding_box": boxes[int(t)]}]} for t in task_ids]

    def _preview_frame(self, task_ids: np.ndarray, source: str) -> pd.DataFrame:
        base = self.tasks.loc[task_ids]
        frame = pd.DataFrame({
            "file_url": base["file_url"].to_numpy(),
            "width": base["width"].to_numpy() if "width" in base.columns else None,
            "height": base["height"].to_numpy() if "height" in base.columns else None,
            "data_unit_id": task_ids,
            "data": self._documents(task_ids, source),
        }, index=pd.Index(task_ids, name="task_id"))  # fmt: skip
        return frame

    def _open_preview(self, task_ids: np.ndarray) -> None:
        self._preview_ids = task_ids
        if not len(task_ids):
            self.preview_box.children = (widgets.HTML(muted("The cell is empty.")),)
            return
        if self.preview is None:  # one preview, reused: a click only draws an image
            self.preview = self._new_preview(task_ids)
        else:
            truth, predictions, lit, shown = self._preview_parts(task_ids)
            self.preview.set_frame(truth, predictions, highlight=lit, show_only=shown)
        self.preview_box.children = (self.preview,)

    def _preview_parts(self, task_ids: np.ndarray) -> tuple[Any, Any, Any, Any]:
        """Ground truth and prediction frames of the tasks, the cell's pairs, the view's."""
        truth, predictions = self._preview_frame(task_ids, "gt"), self._preview_frame(
            task_ids, "pred")
        rows = self._rows_of(task_ids)
        lit = self._pairs(rows[self._in_cell[rows]])
        shown = self._pairs(rows[self._view_mask(rows)])
        return truth, predictions, lit, shown

    def _new_preview(self, task_ids: np.ndarray) -> Any:
        from synapse_nb.widgets.preview import AnnotationPreview

        truth, predictions, lit, shown = self._preview_parts(task_ids)
        preview = AnnotationPreview(
            truth, client=self.client, compare=predictions, iou_threshold=self.iou,
            compare_labels=("ground truth", "predictions"),
        )  # fmt: skip
        preview.highlight(lit)
        preview.show_only(shown)
        preview.min_score = self.min_score
        preview.load()
        return preview

    def cell_preview(self, task_ids: Iterable[int] | None = None) -> Any:
        """A new compare-mode preview of the selected cell (what ``explore()`` shows in its
        Explore tab): ground truth vs predictions, the cell's annotations highlighted.

        Args:
            task_ids: Tasks to page through (default: the cell's, most cell annotations
                first, at most ``preview_rows``); the first is shown.

        Returns:
            An ``AnnotationPreview``, or None when no cell is selected or it is empty.

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> gt, preds = coco_from_per_image({1: [{"label": "a", "bbox": [0, 0, 9, 9]}]},
            ...     {1: [{"label": "b", "bbox": [0, 0, 9, 9], "score": 0.9}]})
            >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(1)
            >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1})
            >>> _ = panel.select_cell("a", "b")
            >>> preview = panel.cell_preview()
            >>> preview.current_id, preview.highlighted
            (1, ['a:1', 'b:1'])
        """
        if task_ids is None:
            wanted = self.cell_task_ids[: self.preview_rows]
        else:
            iterable = isinstance(task_ids, Iterable) and not isinstance(task_ids, str | bytes)
            given = list(task_ids) if iterable else task_ids
            check_ids(given, "cell_preview")
            wanted = list(dict.fromkeys(int(t) for t in given))
        ids = np.asarray(wanted, np.int64)
        unknown = ids[~np.isin(ids, self.tasks.index.to_numpy())]
        if len(unknown):
            raise InvalidInputError("task_ids", unknown[:10].tolist(),
                                    "are not tasks of the panel", method="cell_preview")
        return self._new_preview(ids) if len(ids) else None

    @property
    def cell_task_ids(self) -> list[int]:
        """Task ids of the selected cell, most cell annotations first ([] before a click).

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> gt, preds = coco_from_per_image({1: [{"label": "a", "bbox": [0, 0, 9, 9]}]},
            ...     {1: []})
            >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(1)
            >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1})
            >>> _ = panel.select_cell("a", "background"); panel.cell_task_ids
            [1]
        """
        return [int(pk) for pk in self._cell_rows.index]

    def _pairs(self, rows: np.ndarray) -> dict[int, list[tuple[str, str]]]:
        """Row id -> (preview source, annotation id) of label positions ``rows``."""
        out: dict[int, list[tuple[str, str]]] = {}
        sources = np.where(self._is_gt[rows], "a", "b").tolist()
        ids = self.labels["annotation_id"].iloc[rows].tolist()
        for task, src, ann in zip(self._task_ids[rows].tolist(), sources, ids, strict=True):
            out.setdefault(task, []).append((src, ann))
        return out

    def _view_mask(self, rows: np.ndarray) -> np.ndarray:
        """Which label positions ``rows`` the view's statuses and classes keep."""
        return label_mask(self.labels.iloc[rows], status=list(self.view_status),
                          classes=list(self.view_classes) or None)

    def _view_pairs(self) -> dict[int, list[tuple[str, str]]]:
        """The labels of the previewed tasks that the view's statuses and classes keep."""
        return self.view_pairs(self._preview_ids)

    def view_pairs(self, task_ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
        """The annotations of these tasks that the label view (statuses, classes) keeps, as
        a preview's ``show_only`` takes them: task id -> ``(source, annotation id)`` pairs.

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> gt, preds = coco_from_per_image({1: [{"label": "a", "bbox": [0, 0, 9, 9]}]},
            ...     {1: [{"label": "a", "bbox": [50, 50, 9, 9], "score": 0.9}]})
            >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(1)
            >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1})
            >>> panel.show_labels(status="FN"); panel.view_pairs([1])
            {1: [('a', '1')]}
        """
        rows = self._rows_of(np.asarray(list(task_ids), np.int64))
        return self._pairs(rows[self._view_mask(rows)])

    def _on_view(self, change: Any) -> None:
        if self.preview is None:
            return
        if change["name"] == "min_score":
            self.preview.min_score = change["new"]
        else:
            self.preview.show_only(self._view_pairs())

    def show_labels(
        self,
        status: str | Iterable[str] | None = None,
        classes: str | Iterable[str] | None = None,
        min_score: float | None = None,
    ) -> None:
        """Label view of the preview: only these statuses, classes, and scores ≥ ``min_score``.

        ``None`` leaves a setting as it is; the controls under the table do the same.

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> gt, preds = coco_from_per_image({1: [{"label": "a", "bbox": [0, 0, 9, 9]}]},
            ...     {1: [{"label": "a", "bbox": [0, 0, 9, 9], "score": 0.9},
            ...          {"label": "a", "bbox": [40, 40, 9, 9], "score": 0.3}]})
            >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(1)
            >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1})
            >>> _ = panel.select_cell("background", "a")
            >>> panel.show_labels(status="FP")
            >>> panel.preview.compare_counts["extra"]
            1
        """
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            bad = [s for s in statuses if s not in VIEW_STATUSES]
            if bad:
                raise InvalidInputError("status", bad, f"must be among {list(VIEW_STATUSES)}",
                                        method="show_labels")
        if classes is not None:
            names = [classes] if isinstance(classes, str) else list(classes)
            unknown = [c for c in names if c not in self.class_select.options]
            if unknown:
                raise InvalidInputError("classes", unknown, "are not classes of the evaluation",
                                        method="show_labels")
        if min_score is not None and not (
                isinstance(min_score, int | float) and 0.0 <= min_score <= 1.0):
            raise InvalidInputError("min_score", min_score, "must be a number in [0, 1]",
                                    method="show_labels")
        with self.hold_trait_notifications():
            if status is not None:
                self.view_status = statuses
                for name, box in self.status_boxes.items():
                    box.value = name in statuses
            if classes is not None:
                self.class_select.value = tuple(names)
            if min_score is not None:
                self.min_score = float(min_score)

    # ------------------------------------------------------------------ tagging
    def tag_cell(self, tag: str | None = None) -> TagChange:
        """Add ``tag`` (default: the panel's) to every task of the selected cell, in one call.

        Raises:
            InvalidInputError: No cell selected, no client, or an unknown tag.

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> tasks = client.list_tasks({"project": 2}, list_all=True).head(1)
            >>> pk = int(tasks.index[0])
            >>> gt, preds = coco_from_per_image({pk: [{"label": "a", "bbox": [0, 0, 9, 9]}]},
            ...     {pk: []})
            >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: pk})
            >>> _ = panel.select_cell("a", "background")
            >>> panel.tag_cell().changes["id"].tolist() == [pk]
            True
            >>> _ = panel.tags.undo()
        """
        if self.tags is None:
            raise InvalidInputError("client", None, "tagging needs a client (pass client=)",
                                    method="tag_cell")
        if not len(self._cell_rows):
            raise InvalidInputError("selected_cell", self.selected_cell,
                                    "select a non-empty cell first", method="tag_cell")
        if not self.tags.tags:
            self.tags.load()
        self.tags.propose("add", [tag or self.tag])
        change = self.tags.confirm()
        self.table.update_rows(self.tags.rows if self.tags.rows is not None else self._cell_rows)
        self.status.value = note_html(f"{self.tags.summary}")
        self._tag_callbacks(change)
        return change

    def _tag_from_ui(self) -> None:
        try:
            self.tag_cell()
        except Exception as exc:  # shown in the widget
            self.status.value = error_html(str(exc))

    def on_cell(self, callback: Callable[[str, str], Any], remove: bool = False) -> None:
        """Call ``callback(true, predicted)`` after :meth:`select_cell` (or a click) chose a cell.

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> gt, preds = coco_from_per_image({1: [{"label": "a", "bbox": [0, 0, 9, 9]}]},
            ...     {1: []})
            >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(1)
            >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1})
            >>> panel.on_cell(lambda true, predicted: print(true, "→", predicted))
            >>> _ = panel.select_cell("a", "background")
            a → background
        """
        checked = check_callback(callback, "EvaluationPanel.on_cell")
        self._cell_callbacks.register_callback(checked, remove=remove)

    def on_tag(self, callback: Callable[[TagChange], Any], remove: bool = False) -> None:
        """Call ``callback(change)`` after :meth:`tag_cell` (or the button) tagged tasks.

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> tasks = client.list_tasks({"project": 2}, list_all=True).head(1)
            >>> pk = int(tasks.index[0])
            >>> gt, preds = coco_from_per_image({pk: [{"label": "a", "bbox": [0, 0, 9, 9]}]},
            ...     {pk: [{"label": "a", "bbox": [50, 50, 9, 9], "score": 0.5}]})
            >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: pk})
            >>> panel.on_tag(lambda change: print(change.action, change.rows == (pk,)))
            >>> _ = panel.select_cell("a", "background"); _ = panel.tag_cell()
            add True
            >>> _ = panel.tags.undo()
        """
        checked = check_callback(callback, "EvaluationPanel.on_tag")
        self._tag_callbacks.register_callback(checked, remove=remove)
