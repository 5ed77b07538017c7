"""Training examples: instruction records → (input_ids, labels) through the template encoder.

The prompt goes through the template's piecewise encoder, the response is encoded on its own plus EOS, and
only the response is learnt (prompt labels are -100), as the seed does. When an example is too long, the
*input text inside the instruction* is shortened until the prompt fits (the seed cut the prompt's tail, the
template's ``[/INST]`` / ``### Response:`` included); the response is kept within ``max_target_length``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kgcli.errors import KgcError
from kgcli.io import display_name, read_jsonl
from kgcli.model.prompting import fit_prompt
from kgcli.model.templates import Template
from kgcli.records import INSTRUCTION, OUTPUT

IGNORE = -100


@dataclass(frozen=True)
class Limits:
    cutoff_len: int
    max_source_length: int
    max_target_length: int

    def source_budget(self, response_len: int) -> int:
        return min(self.max_source_length, self.cutoff_len - response_len)


@dataclass
class EncodeStats:
    examples: int = 0
    shortened: int = 0
    response_cut: int = 0
    dropped: int = 0


def encode_example(template: Template, tokenizer: Any, instruction: str, output: str, limits: Limits,
                   stats: EncodeStats | None = None) -> dict[str, list[int]] | None:
    """input_ids / labels for one example, within the limits; None if even an empty input cannot fit."""
    stats = stats if stats is not None else EncodeStats()
    response = template.encode_response(tokenizer, output)
    if len(response) > limits.max_target_length:
        response = response[: limits.max_target_length - 1] + [tokenizer.eos_token_id]
        stats.response_cut += 1
    prompt, shortened = fit_prompt(template, tokenizer, instruction, limits.source_budget(len(response)))
    if prompt is None:
        stats.dropped += 1
        return None
    stats.shortened += shortened
    stats.examples += 1
    return {"input_ids": prompt + response, "labels": [IGNORE] * len(prompt) + response}


def read_examples(path: str) -> Iterable[tuple[int, str, str]]:
    """(line, instruction, output) from converted train records; both fields must be non-empty strings."""
    name = display_name(path)
    for number, record in read_jsonl(path):
        instruction, output = record.get(INSTRUCTION), record.get(OUTPUT)
        if not isinstance(instruction, str) or not instruction:
            raise KgcError("training record has no 'instruction' string", name, number)
        if not isinstance(output, str) or not output:
            raise KgcError("training record has no 'output' string (convert with --split train)", name,
                           number)
        yield number, instruction, output


def encode_file(path: str, template: Template, tokenizer: Any, limits: Limits,
                stats: EncodeStats) -> list[dict[str, list[int]]]:
    examples = []
    for _, instruction, output in read_examples(path):
        encoded = encode_example(template, tokenizer, instruction, output, limits, stats)
        if encoded is not None:
            examples.append(encoded)
    if not examples:
        raise KgcError("no training example fits the length limits", path)
    return examples


class Collator:
    """Pads a batch (right side: causal-LM training needs no left padding) and counts real tokens."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int = 4):
        self.pad_token_id = pad_token_id
        self.multiple = pad_to_multiple_of
        self.tokens_seen = 0

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        longest = max(len(item["input_ids"]) for item in batch)
        longest = -(-longest // self.multiple) * self.multiple
        ids, labels, mask = [], [], []
        for item in batch:
            pad = longest - len(item["input_ids"])
            ids.append(item["input_ids"] + [self.pad_token_id] * pad)
            labels.append(item["labels"] + [IGNORE] * pad)
            mask.append([1] * len(item["input_ids"]) + [0] * pad)
            self.tokens_seen += len(item["input_ids"])
        return {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels),
                "attention_mask": torch.tensor(mask)}


class FlatCollator(Collator):
    """Padding-free batches: the batch's examples end to end in one row, ``position_ids`` restarting at each
    example, no attention mask. Transformers then masks attention per example (a block-diagonal causal mask,
    from the position ids, when the model runs without a cache): the same loss as the padded batch, with no
    compute spent on padding."""

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        ids: list[int] = []
        labels: list[int] = []
        positions: list[int] = []
        for item in batch:
            ids += item["input_ids"]
            labels += item["labels"]
            positions += range(len(item["input_ids"]))
            self.tokens_seen += len(item["input_ids"])
        return {"input_ids": torch.tensor([ids]), "labels": torch.tensor([labels]),
                "position_ids": torch.tensor([positions])}

