"""The Hugging Face backend: batched greedy (or sampled) generation with left padding.

Adapters are merged into a 16-bit base (faster generation) and attached to a quantised one (4/8-bit
weights cannot absorb them). EOS and every single-token stop word of the template stop generation.
"""

from __future__ import annotations

from typing import Any

from kgcli.errors import KgcError
from kgcli.model.loading import load_model
from kgcli.predict.base import Setup


class HFBackend:
    name = "hf"

    def __init__(self, setup: Setup):
        preset, adapters = setup.preset, setup.adapters
        self.sampling, self.template, self.tokenizer = setup.sampling, setup.template, setup.tokenizer
        model = load_model(setup.model_path, preset, self.tokenizer)
        if adapters:
            from peft import PeftModel

            if preset.bits == 16:
                for adapter in adapters:
                    model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
            else:  # a quantised base keeps one adapter attached (BackendSpec.check_adapters)
                model = PeftModel.from_pretrained(model, adapters[0])
        self.model = model.eval()
        if self.sampling.seed is not None:  # one seed for the run: its draws follow the records in order
            import torch

            torch.manual_seed(self.sampling.seed)
        self.stop_ids = self.template.stop_token_ids(self.tokenizer)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.stop_ids[0]

    def generate(self, prompts: list[list[int]], schemas: list[dict] | None = None) -> list[str]:
        import torch

        if schemas:
            raise KgcError("--guided-json needs the vllm backend")
        longest = max(len(p) for p in prompts)
        ids = [[self.pad_id] * (longest - len(p)) + p for p in prompts]
        mask = [[0] * (longest - len(p)) + [1] * len(p) for p in prompts]
        device = next(self.model.parameters()).device
        kwargs: dict[str, Any] = {"max_new_tokens": self.sampling.max_new_tokens,
                                  "eos_token_id": self.stop_ids,
                                  "pad_token_id": self.pad_id}
        if self.sampling.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.sampling.temperature, top_p=self.sampling.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self.model.generate(input_ids=torch.tensor(ids, device=device),
                                      attention_mask=torch.tensor(mask, device=device), **kwargs)
        return [self.tokenizer.decode(row[longest:], skip_special_tokens=True) for row in out.tolist()]

    def close(self) -> None:
        del self.model
