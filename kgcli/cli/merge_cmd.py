"""``kgc merge``: LoRA adapter(s) + base model → one model folder with the right chat template."""

from __future__ import annotations

import typer

from kgcli.cli.options import (
    AdapterOpt,
    DtypeOpt,
    ModelOpt,
    OverwriteOpt,
    PresetOpt,
    SetOpt,
    TrustRemoteCodeOpt,
)
from kgcli.errors import say


def merge(
    out: str = typer.Option(..., "--out", help="Folder for the merged model (appears only when complete)."),
    preset: PresetOpt = None,
    model: ModelOpt = None,
    adapter: AdapterOpt = None,
    dtype: DtypeOpt = None,
    settings: SetOpt = None,
    max_shard_size: str = typer.Option("5GB", "--max-shard-size"),
    ollama: bool = typer.Option(
        False, "--ollama", help="Also write an Ollama Modelfile (template, stop words, temperature 0)."
    ),
    overwrite: OverwriteOpt = False,
    trust_remote_code: TrustRemoteCodeOpt = False,
) -> None:
    """Merge adapters into their base model and save model + tokenizer (with chat template)."""
    from kgcli.model.lora_merge import merge as run_merge
    from kgcli.model.resolve import resolve

    resolved = resolve("merge", preset, model=model, dtype=dtype, settings=settings, adapter=adapter,
                       trust_remote_code=trust_remote_code)
    provenance = run_merge(resolved.preset, resolved.adapters, out, max_shard_size, overwrite, ollama=ollama)
    say(f"merged {len(resolved.adapters)} adapter(s) into {out}")
    if provenance["chat_template_tokenizes_as_trained"] is False:
        say("note: this tokenizer encodes the whole prompt text (the chat template, Ollama's TEMPLATE) to "
            "ids that differ from the trained ones at a piece join; kgc predict sends the trained ids, "
            "servers that take text see a prompt a few ids off")
