"""``kgc icl``: in-context extraction with any litellm model, for one text or a whole converted test set."""

from __future__ import annotations

import typer

from kgcli.cli.options import ApiBaseOpt, ConcurrencyOpt, TemperatureOpt


def icl(
    in_path: str = typer.Argument("-", metavar="[IN]", help="Batch: converted test records ('-' = stdin)."),
    out_path: str = typer.Argument("-", metavar="[OUT]", help="Batch: records + 'output' ('-' = stdout)."),
    model: str = typer.Option(
        ...,
        "--model",
        help="litellm model string: openai/gpt-4o-mini, deepseek/deepseek-chat, "
        "anthropic/…, ollama/…, hosted_vllm/NAME (with --api-base), …",
    ),
    text: str = typer.Option(
        None, "--text", rich_help_panel="Single mode (--text)", help="Single mode: the text to extract from."
    ),
    task: str = typer.Option(
        None,
        "--task",
        rich_help_panel="Single mode (--text)",
        help="Single mode: ner, re, ee, rte (triples) or da (data augmentation).",
    ),
    language: str = typer.Option(
        "en",
        "--language",
        rich_help_panel="Single mode (--text)",
        help="Single mode: en or zh (ch is accepted).",
    ),
    domain: str = typer.Option(
        None,
        "--domain",
        rich_help_panel="Single mode (--text)",
        help="Single mode: the domain named in the prompt.",
    ),
    labels: str = typer.Option(
        None,
        "--labels",
        rich_help_panel="Single mode (--text)",
        help="Single mode: types or relations, comma-separated.",
    ),
    schema: str = typer.Option(
        None, "--schema", metavar="FILE", help="A schema file (kgc schema suggest writes one): single mode "
        "takes the task's names from it as --labels; with --describe-schema its definitions are told."),
    describe_schema: bool = typer.Option(
        False, "--describe-schema", help="Tell the model what each name of --schema means (its "
        "definitions): after the instruction (single mode) or as a system message (batch)."),
    head_entity: str = typer.Option(
        None, "--head-entity", rich_help_panel="Single mode (--text)", help="re: the head entity."
    ),
    head_type: str = typer.Option(
        None, "--head-type", rich_help_panel="Single mode (--text)", help="re: the head entity's type."
    ),
    tail_entity: str = typer.Option(
        None, "--tail-entity", rich_help_panel="Single mode (--text)", help="re: the tail entity."
    ),
    tail_type: str = typer.Option(
        None, "--tail-type", rich_help_panel="Single mode (--text)", help="re: the tail entity's type."
    ),
    examples: str = typer.Option(
        None,
        "--examples",
        help="Single: a seed-format example file (default: kgc's own). "
        "Batch: IEPile train records to draw --shots from.",
    ),
    zero_shot: bool = typer.Option(
        False,
        "--zero-shot",
        rich_help_panel="Single mode (--text)",
        help="Single mode: no examples in the prompt.",
    ),
    shots: int = typer.Option(
        None, "--shots", min=0, help="Examples per prompt (batch default 0; single: all)."
    ),
    instruction: str = typer.Option(
        None,
        "--instruction",
        rich_help_panel="Single mode (--text)",
        help="Single mode: replaces the built instruction.",
    ),
    system: str = typer.Option(None, "--system", help="A system message before the prompt."),
    temperature: TemperatureOpt = 0.0,
    top_p: float = typer.Option(None, "--top-p"),
    max_tokens: int = typer.Option(512, "--max-tokens", min=1, help="Reply length limit."),
    api_base: ApiBaseOpt = None,
    api_key_env: str = typer.Option(
        None,
        "--api-key-env",
        help="Variable holding the key (default: the provider's own, e.g. OPENAI_API_KEY, sent only to the "
             "provider's own host; a custom --api-base gets a key only from this option).",
    ),
    concurrency: ConcurrencyOpt = 4,
    retries: int = typer.Option(
        4, "--retries", min=0, help="Retries on 429 / 5xx / timeouts / refused connections."
    ),
    backoff: float = typer.Option(
        1.0, "--backoff", min=0.0, help="First wait between retries in seconds (doubles)."
    ),
    timeout: float = typer.Option(600.0, "--timeout", min=1.0, help="Seconds per request."),
    json_mode: bool = typer.Option(
        True,
        "--json-mode/--no-json-mode",
        rich_help_panel="Batch mode (IN)",
        help="Batch: ask for a JSON object (response_format) where the provider allows.",
    ),
    cache_dir: str = typer.Option(None, "--cache-dir", help="Reply cache folder (default $KGC_CACHE/icl)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the reply cache."),
    resume: bool = typer.Option(
        False,
        "--resume",
        rich_help_panel="Batch mode (IN)",
        help="Batch: skip the records already in OUT and append the rest.",
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", rich_help_panel="Batch mode (IN)", help="Batch: replace an existing OUT."
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        rich_help_panel="Single mode (--text)",
        help="Single mode: print one JSON object (prompt, reply, extracted).",
    ),
    show_prompt: bool = typer.Option(
        False,
        "--show-prompt",
        rich_help_panel="Single mode (--text)",
        help="Single mode: print the prompt on stderr.",
    ),
) -> None:
    """Extract with an API LLM: one text (--text, the seed's prompts) or every record of IN (scored by kgc
    eval).

    Every call goes through litellm; API keys are read from the environment only. Replies are cached on disk,
    so re-running a batch sends no request twice.
    """
    from kgcli.icl.client import CallSettings
    from kgcli.icl.run import IclRequest, SingleText, run_icl

    call = CallSettings(model=model, api_base=api_base, temperature=temperature, top_p=top_p,
                        max_tokens=max_tokens, json_mode=json_mode and text is None, timeout=timeout,
                        retries=retries, backoff=backoff, api_key_env=api_key_env)
    single = None if text is None else SingleText(
        text, task=task, language=language, domain=domain, labels=labels, head_entity=head_entity,
        head_type=head_type, tail_entity=tail_entity, tail_type=tail_type, instruction=instruction,
        zero_shot=zero_shot, as_json=as_json, show_prompt=show_prompt)
    single_flags = {"--task": task, "--domain": domain, "--labels": labels, "--instruction": instruction,
                    "--head-entity": head_entity, "--zero-shot": zero_shot}
    run_icl(IclRequest(call, in_path, out_path, single, examples=examples, shots=shots, system=system,
                       concurrency=concurrency, resume=resume, overwrite=overwrite, cache_dir=cache_dir,
                       no_cache=no_cache, single_flags=single_flags, schema=schema,
                       describe_schema=describe_schema))
