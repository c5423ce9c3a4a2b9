"""Placeholder router for alerts and silences; filled in by the alerts work (issue 5)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
