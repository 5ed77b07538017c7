"""One node per real thing: a name's type settled over the whole graph, not per document.

Every entity piece of a name (its normalised form) carries mentions that say the type they had in their
document (``as``) and whether they vote for it (``by``: ``ner`` for an NER answer, ``schema`` for the type a
schema gave an SPO or KG end; relation ends typed by their own document's NER answers, and untyped ends,
do not vote). Over all pieces of the name:

- the votes are the NER votes, or where there are none the schema's votes; each distinct mention counts once;
- when one type holds at least two thirds of the votes, every piece of the name joins it (a minority typing
  by some chunks and the untyped ``Entity`` ends included) — one node;
- otherwise the name is a homonym (or the model cannot tell): one node per type it had, untyped ends stay
  ``Entity``, and the build lists the name with its votes;
- a name nobody voted for keeps the types it had.

Then names merge (``cluster``): with ``--resolve aliases``, the nodes of one type whose names share an alias
key (``graph/aliases.py``: legal forms, articles, punctuation, spacing) — and an untyped end whose alias key
has exactly one typed node joins it; without it, such pairs are only proposed. A person's decisions
(``graph/decisions.py``) come last: ``type`` fixes a name's type before the vote, ``same`` merges,
``different`` keeps apart whatever the rules said.

Every decision depends only on the set of mentions, never on the order of the inputs, so a graph grown
document by document (``--append``) is the graph built at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

from kgcli.graph.aliases import alias_key
from kgcli.graph.decisions import Decisions

SHARE = Fraction(2, 3)  # the share of the votes a type needs to take the whole name


@dataclass
class Settled:
    """A name's settlement: its final type per type it had, the votes, and whether it was split."""

    final: dict[str, str]
    votes: dict[str, dict[str, int]] = field(default_factory=dict)  # "ner" / "schema" → type → mentions
    split: bool = False
    decided: bool = False  # the type came from a decisions file


def settle(had: dict[str, Counter], decided: str | None = None) -> Settled:
    """``had``: type the name had → Counter of its votes by kind (``ner``, ``schema``) over distinct
    mentions; ``decided``: the type a person gave the name. Returns the settlement."""
    votes = {kind: {t: c[kind] for t, c in sorted(had.items()) if c[kind]} for kind in ("ner", "schema")}
    votes = {kind: v for kind, v in votes.items() if v}
    if decided:
        return Settled({t: decided for t in had}, votes, decided=True)
    ballot = votes.get("ner") or votes.get("schema")
    if not ballot:
        return Settled({t: t for t in had}, votes)
    top = min(ballot, key=lambda t: (-ballot[t], t))
    if Fraction(ballot[top], sum(ballot.values())) >= SHARE:
        return Settled({t: top for t in had}, votes)
    return Settled({t: t for t in had}, votes, split=True)


def shown_name(forms: Counter) -> str:
    """A node's shown name: its most mentioned surface form, then the longest, then the first in code-point
    order."""
    return min(forms, key=lambda text: (-forms[text], -len(text), text))


ENTITY = "Entity"


@dataclass
class Resolution:
    """How a build merges names: alias keys (``--resolve aliases``) and a person's decisions."""

    aliases: bool = False
    decisions: Decisions = field(default_factory=Decisions)

    def group(self, key: str) -> str:
        """What a name's pieces are partitioned by: everything that may merge has one group."""
        return self.decisions.group(alias_key(key))


@dataclass
class NameNode:
    """One name's node once its type is settled: what alias rules and decisions may merge further."""

    key: str  # the normalised name
    type: str
    mentions: int
    form: str  # its shown name
    payload: object = None  # the build's own data


@dataclass
class Cluster:
    """One final node: its name nodes, the first giving its key, each other with why it joined (``alias``
    or ``decision``)."""

    type: str
    key: str
    members: list[tuple[NameNode, str]]


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def cluster(nodes: list[NameNode], aliases: bool, decisions: Decisions
            ) -> tuple[list[Cluster], list[tuple[NameNode, NameNode]]]:
    """Name nodes (of one partition: everything that may merge is in one) → the final nodes, and the alias
    pairs only proposed (``aliases`` False)."""
    parent = list(range(len(nodes)))

    def union(i: int, j: int) -> None:
        first, second = _find(parent, i), _find(parent, j)
        if first != second:
            parent[max(first, second)] = min(first, second)

    order = sorted(range(len(nodes)), key=lambda i: (nodes[i].key, nodes[i].type))
    proposed: list[tuple[NameNode, NameNode]] = []
    by_alias: dict[str, dict[str, list[int]]] = {}
    for i in order:
        by_alias.setdefault(alias_key(nodes[i].key), {}).setdefault(nodes[i].type, []).append(i)
    for typed in by_alias.values():
        real = [t for t in typed if t != ENTITY]
        pairs = [(typed[t][0], j) for t in real for j in typed[t][1:]]
        if ENTITY in typed and len(real) == 1:  # an untyped end joins the one typed node of its alias key
            pairs += [(typed[real[0]][0], j) for j in typed[ENTITY]]
        for i, j in pairs:
            if decisions.apart(nodes[i].key, nodes[j].key):
                continue
            if aliases:
                union(i, j)
            else:
                proposed.append((nodes[i], nodes[j]))
    for names in decisions.same:
        wanted = set(names)
        members = [i for i in order if nodes[i].key in wanted]
        by_type: dict[str, list[int]] = {}
        for i in members:
            by_type.setdefault(nodes[i].type, []).append(i)
        shared = [ms for ms in by_type.values() if len({nodes[i].key for i in ms}) > 1]
        for group in shared or [members]:
            for j in group[1:]:
                union(group[0], j)
    groups: dict[int, list[int]] = {}
    for i in order:
        groups.setdefault(_find(parent, i), []).append(i)
    clusters = []
    for members in groups.values():
        for bucket in _apart(nodes, members, decisions):
            clusters.append(_cluster(nodes, bucket))
    return clusters, proposed


def _apart(nodes: list[NameNode], members: list[int], decisions: Decisions) -> list[list[int]]:
    """A group split so that no two names a person called different share a node: the most mentioned name
    first, each into the first node it may join."""
    if len(members) == 1 or not decisions.different:
        return [members]
    buckets: list[list[int]] = []
    for i in sorted(members, key=lambda i: (-nodes[i].mentions, nodes[i].key, nodes[i].type)):
        for bucket in buckets:
            if not any(decisions.apart(nodes[i].key, nodes[j].key) for j in bucket):
                bucket.append(i)
                break
        else:
            buckets.append([i])
    return buckets


def _cluster(nodes: list[NameNode], members: list[int]) -> Cluster:
    """The final node of some name nodes: the type of its most mentioned typed name, the key of its
    shortest name (then the first in code-point order)."""
    typed = [i for i in members if nodes[i].type != ENTITY] or members
    top = min(typed, key=lambda i: (-nodes[i].mentions, nodes[i].type, nodes[i].key))
    first = min(members, key=lambda i: (nodes[i].type != nodes[top].type, len(nodes[i].key), nodes[i].key))
    key = nodes[first].key
    joined = [(nodes[first], "")]
    for i in sorted(members, key=lambda i: (nodes[i].key, nodes[i].type)):
        if i != first:
            why = "alias" if alias_key(nodes[i].key) == alias_key(key) else "decision"
            joined.append((nodes[i], why))
    return Cluster(nodes[top].type, key, joined)
