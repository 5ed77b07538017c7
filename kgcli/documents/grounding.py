"""Find an extracted string in its text: character offsets, exact match first, then a normalised one.

The normalised match forgives what models change when they copy a span: Unicode compatibility forms
(NFKC: full-width Latin and digits, ideographic space), runs of whitespace, and the case of Latin letters.
It is computed on a normalised copy of the text that remembers, for every character, the original
character it came from, so a match maps back to the exact original characters. A string found neither way
is not in the text: it gets no offsets (never invented ones).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


def _normal_char(char: str) -> str:
    folded = unicodedata.normalize("NFKC", char)
    return " " if folded.isspace() else folded.lower()


class NormalText:
    """A text's normalised form and, per normalised character, the index of its original character."""

    def __init__(self, text: str):
        chars: list[str] = []
        origin: list[int] = []
        for index, char in enumerate(text):
            for piece in _normal_char(char):
                if piece == " " and chars and chars[-1] == " ":
                    continue  # whitespace runs count as one space
                chars.append(piece)
                origin.append(index)
        self.text = "".join(chars)
        self.origin = origin


@lru_cache(maxsize=1 << 16)
def normalise(value: str) -> str:
    return NormalText(value).text.strip()


def find_all(needle: str, text: str, normal: NormalText | None = None) -> list[tuple[int, int]]:
    """Every (start, end) where ``needle`` occurs in ``text`` (not overlapping): exact occurrences, else
    normalised ones mapped back to the original characters; [] when it is not there."""
    if not needle:
        return []
    found = _occurrences(needle, text)
    if found:
        return found
    target = normalise(needle)
    if not target:
        return []
    normal = normal or NormalText(text)
    spans = []
    for start, end in _occurrences(target, normal.text):
        spans.append((normal.origin[start], normal.origin[end - 1] + 1))
    return spans


def _occurrences(needle: str, text: str) -> list[tuple[int, int]]:
    spans, start = [], text.find(needle)
    while start >= 0:
        spans.append((start, start + len(needle)))
        start = text.find(needle, start + len(needle))
    return spans


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
