"""Which option a multiple-choice answer picks: by letter, by option text, or by yes/no.

Evidence is read in tiers, strongest first:

1. explicit letter markers: "Answer: C", "the answer is (B)", "Option B", "**B**", a label that
   opens the answer ("B.", "C: upper extremity", "(A)"), or a label followed by its own text;
2. bare capital letters ("I'd go with C") and option texts ("the lesion is on the back");
   longer texts win over texts they contain, and negated mentions ("not the trunk") are dropped;
3. for yes/no-like options ("Yes", "No, there is no calcification ..."), the yes/no reader,
   mapped to the one option whose text starts with that word.

Two different letters in the deciding tier are ambiguous and read as None. A capital "A"
followed by a lower-case word is the article ("A lesion on the back"), not option A. A listing
of the options ("A:scalp, B:ear, ...") echoed from the prompt is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cares.readers.abstention import clean_text, detect_abstention
from cares.readers.yesno import option_polarity, read_yes_no


@dataclass(frozen=True)
class Choice:
    letter: str | None
    reason: str


Options = tuple[tuple[str, str], ...]

_IDIOMS = re.compile(r"\bon (?:the other|one|the one) hand\b|\bfirst-hand\b|\bat hand\b|\bback and forth\b", re.I)
_NEGATOR = re.compile(r"(?:\bnot|n't|\brather than|\binstead of|\bunlike|\bother than|\bexcept(?: for)?|\bexcluding|"
                      r"\bnever|\bnor|\brule out|\bruled out|\bneither)\b(?:\W+\w+){0,3}\W*$", re.I)
_LETTER_CONTEXT = re.compile(r"(?:vitamin|type|grade|class|stage|hepatitis|group|phase|zone|lead|level|category|section|"
                             r"part|figure|fig\.|panel|point|plan|appendix|table|schedule|cluster|list|form)\s*$", re.I)
# Words that can follow the letter "A" but never the article "a".
_A_AS_VERB_SUBJECT = re.compile(r"\s+(?:is|was|would|seems|appears|looks|fits|matches|best|correct|or|and|nor|vs|versus|"
                                r"because|since|then|too|also|here|instead)\b")
_GAP = re.compile(r"^[\s,;/|\[\]]*(?:(?:or|and)\b)?[\s,;/|\[\]]*$", re.I)


@lru_cache(maxsize=256)
def _patterns(options: Options) -> dict[str, re.Pattern[str]]:
    letters = "".join(sorted({letter for letter, _ in options}))
    upper, both = f"[{letters}]", f"[{letters}{letters.lower()}]"
    return {
        "marker": re.compile(
            r"(?i:\b(?:answer|option|choice|selection|select|selected|choose|chose|pick|picked|go with|opt for|letter)"
            r"(?:\s+(?:is|would be|should be|will be|must be))?\s*(?:[:=\-]\s*)?(?:option\s+|choice\s+|letter\s+)?)"
            rf"(?:[\(\[]\s*({both})\s*[\)\]]|({upper})(?![\w'-])|({both})(?=\s*(?:[.:;,!)\]]|$)))"
        ),
        "paren": re.compile(rf"[\(\[]\s*({upper})\s*[\)\]]"),
        "start": re.compile(rf"^\W*?(?:({upper})|({both})(?=\s*[.:)\]]))(?=\s*(?:[.:)\]\-,]|$)|\s+\w)"),
        "bold": re.compile(rf"\*\*\s*[\(\[]?({upper})[\)\]]?\s*(?:[:.)\-]|\*\*)"),
        "bare": re.compile(rf"(?<![\w'\-./])({upper})(?![\w'\-])"),
        "label": re.compile(rf"(?<![\w'])[\(\[]?({both})[\)\]]?\s*[:.)\-]\s*"),
    }


def _norm_options(options: Sequence[tuple[str, str]]) -> Options:
    return tuple((letter.strip().upper(), " ".join(text.split())) for letter, text in options)


def _text_pattern(text: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in text.split()]
    return re.compile(r"(?<![\w])" + r"\W*\s+\W*".join(words) + r"(?![\w])", re.I)


def _label_text_spans(cleaned: str, options: Options) -> list[tuple[int, int, str, str]]:
    """(start, end, label letter, letter whose text follows) for every "L: option text" in the answer."""
    spans = []
    for match in _patterns(options)["label"].finditer(cleaned):
        after = cleaned[match.end():]
        best: tuple[int, str] | None = None
        for letter, text in options:
            found = _text_pattern(text).match(after)
            if found and (best is None or found.end() > best[0]):
                best = (found.end(), letter)
        if best:
            spans.append((match.start(), match.end() + best[0], match.group(1).upper(), best[1]))
    return spans


def _blank_echoes(cleaned: str, spans: list[tuple[int, int, str, str]]) -> tuple[str, list[tuple[int, int, str, str]]]:
    """Blank runs of two or more labelled options in a row: the prompt's option list, echoed."""
    runs: list[list[tuple[int, int, str, str]]] = []
    for span in spans:
        if runs and _GAP.match(cleaned[runs[-1][-1][1]:span[0]]):
            runs[-1].append(span)
        else:
            runs.append([span])
    kept = []
    for run in runs:
        if len({label for _, _, label, _ in run}) >= 2:
            for start, end, _, _ in run:
                cleaned = cleaned[:start] + " " * (end - start) + cleaned[end:]
        else:
            kept.extend(run)
    return cleaned, kept


def _text_hits(cleaned: str, options: Options) -> list[tuple[int, int, str]]:
    hits = []
    for letter, text in options:
        if option_polarity(text) and len(text.split()) == 1:
            continue  # a bare "Yes"/"No" option is read by the yes/no tier
        variants = {text}
        stripped = re.sub(r"^\s*(?:yes|no)\b[\s,.:;-]*", "", text, flags=re.I)
        if stripped != text and len(stripped.split()) >= 2:
            variants.add(stripped)
        for variant in variants:
            for match in _text_pattern(variant).finditer(cleaned):
                if not _NEGATOR.search(cleaned[:match.start()][-60:]):
                    hits.append((match.start(), match.end(), letter))
    # The most specific text wins: drop a hit that lies inside a longer hit of another option.
    return [hit for hit in hits if not any(
        other[2] != hit[2] and other[0] <= hit[0] and hit[1] <= other[1] and (other[1] - other[0]) > (hit[1] - hit[0])
        for other in hits)]


def read_choice(text: str | None, options: Sequence[tuple[str, str]]) -> Choice:
    """The option letter an answer picks, or None with the reason (empty, refusal, ambiguous, none found)."""
    opts = _norm_options(options)
    if not opts:
        raise ValueError("read_choice needs at least one option")
    raw = (text or "").replace("\uff1a", ":").replace("\u2019", "'")
    cleaned = clean_text(raw)
    if not re.search(r"\w", cleaned):
        return Choice(None, "empty")
    abstention = detect_abstention(cleaned)
    if abstention.abstained:
        return Choice(None, f"abstained: {abstention.reason}")
    patterns = _patterns(opts)
    cleaned = _IDIOMS.sub(lambda m: " " * len(m.group(0)), cleaned)
    cleaned, labelled = _blank_echoes(cleaned, _label_text_spans(cleaned, opts))

    letters = {letter for letter, _ in opts}
    offered = re.search(r"(?<![\w'])\(?([A-H])\)?\s*(?:,|/|\bor\b|\band\b)\s*\(?([A-H])\)?(?![\w'])", cleaned)
    if offered and {offered.group(1), offered.group(2)} <= letters and offered.group(1) != offered.group(2):
        return Choice(None, f"ambiguous: two letters offered {offered.group(0)!r}")
    for _, _, label, named in labelled:
        if label != named:
            return Choice(None, f"conflict: label {label} is followed by the text of option {named}")

    explicit: dict[str, str] = {}
    for match in patterns["bold"].finditer(raw):
        explicit.setdefault(match.group(1), f"bold {match.group(0)!r}")
    for match in patterns["marker"].finditer(cleaned):
        letter = next(group for group in match.groups() if group)
        explicit.setdefault(letter.upper(), f"marker {match.group(0).strip()!r}")
    for match in patterns["paren"].finditer(cleaned):
        if not _NEGATOR.search(cleaned[:match.start()][-60:]):
            explicit.setdefault(match.group(1), f"label {match.group(0)!r}")
    whole = re.fullmatch(r"\W*([A-Ha-h])\W*", cleaned)
    if whole and whole.group(1).upper() in letters:
        return Choice(whole.group(1).upper(), f"whole answer {cleaned!r}")
    start_match = patterns["start"].match(cleaned)
    if start_match:
        letter = (start_match.group(1) or start_match.group(2)).upper()
        follows = cleaned[start_match.end():]
        is_article = letter == "A" and re.match(r"\s+[a-z]", follows) and not _A_AS_VERB_SUBJECT.match(follows)
        if not is_article:
            explicit.setdefault(letter, f"opening label {cleaned[:start_match.end() + 1].strip()!r}")
    for _, _, label, _ in labelled:
        explicit.setdefault(label, "label with its option text")
    negated = {match.group(1) for match in re.finditer(r"\bnot (?:option |choice |answer )?\(?([A-H])\)?(?![\w'])", cleaned)}
    explicit = {letter: why for letter, why in explicit.items() if letter not in negated}
    if len(explicit) > 1:
        return Choice(None, "ambiguous: " + "; ".join(f"{letter} ({why})" for letter, why in sorted(explicit.items())))
    if explicit:
        letter, why = next(iter(explicit.items()))
        return Choice(letter, why)

    implicit: dict[str, str] = {}
    for match in patterns["bare"].finditer(cleaned):
        letter, after = match.group(1), cleaned[match.end():]
        if letter in negated or _LETTER_CONTEXT.search(cleaned[:match.start()]):
            continue
        if letter == "A" and re.match(r"\s+[a-z]", after) and not _A_AS_VERB_SUBJECT.match(after):
            continue  # the article
        implicit.setdefault(letter, f"letter {letter!r}")
    for start, end, letter in _text_hits(cleaned, opts):
        implicit.setdefault(letter, f"option text {cleaned[start:end]!r}")
    if len(implicit) > 1:
        return Choice(None, "ambiguous: " + "; ".join(f"{letter} ({why})" for letter, why in sorted(implicit.items())))
    if implicit:
        letter, why = next(iter(implicit.items()))
        return Choice(letter, why)

    by_polarity: dict[str, list[str]] = {}
    for letter, option in opts:
        polarity = option_polarity(option)
        if polarity:
            by_polarity.setdefault(polarity, []).append(letter)
    if by_polarity:
        answer = read_yes_no(cleaned)
        if answer.value and len(by_polarity.get(answer.value, [])) == 1:
            letter = by_polarity[answer.value][0]
            return Choice(letter, f"{answer.value} -> option {letter}: {answer.reason}")
        if answer.value:
            return Choice(None, f"read {answer.value!r} but no single option starts with it")
    return Choice(None, "no option letter or option text found")
