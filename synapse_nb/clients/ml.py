"""MLClientMixin: models and ground truth.

Example:
    >>> model = backend.get_model(3)
    >>> model["file"]                 # downloaded by default
    PosixPath('.../media/....pt')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synapse_nb._progress import AnyProgress
from synapse_nb._uploads import check_upload_file
from synapse_nb.clients._base import BaseClient
from synapse_nb.clients._url_conversion import resolve
from synapse_nb.clients._validate import check_params, check_pk
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.models._base import validate
from synapse_nb.models.ml import ModelCreate

__all__ = ["MLClientMixin"]


class MLClientMixin(BaseClient):
    """Models and ground-truth data (Synapse SDK: ``MLClientMixin``)."""

    def list_models(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List models (``GET models/``).

        Example:
            >>> page = backend.list_models(params={"project": 1})
            >>> page["count"] > 0, {m["project"] for m in page["results"]}
            (True, {1})
        """
        return self._list(
            "models/", params, method="list_models", list_all=list_all, **page_options
        )

    def get_model(
        self, pk: int, params: Mapping[str, Any] | None = None, url_conversion: Any = None
    ) -> dict[str, Any]:
        """Get a model; by default its ``file`` is downloaded and replaced by a local Path.

        Args:
            pk: Model id.
            params: Query params, e.g. ``{'expand': 'metrics'}``.
            url_conversion: ``False`` keeps the URL; see
                :mod:`synapse_nb.clients._url_conversion` for the other forms.

        Example:
            >>> backend.get_model(1, url_conversion=False)["file"]
            'http://127.0.0.1:.../media/model/1/.../yolo-v8n-1.0.0.pt'
        """
        pk = check_pk(pk, method="get_model")
        query = check_params(params, method="get_model")
        conversion = resolve(url_conversion, ["file"], is_list=False, method="get_model")
        return self._get(f"models/{pk}/", query, url_conversion=conversion)

    def update_model(self, pk: int, data: Mapping[str, Any]) -> dict[str, Any]:
        """Change a model's ``metrics`` or ``description`` (``PATCH models/{pk}/``).

        Not a Synapse SDK method: the notebook client's ``push_metrics`` writes computed
        metrics with it (after showing the difference).

        Example:
            >>> model = backend.update_model(6, {"description": "rtmdet, re-evaluated"})
            >>> model["description"]
            'rtmdet, re-evaluated'
        """
        method = "update_model"
        if isinstance(data, Mapping) and "metrics" in data and not isinstance(
            data["metrics"], Mapping
        ):
            raise InvalidInputError("data['metrics']", data["metrics"], "must be a dict",
                                    method=method)  # fmt: skip
        return self._patch_checked("models", method, pk, data, ("description", "metrics"))

    def create_model(
        self,
        data: Mapping[str, Any],
        *,
        file: Any = None,
        progress: AnyProgress | None = None,
    ) -> dict[str, Any]:
        """Upload a model file (chunked) and create the model (``POST models/``).

        Args:
            data: ``{'name', 'file' (path), 'plugin'?, 'version'?, 'configuration'?,
                'description'?, ...}``; extra keys such as ``project`` are passed through.
            file: The model file, if not given as ``data['file']``.
            progress: ``progress(sent_bytes, total_bytes)`` of the upload.

        Returns:
            The created model.

        Example:
            >>> _ = open("model.pkl", "wb").write(b"create_model example weights")
            >>> model = backend.create_model({"name": "My Model", "project": 3,
            ...                               "file": "model.pkl"})
            >>> model["name"], model["project"]
            ('My Model', 3)
        """
        method = "create_model"
        if not isinstance(data, Mapping):
            raise InvalidInputError("data", data, "must be a dict", method=method)
        fields = dict(data)
        path_value = fields.pop("file", None)
        if file is not None:
            if path_value is not None:
                raise InvalidInputError(
                    "file", file, "given both in data and as file=", method=method
                )
            path_value = file
        if path_value is None:
            raise InvalidInputError(
                "data['file']", None, "is required (path of the model file)", method=method
            )
        if "chunked_upload" in fields:
            raise InvalidInputError(
                "data['chunked_upload']",
                fields["chunked_upload"],
                "is set by create_model itself",
                method=method,
            )
        path = check_upload_file(path_value, method=method, field="data['file']")
        # Validate the body before the (possibly long) upload, with a stand-in id.
        validate(ModelCreate, {**fields, "chunked_upload": "pending"}, method=method)
        upload = self._chunked_upload(path, progress=progress)
        body = validate(ModelCreate, {**fields, "chunked_upload": upload["id"]}, method=method)
        return self._post("models/", body.model_dump(mode="json", exclude_none=True))

    def list_ground_truth_events(
        self,
        params: Mapping[str, Any] | None = None,
        url_conversion: Any = None,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List ground-truth events (``GET sdk/ground_truth_events/``; ``page_size`` 100).

        Args:
            params: ``ground_truth_dataset_versions`` (a list is sent as repeated keys),
                ``ground_truth_dataset``, paging.
            url_conversion: ``files`` are downloaded by default with ``list_all=True``;
                ``False`` keeps URLs.
            list_all: Walk every page and return ``(generator, count)``.
            **page_options: ``max_workers``, ``page_failures``, ``page_retries``.

        Example:
            >>> events, count = backend.list_ground_truth_events(
            ...     params={"ground_truth_dataset_versions": [1]}, list_all=True,
            ...     url_conversion=False,
            ... )
            >>> count, len(list(events))
            (180, 180)
        """
        return self._list(
            "sdk/ground_truth_events/",
            params,
            method="list_ground_truth_events",
            list_all=list_all,
            url_conversion=url_conversion,
            default_fields=["files"],
            always_page_size=True,
            **page_options,
        )

    def get_ground_truth_version(self, pk: int) -> dict[str, Any]:
        """Get a ground-truth dataset version.

        Example:
            >>> backend.get_ground_truth_version(1)["version"]
            'v1'
        """
        pk = check_pk(pk, method="get_ground_truth_version")
        return self._get(f"ground_truth_dataset_versions/{pk}/")

    def list_ground_truth_datasets(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List ground-truth datasets (``GET ground_truth_datasets/``).

        An addition of newer Synapse SDK releases, under their name.

        Args:
            params: Filters: ``project``.
            list_all: Walk every page and return ``(generator, count)``.
            **page_options: As for :meth:`list_tasks`.

        Example:
            >>> backend.list_ground_truth_datasets()['results'][0]['name']
            'Street GT'
        """
        return self._list(
            "ground_truth_datasets/",
            params,
            method="list_ground_truth_datasets",
            list_all=list_all,
            **page_options,
        )

    def list_ground_truth_versions(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List ground-truth dataset versions (``GET ground_truth_dataset_versions/``).

        An addition of newer Synapse SDK releases, under their name.

        Args:
            params: Filters: ``ground_truth_dataset``, ``is_archived``.
            list_all: Walk every page and return ``(generator, count)``.
            **page_options: As for :meth:`list_tasks`.

        Example:
            >>> page = backend.list_ground_truth_versions({'ground_truth_dataset': 1})
            >>> [v['version'] for v in page['results']][:2]
            ['v1', 'v2']
        """
        return self._list(
            "ground_truth_dataset_versions/",
            params,
            method="list_ground_truth_versions",
            list_all=list_all,
            **page_options,
        )
