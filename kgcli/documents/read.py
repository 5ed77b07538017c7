"""Documents in: a folder of ``.txt`` / ``.md`` files, one text file, or JSON lines with ``text``.

A document is ``(doc_id, text, metadata)``. For a folder, ``doc_id`` is the file's path relative to it; for
one text file, its name; for JSON lines, the record's ``id`` (else ``FILE:LINE``), and every other field of
the record is metadata that travels with its chunks. Text is read as UTF-8 exactly as stored (a leading BOM
dropped, line ends kept), so character offsets into it are offsets into the user's file; ``encodings``
(``--encoding utf-8,gbk``) are tried in order, the first that decodes the whole file wins.

In a folder, files of other types (``.pdf``, ``.html``, ``.docx``, …) are listed in one warning as
skipped, never passed over silently; a text file that no encoding decodes stops the run naming the file
and ``--encoding``, or with ``on_bad_file="skip"`` is skipped with a warning of its own.
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


ON_BAD_FILE = ("stop", "skip")


def read_documents(path: str, follow_links: bool = False, encodings: tuple[str, ...] = ("utf-8",),
                   on_bad_file: str = "stop", quiet: bool = False) -> Iterator[Document]:
    """Every document of PATH, in a stable order (a folder's files sorted by relative path). In a folder,
    links are skipped with a warning each (a link can bring any file of the machine into the text sent to a
    model server); ``follow_links`` follows those whose target is inside the folder. ``quiet``: a second
    reading of what a first one warned about."""
    check_encodings(encodings)
    say = (lambda message: None) if quiet else warn
    if path != STDIO and os.path.isdir(path):
        others: list[str] = []
        files = text_files(path, follow_links, others, say)
        if others:
            shown = ", ".join(others[:10]) + (f", and {len(others) - 10} more" if len(others) > 10 else "")
            say(f"{path}: {len(others)} file(s) that are not {' or '.join(TEXT_SUFFIXES)} skipped (convert "
                 f"them to text first): {shown}")
        if not files:
            raise KgcError(f"no documents: the folder holds no {' or '.join(TEXT_SUFFIXES)} files", path)
        for relative, real in files:
            try:
                text = read_text(real, encodings)
            except KgcError as exc:
                if on_bad_file != "skip":
                    raise
                say(f"{exc}: skipped (--on-bad-file skip)")
                continue
            yield Document(relative, text)
        return
    if path != STDIO and not os.path.exists(path):
        raise KgcError("no such file or folder", path)
    if path.endswith(TEXT_SUFFIXES):
        yield Document(os.path.basename(path), read_text(path, encodings))
        return
    yield from _json_documents(path)


def check_encodings(encodings: tuple[str, ...]) -> None:
    import codecs

    for name in encodings:
        try:
            codecs.lookup(name)
        except LookupError:
            raise KgcError(f"--encoding: unknown encoding {name!r} (e.g. utf-8, gbk, gb18030, big5, "
                           "utf-16)") from None


def text_files(folder: str, follow_links: bool = False, others: list[str] | None = None,
               say: Any = warn) -> list[tuple[str, str]]:
    """(relative name with ``/``, the path to read) of each text file under ``folder``, sorted; hidden
    files are not documents. A link (to a file or a folder) is skipped with a warning, unless
    ``follow_links`` and its target lies inside ``folder`` (a folder reached twice is read once).
    ``others`` collects the relative names of the files of other types."""
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
                    say(f"{os.path.join(folder, name)}: a link, skipped ({why})")
                    continue
                if os.path.isdir(target):
                    if target not in seen:
                        seen.add(target)
                        walk(target, f"{name}/")
                elif not entry.name.startswith("."):
                    found.append((name, target))
            elif entry.is_dir(follow_symlinks=False):
                walk(entry.path, f"{name}/")
            elif entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                if entry.name.endswith(TEXT_SUFFIXES):
                    found.append((name, entry.path))
                elif others is not None:
                    others.append(name)

    walk(folder, "")
    return sorted(found)


def read_text(path: str, encodings: tuple[str, ...] = ("utf-8",)) -> str:
    """A text file's content in the first of ``encodings`` that decodes all of it; binary content, or
    bytes no encoding decodes, is a one-line error naming its line and ``--encoding``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise KgcError(f"cannot read ({(exc.strerror or str(exc)).lower()})", path) from None
    wide = (data.startswith((b"\xff\xfe", b"\xfe\xff"))
            and any(e.lower().replace("_", "-").startswith("utf-16") for e in encodings))
    if b"\0" in data and not wide:
        raise KgcError("a binary file, not text", path, data[: data.index(b"\0")].count(b"\n") + 1)
    first: UnicodeDecodeError | None = None
    for encoding in encodings:
        try:
            return data.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError as exc:
            first = first or exc
    assert first is not None
    tried = " or ".join(name.upper() for name in encodings)
    raise KgcError(f"not {tried} text (byte {first.start}); pass its encoding, e.g. --encoding utf-8,gbk",
                   path, data[: first.start].count(b"\n") + 1)


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
