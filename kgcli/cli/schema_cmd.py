"""``kgc schema suggest / check``: a starting schema from documents alone, and a schema file checked."""

from __future__ import annotations

import sys

import typer

from kgcli.cli.options import (
    AdapterOpt,
    ApiBaseOpt,
    ApiKeyEnvOpt,
    BatchSizeOpt,
    ConcurrencyOpt,
    DtypeOpt,
    EncodingOpt,
    FollowLinksOpt,
    ModelOpt,
    OnBadFileOpt,
    OverwriteOpt,
    PrefixCachingOpt,
    PresetOpt,
    RetriesOpt,
    ServedModelOpt,
    SetOpt,
    StructuredOpt,
    TpOpt,
    TrustRemoteCodeOpt,
    choice,
    comma_list,
)
from kgcli.errors import say

app = typer.Typer(help="Suggest a schema from documents alone, or check a schema file.", no_args_is_help=True)


@app.command("suggest")
def suggest(
    docs: str = typer.Argument(
        ..., metavar="DOCS", help="A folder of .txt/.md files, a text file, or JSON lines with 'text'."),
    out_path: str = typer.Argument(..., metavar="OUT", help="The schema file (JSON; '-' = stdout)."),
    sample: int = typer.Option(24, "--sample", min=1, help="Chunks sampled, spread over the documents."),
    seed: int = typer.Option(1, "--seed", help="The sample's seed (the same seed, the same sample)."),
    language: str = typer.Option("auto", "--language", click_type=choice("zh", "en", "auto"),
                                 help="The prompt's and the names' language; auto: each chunk's own."),
    min_support: float = typer.Option(0.1, "--min-support", min=0.0, max=1.0,
                                      help="Keep a name that at least this share of the answered chunks "
                                      "named (at least one)."),
    max_types: int = typer.Option(30, "--max-types", min=1, help="Entity types kept, most named first."),
    max_relations: int = typer.Option(30, "--max-relations", min=1, help="Relations kept, most named first."),
    preset: PresetOpt = None,
    model: ModelOpt = None,
    adapter: AdapterOpt = None,
    dtype: DtypeOpt = None,
    settings: SetOpt = None,
    backend: str = typer.Option("openai", "--backend", click_type=choice("openai", "litellm", "hf", "vllm"),
                                help="openai (any compatible server), litellm (any provider litellm knows), "
                                "or a local preset's hf or vllm (with --preset)."),
    batch_size: BatchSizeOpt = 8,
    max_new_tokens: int = typer.Option(1024, "--max-new-tokens", min=1, help="An answer's token limit."),
    budget: int = typer.Option(None, "--budget", min=1, help="Tokens per sampled chunk (default 512)."),
    tokenizer: str = typer.Option(None, "--tokenizer", help="Without --preset: a tokenizer.json (or a "
                                  "folder holding one) that counts the chunks' tokens."),
    tp: TpOpt = 1,
    prefix_caching: PrefixCachingOpt = True,
    api_base: ApiBaseOpt = None,
    served_model: ServedModelOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
    concurrency: ConcurrencyOpt = 4,
    structured: StructuredOpt = False,
    retries: RetriesOpt = 4,
    overwrite: OverwriteOpt = False,
    trust_remote_code: TrustRemoteCodeOpt = False,
    follow_links: FollowLinksOpt = False,
    encoding: EncodingOpt = "utf-8",
    on_bad_file: OnBadFileOpt = "stop",
) -> None:
    """Propose entity types and relations (with a definition, an example span and their support) from a
    sample of the documents; a person edits the file, then extract, convert and icl take it as it is."""
    from kgcli.model.resolve import ModelChoice
    from kgcli.predict.base import Sampling, backend_options, backend_spec
    from kgcli.predict.remote import remote_model
    from kgcli.schema_tools.aggregate import Settings
    from kgcli.schema_tools.sample import Reading
    from kgcli.schema_tools.suggest import SuggestSettings, suggest_schema

    remote = remote_model(backend, preset, model, served_model=served_model, api_base=api_base,
                          api_key_env=api_key_env, concurrency=concurrency, structured=structured,
                          retries=retries)
    options = None if remote else backend_options(
        backend, tensor_parallel_size=tp, prefix_caching=prefix_caching, api_base=api_base,
        served_model=served_model, api_key_env=api_key_env, concurrency=concurrency, prompt_format="text",
        max_retries=retries)
    resolved = None if remote else ModelChoice(preset, None, model, dtype, settings, adapter,
                                               trust_remote_code).resolve("predict",
                                                                          backend=backend_spec(backend))
    sampling = Sampling(max_new_tokens=max_new_tokens)
    summary = suggest_schema(docs, out_path, resolved, sampling, SuggestSettings(
        sample=sample, seed=seed, language=language.lower(), budget=budget, tokenizer=tokenizer,
        reading=Reading(follow_links, tuple(comma_list(encoding)), on_bad_file.lower()),
        rules=Settings(min_support, max_types, max_relations), backend=backend.lower(), options=options,
        batch_size=batch_size, remote=remote, overwrite=overwrite))
    say(f"schema suggest: {summary.line()} → {'stdout' if out_path == '-' else out_path}")


@app.command("check")
def check(
    schema: str = typer.Argument(..., metavar="SCHEMA", help="A schema file (three-line or JSON object)."),
    gold: str = typer.Argument(None, metavar="[GOLD]", help="Annotated documents (JSON lines with entity / "
                               "relation / event): how much of them the schema covers."),
) -> None:
    """Say what is wrong with a schema file (one line each, exit 2), and with GOLD its coverage."""
    from kgcli.schema_tools.check import coverage, problems
    from kgcli.terminal import visible

    found, wrong = problems(schema)
    for problem in wrong[:-1]:
        print(f"kgc: error: {visible(str(problem))}", file=sys.stderr)
    if wrong:
        raise wrong[-1]
    print(f"{schema}: {len(found.types) or len(found.type_roles)} type(s), {len(found.all_roles())} "
          "relation(s) or role(s): no problem found")
    if gold:
        for line in coverage(found, gold).lines():
            print(line)
