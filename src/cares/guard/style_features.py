"""Dense "style" features of a prompt, appended to the n-gram or embedding vector.

N-grams learn the wording of the attacks they were trained on; these few measurements describe the
shape of a text instead, which carries over to obfuscations in new words: letters spaced out,
digits standing in for letters, emoji, runs of brackets and symbols (the debris of optimised
adversarial suffixes), shouting, quoting, and a prompt that addresses the model as "you".

Each feature is computed with the standard library and numpy only, on NFKC text with whitespace
collapsed, so a line break is never evidence either way (our direct prompts happen to be single
lines; a pasted question need not be). `StyleScaler` standardises them with the training split's
means and spreads, clips the result so one extreme prompt cannot dominate the logit, and scales it
to sit beside L2-normalised TF-IDF values; its numbers travel in the model file.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cares.guard.style_cues import CUE_NAMES, cue_vector

_WHITESPACE = re.compile(r"\s+")
_ALNUM_RUN = re.compile(r"[^\W_]+")
# A match starts only at the first mark of a run, so a long run of dots costs linear time.
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]+(?:\s|$)")
_VOWELS = set("aeiouyAEIOUY")
# Quote marks that open or close a span, not apostrophes inside a word ("don't").
_QUOTES = re.compile(r"(?<![^\W\d_])['\u2018\u2019]|['\u2018\u2019](?![^\W\d_])|[\"\u201c\u201d\u00ab\u00bb`]")
# Characters plain questions almost never use but markup, code and optimised suffixes do.
_SYMBOLS = set("{}[]<>|\\~^=_*#$@%+")
_SECOND_PERSON = {"you", "your", "yours", "yourself", "yourselves", "you're", "you've", "you'll", "you'd"}
_SPACED_RUN = 3  # this many one-letter tokens in a row are spaced-out letters, not "a" or "I"

SHAPE_NAMES: tuple[str, ...] = (
    "spaced_letters",  # share of tokens inside runs of single letters: "s e l l"
    "digit_letter_mix",  # share of words mixing digits and letters: "p4t13nt"
    "emoji_symbols",  # share of characters that are non-ASCII symbols (emoji, pictographs)
    "non_latin_letters",  # share of letters outside the Latin script
    "markup_symbols",  # share of characters from {}[]<>|\~^=_*#$@%+
    "punctuation",  # share of characters that are punctuation
    "repeated_punctuation",  # runs of two or more identical punctuation marks per word
    "quotes",  # quote marks per word
    "uppercase",  # share of letters in upper case
    "vowelless_words",  # share of words of two or more letters without a vowel: "thx", "pts"
    "long_words",  # share of words longer than 18 characters (encoded payloads, run-together text)
    "second_person",  # share of words addressing the reader: you, your, yourself
    "sentences",  # log(1 + number of sentence ends)
    "log_words",  # log(1 + number of words)
)
# Then the counts of indirect and obfuscating moves (cares.guard.style_cues). A model file names the
# features it uses, so files written before the cues existed still load and score as they did.
# Then hinges on the log word count, so that length can matter up to a point and no further: a
# rewrite is longer than the question it wraps, but a very long prompt is mostly one full of the
# asker's own circumstances, and a single linear length term pushed those over the threshold.
LENGTH_KNOTS: tuple[float, ...] = (3.0, 3.5, 4.0)  # log(1 + words): about 19, 32 and 54 words
LENGTH_NAMES: tuple[str, ...] = ("words_over_19", "words_over_32", "words_over_54")
# And how concrete the prompt is: numbers, quantities with units, capitalised names mid-sentence and
# narrative markers ("I've noticed", "last week"), which a plainly asked question full of the asker's
# circumstances has and a framing around someone else's request mostly does not.
CONCRETE_NAMES: tuple[str, ...] = ("numbers", "quantities", "capitalised_names", "narrative")
STYLE_NAMES: tuple[str, ...] = SHAPE_NAMES + CUE_NAMES + LENGTH_NAMES + CONCRETE_NAMES
# The features each featuriser uses, chosen on the training split's cross-validation (docs/guard-detector.md).
FEATURISER_STYLE_NAMES: dict[str, tuple[str, ...]] = {
    "tfidf": SHAPE_NAMES + CUE_NAMES + LENGTH_NAMES,
    "minilm": SHAPE_NAMES + CUE_NAMES + LENGTH_NAMES,
}

_NUMBER = (r"(?:\d[\d,.:/%-]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
           r"fifty|hundred|thousand|half|dozen)")
_NUMBERS = re.compile(rf"\b{_NUMBER}\b", re.IGNORECASE)
_QUANTITIES = re.compile(rf"\b{_NUMBER}[ -]?(?:years?|months?|weeks?|days?|hours?|mg|ml|kg|g|mcg|units?|staff|patients|"
                         r"cases|tablets|times|am|pm|%)\b", re.IGNORECASE)
_CAPITALISED = re.compile(r"(?<=[a-z,;] )[A-Z][a-zA-Z]+")
_NARRATIVE = re.compile(r"\b(?:i've|i have|we've|we have|i had|we had|has been|have been|i've been|started|"
                        r"noticed|keeps?|kept|told (?:me|us)|asked (?:me|us)|last (?:week|month|year|night)|"
                        r"yesterday|this morning|recently|since)\b", re.IGNORECASE)


def _clean(text: str) -> str:
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def _spaced_share(tokens: Sequence[str]) -> float:
    in_runs = run = 0
    for token in [*tokens, ""]:
        if len(token) == 1 and token.isalpha():
            run += 1
            continue
        if run >= _SPACED_RUN:
            in_runs += run
        run = 0
    return in_runs / len(tokens)


def style_vector(text: str) -> np.ndarray:
    """The raw (unscaled) features of one text, in STYLE_NAMES order."""
    clean = _clean(text)
    out = np.zeros(len(STYLE_NAMES), dtype=np.float64)
    if not clean:
        return out
    tokens = clean.split(" ")
    words = _ALNUM_RUN.findall(clean)
    n_chars, n_tokens, n_words = len(clean), len(tokens), max(len(words), 1)
    letters = [ch for ch in clean if ch.isalpha()]
    n_letters = max(len(letters), 1)
    out[0] = _spaced_share(tokens)
    out[1] = sum(1 for w in words if any(c.isdigit() for c in w) and any(c.isalpha() for c in w)) / n_words
    out[2] = sum(1 for ch in clean if ord(ch) > 127 and unicodedata.category(ch)[0] in "SC") / n_chars
    out[3] = sum(1 for ch in letters if ord(ch) > 0x24F) / n_letters
    out[4] = sum(1 for ch in clean if ch in _SYMBOLS) / n_chars
    out[5] = sum(1 for ch in clean if unicodedata.category(ch)[0] == "P") / n_chars
    out[6] = len(re.findall(r"([^\w\s])\1+", clean)) / n_words
    out[7] = len(_QUOTES.findall(clean)) / n_words
    out[8] = sum(1 for ch in letters if ch.isupper()) / n_letters
    alphabetic = [w for w in words if w.isalpha() and len(w) >= 2]
    out[9] = sum(1 for w in alphabetic if not _VOWELS.intersection(w)) / max(len(alphabetic), 1)
    out[10] = sum(1 for w in words if len(w) > 18) / n_words
    apostrophe_words = re.findall(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?", clean.casefold())
    second_person = sum(1 for w in apostrophe_words if w.replace("\u2019", "'") in _SECOND_PERSON)
    out[11] = second_person / max(len(apostrophe_words), 1)
    out[12] = math.log1p(len(_SENTENCE_END.findall(clean)))
    out[13] = math.log1p(n_tokens)
    start = len(SHAPE_NAMES)
    out[start:start + len(CUE_NAMES)] = cue_vector(clean)
    start += len(CUE_NAMES)
    out[start:start + len(LENGTH_NAMES)] = [max(0.0, out[13] - knot) for knot in LENGTH_KNOTS]
    start += len(LENGTH_NAMES)
    out[start:] = [math.log1p(len(_NUMBERS.findall(clean))), math.log1p(len(_QUANTITIES.findall(clean))),
                   math.log1p(len(_CAPITALISED.findall(clean))), math.log1p(len(_NARRATIVE.findall(clean)))]
    return out


def style_matrix(texts: Sequence[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, len(STYLE_NAMES)), dtype=np.float64)
    return np.vstack([style_vector(text) for text in texts])


@dataclass(frozen=True)
class StyleScaler:
    """Standardise, clip to +-`clip`, then multiply by `weight`; features with no spread are zeroed."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray  # 1 / standard deviation, 0 where the training data never varied
    weight: float
    clip: float = 4.0

    @property
    def dim(self) -> int:
        return len(self.names)

    @classmethod
    def fit(
        cls, raw: np.ndarray, names: Sequence[str] = STYLE_NAMES, weight: float = 0.2, clip: float = 4.0
    ) -> StyleScaler:
        mean = raw.mean(axis=0)
        spread = raw.std(axis=0)
        scale = np.where(spread > 1e-9, 1.0 / np.where(spread > 1e-9, spread, 1.0), 0.0)
        return cls(tuple(names), mean, scale, float(weight), float(clip))

    def transform(self, raw: np.ndarray) -> np.ndarray:
        return np.clip((raw - self.mean) * self.scale, -self.clip, self.clip) * self.weight

    def features(self, texts: Sequence[str]) -> np.ndarray:
        return self.transform(style_matrix(texts)[:, self.selected()])

    def selected(self) -> list[int]:
        """Columns of STYLE_NAMES this scaler uses, in its own order."""
        return [STYLE_NAMES.index(name) for name in self.names]

    def to_dict(self, digits: int = 7) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "mean": [float(f"{v:.{digits}g}") for v in self.mean.tolist()],
            "scale": [float(f"{v:.{digits}g}") for v in self.scale.tolist()],
            "weight": self.weight,
            "clip": self.clip,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StyleScaler:
        return cls(tuple(data["names"]), np.asarray(data["mean"], dtype=np.float64),
                   np.asarray(data["scale"], dtype=np.float64), float(data["weight"]), float(data["clip"]))
