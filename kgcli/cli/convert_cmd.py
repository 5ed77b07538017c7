"""``kgc convert``: IE datasets → IEPile instruction records."""

from __future__ import annotations

import typer

from kgcli.cli.options import TASKS, choice
from kgcli.errors import KgcError


def convert(
    in_path: str = typer.Argument("-", metavar="IN", help="Input JSON lines ('-' = stdin)."),
    out_path: str = typer.Argument("-", metavar="OUT", help="Output JSON lines ('-' = stdout)."),
    task: str = typer.Option(None, "--task", click_type=choice(*TASKS), help="The task."),
    language: str = typer.Option(None, "--language", click_type=choice("zh", "en"),
                                 help="The instruction sentence's language (default zh, as the seed's)."),
    split: str = typer.Option("train", "--split", click_type=choice("train", "test"),
                              help="train (with output) or test (with id and label)."),
    schema: str = typer.Option(None, "--schema",
                               help="Schema file: the seed's 3-line format or one JSON object."),
    source: str = typer.Option(None, "--source", help="Dataset name (default: IN's folder name)."),
    split_num: int = typer.Option(None, "--split-num",
                                  help="Schema items per instruction (NER 6, KG 1, else 4; -1 = all)."),
    neg_schema: float = typer.Option(1.0, "--neg-schema", min=0.0, max=1.0,
                                     help="Negative-schema rate: 0 positives only, 1 all negatives."),
    random_sort: bool = typer.Option(False, "--random-sort",
                                     help="Shuffle schema order (seeded) instead of sorting."),
    seed: int = typer.Option(42, "--seed", help="Seed of the run's one random generator."),
    hard_negatives: str = typer.Option(None, "--hard-negatives",
                                       help="Hard-negative dictionary (cluster mode)."),
    hard_negatives_key: str = typer.Option(None, "--hard-negatives-key",
                                           help="TASK/DATASET slice of a nested dictionary."),
    re_keys: str = typer.Option("subject-object", "--re-keys",
                                click_type=choice("subject-object", "head-tail"), help="RE/SPO output keys."),
    eea_format: str = typer.Option("iepile", "--eea-format", click_type=choice("iepile", "deepke"),
                                   help="EEA output shape."),
    historical_spo: bool = typer.Option(False, "--historical-spo-instruction",
                                        help="The pre-2024-04 SPO sentence."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT."),
    config: str = typer.Option(None, "--config",
                               help="The seed's convert YAML (mode + train/test/hard_train sections)."),
) -> None:
    """Turn IE records into instruction data (train: task, source, instruction, output; test: id, ...,
    label)."""
    from kgcli.convert import ConvertConfig, convert_file

    if config:
        from kgcli.model.seed_yaml import convert_config

        cfg, src, tgt = convert_config(config)
        in_path = in_path if in_path != "-" or src is None else src
        out_path = out_path if out_path != "-" or tgt is None else tgt
    else:
        if task is None:
            raise KgcError("--task is required (NER, RE, SPO, EE, EET, EEA, KG)")
        cfg = ConvertConfig(
            task=task.upper(), language=language or "zh", split=split, schema_path=schema or "",
            source=source,
            split_num=split_num, neg_schema=neg_schema, random_sort=random_sort, seed=seed,
            hard_negatives=hard_negatives, hard_negatives_key=hard_negatives_key, re_keys=re_keys,
            eea_format=eea_format, historical_spo=historical_spo,
        )
    from kgcli.io import check_input

    check_input(in_path)
    if out_path != "-" and not overwrite:  # one rule with predict, train and merge
        from kgcli.outputs import check_output

        check_output(out_path, inputs=[p for p in (in_path, cfg.schema_path, cfg.hard_negatives) if p],
                     overwrite=False)
    english = not config and language is None and _looks_english(in_path)
    convert_file(in_path, out_path, cfg)
    if english:  # said after the run, so an error stays the one line
        from kgcli.errors import warn

        warn("the texts look English and --language defaults to zh (the seed's): the instructions are in "
             "Chinese; pass --language en for English ones")


def _looks_english(in_path: str) -> bool:
    """No --language and English texts: the Chinese instruction (the seed's default) is rarely wanted."""
    from kgcli.io import read_jsonl

    if in_path == "-":
        return False
    try:
        _, first = next(iter(read_jsonl(in_path)))
    except (StopIteration, KgcError):
        return False
    text = first.get("text") if isinstance(first, dict) else None
    return isinstance(text, str) and bool(text) and sum(c.isascii() for c in text) > 0.9 * len(text)
