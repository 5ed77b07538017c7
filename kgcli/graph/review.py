"""What a resolution did, as lines a person reads (``kgc graph resolve GRAPH --dry-run``): every merge with
its evidence (the forms joined, their types and mentions, the votes), every name kept split, every proposal.
"""

from __future__ import annotations

from typing import Any

WHY = {
    "type": "its type settled by the votes",
    "alias": "one alias key (legal form, article, punctuation or spacing)",
    "decision": "a decision",
    "containment": "one name inside the other",
}


def _votes(votes: dict[str, dict[str, int]]) -> str:
    return "; ".join(f"{ballot} " + ", ".join(f"{t} {n}" for t, n in counts.items())
                     for ballot, counts in votes.items()) or "none"


def review_lines(merged: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
    """``merged``: the nodes that absorbed a name or type; ``meta``: the graph.json the resolution wrote."""
    lines = []
    for node in sorted(merged, key=lambda n: (n["type"], n["name"], n["id"])):
        lines.append(f"merge    {node['name']} ({node['type']}, {node['count']} mention(s), votes: "
                     f"{_votes(node.get('votes') or {})}) [{node['id']}]")
        for absorbed in node["merged_from"]:
            lines.append(f"           ← {absorbed['name']} ({absorbed['type']}, {absorbed['mentions']} "
                         f"mention(s)): {WHY.get(absorbed.get('by', ''), absorbed.get('by', ''))}")
    for split in meta.get("split_names") or []:
        lines.append(f"split    {split['name']}: no type has two thirds of the votes "
                     f"({_votes(split['votes'])})")
    for proposal in meta.get("proposals") or []:
        first, second = proposal["names"]
        lines.append(f"propose  {first} ~ {second} ({proposal['type']}; {proposal['mentions'][0]} and "
                     f"{proposal['mentions'][1]} mention(s)): {WHY[proposal['why']]} "
                     f"[{proposal['ids'][0]} {proposal['ids'][1]}]")
    return lines


def review_summary(merged: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    rule = (meta.get("resolution") or {}).get("rule", "names")
    decisions = (meta.get("resolution") or {}).get("decisions") or {}
    told = ", ".join(f"{len(v)} {k}" for k, v in decisions.items() if v)
    return (f"{len(merged)} node(s) merged names or types, {len(meta.get('split_names') or [])} name(s) kept "
            f"split, {len(meta.get('proposals') or [])} merge(s) proposed; rule: {rule}"
            + (f"; decisions: {told}" if told else ""))
