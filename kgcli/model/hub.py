"""A model named by a Hugging Face hub id, fetched into the hub's cache: never silently, never slowly failing.

``local_model`` turns a preset's ``base_model`` into a folder before anything loads it:

- a folder here is used as it is;
- a hub id already in the local cache is used from there, with no request;
- offline (``HF_HUB_OFFLINE``), anything else is one line: not here, not cached;
- otherwise kgc asks the hub once for the file list (with a short timeout, no retries), says what it will
  fetch and how big it is, then downloads only those files: the weights in one format (safetensors where
  the repository has them, else ``.bin``) and the small files a model folder needs.

So ``--preset oneke`` says it is about to fetch about 26 GB before the first byte, and a hub that cannot
be reached is one line in seconds, not half a minute of retries ending in a traceback.
"""

from __future__ import annotations

import os
from typing import Any

from kgcli.errors import KgcError, say

HUB_TIMEOUT = 10.0  # seconds for the one metadata request
WEIGHTS = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".h5", ".msgpack", ".onnx", ".ot", ".ckpt")


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size} bytes"


def chosen_files(siblings: list[tuple[str, int | None]]) -> list[tuple[str, int]]:
    """The files a model folder needs: safetensors weights where there are any (else ``.bin``), and
    every file that is not a weight (configs, tokenizer, code); no second copy of the weights."""
    names = [name for name, _ in siblings]
    weight = ".safetensors" if any(n.endswith(".safetensors") for n in names) else ".bin"
    return [(name, size or 0) for name, size in siblings
            if name.endswith(weight) or not name.endswith(WEIGHTS)]


def _cached(repo: str, weights: bool) -> str | None:
    """The cached snapshot of ``repo`` (with weight files when ``weights``), or None."""
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(repo, local_files_only=True)
    except Exception:  # not in the cache (or incomplete): the hub is asked
        return None
    if weights and not any(name.endswith(WEIGHTS) for name in os.listdir(folder)):
        return None  # an earlier run fetched the tokenizer only
    return folder


def local_model(name: str, what: str = "model", weights: bool = True) -> str:
    """A folder holding ``name``: itself, its cached snapshot, or a fresh download said beforehand.
    ``weights`` False: the tokenizer and configs are enough (a model served elsewhere)."""
    if os.path.isdir(name):
        return name
    from kgcli.model.adapters import hub_like, hub_offline

    if not hub_like(name):
        raise KgcError(f"no such {what} folder (and not an owner/name hub id)", name)
    cached = _cached(name, weights)
    if cached:
        return cached
    if hub_offline():
        raise KgcError(f"the {what} is not a folder here and not in the local Hugging Face cache, and "
                       "HF_HUB_OFFLINE is set (unset it to download)", name)
    return download(name, what, weights)


def download(repo: str, what: str = "model", weights: bool = True) -> str:
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.errors import RepositoryNotFoundError

    endpoint = constants.ENDPOINT
    try:
        info: Any = HfApi().model_info(repo, files_metadata=True, timeout=HUB_TIMEOUT)
    except RepositoryNotFoundError:
        raise KgcError(f"no such {what} folder here, and no such model on the hub ({endpoint})",
                       repo) from None
    except Exception as exc:  # the client's own connection errors (httpx), HTTP errors, bad answers
        reason = str(exc).splitlines()[0][:160] if str(exc) else exc.__class__.__name__
        raise KgcError(f"the {what} is not a folder here, and the hub ({endpoint}) cannot be reached to "
                       f"fetch it: {reason}", repo) from None
    files = chosen_files([(s.rfilename, getattr(s, "size", None)) for s in info.siblings or []])
    if not weights:
        files = [(name, size) for name, size in files if not name.endswith(WEIGHTS)]
    total = sum(size for _, size in files)
    say(f"downloading {repo} from {endpoint}: {human_size(total)} in {len(files)} file(s), into "
        f"{constants.HF_HUB_CACHE} (HF_HUB_OFFLINE=1 forbids downloads)")
    return snapshot_download(repo, revision=info.sha, allow_patterns=[name for name, _ in files])
