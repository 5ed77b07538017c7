"""Documents → chunks sized in the model's own tokens, cut at sentence ends, with exact character offsets.

A chunk is ``document[start:end]``, always (the offsets are the truth; the text is a slice of them). Sizes
are counted in the preset tokenizer's tokens over the whole document (one tokenizer call, its offset map),
never in whitespace words, so a Chinese text chunks as well as an English one. Cuts fall at sentence ends
(Chinese 。！？；… and line breaks, English ``.?!`` before a space, closing quotes kept with their sentence);
a sentence longer than the budget is cut at token boundaries. Consecutive chunks share about ``overlap``
tokens, starting at a sentence start inside that window where there is one. The same text and settings
always give the same chunks.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kgcli.documents.read import Document

# A sentence ends after a Chinese end mark, an English one followed by whitespace, or a run of line breaks;
# closing quotes and brackets stay with the sentence they close.
_CLOSERS = "”’」』）》】〉\"')\\]"
SENTENCE_END = re.compile(rf"[。！？；…!?]+[{_CLOSERS}]*|[.?!]+[{_CLOSERS}]*(?=\s)|\n+")


@dataclass(frozen=True)
class Chunk:
    doc_id: str
    index: int
    start: int
    end: int
    text: str
    metadata: dict[str, Any]
    doc_sha256: str = ""  # the whole document's text, so a page can refuse a text that changed since

    def record(self) -> dict[str, Any]:
        """The chunk record ``kgc chunk`` writes (and ``kgc convert`` reads as an IE record with 'text')."""
        return {"doc_id": self.doc_id, "chunk": self.index, "start": self.start, "end": self.end,
                "doc_sha256": self.doc_sha256, "text": self.text, **self.metadata}


def sentence_ends(text: str) -> list[int]:
    """Character offsets where a sentence ends (each followed by whitespace that belongs to it), the text's
    end included."""
    ends = []
    for match in SENTENCE_END.finditer(text):
        end = match.end()
        while end < len(text) and text[end] in " \t\r\u3000":
            end += 1
        if not ends or end > ends[-1]:
            ends.append(end)
    if not ends or ends[-1] != len(text):
        ends.append(len(text))
    return ends


def token_starts(tokenizer: Any, text: str) -> list[int]:
    """The character offset where each of the text's tokens starts, in order (a fast tokenizer's offset
    map). A character that byte-level BPE splits into several tokens appears once per token, so a span's
    token count is the number of entries inside it."""
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return [begin for begin, end in encoded["offset_mapping"] if end > begin]


def chunk_spans(text: str, starts: list[int], budget: int, overlap: int = 0,
                fits: Callable[[int, int], bool] | None = None) -> list[tuple[int, int]]:
    """(start, end) character spans covering ``text``, each at most ``budget`` tokens (``starts``: each
    token's first character). ``fits(start, end)``: a final check with the real prompt; a span that fails
    it is cut shorter."""
    if not text:
        return []
    if budget < 1:
        raise ValueError("budget must be at least one token")
    ends = sentence_ends(text)

    def tokens(a: int, b: int) -> int:
        return bisect.bisect_left(starts, b) - bisect.bisect_left(starts, a)

    def token_cut(a: int, count: int) -> int:
        index = bisect.bisect_left(starts, a) + count
        if index >= len(starts):
            return len(text)
        return max(starts[index], a + 1)

    spans: list[tuple[int, int]] = []
    position = 0
    while position < len(text):
        j = bisect.bisect_right(ends, position)
        end = position
        while j < len(ends) and tokens(position, ends[j]) <= budget:
            end = ends[j]
            j += 1
        if end <= (spans[-1][1] if spans else position):
            # no new whole sentence fits (one longer than the budget): cut at a token boundary
            end = token_cut(position, budget)
        while fits is not None and end > position + 1 and not fits(position, end):
            below = bisect.bisect_left(ends, end)  # sentence ends before ``end``
            previous = ends[below - 1] if below else 0
            if previous > max(position, spans[-1][1] if spans else 0):
                end = previous  # one sentence fewer
            else:
                end = max(position + 1, token_cut(position, tokens(position, end) - 1))
        spans.append((position, end))
        if end >= len(text):
            break
        following = end
        if overlap > 0:
            first = bisect.bisect_left(starts, position) + 1
            window = starts[max(first, bisect.bisect_left(starts, end) - overlap)]
            inside = [e for e in ends[bisect.bisect_left(ends, window):] if e < end]
            following = inside[0] if inside else window
        position = following if position < following <= end else end
    return spans


def chunk_documents(documents: Iterator[Document], tokenizer: Any, budget: int, overlap: int,
                    fits: Callable[[str], bool] | None = None) -> Iterator[Chunk]:
    """Every document's chunks, in order. ``fits(text)``: whether a chunk's text makes a prompt that fits."""
    for document in documents:
        text = document.text
        check = (lambda a, b, t=text: fits(t[a:b])) if fits is not None else None
        spans = chunk_spans(text, token_starts(tokenizer, text), budget, overlap, check)
        digest = text_digest(text)
        for index, (start, end) in enumerate(spans):
            yield Chunk(document.doc_id, index, start, end, text[start:end], document.metadata, digest)


def text_digest(text: str) -> str:
    """A document's SHA-256 (of its text as UTF-8)."""
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()
