"""A generated set for resolution across documents, Chinese and English: the same things in twelve short
documents, written with legal-form and article variants, typed differently by a minority of documents, left
untyped as relation ends; two true homonyms (one name, two things, never in one document); same-type names
inside longer names of other things (``Ember Motors`` / ``Ember Motors Finance``, ``阿里巴巴`` /
``阿里巴巴影业``) and numbered names (``Model 3`` / ``Model 4``, ``小米13`` / ``小米14``) that must all
stay apart.

A document is pieces: text, or (form, type, thing id); and relations (head form, relation, tail form). A
"model" answers each chunk from the pieces inside it, with the document's deliberate slips: ``mistyped``
(form → the wrong type it answers) and ``untyped`` (forms it leaves out of NER, so they are relation ends
only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

Piece = str | tuple[str, str, str]

ORG, PER, LOC, PRO = "organization", "person", "location", "product"
Z_ORG, Z_PER, Z_LOC, Z_PRO = "组织机构", "人物", "地点", "产品"
EN_TYPES, ZH_TYPES = [ORG, PER, LOC, PRO], [Z_ORG, Z_PER, Z_LOC, Z_PRO]
EN_RELATIONS, ZH_RELATIONS = ["headquartered in", "makes", "works for"], ["总部位于", "生产", "任职于"]


@dataclass
class Doc:
    name: str
    language: str
    pieces: list[Piece]
    relations: list[tuple[str, str, str]] = field(default_factory=list)
    mistyped: dict[str, str] = field(default_factory=dict)
    untyped: set[str] = field(default_factory=set)

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p[0] for p in self.pieces)

    @property
    def mentions(self) -> list[tuple[int, int, str, str, str]]:
        """(start, end, form, type, thing id) of every gold mention."""
        found, at = [], 0
        for piece in self.pieces:
            if isinstance(piece, str):
                at += len(piece)
            else:
                found.append((at, at + len(piece[0]), *piece))
                at += len(piece[0])
        return found

    def annotated(self) -> dict:
        """The raw annotated document (``graph build --gold``): entities with offsets and ids, relations."""
        return {"id": f"{self.name}.txt", "text": self.text,
                "entity": [{"entity": form, "entity_type": kind, "id": thing, "start": s, "end": e}
                           for s, e, form, kind, thing in self.mentions],
                "relation": [{"head": h, "relation": r, "tail": t} for h, r, t in self.relations]}


def _en() -> list[Doc]:
    ember, ember_inc, ember_inc2 = ("Ember Motors", ORG, "ember"), ("Ember Motors Inc.", ORG, "ember"), (
        "Ember Motors, Inc.", ORG, "ember")
    finance = ("Ember Motors Finance", ORG, "ember-finance")
    aurora = ("Aurora Insurance", ORG, "aurora")
    gdansk = ("Gdansk", LOC, "gdansk")
    model3, model4 = ("Model 3", PRO, "model-3"), ("Model 4", PRO, "model-4")
    jordan_p, jordan_c = ("Jordan", PER, "jordan-person"), ("Jordan", LOC, "jordan-country")
    kestrel, the_kestrel = ("Kestrel Foundation", ORG, "kestrel"), ("The Kestrel Foundation", ORG, "kestrel")
    return [
        Doc("en1", "en", [ember_inc, " is headquartered in ", gdansk, ". It makes the ", model3, ". ",
                          jordan_p, " works for ", aurora, "."],
            [("Ember Motors Inc.", "headquartered in", "Gdansk"), ("Ember Motors Inc.", "makes", "Model 3"),
             ("Jordan", "works for", "Aurora Insurance")]),
        Doc("en2", "en", [ember, " opened a plant; ", ember, " is headquartered in ", gdansk, ". ", finance,
                          " lends to buyers of the ", model4, "."],
            [("Ember Motors", "headquartered in", "Gdansk"), ("Ember Motors", "makes", "Model 4")],
            untyped={"Gdansk"}),
        Doc("en3", "en", [ember_inc2, " makes the ", model4, ". ", jordan_p, " works for ", kestrel, ". ",
                          aurora, " insured it."],
            [("Ember Motors, Inc.", "makes", "Model 4"), ("Jordan", "works for", "Kestrel Foundation")]),
        Doc("en4", "en", [the_kestrel, " funds schools in ", jordan_c, ". ", aurora, " is headquartered in ",
                          gdansk, "."],
            [("The Kestrel Foundation", "headquartered in", "Jordan"),
             ("Aurora Insurance", "headquartered in", "Gdansk")],
            mistyped={"Aurora Insurance": LOC}),
        Doc("en5", "en", [jordan_c, " imports the ", model3, ". ", finance, " works with ", aurora, " in ",
                          gdansk, "."],
            [("Ember Motors Finance", "headquartered in", "Gdansk")]),
        Doc("en6", "en", ["Officials of ", jordan_c, " met ", ember, " in ", gdansk, ". ", aurora,
                          " covered the ", model3, "."]),
    ]


def _zh() -> list[Doc]:
    ali, ali_group, ali_full = ("阿里巴巴", Z_ORG, "alibaba"), ("阿里巴巴集团", Z_ORG, "alibaba"), (
        "阿里巴巴集团控股有限公司", Z_ORG, "alibaba")
    pictures = ("阿里巴巴影业", Z_ORG, "alibaba-pictures")
    hangzhou, shenzhen = ("杭州", Z_LOC, "hangzhou"), ("深圳", Z_LOC, "shenzhen")
    mayun = ("马云", Z_PER, "ma-yun")
    huawei, huawei_full = ("华为", Z_ORG, "huawei"), ("华为技术有限公司", Z_ORG, "huawei")
    mi13, mi14 = ("小米13", Z_PRO, "mi-13"), ("小米14", Z_PRO, "mi-14")
    wall_place, wall_company = ("长城", Z_LOC, "great-wall"), ("长城", Z_ORG, "great-wall-motors")
    return [
        Doc("zh1", "zh", [ali_full, "总部位于", hangzhou, "。", mayun, "任职于", ali_group,
                          "。游客去", wall_place, "参观。"],
            [("阿里巴巴集团控股有限公司", "总部位于", "杭州"), ("马云", "任职于", "阿里巴巴集团")]),
        Doc("zh2", "zh", [ali, "总部位于", hangzhou, "，", pictures, "也在", hangzhou, "。", huawei, "生产",
                          mi13, "的对手产品。"],
            [("阿里巴巴", "总部位于", "杭州"), ("阿里巴巴影业", "总部位于", "杭州")], untyped={"杭州"}),
        Doc("zh3", "zh", [huawei_full, "总部位于", shenzhen, "。", mayun, "登上了", wall_place, "。"],
            [("华为技术有限公司", "总部位于", "深圳")]),
        Doc("zh4", "zh", [wall_company, "总部位于", "保定。", huawei, "在", shenzhen, "发布新品，",
                          ali, "关注", mi14, "。"],
            [("华为", "总部位于", "深圳")], mistyped={"华为": Z_LOC}),
        Doc("zh5", "zh", [pictures, "与", wall_company, "合作。", huawei, "的工程师来自", hangzhou, "。"],
            []),
        Doc("zh6", "zh", [wall_company, "生产汽车。", ali_group, "总部位于", hangzhou, "。", huawei,
                          "总部位于", shenzhen, "。"],
            [("阿里巴巴集团", "总部位于", "杭州"), ("华为", "总部位于", "深圳")]),
    ]


DOCS = _en() + _zh()


def asked(prompt: str) -> dict:
    """The IEPile instruction in a prompt (its schema and input)."""
    return json.loads(prompt.split("user\n", 1)[1].rsplit("<|im_end|>", 1)[0])


def answer_chunk(instruction: dict) -> str:
    """The answer of a model that knows the gold, with each document's slips."""
    chunk, schema = instruction["input"], instruction["schema"]
    for doc in DOCS:
        at = doc.text.find(chunk)
        if at >= 0:
            break
    else:
        raise AssertionError("a chunk that is in no document")
    inside = [m for m in doc.mentions if at <= m[0] and m[1] <= at + len(chunk)]
    if set(schema) & set(EN_RELATIONS + ZH_RELATIONS):
        found: dict[str, list] = {r: [] for r in schema}
        for head, relation, tail in doc.relations:
            if relation in found and head in chunk and tail in chunk:
                found[relation].append({"subject": head, "object": tail})
        return json.dumps(found, ensure_ascii=False)
    typed: dict[str, list[str]] = {t: [] for t in schema}
    for _, _, form, kind, _ in inside:
        if form in doc.untyped:
            continue
        kind = doc.mistyped.get(form, kind)
        if kind in typed and form not in typed[kind]:
            typed[kind].append(form)
    return json.dumps(typed, ensure_ascii=False)
