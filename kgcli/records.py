"""The IEPile record envelope: the one place its layout is spelled.

An instruction record is ``{"id"?, "task", "source", "instruction", "output" | "label"}``; its instruction is
itself a JSON string ``{"instruction": SENTENCE, "schema": [...], "input": TEXT}``. The published checkpoints
saw exactly the bytes of ``json.dumps(..., ensure_ascii=False)`` with default separators, so the writers
below build those bytes directly from pre-encoded pieces (convert's hot path); the readers find the schema
text by its fixed markers (eval's hot path) and fall back to a full JSON parse.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from kgcli.errors import KgcError
from kgcli.io import compat_dumps, display_name, encode_str, read_jsonl

# Field names of an instruction record and of the instruction inside it (those read outside the writers).
TASK, INSTRUCTION, OUTPUT = "task", "instruction", "output"
SCHEMA, INPUT = "schema", "input"

SCHEMA_MARK = '"schema": '
INPUT_MARK = ', "input": '


def answered_line(record: dict[str, Any], answer: str) -> str:
    """A prediction line: the record with its ``output`` set to the answer (what every backend writes)."""
    return json.dumps({**record, OUTPUT: answer}, ensure_ascii=False) + "\n"


def text_id(text: str) -> str:
    """A record's id: the sha256 of its text (NER and RE records of one text share it)."""
    import hashlib  # here, not at the top: eval reads records but never makes ids

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class RecordLayout:
    """Byte-exact writers for the records of one task, source and instruction sentence."""

    def __init__(self, task: str, source: str, sentence: str):
        self.instruction_head = '{"instruction": ' + encode_str(sentence) + ", " + SCHEMA_MARK
        sources = ', "source": ' + encode_str(source) + ', "instruction": '
        self.train_head = '{"task": ' + encode_str(task) + sources
        self.test_head = '", "task": ' + encode_str(task) + sources
        self._train_heads: dict[tuple, str] = {}

    def prefix(self, elements: list[Any]) -> str:
        """The instruction string up to (not including) its encoded input text."""
        return self.instruction_head + compat_dumps(elements) + INPUT_MARK

    def instruction(self, elements: list[Any], text: str) -> str:
        return self.prefix(elements) + encode_str(text) + "}"

    def train_line(self, elements: list[Any], text: str, output: Any) -> str:
        """One training record (no newline). The escaped head of its instruction is cached by schema chunk
        (a file has few distinct ones); escaping works character by character, so only the text and the
        output are escaped per record."""
        key = tuple(elements)
        try:
            head = self._train_heads[key]
        except (KeyError, TypeError):  # TypeError: unhashable elements (event schemas)
            head = self.train_head + encode_str(self.prefix(elements))[:-1]
            if all(type(element) is str for element in key):  # (1 == 1.0 == True: only strings are keys)
                if len(self._train_heads) > 4096:
                    self._train_heads.clear()
                self._train_heads[key] = head
        return "".join((head, encode_str(encode_str(text) + "}")[1:], ', "output": ',
                        encode_str(compat_dumps(output)), "}"))

    def test_heads(self, elements_chunks: list[list[Any]]) -> list[str]:
        """What ``test_lines`` writes after a record's id, one per schema chunk, up to the input text.

        The instruction is a JSON string inside the record, so it is escaped twice; escaping works character
        by character, so the escaped instruction head is made once here and only the text is escaped per
        record."""
        return [self.test_head + encode_str(self.prefix(chunk))[:-1] for chunk in elements_chunks]

    def test_lines(self, digest: str, heads: list[str], text: str, label: list | None,
                   extra: str = "") -> str:
        """The test records of one text, one per schema chunk (its ``test_heads``), newline-terminated;
        ``extra``: more fields, as ``extra_fields`` wrote them."""
        if label is None:
            tail = extra + "}\n"
        elif not label:  # a text without annotations: '"[]"', the same bytes without two encoder calls
            tail = ', "label": "[]"' + extra + "}\n"
        else:
            tail = ', "label": ' + encode_str(compat_dumps(label)) + extra + "}\n"
        body = encode_str(encode_str(text) + "}")[1:] + tail
        if len(heads) == 1:
            return "".join(('{"id": "', digest, heads[0], body))
        return "".join(['{"id": "' + digest + head + body for head in heads])


# A chunk record (kgc chunk) is an IE record with these fields beside its text; convert keeps them, and every
# other field of the record (the document's metadata), in each instruction record it writes.
CHUNK_FIELDS = ("doc_id", "chunk", "start", "end")


def extra_fields(record: dict[str, Any], skip: tuple[str, ...]) -> str:
    """``, "key": value`` for the record's fields other than ``skip`` (its text and annotations)."""
    return "".join(", " + encode_str(key) + ": " + compat_dumps(value) for key, value in record.items()
                   if key not in skip)


def check_records(path: str, rule: Callable[[dict, str, int], None] | None = None) -> int:
    """Every line of a converted-records file read and checked before a command does any costly work (a
    bad line 9000 is one line at once, not after an hour of generation): a JSON object with an
    'instruction' string, plus the command's own ``rule(record, name, number)``. Returns how many records
    the file holds; none is an error."""
    name, count = display_name(path), 0
    for number, record in read_jsonl(path):
        if not isinstance(record.get(INSTRUCTION), str):
            raise KgcError("record has no 'instruction' string", name, number)
        if rule is not None:
            rule(record, name, number)
        count += 1
    if not count:
        raise KgcError("no records: expected converted records, one JSON object per line "
                       "(kgc convert --split test)", name)
    return count


def schema_span(instruction: str) -> tuple[int, int] | None:
    """Where the schema's JSON text sits inside an instruction string (None: not the usual layout)."""
    start = instruction.find(SCHEMA_MARK)
    end = instruction.find(INPUT_MARK, start)
    if start < 0 or end < 0:
        return None
    return start + len(SCHEMA_MARK), end


def head_end(span: tuple[int, int]) -> int:
    """The end of the instruction's head (everything before its input text) for a ``schema_span``."""
    return span[1] + len(INPUT_MARK)


def parse_instruction(instruction: Any) -> dict[str, Any] | None:
    """The instruction's ``{"instruction", "schema", "input"}`` object (None: not a JSON object); callers
    check
    the fields they need."""
    if not isinstance(instruction, str):
        return None
    try:
        inner = json.loads(instruction)
    except (json.JSONDecodeError, RecursionError):  # nested past the decoder: not an instruction
        return None
    return inner if isinstance(inner, dict) else None


def with_input(inner: dict[str, Any], text: str) -> str:
    """The instruction ``inner`` (from ``parse_instruction``) with another input text, layout kept."""
    return compat_dumps({**inner, INPUT: text})
