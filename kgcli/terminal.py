"""What reaches a terminal from data kgc did not write (names from a model's answers, a server's replies):
control characters shown as escapes, so an answer cannot clear the screen, retitle the window or fake a
line of kgc's own, and table cells taken as plain text, never as Rich markup (``[link=…]``)."""

from __future__ import annotations

from typing import Any

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
