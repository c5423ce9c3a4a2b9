"""Story quality of the same-story model, cross-fitted by story (issue 15).

For each fold k of N, the model is trained (``train_from_files``) on the training streams without
the stories of fold k, and ``newsflow eval``'s replay runs on the **whole** scored stream with that
model; fold k's articles are scored in that run (their clusters counted whole, with every article
of the stream in them), and the folds' articles are pooled. So no scored article's story is in the
model that clusters it, and every article is clustered among all the stream's confusers.

(Until stop 26 each fold's stories were replayed on their own: half the stream, so half the
same-subject stories nearby. That flattered every figure — the German set read 0.930 B-cubed F1
where the whole stream gives 0.765 even with the model trained on its answers.)

``--grid`` tries settings on the same folds; ``--leave-out SET`` trains without a whole training
stream instead (e.g. the German set: a model that never saw German answers). ``--select`` also picks
the setting the way a deployment would, without the scored answers: for each fold k, the grid point
with the best mean B-cubed F1 over the sets on the *other* folds' articles; fold k's articles at
that point are pooled into the "selected" row (nested selection, cross-fitted over folds).
``--members M`` trains each fold's model as ``newsflow train --members M`` ships it (the mean of M
models, each without one more fold of the training stories). ``--jobs`` replays that many
(setting, set, fold) runs at once, one process each.

    newsflow eval --make-input /tmp/evalin
    python benchmarks/same_story_cv.py /tmp/evalin --sets sparse_mix2 de_feb2025 wikinews_big uci \\
        --grid story_merge_threshold=0.38,0.6 --select --jobs 2 --per-story de_feb2025

Prints B-cubed precision / recall / F1 per set and setting (and per story with ``--per-story``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import multiprocessing
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from clustering.embedding.embed import CachedEmbedder, Embedder
from clustering.evaluation.eval_data import read_jsonl
from clustering.evaluation.evaluate import parse_article, simulate
from clustering.evaluation.metrics import bcubed_by_article, bcubed_mean, per_story
from clustering.story_model.cross_fitted import train_ensemble
from clustering.story_model.same_story_train import KINDS, story_fold, train_from_files
from newsflow.settings import Settings, load_settings
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache

TRAIN = ("uci", "wikinews_big", "wikinews_medium", "wikinews_big_dated", "wikinews_medium_dated", "sparse_mix",
         "de_feb2025")  # fmt: skip
Values = dict[str, tuple[float, float]]  # article → B-cubed (precision, recall) in one run


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # e.g. same_story_recluster=all


def _grid(items: list[str]) -> list[dict[str, float | str]]:
    axes = [(k, [_value(v) for v in vs.split(",")]) for k, vs in (item.split("=", 1) for item in items)]
    return [dict(zip([k for k, _ in axes], combo, strict=True)) for combo in itertools.product(*[v for _, v in axes])]


def _embedder(settings: Settings) -> CachedEmbedder:
    return CachedEmbedder(Embedder(settings), SqlVectorCache(open_store(settings)))


def _replay(stream: Path, overrides: dict[str, float | str], model_ref: str) -> Values:
    """One run: the whole stream with one fold's model; every article's B-cubed values in it."""
    logging.basicConfig(level=logging.WARNING)
    base = load_settings()
    parsed = [parse_article(line, n) for n, line in enumerate(read_jsonl(stream), 1)]
    gold = {d.id: str(s) for d, s in parsed}
    settings = Settings(**{**base.model_dump(), **overrides, "same_story_model": model_ref})
    sim = simulate(settings, [d for d, _ in parsed], _embedder(base))
    return bcubed_by_article(gold, sim.final_topics())


def _pooled(gold: dict[str, str], runs: dict[int, Values], folds: int) -> Values:
    """Each article's values from the run of its own fold's model."""
    if len(runs) == 1:
        return next(iter(runs.values()))
    return {a: runs[story_fold(story, folds)][a] for a, story in gold.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("evalin", type=Path)
    ap.add_argument("--sets", nargs="+", default=["sparse_mix2", "de_feb2025"])
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--grid", nargs="*", default=[])
    ap.add_argument("--leave-out", default=None, help="train without this whole stream instead of by folds")
    ap.add_argument("--train", nargs="+", default=list(TRAIN))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--legacy", action="store_true", help="score the similarity cuts (model off) on the same folds")
    ap.add_argument("--work", type=Path, default=None, help="keep the fold models here (and reuse them)")
    ap.add_argument("--select", action="store_true", help="nested choice of the grid point per fold (see above)")
    ap.add_argument("--per-story", nargs="*", default=[], metavar="SET", help="also print these sets' stories' P and R")
    ap.add_argument("--jobs", type=int, default=1, help="replays run at once (one process each)")
    ap.add_argument("--kind", default="lr", choices=KINDS, help="the fold models' kind (newsflow train --kind)")
    ap.add_argument("--members", type=int, default=1,
                    help="each fold's model: the mean of this many (`newsflow train --members`; 1: one)")  # fmt: skip
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = load_settings()
    work = args.work or Path(tempfile.mkdtemp(prefix="same-story-cv-"))
    work.mkdir(parents=True, exist_ok=True)
    train_paths = [args.evalin / f"{name}.jsonl" for name in args.train if name != args.leave_out]
    folds = [0] if args.leave_out else list(range(args.folds))
    models: dict[int, Path] = {}
    for k in folds:
        models[k] = work / f"model-{k}.json"
        if models[k].exists() or args.legacy:
            continue
        keep = None if args.leave_out else (lambda story, k=k: story_fold(story, args.folds) != k)
        if args.members > 1:
            model, cv = train_ensemble(base, train_paths, _embedder(base), args.members, keep, kind=args.kind)
        else:
            model, cv = train_from_files(base, train_paths, _embedder(base), keep, kind=args.kind)
        model.save(models[k])
        print(f"fold {k}: held-out log loss {cv.log_loss:.4f}, AUC {cv.auc:.4f}", flush=True)
    grid = _grid(args.grid) or [{}]
    golds = {name: {d.id: str(s) for d, s in (parse_article(line, n) for n, line in
                                                 enumerate(read_jsonl(args.evalin / f"{name}.jsonl"), 1))}
             for name in args.sets}  # fmt: skip
    tasks = [(g, name, k) for g in range(len(grid)) for name in args.sets for k in folds]
    context = multiprocessing.get_context("spawn")  # (no forked SQLite connections or BLAS pools)
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=context) as pool:
        futures = {
            (g, name, k): pool.submit(
                _replay, args.evalin / f"{name}.jsonl", grid[g], "off" if args.legacy else str(models[k])
            )
            for g, name, k in tasks
        }
        runs: dict[tuple[int, str, int], Values] = {t: f.result() for t, f in futures.items()}
    results: list[dict[str, object]] = []
    for g, overrides in enumerate(grid):
        for name in args.sets:
            values = _pooled(golds[name], {k: runs[g, name, k] for k in folds}, args.folds)
            _report(name, json.dumps(overrides), golds[name], values, name in args.per_story)
            results.append({"set": name, **overrides, **bcubed_mean(values)})
    if args.select and len(folds) > 1:
        results += _selected(grid, args.sets, folds, golds, runs, args.per_story)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def _report(name: str, label: str, gold: dict[str, str], values: Values, stories: bool) -> None:
    s = bcubed_mean(values)
    print(f"{name:>22} {label}: B3 P {s['bcubed_p']:.3f} R {s['bcubed_r']:.3f} F1 {s['bcubed_f1']:.3f} | "
          f"{len(set(gold.values()))} stories, {len(gold)} articles", flush=True)  # fmt: skip
    if stories:
        for story, (size, p, r) in per_story(gold, values).items():
            print(f"{'':>24}{story[:48]:<48} {size:4d} articles  P {p:.3f}  R {r:.3f}", flush=True)


def _selected(grid: list[dict[str, float | str]], sets: list[str], folds: list[int], golds: dict[str, dict[str, str]],
              runs: dict[tuple[int, str, int], Values], stories: list[str]) -> list[dict[str, object]]:  # fmt: skip
    """Each fold's articles at the grid point chosen on the other folds (mean B-cubed F1 over sets)."""

    def fold_f1(g: int, name: str, k: int) -> float:
        ids = [a for a, story in golds[name].items() if story_fold(story, len(folds)) == k]
        return bcubed_mean(runs[g, name, k], ids)["bcubed_f1"]

    chosen = {}
    for k in folds:
        others = [j for j in folds if j != k]
        chosen[k] = max(range(len(grid)), key=lambda g: sum(fold_f1(g, n, j) for n in sets for j in others))
        print(f"fold {k}: chosen on folds {others}: {json.dumps(grid[chosen[k]])}", flush=True)
    rows: list[dict[str, object]] = []
    for name in sets:
        values = _pooled(golds[name], {k: runs[chosen[k], name, k] for k in folds}, len(folds))
        _report(name, "selected", golds[name], values, name in stories)
        rows.append({"set": name, "selected": {k: grid[g] for k, g in chosen.items()}, **bcubed_mean(values)})
    return rows


if __name__ == "__main__":
    main()
