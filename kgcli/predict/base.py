"""What every predict backend shares: sampling options, the prompt kit (template + tokenizer, loaded once),
and the interface a backend implements.

The runner (``predict.run``) turns records into prompt ids with the kit; a backend turns prompt ids into
answer strings. HF, vLLM and an OpenAI-compatible server all see the same ids.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # this module is read by the CLI layer for its defaults: keep it light
    from kgcli.model.presets import Preset
    from kgcli.model.templates import Template


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int = 512
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0

    @property
    def answer_cap(self) -> int:
        """The most characters an answer keeps (longer ones are cut and counted)."""
        from kgcli.repair import answer_cap

        return answer_cap(self.max_new_tokens)


@dataclass
class Setup:
    """One prediction run's model side, resolved before a backend starts."""

    preset: Preset
    model_path: str
    template: Template
    tokenizer: Any
    sampling: Sampling = field(default_factory=Sampling)
    adapters: list[str] = field(default_factory=list)


# Records a self-scheduling backend (vLLM) gets at once: enough to keep its scheduler full, few enough that
# a killed run loses little (OUT is written window by window).
DEFAULT_WINDOW = 2048


class Backend(Protocol):
    name: str

    def generate(self, prompts: list[list[int]], schemas: list[dict] | None = None) -> list[str]:
        """One answer per prompt (token ids), in order; ``schemas`` constrain answers where supported."""
        ...

    def close(self) -> None: ...


# backend name → "module:class" inside kgcli.predict (imported on first use)
BACKENDS = {"hf": "hf:HFBackend", "vllm": "vllm_backend:VLLMBackend",
            "openai": "openai_backend:OpenAIBackend"}


# Backends that take whole windows and batch them themselves; the others get batches of --batch-size.
STREAMING_BACKENDS = frozenset({"vllm"})


def backend_streams(name: str) -> bool:
    """Whether this backend gets whole windows, known without importing it."""
    return name in STREAMING_BACKENDS


def load_setup(preset: Preset, model_path: str, sampling: Sampling, adapters: list[str]) -> Setup:
    """Template and tokenizer, once for the runner and the backend."""
    from kgcli.model.loading import load_tokenizer, template_of

    template = template_of(preset)
    tokenizer = load_tokenizer(model_path, template, preset.trust_remote_code)
    return Setup(preset, model_path, template, tokenizer, sampling, list(adapters))


def open_backend(name: str, setup: Setup, **options: Any) -> Backend:
    """A started backend; ``options`` are that backend's own (``--tp``, ``--api-base``, ...)."""
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(f"kgcli.predict.{module}"), cls)(setup, **options)
