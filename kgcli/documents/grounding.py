"""Find an extracted string in its text: character offsets and how closely they match, never a partial span.

Three levels, each tried only where the stricter one finds nothing:

- ``exact``: the string itself.
- ``normalised``: Unicode compatibility forms (NFKC: full-width Latin and digits, ideographic space), runs of
  whitespace, and the case of Latin letters.
- ``loose``: differences only in whitespace (also where one side has none: ``IBM中国研究院`` for ``IBM
  中国研究院``), middle dots (``马丁路德`` for ``马丁·路德``), apostrophes and quotes (``'`` for ``’``),
  hyphens and dashes, and Latin accents (``Sao Paulo`` for ``São Paulo``).

The looser forms are computed on copies of the text that remember, for every character, the original
character it came from, so a match maps back to exact original characters. A Latin (or digit) name matches
only at word boundaries: ``Li`` is not in ``Lisbon``, ``York`` is in ``New York`` (which the document merge
then settles: a mention inside a longer mention is not one). A string found at no level is not in the
text: it gets no offsets (never invented ones).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

EXACT, NORMALISED, LOOSE = "exact", "normalised", "loose"
STATUSES = (EXACT, NORMALISED, LOOSE)

# What the loose level leaves out: middle dots, apostrophes and quotes, hyphens and dashes (whitespace and
# combining accents too).
_LOOSE_DROPPED = frozenset("·・‧•･'’‘‚‛′`´\"“”„‟″＂＇-‐‑‒–—―−﹘﹣－_")


def _normal_char(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char)
    return " " if folded.isspace() else folded.lower()


def _loose_char(char: str) -> str:
    pieces = []
    for piece in unicodedata.normalize("NFD", unicodedata.normalize("NFKC", char)):
        if piece.isspace() or piece in _LOOSE_DROPPED or unicodedata.combining(piece):
            continue
        pieces.append(piece.lower())
    return "".join(pieces)


class MappedText:
    """A text's normalised (or loose) form and, per character of it, the index of its original character."""

    def __init__(self, text: str, loose: bool = False):
        chars: list[str] = []
        origin: list[int] = []
        fold = _loose_char if loose else _normal_char
        for index, char in enumerate(text):
            for piece in fold(char):
                if piece == " " and chars and chars[-1] == " ":
                    continue  # whitespace runs count as one space
                chars.append(piece)
                origin.append(index)
        self.text = "".join(chars)
        self.origin = origin


@lru_cache(maxsize=1 << 16)
def normalise(value: str) -> str:
    return MappedText(value).text.strip()


@lru_cache(maxsize=1 << 16)
def loosen(value: str) -> str:
    return MappedText(value, loose=True).text


def _is_word(char: str) -> bool:
    """A letter or digit of a script that separates words with spaces (not CJK, kana or hangul)."""
    if not char.isalnum():
        return False
    code = ord(char)
    return not (0x2E80 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF
                or 0xFF66 <= code <= 0xFF9F or code >= 0x20000)


_JOINERS = frozenset("'’")  # inside a word: O’Brien, don't


def _joined(text: str, left: int, right: int) -> bool:
    """Whether ``text[left]`` and ``text[right]`` (neighbours) belong to one word: both word characters, or
    one is an apostrophe between word characters."""
    if left < 0 or right >= len(text):
        return False
    a, b = text[left], text[right]
    if _is_word(a) and _is_word(b):
        return True
    if b in _JOINERS:
        return _is_word(a) and right + 1 < len(text) and _is_word(text[right + 1])
    if a in _JOINERS:
        return _is_word(b) and left > 0 and _is_word(text[left - 1])
    return False


def _at_boundaries(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` neither starts nor ends inside a word (a Latin name is not part of a
    longer word; CJK text has no word boundaries to respect)."""
    return not (_joined(text, start - 1, start) or _joined(text, end - 1, end))


class Grounder:
    """One text, its looser forms built on first need; ``find`` grounds a string in it."""

    def __init__(self, text: str):
        self.text = text
        self._normal: MappedText | None = None
        self._loose: MappedText | None = None

    @property
    def normal(self) -> MappedText:
        if self._normal is None:
            self._normal = MappedText(self.text)
        return self._normal

    @property
    def loose(self) -> MappedText:
        if self._loose is None:
            self._loose = MappedText(self.text, loose=True)
        return self._loose

    def find(self, needle: str) -> tuple[list[tuple[int, int]], str | None]:
        """Every (start, end) where ``needle`` occurs (not overlapping, whole words for Latin names) at the
        strictest level that finds it, and that level; ([], None) when it is not in the text."""
        if not needle or not needle.strip():
            return [], None
        found = self._spans(needle, self.text, None)
        if found:
            return found, EXACT
        for status, form, target in ((NORMALISED, self.normal, normalise(needle)),
                                     (LOOSE, self.loose, loosen(needle))):
            if target:
                found = self._spans(target, form.text, form.origin)
                if found:
                    return found, status
        return [], None

    def _spans(self, needle: str, haystack: str, origin: list[int] | None) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        at = haystack.find(needle)
        while at >= 0:
            end = at + len(needle)
            span = (at, end) if origin is None else (origin[at], origin[end - 1] + 1)
            if _at_boundaries(self.text, *span) and (not spans or span[0] >= spans[-1][1]):
                spans.append(span)
                at = haystack.find(needle, end)
            else:
                at = haystack.find(needle, at + 1)
        return spans


def find_all(needle: str, text: str, grounder: Grounder | None = None) -> list[tuple[int, int]]:
    """Every (start, end) where ``needle`` occurs in ``text`` at the strictest level that finds it."""
    return (grounder or Grounder(text)).find(needle)[0]


_SENTENCE_MARKS = frozenset("。！？!?；;\n")


def _ends_sentence(text: str, index: int) -> bool:
    """Whether ``text[index]`` closes a sentence (a full stop only when a space or the end follows)."""
    char = text[index]
    if char in _SENTENCE_MARKS:
        return True
    return char == "." and (index + 1 == len(text) or text[index + 1].isspace())


def context_of(text: str, start: int, end: int, reach: int = 80) -> str:
    """The sentence around ``text[start:end]``: out to the nearest sentence end on each side, at most
    ``reach`` characters away (what a person reads to judge a mention)."""
    left = start
    while left > 0 and start - left < reach and not _ends_sentence(text, left - 1):
        left -= 1
    right = end
    while right < len(text) and right - end < reach and not _ends_sentence(text, right - 1):
        right += 1
    return text[left:right].strip()
