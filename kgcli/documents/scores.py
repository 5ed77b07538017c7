"""Document-level scores: ``kgc eval --documents GOLD`` on ``kgc extract``'s output.

GOLD is the raw input format (JSON lines with ``text`` and document-level ``entity`` / ``relation`` /
``event`` annotations, offsets optional: ``start`` and ``end``, or ``offset: [start, end]``). Each document is
matched by id (``id`` or ``doc_id``, else ``FILE:LINE`` as ``kgc chunk`` names it). Scores, over the whole set
and per type: entities (name + type), entities with offsets (start, end, type: only documents whose gold
entities all carry offsets), triples (head, relation, tail) and events (type, trigger). Strings compare
after the grounding's normalisation (NFKC, whitespace, Latin case).
"""

from __future__ import annotations

from typing import Any

from kgcli.documents.grounding import normalise
from kgcli.documents.result import DOC_ID, ENTITIES, MergedDocument, read_document
from kgcli.errors import KgcError
from kgcli.evaluate import Counts, prf, tally_sets
from kgcli.io import display_name, read_jsonl

METRICS = ("entity", "entity_offsets", "triple", "event")


def _offsets(item: dict) -> tuple[int, int] | None:
    if isinstance(item.get("start"), int) and isinstance(item.get("end"), int):
        return item["start"], item["end"]
    offset = item.get("offset")
    if isinstance(offset, list) and len(offset) == 2 and all(isinstance(v, int) for v in offset):
        return offset[0], offset[1]
    return None


def gold_tuples(record: dict, name: str, number: int) -> dict[str, set[tuple]]:
    """Per metric, the gold tuples of one raw document record (the type last)."""
    found: dict[str, set[tuple]] = {metric: set() for metric in METRICS}
    offsets_known = True
    try:
        for item in record.get("entity") or []:
            found["entity"].add((normalise(item["entity"]), item["entity_type"]))
            span = _offsets(item)
            offsets_known = offsets_known and span is not None
            if span is not None:
                found["entity_offsets"].add((*span, item["entity_type"]))
        for item in record.get("relation") or []:
            found["triple"].add((normalise(item["head"]), normalise(item["tail"]), item["relation"]))
        for item in record.get("event") or []:
            found["event"].add((normalise(item.get("event_trigger") or item.get("trigger") or ""),
                                item["event_type"]))
    except (KeyError, TypeError, AttributeError):
        raise KgcError("gold annotations must be the raw format (entity/entity_type, head/relation/tail, "
                       "event_type/event_trigger)", name, number) from None
    if not offsets_known:  # scored with offsets only where the gold has them all
        found.pop("entity_offsets")
    return found


def predicted_tuples(document: MergedDocument) -> dict[str, set[tuple]]:
    found: dict[str, set[tuple]] = {metric: set() for metric in METRICS}
    for entity in document.entities:
        found["entity"].add((normalise(entity.text), entity.type))
        for mention in entity.mentions:
            found["entity_offsets"].add((mention.start, mention.end, entity.type))
    for relation in document.relations:
        found["triple"].add((normalise(relation.head), normalise(relation.tail), relation.relation))
    for event in document.events:
        found["event"].add((normalise(event.trigger), event.type))
    return found


def evaluate_documents(pred_path: str, gold_path: str) -> dict[str, Any]:
    """The report (``kgc eval``'s shape: a ``total`` block with per-metric scores and ``per_type``)."""
    gold_name = display_name(gold_path)
    gold: dict[str, tuple[dict[str, set[tuple]], int]] = {}
    for number, record in read_jsonl(gold_path):
        doc_id = str(record.get("doc_id", record.get("id", f"{gold_name}:{number}")))
        gold[doc_id] = (gold_tuples(record, gold_name, number), number)
    if not gold:
        raise KgcError("no gold documents", gold_name)
    pred_name = display_name(pred_path)
    predicted: dict[str, dict[str, set[tuple]]] = {}
    for number, result in read_jsonl(pred_path):
        if DOC_ID not in result or ENTITIES not in result:
            raise KgcError("not a kgc extract result (doc_id, entities, relations, ...)", pred_name, number)
        try:
            document = read_document(result)
        except KgcError as exc:
            raise KgcError(exc.message, pred_name, number) from None
        predicted[document.doc_id] = predicted_tuples(document)
    totals = {metric: Counts() for metric in METRICS}
    per_type: dict[str, dict[str, Counts]] = {metric: {} for metric in METRICS}
    for doc_id, (wanted, _) in gold.items():
        got = predicted.get(doc_id, {metric: set() for metric in METRICS})
        for metric in METRICS:
            if metric not in wanted:
                continue
            expected, answered = wanted[metric], got.get(metric, set())
            tally_sets(expected, answered, expected & answered, totals[metric], per_type[metric])
    block: dict[str, Any] = {}
    for metric in METRICS:
        p, r, f = prf(totals[metric])
        block.update({f"{metric}_P": p, f"{metric}_R": r, f"{metric}_F1": f})
    block["samples"] = len(gold)
    block["missing_documents"] = sum(doc_id not in predicted for doc_id in gold)
    block["per_type"] = {f"{metric}:{kind}": dict(zip((f"{metric}_P", f"{metric}_R", f"{metric}_F1"),
                                                      prf(counts), strict=True))
                         for metric in METRICS for kind, counts in per_type[metric].items()}
    return {"total": block}
