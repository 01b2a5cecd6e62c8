"""The label configuration the annotation checks compare with: classes and their attributes.

Example:
    >>> cfg = LabelConfig.from_configuration({"classes": [
    ...     "road", {"name": "car", "attributes": [{"name": "occluded", "required": True},
    ...                                           "color"]}]})
    >>> cfg.classes["car"], cfg.required("car"), cfg.required("road")
    ({'occluded': True, 'color': False}, ('occluded',), ())
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from synapse_nb.health._errors import HealthInputError

__all__ = ["LabelConfig"]

_NAME_KEYS = ("name", "class_name", "code", "classification")


def _name(item: Any, where: str) -> str:
    if isinstance(item, str) and item:
        return item
    if isinstance(item, Mapping):
        for key in _NAME_KEYS:
            if isinstance(item.get(key), str) and item[key]:
                return str(item[key])
    raise HealthInputError(where, item, f"needs a non-empty name (one of {', '.join(_NAME_KEYS)})")


@dataclass(frozen=True)
class LabelConfig:
    """Classes of a project and, per class, its attributes and whether each is required.

    Attributes:
        classes: ``{class name: {attribute name: required}}``.
    """

    classes: Mapping[str, Mapping[str, bool]] = field(default_factory=dict)

    @classmethod
    def from_configuration(cls, configuration: Mapping[str, Any]) -> LabelConfig:
        """Read a project configuration's ``classes`` list.

        Each class is a name, or a mapping with a name (``name``, ``class_name``, ``code`` or
        ``classification``) and an optional ``attributes`` list, whose items are names or
        mappings with a name and ``required`` (default False). Attributes listed at the top
        level of the configuration apply to every class.

        Raises:
            HealthInputError: ``classes`` is missing or an entry has no name.

        Example:
            >>> LabelConfig.from_configuration({"classes": ["a", "b"]}).classes
            {'a': {}, 'b': {}}
        """
        if not isinstance(configuration, Mapping) or not isinstance(
                configuration.get("classes"), list | tuple):
            raise HealthInputError("configuration", configuration, "needs a 'classes' list")
        shared = _attributes(configuration.get("attributes") or [], "attributes")
        classes: dict[str, dict[str, bool]] = {}
        for position, item in enumerate(configuration["classes"]):
            name = _name(item, f"classes[{position}]")
            own = item.get("attributes") or [] if isinstance(item, Mapping) else []
            classes[name] = {**shared, **_attributes(own, f"classes[{position}].attributes")}
        return cls(classes)

    def required(self, class_name: str) -> tuple[str, ...]:
        """Names of the required attributes of a class (empty for unknown classes)."""
        return tuple(a for a, req in self.classes.get(class_name, {}).items() if req)


def _attributes(items: Any, where: str) -> dict[str, bool]:
    if not isinstance(items, list | tuple):
        raise HealthInputError(where, items, "must be a list")
    out: dict[str, bool] = {}
    for position, item in enumerate(items):
        required = bool(item.get("required", False)) if isinstance(item, Mapping) else False
        out[_name(item, f"{where}[{position}]")] = required
    return out
