"""What reaches the terminal, and what does not.

* Third-party libraries are quieted before they are imported: the user reads kgc's own lines, not tqdm bars
  ("Loading weights"), deprecation notices meant for library developers, or bitsandbytes' advice to install
  optional kernels. ``kgc -v`` keeps them all. Environment variables carry the settings into processes
  started by ``accelerate launch`` and vLLM.
* Data kgc did not write (names from a model's answers, a server's replies) has its control characters shown
  as escapes, so an answer cannot clear the screen, retitle the window or fake a line of kgc's own, and table
  cells are plain text, never Rich markup (``[link=…]``).
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

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


# C0 controls, DEL and C1 controls (a terminal acts on all of them)
_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_CONTROLS.update({0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"})


def visible(text: str, keep: str = "") -> str:
    """``text`` with every control character but those in ``keep`` written as an escape (``\\x1b``)."""
    table = _CONTROLS if not keep else {k: v for k, v in _CONTROLS.items() if chr(k) not in keep}
    return text.translate(table)


def cell(value: Any) -> Any:
    """A Rich table cell for a value: plain text (no markup), control characters escaped."""
    from rich.text import Text

    return Text("" if value is None else visible(str(value)))


_JSON_CONTROLS = {code: f"\\u{code:04x}" for code in (0x7F, *range(0x80, 0xA0))}


def json_visible(text: str) -> str:
    """JSON text (whose writer escaped C0 already) with DEL and the C1 controls escaped too: the same JSON
    value, safe on a terminal."""
    return text.translate(_JSON_CONTROLS)
