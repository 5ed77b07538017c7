"""Schema files: the seed's three-line format, or one JSON object.

Three-line format (as in DeepKE/IEPile ``schema.json``): line 1 a JSON list of types (entity types, event
types, or SPO ``subject_predicate_object`` strings), line 2 a JSON list of roles (relations, argument roles,
KG attributes), line 3 a JSON object ``{type: [roles]}`` (event roles, KG entity attributes). Trailing lines
may be missing.

Object format: ``{"types": [...], "roles": [...], "type_roles": {...}}``; each key optional. Aliases:
``entity_types``/``event_types`` for types, ``relations``/``attributes`` for roles, ``event_roles``/
``entity_attributes`` for type_roles. So one file serves several tasks: NER reads its ``entity_types``, RE
its ``relations``.

Notes a person edits (what ``kgc schema suggest`` writes beside the lists; no task reads them into an
instruction): ``definitions`` and ``examples`` ({name: text}), ``support`` ({name: how many sampled chunks
named it}), ``relation_types`` ({relation: [[head type, tail type], ...]}), ``aliases`` ({name: [forms
merged into it]}) and ``proposals`` ([{kind, names, why}]: likely synonyms left for a person to merge).

Order is kept exactly as written (the test split asks the schema in file order), duplicates dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from kgcli.errors import KgcError

_ALIASES = {
    "types": "types", "entity_types": "types", "event_types": "types",
    "roles": "roles", "relations": "roles", "attributes": "roles",
    "type_roles": "type_roles", "event_roles": "type_roles", "entity_attributes": "type_roles",
}


NOTES = ("definitions", "examples", "support", "relation_types", "aliases", "proposals")


@dataclass
class Schema:
    types: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    type_roles: dict[str, list[str]] = field(default_factory=dict)
    definitions: dict[str, str] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)
    support: dict[str, int] = field(default_factory=dict)
    relation_types: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    proposals: list[dict] = field(default_factory=list)

    def all_types(self) -> list[str]:
        """Every type the file names: its types, then those that carry roles (event, KG), once each."""
        return unique([*self.types, *self.type_roles])

    def all_roles(self) -> list[str]:
        """Every relation or role the file names, once each."""
        return unique([*self.roles, *(role for roles in self.type_roles.values() for role in roles)])


def unique(items) -> list:
    """Order-preserving de-duplication (the seed used sets, whose order changes per process)."""
    return list(dict.fromkeys(items))


def _check_list(value, path: str, line: int | None, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KgcError(f"{what} must be a JSON list of strings", path, line)
    return unique(value)


def _check_map(value, path: str, line: int | None) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise KgcError("type→roles must be a JSON object {type: [roles]}", path, line)
    result = {}
    for key, roles in value.items():
        result[key] = _check_list(roles, path, line, f"roles of {key!r}")
    return result


def load_schema(path: str) -> Schema:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise KgcError("schema file not found", path) from None
    except IsADirectoryError:
        raise KgcError("schema path is a directory", path) from None
    except OSError as exc:
        raise KgcError(f"cannot read the schema file ({(exc.strerror or str(exc)).lower()})", path) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return _from_object(whole, path)
    lines = [(n, raw) for n, raw in enumerate(data.split(b"\n"), 1) if raw.strip()]
    if not lines:
        raise KgcError("schema file is empty", path)
    if len(lines) > 3:
        raise KgcError("a three-line schema file has at most 3 non-blank lines", path, lines[3][0])
    values = []
    for number, raw in lines:
        try:
            values.append((number, orjson.loads(raw)))
        except orjson.JSONDecodeError:
            raise KgcError("schema line is not valid JSON", path, number) from None
    schema = Schema()
    schema.types = _check_list(values[0][1], path, values[0][0], "line 1 (types)")
    if len(values) > 1:
        schema.roles = _check_list(values[1][1], path, values[1][0], "line 2 (roles)")
    if len(values) > 2:
        schema.type_roles = _check_map(values[2][1], path, values[2][0])
    return schema


def _check_notes(key: str, value, path: str) -> object:
    """One of the ``NOTES`` maps, checked for its shape."""
    def wrong(shape: str) -> KgcError:
        return KgcError(f"{key} must be {shape}", path)

    if key == "proposals":
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise wrong("a JSON list of objects")
        return value
    if not isinstance(value, dict):
        raise wrong("a JSON object {name: ...}")
    if key in ("definitions", "examples"):
        if not all(isinstance(v, str) for v in value.values()):
            raise wrong("a JSON object {name: text}")
        return dict(value)
    if key == "support":
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()):
            raise wrong("a JSON object {name: count}")
        return dict(value)
    if key == "aliases":
        return {name: _check_list(forms, path, None, f"aliases of {name!r}") for name, forms in value.items()}
    pairs: dict[str, list[tuple[str, str]]] = {}
    for relation, found in value.items():
        if not isinstance(found, list) or not all(
                isinstance(p, list) and len(p) == 2 and all(isinstance(t, str) for t in p) for p in found):
            raise wrong("a JSON object {relation: [[head type, tail type], ...]}")
        pairs[relation] = unique(tuple(p) for p in found)
    return pairs


def _from_object(obj: dict, path: str) -> Schema:
    schema = Schema()
    for key, value in obj.items():
        if key in NOTES:
            setattr(schema, key, _check_notes(key, value, path))
            continue
        target = _ALIASES.get(key)
        if target is None:
            raise KgcError(f"unknown schema key {key!r} (expected types, roles, type_roles, or the notes "
                           f"{', '.join(NOTES)})", path)
        if target == "type_roles":
            schema.type_roles = _check_map(value, path, None)
        else:
            setattr(schema, target, _check_list(value, path, None, key))
    return schema
