"""``/api/v1/outlets``: the outlet leaderboard (who reports stories first, and how far behind the others are).

Thin HTTP layer as ``routes_topics``: parameters validated here, the read in ``newsflow.query.provenance``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Connection

from newsflow.api.deps import as_utc, invalid_query_param, read_connection
from newsflow.query.provenance import outlet_leaderboard

router = APIRouter(tags=["outlets"])

Conn = Annotated[Connection, Depends(read_connection)]


@router.get("/outlets", summary="Outlet leaderboard: stories first-reported, covered, median lag")
def get_outlets(
    conn: Conn,
    since: datetime | None = Query(None, description="Topics with an article at or after this time."),
    until: datetime | None = Query(None, description="Topics with an article at or before this time."),
) -> dict[str, Any]:
    start, end = as_utc(since), as_utc(until)
    if start is not None and end is not None and start > end:
        raise invalid_query_param("until", "Input should be at or after since", end.isoformat())
    return outlet_leaderboard(conn, start, end)
