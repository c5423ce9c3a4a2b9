"""XLM-R's tokenization over the compact SentencePiece model (``tokenizer.spm``, see
``newsflow.model_compact``): the same pieces and ids as transformers' XLM-R tokenizer, without its
251 MB trie. Torch-free: the sentence-transformers path (``clustering.embedding.compact_e5``) and the ONNX path
(``clustering.embedding.onnx_model``) both use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers.tokenization_utils_sentencepiece import SentencePieceBackend

from newsflow.model_compact import TOKENIZER_FILE, words


class PieceTokenizer(SentencePieceBackend):
    """XLM-R's tokenization over ``tokenizer.spm``: the text split into words as transformers'
    XLM-R tokenizer splits it, segmented by SentencePiece, framed ``<s> … </s>``; its ids."""

    vocab_files_names = {"vocab_file": TOKENIZER_FILE}  # noqa: RUF012 (transformers' own attributes)
    model_input_names = ["input_ids", "attention_mask"]  # noqa: RUF012

    def __init__(self, vocab_file: str, **kwargs: Any) -> None:
        super().__init__(vocab_file=vocab_file, legacy=True, **kwargs)

    @classmethod
    def from_directory(cls, directory: Path, model_max_length: int | None = None) -> PieceTokenizer:
        extra = {} if model_max_length is None else {"model_max_length": model_max_length}
        return cls(
            str(directory / TOKENIZER_FILE), bos_token="<s>", eos_token="</s>", sep_token="</s>",
            cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
            special_tokens_pattern="cls_sep", **extra,
        )  # fmt: skip

    def _tokenize(self, text: str, **kwargs: Any) -> list[str]:
        split = words(text)
        if not split:
            return []
        # A word that starts with "▁" gets no second one from transformers' Metaspace; SentencePiece
        # would add its own, so that mark is dropped here (the space before the word stands for it).
        joined = " ".join(w[1:] if w.startswith("▁") else w for w in split)
        return list(self.sp_model.encode(joined, out_type=str)) if joined else ["▁"]
