"""Alias keys: what a name may be written with or without and still name the same thing — legal forms at its
end (``Inc.``, ``GmbH``, ``有限公司``, ``集团`` …), an article at its start, punctuation and spacing inside.
Names with one alias key (and one type) are merged by ``--resolve aliases``; nothing else is.

Any other containment — one name the start or the end of a longer one of the same type, ``Ember Motors`` /
``Ember Motors Finance``, ``阿里巴巴`` / ``阿里巴巴影业`` — is only ever a proposal, and never where a digit
is in either name (``Model 3`` / ``Model 3 Long Range``): a person (or a decisions file) confirms it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache

LEGAL_FORMS = frozenset({
    "inc", "incorporated", "ltd", "limited", "corp", "corporation", "co", "llc", "plc", "llp", "lp", "gmbh",
    "ag", "sa", "sas", "sarl", "nv", "bv", "spa", "srl", "pty", "kg", "kk", "oy", "ab", "as", "group",
    "holding", "holdings",
})
LEGAL_FORMS_CJK = ("股份有限公司", "有限责任公司", "有限公司", "股份公司", "集团", "控股", "株式会社")
# What a Chinese company's registered name puts between its name and its legal form (华为技术有限公司):
# dropped only where a legal form was.
TRADES_CJK = ("信息技术", "网络技术", "技术", "科技", "网络", "信息", "软件", "电子")
ARTICLES = frozenset({"the", "a", "an"})
GOLD_KEY = "\x1fid:"  # a gold graph's node key: the annotation's entity id, not a name (never an alias)


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x2E80 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or code >= 0x20000


@lru_cache(maxsize=1 << 16)
def alias_words(name_key: str) -> tuple[str, ...]:
    """A normalised name's words without punctuation, a leading article or trailing legal forms (a name
    that is nothing else keeps them)."""
    if name_key.startswith(GOLD_KEY):
        return (name_key,)
    cleaned = "".join(
        c if c.isalnum() or c.isspace() or c in ".&" else " " for c in name_key)
    words = [w.replace(".", "") for w in cleaned.split()]
    words = [w for w in words if w]
    if len(words) > 1 and words[0] in ARTICLES:
        words = words[1:]
    legal = False
    while words:
        last = words[-1]
        form = next((f for f in LEGAL_FORMS_CJK if last.endswith(f) and len(last) - len(f) >= 2), None)
        if form is None and legal:
            form = next((f for f in TRADES_CJK if last.endswith(f) and len(last) - len(f) >= 2), None)
        if form:
            words[-1], legal = last[: -len(form)], True
        elif len(words) > 1 and (last in LEGAL_FORMS or last in LEGAL_FORMS_CJK):
            words.pop()
        else:
            break
    return tuple(words) or (name_key,)


def alias_key(name_key: str) -> str:
    """Names with one alias key are written forms of one name (``Ember Motors, Inc.`` / ``Ember Motors``;
    ``阿里巴巴集团控股有限公司`` / ``阿里巴巴``)."""
    return "".join(alias_words(name_key))


def _numbered(words: tuple[str, ...]) -> bool:
    return any(c.isdigit() for w in words for c in w)


def contained(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    """Whether one name is the start or the end of a longer one, word by word (character by character in
    Chinese and Japanese), with the guard: no digits in either, and at least two Chinese characters or four
    letters in the shorter."""
    if _numbered(short) or _numbered(long):
        return False
    short_text, long_text = " ".join(short), " ".join(long)
    if len(short_text) >= len(long_text):
        return False
    cjk = all(_is_cjk(c) for c in short_text)
    if len(short_text) < (2 if cjk else 4):
        return False
    if cjk:
        return long_text.startswith(short_text) or long_text.endswith(short_text)
    return long[: len(short)] == short or long[-len(short):] == short


def _parts(words: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    """The shorter names a name may contain at its start or end: its first and last words, or for a name of
    Chinese characters alone, its first and last characters."""
    if len(words) == 1 and all(_is_cjk(c) for c in words[0]):
        text = words[0]
        for k in range(2, len(text)):
            yield (text[:k],)
            yield (text[-k:],)
        return
    for k in range(1, len(words)):
        yield words[:k]
        yield words[-k:]


def containment_pairs(names: Iterable[tuple[str, str, tuple[str, ...]]]) -> list[tuple[str, str]]:
    """(id, type, alias words) of nodes → the (shorter, longer) id pairs where one name contains the other
    (same type, the guard of ``contained``), each pair once, sorted."""
    by_words: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    listed = list(names)
    for node_id, node_type, words in listed:
        by_words.setdefault((node_type, words), []).append(node_id)
    pairs: set[tuple[str, str]] = set()
    for node_id, node_type, words in listed:
        for part in set(_parts(words)):
            for short_id in by_words.get((node_type, part), ()):
                if short_id != node_id and contained(part, words):
                    pairs.add((short_id, node_id))
    return sorted(pairs)
