"""Documents in: a folder of ``.txt`` / ``.md`` files, one text file, or JSON lines with ``text``.

A document is ``(doc_id, text, metadata)``. For a folder, ``doc_id`` is the file's path relative to it; for
one text file, its name; for JSON lines, the record's ``id`` (else ``FILE:LINE``), and every other field of
the record is metadata that travels with its chunks. Text is read as UTF-8 exactly as stored (a leading BOM
dropped, line ends kept), so character offsets into it are offsets into the user's file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kgcli.errors import KgcError
from kgcli.io import STDIO, display_name, read_jsonl

TEXT_SUFFIXES = (".txt", ".md")


@dataclass
class Document:
    doc_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def read_documents(path: str) -> Iterator[Document]:
    """Every document of PATH, in a stable order (a folder's files sorted by relative path)."""
    if path != STDIO and os.path.isdir(path):
        files = sorted(os.path.relpath(os.path.join(root, name), path)
                       for root, _, names in os.walk(path) for name in names
                       if name.endswith(TEXT_SUFFIXES) and not name.startswith("."))
        if not files:
            raise KgcError(f"no documents: the folder holds no {' or '.join(TEXT_SUFFIXES)} files", path)
        for relative in files:
            yield Document(relative.replace(os.sep, "/"), read_text(os.path.join(path, relative)))
        return
    if path != STDIO and not os.path.exists(path):
        raise KgcError("no such file or folder", path)
    if path.endswith(TEXT_SUFFIXES):
        yield Document(os.path.basename(path), read_text(path))
        return
    yield from _json_documents(path)


def read_text(path: str) -> str:
    """A text file's content; binary content or invalid UTF-8 is a one-line error naming its line."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise KgcError(f"cannot read ({(exc.strerror or str(exc)).lower()})", path) from None
    if b"\0" in data:
        raise KgcError("a binary file, not text", path, data[: data.index(b"\0")].count(b"\n") + 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KgcError(f"not UTF-8 text (byte {exc.start})", path,
                       data[: exc.start].count(b"\n") + 1) from None
    return text.removeprefix("\ufeff")


def _json_documents(path: str) -> Iterator[Document]:
    name, count = display_name(path), 0
    for number, record in read_jsonl(path):
        text = record.get("text")
        if not isinstance(text, str):
            raise KgcError("a document record needs a 'text' string", name, number)
        doc_id = record.get("id", f"{name}:{number}")
        metadata = {k: v for k, v in record.items() if k not in ("text", "id")}
        count += 1
        yield Document(str(doc_id), text, metadata)
    if not count:
        raise KgcError("no documents: expected text files or JSON lines with 'text'", name)
