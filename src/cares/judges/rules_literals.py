"""What every match of a regex contains: the words the `rules` judge's gate looks for (`rules_gate.py`).

`required(pattern)` reads the compiled pattern's parse tree and gives a set of strings one of which
stands in the scan copy (`scan_char`) of any text the pattern matches. It is worked out piece by piece
of the pattern (`_Info`): the strings a piece matches, when they are few, or the strings its matches
start with, end with and contain; a sequence joins them, and alternatives unite them.

Whatever cannot be told for sure says nothing (a class like `\\w`, a repeat that may be empty), so
the strings are always required; they are only ever fewer and shorter than they could be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from itertools import product
from typing import Any

try:
    from re import _constants as _c  # type: ignore[attr-defined]  # private, not in the stubs
    from re import _parser as _sre  # type: ignore[attr-defined]  # private, not in the stubs
except ImportError:  # Python 3.10
    import sre_constants as _c
    import sre_parse as _sre

# Joining two sets of strings makes every pair: more pairs than this are not worth the bookkeeping.
_CAP = 256
# A set of more strings than this is kept only as a set one of which every match contains.
_MAX = 4096
# Alternatives joined one by one to what stands before them, at most.
_ALTS = 64
# A prefix or suffix longer than this adds nothing a shorter one does not.
_EDGE = 24
# Stands for a word boundary until the characters on both sides of it are known.
_BOUNDARY = "\x01"
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
SPACE = " "


def scan_char(ch: str) -> str:
    """A character as it stands in the scan copy: ASCII letters and underscore stay, any decimal digit is 0
    (so that a digit class is one character there), any other character of a word (for `\\b` and `\\w`)
    is an underscore, anything else a space."""
    if ch.isdecimal():
        return "0"
    if ch.isalnum() or ch == "_":
        return ch if ch.isascii() else "_"
    return SPACE


@dataclass(frozen=True)
class _Info:
    """What every match of a piece of a pattern looks like in the scan copy.

    `exact`: all the strings it can match, when few; `prefix` / `suffix`: every match starts / ends
    with one of these ("" among them: nothing known); `inner`: every match contains one of these.
    """

    exact: frozenset[str] | None
    prefix: frozenset[str]
    suffix: frozenset[str]
    inner: frozenset[str] | None
    # The alternatives it is made of, kept so that what stands around it is joined to each of them.
    alts: tuple[_Info, ...] = ()


_NOTHING = frozenset({""})
_UNKNOWN = _Info(None, _NOTHING, _NOTHING, None)
_EMPTY = _Info(_NOTHING, _NOTHING, _NOTHING, None)


def _exact(strings: frozenset[str]) -> _Info:
    if len(strings) > _MAX:
        return _Info(None, _trim(strings, True), _trim(strings, False), strings)
    return _Info(strings, strings, strings, None)


def _trim(strings: frozenset[str], head: bool) -> frozenset[str]:
    return frozenset(s[:_EDGE] if head else s[-_EDGE:] for s in strings)


def _cross(a: frozenset[str], b: frozenset[str]) -> frozenset[str] | None:
    if len(a) * len(b) > max(_CAP, len(a), len(b)):
        return None
    return frozenset(x + y for x, y in product(a, b))


def _resolve(s: str) -> str | None:
    """The string as it stands in the scan copy, boundaries made spaces; None when it cannot occur."""
    out = []
    for i, ch in enumerate(s):
        if ch != _BOUNDARY:
            out.append(ch)
            continue
        before = next((c for c in reversed(s[:i]) if c != _BOUNDARY), None)
        after = next((c for c in s[i + 1:] if c != _BOUNDARY), None)
        word_before = before is not None and before in _WORD
        word_after = after is not None and after in _WORD
        if before is not None and after is not None and word_before == word_after:
            return None  # no boundary between two word or two non-word characters
        # The character on the unknown side is a non-word one, or the edge of the text: a space.
        if (word_before and after is None) or (word_after and before is None):
            out.append(SPACE)
    return "".join(out)


def _align(s: str) -> str:
    """The string from its first space on, when that is more than a space: the scan finds it at that space."""
    cut = s.find(SPACE)
    return s[cut:] if cut > 0 and s[cut:].strip() else s


@cache
def _word(s: str) -> str | None:
    """The string as the scan looks for it, None when it cannot occur."""
    resolved = _resolve(s)
    return None if resolved is None else _align(resolved)


@cache
def _score(strings: frozenset[str] | None) -> tuple[int, int] | None:
    """How useful a set of required strings is as a gate: long words, all after a space, few of them."""
    if strings is None:
        return None
    words = [w for w in map(_word, strings) if w is not None]
    if not words:
        return (99, 0)  # it never matches
    shortest = min(len(w.strip()) for w in words)
    if shortest == 0:
        return None
    aligned = all(w.startswith(SPACE) for w in words)
    return (min(shortest, 6) + (2 if aligned else 0), -len(strings))


def _best(*candidates: frozenset[str] | None) -> frozenset[str] | None:
    scored = [(score, c) for c in candidates if (score := _score(c)) is not None]
    return max(scored, key=lambda pair: pair[0])[1] if scored else None


def _concat(a: _Info, b: _Info) -> _Info:
    if a.exact is not None and b.exact is not None:
        both = _cross(a.exact, b.exact)
        if both is not None:
            return _exact(both)
    # What stands before alternatives is joined to each of them (see `_sequence`).
    if b.alts and len(b.alts) <= _ALTS:
        return _either([_concat(a, alt) for alt in b.alts])
    prefix = (_cross(a.exact, b.prefix) or a.exact) if a.exact is not None else a.prefix
    suffix = (_cross(a.suffix, b.exact) or b.exact) if b.exact is not None else b.suffix
    inner = _best(a.inner, a.exact, b.inner, b.exact, _cross(a.suffix, b.prefix))
    return _Info(None, _trim(prefix, True), _trim(suffix, False), inner)


def _either(infos: list[_Info]) -> _Info:
    if len(infos) == 1:
        return infos[0]
    if not infos:
        return _exact(frozenset())
    exacts = [i.exact for i in infos if i.exact is not None]
    if len(exacts) == len(infos):
        return _exact(frozenset[str]().union(*exacts))
    inners = [_best(i.inner, i.exact, i.prefix, i.suffix) for i in infos]
    known = [i for i in inners if i is not None]
    inner = frozenset[str]().union(*known) if len(known) == len(inners) else None
    return _Info(None, frozenset().union(*(i.prefix for i in infos)), frozenset().union(*(i.suffix for i in infos)),
                 inner, tuple(infos))


@cache
def _chars(items: tuple) -> _Info:
    """A character class as the characters it stands for in the scan copy."""
    chars: set[str] = set()
    for op, av in items:
        if op is _c.LITERAL:
            chars.add(scan_char(chr(av)))
        elif op is _c.RANGE and av[1] - av[0] < 0x10000:
            chars.update(scan_char(chr(code)) for code in range(av[0], av[1] + 1))
        elif op is _c.CATEGORY and str(av).replace("UNI_", "") in _CATEGORIES:
            chars.add(_CATEGORIES[str(av).replace("UNI_", "")])
        else:
            return _UNKNOWN  # a negated class, a word class: next to anything
    return _exact(frozenset(chars)) if len(chars) <= 4 else _UNKNOWN


_CATEGORIES = {"CATEGORY_DIGIT": "0", "CATEGORY_SPACE": SPACE, "CATEGORY_NOT_WORD": SPACE}


def _sequence(items: list, at_start: bool, at_end: bool, before: _Info | None = None) -> _Info:
    """Every match of `items` as joined to `before`, what the pattern matched just ahead of them."""
    # Optional pieces that are not exact fork the sequence: with them and without them.
    states: list[_Info | None] = [before]
    for n, (op, av) in enumerate(items):
        last = at_end and n == len(items) - 1
        joinable = all(s is None or s.exact is not None for s in states)
        if joinable and (op is _c.BRANCH or (op is _c.SUBPATTERN and not av[1] and not av[2])):
            # Each alternative is read on from what stands before it: "\\b(?:cause|crime)" is the words
            # " cause" and " crime", not a boundary beside "cause" or "crime".
            alts = av[1] if op is _c.BRANCH else [av[3]]
            states = [_either([_sequence(list(alt), at_start and s is None, last, s) for alt in alts]) for s in states]
            continue
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)) and av[0] == 0:
            body = _repeat(1, av[1], av[2])
            if body.exact is None and len(states) * 2 <= 16:
                states = states + [(body if s is None else _concat(s, body)) for s in states]
                continue
        info = _item(op, av, at_start and all(s is None for s in states), last)
        states = [info if s is None else _concat(s, info) for s in states]
    return _either([_EMPTY if s is None else s for s in states])


def _repeat(lo: int, hi: int, body: list) -> _Info:
    inner = _sequence(body, False, False)
    if inner.exact is not None:
        if lo == hi and len(inner.exact) ** lo <= _CAP:
            return _exact(frozenset("".join(p) for p in product(inner.exact, repeat=lo)))
        if lo == 0 and hi == 1:
            return _exact(inner.exact | _NOTHING)
    if lo == 0:
        return _UNKNOWN
    # At least one copy: it starts with the first copy's start and ends with the last one's end.
    return _Info(None, inner.exact or inner.prefix, inner.exact or inner.suffix, _best(inner.inner, inner.exact))


def _item(op: object, av: Any, at_start: bool, at_end: bool) -> _Info:
    # `av` is the parser's argument of `op`: an int, a tuple or a list, depending on `op`.
    if op is _c.LITERAL:
        ch = chr(av)
        return _exact(frozenset({scan_char(ch)}))
    if op is _c.IN:
        return _chars(tuple(av))
    if op is _c.AT:
        if av in (_c.AT_BOUNDARY, getattr(_c, "AT_UNI_BOUNDARY", None)):
            return _exact(frozenset({_BOUNDARY}))
        if av in (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING, _c.AT_END, _c.AT_END_STRING):
            return _exact(frozenset({SPACE}))  # the space the scan copy has at each end
        return _EMPTY
    if op is _c.ASSERT:
        direction, body = av
        # What a lookbehind at the very start or a lookahead at the very end sees is in the text too.
        if (direction < 0 and at_start) or (direction > 0 and at_end):
            return _sequence(body, at_start, at_end)
        return _EMPTY
    if op is _c.ASSERT_NOT:
        return _EMPTY
    if op is _c.BRANCH:
        return _either([_sequence(alt, at_start, at_end) for alt in av[1]])
    if op is _c.SUBPATTERN:
        group, add_flags, del_flags, body = av
        return _UNKNOWN if add_flags or del_flags else _sequence(body, at_start, at_end)
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _sequence(av, at_start, at_end)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        return _repeat(*av)
    return _UNKNOWN


def required(pattern: re.Pattern[str]) -> frozenset[str] | None:
    """Strings of the scan copy one of which stands in the scan copy of any text the pattern matches;
    None when there are none worth looking for. An empty set: it never matches."""
    if pattern.flags & (re.IGNORECASE | re.MULTILINE | re.VERBOSE) or not isinstance(pattern.pattern, str):
        return None
    root = _sequence(list(_sre.parse(pattern.pattern, pattern.flags)), True, True)
    best = _best(root.inner, root.exact, root.prefix, root.suffix)
    if best is None:
        return None
    return frozenset(w for w in map(_word, best) if w is not None)
