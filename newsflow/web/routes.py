"""The analysts' web page: two HTML shells (overview, topic) and their static files.

The pages hold no data: their JavaScript fetches it from the JSON API (``/api/v1``) with the key the
analyst stored in the browser, so the HTML itself needs no API key and cannot leak one. The few
values the script needs (refresh interval, growth threshold, topic id) travel as ``data-``
attributes on ``<body>``, escaped here; everything from the API is inserted as text by the script.
"""

from __future__ import annotations

import html
import logging
from functools import cache
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"
API_BASE = "/api/v1"
DEFAULT_REFRESH_S = 60
DEFAULT_Z_THRESHOLD = 3.0

# The scripts are same-origin files: forbidding inline script means an API string that somehow
# reached the DOM as markup still could not run (defence in depth behind text-only rendering).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@cache
def _template(name: str) -> str:
    return (TEMPLATES_DIR / name).read_text(encoding="utf-8")


def render(name: str, values: dict[str, str]) -> str:
    """The template with each ``{{ key }}`` replaced by its value, HTML-escaped (quotes included)."""
    page = _template(name)
    for key, value in values.items():
        page = page.replace("{{ " + key + " }}", html.escape(value, quote=True))
    return page


def _z_threshold(request: Request) -> float:
    """The alert threshold the overview's "growing" badge uses; the bare default without settings."""
    settings = getattr(request.app.state, "settings", None)
    return float(getattr(settings, "alert_z_threshold", DEFAULT_Z_THRESHOLD))


def _page(name: str, request: Request, values: dict[str, str]) -> HTMLResponse:
    common = {
        "api_base": API_BASE,
        "default_refresh": str(DEFAULT_REFRESH_S),
        "z_threshold": f"{_z_threshold(request):g}",
    }
    return HTMLResponse(render(name, common | values), headers=SECURITY_HEADERS)


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request) -> HTMLResponse:
    """Topics by growth with a sparkline each; refreshes itself (``?refresh=SECONDS``)."""
    return _page("overview.html", request, {})


@router.get("/topics/{topic_id}", response_class=HTMLResponse)
def topic_page(request: Request, topic_id: int = PathParam(ge=1)) -> HTMLResponse:
    """One topic: growth chart, articles by outlet, keywords, lineage."""
    return _page("topic.html", request, {"topic_id": str(topic_id)})


def install(app: FastAPI) -> None:
    """Adds ``GET /``, ``GET /topics/{topic_id}`` and the static files under ``/static`` to ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    log.debug("web page installed (static files from %s)", STATIC_DIR)
