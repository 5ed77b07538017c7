"""Token counts for chunking when the model is behind an API and no model files are here.

Where the counts come from, in order:

1. ``--tokenizer PATH``: a ``tokenizer.json`` file, or a folder holding one (the model's own: exact counts);
2. the server's ``/tokenize`` endpoint, where it has one (vLLM): each chunk is checked with the server's own
   count; the offsets that place a chunk's seams come from the tokenizer vendored with kgc;
3. else the vendored tokenizer alone (``kgcli/data/tokenizer``: Qwen's byte-level BPE vocabulary, which
   suits Chinese and English; licence and SHA-256 in its NOTICE), with the budget cut by ``SAFETY``: another
   model's tokenizer may count a text up to a fifth longer.

Only the ``tokenizers`` package is used: no torch, no transformers.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from kgcli.errors import KgcError

SAFETY = 0.8  # the share of the budget a foreign tokenizer's count may fill
DEFAULT_BUDGET = 512  # tokens of text per chunk for a model behind an API, unless --budget says
VENDORED = "qwen-tokenizer.json.gz"


class TokenizerJSON:
    """A ``tokenizers.Tokenizer`` behind the one call chunking makes of a tokenizer (``tokenizer(text,
    add_special_tokens=False, return_offsets_mapping=True)``)."""

    def __init__(self, backend: Any, source: str):
        self.backend, self.source = backend, source

    def __call__(self, text: str, add_special_tokens: bool = False,
                 return_offsets_mapping: bool = True) -> dict[str, Any]:
        encoded = self.backend.encode(text, add_special_tokens=add_special_tokens)
        return {"input_ids": encoded.ids, "offset_mapping": encoded.offsets}

    def count(self, text: str) -> int:
        return len(self.backend.encode(text, add_special_tokens=False).ids)


def load_tokenizer_json(path: str) -> TokenizerJSON:
    """``--tokenizer``: a tokenizer.json file or a folder with one."""
    from tokenizers import Tokenizer

    file = os.path.join(path, "tokenizer.json") if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise KgcError("--tokenizer: no tokenizer.json there (give the file, or a folder holding it)", path)
    try:
        return TokenizerJSON(Tokenizer.from_file(file), file)
    except Exception as exc:  # the tokenizers library's own parse errors
        raise KgcError(f"--tokenizer: not a tokenizer.json ({' '.join(str(exc).split())[:160]})",
                       file) from None


def vendored_tokenizer() -> TokenizerJSON:
    """The tokenizer kgc ships for counting when nothing else is given."""
    from tokenizers import Tokenizer

    data = resources.files("kgcli.data").joinpath(f"tokenizer/{VENDORED}").read_bytes()
    return TokenizerJSON(Tokenizer.from_str(gzip.decompress(data).decode("utf-8")), f"kgc's {VENDORED}")


def server_counter(api_base: str, served_model: str, headers: dict[str, str] | None = None
                   ) -> Callable[[str], int] | None:
    """The server's own token count (vLLM's ``POST /tokenize``), or None where the server has none."""
    import httpx

    root = api_base.rstrip("/")
    root = root[: -len("/v1")] if root.endswith("/v1") else root
    client = httpx.Client(timeout=30.0, headers=headers or {})

    def count(text: str) -> int:
        response = client.post(f"{root}/tokenize", json={"model": served_model, "prompt": text,
                                                          "add_special_tokens": False})
        response.raise_for_status()
        found = response.json()
        return int(found["count"]) if "count" in found else len(found["tokens"])

    try:
        count("kgc")
    except Exception:  # no such endpoint (hosted APIs), or not this shape: not the server's to count
        client.close()
        return None
    return count


@dataclass
class Sizing:
    """How chunks are sized for a model behind an API: the tokenizer that places them, the budget, the
    check each chunk passes (the server's count), and what to tell the user."""

    tokenizer: TokenizerJSON
    budget: int
    fits: Callable[[str], bool] | None
    source: str


def remote_sizing(tokenizer_path: str | None, budget: int | None, api_base: str | None,
                  served_model: str | None, headers: dict[str, str] | None = None) -> Sizing:
    """The sizing of a remote route (the order in the module's docstring)."""
    wanted = budget or DEFAULT_BUDGET
    if tokenizer_path:
        tokenizer = load_tokenizer_json(tokenizer_path)
        return Sizing(tokenizer, wanted, None, f"{wanted} tokens per chunk, counted by {tokenizer.source}")
    tokenizer = vendored_tokenizer()
    count = server_counter(api_base, served_model or "", headers) if api_base else None
    if count is not None:
        return Sizing(tokenizer, wanted, lambda text: count(text) <= wanted,
                      f"{wanted} tokens per chunk, counted by the server (/tokenize)")
    cut = max(16, int(wanted * SAFETY))
    return Sizing(tokenizer, cut, None, f"{cut} tokens per chunk ({wanted} × {SAFETY} safety margin), "
                  f"counted by {tokenizer.source} (--tokenizer gives the model's own)")

