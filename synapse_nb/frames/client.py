"""``Client``: the notebook client. Its ``list_*`` calls return typed DataFrames.

``Client`` *has* a :class:`~synapse_nb.clients.BackendClient` (``client.raw``) and offers
every one of its methods with the same signature (``client.get_task(1)`` is
``client.raw.get_task(1)``). The listing methods (``list_tasks``, ``list_assignments``,
``list_ground_truth_events``, ``list_models``, ``list_jobs``, ``list_task_tags``,
``list_data_units``, ``list_data_collection``) keep their parameters but return a
:class:`~synapse_nb.frames.build.SynapseFrame` in the schema of
:mod:`synapse_nb.frames.schemas`; ``client.raw.list_tasks(...)`` is the dict API
(envelope, or ``(generator, count)`` with ``list_all=True``).

Differences from the raw methods, all deliberate:

- ``url_conversion`` defaults to *off*: file URLs stay strings in ``file_url`` (previews
  download what they show). Pass a conversion config to get the SDK behaviour.
- ``list_all=True`` asks for pages of ``frame_page_size`` (1000) rows unless ``page_size``
  is given: fewer round trips for the same rows.
- ``Client(..., cache=path)`` keeps each ``list_all`` listing of tasks, assignments and
  ground-truth events in Parquet and re-fetches only rows modified since
  (:mod:`synapse_nb.frames.cache`, :mod:`synapse_nb.frames.refresh`).
- ``list_all=True`` pages of tasks, assignments and ground-truth events are decoded
  straight into the few fields the frame's columns read (:mod:`synapse_nb.frames.columnar`),
  not into a dict per record; a page of another shape is decoded as dicts, same frame.
- While a listing is decoded and converted, Python's cyclic garbage collector is paused
  (:func:`~synapse_nb.frames.build.gc_paused`): its full collections over 100k fresh records
  cost more than the decoding.

The accessor, the write-back and the widgets use three small public seams of a client:
``client.rows`` (:class:`~synapse_nb.frames.rows.RowStore`: rows re-read by id, counted,
patched), ``client.tags`` (:class:`~synapse_nb.frames.tagging.TagStore`: tag names, name
resolution, tagging) and ``client.list_frame`` / ``client.refresh_frame`` /
``client.register`` (listings by kind).

Example:
    >>> from synapse_nb.frames import Client
    >>> tasks = client.list_tasks({"project": 1}, list_all=True)
    >>> tasks.synapse.meta["complete"]
    True
    >>> client.raw.list_tasks({"project": 1})["count"] == len(tasks)
    True
    >>> client.get_task(1)["id"]  # every BackendClient method is a Client method
    1
"""

from __future__ import annotations

import os
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import numpy as np
import pandas as pd

from synapse_nb._config import RetryPolicy, Timeout
from synapse_nb.clients import BackendClient
from synapse_nb.clients._validate import (
    MAX_ID,
    check_bool,
    check_keywords,
    check_list_options,
    check_list_params,
    check_pk,
)
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames.build import frame_meta
from synapse_nb.frames.cache import FrameCache
from synapse_nb.frames.listing import FRAME_PAGE_SIZE, Lister, now_iso
from synapse_nb.frames.progress import PROGRESS_MIN_ROWS, check_progress
from synapse_nb.frames.refresh import FrameSource, cached_listing, incremental
from synapse_nb.frames.rows import ID_CHUNK, RESOURCES, RowStore
from synapse_nb.frames.schemas import SCHEMAS
from synapse_nb.frames.tagging import TagStore
from synapse_nb.frames.writeback import READ_ONLY_CHECKED, PushRecord, SnapshotStore

if TYPE_CHECKING:
    from synapse_nb.evaluation import Comparison, EvaluationResult
    from synapse_nb.frames.eval_models import MetricsPush

__all__ = [
    "FRAME_PAGE_SIZE",
    "ID_CHUNK",
    "PROGRESS_MIN_ROWS",
    "RESOURCES",
    "Client",
    "as_client",
    "client_for",
    "default_cache_path",
    "now_iso",
]

_CLIENTS: weakref.WeakValueDictionary[str, Client] = weakref.WeakValueDictionary()

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def client_for(frame: pd.DataFrame, client: Client | None = None) -> Client:
    """The live client that returned ``frame`` (or ``client`` when given).

    Args:
        frame: A frame returned by a :class:`Client`.
        client: Use this client instead (e.g. for a frame loaded from a file).

    Raises:
        InvalidInputError: The frame's client is gone (another session) and none was given.

    Example:
        >>> client_for(pd.DataFrame())
        Traceback (most recent call last):
        ...
        synapse_nb.exceptions.InvalidInputError: frame: invalid client=None: no live client \
returned this frame; pass client=Client(...) (nothing was sent)
    """
    if client is not None:
        if not isinstance(client, Client):
            raise InvalidInputError(
                "client", type(client).__name__, "must be a synapse_nb Client", method="frame"
            )
        return client
    key = frame_meta(frame).get("client")
    found = _CLIENTS.get(key) if isinstance(key, str) else None
    if found is None:
        raise InvalidInputError(
            "client",
            None,
            "no live client returned this frame; pass client=Client(...)",
            method="frame",
        )
    return found


def as_client(client: Any, method: str) -> Client:
    """``client`` as a notebook :class:`Client`: a ``BackendClient`` is wrapped once.

    The entry point of every widget: after it, the widget holds a ``Client`` and never asks
    which kind of client it was given.

    Args:
        client: A :class:`Client` or a :class:`~synapse_nb.clients.BackendClient`.
        method: Named in the error.

    Raises:
        InvalidInputError: ``client`` is neither.

    Example:
        >>> raw = BackendClient("http://127.0.0.1:9", api_token="t")
        >>> wrapped = as_client(raw, "ResourceTree")
        >>> wrapped.raw is raw, as_client(wrapped, "ResourceTree") is wrapped
        (True, True)
        >>> as_client("http://x", "ResourceTree")
        Traceback (most recent call last):
        ...
        synapse_nb.exceptions.InvalidInputError: ResourceTree: invalid client='str': must be \
a synapse_nb Client or BackendClient (nothing was sent)
        >>> raw.close()
    """
    if isinstance(client, Client):
        return client
    if isinstance(client, BackendClient):
        return Client.wrap(client)
    raise InvalidInputError(
        "client", type(client).__name__, "must be a synapse_nb Client or BackendClient",
        method=method,
    )  # fmt: skip


def default_cache_path() -> Path:
    """A per-user default directory for ``Client(cache=...)``.

    Example:
        >>> default_cache_path().name
        'frames'
    """
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "synapse_nb" / "frames"


# Why explicit, typed forwarding rather than a ``__getattr__`` that returns ``Any``: each
# forwarded method keeps the ``BackendClient`` signature for mypy (ParamSpec), for
# ``help()`` and ``inspect.signature`` (the attribute is the bound raw method), and shows in
# ``dir()`` / tab completion as a class attribute. A test checks that every public
# ``BackendClient`` name is reachable on ``Client``, so a new raw method cannot be missed.
class _Forward(Generic[P, R]):
    """``Client.<name>`` -> ``client.raw.<name>``: the ``BackendClient`` method, as is."""

    def __init__(self, method: Callable[Concatenate[Any, P], R]) -> None:
        self.method = method
        self.name = method.__name__
        self.__doc__ = method.__doc__
        # the raw method's module: its docstring example is collected (and run) there, once
        self.__module__ = method.__module__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Callable[Concatenate[Any, P], R]: ...
    @overload
    def __get__(self, obj: Client, owner: type) -> Callable[P, R]: ...
    def __get__(self, obj: Client | None, owner: type) -> Callable[..., R]:
        if obj is None:
            return self.method
        bound: Callable[P, R] = getattr(obj.raw, self.name)
        return bound


class _Shared(Generic[T]):
    """An attribute of the raw client, read (and written) through the notebook client."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> _Shared[T]: ...
    @overload
    def __get__(self, obj: Client, owner: type) -> T: ...
    def __get__(self, obj: Client | None, owner: type) -> T | _Shared[T]:
        if obj is None:
            return self
        value: T = getattr(obj.raw, self.name)
        return value

    def __set__(self, obj: Client, value: T) -> None:
        setattr(obj.raw, self.name, value)


class Client:
    """The notebook client: owns a ``BackendClient``; its listings are typed DataFrames.

    Args:
        base_url: Base URL of the Synapse backend.
        api_token: API token (``$SYNAPSE_API_TOKEN`` when omitted).
        agent_token: Agent token (``$SYNAPSE_AGENT_TOKEN`` when omitted).
        timeout: ``{'connect': 5, 'read': 30}`` by default.
        cache: Directory of the incremental Parquet cache of ``list_all`` listings;
            ``True`` picks ``~/.cache/synapse_nb/frames``; off when None or False.
        frame_page_size: Page size of ``list_all=True`` listings that set no ``page_size``.
        progress: Progress bars (tqdm; a widget in Jupyter) on ``list_all`` listings: None
            shows one when the listing has more than 20,000 rows, True always, False never.
            A listing call can override it with ``progress=`` (also a callable
            ``(rows_so_far, count)``).
        **kwargs: Any other :class:`~synapse_nb.clients.BackendClient` option
            (``tenant``, ``retry``, ``max_workers``...).

    Attributes:
        raw: The ``BackendClient`` this client owns (dicts and envelopes).
        rows: Rows re-read by id, counted or patched (:class:`~.rows.RowStore`).
        tags: The server's task tags (:class:`~.tagging.TagStore`).
        snapshots: Writable columns of the frames this client returned, as fetched.
        push_history: Pushes made through this client, newest last (what ``undo`` reverts).

    Example:
        >>> client = Client("http://127.0.0.1:9", api_token="secret-token")
        >>> client
        Client(base_url='http://127.0.0.1:9', api_token=***, cache=None)
        >>> client.raw.list_tasks.__qualname__, client.get_task.__qualname__
        ('AnnotationClientMixin.list_tasks', 'AnnotationClientMixin.get_task')
        >>> client.close()
    """

    #: Seconds subtracted from the newest ``modified`` an incremental refresh asks from. The
    #: embedded backend stamps rows when it writes them, so 0 is exact; a backend that
    #: stamps at transaction *start* (PostgreSQL ``now()``) can commit a row older than one
    #: already seen: a lookback of a few seconds covers such transactions.
    refresh_lookback: float = 0.0

    # the raw client's attributes, shared
    base_url: _Shared[str] = _Shared()
    timeout: _Shared[Timeout] = _Shared()
    max_workers: _Shared[int] = _Shared()
    page_size: _Shared[int] = _Shared()
    cache_dir: _Shared[Path] = _Shared()
    has_api_token: _Shared[bool] = _Shared()
    has_agent_token: _Shared[bool] = _Shared()
    retry: _Shared[RetryPolicy] = _Shared()

    # every other BackendClient method, forwarded to ``raw`` with its signature
    annotate_task_data = _Forward(BackendClient.annotate_task_data)
    create_chunked_upload = _Forward(BackendClient.create_chunked_upload)
    create_data_file = _Forward(BackendClient.create_data_file)
    create_data_units = _Forward(BackendClient.create_data_units)
    create_model = _Forward(BackendClient.create_model)
    create_plugin = _Forward(BackendClient.create_plugin)
    create_plugin_release = _Forward(BackendClient.create_plugin_release)
    create_storage = _Forward(BackendClient.create_storage)
    create_tasks = _Forward(BackendClient.create_tasks)
    data_files_verify_checksums = _Forward(BackendClient.data_files_verify_checksums)
    get_assignment = _Forward(BackendClient.get_assignment)
    get_chunked_upload = _Forward(BackendClient.get_chunked_upload)
    get_data_collection = _Forward(BackendClient.get_data_collection)
    get_data_unit = _Forward(BackendClient.get_data_unit)
    get_ground_truth_version = _Forward(BackendClient.get_ground_truth_version)
    get_job = _Forward(BackendClient.get_job)
    get_model = _Forward(BackendClient.get_model)
    get_plugin = _Forward(BackendClient.get_plugin)
    get_plugin_release = _Forward(BackendClient.get_plugin_release)
    get_project = _Forward(BackendClient.get_project)
    get_storage = _Forward(BackendClient.get_storage)
    get_task = _Forward(BackendClient.get_task)
    get_task_tag = _Forward(BackendClient.get_task_tag)
    health_check_agent = _Forward(BackendClient.health_check_agent)
    list_agents = _Forward(BackendClient.list_agents)
    list_ground_truth_datasets = _Forward(BackendClient.list_ground_truth_datasets)
    list_ground_truth_versions = _Forward(BackendClient.list_ground_truth_versions)
    list_job_console_logs = _Forward(BackendClient.list_job_console_logs)
    list_plugin_releases = _Forward(BackendClient.list_plugin_releases)
    list_plugins = _Forward(BackendClient.list_plugins)
    list_projects = _Forward(BackendClient.list_projects)
    list_storages = _Forward(BackendClient.list_storages)
    media_path = _Forward(BackendClient.media_path)
    run_plugin = _Forward(BackendClient.run_plugin)
    set_tags_assignments = _Forward(BackendClient.set_tags_assignments)
    set_tags_tasks = _Forward(BackendClient.set_tags_tasks)
    tail_job_console_logs = _Forward(BackendClient.tail_job_console_logs)
    update_assignment = _Forward(BackendClient.update_assignment)
    update_job = _Forward(BackendClient.update_job)
    update_model = _Forward(BackendClient.update_model)
    update_plugin = _Forward(BackendClient.update_plugin)
    update_task = _Forward(BackendClient.update_task)
    upload_data_file = _Forward(BackendClient.upload_data_file)
    verify_data_files_checksums = _Forward(BackendClient.verify_data_files_checksums)

    def __init__(
        self,
        base_url: str,
        api_token: str | None = None,
        agent_token: str | None = None,
        timeout: Any = None,
        *,
        cache: str | os.PathLike[str] | bool | None = None,
        frame_page_size: int = FRAME_PAGE_SIZE,
        progress: bool | None = None,
        **kwargs: Any,
    ) -> None:
        options = _check_options(cache, frame_page_size, progress)
        self._setup(BackendClient(base_url, api_token, agent_token, timeout, **kwargs), *options)

    @classmethod
    def wrap(
        cls,
        raw: BackendClient,
        *,
        cache: str | os.PathLike[str] | bool | None = None,
        frame_page_size: int = FRAME_PAGE_SIZE,
        progress: bool | None = None,
    ) -> Client:
        """A notebook client around an existing ``BackendClient`` (shared, not copied).

        Example:
            >>> raw = BackendClient("http://127.0.0.1:9", api_token="t")
            >>> Client.wrap(raw).raw is raw
            True
            >>> raw.close()
        """
        if not isinstance(raw, BackendClient):
            raise InvalidInputError(
                "raw", type(raw).__name__, "must be a BackendClient", method="Client.wrap"
            )
        client = cls.__new__(cls)
        client._setup(raw, *_check_options(cache, frame_page_size, progress))
        return client

    def _setup(
        self, raw: BackendClient, cache: FrameCache | None, frame_page_size: int, progress: Any
    ) -> None:
        self.raw = raw
        self.cache = cache
        self._key = uuid.uuid4().hex[:16]
        self.rows = RowStore(raw)
        self._lister = Lister(raw, key=self._key, frame_page_size=frame_page_size,
                              progress=progress)  # fmt: skip
        self.tags: TagStore = self._lister.tags
        self.snapshots = SnapshotStore()
        self.push_history: list[PushRecord] = []
        _CLIENTS[self._key] = self

    @property
    def frame_page_size(self) -> int:
        """Page size of ``list_all=True`` listings that set no ``page_size``.

        Example:
            >>> Client("http://127.0.0.1:9", api_token="t").frame_page_size
            1000
        """
        return self._lister.frame_page_size

    @property
    def progress(self) -> bool | None:
        """The default ``progress=`` of ``list_all`` listings.

        Example:
            >>> Client("http://127.0.0.1:9", api_token="t", progress=False).progress
            False
        """
        return self._lister.progress

    def close(self) -> None:
        """Finish pending cache writes and close the pooled connections.

        Example:
            >>> Client("http://127.0.0.1:9", api_token="t", cache=False).close()
        """
        if self.cache is not None:
            self.cache.flush()
        self.raw.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        cache = None if self.cache is None else str(self.cache.path)
        token = "***" if self.has_api_token else "None"
        return f"Client(base_url={self.base_url!r}, api_token={token}, cache={cache!r})"

    # ------------------------------------------------------------------ listings
    def list_tasks(
        self,
        params: Mapping[str, Any] | None = None,
        url_conversion: Any = None,
        list_all: bool = False,
        *,
        include_data: bool = False,
        **page_options: Any,
    ) -> pd.DataFrame:
        """List tasks as a typed frame (schema ``task``; see :func:`~.schemas.describe`).

        Args:
            params: Filters, e.g. ``{'project': 1, 'status': 'completed', 'tags': [3]}``.
            url_conversion: Off by default (URLs stay strings); an SDK config dict turns
                downloading on.
            list_all: Fetch every page (concurrently); else one page, and the frame says
                "100 of N".
            include_data: Keep the DM annotation JSON in a trailing ``data`` column.
            **page_options: ``max_workers``, ``page_failures``, ``page_retries``.

        Returns:
            A frame indexed by task ``id``.

        Example:
            >>> df = client.list_tasks({"project": 1}, list_all=True)
            >>> df.index.name, str(df.status.dtype), str(df.n_annotations.dtype)
            ('id', 'category', 'Int32')
            >>> df.groupby("status", observed=True).size().index.tolist()
            ['pending', 'in_progress', 'completed']
        """
        return self._list_frame(
            "task", params, url_conversion, list_all, include_data, page_options
        )

    def list_assignments(
        self,
        params: Mapping[str, Any] | None = None,
        url_conversion: Any = None,
        list_all: bool = False,
        *,
        include_data: bool = False,
        **page_options: Any,
    ) -> pd.DataFrame:
        """List assignments as a typed frame (schema ``assignment``).

        Example:
            >>> df = client.list_assignments({"project": 1})
            >>> df.index.name, str(df.status_review.dtype), len(df) > 0
            ('id', 'category', True)
            >>> sorted(df.status_review.cat.categories)
            ['completed', 'in_progress', 'rejected', 'skipped', 'stand_by']
        """
        return self._list_frame(
            "assignment", params, url_conversion, list_all, include_data, page_options
        )

    def list_ground_truth_events(
        self,
        params: Mapping[str, Any] | None = None,
        url_conversion: Any = None,
        list_all: bool = False,
        *,
        include_data: bool = False,
        **page_options: Any,
    ) -> pd.DataFrame:
        """List ground-truth events as a typed frame, across versions (schema
        ``ground_truth_event``).

        Example:
            >>> gt = client.list_ground_truth_events(
            ...     {"ground_truth_dataset_versions": [1, 2]}, list_all=True)
            >>> per_version = gt.groupby("version", observed=True).n_annotations.sum()
            >>> per_version.index.tolist(), bool((per_version > 0).all())
            (['v1', 'v2'], True)
        """
        return self._list_frame(
            "ground_truth_event", params, url_conversion, list_all, include_data, page_options
        )

    def list_models(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> pd.DataFrame:
        """List models; numeric metrics become ``metric_<name>`` Float64 columns.

        Nested metrics are flattened with dots (``metric_per_class_AP.car``).

        Example:
            >>> models = client.list_models({"project": 1}).sort_values("metric_mAP")
            >>> models.metric_mAP.is_monotonic_increasing
            True
            >>> models.loc[[3, 5], ["name", "version", "metric_mAP", "metric_per_class_AP.car"]]
                    name version  metric_mAP  metric_per_class_AP.car
            id
            3   yolo-v8n   2.0.0       0.489                    0.477
            5   detr-r50   1.2.0       0.473                     0.35
        """
        return self._list_frame("model", params, None, list_all, False, page_options)

    def list_jobs(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> pd.DataFrame:
        """List jobs (schema ``job``; index = job id as a string).

        Example:
            >>> jobs = client.list_jobs({"status": "running"})
            >>> jobs.status.unique().tolist(), str(jobs.index.dtype)
            (['RUNNING'], 'string')
        """
        return self._list_frame("job", params, None, list_all, False, page_options)

    def list_task_tags(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> pd.DataFrame:
        """List task tags (schema ``task_tag``).

        Example:
            >>> client.list_task_tags({"project": 1}).name.tolist()[:5]
            ['needs-review', 'blurry', 'occluded', 'gold', 'edge-case']
        """
        return self._list_frame("task_tag", params, None, list_all, False, page_options)

    def list_data_units(
        self,
        params: Mapping[str, Any] | None = None,
        url_conversion: Any = None,
        list_all: bool = False,
        **page_options: Any,
    ) -> pd.DataFrame:
        """List data units (schema ``data_unit``); URLs are kept unless asked otherwise.

        Example:
            >>> units = client.list_data_units({"data_collection": 1}, list_all=True)
            >>> len(units) >= 240, units.columns[:3].tolist()
            (True, ['data_collection', 'group', 'file_url'])
        """
        return self._list_frame("data_unit", params, url_conversion, list_all, False, page_options)

    def list_data_collection(
        self,
        *,
        params: Mapping[str, Any] | None = None,
        list_all: bool = False,
        **page_options: Any,
    ) -> pd.DataFrame:
        """List data collections (schema ``data_collection``).

        Example:
            >>> client.list_data_collection().name.tolist()[:2]
            ['Street scenes', 'Incoming uploads']

        """
        return self._list_frame("data_collection", params, None, list_all, False, page_options)

    #: The Synapse SDK's other name of :meth:`list_data_collection`.
    list_data_collections = list_data_collection

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        ground_truth: Any,
        predictions: Any,
        iou_type: str = "bbox",
        *,
        tools: Any = None,
        progress: bool | None = None,
    ) -> EvaluationResult:
        """Evaluate predictions against ground truth on the server with the COCO protocol.

        Args:
            ground_truth: A ground-truth version id, or a task/assignment/ground-truth-event
                frame.
            predictions: A ground-truth version id, ``{"model": id}`` or a ``list_models()``
                row, a frame, a COCO results list or file path, or a predictions frame (see
                :mod:`synapse_nb.frames.evaluation` for each form).
            iou_type: ``"bbox"``, ``"segm"`` or ``"keypoints"``.
            tools: The DM tools to evaluate (default: boxes; polygons and masks; keypoints).
            progress: Progress bar on the fetches (None: only for long listings).

        Returns:
            An :class:`~synapse_nb.evaluation.EvaluationResult` whose image ids are data units.

        Example:
            >>> res = client.evaluate(ground_truth=2, predictions={"model": 3})
            >>> res.per_class.index.tolist()[:3]
            ['car', 'person', 'bicycle']
        """
        from synapse_nb.frames.evaluation import evaluate_on_server

        return evaluate_on_server(self, ground_truth, predictions, iou_type, tools=tools,
                                  progress=progress)  # fmt: skip

    def compare_models(
        self,
        ground_truth: Any,
        models: Any = None,
        iou_type: str = "bbox",
        *,
        progress: bool | None = None,
    ) -> Comparison:
        """Evaluate several models against one ground truth (fetched once).

        ``models``: ids, a ``list_models()`` frame, or None for every model of the project
        with a predictions dataset (named ``"<name> <version> predictions"``).

        Example:
            >>> cmp = client.compare_models(2, [3])
            >>> cmp.summary.index.tolist()
            ['yolo-v8n 2.0.0']
        """
        from synapse_nb.frames.eval_models import evaluate_models

        return evaluate_models(self, ground_truth, models, iou_type, progress=progress)

    def push_metrics(
        self, model: Any, result: EvaluationResult, *, dry_run: bool = True, confirm: Any = None
    ) -> MetricsPush:
        """Show how ``result`` changes a model's metrics; write only when confirmed.

        Nothing is written unless ``dry_run=False`` and ``confirm=True`` (or a callable
        that approves the diff frame).

        Example:
            >>> res = client.evaluate(ground_truth=2, predictions={"model": 3})
            >>> client.push_metrics(3, res)
            MetricsPush(model=3, ... changes, dry run, nothing written)
        """
        from synapse_nb.frames.eval_models import push_metrics

        return push_metrics(self, model, result, dry_run=dry_run, confirm=confirm)

    # ------------------------------------------------------------------ listings by kind
    def list_frame(
        self,
        kind: str,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        include_data: bool = False,
        url_conversion: Any = None,
        **page_options: Any,
    ) -> pd.DataFrame:
        """List any frame kind (a key of :data:`~.rows.RESOURCES`) as a typed frame.

        ``client.list_frame("task", ...)`` is ``client.list_tasks(...)``.

        Example:
            >>> client.list_frame("task_tag").synapse.kind
            'task_tag'
        """
        _check_kind(kind, "list_frame")
        return self._list_frame(kind, params, url_conversion, list_all, include_data, page_options)

    def refresh_frame(
        self, kind: str, base: FrameSource, query: Mapping[str, Any], include_data: bool
    ) -> tuple[pd.DataFrame, dict[str, int]]:
        """``base`` (a whole listing of ``query``) brought up to date incrementally.

        Returns the new frame (registered with this client) and what changed
        (``changed``, ``removed``); see :func:`~.refresh.incremental`.

        Example:
            >>> tasks = client.list_tasks({"project": 1}, list_all=True)
            >>> client.refresh_frame("task", tasks, {"project": 1}, False)[1]
            {'changed': 0, 'removed': 0}
        """
        fresh, stats = incremental(
            self._lister, self.rows, kind, base, query, include_data,
            lookback=self.refresh_lookback,
        )  # fmt: skip
        return self.register(fresh), stats

    def frame_by_id(self, kind: str, ids: list[int], include_data: bool = False) -> pd.DataFrame:
        """The rows ``ids`` of ``kind`` re-read from the server (not registered).

        Args:
            kind: A frame kind (a key of :data:`~.rows.RESOURCES`), e.g. ``"task"``.
            ids: A list (or other collection) of ids, ints >= 1; ids the server does not
                have are left out of the frame.
            include_data: Also read the DM annotation data.

        Raises:
            InvalidInputError: An unknown ``kind``, or ``ids`` is not a collection of ids
                (nothing is sent).

        Example:
            >>> client.frame_by_id("task", [1, 2]).index.tolist()
            [1, 2]
            >>> client.frame_by_id("task", 5)
            Traceback (most recent call last):
            ...
            synapse_nb.exceptions.InvalidInputError: frame_by_id: invalid ids=5: must be a \
list of ids (ints >= 1); for one id pass [5] (nothing was sent)
        """
        _check_kind(kind, "frame_by_id")
        wanted = _check_ids(ids, "frame_by_id")
        check_bool(include_data, method="frame_by_id", field="include_data")
        return self._lister.by_id(kind, self.rows.records(kind, wanted), include_data)

    def register(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Mark ``frame`` (with ``attrs['synapse']['kind']``) as returned by this client and
        keep a snapshot of its writable columns (what ``diff``/``push`` compare with).

        Raises:
            InvalidInputError: ``frame`` is not a DataFrame, or its ``attrs['synapse']``
                names no frame kind (nothing is changed).

        Example:
            >>> frame = client.frame_by_id("task", [1])
            >>> frame.attrs["synapse"] = {"kind": "task"}
            >>> client.register(frame).synapse.client() is client
            True
        """
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError("frame", frame, "must be a pandas DataFrame", method="register")
        meta = frame.attrs.get("synapse")
        if not isinstance(meta, dict):
            raise InvalidInputError(
                "frame.attrs['synapse']",
                meta,
                "must be a dict with the frame's 'kind' (e.g. {'kind': 'task'})",
                method="register",
            )
        _check_kind(meta.get("kind"), "register", field="frame.attrs['synapse']['kind']")
        meta["client"] = self._key
        meta["base_url"] = self.base_url
        writable = SCHEMAS[meta["kind"]].writable
        if writable:  # with the read-only columns diff() checks for edits (shared arrays)
            checked = tuple(READ_ONLY_CHECKED.get(meta["kind"], ()))
            meta["snapshot"] = self.snapshots.add(frame, writable + checked)
        return frame

    def _list_frame(
        self,
        kind: str,
        params: Any,
        url_conversion: Any,
        list_all: Any,
        include_data: Any,
        page_options: dict[str, Any],
    ) -> pd.DataFrame:
        method = RESOURCES[kind].method
        query = check_list_params(params, method=method)
        check_bool(list_all, method=method, field="list_all")
        check_bool(include_data, method=method, field="include_data")
        check_list_options(page_options, method)
        if not list_all:
            frame = self._lister.one_page(kind, query, include_data, page_options, url_conversion)
            return self.register(frame)
        query.setdefault("page_size", self.frame_page_size)
        check_progress(page_options.get("progress"), method)
        failures = page_options.get("page_failures")
        if (
            self.cache is not None
            and RESOURCES[kind].cacheable
            and failures is None
            and url_conversion is None
        ):
            frame = cached_listing(
                self._lister, self.rows, self.cache, kind, query, include_data, page_options,
                lookback=self.refresh_lookback,
            )  # fmt: skip
            return self.register(frame)
        frame = self._lister.all_rows(kind, query, include_data, page_options, url_conversion)
        if failures:
            frame.attrs["synapse"]["complete"] = False
            frame.attrs["synapse"]["failed_pages"] = len(failures)
        return self.register(frame)

    def import_folder(self, folder: str | os.PathLike[str], **options: Any) -> Any:
        """A labelled dataset folder into data units, tasks and annotations (resumable).

        A thin front of :func:`synapse_nb.importers.import_folder` (same options); returns
        its :class:`~synapse_nb.importers.FolderImport`.

        Example:
            >>> client.import_folder("no-such-folder", collection=2, project=3)
            Traceback (most recent call last):
            ...
            synapse_nb.importers.errors.ImportFormatError: no-such-folder: folder is not a folder
        """
        from synapse_nb.importers import import_folder

        check_keywords(import_folder, options, "import_folder", given=("client", "folder"))
        return import_folder(self, folder, **options)


def _check_kind(kind: Any, method: str, field: str = "kind") -> str:
    """``kind`` if it is a frame kind (a key of :data:`~.rows.RESOURCES`).

    Example:
        >>> _check_kind("tasks", "list_frame")
        Traceback (most recent call last):
        ...
        synapse_nb.exceptions.InvalidInputError: list_frame: invalid kind='tasks': must be one \
of ['assignment', 'data_collection', 'data_unit', 'ground_truth_event', 'job', 'model', 'task', \
'task_tag'] (nothing was sent)
    """
    if not isinstance(kind, str) or kind not in RESOURCES:
        raise InvalidInputError(field, kind, f"must be one of {sorted(RESOURCES)}", method=method)
    return kind


def _check_ids(ids: Any, method: str) -> list[int]:
    """``ids`` as a list of ints >= 1 (numpy ints and digit strings accepted).

    Example:
        >>> _check_ids(pd.Index([3, 1]), "frame_by_id")
        [3, 1]
    """
    if isinstance(ids, str | bytes | Mapping) or not isinstance(ids, Iterable):
        hint = f"; for one id pass [{ids}]" if isinstance(ids, int) else ""
        raise InvalidInputError(
            "ids", ids, f"must be a list of ids (ints >= 1){hint}", method=method
        )
    values = list(ids)
    if all(type(v) is int and 0 < v <= MAX_ID for v in values):  # the common case
        return values
    out = []
    for position, value in enumerate(values):
        if isinstance(value, np.integer):
            value = int(value)
        out.append(check_pk(value, method=method, field=f"ids[{position}]"))  # also <= MAX_ID
    return out


def _check_options(
    cache: Any, frame_page_size: Any, progress: Any
) -> tuple[FrameCache | None, int, bool | None]:
    """The frame options of ``Client(...)``, checked before anything is opened."""
    if progress is not None and not isinstance(progress, bool):
        raise InvalidInputError(
            "progress", progress, "must be True, False or None", method="Client"
        )
    if isinstance(frame_page_size, bool) or not isinstance(frame_page_size, int):
        raise InvalidInputError(
            "frame_page_size", frame_page_size, "must be an int >= 1", method="Client"
        )
    if frame_page_size < 1:
        raise InvalidInputError(
            "frame_page_size", frame_page_size, "must be an int >= 1", method="Client"
        )
    if cache is True:
        cache = default_cache_path()
    if cache is None or cache is False:
        return None, frame_page_size, progress
    if not isinstance(cache, str | os.PathLike):
        raise InvalidInputError(
            "cache", cache, "must be a directory path, True or None", method="Client"
        )
    return FrameCache(cache), frame_page_size, progress
