"""Quiet third-party libraries before they are imported: the user reads kgc's own lines, not tqdm bars
("Loading weights"), deprecation notices meant for library developers, or bitsandbytes' advice to install
optional kernels. ``kgc -v`` keeps them all. Environment variables carry the settings into processes
started by ``accelerate launch`` and vLLM."""

from __future__ import annotations

import logging
import os
import warnings

QUIET_ENVIRONMENT = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # also transformers' own bars
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "BITSANDBYTES_NOWELCOME": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "TQDM_DISABLE": "1",  # tqdm bars of any library (kgc draws its own progress)
}
QUIET_WARNINGS = "ignore::FutureWarning,ignore::DeprecationWarning,ignore::UserWarning"
QUIET_LOGGERS = ("bitsandbytes", "transformers", "accelerate", "peft", "torch", "huggingface_hub")


def calm_libraries(verbose: bool) -> None:
    if verbose:
        return
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("PYTHONWARNINGS", QUIET_WARNINGS)
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(?!kgcli)")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
