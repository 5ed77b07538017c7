"""The chunks a schema is suggested from: a seeded sample spread over the documents.

The documents are read once to count them (nothing kept but their number), shuffled with the seed, and only
the first ``size`` of that order are chunked; chunks are then taken one per document in turn (each
document's chunks in a seeded order), so a sample covers as many documents as it has chunks, and a small
corpus gives several chunks of each document. The same corpus, settings and seed give the same sample.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kgcli.documents.chunking import Chunk, chunk_documents
from kgcli.documents.read import read_documents
from kgcli.errors import KgcError
from kgcli.progress import progress


@dataclass(frozen=True)
class Reading:
    """How DOCS is read (as ``kgc extract`` reads it)."""

    follow_links: bool = False
    encodings: tuple[str, ...] = ("utf-8",)
    on_bad_file: str = "stop"


def count_documents(docs: str, reading: Reading) -> int:
    """Every document read (and checked) before any model or request; their number."""
    total = 0
    with progress("schema suggest: reading", unit="documents") as advance:
        for _ in read_documents(docs, reading.follow_links, reading.encodings, reading.on_bad_file):
            total += 1
            advance(1)
    if not total:
        raise KgcError("no documents", docs)
    return total


def sample_chunks(docs: str, total: int, size: int, seed: int, reading: Reading, tokenizer: Any,
                  budget: int, fits: Callable[[str], bool] | None = None) -> list[Chunk]:
    """``size`` chunks (fewer when the corpus has fewer) of the ``total`` documents of DOCS."""
    rng = random.Random(seed)
    order = list(range(total))
    rng.shuffle(order)
    rank = {index: place for place, index in enumerate(order[:size])}
    queues: list[tuple[int, list[Chunk]]] = []
    for index, document in enumerate(read_documents(docs, reading.follow_links, reading.encodings,
                                                    reading.on_bad_file, quiet=True)):
        if index in rank:
            chunks = [chunk for chunk in chunk_documents(iter([document]), tokenizer, budget, 0, fits)
                      if chunk.text.strip()]
            queues.append((rank[index], chunks))
    shuffled = []
    for _, chunks in sorted(queues, key=lambda queue: queue[0]):
        rng.shuffle(chunks)
        shuffled.append(chunks)
    picked: list[Chunk] = []
    while len(picked) < size and any(shuffled):
        for chunks in shuffled:
            if chunks and len(picked) < size:
                picked.append(chunks.pop())
    return picked
