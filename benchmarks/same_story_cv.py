"""Story quality of the same-story model, cross-validated by story (issue 15).

For each fold k of N, the model is trained (``train_from_files``) on the training streams without
the stories of fold k, and ``newsflow eval``'s replay runs on each scored set cut to fold k's
stories; the folds' predictions are pooled (cluster ids kept apart) and scored against the whole
set. No scored article's story is ever in the model that clusters it. ``--grid`` tries settings
(probability cuts) on the same folds; ``--leave-out SET`` trains without a whole training stream
instead (e.g. the German set: a model that never saw German answers).

``--select`` also picks the setting the way a deployment would, without the scored answers: for
each fold k, the grid point with the best mean B-cubed F1 over the sets on the *other* folds'
held-out stories; fold k's predictions at that point are pooled into the "selected" row. So no
story's answer chooses the setting that clusters it (nested selection, cross-fitted over folds).

    newsflow eval --make-input /tmp/evalin
    cp ../shared/data/stories/de_feb2025_paraphrased.jsonl /tmp/evalin/de_feb2025.jsonl
    python benchmarks/same_story_cv.py /tmp/evalin --sets sparse_mix2 de_feb2025 wikinews_big uci \\
        --grid join_probability=0.5,0.6

Prints B-cubed precision / recall / F1 (and pairwise F1) per set and setting.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import tempfile
from pathlib import Path

from clustering.embed import CachedEmbedder, Embedder
from clustering.eval_data import read_jsonl
from clustering.evaluate import parse_article, simulate
from clustering.metrics import score
from clustering.same_story_train import story_fold, train_from_files
from newsflow.settings import Settings, load_settings
from newsflow.store.database import open_store
from newsflow.store.embeddings_repo import SqlVectorCache

TRAIN = ("uci", "wikinews_big", "wikinews_medium", "wikinews_big_dated", "wikinews_medium_dated", "sparse_mix",
         "de_feb2025")  # fmt: skip


def _value(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # e.g. same_story_recluster=all


def _grid(items: list[str]) -> list[dict[str, float | str]]:
    axes = [(k, [_value(v) for v in vs.split(",")]) for k, vs in (item.split("=", 1) for item in items)]
    return [dict(zip([k for k, _ in axes], combo, strict=True)) for combo in itertools.product(*[v for _, v in axes])]


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
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = load_settings()
    embedder = CachedEmbedder(Embedder(base), SqlVectorCache(open_store(base)))
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
        model, cv = train_from_files(base, train_paths, embedder, keep)
        model.save(models[k])
        print(f"fold {k}: {model.meta['pairs']} pairs, CV log loss {cv.log_loss:.4f}, AUC {cv.auc:.4f}", flush=True)
    results = []
    grid = _grid(args.grid) or [{}]
    golds: dict[str, dict[str, str]] = {}
    by_fold: dict[tuple[int, str, int], dict[str, str]] = {}  # (grid point, set, fold) -> predictions
    for g, overrides in enumerate(grid):
        for name in args.sets:
            lines = list(read_jsonl(args.evalin / f"{name}.jsonl"))
            parsed = [parse_article(line, n) for n, line in enumerate(lines, 1)]
            gold = golds[name] = {d.id: str(s) for d, s in parsed}
            pred: dict[str, str] = {}
            for k in folds:
                docs = [d for d, s in parsed if args.leave_out or story_fold(str(s), args.folds) == k]
                model_ref = "off" if args.legacy else str(models[k])
                settings = Settings(**{**base.model_dump(), **overrides, "same_story_model": model_ref})
                sim = simulate(settings, docs, embedder)
                by_fold[g, name, k] = {a: f"{k}-{t}" for a, t in sim.final_topics().items()}
                pred.update(by_fold[g, name, k])
            s = score(gold, pred)
            if args.work:
                tag = "-".join(f"{k}={v}" for k, v in overrides.items())
                with (work / f"pred-{name}{'-' + tag if tag else ''}.tsv").open("w") as f:
                    f.writelines(f"{a}\t{t}\n" for a, t in pred.items())
            results.append({"set": name, **overrides, **s})
            print(f"{name:>22} {json.dumps(overrides)}: B3 P {s['bcubed_p']:.3f} R {s['bcubed_r']:.3f} "
                  f"F1 {s['bcubed_f1']:.3f} | pairwise F1 {s['pairwise_f1']:.3f} | "
                  f"{s['predicted_clusters']} clusters / {s['gold_stories']} stories", flush=True)  # fmt: skip
    if args.select and len(folds) > 1:
        results += _selected(grid, args.sets, folds, golds, by_fold)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def _selected(grid: list[dict[str, float | str]], sets: list[str], folds: list[int], golds: dict[str, dict[str, str]],
              by_fold: dict[tuple[int, str, int], dict[str, str]]) -> list[dict[str, object]]:  # fmt: skip
    """Each fold's predictions at the grid point chosen on the other folds (mean B-cubed F1 over sets)."""

    def fold_f1(g: int, name: str, k: int) -> float:
        gold = {a: story for a, story in golds[name].items() if story_fold(story, len(folds)) == k}
        return float(score(gold, by_fold[g, name, k])["bcubed_f1"])

    chosen = {}
    for k in folds:
        others = [j for j in folds if j != k]
        chosen[k] = max(range(len(grid)), key=lambda g: sum(fold_f1(g, n, j) for n in sets for j in others))
        print(f"fold {k}: chosen on folds {others}: {json.dumps(grid[chosen[k]])}", flush=True)
    rows: list[dict[str, object]] = []
    for name in sets:
        pred = {a: t for k in folds for a, t in by_fold[chosen[k], name, k].items()}
        s = score(golds[name], pred)
        rows.append({"set": name, "selected": {k: grid[g] for k, g in chosen.items()}, **s})
        print(f"{name:>22} selected: B3 P {s['bcubed_p']:.3f} R {s['bcubed_r']:.3f} F1 {s['bcubed_f1']:.3f} | "
              f"pairwise F1 {s['pairwise_f1']:.3f} | {s['predicted_clusters']} clusters / {s['gold_stories']} stories",
              flush=True)  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
