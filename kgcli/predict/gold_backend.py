"""The ``gold`` backend (tests and benchmarks): every record answered from its own gold ``label``, as a
perfect model would (``tasks/gold.py``), in input order, resumable like every backend.

Why a backend: the document route at corpus scale (``kgc extract`` over 100k documents, on one machine or on
Ray) is measured and tested through the very code a model run takes — chunking, instruction records, the
prediction stream, the merge — with answers that are right and cost no model. Its records must carry a
``label``: documents given as JSON lines with their annotations (``entity``, ``relation``, …), which travel
with their chunks into the test records. ``KGC_GOLD_PACE=S`` makes each answer take S seconds, so a test can
kill a run while answers are arriving; ``KGC_GOLD_HOLD_FROM=N`` holds every answer from line N on until
the run is killed, so the kill lands mid-run however slowly a loaded machine starts.
"""

from __future__ import annotations

import itertools
import os
import time
from typing import Any

from kgcli.io import display_name, read_jsonl
from kgcli.outputs import Output
from kgcli.progress import progress
from kgcli.records import answered_line

PACE = "KGC_GOLD_PACE"
HOLD_FROM = "KGC_GOLD_HOLD_FROM"


def answer(record: dict[str, Any], name: str, number: int) -> str:
    from kgcli.tasks.gold import gold_output_at

    pace = float(os.environ.get(PACE) or 0)
    if pace > 0:
        time.sleep(pace)
    hold_from = int(os.environ.get(HOLD_FROM) or 0)
    while 0 < hold_from <= number:  # a test's run that must still be going when it is killed
        time.sleep(1)
    return gold_output_at(record, name, number, "the gold backend")


def predict_from_gold(in_path: str, output: Output, setup: Any, options: Any, *, budget: int) -> int:
    """Answer IN's records after the ``output.done`` already in OUT; returns how many were answered."""
    name, written = display_name(in_path), 0
    records = itertools.islice(read_jsonl(in_path), output.done, None)
    with output.open() as out, progress("predict", unit="samples") as advance:
        for number, record in records:
            out.write(answered_line(record, answer(record, name, number)))
            written += 1
            advance(1)
    return written
