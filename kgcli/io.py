"""JSON-lines streams, exact JSON serialisation and atomic output files.

* Input: orjson parses each line; ``-`` is stdin; a UTF-8 BOM and CRLF line ends are tolerated; blank lines
  are skipped. Every record comes with its 1-based line number so errors can point at it.
* Output: ``compat_dumps`` is ``json.dumps(..., ensure_ascii=False)`` with the default separators, because the
  published checkpoints saw exactly those bytes (orjson's compact form would differ).
* Files are written to a temporary sibling and renamed into place only when the writer finishes, so a
  failed run never leaves a half-written OUT (and never clobbers an existing one).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import IO, Any

import orjson

from kgcli.errors import KgcError

STDIO = "-"
_BOM = b"\xef\xbb\xbf"

compat_encoder = json.JSONEncoder(ensure_ascii=False)
encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]  # C-accelerated, ensure_ascii=False


def compat_dumps(obj: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False)``: the seed's byte format."""
    return compat_encoder.encode(obj)


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIO else path


def _open_binary(path: str) -> IO[bytes]:
    if path == STDIO:
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise KgcError("no such file", path) from None
    except IsADirectoryError:
        raise KgcError("is a directory, expected a JSON-lines file", path) from None
    except PermissionError:
        raise KgcError("permission denied", path) from None


def iter_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line without line end) for non-blank lines."""
    stream = _open_binary(path)
    try:
        for number, raw in enumerate(stream, 1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[3:]
            raw = raw.rstrip(b"\r\n")
            if raw.strip():
                yield number, raw
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def read_jsonl(path: str, *, objects_only: bool = True) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed value); a line that is not JSON is a one-line error."""
    name = display_name(path)
    for number, raw in iter_lines(path):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise KgcError(f"not valid JSON ({_short_reason(exc)})", name, number) from None
        if objects_only and not isinstance(value, dict):
            raise KgcError(f"expected a JSON object, got {type(value).__name__}", name, number)
        yield number, value


def _short_reason(exc: Exception) -> str:
    return str(exc).split(":", 1)[0]


def read_json_file(path: str) -> Any:
    """A whole file holding one JSON value (schema files, hard-negative dictionaries)."""
    try:
        data = open(path, "rb").read()
    except FileNotFoundError:
        raise KgcError("no such file", path) from None
    if data.startswith(_BOM):
        data = data[3:]
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        line = data[: getattr(exc, "pos", 0)].count(b"\n") + 1
        raise KgcError(f"not valid JSON ({_short_reason(exc)})", path, line) from None


@contextlib.contextmanager
def atomic_output(path: str, *, append_from: str | None = None) -> Iterator[IO[str]]:
    """Open OUT for text writing; the file appears (or is replaced) only if the block succeeds.

    ``-`` writes straight to stdout (there is nothing to protect). ``append_from`` copies an existing file
    first, for resumable writers that still want all-or-nothing replacement.
    """
    if path == STDIO:
        yield sys.stdout
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise KgcError("output folder does not exist", path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            if append_from and os.path.exists(append_from):
                with open(append_from, encoding="utf-8") as old:
                    for line in old:
                        handle.write(line)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str, text: str) -> None:
    with atomic_output(path) as handle:
        handle.write(text)
