"""A person's resolution decisions: ``--decisions FILE`` (YAML or JSON) for ``kgc graph build`` and ``kgc
graph resolve``::

    same: [[Ember Motors, Ember Motors Finance]]   # one thing: merged, whatever the rules say
    different: [[Ember Motors, Ember Motors Inc.]] # two things: never merged
    type: {Jordan: country}                        # the name's type, whatever the votes say

Names compare after the grounding's normalisation. The graph keeps the decisions (``graph.json``), so they
hold on every later ``--append`` and ``graph resolve``; a later file adds to them (its ``type`` wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kgcli.documents.grounding import normalise
from kgcli.errors import KgcError
from kgcli.graph.aliases import alias_key

KEYS = ("same", "different", "type")


@dataclass
class Decisions:
    same: list[list[str]] = field(default_factory=list)  # normalised names, each group sorted
    different: list[list[str]] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._apart = {frozenset(pair) for pair in self.different}
        parent: dict[str, str] = {}

        def root(key: str) -> str:
            while parent.get(key, key) != key:
                key = parent[key]
            return key

        for names in self.same:  # union-find over the alias keys of names said to be one
            keys = [alias_key(name) for name in names]
            roots = {root(key) for key in keys}
            for found in roots:
                parent[found] = min(roots)
            for key in keys:
                parent.setdefault(key, key)
        self._group = {key: root(key) for key in parent}  # alias key → the alias key its group goes by

    def group(self, key: str) -> str:
        """The alias key a name's alias key is grouped under (``same`` joins groups)."""
        return self._group.get(key, key)

    def apart(self, first: str, second: str) -> bool:
        return frozenset((first, second)) in self._apart

    def __bool__(self) -> bool:
        return bool(self.same or self.different or self.types)

    def joined(self, other: Decisions) -> Decisions:
        """These decisions with a later file's added."""
        return Decisions(_unique(self.same + other.same), _unique(self.different + other.different),
                         {**self.types, **other.types})

    def to_json(self) -> dict[str, Any]:
        return {"same": self.same, "different": self.different, "type": dict(sorted(self.types.items()))}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Decisions:
        data = data or {}
        return cls(data.get("same") or [], data.get("different") or [], data.get("type") or {})


def _unique(groups: list[list[str]]) -> list[list[str]]:
    return [list(group) for group in sorted({tuple(group) for group in groups})]


def _names(value: Any, what: str, path: str) -> list[list[str]]:
    if value is None:
        return []
    def listed(group: Any) -> bool:
        return isinstance(group, list) and len(group) >= 2 and all(isinstance(n, str) and n.strip()
                                                                   for n in group)

    if not isinstance(value, list) or not all(listed(group) for group in value):
        raise KgcError(f"'{what}' must be a list of name lists, each of two names or more: "
                       f"{what}: [[Ember Motors, Ember Motors Inc.]]", path)
    return [sorted({normalise(n) for n in group}) for group in value]


def load_decisions(path: str) -> Decisions:
    """Read a decisions file; a mistake in it is one line naming the file (and the line where YAML knows
    it)."""
    import yaml

    from kgcli.io import check_input, display_name

    check_input(path)
    name = display_name(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except UnicodeDecodeError:
        raise KgcError("not UTF-8 text", name) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise KgcError(f"not YAML or JSON: {getattr(exc, 'problem', None) or exc}", name,
                       mark.line + 1 if mark is not None else None) from None
    if data is None:
        data = {}
    if not isinstance(data, dict) or set(data) - set(KEYS):
        extra = sorted(set(data) - set(KEYS)) if isinstance(data, dict) else None
        raise KgcError("a decisions file is a mapping of 'same', 'different' and 'type'"
                       + (f" (not {', '.join(map(str, extra))})" if extra else ""), name)
    types = data.get("type") or {}
    if not isinstance(types, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip() for k, v in types.items()):
        raise KgcError("'type' must map names to types: type: {Jordan: country}", name)
    return Decisions(_unique(_names(data.get("same"), "same", name)),
                     _unique(_names(data.get("different"), "different", name)),
                     {normalise(k): v.strip() for k, v in types.items()})
