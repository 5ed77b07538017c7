"""A document's language by its script: Chinese (Han characters) or English (Latin letters).

Used where the instruction language is chosen per document (``kgc extract --language auto``), to warn when
a chosen language does not match a text, and to tag a graph's RDF literals. A Chinese word is one or two
characters where an English word is about five letters, so Han counts four times a Latin letter: a Chinese
text naming ``Apple Inc.`` stays Chinese, an English one naming 北京 stays English.
"""

from __future__ import annotations

import re

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
SAMPLE = 20_000  # characters read: enough to tell, and a long document costs no more than that
HAN_WEIGHT = 4
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English"}  # as messages name them


def script_language(text: str) -> str | None:
    """``zh``, ``en``, or None when the text has neither script (digits, punctuation, another script)."""
    sample = text[:SAMPLE]
    han = len(HAN.findall(sample))
    latin = len(LATIN.findall(sample))
    if not han and not latin:
        return None
    return "zh" if han * HAN_WEIGHT >= latin else "en"


def mismatch(language: str, text: str) -> str | None:
    """The script's language when it is known and is not ``language``; else None."""
    found = script_language(text)
    return found if found is not None and found != language else None
