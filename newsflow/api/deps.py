"""Dependencies shared by every API router: settings, engine, API-key check and pagination.

``create_app`` puts the Settings and the store Engine on ``app.state``; routes reach them only
through these functions so tests can build an app over any store.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Query, Request, status
from sqlalchemy import Connection, Engine, text

from newsflow.settings import Settings

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-API-Key"


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _presented_key(request: Request) -> str | None:
    """The key from ``X-API-Key`` or ``Authorization: Bearer <key>``, or None when neither is sent."""
    header_key = request.headers.get(API_KEY_HEADER)
    if header_key:
        return header_key.strip()
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


def key_is_valid(presented: str, settings: Settings) -> bool:
    """Constant-time comparison against every configured key (no early exit that leaks which one)."""
    presented_bytes = presented.encode("utf-8")
    matched = False
    for secret in settings.api_keys:
        expected = secret.get_secret_value().encode("utf-8")
        matched |= hmac.compare_digest(presented_bytes, expected)
    return matched


def require_api_key(request: Request) -> None:
    """401 without a key, 403 with an unknown one; no check when ``settings.api_keys`` is empty."""
    settings = get_settings(request)
    if not settings.api_keys:
        return
    presented = _presented_key(request)
    if presented is None:
        raise HTTPException(status_code=status.HTTP_401_UNAUTHORIZED, detail="missing API key")
    if not key_is_valid(presented, settings):
        # The key itself is never logged; the client address is enough to investigate.
        log.warning("refused request with an invalid API key from %s", request.client.host if request.client else "?")
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="invalid API key")


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def PageParams(  # named like a class: used as ``Depends(PageParams)``
    request: Request,
    limit: int | None = Query(default=None, ge=1, description="Items per page (default and max from settings)."),
    offset: int = Query(default=0, ge=0, description="Items to skip."),
) -> Page:
    """``limit`` 1..settings.api_max_page_size (default settings.api_default_page_size), ``offset`` >= 0."""
    settings = get_settings(request)
    if limit is None:
        limit = settings.api_default_page_size
    if limit > settings.api_max_page_size:
        raise invalid_query_param("limit", f"Input should be less than or equal to {settings.api_max_page_size}", limit)
    return Page(limit=limit, offset=offset)


def invalid_query_param(name: str, message: str, value: object) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, for limits that come from settings."""
    detail = [{"type": "value_error", "loc": ["query", name], "msg": message, "input": value}]
    return HTTPException(status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def read_connection(request: Request) -> Iterator[Connection]:
    """A connection in a read transaction; on PostgreSQL bounded by ``settings.api_request_timeout_s``."""
    engine = get_engine(request)
    timeout_ms = int(get_settings(request).api_request_timeout_s * 1000)
    with engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            # SET LOCAL takes no bind parameters; set_config(..., true) is the parameterised equivalent.
            conn.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(timeout_ms)})
        yield conn


def page_body(items: list[Any], total: int, page: Page) -> dict[str, Any]:
    """The envelope of every paginated list."""
    return {"items": items, "total": total, "limit": page.limit, "offset": page.offset}


def as_utc(value: datetime | None) -> datetime | None:
    """Aware UTC; a time given without a zone is taken as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
