"""Prompt ids for an instruction, fitted to a token budget by shortening the instruction's *input text*.

Shared by training (prompt + response within cutoff_len) and prediction (prompt within cutoff_len minus the
tokens to generate). The seed cut the prompt's tail instead — the template's ``[/INST]`` or
``### Response:`` with it — which leaves the model without its cue to answer.
"""

from __future__ import annotations

from typing import Any

from kgcli.model.templates import Template
from kgcli.records import INPUT, parse_instruction, with_input


def _input_length(instruction: str) -> tuple[dict | None, int]:
    inner = parse_instruction(instruction)
    if inner is not None and isinstance(inner.get(INPUT), str):
        return inner, len(inner[INPUT])
    return None, len(instruction)


def shorten_input(instruction: str, keep_chars: int) -> str:
    """The instruction with its input text cut to ``keep_chars`` characters (JSON layout kept); a plain
    string instruction is cut itself."""
    inner, _ = _input_length(instruction)
    if inner is not None:
        return with_input(inner, inner[INPUT][:keep_chars])
    return instruction[:keep_chars]


def fit_prompt(template: Template, tokenizer: Any, instruction: str,
               budget: int) -> tuple[list[int] | None, bool]:
    """(prompt ids within ``budget``, shortened?); None when even an empty input text does not fit."""
    prompt = template.encode_prompt(tokenizer, instruction)
    if len(prompt) <= budget:
        return prompt, False
    low, high, best = 0, _input_length(instruction)[1], None
    while low <= high:  # the longest input text whose prompt fits
        middle = (low + high) // 2
        candidate = template.encode_prompt(tokenizer, shorten_input(instruction, middle))
        if len(candidate) <= budget:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best, best is not None
