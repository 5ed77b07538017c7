"""Each task's output JSON schema (used for --guided-json) accepts exactly what its converter renders."""

from __future__ import annotations

import json

import jsonschema
import pytest

from kgcli.convert import ConvertConfig, convert_file
from tests.conftest import write_jsonl
from tests.samples import (
    EE_RECORD,
    EE_SCHEMA,
    KG_RECORD,
    KG_SCHEMA,
    NER_RECORD,
    NER_SCHEMA,
    RE_RECORD,
    RE_SCHEMA,
    SPO_RECORD,
    SPO_SCHEMA,
)

CASES = {"NER": (NER_RECORD, NER_SCHEMA), "RE": (RE_RECORD, RE_SCHEMA), "SPO": (SPO_RECORD, SPO_SCHEMA),
         "EE": (EE_RECORD, EE_SCHEMA), "EET": (EE_RECORD, EE_SCHEMA), "EEA": (EE_RECORD, EE_SCHEMA),
         "KG": (KG_RECORD, KG_SCHEMA)}


@pytest.mark.parametrize("task", sorted(CASES))
def test_rendered_outputs_validate_against_the_task_schema(tmp_path, task):
    from kgcli.tasks import get_task

    record, schema = CASES[task]
    write_jsonl(tmp_path / "in.json", [record])
    (tmp_path / "schema.json").write_text("\n".join(json.dumps(v, ensure_ascii=False) for v in schema) + "\n")
    convert_file(str(tmp_path / "in.json"), str(tmp_path / "out.json"),
                 ConvertConfig(task=task, schema_path=str(tmp_path / "schema.json"), source="x",
                               split_num=-1))
    for line in (tmp_path / "out.json").read_text().splitlines():
        converted = json.loads(line)
        elements = json.loads(converted["instruction"])["schema"]
        output_schema = get_task(task).output_schema(elements)
        jsonschema.validate(json.loads(converted["output"]), output_schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**json.loads(converted["output"]), "not-in-schema": []}, output_schema)
