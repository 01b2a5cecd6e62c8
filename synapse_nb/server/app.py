"""The app factory: FastAPI routes + DRF-style error handling + fault middleware."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from .config import ServerConfig
from .executors import LocalExecutor
from .faults import FaultInjector, FaultMiddleware
from .http import ApiError, error_response, redact_path
from .openapi import document
from .routes import agent, annotation, data, integration, internal, ml
from .state import State

log = logging.getLogger("synapse_nb.server")


def _validation_body(exc: RequestValidationError) -> dict:
    """FastAPI's 422 detail -> a DRF 400 body ``{field: [messages]}``."""
    errors: dict[str, list[str]] = {}
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path")]
        errors.setdefault(".".join(loc) or "non_field_errors", []).append(err.get("msg", ""))
    return errors


def make_executor(state: State, config: ServerConfig) -> Any:
    """The local executor, or the Ray executor when the config names a Ray cluster."""
    if config.ray_address:
        from .executors.ray import RayExecutor  # ray is an optional extra

        return RayExecutor(
            state,
            config.ray_address,
            token=config.ray_token,
            timeout=config.job_timeout,
            grace=config.job_grace,
        )
    return LocalExecutor(
        state, max_workers=config.max_jobs, timeout=config.job_timeout, grace=config.job_grace
    )


def create_app(config: ServerConfig) -> Any:
    """Build the ASGI app (FastAPI wrapped in the fault/journal middleware).

    Example:
        >>> app = create_app(ServerConfig(data_dir=tmp / "data"))
        >>> type(app).__name__, (tmp / "data" / "synapse.sqlite3").is_file()
        ('FaultMiddleware', True)
        >>> [r.path for r in app.app.routes if getattr(r, "path", "").startswith("/health")]
        ['/health/']
        >>> app.app.state.synapse.jobs.close(); app.app.state.synapse.db.close()
    """
    state = State(config)
    try:
        state.jobs = make_executor(state, config)
    except BaseException:
        state.db.close()  # e.g. the Ray cluster is unreachable: nothing may stay open
        raise
    api = FastAPI(
        title="Synapse (embedded)",
        version="1",
        description="Local stand-in for the Synapse backend (synapse_nb).",
        redirect_slashes=False,
        root_path="",
        openapi_url=config.prefix + "/openapi.json",
        docs_url=config.prefix + "/docs",
        redoc_url=None,
    )
    api.state.synapse = state
    for module in (annotation, data, integration, ml):
        api.include_router(module.router, prefix=config.prefix)
    api.include_router(agent.router, prefix=config.prefix + "/agent")
    api.include_router(internal.router, prefix=config.prefix)  # job launchers only

    @api.get(config.prefix + "/health/", include_in_schema=False)
    def health() -> dict:
        return {"status": "ok"}

    @api.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @api.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_validation_body(exc), status_code=400)

    @api.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = {404: "Not found.", 405: "Method not allowed."}.get(exc.status_code, exc.detail)
        return JSONResponse(
            {"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @api.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, redact_path(request.url.path))
        return JSONResponse({"detail": "Internal server error."}, status_code=500)

    generate_schema = api.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI caches the schema it generates; the routes' hand-read queries and bodies
        # are added once, on top of it (see openapi.py)
        return api.openapi_schema or document(generate_schema())

    api.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override

    injector = FaultInjector(config.faults)
    journal = state.journal if config.journal_size else None
    app = FaultMiddleware(api, injector, journal, config.prefix)
    return app
