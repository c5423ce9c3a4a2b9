"""Build the ONNX export that ``clustering.embedding.onnx_model`` runs, once per model, in a child process.

``ensure_export`` finds a valid export in the cache or builds one by running this module as a
child process (``python -m clustering.embedding.onnx_export LOCATION MODEL_ID OUT``): torch is needed to
trace the model, and a worker that imported it would keep its 727 MiB for good. The build loads
the model with sentence-transformers (eager attention: a traced graph without SDPA's shape
branches), exports the transformer from ``inputs_embeds`` to its last hidden state, writes what
runs around it (prompt, pooling, Dense, Normalize) as data, then encodes ``CHECK_TEXTS`` both ways
and refuses the export (``ModelExportError``) unless every component agrees within
``onnx_model.MAX_DEVIATION``. Files are written beside the target and renamed into place, under a
lock, so two workers starting together build once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from clustering.embedding.onnx_model import (
    EXPORT_FORMAT,
    HEAD_FILE,
    MANIFEST_FILE,
    MAX_DEVIATION,
    ONNX_FILE,
    PIECE_TOKENIZER_FILE,
    Q4_TABLE_FILE,
    TABLE_FILE,
    TOKENIZER_JSON_FILE,
    OnnxEncoder,
    export_problem,
    file_sha256,
    source_fingerprint,
)  # fmt: skip
from newsflow.errors import ModelExportError
from newsflow.model_compact import TOKEN_TABLE_FILE, TOKENIZER_FILE, has_compact_files
from newsflow.models import models_dir

log = logging.getLogger(__name__)

# English and German, short and long (past 128 tokens: truncation), so batches pad.
CHECK_TEXTS = (
    "Stocks fell on Wall Street as oil prices rose",
    "Malaysia Airlines flight MH370: search for the missing plane moves to the Indian Ocean",
    "Trump und Putin telefonieren: Gespräche über ein Ende des Krieges in der Ukraine",
    "Rohstoffabkommen zwischen den USA und der Ukraine unterzeichnet",
    "x",
    " ".join(["Die Bundesregierung hat am Mittwoch in Berlin neue Maßnahmen beschlossen."] * 20),
    " ".join(["Apple reported quarterly earnings above analysts' expectations on Tuesday."] * 20),
)


def export_dir(model_id: str, location: str) -> Path:
    """``~/.cache/newsflow/models/onnx/<model>-<hash of its location>``: one export per model copy."""
    import hashlib

    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model_id).strip("_")[:80] or "model"
    where = hashlib.sha256(str(Path(location).resolve()).encode()).hexdigest()[:10]
    return models_dir() / "onnx" / f"{slug}-{where}"


def ensure_export(location: str, model_id: str) -> Path:
    """A valid export of the model at ``location``: found, or built by a child process."""
    source = Path(location)
    if not (source / "modules.json").is_file():
        raise ModelExportError(f"{location!r} is not a local sentence-transformers directory (no modules.json)")
    out = export_dir(model_id, location)
    problem = export_problem(out, source, model_id)
    if problem is None:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with locked(out.parent / f"{out.name}.lock"):
        problem = export_problem(out, source, model_id)  # another process may have built it meanwhile
        if problem is None:
            return out
        log.info("building the ONNX export of %s (%s) (once per model, 15-30 s)", model_id, problem)
        _run_build(location, model_id, out)
    problem = export_problem(out, source, model_id)
    if problem is not None:
        raise ModelExportError(f"the ONNX export of {model_id} at {out} is unusable after a rebuild: {problem}")
    return out


@contextmanager
def locked(path: Path) -> Iterator[None]:
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_build(location: str, model_id: str, out: Path) -> None:
    repo = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "clustering.embedding.onnx_export", location, model_id, str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        named = [line for line in lines if "Error:" in line]
        raise ModelExportError(
            f"building the ONNX export of {model_id} failed: {(named or lines or ['no output'])[-1].strip()}"
        )


def build(location: str, model_id: str, out: Path) -> float:
    """Export the model at ``location`` into ``out``; the largest deviation measured on ``CHECK_TEXTS``."""
    from clustering.embedding.embed import _force_offline, _skip_triton

    _force_offline()
    _skip_triton()
    from sentence_transformers import SentenceTransformer

    source = Path(location)
    model = SentenceTransformer(
        location, device="cpu", local_files_only=True, model_kwargs={"attn_implementation": "eager"}
    )
    compact = has_compact_files(source)
    if compact:
        from clustering.embedding.compact_e5 import make_compact

        make_compact(model, source)
    work = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        manifest = _write_parts(model, source, compact, model_id, work)
        (work / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")  # read by the check
        deviation = _deviation(model, work)
        if not deviation <= MAX_DEVIATION:
            raise ModelExportError(
                f"the ONNX export of {model_id} deviates from sentence-transformers by {deviation:.2e} "
                f"(> {MAX_DEVIATION:.0e}); run it with NEWSFLOW_EMBEDDING_BACKEND=torch"
            )
        manifest["max_deviation"] = deviation
        manifest["files"] = {
            str(p.relative_to(work)): file_sha256(p)
            for p in sorted(work.rglob("*"))
            if p.is_file() and p != work / MANIFEST_FILE
        }
        (work / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        shutil.rmtree(out, ignore_errors=True)
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return deviation


def _write_parts(model: Any, source: Path, compact: bool, model_id: str, work: Path) -> dict[str, Any]:
    import torch

    modules = list(model)
    transformer, rest = modules[0], modules[1:]
    if type(transformer).__name__ != "Transformer":
        raise ModelExportError(f"{model_id}: the first module is {type(transformer).__name__}, not a Transformer")
    head, arrays = _describe_head(rest, model_id)
    auto = transformer.auto_model.eval()
    _trace(auto, work / ONNX_FILE)
    pad: dict[str, Any] = {}
    if compact:
        shutil.copyfile(source / TOKEN_TABLE_FILE, work / Q4_TABLE_FILE)
        shutil.copyfile(source / TOKENIZER_FILE, work / PIECE_TOKENIZER_FILE)
    else:
        with torch.no_grad():
            np.save(work / TABLE_FILE, auto.get_input_embeddings().weight.detach().float().numpy())
        backend = getattr(transformer.tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise ModelExportError(f"{model_id}: its tokenizer is not a fast (tokenizers) one")
        backend.save(str(work / TOKENIZER_JSON_FILE))
        pad = {"pad_id": int(transformer.tokenizer.pad_token_id), "pad_token": str(transformer.tokenizer.pad_token)}
    np.savez(work / HEAD_FILE, **arrays)  # type: ignore[arg-type]  # numpy types **kwds as its allow_pickle flag
    prompts = model.prompts or {}
    return {
        "format": EXPORT_FORMAT,
        "model_id": model_id,
        "source": str(source.resolve()),
        "source_fingerprint": source_fingerprint(source),
        "tokenizer": "piece" if compact else "tokenizers",
        **pad,
        "prompt": prompts.get(model.default_prompt_name, "") if model.default_prompt_name else "",
        "lower_case": bool(getattr(transformer, "do_lower_case", False)),
        "hidden_size": int(auto.config.hidden_size),
        "max_tokens": _max_tokens(auto.config),
        **head,
    }


def _max_tokens(config: Any) -> int:
    """The longest input the position table holds (RoBERTa-style tables start after the padding id)."""
    positions = int(getattr(config, "max_position_embeddings", 512))
    offset = 2 if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "mpnet") else 0
    return positions - offset


def _describe_head(modules: list[Any], model_id: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Pooling, then Dense/Normalize steps, as data; ``ModelExportError`` for anything else."""
    if not modules or type(modules[0]).__name__ != "Pooling":
        raise ModelExportError(f"{model_id}: no Pooling module after the Transformer")
    pooling = modules[0]
    if pooling.pooling_mode not in ("mean", "cls") or not pooling.include_prompt:
        raise ModelExportError(f"{model_id}: pooling {pooling.pooling_mode!r} is not exported (mean and cls are)")
    steps: list[str] = []
    arrays: dict[str, np.ndarray] = {}
    dimension = int(pooling.pooling_output_dimension)
    for module in modules[1:]:
        name = type(module).__name__
        if name == "Normalize":
            steps.append("normalize")
        elif name == "Dense" and not getattr(module, "use_residual", False):
            activation = type(module.activation_function).__name__
            if activation not in ("Identity", "Tanh"):
                raise ModelExportError(f"{model_id}: Dense activation {activation} is not exported")
            k = len(steps)
            arrays[f"w{k}"] = module.linear.weight.detach().float().numpy()
            if module.linear.bias is not None:
                arrays[f"b{k}"] = module.linear.bias.detach().float().numpy()
            steps.append("dense" if activation == "Identity" else "dense_tanh")
            dimension = int(module.linear.out_features)
        else:
            raise ModelExportError(f"{model_id}: module {name} is not exported")
    return {"pooling": pooling.pooling_mode, "steps": steps, "dimension": dimension}, arrays


def _trace(auto: Any, path: Path) -> None:
    import torch

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.inner(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state

    hidden = int(auto.config.hidden_size)
    embeds = torch.randn(2, 7, hidden)
    mask = torch.ones(2, 7, dtype=torch.int64)
    mask[1, 4:] = 0  # a padded row, so the trace keeps the mask
    axes = {"inputs_embeds": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "tokens": {0: "batch", 1: "tokens"}}  # fmt: skip
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(auto), (embeds, mask), str(path), input_names=["inputs_embeds", "attention_mask"],
            output_names=["tokens"], dynamic_axes=axes, opset_version=17, dynamo=False,
        )  # fmt: skip


def _deviation(model: Any, work: Path) -> float:
    """The largest |difference| between sentence-transformers' and the export's vectors of the check texts."""
    worst = 0.0
    limit = _max_tokens(model[0].auto_model.config)
    for length in sorted({min(128, limit), min(512, limit)}):
        model.max_seq_length = length
        expected = model.encode(list(CHECK_TEXTS), batch_size=4, convert_to_numpy=True)
        got = OnnxEncoder(work, length, threads=1).encode(list(CHECK_TEXTS), batch_size=4)
        worst = max(worst, float(np.max(np.abs(expected - got))))
    return worst


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    location, model_id, out = argv
    try:
        deviation = build(location, model_id, Path(out))
    except ModelExportError as exc:
        print(f"ModelExportError: {exc}", file=sys.stderr)
        return 1
    print(f"exported {model_id} to {out} (largest deviation from sentence-transformers {deviation:.1e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
