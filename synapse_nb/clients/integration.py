"""IntegrationClientMixin: agents, plugins, releases, runs, jobs, console logs, storages.

Example:
    >>> run = {"action": "train", "params": {"epochs": 2, "register": False}}
    >>> job = backend.run_plugin("numpy-trainer", run)
    >>> [e["message"] for e in backend.tail_job_console_logs(job["id"])][-1]
    'Done'
    >>> backend.get_job(job["id"])["status"]
    'SUCCEEDED'
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from synapse_nb._transport import encode_json
from synapse_nb.clients._base import BaseClient
from synapse_nb.clients._validate import check_params, check_pk, check_ref
from synapse_nb.exceptions import ClientError, InvalidInputError
from synapse_nb.models._base import build_body, validate
from synapse_nb.models.enums import JobStatus
from synapse_nb.models.integration import (
    JobUpdate,
    PluginCreate,
    PluginReleaseCreate,
    PluginUpdate,
    RunPlugin,
    StorageCreate,
)

__all__ = ["IntegrationClientMixin"]

_AGENT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,200}\Z")  # \Z: "$" also matches before "\n"


def _job_ref(pk: Any, method: str) -> int | str:
    return check_ref(pk, method=method, what="id (int or UUID)")


class IntegrationClientMixin(BaseClient):
    """Plugins, jobs and storages (Synapse SDK: ``IntegrationClientMixin``)."""

    # ------------------------------------------------------------------ agents
    def health_check_agent(self, token: str) -> dict[str, Any]:
        """Check in an agent by its token (``POST agents/{token}/connect/``).

        The token travels in the URL path; it is redacted from logs and error messages.

        Args:
            token: The agent's token.

        Returns:
            The agent, e.g. ``{'id', 'name', 'status': 'connected', 'url'}``.

        Example:
            >>> backend.health_check_agent(srv.agent_token)["status"]
            'connected'
        """
        if isinstance(token, str):  # sent without the whitespace around it, as every token
            token = token.strip()
        if not isinstance(token, str) or not _AGENT_TOKEN.fullmatch(token):
            shown = f"<{len(token)} characters>" if isinstance(token, str) else token
            raise InvalidInputError(
                "token",
                shown,
                "must be a non-empty agent token (letters, digits, '_', '-')",
                method="health_check_agent",
            )
        return self._post(f"agents/{token}/connect/", secrets=[token])

    # ------------------------------------------------------------------ plugins
    def get_plugin(self, pk: int | str) -> dict[str, Any]:
        """Get a plugin by id or code.

        Example:
            >>> backend.get_plugin("coco-exporter")["name"]
            'COCO exporter'
        """
        ref = check_ref(pk, method="get_plugin", what="id or plugin code")
        return self._get(f"plugins/{ref}/")

    def create_plugin(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Create a plugin.

        Args:
            data: ``{'name', 'description'?, 'code'?, 'category'?}``.

        Example:
            >>> plugin = {"name": "My Plugin", "code": "doc-create-plugin", "description": "..."}
            >>> created = backend.create_plugin(plugin)
            >>> backend.get_plugin(created["id"])["code"]
            'doc-create-plugin'
        """
        body = build_body(PluginCreate, data, method="create_plugin")
        return self._post("plugins/", body)

    def update_plugin(self, pk: int | str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Update some fields of a plugin (``PUT plugins/{pk}/``, partial as in the Synapse SDK).

        Example:
            >>> plugin = backend.create_plugin({"name": "Doc update", "code": "doc-update-plugin"})
            >>> backend.update_plugin(plugin["id"], {"description": "Updated"})["description"]
            'Updated'
        """
        ref = check_ref(pk, method="update_plugin", what="id or plugin code")
        body = build_body(PluginUpdate, data, method="update_plugin")
        return self._put(f"plugins/{ref}/", body)

    def run_plugin(self, pk: int | str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Run a plugin action; job-mode actions return the created job.

        Args:
            pk: Plugin id or code.
            data: ``{'action', 'params' (Synapse SDK: 'parameters'), 'agent'?, 'version'?,
                'context'?, 'debug'?, 'language'?}``; ``language`` defaults to ``'ko'``.

        Returns:
            The job (``id`` and the Synapse SDK's ``job_id``).

        Example:
            >>> run = {"action": "train", "parameters": {"epochs": 1, "register": False}}
            >>> job = backend.run_plugin("numpy-trainer", run)
            >>> job["job_id"] == job["id"], job["params"]["epochs"]
            (True, 1)
        """
        ref = check_ref(pk, method="run_plugin", what="id or plugin code")
        body = build_body(RunPlugin, data, method="run_plugin")
        return self._post(f"plugins/{ref}/run/", body)

    def create_plugin_release(self, data: Mapping[str, Any], *, file: Any = None) -> dict[str, Any]:
        """Create a plugin release from an archive (multipart ``POST plugin_releases/``).

        Args:
            data: ``{'plugin' (id or code), 'version', 'config'?, 'requirements'?,
                'debug'?, 'file'?}``; ``file`` may be in ``data`` or given as ``file=``.
            file: The archive: a path, an open binary file, or bytes.

        Returns:
            The release ``{id, plugin, version, config, requirements, debug, file, ...}``.

        Example:
            >>> plugin = backend.create_plugin({"name": "Doc release", "code": "doc-release"})
            >>> release = backend.create_plugin_release({"plugin": plugin["id"],
            ...                                          "version": "1.0.0"})
            >>> release["code"], release["plugin"] == plugin["id"]
            ('doc-release@1.0.0', True)
        """
        method = "create_plugin_release"
        if not isinstance(data, Mapping):
            raise InvalidInputError("data", data, "must be a dict", method=method)
        fields = dict(data)
        archive = fields.pop("file", None)
        if file is not None:
            if archive is not None:
                raise InvalidInputError(
                    "file", file, "given both in data and as file=", method=method
                )
            archive = file
        release = validate(PluginReleaseCreate, fields, method=method)
        # Every field is a part without a filename, so the body is multipart even when no
        # archive is attached (what requests sends for data= plus files=).
        parts: list[tuple[str, Any]] = []
        for key, value in release.model_dump(mode="json", exclude_none=True).items():
            if isinstance(value, dict):  # NaN and infinities are refused, naming where
                text = encode_json(value, method=method, field=f"data[{key!r}]").decode()
                parts.append((key, (None, text)))
            elif isinstance(value, list):
                parts.extend((key, (None, str(v))) for v in value)
            else:
                parts.append((key, (None, str(value))))
        with contextlib.ExitStack() as stack:
            part = _file_part(archive, stack, method)
            if part is not None:
                parts.append(("file", part))
            return self._post("plugin_releases/", None, files=parts)

    def get_plugin_release(
        self, pk: int | str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Get a release by id or ``code@version`` (``expand=plugin`` inlines the plugin).

        Example:
            >>> backend.get_plugin_release("coco-exporter@0.2.0")["version"]
            '0.2.0'
        """
        ref = check_ref(pk, method="get_plugin_release", what="id or code@version")
        query = check_params(params, method="get_plugin_release")
        return self._get(f"plugin_releases/{ref}/", query)

    # ------------------------------------------------------------------ jobs
    def list_jobs(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List jobs; a ``status`` filter may use the Synapse SDK's lowercase names.

        Example:
            >>> {j["status"] for j in backend.list_jobs(params={"status": "succeeded"})["results"]}
            {'SUCCEEDED'}
        """
        query = check_params(params, method="list_jobs")
        if "status" in query:
            query["status"] = _statuses(query["status"], method="list_jobs")
        return self._list("jobs/", query, method="list_jobs", list_all=list_all, **page_options)

    def get_job(self, pk: int | str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Get a job (ids are ints or UUID strings).

        Example:
            >>> job = backend.list_jobs(params={"status": "succeeded"})["results"][0]
            >>> backend.get_job(job["id"], params={"expand": "logs"})["status"]
            'SUCCEEDED'
        """
        ref = _job_ref(pk, "get_job")
        return self._get(f"jobs/{ref}/", check_params(params, method="get_job"))

    def update_job(self, pk: int | str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Update a job (``PATCH jobs/{pk}/``); ``status='completed'`` is sent as ``SUCCEEDED``.

        Args:
            pk: Job id.
            data: Any of ``status``, ``progress_record``, ``metrics_record``,
                ``console_logs``, ``result``, ``meta``.

        Example:
            >>> run = {"action": "train", "params": {"epochs": 1000, "delay": 1}}
            >>> job = backend.run_plugin("numpy-trainer", run)
            >>> backend.update_job(job["id"], {"status": "completed"})["status"]
            'SUCCEEDED'
        """
        ref = _job_ref(pk, "update_job")
        body = build_body(JobUpdate, data, method="update_job")
        return self._patch(f"jobs/{ref}/", body)

    def list_job_console_logs(
        self, pk: int | str, *, list_all: bool = False, **page_options: Any
    ) -> Any:
        """List a job's console log entries (``{id, level, message, datetime, ...}``).

        Example:
            >>> run = {"action": "train", "params": {"epochs": 3, "register": False}}
            >>> job = backend.run_plugin("numpy-trainer", run)
            >>> _ = list(backend.tail_job_console_logs(job["id"]))  # until the job finishes
            >>> page = backend.list_job_console_logs(job["id"])
            >>> [e["message"] for e in page["results"]]
            ["Starting action 'train'", 'epoch 1/3 ...', ..., 'Done']
        """
        ref = _job_ref(pk, "list_job_console_logs")
        return self._list(
            f"jobs/{ref}/console_logs/",
            None,
            method="list_job_console_logs",
            list_all=list_all,
            **page_options,
        )

    def tail_job_console_logs(
        self, pk: int | str, *, timeout: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Follow a job's console log as it is written (SSE ``jobs/{pk}/tail_console_logs/``).

        Yields one dict per log line (``{'type': 'log', 'message', 'level', 'datetime'}``)
        and ends when the job finishes (the server's ``complete`` event), when the server
        closes the stream, or after ``timeout`` seconds without data.

        Args:
            pk: Job id.
            timeout: Seconds to wait for the next bytes; ``None`` waits as long as the
                stream stays open.

        Raises:
            ClientError: The stream reported an ``error`` event (status 500).

        Example:
            >>> run = {"action": "train", "params": {"epochs": 2, "register": False}}
            >>> job = backend.run_plugin("numpy-trainer", run)
            >>> for entry in backend.tail_job_console_logs(job["id"], timeout=60):
            ...     print(entry["message"])
            Starting action 'train'
            epoch 1/2 ...
            epoch 2/2 ...
            Done
        """
        method = "tail_job_console_logs"
        ref = _job_ref(pk, method)
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise InvalidInputError(
                "timeout", timeout, "must be positive seconds or None", method=method
            )
        events = self._transport.sse_events(f"jobs/{ref}/tail_console_logs/", read_timeout=timeout)
        return _console_entries(events, f"jobs/{ref}/tail_console_logs/")

    # ------------------------------------------------------------------ storages
    def list_storages(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List storages (``category`` filter: ``internal``/``external``).

        Example:
            >>> backend.list_storages()["results"][0]["provider"]
            'file_system'
        """
        return self._list(
            "storages/", params, method="list_storages", list_all=list_all, **page_options
        )

    def get_storage(self, pk: int) -> dict[str, Any]:
        """Get a storage with its configuration (``?with_configuration=true``).

        Example:
            >>> disk = {"location": str(tmp / "disk")}
            >>> storage = backend.create_storage({"name": "Doc disk", "provider": "file_system",
            ...                                   "configuration": disk})
            >>> backend.get_storage(storage["id"])["configuration"] == disk
            True
        """
        pk = check_pk(pk, method="get_storage")
        return self._get(f"storages/{pk}/", {"with_configuration": "true"})

    def create_storage(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Create a storage.

        Args:
            data: ``{'name', 'provider', 'configuration', 'category'?, 'is_default'?}``;
                ``provider`` is a :class:`~synapse_nb.models.StorageProvider` or any code.

        Example:
            >>> storage = backend.create_storage({"name": "S3", "provider": "amazon_s3",
            ...                                   "configuration": {"bucket": "b"}})
            >>> storage["provider"], storage["category"]
            ('amazon_s3', 'external')
        """
        body = build_body(StorageCreate, data, method="create_storage")
        return self._post("storages/", body)

    def list_agents(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List agents (``GET agents/``).

        An addition of newer Synapse SDK releases, under their name.

        Args:
            params: Filters: none besides paging.
            list_all: Walk every page and return ``(generator, count)``.
            **page_options: As for :meth:`list_tasks`.

        Returns:
            The page envelope; items ``{id, name, url, status, token, node_install_script,
            ...}``. The agent ``token`` is a credential: pass it to
            :meth:`health_check_agent` or ``AgentClient``, do not print it in a shared notebook.

        Example:
            >>> backend.list_agents()['results'][0]['status']
            'connected'
        """
        return self._list(
            "agents/", params, method="list_agents", list_all=list_all, **page_options
        )

    def list_plugins(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List plugins (``GET plugins/``).

        An addition of newer Synapse SDK releases, under their name.

        Args:
            params: Filters: ``category``, ``code``, ``search``.
            list_all: Walk every page and return ``(generator, count)``.
            **page_options: As for :meth:`list_tasks`.

        Example:
            >>> page = backend.list_plugins({'category': 'export'})
            >>> 'coco-exporter' in [p['code'] for p in page['results']]
            True
        """
        return self._list(
            "plugins/", params, method="list_plugins", list_all=list_all, **page_options
        )

    def list_plugin_releases(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List plugin releases (``GET plugin_releases/``).

        An addition of newer Synapse SDK releases, under their name.

        Args:
            params: Filters: ``plugin`` (pk or code), ``expand=plugin``.
            list_all: Walk every page and return ``(generator, count)``.
            **page_options: As for :meth:`list_tasks`.

        Example:
            >>> page = backend.list_plugin_releases({'plugin': 'yolo-trainer'})
            >>> [r['code'] for r in page['results']]
            ['yolo-trainer@0.1.0', 'yolo-trainer@0.2.0']
        """
        return self._list(
            "plugin_releases/",
            params,
            method="list_plugin_releases",
            list_all=list_all,
            **page_options,
        )


def _statuses(value: Any, *, method: str) -> Any:
    values = value.split(",") if isinstance(value, str) else value
    if not isinstance(values, list | tuple):
        raise InvalidInputError(
            "params['status']", value, "must be a status or a list of them", method=method
        )
    mapped = []
    for item in values:
        try:
            mapped.append(JobStatus(item).value)
        except ValueError:
            raise InvalidInputError(
                "params['status']",
                item,
                f"must be one of {[s.value for s in JobStatus]} (or running/completed)",
                method=method,
            ) from None
    return mapped[0] if isinstance(value, str) and len(mapped) == 1 else mapped


def _file_part(archive: Any, stack: contextlib.ExitStack, method: str) -> Any:
    if archive is None:
        return None
    if isinstance(archive, bytes | bytearray):
        return ("file", bytes(archive))
    if isinstance(archive, str | os.PathLike):
        path = Path(archive).expanduser()
        if not path.is_file():
            raise InvalidInputError("file", str(archive), "no such file", method=method)
        return (path.name, stack.enter_context(open(path, "rb")))
    if hasattr(archive, "read"):
        name = Path(str(getattr(archive, "name", "") or "plugin.zip")).name
        return (name, archive)
    raise InvalidInputError(
        "file", archive, "must be a path, an open binary file or bytes", method=method
    )


def _console_entries(events: Iterator[dict[str, Any]], path: str) -> Iterator[dict[str, Any]]:
    for event in events:
        kind = event.get("type")
        if kind == "connected":
            continue
        if kind == "complete":
            return
        if kind == "error":
            raise ClientError(500, event.get("message") or event, method="GET", path=path)
        yield event
