"""IN checked before a model loads, for every way of predicting: converted test records only (a training
record would lose its gold answer), schemas that ``--guided-json`` can build, a prompt budget the template
fits."""

from __future__ import annotations

from kgcli.errors import KgcError
from kgcli.io import display_name, read_jsonl
from kgcli.model.prompting import fit_prompt
from kgcli.predict.base import Setup
from kgcli.records import INSTRUCTION, OUTPUT, SCHEMA, TASK, parse_instruction


def output_schema(record: dict) -> dict:
    """The JSON schema an answer to this record must follow (its task, its chunk's schema elements)."""
    from kgcli.tasks import get_task

    task = get_task(str(record.get(TASK, "")))
    inner = parse_instruction(record.get(INSTRUCTION))
    if inner is None:
        raise ValueError("not an IEPile instruction")
    return task.output_schema(inner[SCHEMA])


def test_record_rule(record: dict, name: str, number: int) -> None:
    """A training record (its gold in 'output', no 'id') would lose its gold to the model's answer."""
    if OUTPUT in record and "id" not in record:
        raise KgcError("a training record ('output' and no 'id'): its gold answer would be overwritten; "
                       "predict on test records (kgc convert --split test)", name, number)


def guided_rule(record: dict, name: str, number: int) -> None:
    """``--guided-json``: the record's answer schema can be built (task + JSON instruction with a schema)."""
    test_record_rule(record, name, number)
    try:
        output_schema(record)
    except (KeyError, TypeError, ValueError, KgcError):
        raise KgcError("--guided-json needs converted records (task + JSON instruction with a schema)", name,
                       number) from None


def check_budget(in_path: str, setup: Setup, budget: int) -> None:
    """The first record's prompt fits ``budget`` tokens with its input text shortened at most (the
    template and instruction alone must fit): checked with the tokenizer, before the model loads."""
    number, record = next(iter(read_jsonl(in_path)))
    if fit_prompt(setup.template, setup.tokenizer, record[INSTRUCTION], budget)[0] is None:
        raise KgcError(f"the template and instruction alone are longer than cutoff_len {budget} tokens; "
                       "raise --cutoff-len", display_name(in_path), number)
