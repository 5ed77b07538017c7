"""Training examples: loss on the response only, and too-long inputs shortened inside the instruction."""

from __future__ import annotations

import json

from kgcli.model.templates import get_template
from kgcli.train.data import IGNORE, Collator, EncodeStats, Limits, encode_example

TEXT = "Alice met Bob in Paris. " * 40
INSTRUCTION = json.dumps({"instruction": "Extract entities.", "schema": ["person", "city"], "input": TEXT},
                         ensure_ascii=False)
OUTPUT = '{"person": ["Alice", "Bob"], "city": ["Paris"]}'


def test_prompt_is_masked_and_response_ends_with_eos(smol_tokenizer):
    template = get_template("qwen")
    example = encode_example(template, smol_tokenizer, INSTRUCTION, OUTPUT, Limits(2048, 2048, 256))
    # the expected ids from the tokenizer alone, on the ChatML text written out by hand (the special tokens
    # split the text where the template's pieces meet, so whole-text and piecewise encodings agree)
    chatml = (f"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n{INSTRUCTION}"
              "<|im_end|>\n<|im_start|>assistant\n")
    prompt = smol_tokenizer(chatml, add_special_tokens=False)["input_ids"]
    response = smol_tokenizer(OUTPUT + "<|im_end|>", add_special_tokens=False)["input_ids"]
    assert example["input_ids"] == prompt + response
    assert example["labels"] == [IGNORE] * len(prompt) + response
    assert example["labels"][-1] == smol_tokenizer.convert_tokens_to_ids("<|im_end|>")


def test_long_input_text_is_shortened_never_the_template_tail(smol_tokenizer):
    template = get_template("qwen")
    stats = EncodeStats()
    example = encode_example(template, smol_tokenizer, INSTRUCTION, OUTPUT, Limits(160, 128, 64), stats)
    assert stats.shortened == 1 and len(example["input_ids"]) <= 160
    prompt_len = example["labels"].count(IGNORE)
    assert prompt_len <= 128
    text = smol_tokenizer.decode(example["input_ids"][:prompt_len])
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")  # the template's tail survives
    inner = json.loads(text.split("user\n", 1)[1].rsplit("<|im_end|>", 1)[0])
    assert inner["schema"] == ["person", "city"] and TEXT.startswith(inner["input"]) and 0 < len(inner["input"]) < len(TEXT)  # noqa: E501


def test_collator_pads_right_and_counts_real_tokens():
    collator = Collator(pad_token_id=0)
    batch = collator([{"input_ids": [5, 6, 7], "labels": [IGNORE, 6, 7]}, {"input_ids": [5], "labels": [5]}])
    assert batch["input_ids"].tolist() == [[5, 6, 7, 0], [5, 0, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE, 6, 7, IGNORE], [5, IGNORE, IGNORE, IGNORE]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 0, 0, 0]]
    assert collator.tokens_seen == 4
