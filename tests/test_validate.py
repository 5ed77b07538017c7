"""Each validation rule, with its one-line message."""

from __future__ import annotations

import pytest

from kgcli.errors import KgcError
from kgcli.model.presets import apply_overrides, load_preset
from kgcli.model.validate import Hardware, problems, validate
from tests.conftest import run_kgc

GPU_OK = Hardware("cuda", bf16=True, bitsandbytes=True)


def one(preset_name, hardware=GPU_OK, **changes):
    preset = apply_overrides(load_preset(preset_name), changes)
    return problems(preset, hardware)


@pytest.mark.parametrize("name", ["oneke", "llama2-13b-iepile-lora", "baichuan2-13b-iepile-lora",
                                  "llama3-8b-iepile-lora", "qwen1.5-14b-iepile-lora", "oneke-continue",
                                  "smollm2-135m-lora", "chatglm3-6b-lora"])
def test_shipped_presets_are_valid(name):
    assert one(name) == []


def test_unknown_template():
    assert one("llama2-7b-chat-lora",
               template="llama3_instruct")[0].startswith("unknown template 'llama3_instruct'")


def test_checkpoint_trained_template_is_enforced():
    [message] = one("llama3-8b-iepile-lora", template="llama3")
    assert "trained with `alpaca`, not `llama3`" in message


def test_known_bad_family_template_pair():
    [message] = one("chatglm3-6b-lora", template="alpaca")
    assert message.startswith("template 'alpaca' does not fit family 'chatglm'")


def test_quantised_bits_need_lora():
    [message] = one("oneke-continue-full", bits=4)
    assert message == "bits 4 (QLoRA) works only with finetuning_type lora, not 'full'"


def test_quantised_bits_need_bitsandbytes():
    [message] = one("oneke-continue", hardware=Hardware("cuda", True, bitsandbytes=False))
    assert message.startswith("bits 4 needs bitsandbytes")


def test_bf16_without_hardware_support_names_the_override():
    [message] = one("oneke", hardware=Hardware("cuda", bf16=False, bitsandbytes=True))
    assert message == "bf16 is not supported on this cuda; pass --dtype fp16 (GPU) or --dtype fp32 to override"  # noqa: E501


def test_remote_code_must_be_explicit():
    [message] = one("baichuan2-7b-lora", trust_remote_code=False)
    assert "runs the model's own code: pass --trust-remote-code if you trust it" in message


def test_vllm_rank_must_be_allowed_and_cover_the_adapter():
    assert one("llama3-8b-iepile-lora",
               vllm_max_lora_rank=48)[0].startswith("vllm_max_lora_rank 48 is not one vLLM accepts")
    [message] = one("llama3-8b-iepile-lora", vllm_max_lora_rank=32)
    assert message == "vllm_max_lora_rank 32 is below the adapter's rank 64; set vllm_max_lora_rank to 64"


def test_lora_targets_must_belong_to_the_family():
    [message] = one("llama2-7b-chat-lora", lora_target_modules=["q_proj", "W_pack"])
    assert message.startswith("LoRA target(s) W_pack are not modules of family 'llama'")


def test_validate_raises_one_error_with_all_problems():
    preset = apply_overrides(load_preset("oneke-continue-full"), {"bits": 8, "vllm_max_lora_rank": 7})
    with pytest.raises(KgcError) as info:
        validate(preset, GPU_OK)
    text = str(info.value)
    assert text.startswith("preset oneke-continue-full: ") and "\n" not in text
    assert "bits 8" in text and "vllm_max_lora_rank 7" in text


def test_presets_validate_command(tmp_path):
    ok = run_kgc("presets", "validate", "llama3-8b-iepile-lora", check=True).stdout_text.splitlines()
    assert ok[0] == "preset llama3-8b-iepile-lora: ok"
    said = "\n".join(ok[1:])  # what was checked, not "ok" alone
    for checked in ("family llama: known", "template alpaca: registered",
                    "checkpoint zjunlp/llama3-8b-iepile-lora: needs llama/alpaca, as set", "dtype bf16:",
                    "bits 16: no quantisation", "remote code: not needed", "vLLM: max_lora_rank 64"):
        assert checked in said, checked
    (tmp_path / "bad.yaml").write_text("base_model: zjunlp/OneKE\nfamily: llama\ntemplate: "
                                       "alpaca\nfinetuning_type: full\n")
    result = run_kgc("presets", "validate", "bad", env={"KGC_PRESETS_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr_text.startswith("kgc: error: preset bad: zjunlp/OneKE needs family 'llama' and "
                                         "template 'llama2_zh'")
