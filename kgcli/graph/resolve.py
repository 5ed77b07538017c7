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

The decision depends only on the set of mentions, never on the order of the inputs, so a graph grown
document by document (``--append``) is the graph built at once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction

SHARE = Fraction(2, 3)  # the share of the votes a type needs to take the whole name


@dataclass
class Settled:
    """A name's settlement: its final type per type it had, the votes, and whether it was split."""

    final: dict[str, str]
    votes: dict[str, dict[str, int]] = field(default_factory=dict)  # "ner" / "schema" → type → mentions
    split: bool = False


def settle(had: dict[str, Counter]) -> Settled:
    """``had``: type the name had → Counter of its votes by kind (``ner``, ``schema``) over distinct
    mentions. Returns the settlement."""
    votes = {kind: {t: c[kind] for t, c in sorted(had.items()) if c[kind]} for kind in ("ner", "schema")}
    votes = {kind: v for kind, v in votes.items() if v}
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
