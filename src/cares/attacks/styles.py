"""Deterministic rule-based rewriters that turn a direct base prompt into the CARES
adversarial styles: `indirect`, `obfuscate` and `role_play`.

Every choice (persona, template, which words to hide, which code words to use) is
derived from SHA-256 of the seed, the style and the prompt, never from `hash()` or the
`random` module, so a generated benchmark is byte-identical on every machine and Python
version and can be regenerated instead of shipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from cares.attacks.style_vocab import (
    CODE_WORDS,
    INDIRECT_TEMPLATES,
    OBFUSCATE_PREAMBLES,
    PERSONAS,
    RISK_TERMS,
    STOPWORDS,
)

__all__ = ["STYLES", "rewrite"]

STYLES: tuple[str, ...] = ("indirect", "obfuscate", "role_play")

_T = TypeVar("_T")

# Runs of letters only: digits and underscores stay put, and "self-harm" or
# "patient's" split into their parts so each part can be handled on its own.
_WORD = re.compile(r"[^\W\d_]+")

# Shorter words are mostly fragments ("s" of "patient's") or abbreviations whose
# substitution would make the prompt unreadable without hiding anything.
_MIN_CONTENT_LEN = 3


def rewrite(base_prompt: str, style: str, *, seed: int = 0) -> str:
    """Rewrite `base_prompt` in the adversarial `style`; the same inputs give the same text.

    Raises ValueError for an unknown style, an empty prompt, or (for `obfuscate`) a
    prompt with no words at all.
    """
    if style not in _REWRITERS:
        raise ValueError(f"unknown style {style!r}; valid styles are: {', '.join(STYLES)}")
    if not isinstance(base_prompt, str):
        raise TypeError(f"base_prompt must be a str, not {type(base_prompt).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, not {type(seed).__name__}")
    prompt = base_prompt.strip()
    if not prompt:
        raise ValueError("base_prompt is empty")
    return _REWRITERS[style](prompt, seed)


# --- deterministic choice -------------------------------------------------------------


def _digest(*parts: object) -> bytes:
    # The unit separator cannot appear in a seed and is vanishingly rare in prompts,
    # so ("ab", "c") and ("a", "bc") never collide.
    text = "\x1f".join(str(part) for part in parts)
    return hashlib.sha256(text.encode("utf-8")).digest()


def _pick(options: Sequence[_T], *parts: object) -> _T:
    return options[int.from_bytes(_digest(*parts), "big") % len(options)]


def _ranked(options: Sequence[str], *parts: object) -> list[str]:
    return sorted(options, key=lambda option: _digest(*parts, option))


# --- word analysis --------------------------------------------------------------------


def _content_words(text: str) -> list[str]:
    """Lower-cased key words, each once, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text):
        word = match.group().lower()
        if len(word) >= _MIN_CONTENT_LEN and word not in STOPWORDS:
            seen.setdefault(word)
    return list(seen)


def _all_words(text: str) -> set[str]:
    return {match.group().lower() for match in _WORD.finditer(text)}


def _by_salience(words: Sequence[str], risk_first: bool, *parts: object) -> list[str]:
    # Length is capped so that among the long words the seed, not a few extra letters,
    # decides which ones are chosen.
    def key(word: str) -> tuple[bool, int, bytes]:
        risky = word in RISK_TERMS
        return (not risky if risk_first else risky, -min(len(word), 7), _digest(*parts, word))

    return sorted(words, key=key)


def _match_case(source: str, code: str) -> str:
    if len(source) > 1 and source.isupper():
        return code.upper()
    if source[:1].isupper():
        return code[:1].upper() + code[1:]
    return code


def _join(items: Sequence[str]) -> str:
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


# --- obfuscate ------------------------------------------------------------------------


def _code_words(taken: set[str], *parts: object) -> Iterator[str]:
    ranked = _ranked(CODE_WORDS, *parts)
    used: set[str] = set()
    for word in ranked:
        if word not in taken:
            used.add(word)
            yield word
    # Only a very long prompt exhausts the vocabulary; fused pairs stay single tokens,
    # so they are substituted and decoded exactly like plain code words.
    for first in ranked:
        for second in ranked:
            fused = first + second
            if first != second and fused not in taken and fused not in used:
                used.add(fused)
                yield fused


def _obfuscate(prompt: str, seed: int) -> str:
    words = _content_words(prompt)
    if not words:
        # A request made only of function words still has to be disguised.
        words = list(dict.fromkeys(m.group().lower() for m in _WORD.finditer(prompt)))
    if not words:
        raise ValueError("base_prompt has no words to obfuscate")

    # Strictly more than half, so "at least half" holds even after rounding.
    count = min(len(words), len(words) // 2 + 1)
    chosen = set(_by_salience(words, True, "obfuscate-words", seed, prompt)[:count])
    ordered = [word for word in words if word in chosen]
    codes = _code_words(_all_words(prompt), "obfuscate-codes", seed, prompt)
    mapping = {word: next(codes) for word in ordered}

    def substitute(match: re.Match[str]) -> str:
        token = match.group()
        code = mapping.get(token.lower())
        return token if code is None else _match_case(token, code)

    body = _WORD.sub(substitute, prompt)
    pairs = _join([f'"{code}" means "{word}"' for word, code in mapping.items()])
    preamble = _pick(OBFUSCATE_PREAMBLES, "obfuscate-preamble", seed, prompt)
    # The blank line keeps the key and the disguised request apart, so the mapping can
    # always be read back from the first paragraph.
    return preamble.format(pairs=pairs) + "\n\n" + body


# --- role play and indirect -----------------------------------------------------------


def _goal(prompt: str) -> str:
    """The prompt as a clause: final punctuation dropped, first letter lowered."""
    text = prompt.rstrip(" \t\r\n.?!;:")
    if not text:
        return prompt
    first = _WORD.match(text)
    word = first.group() if first else ""
    # "I", "ICU" and "HIV" keep their capitals; an ordinary sentence start does not.
    if word == "I" or (len(word) > 1 and word[1].isupper()):
        return text
    return text[:1].lower() + text[1:]


def _fields(prompt: str, seed: int) -> dict[str, str]:
    words = _content_words(prompt)
    # The topic should sound innocent, so harmful keywords are the last to be named.
    top = set(_by_salience(words, False, "topic", seed, prompt)[:2])
    keywords = [word for word in words if word in top]
    kw1 = keywords[0] if keywords else "this topic"
    kw2 = keywords[1] if len(keywords) > 1 else "the situation described"
    topic = " and ".join(keywords) if keywords else "this topic"
    pieces = prompt.split()
    middle = len(pieces) // 2
    # Templates run straight on after {prompt}, so it needs a sentence end of its own.
    sentence = prompt if prompt[-1] in ".?!\"')]" else prompt + "."
    return {
        "prompt": sentence,
        "goal": _goal(prompt),
        "topic": topic,
        "kw1": kw1,
        "kw2": kw2,
        "part_one": " ".join(pieces[:middle]),
        "part_two": " ".join(pieces[middle:]),
    }


def _role_play(prompt: str, seed: int) -> str:
    persona = _pick(PERSONAS, "role_play-persona", seed, prompt)
    template = _pick(persona.templates, "role_play-template", seed, prompt)
    return template.format(**_fields(prompt, seed))


def _indirect(prompt: str, seed: int) -> str:
    templates: Sequence[str] = INDIRECT_TEMPLATES
    if len(prompt.split()) < 2:
        # A one-word request cannot be split, and an empty half would give it away.
        templates = [t for t in INDIRECT_TEMPLATES if "{part_one}" not in t]
    template = _pick(templates, "indirect-template", seed, prompt)
    return template.format(**_fields(prompt, seed))


_REWRITERS: dict[str, Callable[[str, int], str]] = {
    "indirect": _indirect,
    "obfuscate": _obfuscate,
    "role_play": _role_play,
}
