"""DataCollectionClientMixin: data collections, data files and data units.

Example:
    >>> spec = backend.get_data_collection(1)["file_specifications"]
    >>> [(s["name"], s["file_type"]) for s in spec]
    [('image_1', 'image'), ('meta_json', 'data')]
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from synapse_nb._config import DEFAULT_CHUNK_SIZE
from synapse_nb._progress import AnyProgress
from synapse_nb._uploads import check_upload_file
from synapse_nb.clients._base import BaseClient
from synapse_nb.clients._validate import check_params, check_pk
from synapse_nb.exceptions import InvalidInputError
from synapse_nb.models._base import validate
from synapse_nb.models.data_collection import DataUnitCreate

__all__ = ["DataCollectionClientMixin"]

#: ``create_data_units`` sends at most this many units per request (see docs/protocol.md).
DATA_UNIT_BATCH = 1000


_MD5 = re.compile(r"[0-9a-f]{32}")


class DataCollectionClientMixin(BaseClient):
    """Data collections, files and units (Synapse SDK: ``DataCollectionClientMixin``)."""

    def list_data_collection(
        self,
        *,
        params: Mapping[str, Any] | None = None,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List data collections (``GET data_collections/``).

        Args:
            params: Optional filters.
            list_all: Walk every page and return ``(generator, count)``.
            **page_options: ``max_workers``, ``page_failures``, ``page_retries``.

        Returns:
            The page envelope.

        Example:
            >>> [c["name"] for c in backend.list_data_collection()["results"]][:2]
            ['Street scenes', 'Incoming uploads']
        """
        return self._list(
            "data_collections/",
            params,
            method="list_data_collection",
            list_all=list_all,
            **page_options,
        )

    #: The current Synapse SDK's name of :meth:`list_data_collection`.
    list_data_collections = list_data_collection

    def get_data_collection(self, data_collection_id: int) -> dict[str, Any]:
        """Get a data collection with its file specifications.

        Args:
            data_collection_id: Collection id.

        Returns:
            ``{'id', 'name', 'file_specifications': [{'name', 'file_type', ...}], ...}``.

        Example:
            >>> backend.get_data_collection(1)["file_specifications"][0]["name"]
            'image_1'
        """
        pk = check_pk(data_collection_id, method="get_data_collection", field="data_collection_id")
        return self._get(f"data_collections/{pk}/", {"expand": "file_specifications"})

    def create_data_file(
        self,
        file_path: str | os.PathLike[str],
        use_chunked_upload: bool | None = False,
        *,
        progress: AnyProgress | None = None,
    ) -> dict[str, Any]:
        """Upload one file as a data file (``POST data_files/``).

        Args:
            file_path: The file to upload.
            use_chunked_upload: ``True`` uploads with the resumable chunked protocol first
                (for large files); ``False`` (Synapse SDK default) sends one multipart request;
                ``None`` chooses chunked above 50 MiB (the current Synapse SDK's behaviour).
            progress: ``progress(sent_bytes, total_bytes)`` for chunked uploads.

        Returns:
            ``{'id', 'checksum', 'file', 'size', ...}``; ``checksum`` (MD5) binds the file
            into data units.

        Example:
            >>> import hashlib
            >>> from pathlib import Path
            >>> _ = Path("notes.txt").write_bytes(b"create_data_file example")
            >>> done = backend.create_data_file(Path("notes.txt"))
            >>> done["checksum"] == hashlib.md5(b"create_data_file example").hexdigest()
            True
            >>> done["size"]
            24
        """
        method = "create_data_file"
        path = check_upload_file(file_path, method=method)
        if use_chunked_upload not in (True, False, None):
            raise InvalidInputError(
                "use_chunked_upload",
                use_chunked_upload,
                "must be True, False or None",
                method=method,
            )
        if use_chunked_upload is None:
            use_chunked_upload = path.stat().st_size > DEFAULT_CHUNK_SIZE
        if use_chunked_upload:
            done = self._chunked_upload(path, progress=progress)
            body = {"chunked_upload": done["id"], "meta": {"filename": path.name}}
            return self._post("data_files/", body)
        with open(path, "rb") as fh:
            return self._post("data_files/", None, files={"file": (path.name, fh)})

    def upload_data_file(
        self,
        organized_file: Mapping[str, Any],
        collection_id: int,
        use_chunked_upload: bool | None = False,
    ) -> dict[str, Any]:
        """Upload the files of one future data unit and return its binding dict.

        Args:
            organized_file: ``{'files': {spec_name: path, ...}, 'meta': {...},
                'groups'?: [...]}``.
            collection_id: Data collection the unit will belong to.
            use_chunked_upload: As for :meth:`create_data_file`.

        Returns:
            A new dict ``{'files': {spec: {'checksum', 'path'}}, 'data_collection',
            'meta', 'groups'?}`` ready for :meth:`create_data_units`.

        Example:
            >>> from PIL import Image
            >>> Image.new("RGB", (8, 8), (17, 101, 203)).save("cat.png")
            >>> unit = backend.upload_data_file({"files": {"image_1": "cat.png"}, "meta": {}},
            ...                                 collection_id=2)
            >>> sorted(unit["files"]["image_1"])
            ['checksum', 'path']
            >>> [u["data_collection"] for u in backend.create_data_units([unit])]
            [2]
        """
        method = "upload_data_file"
        collection = check_pk(collection_id, method=method, field="collection_id")
        if not isinstance(organized_file, Mapping):
            raise InvalidInputError(
                "organized_file", organized_file, "must be a dict", method=method
            )
        files = organized_file.get("files")
        if not isinstance(files, Mapping) or not files:
            raise InvalidInputError(
                "organized_file['files']",
                files,
                "must be a non-empty {spec_name: path} dict",
                method=method,
            )
        meta = organized_file.get("meta") or {}
        if not isinstance(meta, Mapping):
            raise InvalidInputError("organized_file['meta']", meta, "must be a dict", method=method)
        # Check every path first, so a bad one does not leave half the files uploaded.
        paths = {
            spec: check_upload_file(path, method=method, field=f"organized_file['files'][{spec!r}]")
            for spec, path in files.items()
        }
        bound = {}
        for spec, path in paths.items():
            created = self.create_data_file(path, use_chunked_upload)
            bound[spec] = {"checksum": created["checksum"], "path": str(files[spec])}
        result: dict[str, Any] = {"files": bound, "data_collection": collection, "meta": dict(meta)}
        groups = organized_file.get("groups")
        if groups is not None:
            result["groups"] = [groups] if isinstance(groups, str) else list(groups)
        return result

    def create_data_units(self, uploaded_files: Any, *, batch_size: int = DATA_UNIT_BATCH) -> Any:
        """Create data units from uploaded files (``POST data_units/``), in batches.

        Args:
            uploaded_files: One binding dict from :meth:`upload_data_file`, or a list.
            batch_size: Units per request (default 1000).

        Returns:
            The created unit for a dict; for a list, all created units in request order.

        Example:
            >>> from PIL import Image
            >>> bindings = []
            >>> for name, colour in (("a.png", (3, 141, 59)), ("b.png", (26, 53, 58))):
            ...     Image.new("RGB", (8, 8), colour).save(name)
            ...     organized = {"files": {"image_1": name}, "meta": {"name": name}}
            ...     bindings.append(backend.upload_data_file(organized, collection_id=2))
            >>> units = backend.create_data_units(bindings)
            >>> [u["meta"]["name"] for u in units]
            ['a.png', 'b.png']
        """
        method = "create_data_units"
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InvalidInputError("batch_size", batch_size, "must be an int >= 1", method=method)
        single = isinstance(uploaded_files, Mapping)
        items = [uploaded_files] if single else uploaded_files
        if not isinstance(items, list) or not items:
            raise InvalidInputError(
                "uploaded_files",
                uploaded_files,
                "must be a binding dict or a non-empty list of them",
                method=method,
            )
        bodies = [
            validate(DataUnitCreate, item, method=method, field=f"uploaded_files[{i}]").model_dump(
                mode="json", exclude_none=True
            )
            for i, item in enumerate(items)
        ]
        if single:
            return self._post("data_units/", bodies[0])
        created: list[Any] = []
        for start in range(0, len(bodies), batch_size):
            reply = self._post("data_units/", bodies[start : start + batch_size])
            created.extend(reply if isinstance(reply, list) else reply.get("results", [reply]))
        return created

    def get_data_unit(self, pk: int, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Get one data unit (``expand=files`` gives file URLs).

        Example:
            >>> backend.get_data_unit(1, params={"expand": "files"})["files"]
            {'image_1': {...}}
        """
        pk = check_pk(pk, method="get_data_unit")
        return self._get(f"data_units/{pk}/", check_params(params, method="get_data_unit"))

    def list_data_units(
        self,
        params: Mapping[str, Any] | None = None,
        url_conversion: Any = None,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List data units (``GET data_units/``; ``page_size`` 100 unless given).

        Example:
            >>> units, count = backend.list_data_units({"data_collection": 1},
            ...                                        list_all=True, url_conversion=False)
            >>> len(list(units)) == count
            True
        """
        return self._list(
            "data_units/",
            params,
            method="list_data_units",
            list_all=list_all,
            url_conversion=url_conversion,
            default_fields=["files"],
            always_page_size=True,
            **page_options,
        )

    def data_files_verify_checksums(self, checksums: list[str]) -> dict[str, Any]:
        """Which of these MD5 checksums already exist as data files.

        ``POST data_files/verify_checksums/``.

        Used to skip uploading files the server already has.

        Args:
            checksums: MD5 hex digests.

        Returns:
            ``{"existing_checksums": [...]}`` in request order.

        Example:
            >>> _ = open("known.txt", "wb").write(b"data_files_verify_checksums example")
            >>> known = backend.create_data_file("known.txt")["checksum"]
            >>> backend.data_files_verify_checksums(["0" * 32])
            {'existing_checksums': []}
            >>> backend.data_files_verify_checksums([known])["existing_checksums"] == [known]
            True
        """
        method = "data_files_verify_checksums"
        if isinstance(checksums, str) or not isinstance(checksums, list | tuple):
            raise InvalidInputError(
                "checksums", checksums, "must be a list of MD5 hex strings", method=method
            )
        for value in checksums:
            if not isinstance(value, str) or not _MD5.fullmatch(value.lower()):
                raise InvalidInputError(
                    "checksums", value, "is not an MD5 hex digest", method=method
                )
        return self._post(
            "data_files/verify_checksums/", {"checksums": [c.lower() for c in checksums]}
        )

    #: The current Synapse SDK's name of :meth:`data_files_verify_checksums`.
    verify_data_files_checksums = data_files_verify_checksums
