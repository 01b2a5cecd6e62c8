"""AnnotationClientMixin: projects, tasks, annotations and task tags.

Example:
    >>> from synapse_nb.clients import BackendClient
    >>> client = BackendClient(srv.url, api_token=srv.token)
    >>> client.get_project(1)["id"]
    1
    >>> client.close()
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from synapse_nb.clients._base import BaseClient
from synapse_nb.clients._validate import check_data, check_params, check_pk, check_tag_replace
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.models._base import build_body, validate
from synapse_nb.models.annotation import SetTaskTags, TaskBulkCreate, TaskCreate
from synapse_nb.models.enums import AnnotationSchema

__all__ = ["AnnotationClientMixin"]


class AnnotationClientMixin(BaseClient):
    """Task and annotation management (Synapse SDK: ``AnnotationClientMixin``)."""

    def get_project(self, pk: int) -> dict[str, Any]:
        """Get one project.

        Args:
            pk: Project id.

        Returns:
            The project, e.g. ``{'id', 'name', 'title', 'configuration', ...}``.

        Example:
            >>> project = backend.get_project(1)
            >>> project["name"]
            'Street detection'
        """
        pk = check_pk(pk, method="get_project")
        return self._get(f"projects/{pk}/")

    def get_task(self, pk: int, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Get one task, optionally expanded.

        Args:
            pk: Task id.
            params: Query params, e.g. ``{'expand': ['data_unit', 'assignment']}``.

        Returns:
            The task dict.

        Example:
            >>> task = backend.get_task(1, params={"expand": "data_unit"})
            >>> task["data_unit"]["files"]
            {'image_1': {...}}
        """
        pk = check_pk(pk, method="get_task")
        query = check_params(params, method="get_task")
        return self._get(f"tasks/{pk}/", query)

    def update_task(self, pk: int, data: Mapping[str, Any]) -> dict[str, Any]:
        """Update a task's writable fields (``PATCH tasks/{pk}/``).

        Args:
            pk: Task id.
            data: Any of ``status``, ``priority``, ``assignee``, ``metadata``, ``tags``
                (replaces the tag set), ``is_discarded``.

        Returns:
            The updated task.

        Example:
            >>> task = backend.create_tasks({"project": 2, "data_unit": 5})
            >>> backend.update_task(task["id"], {"status": "completed"})["status"]
            'completed'
        """
        allowed = ("status", "priority", "assignee", "metadata", "tags", "is_discarded")
        return self._patch_checked("tasks", "update_task", pk, data, allowed)

    def annotate_task_data(
        self, pk: int, data: Mapping[str, Any], *, schema: str | None = None
    ) -> dict[str, Any]:
        """Store annotation data on a task (``PUT tasks/{pk}/annotate_task_data/``).

        Args:
            pk: Task id.
            data: The annotation payload (free-form JSON, usually DM format).
            schema: ``'dm_schema_v1'`` to have the server validate it as DM v1, ``'any'`` to
                skip validation; omitted by default.

        Returns:
            The updated task; its ``data`` is the stored payload.

        Example:
            >>> task = backend.create_tasks({"project": 2, "data_unit": 6})
            >>> backend.annotate_task_data(task["id"], {"annotations": []})["id"] == task["id"]
            True
        """
        pk = check_pk(pk, method="annotate_task_data")
        check_data(data, method="annotate_task_data")
        params = None
        if schema is not None:
            try:
                params = {"schema": AnnotationSchema(schema).value}
            except ValueError:
                raise InvalidInputError(
                    "schema", schema, "must be 'dm_schema_v1' or 'any'", method="annotate_task_data"
                ) from None
        return self._put(f"tasks/{pk}/annotate_task_data/", dict(data), params=params)

    def list_tasks(
        self,
        params: Mapping[str, Any] | None = None,
        url_conversion: Any = None,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List tasks (``GET sdk/tasks/``).

        Args:
            params: Filters such as ``project``, ``status_label``, ``tags``, ``page``,
                ``page_size``, ``fields``, ``expand``.
            url_conversion: See :mod:`synapse_nb.clients._url_conversion`; by default the
                ``files`` of every task are downloaded when ``list_all=True``. Pass
                ``False`` to keep URLs.
            list_all: Walk every page.
            **page_options: ``max_workers``, ``page_failures`` (a list to collect failed
                pages instead of raising), ``page_retries``, ``progress`` (with
                ``list_all``: ``callable(items_so_far, count)`` called as each page arrives).

        Returns:
            The page envelope ``{'count', 'next', 'previous', 'results'}``; with
            ``list_all=True`` a ``(generator, count)`` pair.

        Example:
            >>> page = backend.list_tasks(params={"project": 1})
            >>> sorted(page)
            ['count', 'next', 'previous', 'results']
            >>> tasks, count = backend.list_tasks({"project": 1}, url_conversion=False,
            ...                                   list_all=True)
            >>> len(list(tasks)) == count
            True
        """
        return self._list(
            "sdk/tasks/",
            params,
            method="list_tasks",
            list_all=list_all,
            url_conversion=url_conversion,
            default_fields=["files"],
            **page_options,
        )

    def create_tasks(self, data: Any) -> Any:
        """Create one task or many.

        Accepts the Synapse SDK's shapes (one ``{project, data_unit, ...}`` dict, or a list of them)
        and the newer SDK's shape ``{project, data: [{data_unit, ...}]}``. On the wire the newer
        shape is sent when all tasks share a project; a list spanning several
        projects is sent as the legacy list, which the backend also accepts.

        Args:
            data: A task dict, a list of task dicts, or ``{project, data: [...]}``.

        Returns:
            The created task for a single dict, else the list of created tasks.

        Example:
            >>> tasks = backend.create_tasks([{"project": 2, "data_unit": 7},
            ...                               {"project": 2, "data_unit": 8}])
            >>> [(t["project"], t["data_unit"]) for t in tasks]
            [(2, 7), (2, 8)]
        """
        method = "create_tasks"
        if isinstance(data, Mapping) and "data" in data:
            body = build_body(TaskBulkCreate, data, method=method)
            return self._post("tasks/", body)
        single = isinstance(data, Mapping)
        items = [data] if single else data
        if not isinstance(items, list) or not items:
            raise InvalidInputError(
                "data", data, "must be a task dict or a non-empty list of task dicts", method=method
            )
        tasks = [
            validate(TaskCreate, item, method=method, field=f"data[{i}]").model_dump(
                mode="json", exclude_none=True
            )
            for i, item in enumerate(items)
        ]
        by_project: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for task in tasks:
            by_project[task["project"]].append(task)
        if len(by_project) > 1:
            return self._post("tasks/", tasks)
        project = tasks[0]["project"]
        body = {
            "project": project,
            "data": [{k: v for k, v in t.items() if k != "project"} for t in tasks],
        }
        created = self._post("tasks/", body)
        if single and isinstance(created, list) and len(created) == 1:
            return created[0]
        return created

    def set_tags_tasks(
        self, data: Mapping[str, Any], params: Mapping[str, Any] | None = None
    ) -> Any:
        """Add (or remove) tags on many tasks at once (``POST tasks/set_tags/``).

        Args:
            data: ``{'task_ids': [...], 'tag_ids': [...]}`` (Synapse SDK) or
                ``{'ids': [...], 'tags': [...], 'action': 'add'|'remove'}`` (the SDK's wire form,
                which is what is sent).
            params: ``{'replace': True}`` replaces the tag set instead of adding to it.

        Returns:
            The server's result, e.g. ``{'updated': 2}``.

        Example:
            >>> tasks = backend.create_tasks([{"project": 2, "data_unit": 9},
            ...                               {"project": 2, "data_unit": 10}])
            >>> ids = [t["id"] for t in tasks]
            >>> result = backend.set_tags_tasks({"task_ids": ids, "tag_ids": [1, 2]})
            >>> result["updated"], result["tags"]
            (2, [1, 2])
            >>> [backend.get_task(pk)["tags"] for pk in ids]
            [[1, 2], [1, 2]]
        """
        body = build_body(SetTaskTags, data, method="set_tags_tasks")
        query = check_params(params, method="set_tags_tasks")
        check_tag_replace(body, query, method="set_tags_tasks")
        return self._post("tasks/set_tags/", body, params=query)

    def get_task_tag(self, pk: int) -> dict[str, Any]:
        """Get one task tag.

        Args:
            pk: Tag id.

        Returns:
            ``{'id', 'name', 'description', 'color', 'project', ...}``.

        Example:
            >>> backend.get_task_tag(2)["name"]
            'blurry'
        """
        pk = check_pk(pk, method="get_task_tag")
        return self._get(f"task_tags/{pk}/")

    def list_task_tags(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List task tags (``GET task_tags/``).

        Args:
            params: Filters: ``project``, ``search``, ``color``.
            list_all: Walk every page and return ``(generator, count)``.
            **page_options: As for :meth:`list_tasks`.

        Returns:
            The page envelope (the Synapse SDK's docs say a tuple; its code returns the envelope).

        Example:
            >>> backend.list_task_tags({"project": 1})["results"][1]["name"]
            'blurry'
        """
        return self._list(
            "task_tags/", params, method="list_task_tags", list_all=list_all, **page_options
        )

    def list_projects(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List projects (``GET projects/``).

        An addition of newer Synapse SDK releases, under their name.

        Args:
            params: Filters: ``search``, ``category``, ``id__in``.
            list_all: Walk every page and return ``(generator, count)``.
            **page_options: As for :meth:`list_tasks`.

        Example:
            >>> [p['name'] for p in backend.list_projects()['results']][:3]
            ['Street detection', 'Pedestrian pose', 'Upload sandbox']
        """
        return self._list(
            "projects/", params, method="list_projects", list_all=list_all, **page_options
        )
