"""The FastAPI application: ``create_app(settings)`` wires the store, the routers and the web page.

Every ``/api/v1`` route except ``/health`` requires an API key (when keys are configured); the
OpenAPI docs are at ``/docs``. Named errors become JSON: an unknown topic is 404, a store that
cannot answer (down, or a query past ``api_request_timeout_s``) is 503.
"""

from __future__ import annotations

import importlib.metadata
import logging

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from newsflow.api import routes_alerts, routes_outlets, routes_topics
from newsflow.api.deps import get_engine, require_api_key
from newsflow.errors import NewsflowError, StoreUnavailableError, TopicNotFoundError
from newsflow.query.semantic import CentroidIndex, LazyEncoder
from newsflow.settings import Settings
from newsflow.store.database import open_store
from newsflow.web import routes as web_routes

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"


def _version() -> str:
    try:
        return importlib.metadata.version("newsflow")
    except importlib.metadata.PackageNotFoundError:  # running from a bare checkout
        return "unknown"


health_router = APIRouter(tags=["health"])


@health_router.get("/health", summary="Liveness and store reachability (no key needed)")
def health(request: Request) -> dict[str, str]:
    store = "ok"
    try:
        with get_engine(request).connect() as conn:
            conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError) as exc:
        store = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
        log.warning("health check: store unavailable: %s", store)
    return {"status": "ok" if store == "ok" else "degraded", "store": store, "version": _version()}


def _install_error_handlers(app: FastAPI) -> None:
    async def not_found(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    async def store_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        # The driver's message may name hosts or statements: log it, answer with its class only.
        reason = type(getattr(exc, "orig", None) or exc).__name__
        log.warning("store error answering a request: %s", exc)
        return JSONResponse(status_code=503, content={"detail": f"store unavailable or query too slow ({reason})"})

    async def named_error(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(status_code=500, content={"detail": f"{type(exc).__name__}: {exc}"})

    app.add_exception_handler(TopicNotFoundError, not_found)
    app.add_exception_handler(StoreUnavailableError, store_unavailable)
    app.add_exception_handler(OperationalError, store_unavailable)
    app.add_exception_handler(NewsflowError, named_error)


def create_app(settings: Settings) -> FastAPI:
    """The API over the configured store (opened and migrated here: ``StoreUnavailableError`` if it is down)."""
    # FastAPIOffline: FastAPI whose /docs and /redoc load Swagger UI / ReDoc from the package, not a CDN.
    app = FastAPIOffline(
        redoc_url=None,  # ReDoc's bundle still fetches its footer logo from a CDN; /docs is complete
        title="newsflow API",
        version=_version(),
        description="Topics, search, provenance, growth alerts and silences over the newsflow store.",
    )
    app.state.settings = settings
    app.state.engine = open_store(settings, create=False)  # StoreNotFoundError: the API never creates a store
    app.state.centroid_index = CentroidIndex()
    app.state.query_encoder = LazyEncoder(settings)
    _install_error_handlers(app)
    keyed = [Depends(require_api_key)]
    app.include_router(health_router, prefix=API_PREFIX)
    app.include_router(routes_topics.router, prefix=API_PREFIX, dependencies=keyed)
    app.include_router(routes_alerts.router, prefix=API_PREFIX, dependencies=keyed)
    app.include_router(routes_outlets.router, prefix=API_PREFIX, dependencies=keyed)
    web_routes.install(app)
    return app
