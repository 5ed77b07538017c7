"""The one user-error type.

Anything the user can fix (a bad line, a wrong flag combination, a missing file) raises ``KgcError``;
the CLI turns it into a single line ``kgc: error: FILE:LINE: what is wrong`` and exit status 2.
Programming errors keep their tracebacks.
"""

from __future__ import annotations


class KgcError(Exception):
    """A mistake in the user's input, reported as one line and exit 2."""

    exit_code = 2

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        return where + self.message


def warn(message: str) -> None:
    """Print one warning line on stderr (never on stdout, which may carry data); control characters from
    data in it are shown escaped."""
    import sys

    from kgcli.terminal import visible

    print(f"kgc: warning: {visible(message, keep=chr(10))}", file=sys.stderr)


def quiet() -> bool:
    """``kgc -q`` (or ``KGC_QUIET=1``): errors and warnings only."""
    import os

    return os.environ.get("KGC_QUIET") == "1"


def verbose() -> bool:
    """``kgc -v`` (or ``KGC_VERBOSE=1``): third-party messages kept, and a traceback with each error."""
    import os

    return os.environ.get("KGC_VERBOSE") == "1"


def say(message: str) -> None:
    """One line of kgc's own about what happened (a summary, where a file went) on stderr, unless quiet."""
    import sys

    if not quiet():
        print(message, file=sys.stderr, flush=True)
