"""TagEditor: add or remove task/assignment tags on selected rows, with a confirmation step.

The editor shows the tags that exist (``list_task_tags``: name and colour) as coloured toggle
buttons. Choosing tags and pressing *Add* or *Remove* proposes the change; nothing is sent
until *Confirm*. The change goes through the frames accessor (``df.synapse.tag/untag``, one
batched ``set_tags_*`` call per action), the result is summarised (rows changed, per tag),
errors are shown in the widget, and *Undo* reverts the last change exactly: tags that were
added are removed from the rows that gained them, and removed tags are put back on the rows
that lost them.

Loading: the tag list is fetched on first display, or by ``load()``; ``__init__`` sends
nothing.

Example:
    >>> from synapse_nb.widgets import TagEditor
    >>> tasks = client.list_tasks({"project": 2}, list_all=True)
    >>> editor = TagEditor(client, project=2).load()
    >>> editor.rows = tasks.head(2)
    >>> editor.propose("add", ["gold"])
    {'action': 'add', 'tags': [9], 'rows': [2, 4]}
    >>> editor.confirm()
    TagChange(add tags (9,) on 2 rows: 2 changed)
    >>> editor.undo()
    TagChange(add tags (9,) on 2 rows: 2 changed)
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd
from traitlets import Dict, Instance, Tuple, Unicode

from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import ClientError, InvalidInputError
from synapse_nb.frames.client import Client, as_client
from synapse_nb.widgets._display import (
    LoadOnDisplay,
    check_callback,
    check_widget_options,
    error_html,
    muted,
    note_html,
    plural,
)

if TYPE_CHECKING:  # the filter panel's module imports this one
    from synapse_nb.widgets.filter import FilterPanel

__all__ = ["TagChange", "TagEditor", "tag_chip", "text_color_for"]

_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\Z")
_FALLBACK = "#888888"
_ACTIONS = ("add", "remove")


def _hex6(color: Any) -> str:
    """``color`` as ``#rrggbb`` (grey for anything that is not a hex colour)."""
    match = _HEX.match(color.strip()) if isinstance(color, str) else None
    if match is None:
        return _FALLBACK
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits.lower()


def text_color_for(background: Any) -> str:
    """Black or white, whichever reads better on ``background`` (WCAG relative luminance).

    Example:
        >>> text_color_for("#ffeb3b"), text_color_for("#1e88e5")
        ('#000000', '#ffffff')
    """
    value = _hex6(background)
    channels = []
    for i in (1, 3, 5):
        c = int(value[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    return "#000000" if luminance > 0.35 else "#ffffff"


def tag_chip(name: str, color: Any = None) -> str:
    """A tag as a coloured, rounded HTML chip (escaped).

    Example:
        >>> tag_chip("blurry", "#fb8c00")  # doctest: +ELLIPSIS
        '<span class="snb-tag" style="background:#fb8c00;color:#000000;...">blurry</span>'
    """
    background = _hex6(color)
    return (
        f'<span class="snb-tag" style="background:{background};color:{text_color_for(background)};'
        'border-radius:9px;padding:0 7px;margin-right:3px;font-size:90%;white-space:nowrap">'
        f"{html.escape(str(name))}</span>"
    )


@dataclass(frozen=True)
class TagChange:
    """One applied tag change, enough to undo it.

    Attributes:
        action: ``add`` or ``remove``.
        tags: Tag ids of the change.
        changes: ``id, added, removed`` per changed row (what the accessor returned).
        rows: Ids of the rows the change was asked for.

    Example:
        >>> TagChange("add", (2,), pd.DataFrame({"id": [], "added": [], "removed": []}), ())
        TagChange(add tags (2,) on 0 rows: 0 changed)
    """

    action: str
    tags: tuple[int, ...]
    changes: pd.DataFrame
    rows: tuple[int, ...]

    def __repr__(self) -> str:
        return (
            f"TagChange({self.action} tags {self.tags} on {len(self.rows)} rows: "
            f"{len(self.changes)} changed)"
        )


def _tag_records(tags: Any) -> list[dict[str, Any]]:
    """Tag dicts ``{id, name, color, project, description}`` from a frame or a list."""
    if isinstance(tags, pd.DataFrame):
        records = []
        for pk, row in zip(tags.index.tolist(), tags.to_dict("records"), strict=True):
            records.append({"id": int(pk), **{k: _plain(v) for k, v in row.items()}})
        return records
    if isinstance(tags, str | bytes | Mapping) or not isinstance(tags, Iterable):
        raise InvalidInputError(
            "tags", tags, "must be a list_task_tags() frame or a list of tag dicts",
            method="TagEditor.set_tags",
        )  # fmt: skip
    records = []
    for position, tag in enumerate(tags):
        if not isinstance(tag, Mapping | pd.Series):  # a dict, or a row of a frame
            raise InvalidInputError(
                f"tags[{position}]", tag, "must be a dict with id, name and color",
                method="TagEditor.set_tags",
            )  # fmt: skip
        records.append(dict(tag))
    return records


def _plain(value: Any) -> Any:
    return (
        None if value is None or (not isinstance(value, list | dict) and pd.isna(value)) else value
    )


class TagEditor(LoadOnDisplay, widgets.VBox):
    """Add/remove tags on rows (with confirmation), see the result, undo the last change.

    Args:
        client: A :class:`~synapse_nb.frames.Client` (it lists the tags). Optional when the
            rows come from a client's frame.
        rows: The rows to act on (a task or assignment frame, usually the selected rows of
            a :class:`~synapse_nb.widgets.FilterPanel`); settable later via ``.rows``.
        project: Show only this project's tags (and tags without a project).
        kind: ``task`` or ``assignment`` when ``rows`` is not given yet.

    Traits:
        selected_tags: Ids of the chosen tags (the toggles).
        pending: The proposed change waiting for confirmation (empty when none).
        last_change: The last applied change (a :class:`TagChange`) or None.
        summary: Text of the last result.
        error: Text of the last error ('' when none).

    Example:
        >>> tasks = client.list_tasks({"project": 2}, list_all=True)
        >>> editor = TagEditor(client, rows=tasks.loc[[6, 8]], project=2)
        >>> editor.load()
        <TagEditor task: 5 tags, 2 rows, pending=False>
        >>> editor.propose("add", ["needs-review"])["rows"]
        [6, 8]
        >>> editor.confirm().changes["id"].tolist()
        [6, 8]
        >>> editor.undo().action
        'add'
    """

    selected_tags = Tuple(help="Ids of the tags chosen in the editor (toggle buttons).")
    pending = Dict(help="Proposed change awaiting confirm(): {'action', 'tags', 'rows'}.")
    last_change = Instance(TagChange, allow_none=True, help="The last applied change (for undo).")
    summary = Unicode("", help="Text summary of the last applied or undone change.")
    error = Unicode("", help="The last error message ('' when the last action succeeded).")

    def __init__(
        self,
        client: Client | BackendClient | None = None,
        rows: pd.DataFrame | None = None,
        *,
        project: int | None = None,
        kind: str = "task",
        **kwargs: Any,
    ) -> None:
        check_widget_options(type(self), kwargs)
        if kind not in ("task", "assignment"):
            raise InvalidInputError(
                "kind", kind, "must be 'task' or 'assignment'", method="TagEditor"
            )
        if project is not None and (isinstance(project, bool) or not isinstance(project, int)):
            raise InvalidInputError("project", project, "must be a project id", method="TagEditor")
        self._client = as_client(client, "TagEditor") if client is not None else None
        self._kind = kind
        self._project = project
        self._rows: pd.DataFrame | None = None
        self._tags: list[dict[str, Any]] = []
        self._change_callbacks = widgets.CallbackDispatcher()
        self._buttons: dict[int, widgets.Button] = {}
        self.tag_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.target = widgets.HTML(note_html("No rows selected."))
        compact = {"width": "auto", "min_width": "90px"}
        self.add_button = widgets.Button(
            description="Add", icon="plus", disabled=True, layout=widgets.Layout(**compact)
        )
        self.remove_button = widgets.Button(
            description="Remove", icon="minus", disabled=True, layout=widgets.Layout(**compact)
        )
        self.undo_button = widgets.Button(
            description="Undo", icon="undo", disabled=True, layout=widgets.Layout(**compact)
        )
        self.confirm_button = widgets.Button(description="Confirm", button_style="warning")
        self.cancel_button = widgets.Button(description="Cancel")
        self.question = widgets.HTML()
        self.confirm_box = widgets.HBox(
            [self.question, self.confirm_button, self.cancel_button],
            layout=widgets.Layout(display="none"),
        )
        self.status = widgets.HTML()
        self.add_button.on_click(lambda _b: self._propose_from_ui("add"))
        self.remove_button.on_click(lambda _b: self._propose_from_ui("remove"))
        self.confirm_button.on_click(lambda _b: self._confirm_from_ui())
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.undo_button.on_click(lambda _b: self._undo_from_ui())
        super().__init__(
            [
                widgets.HTML("<b>Tags</b>"),
                self.tag_box,
                self.target,
                widgets.HBox([self.add_button, self.remove_button, self.undo_button]),
                self.confirm_box,
                self.status,
            ],
            **kwargs,
        )
        self.tag_box.children = (widgets.HTML(muted("tags load on display or load()")),)
        self.add_class("snb-tag-editor")
        for widget, name in (
            (self.add_button, "snb-add"),
            (self.remove_button, "snb-remove"),
            (self.undo_button, "snb-undo"),
            (self.confirm_button, "snb-confirm"),
            (self.cancel_button, "snb-cancel"),
            (self.question, "snb-question"),
            (self.status, "snb-tag-status"),
            (self.target, "snb-target"),
        ):
            widget.add_class(name)
        if rows is not None:
            self.rows = rows
        self._load_when_viewed()

    def __repr__(self) -> str:
        n = 0 if self._rows is None else len(self._rows)
        pending = bool(self.pending)
        return f"<TagEditor {self._kind}: {len(self._tags)} tags, {n} rows, pending={pending}>"

    # ------------------------------------------------------------------ data
    @property
    def rows(self) -> pd.DataFrame | None:
        """The rows the editor acts on (a task or assignment frame).

        Example:
            >>> editor = TagEditor(client, project=2)
            >>> editor.rows = client.list_tasks({"project": 2}, list_all=True).loc[[2, 4]]
            >>> editor.rows.index.tolist()
            [2, 4]
        """
        return self._rows

    @rows.setter
    def rows(self, frame: pd.DataFrame | None) -> None:
        if frame is not None:
            self._check_rows(frame)
        self._rows = frame
        if self.pending:
            self.cancel()
        self._render_target()
        self._render_buttons()

    def _check_rows(self, frame: Any) -> None:
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(
                "rows",
                type(frame).__name__,
                "must be a task or assignment frame",
                method="TagEditor",
            )
        kind = frame.attrs.get("synapse", {}).get("kind") if isinstance(frame.attrs, dict) else None
        if kind is not None and kind not in ("task", "assignment"):
            raise InvalidInputError(
                "rows", kind, "tags exist on task and assignment frames only", method="TagEditor"
            )
        if kind is not None:
            self._kind = kind

    @property
    def tags(self) -> list[dict[str, Any]]:
        """The tags offered (``{id, name, color, project, ...}``), as loaded.

        Example:
            >>> editor = TagEditor(client, project=1).load()
            >>> [t["name"] for t in editor.tags][:2]
            ['blurry', 'edge-case']
        """
        return list(self._tags)

    def _live_client(self) -> Client:
        if self._client is not None:
            return self._client
        if self._rows is not None:
            return self._rows.synapse.client()
        raise InvalidInputError(
            "client", None, "give TagEditor(client=...) or rows from a Client", method="TagEditor"
        )

    def load(self) -> TagEditor:
        """Fetch the tag list (``list_task_tags``, project-scoped when a project is set).

        Example:
            >>> editor = TagEditor(client, project=1)
            >>> editor.load().tags[0]["name"]
            'blurry'
        """
        client = self._live_client()
        frame = client.list_task_tags(list_all=True)
        self.set_tags(frame)
        self._loaded = True
        return self

    def set_tags(self, tags: Any) -> None:
        """Offer these tags (a ``list_task_tags`` frame or dicts with ``id``, ``name``,
        ``color``); no request.

        Example:
            >>> editor = TagEditor()  # no client needed to offer given tags
            >>> editor.set_tags([{"id": 1, "name": "blurry", "color": "#fb8c00"}])
            >>> editor.tags[0]["name"], editor.tag_box.children[0].style.button_color
            ('blurry', '#fb8c00')
        """
        records = _tag_records(tags)
        if self._project is not None:
            records = [r for r in records if r.get("project") in (None, self._project)]
        self._tags = sorted(records, key=lambda r: (str(r.get("name")), r["id"]))
        known = {r["id"] for r in self._tags}
        self.selected_tags = tuple(t for t in self.selected_tags if t in known)
        self._render_buttons()

    @property
    def project(self) -> int | None:
        """The project whose tags are offered (None: all).

        Example:
            >>> editor = TagEditor(client, project=1).load()
            >>> editor.project = 2
            >>> sorted({t["project"] for t in editor.tags})
            [2]
        """
        return self._project

    @project.setter
    def project(self, value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInputError("project", value, "must be a project id", method="TagEditor")
        self._project = value
        if self._loaded:
            self.load()

    # ------------------------------------------------------------------ rendering
    def _render_buttons(self) -> None:
        if not self._tags:
            return
        counts = self._counts_on_rows()
        buttons = []
        for tag in self._tags:
            button = self._buttons.get(tag["id"])
            if button is None:
                # never shrunk below its text (the box wraps to a new line instead)
                button = widgets.Button(
                    layout=widgets.Layout(width="auto", margin="2px", flex="0 0 auto")
                )
                button.on_click(lambda _b, pk=tag["id"]: self.toggle(pk))
                button.add_class("snb-tag-button")
                self._buttons[tag["id"]] = button
            chosen = tag["id"] in self.selected_tags
            n = counts.get(tag["id"], 0)
            button.description = (
                ("✓ " if chosen else "") + str(tag.get("name")) + (f" ({n})" if n else "")
            )
            color = _hex6(tag.get("color"))
            button.style.button_color = color
            button.style.text_color = text_color_for(color)
            button.style.font_weight = "bold" if chosen else ""
            button.tooltip = str(tag.get("description") or tag.get("name"))
            buttons.append(button)
        self.tag_box.children = tuple(buttons)
        self._sync_enabled()

    def _counts_on_rows(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        if self._rows is None or "tags" not in self._rows.columns:
            return counts
        for value in self._rows["tags"].tolist():
            if isinstance(value, list | tuple):
                for tag in value:
                    counts[tag] = counts.get(tag, 0) + 1
        return counts

    def _render_target(self) -> None:
        n = 0 if self._rows is None else len(self._rows)
        label = self._kind.replace("_", " ")
        if n == 0 or self._rows is None:
            self.target.value = note_html(f"No {label}s selected.")
        else:
            ids = ", ".join(str(i) for i in self._rows.index.tolist()[:8])
            more = f" … +{n - 8}" if n > 8 else ""
            self.target.value = note_html(
                f"{n} {label}{'s' if n != 1 else ''} selected: {ids}{more}"
            )
        self._sync_enabled()

    def _sync_enabled(self) -> None:
        ready = bool(self.selected_tags) and self._rows is not None and len(self._rows) > 0
        self.add_button.disabled = not ready or bool(self.pending)
        self.remove_button.disabled = not ready or bool(self.pending)
        self.undo_button.disabled = self.last_change is None or bool(self.pending)

    # ------------------------------------------------------------------ actions
    def toggle(self, tag: int | str) -> None:
        """Choose or un-choose a tag (by id or name), as a click on its button does.

        Example:
            >>> editor = TagEditor(client, project=1).load()
            >>> editor.toggle("blurry")
            >>> editor.selected_tags
            (2,)
            >>> editor.toggle("blurry")
            >>> editor.selected_tags
            ()
        """
        pk = self._resolve([tag], "toggle")[0]
        chosen = list(self.selected_tags)
        if pk in chosen:
            chosen.remove(pk)
        else:
            chosen.append(pk)
        self.selected_tags = tuple(chosen)
        self._render_buttons()

    def _resolve(self, tags: Iterable[Any], method: str) -> list[int]:
        by_name: dict[str, list[int]] = {}
        for record in self._tags:
            by_name.setdefault(str(record.get("name")), []).append(record["id"])
        known = {r["id"] for r in self._tags}
        out = []
        for tag in tags:
            if isinstance(tag, bool) or not isinstance(tag, int | str):
                raise InvalidInputError("tags", tag, "must be tag ids or names", method=method)
            if isinstance(tag, int):
                if self._tags and tag not in known:
                    raise InvalidInputError("tags", tag, "is not an offered tag id", method=method)
                out.append(tag)
                continue
            ids = by_name.get(tag, [])
            if not ids:
                offered = sorted(by_name)
                raise InvalidInputError(
                    "tags", tag, f"no offered tag has this name; offered: {offered}", method=method
                )
            if len(ids) > 1:
                raise InvalidInputError(
                    "tags", tag, f"is ambiguous (tags {sorted(ids)}); give the id", method=method
                )
            out.append(ids[0])
        return list(dict.fromkeys(out))

    def propose(self, action: str, tags: Iterable[Any] | None = None) -> dict[str, Any]:
        """Propose adding or removing tags on the rows; nothing is sent before :meth:`confirm`.

        Args:
            action: ``add`` or ``remove``.
            tags: Tag ids or names; the chosen toggles when omitted.

        Returns:
            The pending change ``{'action', 'tags', 'rows'}`` (also in ``.pending``).

        Raises:
            InvalidInputError: Unknown action or tag, no tags, or no rows.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> editor = TagEditor(client, rows=tasks.loc[[5, 9]], project=1).load()
            >>> editor.propose("remove", ["blurry"])
            {'action': 'remove', 'tags': [2], 'rows': [5, 9]}
        """
        if action not in _ACTIONS:
            raise InvalidInputError("action", action, "must be 'add' or 'remove'", method="propose")
        if isinstance(tags, str | int):
            tags = [tags]
        ids = self._resolve(self.selected_tags if tags is None else tags, "propose")
        if not ids:
            raise InvalidInputError("tags", [], "choose at least one tag", method="propose")
        if self._rows is None or len(self._rows) == 0:
            raise InvalidInputError("rows", 0, "select at least one row first", method="propose")
        rows = [int(i) for i in self._rows.index.tolist()]
        self.pending = {"action": action, "tags": ids, "rows": rows}
        names = ", ".join(self._name(t) for t in ids)
        label = self._kind.replace("_", " ")
        verb = "Add" if action == "add" else "Remove"
        prep = "to" if action == "add" else "from"
        self.question.value = (
            f"<b>{verb} {html.escape(names)} {prep} {len(rows)} {label}"
            f"{'s' if len(rows) != 1 else ''}?</b>"
        )
        self.confirm_box.layout.display = "flex"
        self._sync_enabled()
        return dict(self.pending)

    def cancel(self) -> None:
        """Drop the pending change.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> editor = TagEditor(client, rows=tasks.loc[[5]], project=1).load()
            >>> editor.propose("add", ["gold"])["tags"]
            [4]
            >>> editor.cancel()
            >>> editor.pending
            {}
        """
        self.pending = {}
        self.confirm_box.layout.display = "none"
        self.question.value = ""
        self._sync_enabled()

    def confirm(self) -> TagChange:
        """Apply the pending change (one batched ``set_tags_*`` call).

        Returns:
            The applied :class:`TagChange` (also in ``.last_change``).

        Raises:
            InvalidInputError: Nothing is pending.
            ClientError: The server refused the change (the message is also shown).

        Example:
            >>> tasks = client.list_tasks({"project": 2}, list_all=True)
            >>> editor = TagEditor(client, rows=tasks.loc[[11]], project=2).load()
            >>> editor.propose("add", ["edge-case"])["tags"]
            [10]
            >>> editor.confirm().changes["id"].tolist()
            [11]
            >>> editor.undo().rows
            (11,)
        """
        if not self.pending:
            raise InvalidInputError("pending", {}, "propose() a change first", method="confirm")
        pending = dict(self.pending)
        self.cancel()
        try:
            change = self._apply(pending["action"], pending["tags"], pending["rows"])
        except ClientError as exc:
            self._fail(exc)
            raise
        self.last_change = change
        self._succeed(self._describe(change, undone=False))
        self._change_callbacks(change, self._rows)
        return change

    def undo(self) -> TagChange:
        """Revert the last applied change on exactly the rows it changed.

        Returns:
            The change that was reverted.

        Raises:
            InvalidInputError: There is nothing to undo.

        Example:
            >>> tasks = client.list_tasks({"project": 2}, list_all=True)
            >>> editor = TagEditor(client, rows=tasks.loc[[13]], project=2).load()
            >>> editor.propose("add", ["occluded"])["tags"]
            [8]
            >>> editor.confirm()
            TagChange(add tags (8,) on 1 rows: 1 changed)
            >>> editor.undo()
            TagChange(add tags (8,) on 1 rows: 1 changed)
            >>> 8 in client.get_task(13)["tags"]
            False
        """
        change = self.last_change
        if change is None:
            raise InvalidInputError("last_change", None, "there is nothing to undo", method="undo")
        try:
            self._revert(change)
        except ClientError as exc:
            self._fail(exc)
            raise
        self.last_change = None
        self._succeed(self._describe(change, undone=True))
        self._change_callbacks(change, self._rows)
        return change

    def follow(self, panel: FilterPanel) -> TagEditor:
        """Tag the rows selected in ``panel`` and show every change in its table.

        The editor's rows follow the panel's selection, and after each change (or its
        undo) the panel's rows are patched with the new tags, so the table shows them.

        Example:
            >>> from synapse_nb.widgets import FilterPanel
            >>> panel = FilterPanel(client.list_tasks({"project": 2}, list_all=True))
            >>> editor = TagEditor(client, project=2).load().follow(panel)
            >>> ids = panel.select([2, 4])
            >>> editor.rows.index.tolist()
            [2, 4]
        """

        from synapse_nb.widgets.filter import FilterPanel

        if not isinstance(panel, FilterPanel):
            raise InvalidInputError(
                "panel", panel, "must be a FilterPanel", method="TagEditor.follow"
            )

        def selected(_ids: tuple[Any, ...] = ()) -> None:
            self.rows = panel.selected_frame if panel.selected else None

        def changed(_change: TagChange, rows: pd.DataFrame | None) -> None:
            if rows is not None:
                panel.update_rows(rows)

        selected()
        panel.on_select(selected)
        self.on_change(changed)
        return self

    def on_change(
        self, callback: Callable[[TagChange, pd.DataFrame | None], Any], remove: bool = False
    ) -> None:
        """Call ``callback(change, rows)`` after a change is applied or undone.

        ``rows`` is the editor's frame with its ``tags``/``tag_names`` already updated (the
        Explorer patches its table with it).

        Example:
            >>> tasks = client.list_tasks({"project": 2}, list_all=True)
            >>> editor = TagEditor(client, rows=tasks.loc[[15]], project=2).load()
            >>> editor.on_change(lambda change, rows: print(change.action, rows.index.tolist()))
            >>> _ = editor.propose("add", ["gold"])
            >>> _ = editor.confirm()
            add [15]
            >>> _ = editor.undo()
            add [15]
        """
        checked = check_callback(callback, "TagEditor.on_change")
        self._change_callbacks.register_callback(checked, remove=remove)

    # ------------------------------------------------------------------ internals
    def _subset(self, ids: list[int]) -> pd.DataFrame:
        assert self._rows is not None
        frame = self._rows
        wanted = pd.Index(ids)
        present = wanted[wanted.isin(frame.index)]
        if len(present) != len(wanted):
            missing = sorted(set(ids) - set(present.tolist()))
            raise InvalidInputError(
                "rows", missing, "are no longer in the editor's rows", method="TagEditor"
            )
        return frame.loc[present]

    def _apply(self, action: str, tags: list[int], ids: list[int]) -> TagChange:
        subset = self._subset(ids)
        if action == "add":
            changes = subset.synapse.tag(tags, client=self._client)
        else:
            changes = subset.synapse.untag(tags, client=self._client)
        self._merge(subset)
        return TagChange(action, tuple(tags), changes, tuple(ids))

    def _revert(self, change: TagChange) -> None:
        added: dict[int, list[int]] = {}
        removed: dict[int, list[int]] = {}
        for pk, plus, minus in zip(
            change.changes["id"].tolist(),
            change.changes["added"].tolist(),
            change.changes["removed"].tolist(),
            strict=True,
        ):
            for tag in plus:
                added.setdefault(tag, []).append(int(pk))
            for tag in minus:
                removed.setdefault(tag, []).append(int(pk))
        for tag, ids in sorted(added.items()):
            subset = self._subset(ids)
            subset.synapse.untag([tag], client=self._client)
            self._merge(subset)
        for tag, ids in sorted(removed.items()):
            subset = self._subset(ids)
            subset.synapse.tag([tag], client=self._client)
            self._merge(subset)

    def _merge(self, subset: pd.DataFrame) -> None:
        """Copy the new tag columns of ``subset`` into the editor's rows.

        The rows then hold the server's new tags, so they move to their own write-back
        snapshot with those tags recorded (as ``df.synapse.tag`` does): ``diff()`` of the
        editor's rows does not mistake them for local edits, and frames sharing the old
        snapshot keep theirs.
        """
        assert self._rows is not None
        frame = self._rows
        self._record_in_snapshot(frame, subset)
        positions = frame.index.get_indexer(subset.index)
        for column in ("tags", "tag_names"):
            if column not in frame.columns or column not in subset.columns:
                continue
            values = frame[column].tolist()
            for position, value in zip(positions, subset[column].tolist(), strict=True):
                values[position] = list(value) if value is not None else []
            if column == "tags":
                frame[column] = pd.Series(_object_array(values), index=frame.index, dtype=object)
            else:
                frame[column] = pd.Series(values, index=frame.index, dtype=frame[column].dtype)
        self._render_buttons()

    def _record_in_snapshot(self, frame: pd.DataFrame, subset: pd.DataFrame) -> None:
        if "tags" not in subset.columns or not isinstance(frame.attrs.get("synapse"), dict):
            return
        try:
            live = frame.synapse.client(self._client)
        except (AttributeError, ValueError, InvalidInputError):
            return  # not a client frame: there is no snapshot to keep in step
        updates = {
            (pk, "tags"): tuple(sorted(set(value or ())))
            for pk, value in zip(subset.index.tolist(), subset["tags"].tolist(), strict=True)
        }
        sid = frame.attrs["synapse"].get("snapshot")
        forked = live.snapshots.fork(sid, frame.index.tolist(), updates)
        if forked:
            frame.attrs["synapse"]["snapshot"] = forked

    def _name(self, pk: int) -> str:
        for record in self._tags:
            if record["id"] == pk:
                return str(record.get("name"))
        return f"tag:{pk}"

    def _describe(self, change: TagChange, undone: bool) -> str:
        label = self._kind.replace("_", " ")
        names = ", ".join(self._name(t) for t in change.tags)
        changed = len(change.changes)
        unchanged = len(change.rows) - changed
        if undone:
            return f"Undone: {change.action} {names} ({plural(changed, label)} restored)."
        verb = "Added" if change.action == "add" else "Removed"
        prep = "to" if change.action == "add" else "from"
        text = f"{verb} {names} {prep} {changed} {label}{'s' if changed != 1 else ''}"
        if unchanged:
            text += f"; {unchanged} already {'had' if change.action == 'add' else 'lacked'} it"
        return text + "."

    def _succeed(self, text: str) -> None:
        self.error = ""
        self.summary = text
        self.status.value = note_html(text)
        self._sync_enabled()

    def _fail(self, exc: Exception) -> None:
        self.error = str(exc)
        self.status.value = error_html(str(exc))
        self._sync_enabled()

    def _show_load_error(self, exc: Exception) -> None:
        self._fail(exc)

    def _propose_from_ui(self, action: str) -> None:
        try:
            self.propose(action)
        except InvalidInputError as exc:
            self._fail(exc)

    def _confirm_from_ui(self) -> None:
        with contextlib.suppress(ClientError):  # confirm() shows the error
            self.confirm()

    def _undo_from_ui(self) -> None:
        with contextlib.suppress(ClientError):  # undo() shows the error
            self.undo()


def _object_array(values: list[Any]) -> Any:
    import numpy as np

    return np.fromiter(values, dtype=object, count=len(values))


def tag_colors(tags: Any) -> Mapping[str, str]:
    """``name -> #rrggbb`` of a ``list_task_tags`` frame or tag dicts (first colour wins).

    Example:
        >>> tag_colors([{"id": 1, "name": "blurry", "color": "#FB8C00"}])
        {'blurry': '#fb8c00'}
    """
    out: dict[str, str] = {}
    for record in _tag_records(tags):
        out.setdefault(str(record.get("name")), _hex6(record.get("color")))
    return out
