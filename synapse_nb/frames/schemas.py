"""One schema per resource: the columns, their dtypes and order, declared in one place.

Every frame returned by :class:`~synapse_nb.frames.client.Client` follows the schema of its
kind, in the order below, whatever the server sent (and also when the result is empty):

- index ``id`` (nullable ``Int64``; ``string`` for jobs, whose ids may be UUIDs);
- ids of related objects as nullable ``Int64``;
- timestamps as ``datetime64[ns, UTC]``;
- statuses and other closed vocabularies as ``category`` with fixed categories (an unknown
  value from the server is appended to the categories, never dropped);
- free text as the pandas ``string`` dtype (pyarrow storage);
- counts and pixel sizes as nullable ``Int32``;
- the editable ``tags`` list and dicts (``metadata``, ``params``) as ``object`` columns;
  read-only lists (``classes``, ``tag_names``) as compact pyarrow ``list<string>`` columns
  (a cell read with ``df.at``, ``itertuples`` or ``tolist()`` is a Python list; the row
  Series of ``iterrows``/``df.loc[i]`` holds it as a numpy array; ``explode`` and the
  ``.list`` accessor work on them).

Task, assignment and ground-truth-event frames carry a per-row summary of the DM annotation
data (``dm_version``, ``n_annotations``, one ``n_<tool>`` count per image tool, ``classes``);
the annotations themselves are one call away (``df.synapse.annotations()``).

Example:
    >>> [c.name for c in SCHEMAS["task"].columns][:4]
    ['project', 'data_unit_id', 'status', 'priority']
    >>> SCHEMAS["task"].writable
    ('status', 'priority', 'assignee_id', 'tags', 'is_discarded', 'metadata')
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "IMAGE_TOOLS",
    "SCHEMAS",
    "Column",
    "Schema",
    "describe",
]

#: Image tools of DM v2 that get their own ``n_<tool>`` count column (others count only in
#: ``n_annotations``).
IMAGE_TOOLS = (
    "bounding_box",
    "polygon",
    "polyline",
    "keypoint",
    "segmentation",
    "classification",
    "relation",
    "group",
)

TASK_STATUSES = ("pending", "in_progress", "completed")
PRIORITIES = ("low", "normal", "high")
LABEL_STATUSES = ("stand_by", "in_progress", "completed", "skipped")
REVIEW_STATUSES = ("stand_by", "in_progress", "rejected", "completed", "skipped")
JOB_STATUSES = ("PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED")
DM_VERSIONS = ("v1", "v2", "other")


@dataclass(frozen=True)
class Column:
    """One column of a resource frame.

    Attributes:
        name: Column name in the frame.
        dtype: ``Int64``, ``Int32``, ``Float64``, ``boolean``, ``string``, ``category``,
            ``datetime`` (``datetime64[ns, UTC]``), ``list[string]`` (pyarrow list of
            strings) or ``object``.
        doc: What the column holds.
        source: Where the value comes from: a record key, a dotted path (``agent.name``),
            or for derived kinds the field of the derivation.
        kind: ``value`` (the value at ``source``), ``ref`` (an id given as an int or as an
            expanded ``{'id': ...}`` dict), ``file`` (the primary file: ``url``, ``name``,
            ``width``, ``height``) or ``dm`` (summary of the DM data in ``data``).
        categories: Fixed categories of a ``category`` column, in order.
        writable: Whether ``df.synapse.push()`` sends edits of this column.

    Example:
        >>> Column("status", "category", "task status", categories=("a", "b")).writable
        False
    """

    name: str
    dtype: str
    doc: str
    source: str | None = None
    kind: str = "value"
    categories: tuple[str, ...] = ()
    writable: bool = False


@dataclass(frozen=True)
class Schema:
    """The columns of one kind of frame.

    Attributes:
        kind: ``task``, ``assignment``, ``ground_truth_event``, ``model``, ``job``,
            ``task_tag``, ``data_unit`` or ``data_collection``.
        columns: The columns in frame order (the index ``id`` is not one of them).
        index_dtype: dtype of the ``id`` index.
        has_annotations: Rows carry DM data (``data``) that ``annotations()`` can expand.
        owner_column: Name of the id column in the annotations view.
        dynamic_prefix: Prefix of columns added per record (models: ``metric_``).

    Example:
        >>> SCHEMAS["model"].dynamic_prefix
        'metric_'
    """

    kind: str
    columns: tuple[Column, ...]
    index_dtype: str = "Int64"
    has_annotations: bool = False
    owner_column: str = "id"
    dynamic_prefix: str | None = None
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def names(self) -> list[str]:
        """Column names in order.

        Example:
            >>> SCHEMAS["task_tag"].names
            ['name', 'description', 'project', 'color', 'created']
        """
        return [c.name for c in self.columns]

    @property
    def writable(self) -> tuple[str, ...]:
        """Names of the columns ``push()`` sends.

        Example:
            >>> SCHEMAS["assignment"].writable
            ('status_label', 'status_review', 'tags')
        """
        return tuple(c.name for c in self.columns if c.writable)

    def column(self, name: str) -> Column:
        """The column called ``name`` (KeyError if there is none).

        Example:
            >>> SCHEMAS["task"].column("status").categories
            ('pending', 'in_progress', 'completed')
        """
        return self._by_name[name]


def _file_columns() -> tuple[Column, ...]:
    return (
        Column("file_url", "string", "URL of the primary file", "url", kind="file"),
        Column("file_name", "string", "original name of the primary file", "name", kind="file"),
        Column("width", "Int32", "image width in px (primary file meta)", "width", kind="file"),
        Column("height", "Int32", "image height in px (primary file meta)", "height", kind="file"),
    )


def _dm_columns() -> tuple[Column, ...]:
    counts = tuple(
        Column(f"n_{tool}", "Int32", f"number of {tool} annotations", tool, kind="dm")
        for tool in IMAGE_TOOLS
    )
    return (
        Column(
            "dm_version",
            "category",
            "DM format of data: v1, v2, other (non-DM JSON); NA when empty",
            "version",
            kind="dm",
            categories=DM_VERSIONS,
        ),
        Column("n_annotations", "Int32", "annotations of every tool", "total", kind="dm"),
        *counts,
        Column(
            "classes",
            "list[string]",
            "sorted class labels present (keypoint joint names and relations excluded)",
            "classes",
            kind="dm",
        ),
    )


def _timestamps(*names: str) -> tuple[Column, ...]:
    return tuple(Column(n, "datetime", f"{n} timestamp (UTC)", n) for n in names)


TASK = Schema(
    "task",
    (
        Column("project", "Int64", "project id", "project", kind="ref"),
        Column("data_unit_id", "Int64", "data unit id", "data_unit", kind="ref"),
        Column(
            "status", "category", "task status", "status", categories=TASK_STATUSES, writable=True
        ),
        Column(
            "priority", "category", "priority", "priority", categories=PRIORITIES, writable=True
        ),
        Column("assignee_id", "Int64", "assigned user id", "assignee", kind="ref", writable=True),
        Column("assignee_name", "string", "assigned user's name", "assignee_name"),
        Column("tags", "object", "list of tag ids", "tags", kind="tags", writable=True),
        Column(
            "tag_names", "list[string]", "list of tag names (read-only)", "tags", kind="tag_names"
        ),
        Column("is_discarded", "boolean", "discarded flag", "is_discarded", writable=True),
        *_file_columns(),
        *_dm_columns(),
        Column("metadata", "object", "task metadata dict", "metadata", writable=True),
        *_timestamps("created", "modified"),
    ),
    has_annotations=True,
    owner_column="task_id",
)

ASSIGNMENT = Schema(
    "assignment",
    (
        Column("project", "Int64", "project id", "project", kind="ref"),
        Column("task_id", "Int64", "task id", "task", kind="ref"),
        Column("data_unit_id", "Int64", "data unit id", "data_unit", kind="ref"),
        Column("assignee_id", "Int64", "labeller's user id", "user", kind="ref"),
        Column("assignee_name", "string", "labeller's name", "assignee_name"),
        Column(
            "status_label",
            "category",
            "labelling status",
            "status_label",
            categories=LABEL_STATUSES,
            writable=True,
        ),
        Column(
            "status_review",
            "category",
            "review status",
            "status_review",
            categories=REVIEW_STATUSES,
            writable=True,
        ),
        Column("tags", "object", "list of tag ids", "tags", kind="tags", writable=True),
        Column(
            "tag_names", "list[string]", "list of tag names (read-only)", "tags", kind="tag_names"
        ),
        *_file_columns(),
        *_dm_columns(),
        *_timestamps("created", "modified"),
    ),
    has_annotations=True,
    owner_column="assignment_id",
)

GROUND_TRUTH_EVENT = Schema(
    "ground_truth_event",
    (
        Column("ground_truth_dataset", "Int64", "dataset id", "ground_truth_dataset", kind="ref"),
        Column(
            "ground_truth_dataset_version",
            "Int64",
            "dataset version id",
            "ground_truth_dataset_version",
            kind="ref",
        ),
        Column("version", "category", "version name (v1, v2, ...)", "version"),
        Column("data_unit_id", "Int64", "data unit id", "data_unit", kind="ref"),
        Column("task_id", "Int64", "source task id", "task", kind="ref"),
        *_file_columns(),
        *_dm_columns(),
        *_timestamps("created", "modified"),
    ),
    has_annotations=True,
    owner_column="event_id",
)

MODEL = Schema(
    "model",
    (
        Column("name", "string", "model name", "name"),
        Column("version", "string", "model version", "version"),
        Column("description", "string", "description", "description"),
        Column("project", "Int64", "project id", "project", kind="ref"),
        Column("plugin", "Int64", "plugin id", "plugin", kind="ref"),
        Column(
            "ground_truth_dataset_version",
            "Int64",
            "ground-truth version it was evaluated on",
            "ground_truth_dataset_version",
            kind="ref",
        ),
        Column("checkpoint", "string", "checkpoint name", "checkpoint"),
        Column("file", "string", "URL of the model file", "file"),
        Column("configuration", "object", "configuration dict", "configuration"),
        *_timestamps("created", "modified"),
    ),
    dynamic_prefix="metric_",
)

JOB = Schema(
    "job",
    (
        Column("status", "category", "job status", "status", categories=JOB_STATUSES),
        Column("action", "string", "plugin action", "action"),
        Column("plugin", "string", "plugin code", "plugin_release.plugin"),
        Column("plugin_version", "string", "plugin release version", "plugin_release.version"),
        Column("plugin_release_id", "Int64", "plugin release id", "plugin_release", kind="ref"),
        Column("agent_id", "Int64", "agent id", "agent", kind="ref"),
        Column("agent_name", "string", "agent name", "agent.name"),
        Column("user_id", "Int64", "user who ran it", "user", kind="ref"),
        Column(
            "progress",
            "Float64",
            "overall progress in percent",
            "progress_record.current_progress.overall",
        ),
        Column("params", "object", "run params dict", "params"),
        Column("result", "object", "result (any JSON)", "result"),
        *_timestamps("created", "modified", "started", "finished"),
    ),
    index_dtype="string",
)

TASK_TAG = Schema(
    "task_tag",
    (
        Column("name", "string", "tag name", "name"),
        Column("description", "string", "description", "description"),
        Column("project", "Int64", "project id", "project", kind="ref"),
        Column("color", "string", "colour (#rrggbb)", "color"),
        *_timestamps("created"),
    ),
)

DATA_UNIT = Schema(
    "data_unit",
    (
        Column("data_collection", "Int64", "data collection id", "data_collection", kind="ref"),
        Column("group", "Int64", "data unit group id", "group", kind="ref"),
        *_file_columns(),
        Column("meta", "object", "meta dict", "meta"),
        *_timestamps("created", "modified"),
    ),
)

DATA_COLLECTION = Schema(
    "data_collection",
    (
        Column("name", "string", "collection name", "name"),
        Column("description", "string", "description", "description"),
        Column("category", "string", "media category (image, video, ...)", "category"),
        Column("data_unit_count", "Int64", "number of data units", "data_unit_count"),
        *_timestamps("created", "modified"),
    ),
)

#: kind -> schema
SCHEMAS: dict[str, Schema] = {
    s.kind: s
    for s in (
        TASK,
        ASSIGNMENT,
        GROUND_TRUTH_EVENT,
        MODEL,
        JOB,
        TASK_TAG,
        DATA_UNIT,
        DATA_COLLECTION,
    )
}


def describe(kind: str) -> list[tuple[str, str, str]]:
    """The documented column table of a kind: ``(name, dtype, doc)`` in frame order.

    Args:
        kind: A key of :data:`SCHEMAS`.

    Example:
        >>> describe("task_tag")[0]
        ('name', 'string', 'tag name')
    """
    if kind not in SCHEMAS:
        raise KeyError(f"unknown frame kind {kind!r}; one of {sorted(SCHEMAS)}")
    dtypes = {"datetime": "datetime64[ns, UTC]", "list[string]": "list<string>[pyarrow]"}
    return [(c.name, dtypes.get(c.dtype, c.dtype), c.doc) for c in SCHEMAS[kind].columns]


def columns_markdown() -> str:
    """The column reference of every frame kind as Markdown (the text of ``COLUMNS.md``).

    Example:
        >>> columns_markdown().splitlines()[0]
        '# Frame columns'
    """
    lines = [
        "# Frame columns",
        "",
        "Generated from `synapse_nb/frames/schemas.py` by "
        "`python -m synapse_nb.frames.schemas > synapse_nb/frames/COLUMNS.md`; a test keeps "
        "it in sync. Every frame is indexed by `id`; columns come in this order.",
    ]
    for kind, schema in SCHEMAS.items():
        index = "string (job ids may be UUIDs)" if schema.index_dtype == "string" else "Int64"
        lines += ["", f"## {kind}", "", f"Index: `id` ({index}).", ""]
        lines += ["| column | dtype | writable | meaning |", "|---|---|---|---|"]
        for name, dtype, doc in describe(kind):
            writable = "yes" if schema.column(name).writable else ""
            lines.append(f"| `{name}` | {dtype} | {writable} | {doc} |")
        if schema.dynamic_prefix:
            lines.append(
                f"| `{schema.dynamic_prefix}<name>` | Float64 | | one per numeric metric, "
                "nested ones dotted (`metric_per_class_AP.car`), sorted by name |"
            )
        if schema.has_annotations:
            lines.append(
                "| `data` | object | | only with `include_data=True`: the DM annotation JSON |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(columns_markdown(), end="")
