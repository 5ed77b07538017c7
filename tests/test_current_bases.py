"""Templates for today's bases, golden-tested against each family's official chat template: the Jinja text
published with the models (the branches a one-turn prompt without tools reaches, reproduced here as data),
rendered the way transformers renders it, for a turn without and with a system message."""

from __future__ import annotations

import jinja2
import pytest

from kgcli.model.templates import get_template

QWEN25 = """{%- if tools %}{{- raise_exception('tools are not part of this excerpt') }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""  # noqa: E501

QWEN3 = """{%- if tools %}{{- raise_exception('tools are not part of this excerpt') }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\\n' + content + '<|im_end|>' + '\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\\n\\n</think>\\n\\n' }}
    {%- endif %}
{%- endif %}
"""

LLAMA31 = """{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}{{- raise_exception('tools are not part of this excerpt') }}{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""  # noqa: E501

MISTRAL = """{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if loop.last and system_message is defined %}
            {{- OPEN + system_message + "\\n\\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- OPEN + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
"""
# Ministral-8B-Instruct-2410 writes "[INST]", Mistral-Nemo-Instruct-2407 "[INST] " (the only difference in
# this branch; Mistral-7B-Instruct-v0.3's spacing differs between its revisions, so it has no template here).
MINISTRAL, MISTRAL_NEMO = MISTRAL.replace("OPEN", '"[INST]"'), MISTRAL.replace("OPEN", '"[INST] "')

GEMMA3 = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- else -%}
        {{ raise_exception("images are not part of this excerpt") }}
    {%- endif -%}
    {{ '<end_of_turn>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\\n'}}
{%- endif -%}
"""

# template → (official Jinja, extra render variables, BOS text)
OFFICIAL = {
    "qwen2.5": (QWEN25, {}, ""),
    "qwen3": (QWEN3, {"enable_thinking": False}, ""),
    "qwen3-thinking": (QWEN3, {"enable_thinking": True}, ""),
    "llama3.1": (LLAMA31, {}, "<|begin_of_text|>"),
    "ministral": (MINISTRAL, {}, "<s>"),
    "mistral-nemo": (MISTRAL_NEMO, {}, "<s>"),
    "gemma3": (GEMMA3, {}, "<bos>"),
}
QUERIES = ['{"instruction": "你是专门进行实体抽取的专家。", "schema": ["人物"], "input": "张三在北京。"}',
           '{"instruction": "You are an expert in named entity recognition.", "schema": ["person"], '
           '"input": "Alice flew to Rome."}']


def official(source: str, messages: list[dict], variables: dict, bos: str) -> str:
    """Rendered as transformers does (a sandboxed environment with trim_blocks and lstrip_blocks)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(source).render(messages=messages, add_generation_prompt=True, bos_token=bos,
                                          **variables)


@pytest.mark.parametrize("name", sorted(OFFICIAL))
@pytest.mark.parametrize("system", [None, "You extract entities. 只输出JSON。"])
def test_prompt_equals_the_official_chat_template(name, system):
    source, variables, bos = OFFICIAL[name]
    template = get_template(name)
    for query in QUERIES:
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user",
                                                                                  "content": query}]
        expected = official(source, messages, variables, bos)
        assert template.render_prompt(query, system=system, bos=bos) == expected


def test_qwen3_thinking_off_is_the_empty_think_block_and_on_leaves_it_to_the_model():
    off, on = get_template("qwen3"), get_template("qwen3-thinking")
    assert off.render_prompt("q").endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert on.render_prompt("q").endswith("<|im_start|>assistant\n")
    assert off.thinking_variant == "qwen3-thinking" and on.thinking_variant is None
    assert not off.render_prompt("q").startswith("<|im_start|>system")  # Qwen3 has no default system turn


def test_predict_thinking_switch_picks_the_template_variant(tmp_path, tiny_model):
    """The prompts predict sends, read from batch request files (no model loads): --thinking off (the
    default) ends in the empty think block, on leaves the assistant turn open; a template without a
    reasoning variant refuses --thinking on."""
    from tests.conftest import iepile_record, read_jsonl, run_kgc, write_jsonl

    source = write_jsonl(tmp_path / "test.json", [iepile_record("NER", ["person"], "Alice flew to Rome.")])
    prompts = {}
    for thinking in ("off", "on"):
        run_kgc("predict", str(source), "--preset", "tiny-random-llama-lora", "--set", "template=qwen3",
                "--thinking", thinking, "--backend", "openai-batch", "--write-requests",
                str(tmp_path / f"{thinking}.jsonl"), check=True)
        prompts[thinking] = read_jsonl(tmp_path / f"{thinking}.jsonl")[0]["body"]["prompt"]
    assert prompts["off"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert prompts["on"].endswith("<|im_start|>assistant\n") and prompts["off"].startswith(prompts["on"])
    refused = run_kgc("predict", str(source), "--preset", "tiny-random-llama-lora", "--thinking", "on",
                      "--backend", "openai-batch", "--write-requests", str(tmp_path / "x.jsonl"))
    assert refused.returncode == 2 and "has no reasoning variant" in refused.stderr_text
