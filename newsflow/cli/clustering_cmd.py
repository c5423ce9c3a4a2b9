"""CLI for clustering: ``newsflow worker``, ``newsflow recluster``, ``newsflow eval`` (topics: ``topics_cmd``).

Settings are built here (entry point) and passed down; heavy imports (torch, hdbscan, SQLAlchemy)
happen inside the commands so ``newsflow --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from newsflow.cli.options import parse_time

console = Console()


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
    app.command("recluster")(recluster)
    app.command("eval")(evaluate)
    app.command("train")(train)


def worker(
    until_idle: bool = typer.Option(False, "--until-idle", help="Stop once no message arrived for --idle-timeout s."),
    idle_timeout: float = typer.Option(10.0, "--idle-timeout", help="Seconds without messages before stopping."),
) -> None:
    """Consume articles from Kafka, embed and assign them to topics, store them (Ctrl-C/SIGTERM stops cleanly)."""
    from clustering.worker import run_worker
    from newsflow.settings import load_settings

    report = run_worker(load_settings(), until_idle=until_idle, idle_timeout_s=idle_timeout)
    console.print_json(json.dumps(report.as_dict()))


def recluster(
    now: str | None = typer.Option(None, "--now", help="As of: ISO-8601 with a zone, or 2h, 1d, yesterday."),
    since: str | None = typer.Option(
        None, "--since", help="Catch up: also re-cluster at every --every before --now back to this time."
    ),
    every_hours: float = typer.Option(24.0, "--every", min=0.25, help="Hours between catch-up runs (with --since)."),
) -> None:
    """Re-cluster the recent window with HDBSCAN, reconcile topic ids, record and publish lineage events.

    With ``--since``, first re-cluster as the recluster_topics DAG would have since then (after a bulk
    import of past articles or an outage of the schedule), oldest first; the last run is at ``--now``."""
    from datetime import UTC, datetime, timedelta

    from clustering.jobs import catch_up, recluster_now
    from newsflow.errors import InvalidTimeError
    from newsflow.settings import load_settings

    settings = load_settings()
    at = parse_time(now, what="--now") if now else None
    if since is None:
        report = recluster_now(settings, now=at)
    else:
        until = at or datetime.now(UTC)
        start = parse_time(since, what="--since", now=until)
        if start > until:
            raise InvalidTimeError(f"--since {since} is after --now ({until.isoformat(timespec='minutes')})")
        report = catch_up(settings, start, until, every=timedelta(hours=every_hours))[-1]
    console.print_json(json.dumps(report.as_dict(), default=str))


def evaluate(
    input_path: Path | None = typer.Argument(
        None, help="JSONL: id, title, text, published, story?, source?, language?"
    ),
    out: Path | None = typer.Option(None, "--out", help="Write id<TAB>topic_id for every article here."),
    make_input: Path | None = typer.Option(
        None, "--make-input", help="Instead: write evaluation JSONL files from a stories folder into this directory."
    ),
    stories: Path = typer.Option(Path("../shared/data/stories"), "--stories", help="Folder with the labelled sets."),
) -> None:
    """Stream labelled articles through the clustering on a simulated clock; print B-cubed and pairwise scores."""
    from newsflow.settings import load_settings

    if make_input is not None:
        from clustering.evaluation.eval_data import write_eval_inputs

        for path, count in write_eval_inputs(stories, make_input, seed=load_settings().random_seed).items():
            console.print(f"wrote {count} articles to {path}")
        return
    if input_path is None or out is None:
        raise typer.BadParameter("give INPUT.jsonl and --out PRED.tsv (or --make-input DIR)")
    from clustering.evaluation.evaluate import run_evaluation

    result = run_evaluation(load_settings(), input_path, out)
    console.print(f"wrote {result.articles} predictions to {out} ({result.clusters} clusters, {result.seconds:.1f} s)")
    if result.scores:
        for key, value in result.scores.items():
            console.print(f"{key:>20}: {value:.4f}" if isinstance(value, float) else f"{key:>20}: {value}")


def train(
    inputs: list[Path] = typer.Argument(..., help="Labelled JSONL streams (newsflow eval format)."),
    out: Path = typer.Option(..., "--out", help="Write the same-story model (JSON) here."),
    holdout: str | None = typer.Option(
        None, "--holdout", help="K/N: leave out the stories of fold K of N (cross-validation by story)."
    ),
    kind: str = typer.Option("lr", "--kind", help="lr: a logistic regression; trees: boosted trees."),
    members: int = typer.Option(
        7, "--members", min=1, help="Ship the mean of this many models, each without one fold of the stories (1: one)."
    ),
) -> None:
    """Train the same-story model from labelled streams (grouped cross-validation report included)."""
    from clustering.embedding.embed import CachedEmbedder, Embedder
    from clustering.story_model.cross_fitted import train_ensemble
    from clustering.story_model.same_story_train import KINDS, story_fold, train_from_files
    from newsflow.settings import load_settings
    from newsflow.store.database import open_store
    from newsflow.store.embeddings_repo import SqlVectorCache

    if kind not in KINDS:
        raise typer.BadParameter(f"--kind takes one of {', '.join(KINDS)}")
    keep = None
    if holdout:
        try:
            k, n = (int(v) for v in holdout.split("/"))
        except ValueError:
            raise typer.BadParameter("--holdout takes K/N, e.g. 0/2") from None
        keep = lambda story: story_fold(story, n) != k  # noqa: E731
    settings = load_settings()
    embedder = CachedEmbedder(Embedder(settings), SqlVectorCache(open_store(settings)))
    if members > 1:
        model, cv = train_ensemble(settings, inputs, embedder, members, keep, kind)
        what = f"{members} members of {min(model.meta['member_pairs'])}-{max(model.meta['member_pairs'])} pairs"
    else:
        model, cv = train_from_files(settings, inputs, embedder, keep, kind)
        what = f"{model.meta['pairs']} pairs"
    model.save(out)
    console.print(f"wrote {out}: {what}, held-out log loss {cv.log_loss:.4f}, AUC {cv.auc:.4f}")
    for row in cv.reliability:
        console.print(f"  P {row['low']:.1f}-{row['high']:.1f}: predicted {row['predicted']:.3f}, "
                      f"observed {row['observed']:.3f} ({row['pairs']} pairs)")
