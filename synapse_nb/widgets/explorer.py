"""Explorer: the resource tree, the filter panel, the annotation preview and the tag editor
linked in one layout — ``synapse_nb.explore(client)``.

::

    ┌ ResourceTree ─────────┬ FilterPanel (live: server-side filters, paged table) ─┐
    │ projects, datasets…   │ status · assignee · tags · created · search           │
    │                       │ ☐ id  status  assignee  tags  annot.  file            │
    │ details of the node   ├ TagEditor (the selected rows) ────────────────────────┤
    │                       │ tags by colour · Add · Remove · Undo · confirm        │
    ├───────────────────────┴───────────────────────────────────────────────────────┤
    │ AnnotationPreview (the selected rows; a gallery for a ground-truth version)   │
    └───────────────────────────────────────────────────────────────────────────────┘

Links:

- selecting a **project** in the tree lists its tasks in the table (and offers its tags);
  a **status** node also filters by that status; a **task** or **ground-truth event** opens
  it in the preview, a **ground-truth version** opens a gallery of its events;
- selecting **rows** in the table shows them in the preview and makes them the tag editor's
  rows;
- a **tag change** (or its undo) updates the table.

With ``evaluation=`` an :class:`~synapse_nb.widgets.evaluation.EvaluationPanel`, the layout
above becomes the first tab ("Explore") and the panel the second ("Evaluation"). Clicking a
confusion cell there (or :meth:`Explorer.select_cell`) filters the Explore tab's live task
table to the cell's tasks — an id filter the server applies (``id__in``), shown as a removable
chip ``12 tasks from confusion cell car→truck ✕`` — switches to the Explore tab and opens the
preview in compare mode on the cell's first task with the cell's annotations highlighted.
Tagging a confusion cell reloads the task table.

Loading: nothing is fetched in ``__init__``; the first display (or ``load()``) loads the
table, the tag list and the project list. The preview is built when rows are selected.

Example:
    >>> import synapse_nb
    >>> isinstance(client, synapse_nb.frames.Client)
    True
    >>> ex = synapse_nb.explore(client, project=1).load()
    >>> ex.panel.count == client.raw.list_tasks({"project": 1})["count"]
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import pandas as pd

from synapse_nb.exceptions import ClientError, InvalidInputError
from synapse_nb.frames.client import as_client
from synapse_nb.widgets._display import LoadOnDisplay, check_widget_options, error_html, muted
from synapse_nb.widgets.filter import FilterPanel
from synapse_nb.widgets.tags import TagChange, TagEditor
from synapse_nb.widgets.tree import ResourceTree

__all__ = ["Explorer", "explore"]

#: what the preview box shows before rows are selected
_PLACEHOLDER = "Select rows in the table (or a task in the tree) to preview."
#: table columns beside the tree (narrower than the FilterPanel's default)
COLUMNS = ("status", "assignee_name", "tag_names", "n_annotations", "file_name")


def _preview_class() -> Any:
    """The AnnotationPreview class, imported on first use (it pulls in Pillow and friends)."""
    try:
        return importlib.import_module("synapse_nb.widgets.preview").AnnotationPreview
    except (ImportError, AttributeError):
        return None


class Explorer(LoadOnDisplay, widgets.VBox):
    """Tree, filter + table, preview and tag editor of one workspace, linked together.

    Args:
        client: A :class:`~synapse_nb.frames.Client` (listings as frames).
        project: Start with this project's tasks (all tasks otherwise).
        page_size: Rows per table page.
        columns: Table columns (default :data:`COLUMNS`).
        evaluation: An ``EvaluationPanel`` shown in an "Evaluation" tab.

    Attributes:
        tree: The :class:`~synapse_nb.widgets.ResourceTree`.
        panel: The live :class:`~synapse_nb.widgets.FilterPanel` of tasks.
        tags: The :class:`~synapse_nb.widgets.TagEditor`.
        preview: The current ``AnnotationPreview`` (None until rows are selected).
        evaluation: The ``EvaluationPanel`` (None when not given).

    Example:
        >>> ex = Explorer(client, project=2).load()
        >>> ex.panel.select([2, 4])
        (2, 4)
        >>> ex.tags.rows.index.tolist(), ex.preview.current_id
        ([2, 4], 2)
        >>> ex.tags.propose("add", ["blurry"])["rows"]
        [2, 4]
        >>> ex.tags.confirm()
        TagChange(add tags (7,) on 2 rows: 2 changed)
        >>> ex.panel.selected_frame["tag_names"].tolist()
        [['blurry'], ['blurry']]
        >>> ex.tags.undo().action
        'add'
    """

    def __init__(
        self,
        client: Any,
        *,
        project: int | None = None,
        page_size: int = 20,
        columns: Any = COLUMNS,
        evaluation: Any = None,
        **kwargs: Any,
    ) -> None:
        check_widget_options(type(self), kwargs)
        client = as_client(client, "explore")
        if evaluation is not None and not hasattr(evaluation, "select_cell"):
            raise InvalidInputError(
                "evaluation", type(evaluation).__name__, "must be an EvaluationPanel",
                method="explore",
            )  # fmt: skip
        self.evaluation = evaluation
        if project is not None and (isinstance(project, bool) or not isinstance(project, int)):
            raise InvalidInputError("project", project, "must be a project id", method="explore")
        self.client = client
        params = {"project": project} if project is not None else {}
        self.tree = ResourceTree(client, details="below", layout=widgets.Layout(width="370px"))
        self.panel = FilterPanel(client=client, params=params, page_size=page_size, columns=columns)
        self.tags = TagEditor(client, project=project)
        self.preview: Any = None
        self.tabs: widgets.Tab | None = None
        self._cell_ids: list[int] | None = None  # tasks of the cell preview on show
        self.preview_box = widgets.VBox(
            [widgets.HTML(muted(_PLACEHOLDER))],
            layout=widgets.Layout(margin="8px 0 0 0"),
        )
        self.status = widgets.HTML()
        self.tree.on_select(self._on_tree_select)
        self.panel.on_select(self._on_rows_selected)
        self.tags.on_change(self._on_tags_changed)
        # the preview gets the full width below: a 960 px image beside a table would not fit
        right = widgets.VBox([self.panel, self.tags])
        top = widgets.HBox([self.tree, right], layout=widgets.Layout(align_items="flex-start"))
        children: list[widgets.Widget] = [top, self.preview_box]
        if evaluation is not None:
            tabs = widgets.Tab([widgets.VBox(children), evaluation])
            tabs.set_title(0, "Explore")
            tabs.set_title(1, "Evaluation")
            tabs.add_class("snb-explorer-tabs")
            self.tabs = tabs
            children = [tabs]
            evaluation.on_tag(self._on_evaluation_tagged)
            evaluation.on_cell(self._on_evaluation_cell)
            evaluation.observe(self._on_evaluation_view, ["view_status", "view_classes",
                                                          "min_score"])
        super().__init__([*children, self.status], **kwargs)
        self.add_class("snb-explorer")
        self.preview_box.add_class("snb-preview-box")
        self._load_when_viewed()

    def __repr__(self) -> str:
        return f"<Explorer {self.client!r}: {self.panel!r}, {self.tree!r}>"

    def load(self) -> Explorer:
        """Load the table, the tag list and the tree's project list.

        Example:
            >>> explore(client).load().panel.count == client.raw.list_tasks()["count"]
            True
        """
        self.panel.load()
        self.tags.load()
        self.tree.expand(self.tree.group("projects"))
        self._loaded = True
        return self

    def _show_load_error(self, exc: Exception) -> None:
        self.status.value = error_html(str(exc))

    # ------------------------------------------------------------------ links
    def _on_tree_select(self, info: Mapping[str, Any]) -> None:
        kind: Any = info.get("kind")
        pk: Any = info.get("id")
        try:
            if kind == "project":
                self.show_project(int(pk))
            elif kind == "task_status":
                project, status = pk
                self.show_project(int(project), status=status)
            elif kind == "task":
                self.show_preview(self.client.list_tasks({"id": pk}))
            elif kind == "ground_truth_event":
                self.show_preview(self.client.list_ground_truth_events({"id": pk}))
            elif kind == "ground_truth_version":
                # every event of the version: the gallery pages through them and fetches
                # the annotation data of the page on screen only
                events = self.client.list_ground_truth_events(
                    {"ground_truth_dataset_versions": [pk]}, list_all=True
                )
                self.show_preview(events, mode="gallery")
        except ClientError as exc:
            self.status.value = error_html(str(exc))
            return
        self.status.value = ""

    def show_project(self, project: int, status: str | None = None) -> None:
        """List ``project``'s tasks in the table (optionally only one status).

        Example:
            >>> ex = explore(client, project=1)
            >>> ex.show_project(2, status="completed")
            >>> ex.panel.params
            {'project': 2, 'status': 'completed'}
        """
        self.tags.project = project
        if self.panel.params.get("project") != project:
            self.panel.set_params({"project": project})  # reloads a loaded panel
            self.clear_preview()  # the old project's rows are no longer in the table
        self.panel.ensure_loaded()
        self.panel.filter(status=status)

    def _on_rows_selected(self, ids: tuple[Any, ...]) -> None:
        rows = self.panel.selected_frame
        self.tags.rows = rows if len(rows) else None
        if len(rows):
            self.show_preview(rows)

    def select_cell(self, true: str, predicted: str) -> pd.DataFrame:
        """Click a confusion cell of the evaluation: the Explore tab's table shows the cell's
        tasks (a removable id filter), the preview opens on the first, cell highlighted.

        Args:
            true: Ground-truth class (matrix row) or ``background``.
            predicted: Predicted class (column) or ``background``.

        Returns:
            The cell's tasks, as :meth:`EvaluationPanel.select_cell` returns them.

        Raises:
            InvalidInputError: No evaluation panel, or a class not in the matrix.

        Example:
            >>> from synapse_nb.evaluation import coco_from_per_image, evaluate
            >>> from synapse_nb.widgets import EvaluationPanel
            >>> tasks = client.list_tasks({"project": 1}, list_all=True).head(2)
            >>> gt, preds = coco_from_per_image({1: [{"label": "car", "bbox": [0, 0, 9, 9]}],
            ...     2: []}, {1: [{"label": "truck", "bbox": [0, 0, 9, 9], "score": 0.8}], 2: []})
            >>> panel = EvaluationPanel(evaluate(gt, preds), tasks, images={1: 1, 2: 2})
            >>> ex = explore(client, project=1, evaluation=panel).load()
            >>> _ = ex.select_cell("car", "truck")
            >>> ex.panel.value.index.tolist(), ex.panel.id_chip.text
            ([1], '1 task from confusion cell car→truck')
            >>> ex.tabs.selected_index, ex.preview.current_id, ex.preview.highlighted
            (0, 1, ['a:1', 'b:1'])
        """
        if self.evaluation is None:
            raise InvalidInputError("evaluation", None, "explore() was opened without an "
                                    "evaluation panel", method="select_cell")
        return self.evaluation.select_cell(true, predicted)  # -> _on_evaluation_cell

    def _on_evaluation_cell(self, true: str, predicted: str) -> None:
        """The panel's cell click, mirrored in the Explore tab."""
        evaluation = self.evaluation
        ids = evaluation.cell_task_ids
        project = evaluation.project
        if project is not None and self.panel.params.get("project") != project:
            self.show_project(project)
        if not ids:
            self.panel.clear_ids()
            self.clear_preview()
            return
        self.panel.filter_ids(ids, f"from confusion cell {true}→{predicted}")
        if self.tabs is not None:
            self.tabs.selected_index = 0
        shown = ids[: evaluation.preview_rows]
        self._show_widget(evaluation.cell_preview(shown))
        self._cell_ids = shown

    def _on_evaluation_view(self, change: Mapping[str, Any]) -> None:
        """The panel's label view (statuses, classes, score) applies to the cell preview."""
        if self.preview is None or self._cell_ids is None:
            return
        if change["name"] == "min_score":
            self.preview.min_score = change["new"]
        else:
            self.preview.show_only(self.evaluation.view_pairs(self._cell_ids))

    def _show_widget(self, preview: Any) -> None:
        """Show a preview built elsewhere in the preview box (replacing the previous one)."""
        if preview is None:
            self.clear_preview()
            return
        old, self.preview = self.preview, preview
        self.preview_box.children = (preview,)
        if old is not None:
            old.close()

    def _on_evaluation_tagged(self, _change: TagChange) -> None:
        if self.panel._loaded:
            self.panel.reload()

    def _on_tags_changed(self, change: TagChange, rows: pd.DataFrame | None) -> None:
        if rows is not None:
            self.panel.update_rows(rows)

    def clear_preview(self) -> None:
        """Close the preview and show the placeholder again.

        Example:
            >>> ex = explore(client, project=1)
            >>> tasks = client.list_tasks({"project": 1})
            >>> ex.show_preview(tasks.head(2)).current_id
            1
            >>> ex.clear_preview(); ex.preview is None
            True
        """
        old, self.preview = self.preview, None
        self._cell_ids = None
        self.preview_box.children = (widgets.HTML(muted(_PLACEHOLDER)),)
        if old is not None:
            old.close()

    def show_preview(self, frame: pd.DataFrame, **options: Any) -> Any:
        """Show ``frame``'s rows in the annotation preview (replacing the previous one).

        Example:
            >>> ex = explore(client, project=1)
            >>> tasks = client.list_tasks({"project": 1})
            >>> ex.show_preview(tasks.head(5), mode="gallery").mode
            'gallery'
        """
        preview_class = _preview_class()
        if preview_class is None:
            self.preview_box.children = (
                widgets.HTML(muted("The annotation preview is not available.")),
            )
            return None
        if len(frame) == 0:
            self.preview_box.children = (widgets.HTML(muted("Nothing to preview.")),)
            return None
        old = self.preview
        self._cell_ids = None
        self.preview = preview_class(frame, client=self.client, **options)
        self.preview.load()
        self.preview_box.children = (self.preview,)
        if old is not None:
            old.close()
        return self.preview


def explore(
    client: Any, *, project: int | None = None, page_size: int = 20, evaluation: Any = None
) -> Explorer:
    """Open the :class:`Explorer` on a client: tree, filters + table, preview, tag editor.

    Args:
        client: A :class:`~synapse_nb.frames.Client`.
        project: Start with this project's tasks.
        page_size: Rows per table page.
        evaluation: An ``EvaluationPanel``, shown in an "Evaluation" tab.

    Example:
        >>> import synapse_nb
        >>> ex = synapse_nb.explore(client, project=1)
        >>> ex.panel.params, ex.tags.project
        ({'project': 1}, 1)
    """
    return Explorer(client, project=project, page_size=page_size, evaluation=evaluation)
