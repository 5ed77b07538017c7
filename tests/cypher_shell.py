"""How cypher-shell 5 cuts a script into statements (its ``ShellStatementParser``), re-implemented from its
behaviour so the tests can split kgc's Cypher export exactly as ``cypher-shell -f`` would, without a JVM.

What the shell does, and what matters here:

* between statements it skips whitespace and ``//`` or ``/* */`` comments;
* a line starting with ``:`` is a command; ``:param`` (and ``:params``) takes the rest of the line, or, when
  its argument starts with ``{``, reads on to the brace that closes it;
* anything else is Cypher, read to the first ``;`` that is not escaped, quoted or commented. A backslash
  escapes the next character everywhere but in comments — inside back-quotes too, where Cypher itself
  gives it no meaning. That difference is what a name ending in ``\\`` can exploit.
"""

from __future__ import annotations

from dataclasses import dataclass

WHITESPACE = " \n\t\r"
QUOTES = "`\"'"
COMMENTS = {"//": "\n", "/*": "*/"}


@dataclass
class Statement:
    text: str
    command: bool  # a ``:`` command, not Cypher
    complete: bool  # ended by its terminator (``;`` for Cypher), not by the end of the script


def split(script: str) -> list[Statement]:
    statements: list[Statement] = []
    position = 0
    while position < len(script):
        char = script[position]
        if char in WHITESPACE:
            position += 1
        elif script.startswith(("//", "/*"), position):
            end = script.find(COMMENTS[script[position:position + 2]], position + 2)
            position = len(script) if end < 0 else end + len(COMMENTS[script[position:position + 2]])
        elif char == ":":
            statement, position = _command(script, position)
            statements.append(statement)
        else:
            text, complete, position = _cypher(script, position, lambda c: c == ";")
            statements.append(Statement(text[:-1] if complete else text, False, complete))
    return statements


def _cypher(script: str, position: int, ends: object) -> tuple[str, bool, int]:
    """Read Cypher from ``position`` until ``ends(char)`` holds outside quotes, comments and escapes:
    (the text read, including that char; whether it was found; where reading stopped)."""
    awaited: str | None = None  # the delimiter that closes the quote or comment we are in
    skip = False
    previous = current = ""
    start = position
    while position < len(script):
        previous, current = current, script[position]
        position += 1
        if skip:
            skip = False
        elif awaited in ("\n", "*/"):  # in a comment
            if (awaited == "\n" and current == "\n") or (awaited == "*/" and previous + current == "*/"):
                awaited = None
        elif current == "\\":
            skip = True  # escapes the next character, in quotes too
        elif awaited is not None:  # in a quote
            if current == awaited:
                awaited = None
        elif ends(current):  # type: ignore[operator]
            return script[start:position], True, position
        else:
            awaited = COMMENTS.get(previous + current) or (current if current in QUOTES else None)
    return script[start:position], False, position


def _command(script: str, position: int) -> tuple[Statement, int]:
    start = position
    while position < len(script) and script[position] not in WHITESPACE + ";":
        position += 1
    name = script[start:position].lower()
    while position < len(script) and script[position] in " \t":
        position += 1
    if position >= len(script) or script[position] in "\r\n":
        return Statement(name, True, True), position
    complete = True
    argument_start = position
    if name in (":param", ":params") and script[position] == "{":
        depth = 0

        def closes(char: str) -> bool:
            nonlocal depth
            depth += {"{": 1, "}": -1}.get(char, 0)
            return depth <= 0

        _, complete, position = _cypher(script, position, closes)
    while position < len(script) and script[position] not in "\r\n":
        position += 1
    argument = script[argument_start:position].rstrip(WHITESPACE + ";")
    return Statement(f"{name} {argument}", True, complete), position
