"""Where results go: every check on OUT before any work, and no failure that can destroy or leave a file.

``check_output`` runs first, before a model loads or a line is read: OUT is not a folder, its folder exists
and is writable, it is not one of the inputs (same file, also through links), an existing OUT needs
``--resume`` or ``--overwrite`` where the command asks for one. ``Output.open`` then writes:

* a new file, or any file of a non-resumable writer, goes to a temporary sibling renamed into place when the
  writer finishes, so an existing OUT survives a failure untouched;
* a resumable writer (predict, icl) writing a file that does not exist yet writes OUT itself as it goes, so
  a killed run can ``--resume``; the file appears with its first record, and a failure before any record
  leaves nothing behind;
* ``--resume`` appends to OUT after its last complete line (a line cut by a kill is dropped);
* stdout is written as it goes, or, with ``spool``, only once the whole input went through (a bad line
  stops the run before anything reached the next command of a pipeline);
* a FIFO or device (``/dev/null``, ``>(...)``) is written straight through.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from kgcli.errors import KgcError
from kgcli.io import STDIO


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (through links too); a path that does not exist names none."""
    if STDIO in (a, b):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b) and os.path.exists(a)


def complete_lines(path: str) -> tuple[int, int]:
    """(complete lines, their byte length) in OUT: a partial last line (a killed write) is not counted."""
    count = end = 0
    with open(path, "rb") as handle:
        offset = 0
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            count += chunk.count(b"\n")
            last = chunk.rfind(b"\n")
            if last >= 0:
                end = offset + last + 1
            offset += len(chunk)
    return count, end


@dataclass(frozen=True)
class Output:
    """A checked OUT (see the module docstring): ``done`` records are already in it under ``--resume``."""

    path: str
    mode: str  # "stdout" | "stream" | "replace" | "create" | "append"
    done: int = 0
    keep: int = 0  # bytes of OUT kept under --resume
    spool: bool = False
    parents: bool = False  # OUT's folder is made when writing starts (as train and merge make theirs)

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[str]]:
        if self.parents:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        if self.mode == "stdout":
            yield from _stdout(self.spool)
        elif self.mode == "stream":
            with open(self.path, "w", encoding="utf-8", newline="\n") as handle:
                yield handle
        elif self.mode == "append":
            with open(self.path, "r+b") as raw:
                raw.truncate(self.keep)  # drop a line cut by a kill
            with open(self.path, "a", encoding="utf-8", newline="\n") as handle:
                yield handle
        elif self.mode == "create":
            handle = _OnFirstWrite(self.path)
            try:
                yield handle  # type: ignore[misc]
            finally:
                handle.close()
        else:
            yield from _replace(self.path)


def check_output(path: str, *, inputs: Iterable[str] = (), resume: bool = False, overwrite: bool = True,
                 resumable: bool = False, spool: bool = False) -> Output:
    """OUT checked before any work. ``overwrite=False``: an existing non-empty OUT is an error unless
    ``--resume`` (resumable writers) or ``--overwrite``."""
    if path == STDIO:
        if resume:
            raise KgcError("--resume needs an output file, not stdout")
        return Output(path, "stdout", spool=spool)
    for source in inputs:
        if same_file(path, source):
            raise KgcError("is also the input; give another output file (the input would be lost)", path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise KgcError(f"cannot use as output ({exc.strerror.lower()})", path) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise KgcError("is a folder; give a file name for the output", path)
    if mode is not None and not stat.S_ISREG(mode):
        return Output(path, "stream")  # a FIFO or a device: written straight through
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        existing = folder
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            raise KgcError(f"the output folder cannot be made: {existing} is a file", path)
        if not os.access(existing, os.W_OK | os.X_OK):
            raise KgcError("the output folder cannot be made (permission denied)", path)
        return Output(path, "create" if resumable else "replace", parents=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise KgcError("output folder is not writable (permission denied)", path)
    if mode is None:
        return Output(path, "create" if resumable else "replace")
    if not os.access(path, os.W_OK):
        raise KgcError("output file is not writable (permission denied)", path)
    if resume and resumable:
        done, keep = complete_lines(path)
        return Output(path, "append", done=done, keep=keep)
    if not overwrite and os.path.getsize(path):
        hint = "--resume to continue it or --overwrite" if resumable else "--overwrite"
        raise KgcError(f"output file exists; pass {hint} to replace it", path)
    return Output(path, "replace")


# A folder kgc wrote holds this file (which command wrote it). Two commands' own records count too: they
# are written only into folders those commands made whole (train's kgc_train.json is not: a run with
# overwrite_output_dir writes it into the user's folder).
FOLDER_MARKER = ".kgc-output.json"
KNOWN_MARKERS = {"kgc_merge.json": "kgc merge", "kgc_demo.json": "kgc demo"}


# A graph folder from before the marker: its graph.json says what it is
GRAPH_META, GRAPH_FORMAT, GRAPH_WRITER = "graph.json", "kgc-graph", "kgc graph build"


def written_by(path: str) -> str | None:
    """The kgc command that wrote the folder ``path`` (its marker), or None: a folder of someone else's."""
    for name in (FOLDER_MARKER, GRAPH_META):
        try:
            with open(os.path.join(path, name), encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            continue
        if name == FOLDER_MARKER and isinstance(data, dict) and isinstance(data.get("written_by"), str):
            return data["written_by"]
        if name == GRAPH_META and isinstance(data, dict) and data.get("format") == GRAPH_FORMAT:
            return GRAPH_WRITER
    return next((w for name, w in KNOWN_MARKERS.items() if os.path.isfile(os.path.join(path, name))), None)


def protected(path: str) -> bool:
    """``/``, the home folder, the current folder and every folder above it: never an output folder (a
    mistyped ``--out .`` must not put a run's files among the user's, or replace them)."""
    real = os.path.realpath(path)
    here = os.path.realpath(os.getcwd())
    return (real == os.path.realpath(os.sep) or real == os.path.realpath(os.path.expanduser("~"))
            or here == real or here.startswith(real.rstrip(os.sep) + os.sep))


def check_output_folder(path: str, *, writer: str, overwrite: bool = False, resume: bool | None = None,
                        into: bool = False, flag: str = "--out") -> bool:
    """kgc's one folder rule, checked before any work; True when the folder is to be replaced.

    An output folder is new, empty, or (with ``--overwrite`` from the command line, never from a file) a
    folder that ``writer`` wrote before: only such a folder is ever deleted. ``resume`` (True or False, for
    commands that can continue a folder) and ``into`` (Hugging Face's ``overwrite_output_dir``: write into
    a non-empty folder, deleting nothing) let a command use a non-empty folder as it is. ``/``, the home
    folder, the current folder and its ancestors are refused."""
    if protected(path):
        raise KgcError(f"{flag} is /, the home folder, the current folder or a folder above it; give a "
                       "folder of its own", path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise KgcError(f"{flag} names a file, not a folder", path)
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise KgcError(f"{flag}: {existing} is a file, not a folder", path)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise KgcError(f"{flag}: not writable (permission denied)", path)
    if not (os.path.isdir(path) and os.listdir(path)) or resume or into:
        return False
    if not overwrite:
        hint = ("--resume to continue or --overwrite to start again" if resume is not None
                else "--overwrite to replace it")
        raise KgcError(f"{flag} is not empty; pass {hint}", path)
    found = written_by(path)
    if found != writer:
        who = f"{found}, not {writer}" if found else "someone other than kgc"
        raise KgcError(f"{flag} was written by {who}; --overwrite replaces only a folder {writer} wrote "
                       "(or an empty one): give another folder", path)
    return True


def mark_folder(path: str, writer: str) -> None:
    """Make ``path`` (if missing) and mark it as ``writer``'s, if it is new or empty: a folder that held
    the user's files never becomes one that ``--overwrite`` may delete."""
    os.makedirs(path, exist_ok=True)
    if not os.listdir(path):
        with open(os.path.join(path, FOLDER_MARKER), "w", encoding="utf-8") as handle:
            json.dump({"written_by": writer}, handle)
            handle.write("\n")


def remove_folder(path: str, writer: str) -> None:
    """Delete a folder ``writer`` wrote (checked again here, whoever called); anything else is refused."""
    if protected(path) or written_by(path) != writer:
        raise KgcError(f"not removed: the folder was not written by {writer}", path)
    shutil.rmtree(path)


def replace_folder(work: str, out: str, writer: str) -> None:
    """Put the finished folder ``work`` (marked as ``writer``'s) in place of ``out``: the old folder, which
    ``writer`` wrote or which is empty, is removed only once the new one is in."""
    if os.path.isdir(out) and os.listdir(out):
        old = f"{work}.old"
        if protected(out) or written_by(out) != writer:
            raise KgcError(f"not replaced: the folder was not written by {writer}", out)
        os.rename(out, old)
        os.rename(work, out)
        shutil.rmtree(old)
        return
    if os.path.isdir(out):
        os.rmdir(out)  # an empty folder made for it
    os.rename(work, out)


def work_folder(out: str, purpose: str) -> str:
    """The hidden sibling of OUT where a command keeps what it is building (``.OUT.kgc-PURPOSE``)."""
    folder, name = os.path.split(os.path.abspath(out))
    return os.path.join(folder, f".{name}.kgc-{purpose}")


@contextlib.contextmanager
def atomic_folder(out: str, writer: str, *, keep_existing: bool = False) -> Iterator[str]:
    """A folder for OUT, written beside it and marked as ``writer``'s; when the block ends, it takes OUT's
    place (an OUT that ``writer`` wrote, or an empty one, is removed once the new one is in; the caller
    checked OUT first with ``check_output_folder``). ``keep_existing``: an OUT that appeared meanwhile (a
    cache another process filled first) is kept and the new folder dropped. A failure leaves OUT as it was
    and nothing new."""
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=f".{os.path.basename(os.path.abspath(out))}.", dir=parent)
    try:
        mark_folder(work, writer)
        yield work
        honour_umask(work)
        if keep_existing:
            try:
                os.rename(work, out)  # refused when another process put a full OUT there first
            except OSError:
                if not (os.path.isdir(out) and os.listdir(out)):
                    raise
            return
        replace_folder(work, out, writer)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def atomic_file(path: str) -> Iterator[IO[bytes]]:
    """A binary file (or ``-``, stdout) written to a temporary sibling and renamed into place when the
    block ends without error; a folder at ``path`` is never replaced."""
    if path == STDIO:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _stdout(spool: bool) -> Iterator[IO[str]]:
    if not spool:
        yield sys.stdout
        sys.stdout.flush()
        return
    with tempfile.SpooledTemporaryFile(32 << 20, mode="w+", encoding="utf-8", newline="\n") as buffer:
        yield buffer  # type: ignore[misc]
        buffer.seek(0)
        shutil.copyfileobj(buffer, sys.stdout, 1 << 20)  # type: ignore[misc]
    sys.stdout.flush()


def _replace(path: str) -> Iterator[IO[str]]:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
        if os.path.exists(path):
            shutil.copymode(path, tmp)
        else:  # a new file gets the usual mode (mkstemp makes it private)
            os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _OnFirstWrite:
    """A file created by its first write (a run that fails before its first record leaves nothing)."""

    def __init__(self, path: str):
        self.path, self.handle = path, None

    def write(self, text: str) -> int:
        if self.handle is None:
            self.handle = open(self.path, "x", encoding="utf-8", newline="\n")
        return self.handle.write(text)

    def flush(self) -> None:
        if self.handle is not None:
            self.handle.flush()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def write_text_atomic(path: str, text: str) -> None:
    with check_output(path).open() as handle:
        handle.write(text)


def honour_umask(folder: str) -> None:
    """Give a folder kgc wrote, and everything in it, the modes the umask gives new files and folders:
    libraries save through private temporary files (0600) and ``mkdtemp`` makes 0700 folders, which
    teammates, a server running as another user or a container could not read."""
    mask = umask()
    for root, _, files in os.walk(folder):
        os.chmod(root, 0o777 & ~mask)
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                executable = os.stat(path).st_mode & 0o100
                os.chmod(path, (0o777 if executable else 0o666) & ~mask)
