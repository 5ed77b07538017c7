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

Where the gold graph was built from annotated documents whose entities carry ids (one id for every form of
one thing), its nodes are those things, and resolution is scored over the entity mentions (document and
offsets): ``pairwise`` (pairs of mentions put in one node) and ``b3`` (B-cubed: per mention, the share of its
node that is its thing and of its thing that is its node). A mention found on one side only is a node of its
own on the other.
"""

from __future__ import annotations

import os
from collections import Counter
from math import comb
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


def _clusters(nodes: dict[str, dict]) -> dict[tuple, str]:
    """Each grounded entity mention (document, start, end) → its node."""
    found: dict[tuple, str] = {}
    for node_id in sorted(nodes):
        node = nodes[node_id]
        if node.get("kind", "entity") != "entity":
            continue
        for mention in node.get("mentions") or []:
            if mention.get("start") is not None:
                found.setdefault((str(mention["doc"]), mention["start"], mention["end"]), node_id)
    return found


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def resolution_scores(pred_nodes: dict[str, dict], gold_nodes: dict[str, dict]) -> dict[str, float]:
    """Pairwise and B³ precision, recall and F1 of the predicted nodes' mention clusters against the gold
    things'."""
    pred, gold = _clusters(pred_nodes), _clusters(gold_nodes)
    pred_size, gold_size = Counter(pred.values()), Counter(gold.values())
    both = Counter((pred[m], gold[m]) for m in pred.keys() & gold.keys())
    shared_pairs = sum(comb(n, 2) for n in both.values())
    pred_pairs = sum(comb(n, 2) for n in pred_size.values())
    gold_pairs = sum(comb(n, 2) for n in gold_size.values())
    pair_p = shared_pairs / pred_pairs if pred_pairs else 1.0
    pair_r = shared_pairs / gold_pairs if gold_pairs else 1.0
    # B³: a mention on one side only shares nothing but itself with its node on the other
    alone_pred = Counter(pred[m] for m in pred.keys() - gold.keys())
    alone_gold = Counter(gold[m] for m in gold.keys() - pred.keys())
    b3_p = ((sum(n * n / pred_size[p] for (p, _), n in both.items())
             + sum(n / pred_size[p] for p, n in alone_pred.items())) / len(pred)) if pred else 1.0
    b3_r = ((sum(n * n / gold_size[g] for (_, g), n in both.items())
             + sum(n / gold_size[g] for g, n in alone_gold.items())) / len(gold)) if gold else 1.0
    scores = {"pairwise": (pair_p, pair_r, _f1(pair_p, pair_r)), "b3": (b3_p, b3_r, _f1(b3_p, b3_r))}
    return {f"resolution_{name}_{part}": round(100 * value, 2)  # percentages, as every score of kgc eval
            for name, values in scores.items() for part, value in zip(("P", "R", "F1"), values, strict=True)}


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
    if store.read_meta(gold_folder).get("entity_ids"):
        block.update(resolution_scores(pred_nodes, gold_nodes))
    block.update(gold_nodes=len(gold_nodes), pred_nodes=len(pred_nodes), gold_edges=len(gold_edges),
                 pred_edges=len(pred_edges))
    block["per_type"] = {name: dict(zip((f"{metric}_P", f"{metric}_R", f"{metric}_F1"), prf(counts),
                                        strict=True))
                         for metric in ("node", "edge") for name, counts in sorted(per[metric].items())}
    return {"total": block}
