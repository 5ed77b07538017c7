"""API keys: where they may go, and the one scrubber for anything a server says (keys never reach stdout,
stderr, an output or a cache).

A key from a provider's usual variable goes only to that provider's own host (``data/api_hosts.json``); a
custom ``--api-base`` gets a key only from ``--api-key-env NAME``, and a key that would travel over plain
http to a host other than this machine is warned about.

Keys come from the environment only. Every text that comes from a server (error bodies, and answers too: a
misconfigured proxy can echo request headers) passes through ``scrub``: the values of every variable named
like a key, token, secret or password (and the ``--api-key-env`` one, whatever its name) are blanked, and so
is anything after ``Bearer``.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
from functools import cache
from importlib import resources
from urllib.parse import urlparse

from kgcli.errors import KgcError, warn

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
    """``text`` with every secret blanked: as it is, written with JSON ``\\u`` escapes (an answer decoded
    later would hold it in clear), or base64-encoded (a server echoing an auth header)."""
    if secrets and "\\u" in text:
        plain = _unescaped(text)  # the same JSON text with printable \uXXXX escapes written out
        if plain != text and any(secret in plain for secret in secrets):
            text = plain
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
        for encoded in _base64_forms(secret):
            if encoded in text:
                text = text.replace(encoded, MASK)
    return _BEARER.sub(r"\1" + MASK, text) if "earer" in text else text


_ESCAPE = re.compile(r"(\\+)u([0-9a-fA-F]{4})")


def _unescaped(text: str) -> str:
    """JSON text with each ``\\uXXXX`` escape of a printable character (not a quote or a backslash) written
    as the character itself: the same JSON value, so a secret spelled in escapes can be found."""

    def plain(match: re.Match[str]) -> str:
        slashes, char = match.group(1), chr(int(match.group(2), 16))
        if len(slashes) % 2 == 0 or not char.isprintable() or char in '"\\' or 0xD800 <= ord(char) < 0xE000:
            return match.group(0)  # an escaped backslash before "u", or a character that must stay escaped
        return slashes[:-1] + char

    return _ESCAPE.sub(plain, text)


@cache
def _base64_forms(secret: str) -> tuple[str, ...]:
    """The stretches of base64 that only ``secret``'s bytes decide, at each of the three alignments it can
    have inside a longer encoded text (standard and URL-safe alphabets)."""
    if len(secret) < 12:
        return ()
    data, forms = secret.encode("utf-8"), set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + data).decode("ascii").rstrip("=")
        lead = 4 if shift else 0  # the first group mixes in what came before
        tail = (len(data) + shift) % 3  # a partial last group mixes in what comes after
        middle = encoded[lead: len(encoded) - (4 if tail else 0)]
        forms.update((middle, middle.replace("+", "-").replace("/", "_")))
    return tuple(sorted(forms, key=len, reverse=True))


@cache
def api_hosts() -> dict[str, str | None]:
    data = json.loads(resources.files("kgcli.data").joinpath("api_hosts.json").read_text(encoding="utf-8"))
    return {name: host for name, host in data.items() if not name.startswith("_")}


def host_of(url: str) -> str:
    return (urlparse(url).hostname or "").lower()


def is_local(host: str) -> bool:
    """This machine: localhost (and ``*.localhost``) or a loopback address."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def provider_host(provider: str | None, api_base: str) -> bool:
    """Whether ``api_base`` is the provider's own API host (where its usual key variable may go)."""
    own = api_hosts().get(provider or "")
    return own is not None and host_of(api_base) == own


def key_for(api_base: str | None, api_key_env: str | None, provider: str | None,
            provider_variable: str | None) -> str | None:
    """The key a request may carry, or None (send none): ``--api-key-env``'s variable wherever the user
    sends it; else the provider's usual variable (``provider_variable``) only when the request goes to
    the provider's own host (no ``--api-base``, or one on that host)."""
    if api_key_env:
        key = os.environ.get(api_key_env)
        if not key:
            raise KgcError(f"--api-key-env: the variable {api_key_env} is not set")
        variable = api_key_env
    else:
        if api_base and not provider_host(provider, api_base):
            return None
        variable = provider_variable or ""
        key = os.environ.get(variable) if variable else None
    if key and api_base:
        parsed = urlparse(api_base)
        if parsed.scheme == "http" and not is_local(host_of(api_base)):
            warn(f"the key in ${variable} goes to {parsed.hostname} over plain http, which anyone on the way "
                 "can read; use https")
    return key or None
