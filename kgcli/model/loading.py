"""Loading tokenizers, models and adapters the way a preset says (dtype, bits, remote code, template).

Shared by train, predict and merge. Heavy imports happen inside the functions.
"""

from __future__ import annotations

import os
from typing import Any

from kgcli.errors import KgcError
from kgcli.model.presets import Preset
from kgcli.model.templates import Template, check_vocabulary, fix_tokenizer, get_template

DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, DTYPES[name])


def device() -> str:
    """``cuda`` (this process's GPU under a data-parallel launch: LOCAL_RANK) or ``cpu``."""
    import torch

    if not torch.cuda.is_available():
        return "cpu"
    return f"cuda:{os.environ['LOCAL_RANK']}" if "LOCAL_RANK" in os.environ else "cuda"


def _from_pretrained(loader: Any, path: str, what: str, **kwargs: Any) -> Any:
    """``loader.from_pretrained`` with a one-line error when nothing is there (nothing is downloaded)."""
    try:
        return loader.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise KgcError(f"cannot load the {what} from {path!r}: not a model folder, and not in the local "
                       f"Hugging Face cache ({str(exc).splitlines()[0][:120]})") from None
    except ValueError as exc:
        if "custom code" not in str(exc) or kwargs.get("trust_remote_code"):
            raise
        raise KgcError(f"the {what} in {path!r} needs its own Python code to load (auto_map); pass "
                       "--trust-remote-code if you trust the code in it") from None


def load_tokenizer(path: str, template: Template, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    tokenizer = _from_pretrained(AutoTokenizer, path, "tokenizer", trust_remote_code=trust_remote_code)
    fix_tokenizer(tokenizer, template)
    check_vocabulary(tokenizer, template)
    return tokenizer


def quantization_config(preset: Preset) -> Any:
    if preset.bits == 16:
        return None
    import torch
    from transformers import BitsAndBytesConfig

    if preset.bits == 8:
        return BitsAndBytesConfig(load_in_8bit=True)
    compute = torch_dtype(preset.dtype) if device() != "cpu" else torch.float32
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute)


def load_model(path: str, preset: Preset, tokenizer: Any | None = None) -> Any:
    """The base model in the preset's dtype (or quantised), on the GPU when there is one."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch_dtype(preset.dtype),
                              "trust_remote_code": preset.trust_remote_code}
    quant = quantization_config(preset)
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": device()}
    model = _from_pretrained(AutoModelForCausalLM, path, "model", **kwargs)
    if quant is None and device() != "cpu":
        model = model.to(device())
    if tokenizer is not None and len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))  # template fix-ups added tokens
    return model


def template_of(preset: Preset) -> Template:
    return get_template(preset.template)
