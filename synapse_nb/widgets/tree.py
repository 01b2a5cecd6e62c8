"""ResourceTree: browse a Synapse workspace as a lazily loaded tree (ipytree).

::

    Projects             -> project -> tasks by status -> task
    Data collections     -> collection -> file specification -> data unit
    Ground-truth datasets-> dataset -> version -> event
    Plugins              -> plugin -> release -> job
    Models               -> model
    Storages             -> storage

Nothing is fetched in ``__init__``: every node that has children starts with one
placeholder child (so the frontend draws its expand icon) and loads its real children the
first time it is opened — from the browser or from Python (``node.opened = True`` or
:meth:`ResourceTree.expand`). Long child lists come in pages (``page_size``, 200 by default)
followed by a "… N more" node; selecting that node loads the next page in its place.

Selecting a node shows its record in the details pane and sets the observable ``selected``
trait (``{'kind', 'id', 'name', 'record', 'parent'}``).

Example:
    >>> from synapse_nb.widgets import ResourceTree
    >>> tree = ResourceTree(client)
    >>> tree.on_select(lambda info: print(info["kind"], info["id"]))
    >>> projects = tree.expand(tree.group("projects"))
    >>> info = tree.select(tree.find("project", 2))
    project 2
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
from ipytree import Node, Tree
from traitlets import Dict

from synapse_nb.exceptions import ClientError, InvalidInputError, NotFoundError
from synapse_nb.frames.client import Client, as_client
from synapse_nb.widgets._display import (
    check_callback,
    check_widget_options,
    error_html,
    muted,
    plural,
)

__all__ = ["GROUPS", "ResourceTree"]

#: Children per page of a node's child list.
PAGE_SIZE = 200
LOADING = "loading…"
TASK_STATUSES = ("pending", "in_progress", "completed")
_STATUS_STYLE = {"pending": "warning", "in_progress": "info", "completed": "success"}
_JOB_STYLE = {"SUCCEEDED": "success", "FAILED": "danger", "RUNNING": "info", "STOPPED": "warning"}

#: top-level groups: kind of the group node -> label
GROUPS = {
    "projects": "Projects",
    "data_collections": "Data collections",
    "ground_truth_datasets": "Ground-truth datasets",
    "plugins": "Plugins",
    "models": "Models",
    "storages": "Storages",
}


@dataclass
class _Child:
    """What a loader returns for one child node."""

    kind: str
    pk: Any
    name: str
    icon: str
    record: dict[str, Any] = field(default_factory=dict)
    lazy: bool = False
    style: str = "default"


@dataclass
class _Info:
    """Python-side state of one node of the tree."""

    kind: str
    pk: Any
    name: str
    record: dict[str, Any]
    parent: _Info | None = None
    lazy: bool = False
    loaded: bool = False
    next_page: int = 1
    node: Node | None = None


class _Api:
    """Pages of the listings the tree needs, through the client's raw (dict) API."""

    def __init__(self, client: Client, page_size: int) -> None:
        self.raw = client.raw
        self.page_size = page_size

    def page(
        self, what: str, params: Mapping[str, Any], page: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        query = {**params, "page": page, "page_size": self.page_size}
        try:
            envelope = getattr(self.raw, what)(params=query)
        except NotFoundError:
            if page > 1:  # DRF answers 404 past the last page
                return [], None
            raise
        if isinstance(envelope, list):
            return envelope, len(envelope)
        return list(envelope.get("results", [])), envelope.get("count")

    def count(self, what: str, params: Mapping[str, Any]) -> int | None:
        query = {**params, "page_size": 1, "fields": "id"}
        envelope = getattr(self.raw, what)(params=query)
        return envelope.get("count") if isinstance(envelope, dict) else None


def _primary_name(files: Any, spec: str | None = None) -> str | None:
    if not isinstance(files, Mapping):
        return None
    entries = [files[spec]] if spec and spec in files else list(files.values())
    for entry in entries:
        if isinstance(entry, Mapping) and (spec or entry.get("is_primary", True)):
            return entry.get("file_name_original") or entry.get("path")
    return None


def _label(prefix: str, pk: Any, extra: Any) -> str:
    return f"{prefix} {pk}" + (f" · {extra}" if extra else "")


class _Loaders:
    """One function per node kind: ``(info, page) -> (children, total)``."""

    def __init__(self, api: _Api) -> None:
        self.api = api
        self.filtered = False

    def children(self, info: _Info, page: int) -> tuple[list[_Child], int | None, bool]:
        """Children of page ``page``, the server's item count, and whether the page was
        filtered here (then the count is of items to scan, not of children)."""
        loader: Callable[[_Info, int], tuple[list[_Child], int | None]] = getattr(
            self, f"_{info.kind}"
        )
        self.filtered = False
        children, total = loader(info, page)
        return children, total, self.filtered

    # --- projects -> tasks by status -> task
    def _projects(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        items, total = self.api.page("list_projects", {}, page)
        return [
            _Child("project", p["id"], f"{p.get('title') or p.get('name')} (#{p['id']})",
                   "briefcase", p, lazy=True)
            for p in items
        ], total  # fmt: skip

    def _project(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        out = []
        for status in TASK_STATUSES:
            n = self.api.count("list_tasks", {"project": info.pk, "status": status})
            record = {"project": info.pk, "status": status, "count": n}
            out.append(
                _Child("task_status", (info.pk, status), f"{status} ({n:,})" if n is not None
                       else status, "tasks", record, lazy=bool(n), style=_STATUS_STYLE[status])
            )  # fmt: skip
        return out, len(out)

    def _task_status(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        project, status = info.pk
        params = {"project": project, "status": status, "ordering": "id"}
        items, total = self.api.page("list_tasks", params, page)
        return [
            _Child("task", t["id"], _label("task", t["id"], _primary_name(t.get("files"))),
                   "file", _slim(t), style=_STATUS_STYLE.get(str(t.get("status")), "default"))
            for t in items
        ], total  # fmt: skip

    # --- data collections -> file specifications -> data units
    def _data_collections(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        items, total = self.api.page("list_data_collection", {}, page)
        return [
            _Child("data_collection", c["id"],
                   f"{c.get('name')} ({c.get('data_unit_count', '?')} units)", "database", c,
                   lazy=True)
            for c in items
        ], total  # fmt: skip

    def _data_collection(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        collection = self.api.raw.get_data_collection(info.pk)
        specs = collection.get("file_specifications") or []
        children = []
        for spec in specs:
            if not isinstance(spec, Mapping):
                continue
            flags = " · primary" if spec.get("is_primary") else ""
            children.append(
                _Child("file_specification", (info.pk, spec.get("name")),
                       f"{spec.get('name')} · {spec.get('file_type')}{flags}", "list",
                       dict(spec), lazy=True)
            )  # fmt: skip
        return children, len(children)

    def _file_specification(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        collection, spec = info.pk
        items, total = self.api.page("list_data_units", {"data_collection": collection}, page)
        children = []
        for unit in items:
            files = unit.get("files") or {}
            if spec not in files:
                continue  # units without a file of this specification are not listed here
            name = _primary_name(files, spec)
            children.append(_Child("data_unit", unit["id"], _label("unit", unit["id"], name),
                                   "image", _slim(unit)))  # fmt: skip
        self.filtered = True  # pages scan all units of the collection
        return children, total

    # --- ground-truth datasets -> versions -> events
    def _ground_truth_datasets(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        items, total = self.api.page("list_ground_truth_datasets", {}, page)
        return [
            _Child("ground_truth_dataset", d["id"], str(d.get("name")), "archive", d, lazy=True)
            for d in items
        ], total

    def _ground_truth_dataset(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        items, total = self.api.page(
            "list_ground_truth_versions", {"ground_truth_dataset": info.pk}, page
        )
        children = []
        for v in items:
            count = v.get("event_count")
            name = f"{v.get('version')}" + (
                f" ({plural(count, 'event')})" if count is not None else ""
            )
            name += " · archived" if v.get("is_archived") else ""
            children.append(_Child("ground_truth_version", v["id"], name, "history", v, lazy=True))
        return children, total

    def _ground_truth_version(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        params = {"ground_truth_dataset_versions": [info.pk]}
        items, total = self.api.page("list_ground_truth_events", params, page)
        return [
            _Child("ground_truth_event", e["id"],
                   _label("event", e["id"], _primary_name(e.get("files"))), "image", _slim(e))
            for e in items
        ], total  # fmt: skip

    # --- plugins -> releases -> jobs
    def _plugins(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        items, total = self.api.page("list_plugins", {}, page)
        return [
            _Child("plugin", p["id"], f"{p.get('name')} ({p.get('code')})", "plug", p, lazy=True)
            for p in items
        ], total

    def _plugin(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        items, total = self.api.page("list_plugin_releases", {"plugin": info.pk}, page)
        return [
            _Child("plugin_release", r["id"], str(r.get("version")), "tag",
                   {**r, "plugin_code": info.record.get("code")}, lazy=True)
            for r in items
        ], total  # fmt: skip

    def _plugin_release(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        code = info.record.get("plugin_code") or info.record.get("plugin")
        items, total = self.api.page("list_jobs", {"plugin": code}, page)
        children = []
        for job in items:
            release = job.get("plugin_release")
            release_id = release.get("id") if isinstance(release, Mapping) else release
            if release_id != info.pk:
                continue  # the jobs endpoint filters by plugin; the release is checked here
            name = f"{job.get('status')} · {job.get('action')} · {str(job['id'])[:8]}"
            style = _JOB_STYLE.get(str(job.get("status")), "default")
            children.append(_Child("job", job["id"], name, "cog", _slim(job), style=style))
        self.filtered = True  # pages scan all jobs of the plugin
        return children, total

    # --- models, storages
    def _models(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        items, total = self.api.page("list_models", {}, page)
        return [
            _Child("model", m["id"], f"{m.get('name')} {m.get('version') or ''}".strip(), "cube",
                   m)
            for m in items
        ], total  # fmt: skip

    def _storages(self, info: _Info, page: int) -> tuple[list[_Child], int | None]:
        items, total = self.api.page("list_storages", {}, page)
        return [
            _Child("storage", s["id"], f"{s.get('name')} · {s.get('provider')}", "server", s)
            for s in items
        ], total


def _slim(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record without its bulky annotation data (details show a summary instead)."""
    out = {k: v for k, v in record.items() if k != "data"}
    data = record.get("data")
    if isinstance(data, Mapping) and data:
        out["data"] = f"<{len(json.dumps(data)):,} bytes of annotation data>"
    return out


#: the details pane wraps long values between words (a long URL or token anywhere), and
#: the tree's labels wrap instead of being cut at the tree's width
_DETAILS_STYLE = (
    "<style>.snb-details th {text-align: left; vertical-align: top; padding-right: 10px}"
    " .snb-details td {overflow-wrap: anywhere; word-break: normal}"
    " .snb-resource-tree .jstree-anchor {white-space: normal; height: auto;"
    " line-height: 1.4; overflow-wrap: anywhere}</style>"
)


def _details_html(info: _Info) -> str:
    rows = [
        f"<tr><th>kind</th><td>{html.escape(info.kind.replace('_', ' '))}</td></tr>",
        f"<tr><th>name</th><td>{html.escape(info.name)}</td></tr>",
    ]
    for key, value in info.record.items():
        if isinstance(value, Mapping | list):
            text = json.dumps(value, default=str)
            text = text if len(text) <= 160 else text[:157] + "…"
        else:
            text = "" if value is None else str(value)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            cell = f'<a href="{html.escape(value)}" target="_blank">{html.escape(text[:80])}</a>'
        else:
            cell = html.escape(text) if text else muted("—")
        rows.append(f"<tr><th>{html.escape(str(key))}</th><td>{cell}</td></tr>")
    return (
        _DETAILS_STYLE
        + '<table class="snb-details" style="font-size:12px;border-collapse:collapse">'
        + "".join(rows)
        + "</table>"
    )


class ResourceTree(widgets.HBox):
    """A lazily loaded tree of the workspace's resources, with a details pane.

    Args:
        client: A :class:`~synapse_nb.frames.Client` or
            :class:`~synapse_nb.clients.BackendClient`.
        page_size: Children per page of a long child list (a "… N more" node follows).
        groups: Top-level groups to show (keys of :data:`GROUPS`); all by default.
        details: Where the details pane goes: ``"right"`` of the tree or ``"below"`` it.

    Traits:
        selected: The selected node: ``{'kind', 'id', 'name', 'record', 'parent'}`` (empty
            when nothing is selected).

    Example:
        >>> tree = ResourceTree(client, groups=["projects", "models"])
        >>> projects = tree.expand(tree.group("projects"))
        >>> [n.name for n in tree.group("projects").nodes]
        ['Street detection (#1)', 'Pedestrian pose (#2)', ...]
    """

    selected = Dict(help="The selected node: {'kind', 'id', 'name', 'record', 'parent'}.")

    def __init__(
        self,
        client: Any,
        *,
        page_size: int = PAGE_SIZE,
        groups: Any = None,
        details: str = "right",
        **kwargs: Any,
    ) -> None:
        check_widget_options(type(self), kwargs)
        if details not in ("right", "below"):
            raise InvalidInputError(
                "details", details, "must be 'right' or 'below'", method="ResourceTree"
            )
        client = as_client(client, "ResourceTree")
        if (
            isinstance(page_size, bool)
            or not isinstance(page_size, int)
            or not 1 <= page_size <= 1000
        ):
            raise InvalidInputError(
                "page_size", page_size, "must be an int from 1 to 1000", method="ResourceTree"
            )
        chosen = list(GROUPS) if groups is None else list(groups)
        unknown = [g for g in chosen if g not in GROUPS]
        if unknown or not chosen:
            raise InvalidInputError(
                "groups", groups, f"must name some of {list(GROUPS)}", method="ResourceTree"
            )
        self._page_size = page_size
        self._loaders = _Loaders(_Api(client, page_size))
        self._infos: dict[str, _Info] = {}
        self._select_callbacks = widgets.CallbackDispatcher()
        self.tree = Tree(multiple_selection=False, layout=widgets.Layout(width="auto"))
        self.details = widgets.HTML(muted("Select a node to see its details."))
        self.status = widgets.HTML()
        self._groups: dict[str, Node] = {}
        for kind in chosen:
            node = self._make_node(_Info(kind, None, GROUPS[kind], {}, lazy=True), "folder")
            self._groups[kind] = node
            self.tree.add_node(node)
        # the tree keeps its width (labels stay readable); the details pane takes the rest
        tree_box = widgets.VBox(
            [self.tree, self.status],
            layout=widgets.Layout(
                overflow="auto", max_height="520px", min_width="360px", flex="0 0 auto"
            ),
        )
        if details == "right":
            self.details.layout.padding = "0 0 0 12px"
            self.details.layout.flex = "1 1 auto"
            children = [tree_box, self.details]
        else:
            self.details.layout.max_height = "300px"
            self.details.layout.overflow = "auto"
            children = [widgets.VBox([tree_box, self.details])]
        super().__init__(children, **kwargs)
        self.add_class("snb-resource-tree")
        self.details.add_class("snb-tree-details")

    def __repr__(self) -> str:
        loaded = sum(1 for i in self._infos.values() if i.loaded)
        chosen = self.selected.get("name") if self.selected else None
        return f"<ResourceTree: {len(self._infos)} nodes ({loaded} loaded), selected={chosen!r}>"

    # ------------------------------------------------------------------ nodes
    def _make_node(self, info: _Info, icon: str, style: str = "default") -> Node:
        children = [Node(LOADING, icon="spinner", show_icon=True)] if info.lazy else []
        node = Node(info.name, children, icon=icon, icon_style=style, opened=False)
        info.node = node
        self._infos[node._id] = info
        if info.lazy:
            node.observe(self._on_opened, "opened")
        node.observe(self._on_selected, "selected")
        return node

    def info(self, node: Node) -> dict[str, Any]:
        """What the tree knows about ``node``: ``{'kind', 'id', 'name', 'record', 'loaded'}``.

        Example:
            >>> tree = ResourceTree(client)
            >>> tree.info(tree.group("models"))["kind"]
            'models'
        """
        state = self._infos.get(node._id)
        if state is None:
            raise InvalidInputError("node", node.name, "is not a node of this tree", method="info")
        return {
            "kind": state.kind,
            "id": state.pk,
            "name": state.name,
            "record": dict(state.record),
            "loaded": state.loaded,
        }

    def group(self, kind: str) -> Node:
        """The top-level node of a group (``projects``, ``models``, ...).

        Example:
            >>> tree = ResourceTree(client)
            >>> tree.group("projects").name
            'Projects'
        """
        if kind not in self._groups:
            raise InvalidInputError("kind", kind, f"one of {list(self._groups)}", method="group")
        return self._groups[kind]

    def find(self, kind: str, pk: Any) -> Node | None:
        """A loaded node of ``kind`` with id ``pk`` (None when not loaded yet).

        Example:
            >>> tree = ResourceTree(client)
            >>> projects = tree.expand(tree.group("projects"))
            >>> tree.find("project", 1).name
            'Street detection (#1)'
        """
        for state in self._infos.values():
            if state.kind == kind and state.pk == pk and state.node is not None:
                return state.node
        return None

    # ------------------------------------------------------------------ loading
    def expand(self, node: Node) -> Node:
        """Open ``node`` (loading its children if needed), as a click on its icon does.

        Example:
            >>> tree = ResourceTree(client)
            >>> tree.expand(tree.group("models")).nodes[0].name
            'yolo-v8n 1.0.0'
        """
        if node._id not in self._infos:
            raise InvalidInputError(
                "node", node.name, "is not a node of this tree", method="expand"
            )
        if node.opened:
            self._load(self._infos[node._id])
        node.opened = True
        return node

    def _on_opened(self, change: Mapping[str, Any]) -> None:
        if change["new"]:
            self._load(self._infos[change["owner"]._id])

    def _load(self, info: _Info) -> None:
        if info.loaded or info.node is None:
            return
        node = info.node
        try:
            children, total, filtered = self._loaders.children(info, 1)
        except ClientError as exc:
            self.status.value = error_html(f"{info.name}: {exc}")
            node.nodes = (
                Node(f"error: {exc}"[:200], icon="exclamation-triangle", icon_style="danger"),
            )
            node.opened = False  # opening it again retries
            return
        self.status.value = ""
        info.loaded = True
        info.next_page = 2
        node.nodes = tuple(self._child_nodes(info, children, total, filtered))

    def _child_nodes(
        self, info: _Info, children: list[_Child], total: int | None, filtered: bool
    ) -> list[Node]:
        nodes = []
        for child in children:
            state = _Info(child.kind, child.pk, child.name, child.record, info, lazy=child.lazy)
            nodes.append(self._make_node(state, child.icon, child.style))
        # pages are full until the last one, so what is left follows from the page number
        remaining = None if total is None else total - (info.next_page - 1) * self._page_size
        if remaining is not None and remaining > 0:
            label = f"… {remaining:,} more" + (" to scan" if filtered else "")
            more = _Info("more", info.next_page, label, {}, info)
            nodes.append(self._make_node(more, "ellipsis-h"))
        return nodes

    def _load_more(self, more: _Info) -> None:
        parent = more.parent
        if parent is None or parent.node is None or more.node is None:
            return
        kept = [n for n in parent.node.nodes if n is not more.node]
        try:
            children, total, filtered = self._loaders.children(parent, parent.next_page)
        except ClientError as exc:
            self.status.value = error_html(f"{parent.name}: {exc}")
            return
        parent.next_page += 1
        self._infos.pop(more.node._id, None)
        parent.node.nodes = tuple(kept + self._child_nodes(parent, children, total, filtered))

    # ------------------------------------------------------------------ selection
    def _on_selected(self, change: Mapping[str, Any]) -> None:
        if not change["new"]:
            return
        info = self._infos.get(change["owner"]._id)
        if info is None:
            return
        if info.kind == "more":
            change["owner"].selected = False
            self._load_more(info)
            return
        self.details.value = _details_html(info)
        self.selected = {
            "kind": info.kind,
            "id": info.pk,
            "name": info.name,
            "record": dict(info.record),
            "parent": ({"kind": info.parent.kind, "id": info.parent.pk} if info.parent else None),
        }
        self._select_callbacks(dict(self.selected))

    def select(self, node: Node) -> dict[str, Any]:
        """Select ``node`` as a click on it does (only one node is selected at a time).

        Example:
            >>> tree = ResourceTree(client)
            >>> models = tree.expand(tree.group("models"))
            >>> tree.select(tree.find("model", 1))["record"]["name"]
            'yolo-v8n'
        """
        if node._id not in self._infos:
            raise InvalidInputError(
                "node", node.name, "is not a node of this tree", method="select"
            )
        for state in self._infos.values():
            if state.node is not None and state.node is not node and state.node.selected:
                state.node.selected = False
        node.selected = True
        return dict(self.selected)

    def on_select(self, callback: Callable[[dict[str, Any]], Any], remove: bool = False) -> None:
        """Call ``callback(selected)`` when a node is selected (in the browser or by select()).

        Example:
            >>> tree = ResourceTree(client)
            >>> tree.on_select(lambda info: print(info["name"]))
            >>> projects = tree.expand(tree.group("projects"))
            >>> info = tree.select(tree.find("project", 1))
            Street detection (#1)
        """
        checked = check_callback(callback, "ResourceTree.on_select")
        self._select_callbacks.register_callback(checked, remove=remove)
