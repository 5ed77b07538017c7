"""The suggestion prompt and the definitions block, from the registry ``data/schema_prompts.json``."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("zh", "en")


@cache
def prompt_data() -> dict[str, Any]:
    text = resources.files("kgcli.data").joinpath("schema_prompts.json").read_text(encoding="utf-8")
    return json.loads(text)


def suggestion_prompt(text: str, language: str) -> str:
    """The prompt that asks for the entity types and relations of one chunk, in ``language``."""
    return prompt_data()["prompts"][language].replace("{text}", text)


def prompt_text(prompt: str) -> str | None:
    """The chunk inside a suggestion prompt (None for another prompt): what a test server answers from."""
    for language in LANGUAGES:
        head, _, _ = prompt_data()["prompts"][language].partition("{text}")
        if prompt.startswith(head):
            return prompt[len(head):]
    return None


def answer_schema() -> dict[str, Any]:
    """The JSON schema of an answer (``--structured``)."""
    def items(extra: dict[str, Any]) -> dict[str, Any]:
        fields = {"name": {"type": "string"}, "definition": {"type": "string"}, "example": {"type": "string"},
                  "aliases": {"type": "array", "items": {"type": "string"}}, **extra}
        return {"type": "array", "items": {"type": "object", "properties": fields, "required": list(fields),
                                           "additionalProperties": False}}

    ends = {"head": {"type": "string"}, "tail": {"type": "string"}}
    return {"type": "object", "properties": {"entity_types": items({}), "relations": items(ends)},
            "required": ["entity_types", "relations"], "additionalProperties": False}
