"""A deterministic synthetic NER + RE dataset for the demo (and for tests that need real learning), in English
and in Chinese (``language``: ``en`` or ``zh``; each its own names, templates, types and relations).

Sentences come from templates over name pools; every pool is split once into a train part and a test part,
so no person, city or organisation name of the test split occurs in training: a model can only score on the
test split by learning the task, not the names. Some templates mention entities without any schema
relation ("met", "visited"), so relation extraction cannot just pair every person with every place.
"""

from __future__ import annotations

import random

NER_TYPES = ["person", "city", "organization"]
RELATIONS = ["works for", "lives in", "headquartered in"]

FIRST = """Alice Bruno Chiara Dmitri Elena Farid Grace Hiroshi Ingrid Jamal Keiko Liam Maya Nikolai Olga Pedro Quinn
Rosa Samir Tara Umar Vera Wen Ximena Yusuf Zofia Aaron Bianca Carlos Daria Emil Fatima Gustav Hana Ivan Julia Kofi Lena
Marco Nadia Oscar Priya Rafael Sofia Tomas Uma Viktor Wanda Xavier Yara Zane Amara Boris Clara Diego Esther Felix Gita
Hugo Irene Jonas Kamala Lucas Mira Nils Ophelia Pavel Rhea Stefan Thea Ulrich Valentina Walter Yasmin Anton Beatriz
Cyrus Delia Enzo Freya Gabriel Helga Isaac Jana Kenji Leila Mateo Noor Otto Petra Ravi Selma Tobias Ada Bram Celine""".split()
LAST = """Okafor Lindqvist Moreau Tanaka Novak Haddad Fischer Costa Kowalski Reyes Nakamura Olsen Petrov Quispe Rossi
Schmidt Takahashi Urban Varga Weber Xu Yilmaz Zhang Abbott Brennan Castillo Dubois Eriksen Ferrari Gallagher Hoffmann
Ivanova Jensen Kim Larsen Mendez Nguyen Ortiz Park Quinlan Romero Suzuki Thompson Uchida Vasquez Wagner Yamamoto
Zimmermann Andersen Bauer Chen Delgado Engel Fontaine Garcia Horvat Iqbal Jovanovic Keller Lopez Muller Nielsen
Oliveira Patel Richter Sato Torres Ueda Vogel Watanabe Young Ziegler Adler Barros Conti Duarte Esposito Falk Gomez
Hansen Ito Janssen Kruger Lambert Marino Nowak Ortega Pereira Ramos Santos Tamura Umeda Vidal Wolff Yoon Zeller""".split()
CITIES = """Lisbon Oslo Nairobi Osaka Lyon Krakow Porto Dublin Seville Tallinn Bergen Kyoto Austin Denver Perth Quito Lima
Cork Graz Turin Leipzig Malmo Ghent Bilbao Split Valencia Hanoi Cusco Accra Adelaide Zurich Prague Seattle Mumbai Riga
Boston Madrid Vienna Toronto Helsinki Geneva Munich Nantes Bologna Gdansk Antwerp Utrecht Bremen Aarhus Vilnius Sofia
Zagreb Ljubljana Marseille Naples Florence Glasgow Leeds Bristol Chicago Portland Dallas Phoenix Atlanta Montreal
Calgary Ottawa Melbourne Brisbane Auckland Santiago Bogota Manila Jakarta Seoul Taipei Chennai Dhaka Cairo Tunis""".split()
ORG_STEMS = """Apex Borealis Cobalt Dynamo Ember Fjord Granite Helix Indigo Juniper Kestrel Lumen Meridian Nimbus Orion
Pinnacle Quartz Redwood Summit Tidal Umbra Vertex Willow Xenon Yarrow Zephyr Atlas Beacon Cascade Delta Falcon Harbor
Iris Lattice Mosaic Nova Onyx Prism Sable Tundra Aurora Basalt Cedar Drift Echo Flint Glacier Horizon Ion Jasper
Keystone Lantern Maple Nexus Opal Polaris Quill Ridge Sierra Thistle Unity Vista Wren Zenith Anvil Birch Comet""".split()
ORG_SUFFIXES = ["Labs", "Systems", "Group", "Bank", "Motors", "Foods", "Media", "Energy", "Robotics",
                "Insurance",
                "Airlines", "Pharma", "Logistics", "Studios", "Capital"]

# (template, relations as (head slot, relation, tail slot)); slots: p, q (people), c (city), o (organisation).
# Each relation holds in a third or more of the sentences, and each has hard negatives: sentences with the
# same kinds of entity and no such relation (met in, visited, flew to, born in, opened an office in, signed a
# deal with), so a model scores only by reading the relation's words, not by pairing every person with every
# city or by learning how often a relation list is empty.
TEMPLATES: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("{p} joined {o} as an engineer last year.", [("p", "works for", "o")]),
    ("{p}, who lives in {c}, is an analyst at {o}.", [("p", "lives in", "c"), ("p", "works for", "o")]),
    ("{o} is headquartered in {c}.", [("o", "headquartered in", "c")]),
    ("{p} lives in {c} with {q}.", [("p", "lives in", "c"), ("q", "lives in", "c")]),
    ("After moving to {c}, {p} started working at {o}.", [("p", "lives in", "c"), ("p", "works for", "o")]),
    ("{o}, a company based in {c}, announced record profits.", [("o", "headquartered in", "c")]),
    ("{p} met {q} in {c} last week.", []),
    ("{o}, headquartered in {c}, hired {p} in March.", [("o", "headquartered in", "c"), ("p", "works for", "o")]),
    ("{p} has lived in {c} for ten years.", [("p", "lives in", "c")]),
    ("{p} visited {c} to meet investors from {o}.", []),
    ("From its headquarters in {c}, {o} sells to customers across Europe.", [("o", "headquartered in", "c")]),
    ("The chief executive of {o}, {p}, flew to {c} on Monday.", [("p", "works for", "o")]),
    ("{p} lives in {c} and reads every report about {o}.", [("p", "lives in", "c")]),
    ("{o} opened a new office in {c}, and {p} will lead it.", [("p", "works for", "o")]),
    ("{o} moved its headquarters to {c} this spring.", [("o", "headquartered in", "c")]),
    ("{p} and {q} both work for {o}.", [("p", "works for", "o"), ("q", "works for", "o")]),
    ("{p}, who works for {o}, now lives in {c}.", [("p", "works for", "o"), ("p", "lives in", "c")]),
    ("{o}, based in {c}, signed a deal with {p}.", [("o", "headquartered in", "c")]),
    ("Born in {c}, {p} now writes software for {o}.", [("p", "works for", "o")]),
]
SLOT_TYPES = {"p": "person", "q": "person", "c": "city", "o": "organization"}

# The Chinese half: 人物 / 机构 / 地点 and 任职于 / 居住在 / 总部位于, with the same kinds of hard negative
# (见面, 拜访, 飞往, 出生于, 开设办公室, 签署协议). Names are written without spaces, as Chinese is.
NER_TYPES_ZH = ["人物", "地点", "机构"]
RELATIONS_ZH = ["任职于", "居住在", "总部位于"]
SURNAMES_ZH = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈"
                   "姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔向汤")
GIVEN_ZH = ("伟 芳 娜 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英 建华 文 华 红 志强 晓东 海燕 俊 鹏 慧 "
            "宇航 思远 雨桐 子涵 梓萱 浩然 欣怡 博文 佳怡 天宇 若曦 嘉懿 一鸣 婉清 铭轩 语嫣").split()
CITIES_ZH = ("杭州 成都 西安 厦门 苏州 南京 武汉 长沙 青岛 大连 昆明 贵阳 合肥 福州 济南 郑州 太原 南昌 宁波 无锡 "
             "温州 珠海 桂林 洛阳 扬州 泉州 烟台 兰州 银川 西宁 拉萨 海口 三亚 南宁 柳州 绍兴 嘉兴 湖州 台州 金华").split()
ORG_STEMS_ZH = ("星河 长江 青松 远航 华光 金桥 蓝海 银杉 明远 东方 瑞丰 恒信 天成 新元 博源 嘉禾 鼎盛 华夏 春晖 "
                "云帆 启明 卓越 正泰 海纳 百川 中科 安达 永盛 弘毅 致远 同心 凯旋 和光 晨曦 鸿图 锦程").split()
ORG_SUFFIXES_ZH = ["科技", "银行", "集团", "出版社", "医药", "航空", "物流", "传媒", "能源", "保险", "食品", "汽车",
                   "资本", "研究院", "电子"]
TEMPLATES_ZH: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("{p}去年加入{o}，担任工程师。", [("p", "任职于", "o")]),
    ("{p}住在{c}，是{o}的分析师。", [("p", "居住在", "c"), ("p", "任职于", "o")]),
    ("{o}的总部位于{c}。", [("o", "总部位于", "c")]),
    ("{p}和{q}一起住在{c}。", [("p", "居住在", "c"), ("q", "居住在", "c")]),
    ("搬到{c}之后，{p}开始在{o}工作。", [("p", "居住在", "c"), ("p", "任职于", "o")]),
    ("总部设在{c}的{o}公布了创纪录的利润。", [("o", "总部位于", "c")]),
    ("{p}上周在{c}见到了{q}。", []),
    ("总部位于{c}的{o}在三月聘用了{p}。", [("o", "总部位于", "c"), ("p", "任职于", "o")]),
    ("{p}在{c}已经生活了十年。", [("p", "居住在", "c")]),
    ("{p}前往{c}会见来自{o}的投资人。", []),
    ("{o}从位于{c}的总部向全国客户销售产品。", [("o", "总部位于", "c")]),
    ("{o}的首席执行官{p}周一飞往{c}。", [("p", "任职于", "o")]),
    ("{p}住在{c}，关注{o}的每一份报告。", [("p", "居住在", "c")]),
    ("{o}在{c}开设了新办公室，由{p}负责。", [("p", "任职于", "o")]),
    ("{o}今年春天把总部迁到了{c}。", [("o", "总部位于", "c")]),
    ("{p}和{q}都在{o}工作。", [("p", "任职于", "o"), ("q", "任职于", "o")]),
    ("在{o}工作的{p}现在住在{c}。", [("p", "任职于", "o"), ("p", "居住在", "c")]),
    ("总部在{c}的{o}与{p}签署了协议。", [("o", "总部位于", "c")]),
    ("{p}出生于{c}，如今为{o}编写软件。", [("p", "任职于", "o")]),
]
SLOT_TYPES_ZH = {"p": "人物", "q": "人物", "c": "地点", "o": "机构"}
LANGUAGES = ("en", "zh")


def recipe(language: str) -> tuple[list[str], list[str], list, dict[str, str]]:
    """(entity types, relations, templates, slot types) of a language."""
    if language == "zh":
        return NER_TYPES_ZH, RELATIONS_ZH, TEMPLATES_ZH, SLOT_TYPES_ZH
    return NER_TYPES, RELATIONS, TEMPLATES, SLOT_TYPES


def _split(pool: list[str], test_share: int) -> tuple[list[str], list[str]]:
    """Every ``test_share``-th name goes to the test pool, the rest to the train pool."""
    return ([n for i, n in enumerate(pool) if i % test_share],
            [n for i, n in enumerate(pool) if not i % test_share])


def name_pools(split: str, language: str = "en") -> dict[str, list[str]]:
    part = 0 if split == "train" else 1
    if language == "zh":
        surnames, given, cities, stems = (_split(pool, 4) for pool in (SURNAMES_ZH, GIVEN_ZH, CITIES_ZH,
                                                                         ORG_STEMS_ZH))
        people = [f"{s}{g}" for s in surnames[part] for g in given[part]]
        orgs = [f"{stem}{suffix}" for stem in stems[part] for suffix in ORG_SUFFIXES_ZH]
        return {"人物": people, "地点": cities[part], "机构": orgs}
    first, last, cities, stems = (_split(pool, 4) for pool in (FIRST, LAST, CITIES, ORG_STEMS))
    people = [f"{f} {s}" for f in first[part] for s in last[part]]
    orgs = [f"{stem} {suffix}" for stem in stems[part] for suffix in ORG_SUFFIXES]
    return {"person": people, "city": cities[part], "organization": orgs}


def make_records(split: str, count: int, seed: int = 7, language: str = "en") -> list[dict]:
    """``count`` raw records with both annotations: ``entity`` (NER) and ``relation`` (RE)."""
    rng = random.Random(f"{seed}:{split}" if language == "en" else f"{seed}:{split}:{language}")
    pools = name_pools(split, language)
    _, _, templates, slot_types = recipe(language)
    records = []
    for index in range(count):
        template, relations = templates[index % len(templates)]
        values: dict[str, str] = {}
        for slot in ("p", "q", "c", "o"):
            if "{" + slot + "}" in template:
                choices = [n for n in pools[slot_types[slot]] if n not in values.values()]
                values[slot] = rng.choice(choices)
        text = template.format(**values)
        order = sorted(values, key=lambda slot: text.index(values[slot]))
        records.append({
            "text": text,
            "entity": [{"entity": values[slot], "entity_type": slot_types[slot]} for slot in order],
            "relation": [{"head": values[h], "relation": r, "tail": values[t]} for h, r, t in relations],
        })
    rng.shuffle(records)
    return records


def schema_lines(types: list[str], relations: list[str]) -> str:
    """The seed's three-line schema file."""
    import json

    return f"{json.dumps(types)}\n{json.dumps(relations)}\n{{}}\n"


def make_documents(count: int, seed: int = 7, paragraphs: int = 3, sentences: int = 3,
                   language: str = "en") -> list[dict]:
    """``count`` multi-paragraph documents over the test pools (names never seen in training), each about a
    small cast (three people, two organisations, two cities) so entities recur and the graph connects.
    Gold annotations are document-level with character offsets of every mention (the raw format)."""
    rng = random.Random(f"{seed}:documents" if language == "en" else f"{seed}:documents:{language}")
    pools = name_pools("test", language)
    _, _, templates, slot_types = recipe(language)
    person, city, organization = slot_types["p"], slot_types["c"], slot_types["o"]
    documents = []
    for number in range(count):
        cast = {person: rng.sample(pools[person], 3), city: rng.sample(pools[city], 2),
                organization: rng.sample(pools[organization], 2)}
        blocks, relations = [], []
        for _ in range(paragraphs):
            lines = []
            while len(lines) < sentences:
                template, triples = templates[rng.randrange(len(templates))]
                people = rng.sample(cast[person], 2)
                values = {"p": people[0], "q": people[1], "c": rng.choice(cast[city]),
                          "o": rng.choice(cast[organization])}
                line = template.format(**values)
                if any(line in block for block in (*blocks, *lines)):
                    continue
                lines.append(line)
                relations += [{"head": values[h], "relation": r, "tail": values[t]} for h, r, t in triples]
            blocks.append(("" if language == "zh" else " ").join(lines))
        text = "\n\n".join(blocks)
        entities = []
        for entity_type, names in cast.items():
            for name in names:
                start = text.find(name)
                while start != -1:
                    entities.append({"entity": name, "entity_type": entity_type, "start": start,
                                     "end": start + len(name), "id": f"{entity_type}:{name}"})
                    start = text.find(name, start + len(name))
        # a name inside a longer one (the city Sofia in the person Sofia Marino) is not a mention of it
        entities = [e for e in entities if not any(o is not e and o["start"] <= e["start"] and e["end"] <= o["end"]
                                                   and o["end"] - o["start"] > e["end"] - e["start"]
                                                   for o in entities)]
        entities.sort(key=lambda item: item["start"])
        unique = list({(r["head"], r["relation"], r["tail"]): r for r in relations}.values())
        prefix = "doc" if language == "en" else f"doc-{language}"
        documents.append({"id": f"{prefix}-{number + 1}", "text": text, "entity": entities, "relation": unique})
    return documents
