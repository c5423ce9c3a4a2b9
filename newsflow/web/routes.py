"""Placeholder: the web page's routes; filled in by the web page work (issue 5)."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Adds the HTML pages and static files to ``app`` (nothing yet)."""
