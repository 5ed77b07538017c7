"""Templates: exact prompt strings of the published checkpoints (spec §4.3) and the piecewise id rule (§4.1)."""

from __future__ import annotations

import json

import pytest

from kgcli.errors import KgcError
from kgcli.model.templates import check_vocabulary, encode_pieces, fix_tokenizer, get_template, template_names

INSTRUCTION = json.dumps(
    {"instruction": "你是专门进行实体抽取的专家。请从input中抽取出符合schema定义的实体，不存在的实体类型返回空列表。请按照JSON字符串的格式回答。",
     "schema": ["人物", "组织机构", "地理位置"], "input": "青岛海牛队和广州松日队的雨中之战。"},
    ensure_ascii=False,
)
LLAMA2_SYSTEM = (
    "You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while being "
    "safe. "
    "Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or illegal "
    "content. "
    "Please ensure that your responses are socially unbiased and positive in nature.\n\n"
    "If a question does not make any sense, or is not factually coherent, explain why instead of answering "
    "something "
    "not correct. If you don't know the answer to a question, please don't share false information."
)

GOLDEN = {
    # OneKE (llama2_zh): the system block folded into [INST], one space before [/INST].
    "llama2_zh": "[INST] <<SYS>>\nYou are a helpful assistant. 你是一个乐于助人的助手。\n<</SYS>>\n\n" + INSTRUCTION + " [/INST]",
    "llama2": "[INST] <<SYS>>\n" + LLAMA2_SYSTEM + "\n<</SYS>>\n\n" + INSTRUCTION + " [/INST]",
    "baichuan2": "<reserved_106>" + INSTRUCTION + "<reserved_107>",
    "alpaca": "Below is an instruction that describes a task. Write a response that appropriately completes "
              "the request."
              "\n\n### Instruction:\n" + INSTRUCTION + "\n\n### Response:\n",
    "qwen": "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n" + INSTRUCTION
            + "<|im_end|>\n<|im_start|>assistant\n",
}


# bases newer than the seed's (test_current_bases)
CURRENT = ["qwen2.5", "qwen3", "qwen3-thinking", "llama3.1", "ministral", "mistral-nemo", "gemma3"]


def test_all_27_seed_templates_are_registered():
    seed = [name for name in template_names() if name not in CURRENT]
    assert len(seed) == 27 and len(template_names()) == 27 + len(CURRENT)
    assert "qwen2" not in template_names() and "llama3" in template_names()


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_published_checkpoint_prompts_are_exact(name):
    assert get_template(name).render_prompt(INSTRUCTION) == GOLDEN[name]


def test_qwen_pieces_are_separate_with_token_elements():
    pieces = get_template("qwen").prompt_pieces(INSTRUCTION)
    assert pieces == [
        {"token": "<|im_start|>"}, "system\nYou are a helpful assistant.", {"token": "<|im_end|>"}, "\n",
        {"token": "<|im_start|>"}, "user\n" + INSTRUCTION, {"token": "<|im_end|>"}, "\n",
        {"token": "<|im_start|>"}, "assistant\n",
    ]


def test_empty_prefix_drops_the_separator():
    # mistral: system "" → prefix encodes to nothing → no " " separator before [INST].
    assert get_template("mistral").render_prompt("q") == "[INST] q [/INST]"
    assert get_template("vanilla").render_prompt("q") == "q"
    # chatglm2: the prefix has tokens, so its separator stays.
    assert get_template("chatglm2").render_prompt("q") == "[gMASK]sop\n\n[Round 1]\n\n问：q\n\n答："


def test_unknown_template_is_a_one_line_error():
    with pytest.raises(KgcError, match="unknown template 'llama3_instruct'"):
        get_template("llama3_instruct")


def test_piecewise_encoding_differs_from_joined_and_encoder_returns_pieces(smol_tokenizer):
    tok = smol_tokenizer
    template = get_template("alpaca")
    ids = template.encode_prompt(tok, INSTRUCTION)
    pieces = [template.system, "\n\n", "### Instruction:\n" + INSTRUCTION + "\n\n### Response:\n"]
    piecewise = [i for p in pieces for i in tok.encode(p, add_special_tokens=False)]
    joined = tok.encode("".join(pieces), add_special_tokens=False)
    assert ids == piecewise  # SmolLM2's tokenizer sets add_bos_token false: no BOS
    assert piecewise != joined
    assert tok.decode(ids) == tok.decode(joined) == template.render_prompt(INSTRUCTION)


def test_llama2_prompt_is_one_encode_call(smol_tokenizer):
    tok = smol_tokenizer
    ids = get_template("llama2_zh").encode_prompt(tok, INSTRUCTION)
    assert ids == tok.encode(GOLDEN["llama2_zh"], add_special_tokens=False)


def test_special_token_pieces_map_to_single_ids(smol_tokenizer):
    tok = smol_tokenizer
    ids = get_template("qwen").encode_prompt(tok, "hi")
    start, end = tok.convert_tokens_to_ids("<|im_start|>"), tok.convert_tokens_to_ids("<|im_end|>")
    assert ids[0] == start and ids.count(start) == 3 and ids.count(end) == 2
    assert ids == encode_pieces(tok, get_template("qwen").prompt_pieces("hi"))


def test_response_ends_with_eos_and_is_encoded_on_its_own(smol_tokenizer):
    tok = smol_tokenizer
    response = '{"人物": []}'
    ids = get_template("qwen").encode_response(tok, response)
    assert ids == tok.encode(response, add_special_tokens=False) + [tok.eos_token_id]


def test_replace_eos_and_stop_words(smol_tokenizer):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smol_tokenizer.name_or_path)
    template = get_template("llama3")
    fix_tokenizer(tok, template)
    assert tok.eos_token == "<|eot_id|>"
    assert len(tok.encode("<|eot_id|>", add_special_tokens=False)) == 1
    assert template.stop_token_ids(tok) == [tok.eos_token_id]


def test_missing_template_tokens_are_reported(smol_tokenizer):
    with pytest.raises(KgcError, match="<reserved_106>"):
        check_vocabulary(smol_tokenizer, get_template("baichuan2"))
    check_vocabulary(smol_tokenizer, get_template("qwen"))


@pytest.mark.parametrize("name", template_names())
def test_chat_template_renders_the_same_prompt(smol_tokenizer, name):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smol_tokenizer.name_or_path)
    template = get_template(name)
    tok.chat_template = template.chat_template()
    query = 'He said "{x}" {{y}} {% z %} #}\n'
    for messages, system in (([], None), ([{"role": "system", "content": "S!"}], "S!"),
                             ([{"role": "system", "content": ""}], "")):
        rendered = tok.apply_chat_template(messages + [{"role": "user", "content": query}], tokenize=False,
                                           add_generation_prompt=True)
        assert rendered == template.render_prompt(query, system=system)
