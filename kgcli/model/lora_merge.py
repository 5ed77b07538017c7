"""Merge LoRA adapters into their base model and save a self-contained model folder.

The tokenizer is saved with the template written as its ``chat_template``, so vLLM and other servers build
the prompt the model was trained with. The folder appears only when complete (built in a temporary sibling,
then renamed), with ``kgc_merge.json`` recording where it came from.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kgcli.errors import KgcError
from kgcli.model.builders import resolve_model_path
from kgcli.model.loading import load_model, load_tokenizer, template_of
from kgcli.model.presets import Preset
from kgcli.model.templates import bos_ids
from kgcli.model.validate import check_mergeable
from kgcli.outputs import atomic_folder, check_output_folder

WRITER = "kgc merge"  # the folder rule's name for what merge writes (its kgc_merge.json marks it)


def ollama_modelfile(template: Any, stop_words: list[str]) -> str:
    """An Ollama Modelfile for the merged folder: the training prompt as TEMPLATE, the template's stop words,
    and greedy decoding (a fine-tuned extractor sampled at Ollama's default temperature answers at random)."""
    lines = ["# Written by kgc merge: the prompt this model was trained on, its stop words, greedy answers.",
             "# ollama create NAME -f Modelfile   (from this folder)", "FROM .",
             f'TEMPLATE """{template.ollama_template()}"""']
    if template.system:
        lines.append(f'SYSTEM """{template.system}"""')
    lines += [f"PARAMETER stop {json.dumps(word, ensure_ascii=False)}" for word in stop_words]
    lines.append("PARAMETER temperature 0")
    return "\n".join(lines) + "\n"


PROBE = '{"instruction": "Extract entities. 请抽取实体。", "schema": ["人物"], "input": "张三 met Alice."}'


def chat_template_tokenizes_as_trained(tokenizer: Any, template: Any) -> bool | None:
    """Whether the chat template's text, encoded whole (what a server that takes text does), gives the ids
    the model was trained on (each template piece encoded on its own). Byte-level BPE can merge across a
    piece join: Llama-3's tokenizer reads the alpaca template's ``request.`` + ``\\n\\n`` as one token."""
    try:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": PROBE}], add_generation_prompt=True,
                                            tokenize=True)
    except Exception:  # a remote-code tokenizer without chat-template support: nothing to compare
        return None
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    return list(ids) == template.encode_prompt(tokenizer, PROBE)


def merge(preset: Preset, adapters: list[str], out_dir: str, max_shard_size: str = "5GB",
          overwrite: bool = False, ollama: bool = False) -> dict[str, Any]:
    """Merge ``adapters`` into the preset's base model and write the model folder ``out_dir`` (checked before
    the base model is built or loaded)."""
    check_mergeable(preset)
    if not adapters:
        raise KgcError("nothing to merge: give --adapter PATH (or a preset with an adapter)")
    check_output_folder(out_dir, writer=WRITER, overwrite=overwrite)
    from peft import PeftModel

    model_path = resolve_model_path(preset.base_model, preset.builder)
    template = template_of(preset)
    tokenizer = load_tokenizer(model_path, template, preset.trust_remote_code)
    model = load_model(model_path, preset, tokenizer)
    for adapter in adapters:
        if not (Path(adapter) / "adapter_config.json").is_file():
            raise KgcError("not a LoRA adapter folder (no adapter_config.json)", adapter)
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.config.use_cache = True
    bos = tokenizer.bos_token if bos_ids(tokenizer) else ""
    tokenizer.chat_template = template.chat_template(bos=bos or "")
    as_trained = chat_template_tokenizes_as_trained(tokenizer, template)
    with atomic_folder(out_dir, WRITER) as folder:
        work = Path(folder)
        model.save_pretrained(work, max_shard_size=max_shard_size)
        tokenizer.save_pretrained(work)
        provenance = {"base_model": model_path, "adapters": adapters, "template": preset.template,
                      "dtype": preset.dtype, "chat_template_tokenizes_as_trained": as_trained,
                      "preset": preset.model_dump()}
        (work / "kgc_merge.json").write_text(json.dumps(provenance, indent=2, ensure_ascii=False) + "\n")
        if ollama:
            stops = list(dict.fromkeys([*template.stop_words, *([tokenizer.eos_token] if tokenizer.eos_token
                                                                else [])]))
            (work / "Modelfile").write_text(ollama_modelfile(template, stops), encoding="utf-8")
    return provenance
