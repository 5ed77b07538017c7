"""The one scrubber for anything a server says: API keys never reach stdout, stderr, an output or a cache.

Keys come from the environment only. Every text that comes from a server (error bodies, and answers too: a
misconfigured proxy can echo request headers) passes through ``scrub``: the values of every variable named
like a key, token, secret or password (and the ``--api-key-env`` one, whatever its name) are blanked, and so
is anything after ``Bearer``.
"""

from __future__ import annotations

import os
import re

_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.I)
_BEARER = re.compile(r"(Bearer\s+)[^\s\"',;]+", re.I)
MASK = "***"


def secrets_in_environment(*names: str | None) -> list[str]:
    """Values that must never be shown: every variable named like a key, token or password, and the
    variables ``names`` (``--api-key-env``), longest first."""
    values = [value for name, value in os.environ.items() if _SECRET_NAME.search(name) and len(value) >= 6]
    values += [os.environ[name] for name in names if name and len(os.environ.get(name, "")) >= 4]
    return sorted(set(values), key=len, reverse=True)


def scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return _BEARER.sub(r"\1" + MASK, text) if "earer" in text else text
