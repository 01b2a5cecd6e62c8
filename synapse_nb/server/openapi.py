"""The query parameters and request bodies in the OpenAPI schema, from the routes' declarations.

The routes read their queries and bodies by hand (:class:`~.http.Query`, :class:`~.http.Body`),
which is how they give Django REST framework's 400 bodies instead of FastAPI's 422s, so
FastAPI cannot see either. Each route declares them where it is registered
(``route(..., query=FilterSet(...), body=Model)``, see :mod:`.filters` and :mod:`.schemas`);
:func:`operation_extra` turns a declaration into the operation's part of the schema and
:func:`document` gathers the request models it names into the schema's components. ``/docs``
then documents the embedded backend, and the schema-driven fuzz test generates queries and
bodies as well as paths.

Example:
    >>> from .filters import FilterSet, words
    >>> extra = operation_extra(FilterSet(words("status", "status")), None)
    >>> [p["name"] for p in extra["parameters"]][:2]
    ['page', 'page_size']
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

#: where an operation carries the request models it refers to until :func:`document` runs
MODELS_KEY = "x-request-models"


def operation_extra(query: Any, body: Any) -> dict[str, Any]:
    """The ``openapi_extra`` of a route: its query parameters and its JSON body.

    ``query`` has ``parameters()`` (a :class:`~.filters.FilterSet`); ``body`` is a pydantic
    request model or a plain JSON schema.
    """
    extra: dict[str, Any] = {}
    if query is not None:
        extra["parameters"] = [p.openapi() for p in query.parameters()]
    if body is not None:
        if isinstance(body, type) and issubclass(body, BaseModel):
            schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
            models = {**schema.pop("$defs", {}), body.__name__: schema}
            extra[MODELS_KEY] = models
            schema = {"$ref": f"#/components/schemas/{body.__name__}"}
        else:
            schema = dict(body)
        extra["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    return extra


def document(spec: dict[str, Any]) -> dict[str, Any]:
    """Move the request models the operations name into ``components/schemas``, in place."""
    components = spec.setdefault("components", {}).setdefault("schemas", {})
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                components.update(operation.pop(MODELS_KEY, {}))
    return spec
