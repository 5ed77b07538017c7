"""JSON-lines streams, exact JSON serialisation and atomic output files.

* Input: orjson parses each line; ``-`` is stdin; a UTF-8 BOM and CRLF line ends are tolerated; blank lines
  are skipped. Every record comes with its 1-based line number so errors can point at it.
* Output: ``compat_dumps`` is ``json.dumps(..., ensure_ascii=False)`` with the default separators, because the
  published checkpoints saw exactly those bytes (orjson's compact form would differ).
* Output files: ``kgcli.outputs`` (checked first, written to a temporary sibling, renamed at the end).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from kgcli.errors import KgcError

STDIO = "-"
_BOM = b"\xef\xbb\xbf"

encode_str = json.encoder.encode_basestring  # type: ignore[attr-defined]  # C-accelerated, ensure_ascii=False
# json.dumps(..., ensure_ascii=False) builds this C encoder on every call; building it once saves most of the
# cost for the many small values a conversion writes. Same arguments as json.dumps' defaults, minus the
# circular-reference check (records parsed from JSON cannot be circular).
_c_encoder = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, None, encode_str, None, ": ", ", ", False, False, True
)


def compat_dumps(obj: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False)``: the seed's byte format (the C encoder, made once)."""
    if type(obj) is str:
        return encode_str(obj)
    return "".join(_c_encoder(obj, 0))


_SPOOLED: set[str] = set()  # stdin copied to a temporary file (see spool_stdin): still named <stdin>


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIO or path in _SPOOLED else path


def spool_stdin(path: str) -> str:
    """``-`` copied to a temporary file (removed at exit), for commands that check every line before they
    start work (predict, icl) and then read the records again; any other path is returned as it is."""
    if path != STDIO:
        return path
    import atexit
    import shutil
    import tempfile

    with tempfile.NamedTemporaryFile("wb", prefix="kgc-stdin-", suffix=".jsonl", delete=False) as copy:
        shutil.copyfileobj(sys.stdin.buffer, copy, 1 << 20)
    _SPOOLED.add(copy.name)
    atexit.register(os.unlink, copy.name)
    return copy.name


def check_input(path: str) -> None:
    """IN exists and is a readable file (``-`` = stdin): a one-line error before any work."""
    if path == STDIO:
        if sys.stdin.isatty():
            raise KgcError("no input: give IN (a file), or pipe JSON lines in (… | kgc COMMAND -); stdin is "
                           "the terminal")
        return
    if not os.path.exists(path):
        raise KgcError("no such file", path)
    if os.path.isdir(path):
        raise KgcError("is a directory, expected a JSON-lines file", path)
    if not os.access(path, os.R_OK):
        raise KgcError("permission denied", path)


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


BATCH = 256  # lines parsed together (see parse_lines)


def read_jsonl(path: str, *, objects_only: bool = True, tolerant: bool = False) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for every non-blank line; a line that is not JSON is a one-line error
    (``tolerant``: the value None instead, for callers that count bad lines)."""
    return itertools.chain.from_iterable(_read_batches(path, objects_only, tolerant))


def _read_batches(path: str, objects_only: bool, tolerant: bool) -> Iterator[Iterable[tuple[int, Any]]]:
    stream = _open_binary(path)
    try:
        yield from _batches(stream, display_name(path), 1, objects_only, tolerant)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def parse_lines(lines: Iterable[bytes], name: str, first_number: int = 1, *,
                objects_only: bool = True, tolerant: bool = False) -> Iterator[tuple[int, Any]]:
    """Parse raw JSON lines into (line number, value). Lines are taken in batches: a batch of well-formed
    objects — the usual case — is parsed in one C-level pass and handed on without a Python frame per
    line; a batch with anything else (a blank line, a BOM, a bad line) is parsed line by line, for the
    exact error and line number. ``tolerant``: a bad line (not JSON, or not an object) comes as None."""
    return itertools.chain.from_iterable(_batches(lines, name, first_number, objects_only, tolerant))


def _batches(lines: Iterable[bytes], name: str, first_number: int, objects_only: bool,
             tolerant: bool) -> Iterator[Iterable[tuple[int, Any]]]:
    loads, decode_error, lines = orjson.loads, orjson.JSONDecodeError, iter(lines)
    number = first_number
    while True:
        batch = list(itertools.islice(lines, BATCH))
        if not batch:
            return
        try:
            values = list(map(loads, batch))
            regular = not objects_only or _DICTS.issuperset(map(type, values))
        except decode_error:
            regular = False
        if regular:
            yield zip(itertools.count(number), values)
        else:
            yield list(_line_by_line(batch, name, number, objects_only, tolerant))
        number += len(batch)


_DICTS = {dict}


def _line_by_line(lines: Iterable[bytes], name: str, first_number: int, objects_only: bool,
                  tolerant: bool) -> Iterator[tuple[int, Any]]:
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    for number, raw in enumerate(lines, first_number):
        try:
            value = loads(raw)
        except decode_error as exc:
            try:
                value = reparse_line(raw, number, name, exc)
            except KgcError:
                if not tolerant:
                    raise
                value = None
            if value is BLANK:
                continue
        if objects_only and type(value) is not dict and not (tolerant and value is None):
            if not tolerant:
                raise KgcError(f"expected a JSON object, got {type(value).__name__}", name, number)
            value = None
        yield number, value


BLANK = object()


def reparse_line(raw: bytes, number: int, name: str, exc: Exception) -> Any:
    """The slow path after orjson refused a line: a leading BOM (line 1) or a blank line (``BLANK``) are
    fine; anything else is a one-line error."""
    if number == 1 and raw.startswith(_BOM):
        raw = raw[3:]
    if not raw.strip():
        return BLANK
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise KgcError(f"not valid JSON ({_short_reason(exc)})", name, number) from None


def _short_reason(exc: Exception) -> str:
    return str(exc).split(":", 1)[0]


def read_json_file(path: str) -> Any:
    """A whole file holding one JSON value (schema files, hard-negative dictionaries)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise KgcError("no such file", path) from None
    except IsADirectoryError:
        raise KgcError("is a directory, expected a JSON file", path) from None
    except OSError as exc:
        raise KgcError(f"cannot read ({(exc.strerror or str(exc)).lower()})", path) from None
    if data.startswith(_BOM):
        data = data[3:]
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        line = data[: getattr(exc, "pos", 0)].count(b"\n") + 1
        raise KgcError(f"not valid JSON ({_short_reason(exc)})", path, line) from None


def read_yaml(path: str) -> Any:
    """A YAML file's content; a missing file or a syntax error is a one-line error with its line."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise KgcError("no such file", path) from None
    except IsADirectoryError:
        raise KgcError("is a directory, expected a YAML file", path) from None
    except OSError as exc:
        raise KgcError(f"cannot read ({(exc.strerror or str(exc)).lower()})", path) from None
    except UnicodeDecodeError as exc:
        raise KgcError(f"not UTF-8 text (byte {exc.start})", path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise KgcError(f"not valid YAML: {getattr(exc, 'problem', exc)}", path,
                       mark.line + 1 if mark else None) from None


# A cell a spreadsheet would run as a formula (or treat as one after a tab or carriage return)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?%?")


def spreadsheet_row(row: Iterable[Any]) -> list[Any]:
    """CSV cells that Excel, LibreOffice or Google Sheets show as text: a string that starts like a
    formula gets a leading ``'`` (which they hide), so a name from a document cannot run or send data; a
    plain number (``-1.25``, a score difference) stays a number."""
    return ["'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS)
            and not _NUMBER.fullmatch(value) else value for value in row]
