"""Request bodies of the annotation domain: task creation and bulk tagging.

Example:
    >>> TaskBulkCreate(project=3, data=[{"data_unit": 7}]).model_dump(exclude_none=True)
    {'project': 3, 'data': [{'data_unit': 7}]}
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, PositiveInt

from synapse_nb.models._base import OpenRequestModel, RequestModel
from synapse_nb.models.enums import TagAction, TaskPriority

__all__ = ["SetAssignmentTags", "SetTaskTags", "TaskBulkCreate", "TaskCreate", "TaskCreateItem"]


class TaskCreate(OpenRequestModel):
    """One task in the SDK's shape: ``{project, data_unit, priority?, assignee?, metadata?}``.

    Example:
        >>> TaskCreate(project=1, data_unit=2, priority="HIGH").priority
        <TaskPriority.HIGH: 'high'>
    """

    project: PositiveInt
    data_unit: PositiveInt
    priority: TaskPriority | None = None
    assignee: PositiveInt | None = None
    metadata: dict[str, Any] | None = None


class TaskCreateItem(OpenRequestModel):
    """One entry of ``data`` in the current Synapse SDK's bulk shape (no ``project`` of its own).

    Example:
        >>> TaskCreateItem(data_unit=5).data_unit
        5
    """

    data_unit: PositiveInt
    priority: TaskPriority | None = None
    assignee: PositiveInt | None = None
    metadata: dict[str, Any] | None = None


class TaskBulkCreate(RequestModel):
    """The newer Synapse SDK's shape of ``POST tasks/``: ``{project, data: [{data_unit, ...}]}``.

    Example:
        >>> len(TaskBulkCreate(project=1, data=[{"data_unit": 1}, {"data_unit": 2}]).data)
        2
    """

    project: PositiveInt
    data: list[TaskCreateItem] = Field(min_length=1)


class SetTaskTags(RequestModel):
    """Body of ``POST tasks/set_tags/``; the Synapse SDK's ``task_ids``/``tag_ids`` are accepted.

    Example:
        >>> SetTaskTags.model_validate({"task_ids": [1], "tag_ids": [2]}).model_dump(mode="json")
        {'ids': [1], 'tags': [2], 'action': 'add'}
    """

    ids: list[PositiveInt] = Field(min_length=1, validation_alias=AliasChoices("ids", "task_ids"))
    tags: list[PositiveInt] = Field(validation_alias=AliasChoices("tags", "tag_ids"))
    action: TagAction = TagAction.ADD


class SetAssignmentTags(RequestModel):
    """Body of ``POST assignments/set_tags/``; the SDK's ``assignment_ids``/``tag_ids`` work.

    Example:
        >>> SetAssignmentTags.model_validate({"assignment_ids": [4], "tag_ids": []}).ids
        [4]
    """

    ids: list[PositiveInt] = Field(
        min_length=1, validation_alias=AliasChoices("ids", "assignment_ids")
    )
    tags: list[PositiveInt] = Field(validation_alias=AliasChoices("tags", "tag_ids"))
    action: TagAction = TagAction.ADD
