"""Generated documents with gold mention offsets, built to hold every grounding hazard: names inside longer
names (of the same type and of others), a name repeated a hundred times, spaces and Latin inside Chinese
names, full-width punctuation and Latin, a sentence longer than a chunk. A gold mention is never inside
another (nested names are not kept: the README says so).

Each document is a list of pieces, text or (name, type); its text is their concatenation and its gold the
offsets of the (name, type) pieces.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

Piece = str | tuple[str, str]

ZH_TYPES = ["人物", "组织机构", "地点"]
EN_TYPES = ["person", "organization", "location"]

P, G, L = "人物", "组织机构", "地点"  # person, organisation, place
ZH_SENTENCES: list[list[Piece]] = [
    [("李明远", P), "毕业于", ("北京大学", G), "，后来在", ("北京", L), "定居。"],
    [("李明", P), "在", ("杭州银行", G), "工作，", ("杭州", L), "是他的家乡。"],
    [("IBM 中国研究院", G), "与", ("北京大学", G), "签署了合作协议。"],
    [("马丁·路德", P), "的著作在「", ("北京", L), "」很受欢迎！"],
    [("ＩＢＭ", G), "在", ("杭州", L), "设有分部；", ("李明远", P), "曾在那里实习。"],
    ["据", ("杭州银行", G), "披露，", ("李明", P), "将于明年调往", ("北京", L), "。"],
    [("王小红", P), "说：“", ("北京大学", G), "的图书馆比", ("杭州", L), "的大。”"],
]
PP, OO, LL = "person", "organization", "location"
EN_SENTENCES: list[list[Piece]] = [
    [("John Smithson", PP), " met ", ("John Smith", PP), " in ", ("New York", LL), ". "],
    [("The New York Times", OO), " reported on the ", ("Bank of Lisbon", OO), ". "],
    [("Li", PP), " moved from ", ("Lisbon", LL), " to ", ("York", LL), ". "],
    [("Sean O’Brien", PP), " flew to ", ("São Paulo", LL), " for the ", ("Bank of Lisbon", OO), ". "],
    [("Anne-Marie Dubois", PP), " works in ", ("Lisbon", LL), " for ", ("The New York Times", OO), ". "],
    ["In ", ("New York", LL), ", ", ("John Smith", PP), " and ", ("Li", PP), " met ", ("Sean O’Brien", PP),
     ". "],
    ["Nobody in ", ("York", LL), " had heard of the ", ("Bank of Lisbon", OO), " before. "],
]


@dataclass
class GoldDocument:
    name: str
    language: str
    pieces: list[Piece]

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p[0] for p in self.pieces)

    @property
    def gold(self) -> set[tuple[int, int, str]]:
        """(start, end, type) of every gold mention."""
        found, at = set(), 0
        for piece in self.pieces:
            if isinstance(piece, str):
                at += len(piece)
            else:
                found.add((at, at + len(piece[0]), piece[1]))
                at += len(piece[0])
        return found

    @property
    def types(self) -> list[str]:
        return ZH_TYPES if self.language == "zh" else EN_TYPES


def _document(name: str, language: str, seed: int) -> GoldDocument:
    rng = random.Random(seed)
    sentences = ZH_SENTENCES if language == "zh" else EN_SENTENCES
    pieces: list[Piece] = []
    paragraph = 0
    while sum(len(p if isinstance(p, str) else p[0]) for p in pieces) < 3200:
        pieces.extend(rng.choice(sentences))
        paragraph += 1
        if paragraph % 6 == 0:
            pieces.append("\n\n")
    # a sentence longer than a chunk: a list of names that never ends in a full stop
    if language == "zh":
        listed = [("李明远", P), ("北京大学", G), ("杭州", L), ("马丁·路德", P), ("杭州银行", G), ("北京", L)]
        pieces.append("出席会议的有")
        for index in range(60):
            pieces.extend([listed[index % len(listed)], "、" if index < 59 else "。\n\n"])
        repeated: list[Piece] = ["他又回到", ("北京", L), "。"]
    else:
        listed = [("John Smithson", PP), ("Lisbon", LL), ("New York", LL), ("John Smith", PP),
                  ("Bank of Lisbon", OO), ("York", LL)]
        pieces.append("The delegates were ")
        for index in range(60):
            pieces.extend([listed[index % len(listed)], ", " if index < 59 else ".\n\n"])
        repeated = ["He went back to ", ("Lisbon", LL), ". "]
    for index in range(100):  # one name a hundred times more
        pieces.extend(repeated)
        if index % 20 == 19:
            pieces.append("\n\n")
    return GoldDocument(name, language, pieces)


def documents() -> list[GoldDocument]:
    """Two Chinese and two English documents of more than 3,000 characters."""
    return [_document("zh-1", "zh", 1), _document("zh-2", "zh", 2), _document("en-1", "en", 3),
            _document("en-2", "en", 4)]


def chapters(document: GoldDocument, parts: int = 4) -> list[tuple[int, str]]:
    """The document cut at paragraph breaks into about ``parts`` chapters: (offset, text) each."""
    text = document.text
    breaks = [i + 2 for i in range(len(text)) if text.startswith("\n\n", i)]
    size = len(text) / parts
    cuts = sorted({min(breaks, key=lambda b: abs(b - size * k)) for k in range(1, parts)})
    bounds = [0, *cuts, len(text)]
    return [(bounds[i], text[bounds[i]:bounds[i + 1]]) for i in range(len(bounds) - 1)
            if bounds[i] < bounds[i + 1]]


# What a careless model writes for a name, and the kind of slip it is.
SLOPPY = {
    "IBM 中国研究院": "IBM中国研究院",  # a dropped space
    "马丁·路德": "马丁路德",  # a dropped middle dot
    "Sean O’Brien": "Sean O'Brien",  # ' for ’
    "São Paulo": "Sao Paulo",  # a missing accent
    "Anne-Marie Dubois": "Anne–Marie Dubois",  # a dash for a hyphen
}
