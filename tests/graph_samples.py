"""Prediction records for the graph tests: every task kind once, Chinese and English, the labels 人物, 地点
and 出生地, an event role named like an entity type (地点), a name with a quote, a backslash and a newline,
and a string the text does not contain."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import iepile_record

ODD_NAME = 'O"Brien\\Jr\nII'
T1 = "张三出生于北京，毕业于清华大学，是一名医生。"
T2 = "2008年5月12日，四川汶川发生地震。"
T3 = f"{ODD_NAME}在上海工作。"
T4 = "Alice was born in Paris."
T5 = "李四会见了王五。"


def prediction_records() -> list[dict]:
    ner = ["人物", "地点"]
    return [
        iepile_record("NER", ner, T1, output={"人物": ["张三", "不存在的人"], "地点": ["北京"]}),
        iepile_record("RE", ["出生地"], T1, output={"出生地": [{"subject": "张三", "object": "北京"}]}),
        iepile_record(
            "KG",
            [{"entity_type": "人物", "attributes": ["职业", "出生地"]}],
            T1,
            output={"人物": {"张三": {"职业": "医生", "出生地": "北京"}}},
        ),
        iepile_record(
            "SPO",
            [{"subject_type": "人物", "predicate": "毕业于", "object_type": "学校"}],
            T1,
            output={"毕业于": [{"subject": "张三", "object": "清华大学"}]},
        ),
        iepile_record("NER", ner, T2, output={"人物": [], "地点": ["四川汶川"]}),
        iepile_record(
            "EE",
            [{"event_type": "地震", "trigger": True, "arguments": ["时间", "地点"]}],
            T2,
            output={
                "地震": [{"trigger": "地震", "arguments": {"时间": "2008年5月12日", "地点": "四川汶川"}}]
            },
        ),
        iepile_record("NER", ner, T3, output={"人物": [ODD_NAME], "地点": ["上海"]}),
        iepile_record(
            "RE",
            ["出生地", "工作于"],
            T3,
            output={"出生地": [], "工作于": [{"subject": ODD_NAME, "object": "上海"}]},
        ),
        iepile_record("NER", ["person", "location"], T4, output={"person": ["Alice"], "location": ["Paris"]}),
        iepile_record(
            "RE", ["place of birth"], T4, output={"place of birth": [{"subject": "Alice", "object": "Paris"}]}
        ),
        iepile_record("EET", ["会见"], T5, output={"会见": ["会见"]}),
    ]


def write_predictions(path: Path, records: list[dict] | None = None) -> Path:
    records = prediction_records() if records is None else records
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def built_graph(folder: Path, name: str = "graph") -> Path:
    """A GRAPH folder built from the sample predictions (through the library; the CLI is tested apart)."""
    from kgcli.graph.build import BuildSettings, build_graph

    predictions = write_predictions(folder / "sample-predictions.json")
    build_graph([str(predictions)], str(folder / name), BuildSettings())
    predictions.unlink()
    return folder / name
