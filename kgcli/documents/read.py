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

from kgcli.errors import KgcError, warn
from kgcli.io import STDIO, display_name, read_jsonl

TEXT_SUFFIXES = (".txt", ".md")


@dataclass
class Document:
    doc_id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def read_documents(path: str, follow_links: bool = False) -> Iterator[Document]:
    """Every document of PATH, in a stable order (a folder's files sorted by relative path). In a folder,
    links are skipped with a warning each (a link can bring any file of the machine into the text sent to a
    model server); ``follow_links`` follows those whose target is inside the folder."""
    if path != STDIO and os.path.isdir(path):
        files = text_files(path, follow_links)
        if not files:
            raise KgcError(f"no documents: the folder holds no {' or '.join(TEXT_SUFFIXES)} files", path)
        for relative, real in files:
            yield Document(relative, read_text(real))
        return
    if path != STDIO and not os.path.exists(path):
        raise KgcError("no such file or folder", path)
    if path.endswith(TEXT_SUFFIXES):
        yield Document(os.path.basename(path), read_text(path))
        return
    yield from _json_documents(path)


def text_files(folder: str, follow_links: bool = False) -> list[tuple[str, str]]:
    """(relative name with ``/``, the path to read) of each text file under ``folder``, sorted; hidden
    files are not documents. A link (to a file or a folder) is skipped with a warning, unless
    ``follow_links`` and its target lies inside ``folder`` (a folder reached twice is read once)."""
    root = os.path.realpath(folder)
    found: list[tuple[str, str]] = []
    seen = {root}

    def inside(target: str) -> bool:
        return target == root or target.startswith(root.rstrip(os.sep) + os.sep)

    def walk(directory: str, relative: str) -> None:
        with os.scandir(directory) as entries:
            listed = sorted(entries, key=lambda e: e.name)
        for entry in listed:
            name = f"{relative}{entry.name}"
            if entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not os.path.isdir(target) and not entry.name.endswith(TEXT_SUFFIXES):
                    continue  # not a document either way
                if not (follow_links and inside(target)):
                    why = ("its target is outside the folder" if follow_links
                           else "pass --follow-links to follow links that stay inside the folder")
                    warn(f"{os.path.join(folder, name)}: a link, skipped ({why})")
                    continue
                if os.path.isdir(target):
                    if target not in seen:
                        seen.add(target)
                        walk(target, f"{name}/")
                elif not entry.name.startswith("."):
                    found.append((name, target))
            elif entry.is_dir(follow_symlinks=False):
                walk(entry.path, f"{name}/")
            elif (entry.is_file(follow_symlinks=False) and entry.name.endswith(TEXT_SUFFIXES)
                  and not entry.name.startswith(".")):
                found.append((name, entry.path))

    walk(folder, "")
    return sorted(found)


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
