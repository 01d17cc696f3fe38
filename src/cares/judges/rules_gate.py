"""Which of the `rules` judge's patterns could match a text, from one scan of it.

Python's regex engine tries a lexicon at every character of the text, about 20 ns each, so a
lexicon costs a few microseconds per clause even where it cannot match. Almost every match of a
lexicon contains one of a few words, which `required` reads out of the compiled pattern itself:
a `Gate` finds all such words of all its patterns in one scan, and a pattern none of whose words
occur cannot match. The gate only ever skips work: a pattern it lets through is still run, so
every verdict is the one the patterns give (tests/judges/test_rules_gate.py checks both).

The scan works on a copy of the text (`_copy`) in which every character that is not part of a word
is a space, and one space stands before and after; the words are written the same way, so a word
boundary or the start or end of the text is a space there, and every word starts with a space: one
regex that looks at every space of the copy finds them all. A pattern with a word that does not
start with a space is not gated: it is always let through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

try:
    from re import _constants as _c, _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # Python 3.10
    import sre_constants as _c  # type: ignore[no-redef]
    import sre_parse as _sre  # type: ignore[no-redef]

# Joining two sets of strings makes every pair: more pairs than this are not worth the bookkeeping.
_CAP = 256
# A set of more strings than this is kept only as a set one of which every match contains.
_MAX = 4096
# Alternatives joined one by one to what stands around them, at most.
_ALTS = 64
# A prefix or suffix longer than this adds nothing a shorter one does not.
_EDGE = 24
# Stands for a word boundary until the characters on both sides of it are known.
_BOUNDARY = "\x01"
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_SPACE = " "


def _copy(ch: str) -> str:
    """A character as it stands in the scan copy: ASCII letters and underscore stay, any decimal digit is 0
    (so that a digit class is one character there), any other character of a word (for `\\b` and `\\w`)
    is an underscore, anything else a space."""
    if ch.isdecimal():
        return "0"
    if ch.isalnum() or ch == "_":
        return ch if ch.isascii() else "_"
    return _SPACE


_TABLE = bytes(ord(_copy(chr(c))) for c in range(128)) + bytes(128)
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _copy_run(match: re.Match[str]) -> str:
    return "".join(map(_copy, match.group()))


def _scan_copy(text: str) -> bytes:
    """The scan copy of `text`, one character for each of its characters, with a space before and after."""
    if not text.isascii():
        text = _NON_ASCII.sub(_copy_run, text)
    return b" " + text.encode().translate(_TABLE) + b" "


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
            out.append(_SPACE)
    return "".join(out)


def _align(s: str) -> str:
    """The string from its first space on, when that is more than a space: the scan finds it at that space."""
    cut = s.find(_SPACE)
    return s[cut:] if cut > 0 and s[cut:].strip() else s


@lru_cache(maxsize=None)
def _word(s: str) -> str | None:
    """The string as the scan looks for it, None when it cannot occur."""
    resolved = _resolve(s)
    return None if resolved is None else _align(resolved)


@lru_cache(maxsize=None)
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
    aligned = all(w.startswith(_SPACE) for w in words)
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
    exacts = [i.exact for i in infos]
    if all(e is not None for e in exacts):
        return _exact(frozenset().union(*exacts))  # type: ignore[arg-type]
    inners = [_best(i.inner, i.exact, i.prefix, i.suffix) for i in infos]
    inner = None if any(i is None for i in inners) else frozenset().union(*inners)  # type: ignore[misc]
    return _Info(None, frozenset().union(*(i.prefix for i in infos)), frozenset().union(*(i.suffix for i in infos)),
                 inner, tuple(infos))


@lru_cache(maxsize=None)
def _chars(items: tuple) -> _Info:
    """A character class as the characters it stands for in the scan copy."""
    chars: set[str] = set()
    for op, av in items:
        if op is _c.LITERAL:
            chars.add(_copy(chr(av)))
        elif op is _c.RANGE and av[1] - av[0] < 0x10000:
            chars.update(_copy(chr(code)) for code in range(av[0], av[1] + 1))
        elif op is _c.CATEGORY and str(av).replace("UNI_", "") in _CATEGORIES:
            chars.add(_CATEGORIES[str(av).replace("UNI_", "")])
        else:
            return _UNKNOWN  # a negated class, a word class: next to anything
    return _exact(frozenset(chars)) if len(chars) <= 4 else _UNKNOWN


_CATEGORIES = {"CATEGORY_DIGIT": "0", "CATEGORY_SPACE": _SPACE, "CATEGORY_NOT_WORD": _SPACE}


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


def _item(op: object, av: object, at_start: bool, at_end: bool) -> _Info:
    if op is _c.LITERAL:
        ch = chr(av)  # type: ignore[arg-type]
        return _exact(frozenset({_copy(ch)}))
    if op is _c.IN:
        return _chars(tuple(av))  # type: ignore[arg-type]
    if op is _c.AT:
        if av in (_c.AT_BOUNDARY, getattr(_c, "AT_UNI_BOUNDARY", None)):
            return _exact(frozenset({_BOUNDARY}))
        if av in (_c.AT_BEGINNING, _c.AT_BEGINNING_STRING, _c.AT_END, _c.AT_END_STRING):
            return _exact(frozenset({_SPACE}))  # the space the scan copy has at each end
        return _EMPTY
    if op is _c.ASSERT:
        direction, body = av  # type: ignore[misc]
        # What a lookbehind at the very start or a lookahead at the very end sees is in the text too.
        if (direction < 0 and at_start) or (direction > 0 and at_end):
            return _sequence(body, at_start, at_end)
        return _EMPTY
    if op is _c.ASSERT_NOT:
        return _EMPTY
    if op is _c.BRANCH:
        return _either([_sequence(alt, at_start, at_end) for alt in av[1]])  # type: ignore[index]
    if op is _c.SUBPATTERN:
        group, add_flags, del_flags, body = av  # type: ignore[misc]
        return _UNKNOWN if add_flags or del_flags else _sequence(body, at_start, at_end)
    if op is getattr(_c, "ATOMIC_GROUP", None):
        return _sequence(av, at_start, at_end)  # type: ignore[arg-type]
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
        return _repeat(*av)  # type: ignore[misc]
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


def alternatives(pattern: re.Pattern[str], depth: int = 0) -> list[re.Pattern[str]]:
    """Patterns, in order, whose leftmost match (the first of them at the leftmost place) is the pattern's.

    A pattern's top-level alternatives are such a list, and so are those of a group that ends an
    alternative, each after what stands before the group when that matches in one way only (word
    boundaries, anchors, letters): "\\b(?:cause|crime)" is "\\bcause" and "\\bcrime". `depth` groups deep.
    """
    if pattern.groups or depth < 0:
        return [pattern]  # numbered groups would be numbered anew
    return [re.compile(part, pattern.flags) for part in _parts(pattern.pattern, depth)]


def _parts(pattern: str, depth: int) -> list[str]:
    out = []
    for alt in _top_level(pattern)[0]:
        start = 0
        while start < len(alt) and (alt[start].isalnum() or alt[start] in " '^" or alt.startswith("\\b", start)):
            start += 2 if alt.startswith("\\b", start) else 1
        if depth and alt.startswith("(?:", start):
            inner, end = _top_level(alt[start + 3:])
            if start + 3 + end == len(alt) - 1:
                out += [alt[:start] + part for one in inner for part in _parts(one, depth - 1)]
                continue
        out.append(alt)
    return out


def _top_level(pattern: str) -> tuple[list[str], int]:
    """The top-level alternatives of `pattern` up to its first unmatched ')', and where that is."""
    parts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1
        elif in_class or c == "[":
            in_class = c != "]" or (in_class and pattern[i - 1] == "[")
        elif c == "(":
            depth += 1
        elif c == ")":
            if not depth:
                break
            depth -= 1
        elif c == "|" and not depth:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    return parts + [pattern[start:i]], i


class Gated:
    """A pattern as its `alternatives`, each run only where the scan says it could match.

    Alternative i has bit `1 << (offset + i)` in a scan's mask.
    """

    def __init__(self, parts: list[re.Pattern[str]], offset: int) -> None:
        self.parts = parts
        self.offset = offset
        self.bits = ((1 << len(parts)) - 1) << offset

    def search(self, text: str, mask: int) -> re.Match[str] | None:
        """`pattern.search(text)`, given `mask`, the bits of what could match `text`."""
        best = None
        todo = (mask & self.bits) >> self.offset
        while todo:
            low = todo & -todo
            todo ^= low
            match = self.parts[low.bit_length() - 1].search(text)
            if match is not None and (best is None or match.start() < best.start()):
                best = match
        return best

    def found(self, text: str, mask: int) -> bool:
        """`bool(pattern.search(text))`, given `mask`."""
        todo = (mask & self.bits) >> self.offset
        while todo:
            low = todo & -todo
            todo ^= low
            if self.parts[low.bit_length() - 1].search(text):
                return True
        return False

    def match(self, text: str, mask: int) -> re.Match[str] | None:
        """`pattern.match(text)`, given `mask`."""
        todo = (mask & self.bits) >> self.offset
        while todo:
            low = todo & -todo
            todo ^= low
            match = self.parts[low.bit_length() - 1].match(text)
            if match is not None:
                return match
        return None


class Gate:
    """Patterns found out by one scan: `find` and `scan` give the bits of what could match a text, and
    each pattern, as `gated[name]`, runs only the alternatives whose bits are set."""

    def __init__(self, patterns: dict[str, re.Pattern[str]]) -> None:
        spaced: dict[str, int] = {}
        self.ungated = 0
        self.gated: dict[str, Gated] = {}
        count = 0
        for name, pattern in patterns.items():
            parts = alternatives(pattern)
            self.gated[name] = Gated(parts, count)
            for part in parts:
                bit = 1 << count
                count += 1
                words = required(part)
                # With no word to look for, or one the scan cannot find, it is always let through.
                if words is None or not all(w.startswith(_SPACE) for w in words):
                    self.ungated |= bit
                else:
                    for word in words:
                        spaced[word[1:]] = spaced.get(word[1:], 0) | bit
        self.all = (1 << count) - 1
        # At each space the scan reports the longest word; the words it begins with are there too.
        # `_words` holds, for each word, how many spaces it starts with and the bits it stands for.
        self._words = {w.encode(): (len(w) - len(w.lstrip(_SPACE)), self._prefixes(w, spaced)) for w in spaced}
        self._scan = re.compile(rb" (?=(" + _trie(sorted(spaced)).encode() + rb"))") if spaced else None

    @staticmethod
    def _prefixes(word: str, words: dict[str, int]) -> int:
        bits = 0
        for i in range(1, len(word) + 1):
            bits |= words.get(word[:i], 0)
        return bits

    def scan(self, text: str) -> int:
        """The bits of what could match `text`."""
        bits = self.ungated
        if self._scan is not None:
            words = self._words
            for word in self._scan.findall(_scan_copy(text)):
                bits |= words[word][1]
        return bits

    def find(self, text: str) -> list[tuple[int, int]]:
        """(where in `text` the word starts, its bits) for each word found. A pattern matching a stretch of
        the text with no letter, digit or underscore just before or after it has a word that starts there."""
        if self._scan is None:
            return []
        words = self._words
        found = []
        for match in self._scan.finditer(_scan_copy(text)):
            spaces, bits = words[match.group(1)]
            # The copy has one character more in front: its space at `start()` stands before text[start()].
            found.append((match.start() + spaces, bits))
        return found


def _trie(words: list[str]) -> str:
    """One regex alternation of `words` that, at each place, matches the longest of them that fits."""
    tree: dict = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _alternation(tree)


def _alternation(node: dict) -> str:
    parts = [re.escape(ch) + _alternation(child) for ch, child in node.items() if ch]
    if "" in node:
        parts.append("")  # the word ends here: tried after every longer one
    if len(parts) == 1:
        return parts[0]
    return "(?:" + "|".join(parts) + ")"
