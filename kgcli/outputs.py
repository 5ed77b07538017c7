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


def check_output_dir(path: str, *, overwrite: bool = False, resume: bool | None = None,
                     flag: str = "--out") -> None:
    """An output folder checked before any work: not a file, inside a writable folder (missing parents are
    made later), empty unless ``--overwrite`` (or ``--resume``, for commands that can continue a folder:
    pass ``resume`` as True or False)."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise KgcError(f"{flag} names a file, not a folder", path)
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise KgcError(f"{flag}: {existing} is a file, not a folder", path)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise KgcError(f"{flag}: not writable (permission denied)", path)
    if os.path.isdir(path) and os.listdir(path) and not (overwrite or resume):
        hint = ("--resume to continue or --overwrite to start again" if resume is not None
                else "--overwrite to replace it")
        raise KgcError(f"{flag} is not empty; pass {hint}", path)


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
