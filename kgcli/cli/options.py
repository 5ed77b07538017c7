"""Options shared by several commands, declared once (``Annotated`` types reused in every signature)."""

from __future__ import annotations

from typing import Annotated

import click
import typer

TASKS = ("NER", "RE", "SPO", "EE", "EET", "EEA", "KG")


def choice(*values: str) -> click.Choice:
    """A choice the parser checks, shows in --help ([a|b|c]) and completes; case-blind (ner = NER)."""
    return click.Choice(values, case_sensitive=False)

PresetOpt = Annotated[str | None, typer.Option("--preset",
                                               help="Preset name or YAML file (kgc presets list).")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Base model path (overrides the preset's).")]
AdapterOpt = Annotated[str | None, typer.Option(
    "--adapter", help="LoRA adapter folder(s), comma-separated (applied in order).")]
DtypeOpt = Annotated[str | None, typer.Option("--dtype", help="bf16, fp16 or fp32 (overrides the preset).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Override a preset field: --set lora_r=16.")]
ResumeOpt = Annotated[bool, typer.Option("--resume",
                                         help="Skip the records already in OUT and append the rest.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
TrustRemoteCodeOpt = Annotated[bool, typer.Option(
    "--trust-remote-code",
    help="Run the model folder's own Python code (needed when --model, --set or a file brings "
         "trust_remote_code; the built-in presets that set it are marked in kgc presets list).")]
FollowLinksOpt = Annotated[bool, typer.Option(
    "--follow-links", help="In a DOCS folder, follow links whose target is inside it (other links are "
                           "skipped, with a warning each).")]
RayEngineOpt = Annotated[str, typer.Option(
    "--ray-engine", click_type=choice("vllm", "hf", "gold"), rich_help_panel="Ray cluster (ray)",
    help="ray: the replicas' engine: vllm (ray.data.llm, GPUs), hf (any machine), or gold (tests and "
         "benchmarks: each record answered from its gold label).")]
RayAddressOpt = Annotated[str | None, typer.Option(
    "--ray-address", rich_help_panel="Ray cluster (ray)",
    help="ray: the cluster to join (default: $RAY_ADDRESS, else a local instance).")]
EncodingOpt = Annotated[str, typer.Option(
    "--encoding", help="The text files' encodings, tried in order, comma-separated (utf-8,gbk): the first "
                       "that reads a whole file is its encoding.")]
OnBadFileOpt = Annotated[str, typer.Option(
    "--on-bad-file", click_type=choice("stop", "skip"),
    help="A text file that no --encoding reads: stop (name it), or skip it with a warning.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run",
                                         help="Print the resolved settings and launch command, then exit.")]
InLauncherOpt = Annotated[bool, typer.Option("--in-launcher", hidden=True)]
TemperatureOpt = Annotated[float, typer.Option("--temperature", min=0.0, help="0 = greedy (the default).")]
ApiBaseOpt = Annotated[str | None, typer.Option("--api-base", help="Server URL, e.g. http://127.0.0.1:8000/v1.")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", min=1, help="Requests in flight.")]
BatchSizeOpt = Annotated[int, typer.Option(
    "--batch-size", min=1, help="hf: prompts per forward pass; openai: prompts per round of requests; "
                                "vllm: not used (see --window).")]
WindowOpt = Annotated[int, typer.Option(
    "--window", min=1, rich_help_panel="vLLM backend",
    help="vllm: records handed to the engine at once (its scheduler batches them); a killed run loses "
         "at most one window.")]
TpOpt = Annotated[int, typer.Option("--tp", min=1, rich_help_panel="vLLM backend",
                                    help="vllm: tensor_parallel_size (GPUs per replica).")]
DataParallelOpt = Annotated[int, typer.Option(
    "--data-parallel", min=1, rich_help_panel="vLLM backend",
    help="vllm: engine replicas fed from one stream (each on --tp GPUs, or a share of the CPU cores).")]
PrefixCachingOpt = Annotated[bool, typer.Option(
    "--prefix-caching/--no-prefix-caching", rich_help_panel="vLLM backend",
    help="vllm: reuse the KV cache of shared prompt prefixes.")]
ServedModelOpt = Annotated[str | None, typer.Option(
    "--served-model", rich_help_panel="OpenAI-compatible server",
    help="openai: the model name the server serves.")]
PromptFormatOpt = Annotated[str | None, typer.Option(
    "--prompt-format", click_type=click.Choice(("chat", "text", "ids"), case_sensitive=False),
    rich_help_panel="OpenAI-compatible server",
    help="openai: chat (the instruction as the user message: the default without --preset), text (a "
         "completion; with --preset, of the rendered prompt: its default) or ids (--preset's token ids).")]
StructuredOpt = Annotated[bool, typer.Option(
    "--structured", rich_help_panel="OpenAI-compatible server",
    help="openai, litellm (no --preset): ask for JSON that follows each record's schema (response_format "
         "json_schema; dropped with one warning where the server refuses it).")]
RetriesOpt = Annotated[int, typer.Option(
    "--retries", min=0, rich_help_panel="OpenAI-compatible server",
    help="openai, litellm: retries of a failed request (429, 5xx, timeouts; Retry-After honoured).")]
ApiKeyEnvOpt = Annotated[str | None, typer.Option(
    "--api-key-env", rich_help_panel="OpenAI-compatible server",
    help="openai: the variable holding the key for --api-base (without it no key is sent, but "
         "OPENAI_API_KEY to api.openai.com).")]


def comma_list(value: str | None) -> list[str]:
    """``a, b,c`` → ``["a", "b", "c"]`` (options that take several values in one word)."""
    return [part.strip() for part in value.split(",") if part.strip()] if value else []
