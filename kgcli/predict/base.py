"""What every predict backend shares: sampling options, the prompt kit (template + tokenizer, loaded once),
and the interface a backend implements.

The runner (``predict.run``) turns records into prompt ids with the kit; a backend turns prompt ids into
answer strings. HF, vLLM and an OpenAI-compatible server all see the same ids.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from kgcli.errors import KgcError

if TYPE_CHECKING:  # this module is read by the CLI layer for its defaults: keep it light
    from kgcli.model.presets import Preset
    from kgcli.model.templates import Template


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int = 512
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    seed: int | None = None  # sampling (temperature > 0): the same seed and input give the same answers

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


def windows(records: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive runs of ``size`` records (the last one shorter): how every route takes its input."""
    window: list[Any] = []
    for item in records:
        window.append(item)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


class Backend(Protocol):
    name: str

    def generate(self, prompts: list[list[int]], schemas: list[dict] | None = None) -> list[str]:
        """One answer per prompt (token ids), in order; ``schemas`` constrain answers where supported."""
        ...

    def close(self) -> None: ...


# ---- the backends: each with its own options, checked before anything loads -------------------------
@dataclass(frozen=True)
class HFOptions:
    """hf: transformers' ``generate`` in this process (``--num-processes``: one process per GPU under
    accelerate launch, each answering its share)."""

    num_processes: int = 1

    def check(self) -> None:
        pass


def user_kv_cache_gib() -> int:
    """``VLLM_CPU_KVCACHE_SPACE`` as the user set it (0: not set); vLLM reads it as whole GiB."""
    text = os.environ.get("VLLM_CPU_KVCACHE_SPACE", "").strip()
    try:
        return int(text or 0)
    except ValueError:
        raise KgcError(f"VLLM_CPU_KVCACHE_SPACE must be a whole number of GiB, got {text!r}") from None


@dataclass(frozen=True)
class VLLMOptions:
    """vllm: a vLLM engine per replica, fed whole windows (it schedules them itself)."""

    tensor_parallel_size: int = 1
    data_parallel: int = 1
    prefix_caching: bool = True
    gpu_memory_utilization: float | None = None

    def check(self) -> None:
        user_kv_cache_gib()  # a malformed VLLM_CPU_KVCACHE_SPACE is said before the model loads


@dataclass(frozen=True)
class OpenAIOptions:
    """openai: any OpenAI-compatible completions server (``vllm serve``, TGI, llama.cpp, a hosted API)."""

    api_base: str | None = None
    served_model: str | None = None
    api_key_env: str | None = None
    concurrency: int = 4
    prompt_format: str = "text"
    max_retries: int = 2

    def check(self) -> None:
        if not (self.api_base and self.served_model):
            raise KgcError("--backend openai needs --api-base URL and --served-model NAME")


@dataclass(frozen=True)
class BatchFileOptions:
    """openai-batch: request files for a batch job (``vllm run-batch``, a hosted Batch API), and the join
    of its results; no model runs here."""

    write_requests: str | None = None
    read_results: str | None = None
    batch_url: str = "/v1/completions"
    served_model: str | None = None

    def check(self) -> None:
        if bool(self.write_requests) == bool(self.read_results):
            raise KgcError("--backend openai-batch needs --write-requests REQ or --read-results RES (one)")


@dataclass(frozen=True)
class RayOptions:
    """ray: the records through Ray Data to engine replicas on a Ray cluster's nodes."""

    ray_engine: str = "vllm"  # vllm (ray.data.llm, GPUs) or hf (any machine)
    data_parallel: int = 1  # replicas
    ray_address: str | None = None  # a running cluster; None = RAY_ADDRESS or a local one
    tensor_parallel_size: int = 1
    prefix_caching: bool = True
    batch_size: int = 8  # hf: prompts per forward pass
    cpus_per_replica: float = 1.0

    def check(self) -> None:
        pass


@dataclass(frozen=True)
class GoldOptions:
    """gold (tests and benchmarks): each record answered from its own gold label; no model runs."""

    def check(self) -> None:
        pass


@dataclass(frozen=True)
class BackendSpec:
    """A backend as the runner needs to know it, without importing it: where it lives, how it is fed, and
    its options."""

    name: str
    target: str  # "module:attribute" inside kgcli.predict
    options: type
    streams: bool = False  # takes whole windows and batches them itself (else batches of --batch-size)
    guided: bool = False  # can constrain answers to a JSON schema (--guided-json)
    sixteen_bits: bool = False  # loads the base in 16 bits only
    one_adapter: str | None = None  # why it applies one adapter only (None: as many as the base takes)
    quantised_one_adapter: bool = False  # a 4/8-bit base keeps one adapter attached
    always_remote: bool = False  # the model runs elsewhere, whatever the options
    whole_file: bool = False  # answers IN into OUT itself (a cluster's pipeline, the gold answers)

    def remote(self, options: Any) -> bool:
        """The model runs elsewhere (a server, a cluster): this machine's rules do not apply."""
        return self.always_remote or bool(getattr(options, "ray_address", None))

    def check_adapters(self, preset: Preset, adapters: list[str]) -> None:
        """How many adapters this backend can apply to the preset's base."""
        if self.sixteen_bits and preset.bits != 16:
            raise KgcError(f"the {self.name} backend loads the base in 16 bits; preset {preset.name} is "
                           f"{preset.bits}-bit: use --backend hf, or --set bits=16")
        if self.one_adapter and len(adapters) > 1:
            raise KgcError(self.one_adapter)
        if self.quantised_one_adapter and preset.bits != 16 and len(adapters) > 1:
            raise KgcError("a quantised (4/8-bit) base takes one adapter; merge the others first (kgc merge)")


BACKENDS: dict[str, BackendSpec] = {spec.name: spec for spec in (
    BackendSpec("hf", "hf:HFBackend", HFOptions, quantised_one_adapter=True),
    BackendSpec("vllm", "vllm_backend:VLLMBackend", VLLMOptions, streams=True, guided=True, sixteen_bits=True,
                one_adapter="vLLM serves one adapter per request: merge the others first (kgc merge)"),
    BackendSpec("openai", "openai_backend:OpenAIBackend", OpenAIOptions, always_remote=True),
    BackendSpec("openai-batch", "batch_files:write_requests_for", BatchFileOptions),
    BackendSpec("ray", "ray_backend:predict_with_ray", RayOptions, whole_file=True),
    BackendSpec("gold", "gold_backend:predict_from_gold", GoldOptions, whole_file=True),
)}


def backend_spec(name: str) -> BackendSpec:
    if name not in BACKENDS:
        raise KgcError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}")
    return BACKENDS[name]


def backend_options(name: str, *, guided_json: bool = False, **flags: Any) -> Any:
    """The backend's own options from the command line's flags (each takes the flags named like its fields),
    with every cross-option rule of a backend choice checked once, before anything loads."""
    spec = backend_spec(name)
    if guided_json and not spec.guided:
        raise KgcError("--guided-json needs --backend vllm")
    fields = {f.name for f in dataclasses.fields(spec.options)}
    options = spec.options(**{k: v for k, v in flags.items() if k in fields})
    files = isinstance(options, BatchFileOptions)
    if not files:
        options.check()
    if flags.get("num_processes", 1) > 1 and "num_processes" not in fields:
        raise KgcError("--num-processes shards the hf backend over IN and OUT files (vllm: --data-parallel)")
    if flags.get("data_parallel", 1) > 1 and "data_parallel" not in fields:
        raise KgcError(f"--data-parallel is for --backend vllm or ray (hf: --num-processes; {name}: one "
                       "stream already)")
    if not files and (flags.get("write_requests") or flags.get("read_results")):
        raise KgcError("--write-requests and --read-results are for --backend openai-batch")
    if files:
        options.check()
    return options


def backend_streams(name: str) -> bool:
    """Whether this backend gets whole windows, known without importing it."""
    return backend_spec(name).streams


def load_setup(preset: Preset, model_path: str, sampling: Sampling, adapters: list[str]) -> Setup:
    """Template and tokenizer, once for the runner and the backend."""
    from kgcli.model.loading import load_tokenizer, template_of

    template = template_of(preset)
    tokenizer = load_tokenizer(model_path, template, preset.trust_remote_code)
    return Setup(preset, model_path, template, tokenizer, sampling, list(adapters))


def backend_target(name: str) -> Any:
    """The backend's class (or, for those that run a whole job, its function), imported on first use."""
    module, attribute = backend_spec(name).target.split(":")
    return getattr(importlib.import_module(f"kgcli.predict.{module}"), attribute)


def open_backend(name: str, setup: Setup, options: Any = None) -> Backend:
    """A started backend; ``options``: that backend's own (``VLLMOptions``, ``OpenAIOptions``, ...), its
    defaults when None."""
    options = options if options is not None else backend_spec(name).options()
    kwargs = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    kwargs.pop("num_processes", None)  # hf: how it is launched, not how it generates
    return backend_target(name)(setup, **kwargs)
