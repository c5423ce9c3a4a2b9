"""``newsflow api``: the REST API and web page (uvicorn over ``create_app(load_settings())``)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("api")(api)


def api(
    host: str | None = typer.Option(None, "--host", help="Address to listen on (default: NEWSFLOW_API_HOST)."),
    port: int | None = typer.Option(None, "--port", min=1, max=65535, help="Port (default: NEWSFLOW_API_PORT)."),
) -> None:
    """Serve the REST API (/api/v1, docs at /docs) and the analysts' web page."""
    import uvicorn

    from newsflow.api.app import create_app
    from newsflow.settings import load_settings

    settings = load_settings()
    app = create_app(settings)  # StoreUnavailableError here, before listening, if the store is down
    if not settings.api_keys:
        typer.echo("warning: NEWSFLOW_API_KEYS is empty, the API accepts requests without a key", err=True)
    host, port = host or settings.api_host, port or settings.api_port
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())
