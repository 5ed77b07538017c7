"""What every predict backend shares: sampling options, the prompt kit (template + tokenizer, loaded once),
and the interface a backend implements.

The runner (``predict.run``) turns records into prompt ids with the kit; a backend turns prompt ids into
answer strings. HF, vLLM and an OpenAI-compatible server all see the same ids.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from kgcli.presets import Preset
from kgcli.templates import Template


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int = 512
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0


@dataclass
class Setup:
    """One prediction run's model side, resolved before a backend starts."""

    preset: Preset
    model_path: str
    template: Template
    tokenizer: Any
    sampling: Sampling = field(default_factory=Sampling)
    adapters: list[str] = field(default_factory=list)


class Backend(Protocol):
    name: str

    def generate(self, prompts: list[list[int]], schemas: list[dict] | None = None) -> list[str]:
        """One answer per prompt (token ids), in order; ``schemas`` constrain answers where supported."""
        ...

    def close(self) -> None: ...


# backend name → "module:class" inside kgcli.predict (imported on first use)
BACKENDS = {"hf": "hf:HFBackend", "vllm": "vllm_backend:VLLMBackend",
            "openai": "openai_backend:OpenAIBackend"}


def load_setup(preset: Preset, model_path: str, sampling: Sampling, adapters: list[str]) -> Setup:
    """Template and tokenizer, once for the runner and the backend."""
    from kgcli.loading import load_tokenizer, template_of

    template = template_of(preset)
    tokenizer = load_tokenizer(model_path, template, preset.trust_remote_code)
    return Setup(preset, model_path, template, tokenizer, sampling, list(adapters))


def open_backend(name: str, setup: Setup, **options: Any) -> Backend:
    """A started backend; ``options`` are that backend's own (``--tp``, ``--api-base``, ...)."""
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(f"kgcli.predict.{module}"), cls)(setup, **options)
