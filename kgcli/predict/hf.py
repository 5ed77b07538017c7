"""The Hugging Face backend: batched greedy (or sampled) generation with left padding.

Adapters are merged into a 16-bit base (faster generation) and attached to a quantised one (4/8-bit
weights cannot absorb them). EOS and every single-token stop word of the template stop generation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kgcli.errors import KgcError
from kgcli.loading import load_model, load_tokenizer, template_of
from kgcli.presets import Preset


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0


class HFBackend:
    name = "hf"

    def __init__(self, preset: Preset, model_path: str, adapters: list[str], sampling: Sampling):
        self.preset, self.sampling = preset, sampling
        self.template = template_of(preset)
        self.tokenizer = load_tokenizer(model_path, self.template, preset.trust_remote_code)
        model = load_model(model_path, preset, self.tokenizer)
        if adapters:
            from peft import PeftModel

            if preset.bits == 16:
                for adapter in adapters:
                    model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
            elif len(adapters) == 1:
                model = PeftModel.from_pretrained(model, adapters[0])
            else:
                raise KgcError("a quantised (4/8-bit) base takes one adapter; merge the others first (kgc merge)")
        self.model = model.eval()
        self.stop_ids = self.template.stop_token_ids(self.tokenizer)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.stop_ids[0]

    def generate(self, prompts: list[list[int]]) -> list[str]:
        import torch

        longest = max(len(p) for p in prompts)
        ids = [[self.pad_id] * (longest - len(p)) + p for p in prompts]
        mask = [[0] * (longest - len(p)) + [1] * len(p) for p in prompts]
        device = next(self.model.parameters()).device
        kwargs: dict[str, Any] = {"max_new_tokens": self.sampling.max_new_tokens, "eos_token_id": self.stop_ids,
                                  "pad_token_id": self.pad_id}
        if self.sampling.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.sampling.temperature, top_p=self.sampling.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self.model.generate(input_ids=torch.tensor(ids, device=device),
                                      attention_mask=torch.tensor(mask, device=device), **kwargs)
        return [self.tokenizer.decode(row[longest:], skip_special_tokens=True) for row in out.tolist()]
