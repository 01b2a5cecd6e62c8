"""HITLClientMixin: human-in-the-loop assignments.

Example:
    >>> backend.get_assignment(7)["status_label"]
    'in_progress'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synapse_nb.clients._base import BaseClient
from synapse_nb.clients._validate import check_params, check_pk, check_tag_replace
from synapse_nb.models._base import build_body
from synapse_nb.models.annotation import SetAssignmentTags

__all__ = ["HITLClientMixin"]


class HITLClientMixin(BaseClient):
    """Assignments (Synapse SDK: ``HITLClientMixin``)."""

    def get_assignment(self, pk: int) -> dict[str, Any]:
        """Get one assignment.

        Args:
            pk: Assignment id.

        Returns:
            ``{'id', 'project', 'task', 'status_label', 'data', 'files', 'tags', ...}``.

        Example:
            >>> assignment = backend.get_assignment(1)
            >>> assignment["task"], assignment["project"]
            (1, 1)
        """
        pk = check_pk(pk, method="get_assignment")
        return self._get(f"assignments/{pk}/")

    def update_assignment(self, pk: int, data: Mapping[str, Any]) -> dict[str, Any]:
        """Update an assignment's review state (``PATCH assignments/{pk}/``).

        Args:
            pk: Assignment id.
            data: Any of ``status_label``, ``status_review``, ``data``.

        Example:
            >>> before = backend.get_assignment(3)["status_review"]
            >>> backend.update_assignment(3, {"status_review": "rejected"})["status_review"]
            'rejected'
            >>> backend.update_assignment(3, {"status_review": before})["status_review"] == before
            True
        """
        allowed = ("status_label", "status_review", "data")
        return self._patch_checked("assignments", "update_assignment", pk, data, allowed)

    def list_assignments(
        self,
        params: Mapping[str, Any] | None = None,
        url_conversion: Any = None,
        list_all: bool = False,
        **page_options: Any,
    ) -> Any:
        """List assignments (``GET sdk/assignments/``).

        Args:
            params: Filters: ``project``, ``workshop``, ``tasks``, ``users``,
                ``status_label``, ``status_review``, ``tags``, paging.
            url_conversion: As for ``list_tasks``; ``files`` are downloaded by default
                with ``list_all=True``; ``False`` keeps URLs.
            list_all: Walk every page and return ``(generator, count)``.
            **page_options: ``max_workers``, ``page_failures``, ``page_retries``.

        Returns:
            The page envelope, or ``(generator, count)``.

        Example:
            >>> page = backend.list_assignments(params={"project": 1})
            >>> page["count"] > 0, {a["project"] for a in page["results"]}
            (True, {1})
        """
        return self._list(
            "sdk/assignments/",
            params,
            method="list_assignments",
            list_all=list_all,
            url_conversion=url_conversion,
            default_fields=["files"],
            **page_options,
        )

    def set_tags_assignments(
        self, data: Mapping[str, Any], params: Mapping[str, Any] | None = None
    ) -> Any:
        """Add (or remove) tags on many assignments (``POST assignments/set_tags/``).

        Args:
            data: ``{'assignment_ids': [...], 'tag_ids': [...]}`` (Synapse SDK) or
                ``{'ids', 'tags', 'action'}`` (the Synapse SDK's wire form, which is sent).
            params: ``{'replace': True}`` replaces the tag set.

        Returns:
            The server's result.

        Example:
            >>> before = backend.get_assignment(2)["tags"]
            >>> result = backend.set_tags_assignments({"assignment_ids": [2], "tag_ids": [1]})
            >>> result["updated"], 1 in backend.get_assignment(2)["tags"]
            (1, True)
            >>> restore = {"assignment_ids": [2], "tag_ids": before}
            >>> backend.set_tags_assignments(restore, params={"replace": True})["updated"]
            1
        """
        body = build_body(SetAssignmentTags, data, method="set_tags_assignments")
        query = check_params(params, method="set_tags_assignments")
        check_tag_replace(body, query, method="set_tags_assignments")
        return self._post("assignments/set_tags/", body, params=query)
