"""One text, one request: the seed's prompt as a single user message; the reply and what it states."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from kgcli.errors import KgcError, warn
from kgcli.icl.client import ChatClient
from kgcli.icl.prompts import (
    SCHEMA_LABELS,
    SingleRequest,
    build_prompt,
    definitions_block,
    load_examples,
    normalise_language,
    parse_reply,
    split_labels,
)
from kgcli.terminal import json_visible, visible


@dataclass
class SingleResult:
    prompt: str
    reply: str
    extracted: Any


def ask(request: SingleRequest, examples: list[dict], client: ChatClient,
        system: str | None = None) -> SingleResult:
    prompt = build_prompt(request, examples)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user",
                                                                               "content": prompt}]
    reply = client.complete(messages).text
    return SingleResult(prompt, reply, parse_reply(request, reply))


def prepare(text: str, *, task: str | None, language: str, labels: str | None, examples: str | None,
            zero_shot: bool, shots: int | None, schema: str | None = None, describe: bool = False,
            **fields: Any) -> tuple[SingleRequest, list[dict]]:
    """The checked request for one text and the examples its prompt shows (``fields``: domain, instruction,
    head/tail entity and type). ``schema``: a schema file whose names are the labels (unless --labels)
    and, with ``describe``, whose definitions follow the instruction."""
    if not task:
        raise KgcError("single mode needs --task (ner, re, ee, rte or da)")
    named = split_labels(labels)
    language = normalise_language(language)
    definitions = ""
    if schema is not None:
        from kgcli.schema import load_schema

        loaded = load_schema(schema)
        names = getattr(loaded, SCHEMA_LABELS.get(task.lower(), "types")) or list(loaded.type_roles)
        named = named or names
        if describe:
            definitions = definitions_block(named, loaded.definitions, language)
            if not definitions:
                warn(f"--describe-schema: {schema} defines none of the labels {', '.join(named)}")
    request = SingleRequest(task=task.lower(), language=language, text=text, labels=named,
                            definitions=definitions, **fields)
    request.check()
    if zero_shot and examples:
        raise KgcError("--zero-shot and --examples contradict each other")
    chosen = [] if zero_shot else load_examples(examples, request.task, request.language)
    return request, chosen if shots is None else chosen[:shots]


def show(request: SingleRequest, examples: list[dict], client: ChatClient, system: str | None, *,
         as_json: bool = False, show_prompt: bool = False) -> None:
    """Ask, then print the reply and, where it parses, what it states (or one JSON object with all three).
    ``show_prompt``: the prompt goes to stderr before the call, so it is there even when the call fails."""
    if show_prompt:
        print(visible(build_prompt(request, examples), keep="\n\t"), file=sys.stderr, flush=True)
    result = ask(request, examples, client, system)
    if as_json:
        print(json_visible(json.dumps({"prompt": result.prompt, "reply": result.reply,
                                       "extracted": result.extracted}, ensure_ascii=False)))
        return
    print(visible(result.reply, keep="\n\t"))  # a reply cannot drive the terminal
    if result.extracted is not None:
        print(json_visible(json.dumps(result.extracted, ensure_ascii=False)))
