"""Documents written from a gold schema (Chinese and English), and a server's answers to ``kgc schema
suggest`` prompts from that gold with the noise models add: synonyms (listed as aliases), case and width
variants of the names, answers in a code fence, and one rare spurious type."""

from __future__ import annotations

import json
import random
import zlib
from typing import Any

from kgcli.demo.answer_server import answer as gold_answer
from kgcli.demo.answer_server import suggestion
from kgcli.schema_tools.prompts import prompt_text

GOLD = {
    "en": {
        "types": {"person": ["Alice Moreau", "Brian Okafor", "Chen Wei", "Dana Ruiz", "Elena Popova",
                             "Farid Haddad"],
                  "organization": ["Northwind Labs", "Bluefin Bank", "Corvid Press", "Delta Mills"],
                  "city": ["Lisbon", "Osaka", "Nairobi", "Quito"]},
        "relations": {"works_for": ("person", "organization", "{h} works for {t}."),
                      "lives_in": ("person", "city", "{h} lives in {t}."),
                      "headquartered_in": ("organization", "city", "{h} is headquartered in {t}.")},
        "synonyms": {"person": "human", "organization": "company", "works_for": "employed_by"},
        "spurious": "color",
    },
    "zh": {
        "types": {"人物": ["张伟", "李娜", "王强", "赵敏", "陈静", "刘洋"],
                  "机构": ["星河科技", "长江银行", "青松出版社", "远航集团"],
                  "地点": ["杭州", "成都", "西安", "厦门"]},
        "relations": {"任职于": ("人物", "机构", "{h}任职于{t}。"),
                      "居住在": ("人物", "地点", "{h}居住在{t}。"),
                      "总部位于": ("机构", "地点", "{h}的总部位于{t}。")},
        "synonyms": {"人物": "人", "机构": "组织", "任职于": "就职于"},
        "spurious": "颜色",
    },
}


def gold_schema(language: str) -> tuple[set[str], set[str]]:
    gold = GOLD[language]
    return set(gold["types"]), set(gold["relations"])


def documents(language: str, count: int = 16, seed: int = 3) -> list[dict[str, Any]]:
    """Annotated documents (``text``, ``entity``, ``relation``): each states three or four relations."""
    gold, rng = GOLD[language], random.Random(seed)
    found = []
    for number in range(count):
        sentences, entities, relations = [], {}, []
        for relation in rng.sample(sorted(gold["relations"]), 3) + [rng.choice(sorted(gold["relations"]))]:
            head_type, tail_type, pattern = gold["relations"][relation]
            head, tail = rng.choice(gold["types"][head_type]), rng.choice(gold["types"][tail_type])
            if (head, relation, tail) in {(r["head"], r["relation"], r["tail"]) for r in relations}:
                continue
            sentences.append(pattern.format(h=head, t=tail))
            entities[head], entities[tail] = head_type, tail_type
            relations.append({"head": head, "relation": relation, "tail": tail})
        found.append({"id": f"{language}-{number}", "text": ("" if language == "zh" else " ").join(sentences),
                      "entity": [{"entity": e, "entity_type": t} for e, t in sorted(entities.items())],
                      "relation": relations})
    return found


def write_documents(path: Any, docs: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")


def _wide(name: str) -> str:
    """Full-width Latin letters (NFKC makes them plain again)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in name)


def noisy_answerer(language: str, docs: list[dict[str, Any]]):
    """The answer function of a test server (``tests/fake_openai.py``): suggestion prompts answered from
    the gold with noise, one chunk's answer with the spurious type; IEPile instructions answered from the
    gold, as the demo's answer server does."""
    gold = GOLD[language]
    entities = sorted({(e["entity"], e["entity_type"]) for d in docs for e in d["entity"]})
    relations = sorted({(r["head"], r["relation"], r["tail"]) for d in docs for r in d["relation"]})
    spurious_text = min(d["text"] for d in docs)  # one chunk, whatever the order of the requests

    def noisy(name: str, roll: int) -> dict[str, Any]:
        """Seven answers in ten name it as the gold does."""
        if roll % 10 == 1 and name in gold["synonyms"]:
            return {"name": gold["synonyms"][name], "aliases": [name]}
        if roll % 10 == 2 and name.isascii():
            return {"name": name.upper() if roll % 20 < 10 else name.title(), "aliases": []}
        if roll % 10 == 3 and name.isascii():
            return {"name": _wide(name), "aliases": []}
        return {"name": name, "aliases": []}

    def answer(body: dict[str, Any]) -> str:
        prompt = next((m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"),
                      body.get("prompt", ""))
        text = prompt_text(prompt)
        if text is None:
            return gold_answer(prompt, entities, relations)
        found = suggestion(text, entities, relations)
        roll = zlib.crc32(text.encode("utf-8"))
        for index, item in enumerate(found["entity_types"] + found["relations"]):
            item.update(noisy(item["name"], roll + index))
            for end in ("head", "tail"):
                if end in item and (roll + index) % 7 == 4 and item[end].isascii():
                    item[end] = item[end].upper()
        if text.strip() == spurious_text:
            found["entity_types"].append({"name": gold["spurious"], "definition": "", "example": "",
                                          "aliases": []})
        reply = json.dumps(found, ensure_ascii=False)
        return f"```json\n{reply}\n```" if roll % 3 == 0 else reply

    return answer
