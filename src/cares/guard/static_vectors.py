"""Static token vectors: MiniLM's reading of each word piece on its own, looked up with numpy alone.

The MiniLM detector carries a frame to wording it never saw ("taking the contrarian position" lies
close to "playing devil's advocate") but needs torch at inference. This table keeps part of that
reach for the numpy-only tfidf detector: every token of all-MiniLM-L6-v2's WordPiece vocabulary was
run through the model once, alone (`[CLS] token [SEP]`, mean-pooled), the vectors were centred,
projected on their first principal components and stored as int8 with one scale per token
(`cares.guard.build_static_vectors` writes the table; building it needs the `embeddings` extra).
A text's vector is the mean of its tokens' vectors, scaled to unit length.

The table file is gzip of a header line, a JSON line (vocabulary, dimension, provenance) and the
raw int8 vectors and float32 scales; nothing in it is executed or unpickled. A detector names the
table it was trained with by the sha256 of the decompressed bytes, so a different table is refused
rather than silently scoring with vectors the weights were not fitted to.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cares.errors import ConfigError
from cares.guard.features import normalise, valid_view, view_text

MAGIC = b"CARES-STATIC-VECTORS 1\n"
TABLE_NAME = "minilm-static-vectors.bin.gz"
_MAX_WORD_CHARS = 100  # BERT's WordPiece gives a longer word one unknown token
_UNKNOWN = "[UNK]"


def _is_punctuation(char: str) -> bool:
    # BERT counts every ASCII non-alphanumeric symbol as punctuation, besides Unicode's P* classes.
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(code: int) -> bool:
    # The ranges of the tokenizers library MiniLM's tokenizer runs on (its last starts at 0x2B920).
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F or 0x2B920 <= code <= 0x2CEAF
            or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)


class WordPieceTokenizer:
    """bert-base-uncased tokenisation, as all-MiniLM-L6-v2 reads text: control and format characters
    dropped, CJK ideographs split apart, lowercased letter by letter with accents stripped, split at
    whitespace and punctuation, then greedy longest-match word pieces (`##` marks a continuation).
    It gives MiniLM's own ids on every corpus prompt; of the 1.1 million code points it differs on a
    few hundred, new or rare ones on which Python's Unicode tables and the tokenizers library's
    disagree. Training and scoring both use this one, so the detector is consistent either way."""

    def __init__(self, vocab: Sequence[str]) -> None:
        self.index = {token: i for i, token in enumerate(vocab)}
        if _UNKNOWN not in self.index:
            raise ConfigError(f"a WordPiece vocabulary needs the {_UNKNOWN} token")
        self.unknown = self.index[_UNKNOWN]

    def _words(self, text: str) -> list[str]:
        chars: list[str] = []
        for char in text:
            code = ord(char)
            category = unicodedata.category(char)
            if char in " \t\n\r" or category == "Zs":
                chars.append(" ")
            elif code == 0 or code == 0xFFFD or category in ("Cc", "Cf", "Co", "Cs"):
                continue  # unassigned code points stay, and make their word unknown
            elif _is_cjk(code):
                chars.append(f" {char} ")
            else:
                chars.append(char)
        words: list[str] = []
        for word in "".join(chars).split():
            # Lowercase letter by letter (str.lower() would apply the final-sigma rule, which the
            # tokenizers library does not), then strip the combining marks NFD splits off.
            lowered = "".join(c.lower() for c in word)
            word = "".join(c for c in unicodedata.normalize("NFD", lowered) if unicodedata.category(c) != "Mn")
            current = ""
            for char in word:
                if _is_punctuation(char):
                    if current:
                        words.append(current)
                        current = ""
                    words.append(char)
                else:
                    current += char
            if current:
                words.append(current)
        return words

    def _pieces(self, word: str) -> list[int]:
        if len(word) > _MAX_WORD_CHARS:
            return [self.unknown]
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.index:
                    found = self.index[piece]
                    break
                end -= 1
            if found is None:
                return [self.unknown]
            pieces.append(found)
            start = end
        return pieces

    def ids(self, text: str) -> list[int]:
        return [i for word in self._words(text) for i in self._pieces(word)]


@dataclass(frozen=True)
class StaticVectors:
    tokenizer: WordPieceTokenizer
    vectors: np.ndarray  # float32, one row per token
    sha256: str
    header: dict[str, Any]

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text: the mean of its tokens' vectors (zeros for a text with none)."""
        return self.embed_ids([self.tokenizer.ids(text) for text in texts])

    def embed_ids(self, token_ids: Sequence[Sequence[int]]) -> np.ndarray:
        out = np.zeros((len(token_ids), self.dim), dtype=np.float64)
        for row, ids in enumerate(token_ids):
            if not len(ids):
                continue
            # Each distinct token's vector once, weighted by its count: a prompt of a million
            # repeated marks costs a count, not a million-row copy of the table.
            distinct, counts = np.unique(np.asarray(ids, dtype=np.int64), return_counts=True)
            mean = counts.astype(np.float64) @ self.vectors[distinct].astype(np.float64) / len(ids)
            norm = float(np.linalg.norm(mean))
            if norm > 0:
                out[row] = mean / norm
        return out


class StaticEmbedder:
    """The bundled table's vectors of views of a normalised prompt (cares.guard.features.view_text),
    side by side. Numpy only: it has nothing to require."""

    def __init__(self, views: Sequence[str], table: StaticVectors | None = None) -> None:
        if not views or not all(valid_view(view) for view in views):
            raise ConfigError(f"static vector views must be whole, head:N, tail:N or clause:N, not {list(views)!r}")
        self.views = tuple(views)
        self._table = table

    @property
    def table(self) -> StaticVectors:
        if self._table is None:
            self._table = bundled_table()
        return self._table

    def require(self) -> None:
        self.table  # noqa: B018 (load now: a missing or damaged table fails before any work)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.table.dim * len(self.views)))
        clean = [normalise(text) for text in texts]
        wanted = [view_text(view, text) for view in self.views for text in clean]
        distinct = list(dict.fromkeys(wanted))
        position = {text: index for index, text in enumerate(distinct)}
        # The views share their words, so each distinct word is tokenised once. A normalised text
        # holds no whitespace but single spaces, and the tokeniser splits at whitespace first, so
        # a view's ids are its words' ids in a row.
        tokenizer = self.table.tokenizer
        by_word: dict[str, list[int]] = {}
        token_ids: list[list[int]] = []
        for text in distinct:
            ids: list[int] = []
            for word in text.split(" "):
                if word not in by_word:
                    by_word[word] = tokenizer.ids(word)
                ids.extend(by_word[word])
            token_ids.append(ids)
        vectors = self.table.embed_ids(token_ids)
        rows = vectors[[position[text] for text in wanted]]
        return np.hstack(np.split(rows, len(self.views)))


def table_path() -> Path:
    return Path(str(resources.files("cares") / "guard" / "data" / TABLE_NAME))


def encode_table(vocab: Sequence[str], quantised: np.ndarray, scales: np.ndarray, header: dict[str, Any]) -> bytes:
    """The table's decompressed bytes, as `parse_table` reads them."""
    body = {**header, "dim": int(quantised.shape[1]), "vocab": list(vocab)}
    line = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return (MAGIC + line + b"\n" + np.ascontiguousarray(quantised, dtype=np.int8).tobytes()
            + np.ascontiguousarray(scales, dtype="<f4").tobytes())


def parse_table(raw: bytes, name: str) -> StaticVectors:
    def fail(what: str) -> ConfigError:
        return ConfigError(f"{name}: not a usable static vector table: {what}")

    if not raw.startswith(MAGIC):
        raise fail("no table header")
    end = raw.find(b"\n", len(MAGIC))
    if end < 0:
        raise fail("the header line is cut off")
    try:
        header = json.loads(raw[len(MAGIC):end].decode("ascii"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise fail("the header is not JSON") from None
    if not isinstance(header, dict):
        raise fail("the header is not a JSON object")
    vocab, dim = header.get("vocab"), header.get("dim")
    if not isinstance(vocab, list) or not vocab or not all(isinstance(t, str) for t in vocab):
        raise fail("the vocabulary must be a non-empty list of strings")
    if len(set(vocab)) != len(vocab):
        raise fail("the vocabulary repeats a token")
    if _UNKNOWN not in vocab:
        raise fail(f"the vocabulary has no {_UNKNOWN} token")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise fail(f"the dimension must be a positive whole number, not {dim!r}")
    payload = raw[end + 1:]
    if len(payload) != len(vocab) * dim + 4 * len(vocab):
        raise fail(f"{len(payload)} bytes of vectors, where {len(vocab)} tokens of {dim} dimensions need "
                   f"{len(vocab) * (dim + 4)}")
    quantised = np.frombuffer(payload, dtype=np.int8, count=len(vocab) * dim).reshape(len(vocab), dim)
    scales = np.frombuffer(payload, dtype="<f4", offset=len(vocab) * dim)
    if not np.all(np.isfinite(scales)):
        raise fail("a token's scale is not a finite number")
    vectors = (quantised.astype(np.float32) * scales[:, None]).astype(np.float32)
    header = {key: value for key, value in header.items() if key != "vocab"}
    return StaticVectors(WordPieceTokenizer(vocab), vectors, hashlib.sha256(raw).hexdigest(), header)


def read_table(path: Path) -> StaticVectors:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: the static vector table is missing from this installation; "
                          "reinstall cares") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the static vector table ({exc.strerror})") from None
    try:
        raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error):
        raise ConfigError(f"{path}: a damaged gzip file, not a static vector table") from None
    return parse_table(raw, str(path))


@lru_cache(maxsize=1)
def bundled_table() -> StaticVectors:
    return read_table(table_path())


def write_table(path: Path, raw: bytes) -> None:
    from cares.report.outputs import write_atomic

    # mtime 0: the same vectors give the same file bytes.
    write_atomic(path, gzip.compress(raw, compresslevel=9, mtime=0), shared=True)
