"""The web page's routes on a bare FastAPI app (no browser): HTML shells, static files, headers, no markup sinks."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from newsflow.web import routes


def client() -> TestClient:
    app = FastAPI()
    routes.install(app)
    return TestClient(app)


def test_pages_are_html_shells_with_their_settings_and_a_strict_content_security_policy() -> None:
    web = client()
    overview = web.get("/")
    assert overview.status_code == 200
    assert overview.headers["content-type"].startswith("text/html")
    assert f'data-default-refresh="{routes.DEFAULT_REFRESH_S}"' in overview.text
    assert 'data-api-base="/api/v1"' in overview.text
    assert "script-src 'self'" in overview.headers["content-security-policy"]
    assert "{{" not in overview.text  # every placeholder was filled

    topic = web.get("/topics/42")
    assert topic.status_code == 200
    assert 'data-topic-id="42"' in topic.text
    assert '<script src="/static/topic.js"' in topic.text


def test_topic_page_refuses_ids_that_are_not_positive_integers() -> None:
    web = client()
    assert web.get("/topics/0").status_code == 422
    assert web.get("/topics/abc").status_code == 422


def test_static_files_are_served_and_every_page_asset_exists() -> None:
    web = client()
    for name in ("overview.html", "topic.html"):
        for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', routes.render(name, {})):
            response = web.get(asset)
            assert response.status_code == 200, asset
    script_type = web.get("/static/common.js").headers["content-type"]
    assert script_type.startswith(("text/javascript", "application/javascript"))
    assert web.get("/static/nothing.js").status_code == 404


def test_render_escapes_values_including_quotes() -> None:
    page = routes.render("topic.html", {"topic_id": '1" onload="x()', "api_base": "/api/v1"})
    assert 'data-topic-id="1&quot; onload=&quot;x()"' in page


def test_scripts_never_write_markup_strings_into_the_page() -> None:
    """API text must reach the DOM as text: none of the HTML-parsing sinks may appear in the scripts."""
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function")
    for script in sorted(routes.STATIC_DIR.glob("*.js")):
        assert not sinks.search(script.read_text(encoding="utf-8")), script.name
