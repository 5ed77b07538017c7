"""Graph-level scores: ``kgc eval --graph PRED_GRAPH GOLD_GRAPH`` — the nodes and edges a user keeps,
measured against a gold graph (one built with ``graph build --gold``, or any graph).

A predicted node matches a gold node when one of its surface forms (its shown name, every form its
mentions were written in, every name in ``merged_from``) equals one of the gold node's after the grounding's
normalisation, and — for the typed score — their types agree. Matching is one to one (each gold node is
matched at most once, the node sharing most forms first, then in id order), so a thing split into two nodes
costs precision and two things merged into one cost recall. Edges then compare as (head, relation, tail) over
the matched nodes: ``edge`` with typed matching, ``edge_untyped`` with name-only matching.

Scores: ``node`` (name + type), ``node_name`` (name only), ``edge`` and ``edge_untyped``, over the whole
graph and per node type and relation; the gold and predicted counts.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from kgcli.documents.grounding import normalise
from kgcli.evaluate import Counts, prf, tally_sets
from kgcli.graph import store
from kgcli.io import read_jsonl

METRICS = ("node", "node_name", "edge", "edge_untyped")


def _forms(node: dict[str, Any]) -> frozenset[str]:
    names = [node.get("name", ""), *(m.get("text", "") for m in node.get("mentions") or [])]
    names += [m.get("name", "") for m in node.get("merged_from") or [] if isinstance(m, dict)]
    return frozenset(normalise(n) for n in names if isinstance(n, str) and n)


def _read(folder: str) -> tuple[dict[str, dict], list[dict]]:
    store.read_meta(folder)
    nodes = {n["id"]: n for _, n in read_jsonl(os.path.join(folder, store.NODES))}
    edges = [e for _, e in read_jsonl(os.path.join(folder, store.EDGES))]
    return nodes, edges


def match_nodes(pred: dict[str, dict], gold: dict[str, dict], typed: bool) -> dict[str, str]:
    """Predicted node id → the gold node id it matches (one to one)."""
    index: dict[tuple, list[str]] = {}
    for gold_id in sorted(gold):
        node = gold[gold_id]
        for form in _forms(node):
            index.setdefault((form, node["type"] if typed else None), []).append(gold_id)
    candidates: list[tuple[int, str, str]] = []
    for pred_id in sorted(pred):
        node = pred[pred_id]
        shared: Counter = Counter()
        for form in _forms(node):
            for gold_id in index.get((form, node["type"] if typed else None), ()):
                shared[gold_id] += 1
        candidates += [(-count, pred_id, gold_id) for gold_id, count in shared.items()]
    matched: dict[str, str] = {}
    taken: set[str] = set()
    for _, pred_id, gold_id in sorted(candidates):
        if pred_id not in matched and gold_id not in taken:
            matched[pred_id] = gold_id
            taken.add(gold_id)
    return matched


def evaluate_graphs(pred_folder: str, gold_folder: str) -> dict[str, Any]:
    """The report (``kgc eval``'s shape: a ``total`` block with per-metric scores and ``per_type``)."""
    pred_nodes, pred_edges = _read(pred_folder)
    gold_nodes, gold_edges = _read(gold_folder)
    totals = {metric: Counts() for metric in METRICS}
    per: dict[str, dict[str, Counts]] = {metric: {} for metric in METRICS}
    for typed, node_metric, edge_metric in ((True, "node", "edge"), (False, "node_name", "edge_untyped")):
        matched = match_nodes(pred_nodes, gold_nodes, typed)
        label = (lambda n: n["type"]) if typed else (lambda n: "any")
        gold_labels = [(i, label(n)) for i, n in gold_nodes.items()]
        pred_labels = [(i, label(n)) for i, n in pred_nodes.items()]
        right = [(i, label(pred_nodes[i])) for i in matched]
        tally_sets(gold_labels, pred_labels, right, totals[node_metric], per[node_metric], "node:")
        wanted = {(e["head"], e["tail"], e["relation"]) for e in gold_edges}  # the label last
        got = {(matched.get(e["head"], "pred:" + e["head"]), matched.get(e["tail"], "pred:" + e["tail"]),
                e["relation"]) for e in pred_edges}
        tally_sets(wanted, got, got & wanted, totals[edge_metric], per[edge_metric], "edge:")
    block: dict[str, Any] = {}
    for metric in METRICS:
        p, r, f = prf(totals[metric])
        block.update({f"{metric}_P": p, f"{metric}_R": r, f"{metric}_F1": f})
    block.update(gold_nodes=len(gold_nodes), pred_nodes=len(pred_nodes), gold_edges=len(gold_edges),
                 pred_edges=len(pred_edges))
    block["per_type"] = {name: dict(zip((f"{metric}_P", f"{metric}_R", f"{metric}_F1"), prf(counts),
                                        strict=True))
                         for metric in ("node", "edge") for name, counts in sorted(per[metric].items())}
    return {"total": block}
