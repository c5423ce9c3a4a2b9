"""Alerts and silences over REST (mounted under ``/api/v1`` by ``create_app``).

``GET /alerts``, ``GET /silences``, ``POST /silences`` (201), ``DELETE /silences/{id}`` (204, expires
it). Every route needs the API key when keys are configured; lists are paginated, newest first,
ties broken by id. Bad input is a 422 naming the field; an unknown silence id a 404.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine

from newsflow.alerts.silences import SilenceRequest, new_silence
from newsflow.api.deps import Page, PageParams, get_engine, page_body, require_api_key
from newsflow.errors import SilenceError, SilenceNotFoundError
from newsflow.store import alerts_repo

router = APIRouter(tags=["alerts"], dependencies=[Depends(require_api_key)])
EngineDep = Annotated[Engine, Depends(get_engine)]
PageDep = Annotated[Page, Depends(PageParams)]


class Matchers(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic_id: int | None = None
    rule: str | None = Field(default=None, min_length=1, max_length=100)
    label_contains: str | None = Field(default=None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _at_least_one(self) -> Matchers:
        if self.topic_id is None and self.rule is None and self.label_contains is None:
            raise ValueError("at least one matcher is needed: topic_id, rule or label_contains")
        return self


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: Matchers
    duration_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 366)
    ends_at: datetime | None = None
    comment: str = Field(min_length=1, max_length=2000)
    created_by: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_end(self) -> SilenceIn:
        if (self.duration_minutes is None) == (self.ends_at is None):
            raise ValueError("give exactly one of duration_minutes or ends_at")
        if self.ends_at is not None and self.ends_at.tzinfo is None:
            raise ValueError("ends_at needs a timezone, e.g. 2025-02-13T12:00:00Z")
        return self


@router.get("/alerts", summary="Stored alerts, newest first")
def list_alerts(
    engine: EngineDep,
    page: PageDep,
    alert_status: Literal["firing", "resolved", "all"] = Query("all", alias="status"),
    topic_id: int | None = Query(None, ge=1),
) -> dict[str, Any]:
    with engine.connect() as conn:
        found, total = alerts_repo.list_alerts(conn, alert_status, topic_id, page.limit, page.offset)
    return page_body([alerts_repo.alert_as_dict(a) for a in found], total, page)


@router.get("/silences", summary="Silences (by default only those not ended or expired)")
def list_silences(engine: EngineDep, page: PageDep, active: bool = Query(True)) -> dict[str, Any]:
    with engine.connect() as conn:
        found, total = alerts_repo.list_silences(conn, datetime.now(UTC), active, page.limit, page.offset)
    return page_body([alerts_repo.silence_as_dict(s) for s in found], total, page)


@router.post("/silences", status_code=status.HTTP_201_CREATED, summary="Create a silence")
def create_silence(body: SilenceIn, engine: EngineDep) -> dict[str, Any]:
    request = SilenceRequest(
        matchers=body.matchers.model_dump(exclude_none=True),
        comment=body.comment,
        created_by=body.created_by,
        duration=timedelta(minutes=body.duration_minutes) if body.duration_minutes is not None else None,
        ends_at=body.ends_at,
    )
    try:
        silence = new_silence(request, datetime.now(UTC))
    except SilenceError as exc:
        field = "ends_at" if "end" in str(exc) else "body"
        raise HTTPException(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"type": "value_error", "loc": ["body", field], "msg": str(exc)}],
        ) from exc
    with engine.begin() as conn:
        alerts_repo.insert_silence(conn, silence)
    return alerts_repo.silence_as_dict(silence)


@router.delete("/silences/{silence_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Expire a silence now")
def expire_silence(silence_id: str, engine: EngineDep) -> Response:
    try:
        with engine.begin() as conn:
            alerts_repo.expire_silence(conn, silence_id, datetime.now(UTC))
    except SilenceNotFoundError as exc:
        raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)
