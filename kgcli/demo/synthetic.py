"""A deterministic synthetic English NER + RE dataset for the demo (and for tests that need real learning).

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


def _split(pool: list[str], test_share: int) -> tuple[list[str], list[str]]:
    """Every ``test_share``-th name goes to the test pool, the rest to the train pool."""
    return ([n for i, n in enumerate(pool) if i % test_share],
            [n for i, n in enumerate(pool) if not i % test_share])


def name_pools(split: str) -> dict[str, list[str]]:
    first, last, cities, stems = (_split(pool, 4) for pool in (FIRST, LAST, CITIES, ORG_STEMS))
    part = 0 if split == "train" else 1
    people = [f"{f} {s}" for f in first[part] for s in last[part]]
    orgs = [f"{stem} {suffix}" for stem in stems[part] for suffix in ORG_SUFFIXES]
    return {"person": people, "city": cities[part], "organization": orgs}


def make_records(split: str, count: int, seed: int = 7) -> list[dict]:
    """``count`` raw records with both annotations: ``entity`` (NER) and ``relation`` (RE)."""
    rng = random.Random(f"{seed}:{split}")
    pools = name_pools(split)
    records = []
    for index in range(count):
        template, relations = TEMPLATES[index % len(TEMPLATES)]
        values: dict[str, str] = {}
        for slot in ("p", "q", "c", "o"):
            if "{" + slot + "}" in template:
                choices = [n for n in pools[SLOT_TYPES[slot]] if n not in values.values()]
                values[slot] = rng.choice(choices)
        text = template.format(**values)
        order = sorted(values, key=lambda slot: text.index(values[slot]))
        records.append({
            "text": text,
            "entity": [{"entity": values[slot], "entity_type": SLOT_TYPES[slot]} for slot in order],
            "relation": [{"head": values[h], "relation": r, "tail": values[t]} for h, r, t in relations],
        })
    rng.shuffle(records)
    return records


def schema_lines(types: list[str], relations: list[str]) -> str:
    """The seed's three-line schema file."""
    import json

    return f"{json.dumps(types)}\n{json.dumps(relations)}\n{{}}\n"


def make_documents(count: int, seed: int = 7, paragraphs: int = 3, sentences: int = 3) -> list[dict]:
    """``count`` multi-paragraph documents over the test pools (names never seen in training), each about a
    small cast (three people, two organisations, two cities) so entities recur and the graph connects.
    Gold annotations are document-level with character offsets of every mention (the raw format)."""
    rng = random.Random(f"{seed}:documents")
    pools = name_pools("test")
    documents = []
    for number in range(count):
        cast = {"person": rng.sample(pools["person"], 3), "city": rng.sample(pools["city"], 2),
                "organization": rng.sample(pools["organization"], 2)}
        blocks, relations = [], []
        for _ in range(paragraphs):
            lines = []
            while len(lines) < sentences:
                template, triples = TEMPLATES[rng.randrange(len(TEMPLATES))]
                people = rng.sample(cast["person"], 2)
                values = {"p": people[0], "q": people[1], "c": rng.choice(cast["city"]),
                          "o": rng.choice(cast["organization"])}
                line = template.format(**values)
                if any(line in block for block in (*blocks, *lines)):
                    continue
                lines.append(line)
                relations += [{"head": values[h], "relation": r, "tail": values[t]} for h, r, t in triples]
            blocks.append(" ".join(lines))
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
        documents.append({"id": f"doc-{number + 1}", "text": text, "entity": entities, "relation": unique})
    return documents
