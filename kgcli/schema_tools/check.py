"""``kgc schema check``: what is wrong with a schema file, before a model answers to it, and how much of an
annotated set it covers.

Problems, each one line naming the file and the line: a file ``schema.py`` cannot read; an empty schema;
two names that are one after normalisation (NFKC, width, whitespace, Latin case: the model would answer
either, and the graph would merge them); a blank name; ``relation_types`` that name a relation not in the
list or an end type not declared; names that collide as graph labels (node types and relations are
tables of the graph's database, whose names are case-blind, and ``Entity`` is always there).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from kgcli.documents.grounding import normalise
from kgcli.errors import KgcError
from kgcli.graph.facts import ENTITY
from kgcli.io import display_name, read_jsonl
from kgcli.schema import Schema, load_schema


@dataclass
class Coverage:
    """How much of a gold set the schema names: mentions per type and relation, and what is missing."""

    entities: int = 0
    entities_named: int = 0
    relations: int = 0
    relations_named: int = 0
    events: int = 0
    events_named: int = 0
    missing: Counter = field(default_factory=Counter)  # gold types and relations not in the schema

    def lines(self) -> list[str]:
        found = []
        for what, total, named in (("entity mention(s)", self.entities, self.entities_named),
                                   ("relation(s)", self.relations, self.relations_named),
                                   ("event(s)", self.events, self.events_named)):
            if total:
                found.append(f"{named / total:.1%} of {total} gold {what}: their type or relation is in the "
                             "schema")
        if self.missing:
            shown = ", ".join(f"{name} ({count})" for name, count in
                              sorted(self.missing.items(), key=lambda kv: (-kv[1], kv[0]))[:20])
            found.append(f"not in the schema: {shown}")
        return found


def _line_of(text: list[str], name: str, skip: int = 0) -> int | None:
    """The line of the file that spells ``name`` as a JSON string (after ``skip`` earlier ones)."""
    quoted = [json.dumps(name, ensure_ascii=False), json.dumps(name)]
    seen = 0
    for number, line in enumerate(text, 1):
        if any(q in line for q in quoted):
            if seen == skip:
                return number
            seen += 1
    return None


def problems(path: str) -> tuple[Schema, list[KgcError]]:
    """The schema (as kgc reads it) and everything wrong with it; a file that does not read raises."""
    schema = load_schema(path)
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read().splitlines()
    except (OSError, UnicodeDecodeError):
        text = []
    found: list[KgcError] = []

    def problem(message: str, name: str | None = None, skip: int = 0) -> None:
        found.append(KgcError(message, path, _line_of(text, name, skip) if name is not None else None))

    types, roles = schema.all_types(), schema.all_roles()
    if not types and not roles:
        problem("the schema is empty: no entity types, relations or roles")
        return schema, found
    for what, names in (("type", types), ("relation or role", roles)):
        first: dict[str, str] = {}
        for name in names:
            if not name.strip():
                problem(f"a blank {what} name", name)
                continue
            key = normalise(name)
            if key in first:
                problem(f"{what}s {first[key]!r} and {name!r} are one name once normalised (NFKC, width, "
                        "whitespace, Latin case): keep one", name)
            else:
                first[key] = name
    declared = set(types)
    for relation, pairs in schema.relation_types.items():
        if relation not in roles:
            problem(f"relation_types names {relation!r}, which is not in relations", relation)
        for head, tail in pairs:
            for end, name in (("head", head), ("tail", tail)):
                if name not in declared:
                    problem(f"relation {relation!r}: its {end} type {name!r} is not in entity_types", name)
    found += _label_collisions(path, text, types, roles)
    return schema, found


def _label_collisions(path: str, text: list[str], types: list[str], roles: list[str]) -> list[KgcError]:
    """Names that would share a table of the graph's database (its names are case-blind; ``Entity`` is
    always there); two spellings of one name in one list are said once, as duplicates."""
    found = []
    taken: dict[str, tuple[str, str]] = {ENTITY.casefold(): ("the built-in label", ENTITY)}
    for what, names in (("type", types), ("relation", roles)):
        for name in names:
            other = taken.setdefault(name.casefold(), (what, name))
            if other == (what, name) or (what == "type" and name == ENTITY):
                continue
            if other[0] == what and normalise(other[1]) == normalise(name):
                continue  # a duplicate, said as one
            again = int(other[1] == name)  # the same spelling: the later one is this name's line
            found.append(KgcError(f"{what} {name!r} and {other[0]} {other[1]!r} are one label in the graph "
                                  "(its database's table names are case-blind): rename one", path,
                                  _line_of(text, name, skip=again)))
    return found


def coverage(schema: Schema, gold: str) -> Coverage:
    """How much of GOLD (annotated documents: ``entity``/``entity_type``, ``relation``, ``event``) the
    schema's names cover."""
    found = Coverage()
    types = {normalise(t) for t in schema.all_types()}
    roles = {normalise(r) for r in schema.all_roles()}
    name = display_name(gold)
    for number, record in read_jsonl(gold):
        try:
            for item in record.get("entity") or []:
                found.entities += 1
                named = normalise(item["entity_type"]) in types
                found.entities_named += named
                found.missing.update([] if named else [item["entity_type"]])
            for item in record.get("relation") or []:
                found.relations += 1
                named = normalise(item["relation"]) in roles
                found.relations_named += named
                found.missing.update([] if named else [item["relation"]])
            for item in record.get("event") or []:
                found.events += 1
                named = normalise(item["event_type"]) in types
                found.events_named += named
                found.missing.update([] if named else [item["event_type"]])
        except (KeyError, TypeError, AttributeError):
            raise KgcError("gold annotations must be the raw format (entity/entity_type, head/relation/tail, "
                           "event_type)", name, number) from None
    if not (found.entities or found.relations or found.events):
        raise KgcError("no annotations (entity, relation or event) to measure the schema against", name)
    return found
