"""Multiple-choice options and answers: parsing "A:scalp, B:ear" strings and reading the truth from them.

Option texts can themselves contain commas ("A:Yes, calcification is present, B:No, there is
none"), so a string is never split on ", ": it is cut only where a letter-colon marker starts
the string or follows a comma, and the letters must run A, B, C... without a gap. A marker-like
pair inside an option text that breaks that run is an error rather than a silent mis-split.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

Options = tuple[tuple[str, str], ...]

_MARKER = re.compile(r"(?:^|,\s*)([A-Z])\s*:")
_LIST_ITEM_MARKER = re.compile(r"^\s*([A-Z])\s*:\s*(.*)$", re.S)
# "B", "(B)", "B:No", "B: No, there is none", "B. No", "B) No"
_LETTER_ANSWER = re.compile(r"^\(?([A-Z])(?:\)|\s*[:.)])\s*(.*)$|^\(?([A-Z])\)?$", re.S)
_YESNO = re.compile(r"^(yes|no)\b", re.IGNORECASE)


class OptionsError(ValueError):
    """Options or an answer that cannot be read; the caller adds the file, line and field."""


@dataclass(frozen=True)
class AnswerMatch:
    """The option an answer names, or why it names none (`problem`, a short countable reason)."""

    letter: str | None
    text: str | None
    problem: str | None = None


def normalise_text(text: str) -> str:
    """Case, spacing and a final full stop do not change which option an answer names."""
    return re.sub(r"\s+", " ", text).strip().rstrip(".").strip().casefold()


def letters(count: int) -> list[str]:
    return [chr(ord("A") + index) for index in range(count)]


def parse_options(value: object) -> Options:
    """Options from a "A:x, B:y" string, a list of strings, or a JSON list written into a CSV cell.

    List entries are either all lettered ("A:x") or all bare, in which case they are lettered in order.
    """
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                decoded = json.loads(text)
            except json.JSONDecodeError:
                decoded = None
            if isinstance(decoded, list):
                return _parse_option_list(decoded)
            if text.endswith("]"):
                text = text[1:-1].strip()
        return _parse_option_string(text)
    if isinstance(value, (list, tuple)):
        return _parse_option_list(list(value))
    raise OptionsError(f"expected a string like 'A:..., B:...' or a list of strings, got {type(value).__name__}")


def _parse_option_string(text: str) -> Options:
    if not text:
        raise OptionsError("options are empty")
    markers = list(_MARKER.finditer(text))
    if not markers or markers[0].start() != 0:
        raise OptionsError(f"options must start with 'A:', got {text[:40]!r}")
    found = [marker.group(1) for marker in markers]
    if found != letters(len(found)):
        raise OptionsError(f"option letters must run A, B, C... in order, got {', '.join(found)}")
    options: list[tuple[str, str]] = []
    for index, marker in enumerate(markers):
        end = markers[index + 1].start() if index + 1 < len(markers) else len(text)
        options.append((marker.group(1), text[marker.end() : end].strip()))
    return _checked(options)


def _parse_option_list(values: list[object]) -> Options:
    if not all(isinstance(value, str) for value in values):
        raise OptionsError("every option must be a string")
    strings = [str(value) for value in values]
    matches = [_LIST_ITEM_MARKER.match(value) for value in strings]
    expected = letters(len(strings))
    if all(matches):
        found = [match.group(1) for match in matches if match]
        if found != expected:
            raise OptionsError(f"option letters must run A, B, C... in order, got {', '.join(found)}")
        return _checked([(match.group(1), match.group(2).strip()) for match in matches if match])
    if any(matches):
        raise OptionsError("options must all carry a letter ('A:...') or none of them")
    return _checked([(letter, value.strip()) for letter, value in zip(expected, strings, strict=True)])


def _checked(options: list[tuple[str, str]]) -> Options:
    if len(options) < 2:
        raise OptionsError(f"need at least two options, got {len(options)}")
    for letter, text in options:
        if not text:
            raise OptionsError(f"option {letter} has no text")
    return tuple(options)


def format_options(options: Options) -> str:
    return ", ".join(f"{letter}:{text}" for letter, text in options)


def match_answer(answer: str, options: Options) -> AnswerMatch:
    """Which option `answer` names: by letter ("B", "B:No"), checked against the option text when
    both are given, or by the option text alone. A disagreement is reported, never resolved by guessing."""
    by_letter = dict(options)
    stripped = answer.strip()
    match = _LETTER_ANSWER.match(stripped)
    if match:
        letter = match.group(1) or match.group(3)
        text = (match.group(2) or "").strip()
        if letter not in by_letter:
            return AnswerMatch(None, None, "answer letter is not among the options")
        if text and normalise_text(text) != normalise_text(by_letter[letter]):
            return AnswerMatch(None, None, "answer text disagrees with the option text")
        return AnswerMatch(letter, by_letter[letter])
    if not stripped:
        return AnswerMatch(None, None, "answer is empty")
    wanted = normalise_text(stripped)
    named = [letter for letter, text in options if normalise_text(text) == wanted]
    if len(named) == 1:
        return AnswerMatch(named[0], by_letter[named[0]])
    if named:
        return AnswerMatch(None, None, "answer matches several options")
    return AnswerMatch(None, None, "answer matches no option")


def yes_no(answer: str) -> str | None:
    """"yes" or "no" when the answer starts with that word ("No (since ...)"), else None."""
    match = _YESNO.match(answer.strip())
    return match.group(1).lower() if match else None
