"""Single-text prompts, built as the seed's ICL scripts build them, from ``data/icl_prompts.json``.

Prompt = instruction + examples block + task line. The instruction is a task sentence chosen by which of
domain / labels are given, then the task's output-format line (or ``--instruction`` + a newline instead of
both). Examples come from a seed-format example file (shipped ones for every task and language, or the
user's); ``--zero-shot`` leaves the block out. The one deliberate difference from the seed: the English NER
sentence without domain and labels is the NER sentence (the seed sent the relation-extraction one).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from kgcli.errors import KgcError
from kgcli.io import read_json_file

TASKS = ("ner", "re", "ee", "rte", "da")
RE_FIELDS = ("head_entity", "head_type", "tail_entity", "tail_type")
# What each example of a seed example file must carry, by task.
EXAMPLE_FIELDS = {"ner": ("text", "data"), "re": ("text", *RE_FIELDS, "relation"),
                  "da": ("text", *RE_FIELDS,
                         "relation"), "ee": ("text", "event_list"), "rte": ("text", "labels")}
GOLD_FIELD = {"ner": "data", "ee": "event_list", "rte": "labels"}


@cache
def prompt_data() -> dict:
    return json.loads(resources.files("kgcli.data").joinpath("icl_prompts.json").read_text(encoding="utf-8"))


def normalise_language(language: str) -> str:
    """``en`` or ``zh``; the seed's ``ch`` is accepted as ``zh``."""
    name = language.strip().lower()
    name = prompt_data()["language_aliases"].get(name, name)
    if name not in ("en", "zh"):
        raise KgcError(f"unknown language {language!r} (en, zh; ch is accepted for zh)")
    return name


def split_labels(labels: str | None) -> list[str]:
    """``--labels`` as the seed reads it: split on ASCII or full-width commas (blank items dropped)."""
    return [item.strip() for item in re.split("[,，]", labels or "") if item.strip()]


@dataclass
class SingleRequest:
    task: str
    language: str
    text: str
    domain: str | None = None
    labels: list[str] = field(default_factory=list)
    head_entity: str | None = None
    head_type: str | None = None
    tail_entity: str | None = None
    tail_type: str | None = None
    instruction: str | None = None
    definitions: str = ""  # --describe-schema: what each label means, after the instruction

    def check(self) -> None:
        if self.task not in TASKS:
            raise KgcError(f"unknown ICL task {self.task!r} (choose from {', '.join(TASKS)})")
        if self.task == "re":
            missing = [f"--{name.replace('_', '-')}" for name in RE_FIELDS if not getattr(self, name)]
            if missing:
                raise KgcError(f"--task re needs {', '.join(missing)}")
        if self.task == "da" and not self.labels and self.instruction is None:
            raise KgcError("--task da needs --labels (the entity types of the relation's head and tail)")


def instruction_text(request: SingleRequest) -> str:
    if request.instruction is not None:
        return request.instruction + "\n"
    sentences = prompt_data()["instructions"][request.language][request.task]
    labels = prompt_data()["label_separator"][request.language].join(request.labels)
    domain = request.domain
    if domain and labels and "domain_labels" in sentences:
        sentence = sentences["domain_labels"].format(domain, labels)
    elif domain and "domain" in sentences:
        sentence = sentences["domain"].format(domain)
    elif labels and "labels" in sentences:
        sentence = sentences["labels"].format(labels)
    else:
        sentence = sentences["plain"]
    return sentence + sentences["output"]


def _pick(table: dict, task: str) -> str:
    return table.get(task, table["default"])


def examples_block(request: SingleRequest, examples: list[dict]) -> str:
    if not examples:
        return ""
    data = prompt_data()
    header = _pick(data["example_headers"][request.language], request.task)
    line = _pick(data["example_lines"][request.language], request.task)
    block = header.format(relation=examples[0].get("relation", ""))
    for example in examples:
        gold = repr(example[GOLD_FIELD[request.task]]) if request.task in GOLD_FIELD else ""
        block += line.format(gold=gold, **{k: v for k, v in example.items() if k != "gold"})
    return block


def task_line(request: SingleRequest) -> str:
    template = _pick(prompt_data()["task_lines"][request.language], request.task)
    return template.format(text=request.text, **{name: getattr(request, name) for name in RE_FIELDS})


def build_prompt(request: SingleRequest, examples: list[dict]) -> str:
    """The whole prompt (sent as one user message, as the seed's API engines do)."""
    described = request.definitions + "\n" if request.definitions else ""
    return instruction_text(request) + described + examples_block(request, examples) + task_line(request)


def definitions_block(names: list[str], definitions: dict[str, str], language: str) -> str:
    """``--describe-schema``: a schema file's definitions of ``names`` (empty when none has one)."""
    data = prompt_data()["schema_definitions"]
    lines = [data["line"][language].format(name=name, definition=definitions[name])
             for name in names if definitions.get(name)]
    return "\n".join([data["header"][language], *lines]) if lines else ""


# the schema file's names a task's labels are, in single mode (--schema)
SCHEMA_LABELS = {"ner": "types", "ee": "types", "da": "types", "re": "roles", "rte": "roles"}


def load_examples(path: str | None, task: str, language: str) -> list[dict]:
    """A seed-format example file (the shipped ``<task>_<language>.json`` when ``path`` is None)."""
    if path is None:
        name = f"{task}_{language}.json"
        data = json.loads(resources.files("kgcli.data").joinpath("icl_examples",
                                                                 name).read_text(encoding="utf-8"))
        path = f"<kgc>/icl_examples/{name}"
    else:
        data = read_json_file(path)
    if task == "ner":
        if not isinstance(data, dict) or not isinstance(data.get("samples"), list):
            raise KgcError('an NER example file is {"samples": [{"text": ..., "data": [{"E": type, "W": '
                           'entity}]}]}',
                           path)
        data = data["samples"]
    if not isinstance(data, list):
        raise KgcError(f"a {task} example file is a JSON list of examples", path)
    for number, example in enumerate(data, 1):
        missing = [name for name in EXAMPLE_FIELDS[task] if not isinstance(example, dict)
                   or name not in example]
        if missing:
            raise KgcError(f"example {number} lacks {', '.join(map(repr, missing))}", path)
    return data


def parse_reply(request: SingleRequest, reply: str) -> Any:
    """The structure a reply states, or None: a list for ner/ee/rte (JSON or a Python literal, as the
    prompts ask for), the head-relation-tail triple for re; data augmentation replies are free text."""
    text = reply.strip()
    if request.task == "re":
        relation = text.splitlines()[0].strip().strip("'\"。.") if text else ""
        return {"head": request.head_entity, "relation": relation,
                "tail": request.tail_entity} if relation else None
    if request.task == "da":
        return None
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end < start:
        return None
    span = text[start : end + 1]
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(span)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, list):
            return value
    return None
