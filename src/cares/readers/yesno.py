"""The model's yes or no, read from a free-text answer to a closed question.

The first yes/no signal decides: an explicit "yes"/"no" word, or a clause that asserts absence
("No evidence of effusion", "There is no pleural effusion", "The image does not show ...").
A refusal is never an answer: it reads as None, never as "yes". Care is taken where a plain
first-token rule goes wrong:

- echoes of the choice list ("[yes, no]", "yes or no") and of the question are skipped;
- idioms that contain "no" ("no doubt", "no matter") are skipped;
- "no" as a determiner inside a subordinate phrase ("cardiomegaly with no effusion") is not
  an answer to the question, so it is skipped;
- negated verbs ("is not enlarged") count only in the opening clause of the first sentence,
  where they answer the question rather than describe a side finding;
- a bare positive assertion without "yes" ("There is a small effusion") is left unread: whether
  it answers the question depends on what was asked, which this reader does not see.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cares.readers.abstention import clean_text, detect_abstention, sentences

YesNoValue = Literal["yes", "no"]


@dataclass(frozen=True)
class YesNo:
    value: YesNoValue | None
    reason: str


_ECHO = re.compile(
    r"[\[(]\s*['\"]?yes['\"]?\s*[,/|]\s*['\"]?no['\"]?\s*[\])]|\byes\s*(?:/|-?\bor\b-?)\s*no\b|\bno\s*(?:/|\bor\b)\s*yes\b"
)
_BOTH = re.compile(r"\b(?:both )?yes and no\b")
_IDIOM = re.compile(
    r"\bno (?:doubt|matter|wonder|problem|worries|offense|kidding|one knows|more than|less than|sooner|way to (?:know|tell|say))\b"
)
_YES = re.compile(r"\b(?:yes|yeah|yep|yup|affirmative)\b")
_NO = re.compile(r"\b(?:no|nope|nah)\b")
# "with no effusion", "and no pneumothorax": a side finding, not the answer.
_SUBORDINATE_NO = re.compile(r"\b(?:with|without|and|or|but|nor|while|whereas|although|though|of) no$")
_EMPHATIC_NOT = re.compile(r"\b(?:probably|likely|most likely|definitely|certainly|possibly|surely|absolutely|highly unlikely|"
                           r"unlikely|certainly|clearly|obviously|apparently) not\b")
_LEADING_NOT = re.compile(r"^not\b(?!\s+(?:sure|certain|clear|possible|applicable|known|enough|available|specified|"
                          r"determinable|able|only|just|necessarily))")
_NOT_HEDGES = (r"sure|certain|clear|possible|impossible|able|known|only|just|necessarily|entirely|completely|always|"
               r"easy|feasible|recommended|advisable|appropriate|enough|specified|mentioned|provided|available|"
               r"applicable|visible enough|100%|definitive|conclusive")
_NEGATED = re.compile(
    r"\b(?:(?:does|do|did) not|doesn't|don't|didn't) (?:appear to |seem to )?(?:show|reveal|demonstrate|indicate|suggest|"
    r"have|contain|display|exhibit|present|appear|seem|look|involve|affect|meet|support|match)\b"
    rf"|\b(?:(?:is|are|was|were) not|isn't|aren't|wasn't|weren't)\b(?! (?:{_NOT_HEDGES})\b)(?=\s+\w)"
    r"|\b(?:cannot|can't) be (?:seen|identified|detected|visualized|appreciated)\b"
)
_WHOLE_NO = re.compile(r"^(?:negative|absent|none|false|incorrect|not present|not seen|not visible|not really|not at all)$")
_WHOLE_YES = re.compile(r"^(?:positive|present|true|correct|affirmative)$")
_CLAUSE_END = re.compile(r"[,;:]|\b(?:and|but|while|whereas|although|though|which|however)\b")
_OPTION_WORD = re.compile(r"^\W*(yes|no)\b", re.I)


def option_polarity(option_text: str) -> YesNoValue | None:
    """"Yes" or "no" for an option whose text starts with that word ("No, there is no calcification")."""
    match = _OPTION_WORD.match(option_text)
    # The pattern captures only "yes" or "no", the two values of YesNoValue.
    return match.group(1).lower() if match else None  # type: ignore[return-value]


def read_yes_no(text: str | None, options: Sequence[tuple[str, str]] | None = None) -> YesNo:
    """The model's yes/no. With `options` (("A", "Yes"), ("B", "No")), a label answer such as
    "B:No", "(B)" or "B." is read through the option it names, so labels never decide by
    themselves and a label that contradicts its own text ("B:No" where B is "Yes") is None."""
    cleaned = clean_text(text)
    if not re.search(r"\w", cleaned):
        return YesNo(None, "empty")
    abstention = detect_abstention(cleaned)
    if abstention.abstained:
        return YesNo(None, f"abstained: {abstention.reason}")
    if options:
        from cares.readers.choice import read_choice

        choice = read_choice(cleaned, options)
        if choice.letter is not None:
            text_of = dict((letter.upper(), option) for letter, option in options)
            polarity = option_polarity(text_of[choice.letter])
            if polarity is None:
                return YesNo(None, f"option {choice.letter} is not a yes/no option")
            return YesNo(polarity, f"option {choice.letter} ({choice.reason})")
        if "ambiguous" in choice.reason or "conflict" in choice.reason:
            return YesNo(None, choice.reason)
    return _scan(cleaned.lower())


def _scan(low: str) -> YesNo:
    low = _ECHO.sub(" ", low)
    if _BOTH.search(low):
        return YesNo(None, "ambiguous: both yes and no")
    parts = sentences(low)
    # An echoed question ("Is there an effusion?") must not decide; the answer follows it.
    answered = [part for part in parts if not part.rstrip().endswith("?")] or parts
    body = " ".join(answered)
    bare = re.sub(r"^(?:the )?(?:final )?answer(?: is)?\s*[:\-]?\s*", "", body).strip(" .!\"'[]()")
    if _WHOLE_NO.match(bare):
        return YesNo("no", f"whole answer {bare!r}")
    if _WHOLE_YES.match(bare):
        return YesNo("yes", f"whole answer {bare!r}")
    masked = _IDIOM.sub(lambda m: "_" * len(m.group(0)), body)
    hits: list[tuple[int, YesNoValue, str]] = []
    for match in _YES.finditer(masked):
        hits.append((match.start(), "yes", match.group(0)))
    for match in _NO.finditer(masked):
        if _SUBORDINATE_NO.search(masked[:match.end()]):
            continue
        hits.append((match.start(), "no", _context(body, match.start())))
    for match in _EMPHATIC_NOT.finditer(masked):
        hits.append((match.start(), "no", match.group(0)))
    offset = 0
    for sentence in answered:
        offset = body.find(sentence, offset)
        if _LEADING_NOT.match(sentence):
            hits.append((offset, "no", _context(body, offset)))
        offset += len(sentence)
    first = answered[0]
    opening = _CLAUSE_END.split(first, maxsplit=1)[0]
    negated = _NEGATED.search(opening)
    if negated:
        hits.append((body.find(first) + negated.start(), "no", negated.group(0)))
    if not hits:
        if re.search(r"\bnot (?:sure|certain)\b|\bunsure\b|\buncertain\b", body):
            return YesNo(None, "uncertain, with no yes/no answer")
        return YesNo(None, "no yes/no answer found")
    position, value, evidence = min(hits, key=lambda hit: hit[0])
    return YesNo(value, f"first {value!r} signal: {evidence!r}")


def _context(body: str, start: int) -> str:
    return body[start:start + 40].split("\n")[0].strip()
