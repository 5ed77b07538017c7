"""Many models' answers (one per sampled chunk) → one schema, deterministically.

Names are merged only when they are equal after the grounding's normalisation (NFKC, width, whitespace,
Latin case) or when an answer lists one as an alias of the other; everything else that looks like a
synonym (the same example span, for relations with the same end types too; the same letters once
separators and a plural ``s`` are dropped) is a *proposal* for a person, never a merge. A name's support is
the number of sampled chunks whose answer named it; names below the threshold are dropped, the rest capped
by support. The shown name is the spelling answered most often (``_shown``); a definition and an example
the most answered too, an example only where it is in its chunk's text. The same answers always give the
same schema, whatever their order.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kgcli.documents.grounding import normalise
from kgcli.repair import parse_answer

KINDS = ("entity_types", "relations")
MAX_NAME = 64  # characters: a longer "name" is a sentence, not a type


@dataclass
class Item:
    """One type or relation as one answer named it."""

    name: str
    definition: str = ""
    example: str = ""  # "" unless it is in the chunk's text
    aliases: list[str] = field(default_factory=list)
    head: str = ""
    tail: str = ""


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def read_answer(answer: str, chunk: str) -> dict[str, list[Item]] | None:
    """An answer's items per kind (None when it is no JSON object); a bare string is a name alone."""
    found, _ = parse_answer(answer)
    if found is None:
        return None
    items: dict[str, list[Item]] = {kind: [] for kind in KINDS}
    for kind in KINDS:
        listed = found.get(kind)
        for entry in listed if isinstance(listed, list) else []:
            entry = {"name": entry} if isinstance(entry, str) else entry
            if not isinstance(entry, dict):
                continue
            name = _text(entry.get("name"))
            if not name or len(name) > MAX_NAME:
                continue
            example = _text(entry.get("example"))
            aliases = entry.get("aliases") if isinstance(entry.get("aliases"), list) else []
            items[kind].append(Item(
                name, _text(entry.get("definition")), example if example and example in chunk else "",
                [a for a in map(_text, aliases) if a and len(a) <= MAX_NAME and a != name],
                _text(entry.get("head")), _text(entry.get("tail"))))
    return items


class _Groups:
    """Union-find over normalised names: each group is one type or relation."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the root is the smallest key: order-blind


@dataclass
class Settings:
    min_support: float = 0.1  # a share of the answered samples (at least one sample)
    max_types: int = 30
    max_relations: int = 30


def _most(counts: Counter) -> str:
    """The most frequent value, then the first in code-point order ("" when none)."""
    return min(counts, key=lambda v: (-counts[v], v)) if counts else ""


def _shown(names: Counter) -> str:
    """A group's name: of its spellings that normalise alike, the most answered set; in it, the most
    answered form, then a plain one (NFKC leaves it as it is: not full-width), then code-point order."""
    spellings: dict[str, Counter] = {}
    for name, count in names.items():
        spellings.setdefault(normalise(name), Counter())[name] += count
    best = min(spellings, key=lambda key: (-sum(spellings[key].values()), key))
    forms = spellings[best]
    return min(forms, key=lambda v: (-forms[v], unicodedata.normalize("NFKC", v) != v, v))


def _loose(name: str) -> str:
    """A name with its separators and case dropped, and a plural ``s`` (a spelling proposal's key)."""
    key = re.sub(r"[\W_]+", "", normalise(name))
    return key[:-1] if len(key) > 3 and key.endswith("s") and key.isascii() else key


def aggregate(answers: list[tuple[str, str]], settings: Settings) -> tuple[dict[str, Any], dict[str, int]]:
    """``answers``: (answer, the chunk's text) per sample → (the schema object, counts: samples, answered,
    names seen and dropped)."""
    read = [found for found in (read_answer(a, t) for a, t in answers) if found is not None]
    needed = max(1, math.ceil(settings.min_support * len(read) - 1e-9))
    schema: dict[str, Any] = {"entity_types": [], "relations": [], "definitions": {}, "examples": {},
                              "support": {}, "relation_types": {}, "aliases": {}, "proposals": []}
    counts = {"samples": len(answers), "answered": len(read), "needed": needed, "dropped": 0}
    shown_types: dict[str, str] = {}  # entity group → its shown name (for relations' ends)
    groups_of: dict[str, _Groups] = {}
    for kind in KINDS:
        groups = groups_of[kind] = _Groups()
        for found in read:
            for item in found[kind]:
                for alias in item.aliases:
                    groups.union(normalise(item.name), normalise(alias))
                groups.find(normalise(item.name))
        members: dict[str, dict[str, Any]] = {}
        for sample, found in enumerate(read):
            for item in found[kind]:
                group = members.setdefault(groups.find(normalise(item.name)), {
                    "samples": set(), "names": Counter(), "forms": set(), "definitions": Counter(),
                    "examples": Counter(), "ends": Counter()})
                group["samples"].add(sample)
                group["names"][item.name] += 1
                group["forms"].update([item.name, *item.aliases])
                if item.definition:
                    group["definitions"][item.definition] += 1
                if item.example:
                    group["examples"][item.example] += 1
                if item.head and item.tail:
                    group["ends"][(item.head, item.tail)] += 1
        kept = sorted(((key, g) for key, g in members.items() if len(g["samples"]) >= needed),
                      key=lambda kg: (-len(kg[1]["samples"]), _shown(kg[1]["names"])))
        cap = settings.max_types if kind == "entity_types" else settings.max_relations
        counts["dropped"] += len(members) - min(len(kept), cap)
        kept = kept[:cap]
        shown: list[tuple[str, str, dict[str, Any]]] = []
        for key, group in kept:
            name = _shown(group["names"])
            shown.append((key, name, group))
            if kind == "entity_types":
                shown_types[key] = name
            schema[kind].append(name)
            schema["support"][name] = len(group["samples"])
            if group["definitions"]:
                schema["definitions"][name] = _most(group["definitions"])
            if group["examples"]:
                schema["examples"][name] = _most(group["examples"])
            forms = sorted(group["forms"] - {name})
            if forms:
                schema["aliases"][name] = forms
            if kind == "relations":
                ends = Counter()
                for (head, tail), count in group["ends"].items():
                    types = groups_of["entity_types"]
                    head_key, tail_key = types.find(normalise(head)), types.find(normalise(tail))
                    if head_key in shown_types and tail_key in shown_types:
                        ends[(shown_types[head_key], shown_types[tail_key])] += count
                if ends:
                    pairs = sorted(ends, key=lambda p: (-ends[p], p))
                    schema["relation_types"][name] = [list(p) for p in pairs]
        schema["proposals"] += _proposals(kind, shown)
    schema["proposals"].sort(key=lambda p: (p["kind"], p["names"]))
    return {key: value for key, value in schema.items() if value or key in KINDS}, counts


def _ends(group: dict[str, Any]) -> set[tuple[str, str]]:
    return {(normalise(head), normalise(tail)) for head, tail in group["ends"]}


def _proposals(kind: str, shown: list[tuple[str, str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Pairs of kept names that are likely one thing (for a person to merge or keep apart)."""
    found = []
    for i, (_, first, a) in enumerate(shown):
        for _, second, b in shown[i + 1:]:
            names = sorted([first, second])
            shared = sorted({normalise(e) for e in a["examples"]} & {normalise(e) for e in b["examples"]})
            if kind == "relations" and not _ends(a) & _ends(b):
                shared = []  # a sentence states several relations: the same example counts with the same ends
            if shared:
                found.append({"kind": kind, "names": names, "why": f"the same example: {shared[0]}"})
            elif _loose(first) == _loose(second):
                found.append({"kind": kind, "names": names, "why": "the same name but for separators, "
                              "case or a plural s"})
    return found
