"""Which of the `rules` judge's patterns could match a text, from one scan of it.

Python's regex engine tries a lexicon at every character of the text, about 20 ns each, so a
lexicon costs a few microseconds per clause even where it cannot match. Almost every match of a
lexicon contains one of a few words, which `rules_literals.required` reads out of the compiled
pattern itself: a `Gate` finds all such words of all its patterns in one scan, and a pattern none
of whose words occur cannot match. The gate only ever skips work: a pattern it lets through is still
run, so every verdict is the one the patterns give (tests/judges/test_rules_gate.py checks both).

The scan works on a copy of the text (`rules_literals.scan_char`) in which every character that is
not part of a word is a space, and one space stands before and after; the words are written the same
way, so a word boundary or the start or end of the text is a space there, and every word starts
with a space: one regex that looks at every space of the copy finds them all. A pattern with a word
that does not start with a space is not gated: it is always let through.
"""

from __future__ import annotations

import re

from cares.judges.rules_literals import SPACE, required, scan_char

# For ASCII text; any other character is put in the copy before (`_scan_copy`).
_TABLE = bytes(ord(scan_char(chr(c))) for c in range(128)) + bytes(range(128, 256))
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# Inline flags would be lost on alternatives compiled apart.
_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux]")


def _copy_run(match: re.Match[str]) -> str:
    return "".join(map(scan_char, match.group()))


def _scan_copy(text: str) -> bytes:
    """The scan copy of `text`, one character for each of its characters, with a space before and after."""
    if not text.isascii():
        text = _NON_ASCII.sub(_copy_run, text)
    return b" " + text.encode().translate(_TABLE) + b" "


def alternatives(pattern: re.Pattern[str], depth: int = 0) -> list[re.Pattern[str]]:
    """Patterns, in order, whose leftmost match (the first of them at the leftmost place) is the pattern's.

    A pattern's top-level alternatives are such a list, and so are those of a group that ends an
    alternative, each after what stands before the group when that matches in one way only (word
    boundaries, anchors, letters): "\\b(?:cause|crime)" is "\\bcause" and "\\bcrime". `depth` groups deep.
    """
    if pattern.groups or _INLINE_FLAGS.search(pattern.pattern):
        return [pattern]  # groups would be numbered anew, and inline flags lost
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
                if words is None or not all(w.startswith(SPACE) for w in words):
                    self.ungated |= bit
                else:
                    for word in words:
                        spaced[word[1:]] = spaced.get(word[1:], 0) | bit
        self.all = (1 << count) - 1
        # At each space the scan reports the longest word there; the words it begins with are there too,
        # so a word adds nothing where one it begins with stands for all its bits.
        closed = {w: self._prefixes(w, spaced) for w in spaced}
        kept = [w for w in sorted(spaced) if closed[w] != self._prefixes(w[:-1], spaced)]
        # `_words` holds, for each word, how many spaces it starts with and the bits it stands for.
        self._words = {w.encode(): (len(w) - len(w.lstrip(SPACE)), closed[w]) for w in kept}
        self._scan = re.compile(rb" (?=(" + _trie(kept).encode() + rb"))") if kept else None

    @staticmethod
    def _prefixes(word: str, words: dict[str, int]) -> int:
        """The bits of `word` and of every word it begins with."""
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
        """(where in `text` it starts, its bits) for each word found. Where a pattern matches a stretch of the
        text with no word character just before or after it (a clause), one of its words starts in it."""
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
