"""``df.synapse``: acting on the rows of a frame returned by :class:`~.client.Client`.

The accessor is registered when :mod:`synapse_nb.frames` is imported. It validates the frame
(``attrs['synapse']['kind']``, or failing that, a frame whose columns are a resource schema)
and raises ``AttributeError`` on any other DataFrame. Methods that talk to the server use the
client that returned the frame (``client=`` overrides it, e.g. for a frame read back from a
file).

=================  ============================================================
``tag/untag``      tags (ids or names) on the rows, one batched ``set_tags_*`` call
``refresh``        the same rows, re-fetched (only the changed ones when it can)
``annotations``    one row per annotation (DM v1/v2); ``class_counts``; ``summary``
``split/details``  reproducible stratified train/val/test; labels and distributions
``diff/push/undo`` write edited columns back, batched, with a dry run and an undo
``preview``        the annotation preview widget on these rows
``health``         duplicates, split leaks, image and annotation issues as columns
``evaluate``       COCO evaluation of these rows (ground truth, predictions or models);
                   ``with_metrics`` on models; ``annotator_quality`` on assignments
=================  ============================================================

Example:
    >>> tasks = client.list_tasks({"project": 1}, list_all=True)
    >>> tasks.synapse
    <df.synapse: task frame, ... rows>
    >>> tasks.synapse.meta["kind"], tasks.synapse.summary().rows == len(tasks)
    ('task', True)
"""

from __future__ import annotations

import contextlib
import importlib
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from synapse_nb.clients._validate import check_bool, check_keywords
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import writeback
from synapse_nb.frames.annotations import annotations_from_data, class_counts
from synapse_nb.frames.build import LIST_OF_STRINGS, STRING, frame_meta, partial_note
from synapse_nb.frames.client import Client, client_for, now_iso
from synapse_nb.frames.schemas import SCHEMAS, Schema
from synapse_nb.frames.split import DatasetDetails, details, split

__all__ = ["FrameSummary", "SynapseAccessor", "register_previewer"]

_PREVIEWERS: list[Callable[..., Any]] = []


def register_previewer(opener: Callable[..., Any]) -> Callable[..., Any]:
    """Register the function ``df.synapse.preview()`` calls: ``opener(frame, client=...)``.

    The widgets package registers its preview widget with this on import, so frames never
    import widgets (arrows point one way: widgets -> frames -> clients).

    Example:
        >>> opener = register_previewer(lambda frame, client=None, **kw: len(frame))
        >>> client.list_tasks({"project": 1, "page_size": 3}).synapse.preview()
        3
        >>> _PREVIEWERS.remove(opener)  # back to the registered widget
    """
    if not callable(opener):
        raise InvalidInputError("opener", opener, "must be callable", method="register_previewer")
    _PREVIEWERS.append(opener)
    return opener


def _infer_kind(frame: pd.DataFrame) -> str | None:
    meta = frame_meta(frame)
    kind = meta.get("kind")
    if kind in SCHEMAS:
        return kind
    columns = set(frame.columns)
    for name, schema in SCHEMAS.items():
        if set(schema.names) <= columns and frame.index.name == "id":
            return name
    return None


def _tag_values(tags: Any, method: str, allow_empty: bool) -> tuple[Any, ...]:
    values = [tags] if isinstance(tags, numbers.Integral | str) else tags
    if isinstance(values, bool) or not isinstance(values, Iterable) or isinstance(values, dict):
        raise InvalidInputError("tags", tags, "must be a tag id, a name or a list", method=method)
    # ids read from a frame are often numpy integers
    values = [
        int(v) if isinstance(v, numbers.Integral) and not isinstance(v, bool) else v for v in values
    ]
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int | str)]
    if bad or any(isinstance(v, int) and v <= 0 for v in values):
        raise InvalidInputError(
            "tags", tags, "must be positive tag ids or tag names", method=method
        )
    if not values and not allow_empty:
        raise InvalidInputError("tags", tags, "must name at least one tag", method=method)
    return tuple(dict.fromkeys(values))


@dataclass
class FrameSummary:
    """Counts per facet (status, class, assignee, tag...) of a frame.

    Attributes:
        kind: Frame kind.
        rows: Rows in the frame.
        total: Rows in the listing the frame came from (None if unknown).
        note: The "100 of 12,345" line when the frame is partial.
        counts: Facet name -> counts (a Series, largest first).
    """

    kind: str
    rows: int
    total: int | None
    note: str | None
    counts: dict[str, pd.Series] = field(default_factory=dict)

    def __getitem__(self, facet: str) -> pd.Series:
        return self.counts[facet]

    def to_frame(self) -> pd.DataFrame:
        """The counts as one long frame: ``facet, value, count``.

        Example:
            >>> FrameSummary("task", 0, 0, None).to_frame().columns.tolist()
            ['facet', 'value', 'count']
        """
        parts = [
            pd.DataFrame(
                {
                    "facet": facet,
                    "value": pd.array([str(v) for v in series.index], dtype=STRING),
                    "count": series.to_numpy(dtype="int64"),
                }
            )
            for facet, series in self.counts.items()
        ]
        if not parts:
            return pd.DataFrame({"facet": [], "value": [], "count": []})
        return pd.concat(parts, ignore_index=True)

    def _header(self) -> str:
        label = self.kind.replace("_", " ")
        head = f"{self.rows:,} {label}s"
        if self.total is not None and self.total != self.rows:
            head += f" (listing has {self.total:,})"
        return head

    def __repr__(self) -> str:
        lines = [self._header()]
        if self.note:
            lines.append(f"[{self.note}]")
        for facet, series in self.counts.items():
            shown = " · ".join(f"{k} {v:,}" for k, v in list(series.items())[:12])
            more = f" · … +{len(series) - 12} more" if len(series) > 12 else ""
            lines.append(f"  {facet}: {shown or '-'}{more}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(facet)}</th><td>"
            + ", ".join(f"{html.escape(str(k))}: {v:,}" for k, v in list(series.items())[:20])
            + "</td></tr>"
            for facet, series in self.counts.items()
        )
        note = f"<p><b>Partial:</b> {html.escape(self.note)}</p>" if self.note else ""
        return f"<p>{html.escape(self._header())}</p>{note}<table>{rows}</table>"


def _counts(values: Iterable[Any]) -> pd.Series:
    series = pd.Series(list(values), dtype=object)
    if series.empty:
        return pd.Series(dtype="int64")
    counts = series.value_counts(dropna=False)
    counts.index = [("(none)" if pd.isna(v) else v) for v in counts.index]
    return counts.sort_values(ascending=False, kind="stable")


@pd.api.extensions.register_dataframe_accessor("synapse")
class SynapseAccessor:
    """The ``df.synapse`` namespace of Synapse frames.

    Example:
        >>> import pandas as pd
        >>> hasattr(pd.DataFrame({"a": [1]}), "synapse")
        False
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        kind = _infer_kind(frame)
        if kind is None:
            raise AttributeError(
                "df.synapse works on frames returned by synapse_nb.Client (list_tasks, "
                "list_assignments, ...); this DataFrame has no Synapse kind in attrs and its "
                "columns match no Synapse schema"
            )
        self._obj = frame
        self.kind = kind
        self.schema: Schema = SCHEMAS[kind]

    # ------------------------------------------------------------------ basics
    @property
    def meta(self) -> dict[str, Any]:
        """The frame's ``attrs['synapse']`` (kind, query, count, client key...).

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> tasks.synapse.meta["count"] == len(tasks), tasks.synapse.meta["query"]["project"]
            (True, 1)
        """
        return frame_meta(self._obj)

    def client(self, client: Client | None = None) -> Client:
        """The client that returned this frame (or ``client`` when given).

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> tasks.synapse.client() is client, tasks.synapse.client().base_url
            (True, 'http://127.0.0.1:...')
        """
        return client_for(self._obj, client)

    def _ids(self) -> list[int]:
        values = [v for v in self._obj.index.tolist() if v is not None and not pd.isna(v)]
        return list(dict.fromkeys(int(v) for v in values))

    def _require(self, method: str, kinds: Iterable[str]) -> None:
        if self.kind not in kinds:
            raise InvalidInputError(
                "frame", self.kind, f"{method}() works on {', '.join(kinds)} frames", method=method
            )

    # ------------------------------------------------------------------ tags
    def tag(
        self, tags: Any, replace: bool = False, *, client: Client | None = None
    ) -> pd.DataFrame:
        """Add tags (ids or names) to every row, in one ``set_tags_*`` call.

        Args:
            tags: A tag id or name, or a list of them.
            replace: Replace each row's tags by ``tags`` instead of adding.
            client: Client to use instead of the frame's.

        Returns:
            What changed: ``id, added, removed`` (lists of tag ids), one row per changed
            item. The frame's ``tags``/``tag_names`` are updated in place.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> two = tasks[tasks.tags.str.len() == 0].head(2)
            >>> changes = two.synapse.tag(["edge-case"])
            >>> changes.added.tolist(), two.tag_names.tolist()
            ([[5], [5]], [['edge-case'], ['edge-case']])
            >>> _ = two.synapse.untag("edge-case")  # as it was
        """
        check_bool(replace, method="tag", field="replace")
        return self._set_tags(_tag_values(tags, "tag", allow_empty=replace), "add", replace, client)

    def untag(self, tags: Any, *, client: Client | None = None) -> pd.DataFrame:
        """Remove tags (ids or names) from every row, in one ``set_tags_*`` call.

        Returns:
            What changed, as for :meth:`tag`.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> one = tasks[tasks.tags.str.len() == 0].head(1)
            >>> _ = one.synapse.tag(["blurry", "gold"])
            >>> one.synapse.untag("blurry").removed.tolist(), one.tag_names.tolist()
            ([[2]], [['gold']])
            >>> _ = one.synapse.untag("gold")  # as it was
        """
        values = _tag_values(tags, "untag", allow_empty=False)
        return self._set_tags(values, "remove", False, client)

    def _set_tags(
        self, values: tuple[Any, ...], action: str, replace: bool, client: Client | None
    ) -> pd.DataFrame:
        method = "tag" if action == "add" else "untag"
        self._require(method, ("task", "assignment"))
        live = self.client(client)
        frame = self._obj
        ids = self._ids()
        projects = frame["project"].dropna().unique().tolist() if "project" in frame else []
        project = projects[0] if len(projects) == 1 else None
        tag_ids = live.tags.resolver()(tuple(values), project)
        changes: list[tuple[int, list[int], list[int]]] = []
        if not ids:
            return _tag_changes(changes)
        snap = live.snapshots.get(writeback.snapshot_id(frame))
        current = frame["tags"] if "tags" in frame else pd.Series(dtype=object)
        before_of: dict[int, set[int]] = {}
        for pk in ids:
            if snap is not None and pk in snap.index:
                before_of[pk] = set(snap.at[pk, "tags"])
            else:
                value = current.get(pk, [])
                before_of[pk] = set(value) if isinstance(value, list | tuple) else set()
        live.tags.set(self.kind, ids, list(tag_ids), action, replace=replace)
        after_of: dict[int, tuple[int, ...]] = {}
        for pk in ids:
            before = before_of[pk]
            if replace:
                after = set(tag_ids)
            elif action == "add":
                after = before | set(tag_ids)
            else:
                after = before - set(tag_ids)
            after_of[pk] = tuple(sorted(after))
            if after != before:
                changes.append((pk, sorted(after - before), sorted(before - after)))
        self._apply_tags(live, after_of)
        return _tag_changes(changes)

    def _apply_tags(self, live: Client, after_of: dict[int, tuple[int, ...]]) -> None:
        """Write new tag sets into the frame and move it to its own snapshot."""
        frame = self._obj
        self._write_tags(live, after_of)
        updates = {(pk, "tags"): after for pk, after in after_of.items()}
        forked = live.snapshots.fork(writeback.snapshot_id(frame), frame.index.tolist(), updates)
        if forked:
            frame.attrs["synapse"]["snapshot"] = forked

    def _write_tags(self, live: Client, after_of: dict[int, tuple[int, ...]]) -> None:
        frame = self._obj
        if "tags" not in frame.columns or not after_of:
            return
        names = live.tags.names() if "tag_names" in frame.columns else {}
        tags = frame["tags"].tolist()
        tag_names = frame["tag_names"].tolist() if names else []
        for position, pk in enumerate(frame.index.tolist()):
            if pk in after_of:
                tags[position] = list(after_of[pk])
                if names:
                    tag_names[position] = [names.get(t, f"tag:{t}") for t in after_of[pk]]
        frame["tags"] = pd.Series(_objects(tags), index=frame.index, dtype=object)
        if names:
            frame["tag_names"] = pd.Series(
                pd.array(tag_names, dtype=LIST_OF_STRINGS), index=frame.index
            )

    # ------------------------------------------------------------------ refresh
    def refresh(self, *, client: Client | None = None) -> pd.DataFrame:
        """The same rows, re-fetched from the server (a new frame).

        A frame that holds a whole listing is brought up to date incrementally: only rows
        modified since its newest ``modified`` are fetched, deleted rows are dropped and new
        ones added. Any other frame is re-read by id (``id__in``, chunked). Unpushed edits of
        writable columns are discarded (``diff()`` them first); columns you added (such as
        ``split``) are carried over by id.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> fresh = tasks.synapse.refresh()
            >>> fresh is tasks, fresh.index.equals(tasks.index)
            (False, True)
        """
        live = self.client(client)
        frame, meta = self._obj, self.meta
        include_data = "data" in frame.columns
        query = dict(meta.get("query") or {})
        query.pop("page", None)
        schema_columns = [*self.schema.names, *(["data"] if include_data else [])]
        prefix = self.schema.dynamic_prefix
        extras = [
            c
            for c in frame.columns
            if c not in schema_columns and not (prefix and str(c).startswith(prefix))
        ]
        whole = (
            bool(meta.get("complete"))
            and meta.get("count") == len(frame)
            and not frame.index.has_duplicates
        )
        if self.kind not in ("task", "assignment", "ground_truth_event"):
            fresh = live.list_frame(self.kind, query, list_all=True)
            if not whole:
                fresh = fresh[fresh.index.isin(frame.index)]
            stats = {"changed": len(fresh), "removed": 0}
        elif whole and "modified" in frame.columns:
            snap = live.snapshots.get(writeback.snapshot_id(frame))
            if snap is None:
                # without the snapshot, local edits cannot be told from server values:
                # list again rather than keep them
                fresh = live.list_frame(self.kind, query, list_all=True, include_data=include_data)
                stats = {"changed": len(fresh), "removed": 0}
            else:
                base = _restore_writable(frame[schema_columns].copy(), snap, self.schema)
                fresh, stats = live.refresh_frame(self.kind, base, query, include_data)
        else:
            fresh = live.frame_by_id(self.kind, self._ids(), include_data)
            order = [pk for pk in frame.index.tolist() if pk in fresh.index]
            fresh = fresh.reindex(pd.Index(order, dtype=fresh.index.dtype, name="id"))
            fresh.attrs["synapse"] = {
                **meta,
                "fetched": len(fresh),
                "fetched_at": now_iso(),
            }
            fresh = live.register(fresh)
            stats = {"changed": len(fresh), "removed": len(set(frame.index) - set(fresh.index))}
        if extras and not frame.index.has_duplicates:
            for column in extras:
                fresh[column] = frame[column].reindex(fresh.index)
        fresh.attrs["synapse"]["refresh"] = stats
        return fresh

    # ------------------------------------------------------------------ annotations
    def annotations(self, *, client: Client | None = None) -> pd.DataFrame:
        """One row per annotation of these rows (DM v1 or v2), with a common geometry.

        Uses the frame's ``data`` column when it has one (``include_data=True``); otherwise
        the rows' data is fetched (``fields=id,data``, chunked by id).

        Returns:
            ``<kind>_id, media, media_index, annotation_id, tool, class_name, x, y, w, h,
            area, visibility, group_id, attributes, geometry``.

        Example:
            >>> tasks = client.list_tasks({"project": 1, "status": "completed"}, list_all=True)
            >>> ann = tasks.head(10).synapse.annotations()
            >>> boxes = ann[ann.tool == "bounding_box"]
            >>> len(boxes) > 0, bool((boxes.area > 0).all()), set(boxes.task_id) <= set(tasks.index)
            (True, True, True)
        """
        self._require("annotations", ("task", "assignment", "ground_truth_event"))
        frame = self._obj
        ids = frame.index.tolist()
        if "data" in frame.columns:
            data = frame["data"].tolist()
        else:
            live = self.client(client)
            by_id = live.rows.data(self.kind, self._ids())
            data = [by_id.get(int(pk)) if not pd.isna(pk) else None for pk in ids]
        widths = frame["width"].tolist() if "width" in frame.columns else None
        out = annotations_from_data(ids, data, owner=self.schema.owner_column, widths=widths)
        out.attrs["synapse"].update({"source_kind": self.kind, "client": self.meta.get("client")})
        return out

    def class_counts(self, *, client: Client | None = None) -> pd.DataFrame:
        """Annotations and items per class (keypoints and relations left out).

        Returns:
            Frame indexed by ``class_name``: ``n_items``, ``n_annotations``, ``n_<tool>``.

        Example:
            >>> tasks = client.list_tasks({"project": 1, "status": "completed"}, list_all=True)
            >>> counts = tasks.head(10).synapse.class_counts()
            >>> counts.columns[:2].tolist(), bool((counts.n_annotations >= counts.n_items).all())
            (['n_items', 'n_annotations'], True)
        """
        return class_counts(self.annotations(client=client), self.schema.owner_column)

    def summary(self) -> FrameSummary:
        """Counts per status, class, assignee and tag (whatever the frame has); no request.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> s = tasks.synapse.summary()
            >>> s.rows == len(tasks), sorted(s["status"].index)
            (True, ['completed', 'in_progress', 'pending'])
            >>> list(s.counts)
            ['status', 'priority', 'class', 'assignee', 'tag']

        """
        frame = self._obj
        counts: dict[str, pd.Series] = {}
        for column in ("status", "status_label", "status_review", "priority", "version"):
            if column in frame.columns:
                counts[column] = _counts(frame[column].astype(object).tolist())
        if "classes" in frame.columns:
            counts["class"] = _counts(
                c
                for labels in frame["classes"].tolist()
                if isinstance(labels, list)
                for c in labels
            )
        if "assignee_name" in frame.columns:
            counts["assignee"] = _counts(frame["assignee_name"].astype(object).tolist())
        if "tag_names" in frame.columns:
            counts["tag"] = _counts(
                t for names in frame["tag_names"].tolist() if isinstance(names, list) for t in names
            )
        for column in ("action", "plugin", "name"):
            if column in frame.columns and self.kind in ("job", "model"):
                counts[column] = _counts(frame[column].astype(object).tolist())
        total = self.meta.get("count")
        return FrameSummary(
            self.kind,
            len(frame),
            total if isinstance(total, int) else None,
            partial_note(frame),
            counts,
        )

    # ------------------------------------------------------------------ split
    def split(
        self,
        val: float = 0.2,
        test: float = 0.1,
        stratify: str | None = "class",
        seed: int = 0,
        column: str = "split",
    ) -> pd.DataFrame:
        """A copy of the frame with a reproducible ``train``/``val``/``test`` column.

        See :func:`synapse_nb.frames.split.split` (stratified by each row's rarest class by
        default; strata too small to share are pooled).

        Example:
            >>> tasks = client.list_tasks({"project": 1, "status": "completed"}, list_all=True)
            >>> tasks = tasks.synapse.split(val=0.2, test=0.1, seed=0)
            >>> tasks.split.value_counts().to_dict()
            {'train': ..., 'val': ..., 'test': ...}
        """
        return split(self._obj, val=val, test=test, stratify=stratify, seed=seed, column=column)

    def details(self, column: str = "split") -> DatasetDetails:
        """Labels, per-class item lists and per-split class distribution, as frames.

        Example:
            >>> tasks = client.list_tasks({"project": 1, "status": "completed"}, list_all=True)
            >>> d = tasks.synapse.split().synapse.details()
            >>> d.distribution.columns.tolist()
            ['train', 'val', 'test', 'total']
        """
        return details(self._obj, column=column)

    # ------------------------------------------------------------------ write-back
    def diff(self, *, client: Client | None = None) -> pd.DataFrame:
        """The edits of writable columns since the fetch: ``id, column, before, after``.

        Writable: tasks ``status, priority, assignee_id, tags, metadata, is_discarded``;
        assignments ``status_label, status_review, tags``. Tags may be edited as ids or names;
        numpy numbers inside ``metadata`` count as Python numbers.

        Every edited value is checked first: an invalid one (an unknown status, an id < 1,
        NaN or a Timestamp inside ``metadata``, ...) raises ``InvalidInputError`` naming the
        row, column and value. Edits of read-only columns cannot be sent: for ``tag_names``,
        ``project``, ``data_unit_id``, ``assignee_name`` (and an assignment's ``task_id``,
        ``assignee_id``) a ``UserWarning`` names them and the column to edit instead (e.g.
        ``tags`` for ``tag_names``); see :func:`.writeback.diff` for when this is checked.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> first = tasks.index[0]
            >>> tasks.at[first, "priority"] = "high"
            >>> tasks.synapse.diff()[["column", "before", "after"]].values.tolist()
            [['priority', 'normal', 'high']]
        """
        return writeback.diff(self.client(client), self._obj)

    def push(
        self, *, dry_run: bool = False, force: bool = False, client: Client | None = None
    ) -> pd.DataFrame:
        """Send the :meth:`diff` to the server, batched (tags via ``set_tags``, the rest
        via one PATCH per row); ``undo()`` reverts it.

        Every edited value is validated (as for :meth:`diff`) before the first request, so
        one bad value sends nothing; edits of read-only columns are not sent (a warning
        names them).

        Args:
            dry_run: Return the changes without sending them.
            force: Overwrite values that changed on the server since the fetch.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> first = int(tasks.index[0])
            >>> tasks.at[first, "priority"] = "high"
            >>> tasks.synapse.push()[["column", "after"]].values.tolist()
            [['priority', 'high']]
            >>> client.raw.get_task(first)["priority"]
            'high'
            >>> _ = tasks.synapse.undo()  # as it was
        """
        check_bool(dry_run, method="push", field="dry_run")
        check_bool(force, method="push", field="force")
        return writeback.push(self.client(client), self._obj, dry_run=dry_run, force=force)

    def undo(self, *, client: Client | None = None) -> pd.DataFrame:
        """Revert the last push of this frame, on the server and in the frame.

        Returns:
            The reverted changes (``before`` = pushed value, ``after`` = restored value).

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> first = int(tasks.index[0])
            >>> tasks.at[first, "priority"] = "low"
            >>> _ = tasks.synapse.push()
            >>> tasks.synapse.undo()[["column", "before", "after"]].values.tolist()
            [['priority', 'low', 'normal']]
            >>> tasks.at[first, "priority"], client.raw.get_task(first)["priority"]
            ('normal', 'normal')
        """
        live = self.client(client)
        reverted = writeback.undo(live, self._obj)
        self._restore(live, reverted)
        return reverted

    def _restore(self, live: Client, reverted: pd.DataFrame) -> None:
        """Put the restored values of an undo back into the frame."""
        frame = self._obj
        present = set(frame.index.tolist())
        tags: dict[int, tuple[int, ...]] = {}
        for pk, column, after in zip(
            reverted["id"].tolist(),
            reverted["column"].tolist(),
            reverted["after"].tolist(),
            strict=True,
        ):
            if pk not in present or column not in frame.columns:
                continue
            if column == "tags":
                tags[pk] = tuple(after)
            elif column == "metadata":
                frame.at[pk, column] = writeback.wire_value(column, after)
            else:
                frame.at[pk, column] = pd.NA if after is None else after
        self._write_tags(live, tags)

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        predictions: Any = None,
        *,
        ground_truth: Any = None,
        iou_type: str = "bbox",
        tools: Any = None,
        progress: bool | None = None,
        client: Client | None = None,
    ) -> Any:
        """Evaluate with these rows as the ground truth, the predictions, or the models.

        * task / assignment / ground-truth-event frame: the rows are the ground truth of
          ``predictions`` (any form :meth:`Client.evaluate <.client.Client.evaluate>` takes),
          or, when ``ground_truth=`` is given instead, the predictions.
        * model frame: each model's predictions against ``ground_truth``; returns a
          :class:`~synapse_nb.evaluation.Comparison` (``model_ids`` maps back to the rows).

        Example:
            >>> gt = client.list_ground_truth_events({"ground_truth_dataset_versions": [2]},
            ...                                      list_all=True)
            >>> gt.synapse.evaluate({"model": 3}).summary.loc["AP50", "value"] > 0
            np.True_
            >>> client.list_models({"project": 1}).loc[[3]].synapse.evaluate(
            ...     ground_truth=2).summary.index.tolist()
            ['yolo-v8n 2.0.0']
        """
        from synapse_nb.frames import evaluation
        from synapse_nb.frames.eval_models import evaluate_models

        live = self.client(client)
        if self.kind == "model":
            return evaluate_models(live, ground_truth, self._obj, iou_type,
                                             progress=progress)  # fmt: skip
        self._require("evaluate", ("task", "assignment", "ground_truth_event"))
        if (predictions is None) == (ground_truth is None):
            raise InvalidInputError("predictions", predictions, "give predictions (these rows are "
                                    "the ground truth) or ground_truth=, not both nor neither",
                                    method="evaluate")  # fmt: skip
        if ground_truth is not None:
            return evaluation.evaluate_on_server(live, ground_truth, self._obj, iou_type,
                                                 tools=tools, progress=progress)  # fmt: skip
        return evaluation.evaluate_on_server(live, self._obj, predictions, iou_type,
                                             tools=tools, progress=progress)  # fmt: skip

    def labels(
        self,
        result: Any,
        *,
        status: str | Iterable[str] | None = None,
        classes: str | Iterable[str] | None = None,
        min_score: float | None = None,
        source: str | None = None,
        iou: float = 0.5,
        images: Any = None,
    ) -> pd.DataFrame:
        """The label-level view of an evaluation on these tasks: TP / FP / FN, some classes,
        predictions above a score (see :func:`~synapse_nb.frames.task_labels.task_labels`).

        Args:
            result: An :class:`~synapse_nb.evaluation.EvaluationResult` (bbox or segm).
            status: ``TP``, ``FP``, ``FN`` or ``ignored`` (or a list of them).
            classes: Class names to keep.
            min_score: Keep predictions with ``score >= min_score`` (ground truth is kept).
            source: ``gt`` or ``pred`` only.
            iou: IoU threshold of the matching.
            images: COCO image id -> task id, for a result not from ``client.evaluate``.

        Example:
            >>> res = client.evaluate(ground_truth=2, predictions={"model": 3})
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> missed = tasks.synapse.labels(res, status="FN", classes=["car"])
            >>> sorted(set(missed["status"])), sorted(set(missed["class_name"]))
            (['FN'], ['car'])
        """
        self._require("labels", ("task",))
        from synapse_nb.frames.task_labels import task_labels

        return task_labels(self._obj, result, status=status, classes=classes,
                           min_score=min_score, source=source, iou=iou, images=images)

    def with_metrics(
        self, ground_truth: Any, iou_type: str = "bbox", *, client: Client | None = None
    ) -> pd.DataFrame:
        """A model frame with ``eval_<metric>`` columns computed against ``ground_truth``.

        Example:
            >>> models = client.list_models({"project": 1}).synapse.with_metrics(2)
            >>> models.loc[3, "eval_AP"] > 0
            np.True_
        """
        self._require("with_metrics", ("model",))
        from synapse_nb.frames.eval_models import with_metrics

        return with_metrics(self.client(client), self._obj, ground_truth, iou_type)

    def annotator_quality(
        self, gt: Any, iou_type: str = "bbox", *, iou: float = 0.5, client: Client | None = None
    ) -> Any:
        """Each assignee's submitted assignments against the reviewed ground truth ``gt``.

        Returns an :class:`~synapse_nb.frames.eval_annotators.AnnotatorQuality` (``summary`` per
        assignee: misses, extras, confusions, agreement, review outcomes; ``per_class``).

        Example:
            >>> work = client.list_assignments({"project": 1}, list_all=True)
            >>> quality = work.synapse.annotator_quality(gt=2)
            >>> bool((quality.summary.agreement <= 1).all())
            True
        """
        self._require("annotator_quality", ("assignment",))
        from synapse_nb.frames.eval_annotators import annotator_quality

        return annotator_quality(self.client(client), self._obj, gt, iou_type, iou=iou)

    # ------------------------------------------------------------------ preview
    def preview(self, *, client: Client | None = None, **options: Any) -> Any:
        """Open the annotation preview widget on these rows.

        The widget comes from :mod:`synapse_nb.widgets`, which registers itself with
        :func:`register_previewer`.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> widget = tasks.head(20).synapse.preview()
            >>> type(widget).__name__, widget.row_count, widget.index
            ('AnnotationPreview', 20, 0)
        """
        if not _PREVIEWERS:
            with contextlib.suppress(ImportError):
                importlib.import_module("synapse_nb.widgets")
        if not _PREVIEWERS:
            raise RuntimeError(
                "No annotation preview widget is registered: synapse_nb.widgets did not "
                "register one (see synapse_nb.frames.register_previewer)"
            )
        try:
            live = self.client(client)
        except InvalidInputError:
            live = None
        return _PREVIEWERS[-1](self._obj, client=live, **options)

    # ------------------------------------------------------------------ health
    def health(
        self, split: str | None = None, *, client: Client | None = None, **options: Any
    ) -> Any:
        """Dataset health of these rows: the frame with issue columns, and a summary.

        See :func:`synapse_nb.frames.health.frame_health` (options: thresholds, config,
        cache, tools, progress). ``split`` names a split column for leaks; by default the
        frame's ``split`` column when it has one.

        Returns:
            A :class:`~synapse_nb.frames.health.FrameHealth` (``frame``, ``annotations``,
            ``summary``, ``clusters()``, ``flagged(issue)``).

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True).synapse.split()
            >>> report = tasks.synapse.health(progress=False)
            >>> int(report.frame["is_leak"].sum()) > 0, report.frame.synapse.kind
            (True, 'task')
        """
        self._require("health", ("task", "assignment", "ground_truth_event"))
        from synapse_nb.frames.health import frame_health

        check_keywords(frame_health, options, "health", given=("frame", "live", "split"))
        if split is None and "split" in self._obj.columns:
            split = "split"
        return frame_health(self._obj, self.client(client), split=split, **options)

    # ------------------------------------------------------------------ export
    def export(
        self,
        fmt: str,
        path: str | Any,
        *,
        split: str | None = None,
        client: Client | None = None,
        **options: Any,
    ) -> Any:
        """Export these rows with their originals as DM, COCO, Pascal VOC or YOLO.

        A thin front of :func:`synapse_nb.plugins.export`: the frame's kind picks the target
        (tasks, assignments or ground-truth events) and its index the objects.

        Args:
            fmt: ``"dm"``, ``"coco"``, ``"voc"`` or ``"yolo"`` (or a ``BaseExporter`` class).
            path: Folder the export directory is created in.
            split: Name of a split column (e.g. from :meth:`split`) to write train/val/test.
            client: Client to use (default: the one that made the frame).
            **options: Passed on (``name``, ``classes``, ``progress``, ``save_original_file``...).

        Returns:
            The :class:`~synapse_nb.plugins.export.ExportReport` (counts, audit, paths).

        Example:
            >>> tasks = client.list_tasks({"project": 1, "status": "completed"}, list_all=True)
            >>> tasks = tasks.head(20).synapse.split(val=0.2, test=0.1)
            >>> report = tasks.synapse.export("yolo", "out", split="split", progress=False)
            >>> report.exported, report.path.parent.name
            (20, 'out')

        """
        self._require("export", ("task", "assignment", "ground_truth_event"))
        from synapse_nb.plugins import export

        given = ("client", "target", "fmt", "path", "frame", "split")
        check_keywords(export, options, "export", given=given)
        return export(self.client(client), None, fmt, path, frame=self._obj, split=split, **options)

    def __repr__(self) -> str:
        return f"<df.synapse: {self.kind} frame, {len(self._obj):,} rows>"


def _objects(values: list[Any]) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


def _tag_changes(changes: list[tuple[int, list[int], list[int]]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.array([c[0] for c in changes], dtype="Int64"),
            "added": pd.Series(_objects([c[1] for c in changes]), dtype=object),
            "removed": pd.Series(_objects([c[2] for c in changes]), dtype=object),
        }
    )


def _restore_writable(base: pd.DataFrame, snap: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """``base`` with locally edited writable cells set back to the snapshot (server values).

    Only the cells that differ from the snapshot are touched, so a frame with a handful of
    edits is restored in a few milliseconds whatever its size.
    """
    rows = base.index.intersection(snap.index)
    positions = base.index.get_indexer(rows)
    for column in schema.writable:
        if column not in base.columns or column not in snap.columns:
            continue
        local_series = base[column].iloc[positions]
        stored_series = snap[column].reindex(rows)
        if column == "tags":
            # the snapshot keeps each fetched list as a tuple: unedited rows match exactly,
            # so only the others are normalized (100k rows: milliseconds, not a second)
            local_raw, stored_raw = local_series.tolist(), stored_series.tolist()
            maybe = [
                i
                for i, (a, b) in enumerate(zip(local_raw, stored_raw, strict=True))
                if type(a) is not list or type(b) is not tuple or tuple(a) != b
            ]
            if not maybe:
                continue
            local_series, stored_series = local_series.iloc[maybe], stored_series.iloc[maybe]
        else:
            maybe = None
        local = writeback.normalized_column(column, local_series)
        stored = writeback.snapshot_values(column, stored_series)
        edited = [i for i, (a, b) in enumerate(zip(local, stored, strict=True)) if a != b]
        if not edited:
            continue
        server_value = {i: stored[i] for i in edited}
        if maybe is not None:  # back to positions in ``rows``
            server_value = {maybe[i]: value for i, value in server_value.items()}
            edited = [maybe[i] for i in edited]
        if column in ("tags", "metadata"):
            array = base[column].to_numpy(dtype=object).copy()
            for i in edited:
                value = server_value[i]
                array[positions[i]] = (
                    list(value) if column == "tags" else writeback.wire_value(column, value)
                )
            base[column] = pd.Series(array, index=base.index, dtype=object)
        else:
            dtype = base[column].dtype
            series = base[column].astype(object)
            for i in edited:
                value = server_value[i]
                series.iat[positions[i]] = pd.NA if value is None else value
            base[column] = series.astype(dtype)
    return base
