"""`kgc graph build` + `kgc graph export` on a million triples, against LadybugDB's own bulk load of the same
tables (the floor: what the database alone takes) and the one-MERGE-per-triple way.

Usage: python bench/graph_bench.py [--triples 1000000] [--naive 5000] [--against REV]

With ``--against REV`` that revision's ``kgc graph build`` builds the same input in the same run (from a
temporary worktree), and the build's target is checked: at most a fifth of REV's time or twice LadybugDB's
own bulk load, whichever is the larger time.

The input is synthetic merged documents (`kgc extract`'s result shape): 50 relations per document over a
pool of entities that repeat across documents, each end with its mention and sentence, and NER answers
that type them. kgc builds the GRAPH folder (nodes.jsonl, edges.jsonl, LadybugDB) and exports it for
Neo4j, each as the command a user types, in a child process whose wall time and peak RSS are read. The
fair baseline is LadybugDB's own bulk load: the finished graph's node and edge tables, written out as the
CSV files kgc stages, loaded with ``COPY FROM`` into a new database (the same tables, in a child process;
writing the CSV files is not timed). The older baseline, in this process and on the same triples, is what
the OneKE agent does: one Cypher statement per
triple, names pasted into the text, `MERGE` head, `MERGE` tail, `MERGE` the edge, into LadybugDB. It is
timed on the first --naive triples (a million would take hours) and compared as triples per second.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _util import Command, run_measured, summarize, table, trees  # noqa: E402

RELATIONS = ["出生地", "工作于", "毕业于", "居住地", "任职于", "创立", "位于", "合作", "投资", "收购"]
PER_DOCUMENT = 50


def person(i: int) -> str:
    return f"人物{i:05d}"


def place(i: int) -> str:
    return f"地点{i:04d}"


def documents(triples: int, seed: int = 11):
    """Merged documents with ``triples`` relations in all: persons and places drawn from fixed pools."""
    rng = random.Random(seed)
    people, places = max(1000, triples // 20), max(100, triples // 200)
    made = 0
    number = 0
    while made < triples:
        count = min(PER_DOCUMENT, triples - made)
        relations, entities, offset = [], {}, 0
        for _ in range(count):
            head, tail = person(rng.randrange(people)), place(rng.randrange(places))
            relation = rng.choice(RELATIONS)
            sentence = f"{head}{relation}{tail}。"
            h, t = offset, offset + len(head) + len(relation)
            mention = {"chunk": 0, "record": f"d{number}#0"}
            relations.append(
                {
                    "task": "RE",
                    "head": head,
                    "relation": relation,
                    "tail": tail,
                    "grounded": True,
                    "head_mentions": [{**mention, "start": h, "end": h + len(head), "context": sentence}],
                    "tail_mentions": [{**mention, "start": t, "end": t + len(tail), "context": sentence}],
                    "records": [f"d{number}#0"],
                }
            )
            for name, kind, start in ((head, "人物", h), (tail, "地点", t)):
                entry = entities.setdefault(
                    name,
                    {
                        "task": "NER",
                        "text": name,
                        "type": kind,
                        "grounded": True,
                        "mentions": [],
                        "records": [f"d{number}#0"],
                    },
                )
                entry["mentions"].append(
                    {**mention, "start": start, "end": start + len(name), "context": sentence}
                )
            offset += len(sentence)
        yield {
            "doc_id": f"d{number}",
            "entities": list(entities.values()),
            "relations": relations,
            "events": [],
            "arguments": [],
            "attributes": [],
            "chunks": 1,
            "unparsed_answers": 0,
        }
        made += count
        number += 1


BULK_LOAD = r"""
import json, sys, time
from kgcli.graph import store
from kgcli.graph.aggregate import EDGE_HEADER, NODE_HEADER, _first_context, _Staging
graph, work = sys.argv[1:3]
meta = json.load(open(f"{graph}/{store.META}"))
staging = _Staging(f"{work}/staging")
pairs = {}
for line in open(f"{graph}/{store.NODES}", encoding="utf-8"):
    n = json.loads(line)
    staging.write(("n", n["type"]), NODE_HEADER, [n["id"], n["name"], n["type"], n["kind"], n["count"],
                  store.json_text(n["properties"]), _first_context(n["mentions"]),
                  "true" if n["grounded"] else "false"])
for line in open(f"{graph}/{store.EDGES}", encoding="utf-8"):
    e = json.loads(line)
    pairs.setdefault(e["relation"], set()).add((e["head_type"], e["tail_type"]))
    staging.write(("e", e["relation"], e["head_type"], e["tail_type"]), EDGE_HEADER,
                  [e["head"], e["tail"], e["id"], e["relation"], e["kind"], e["count"],
                   _first_context(e["mentions"]), "true" if e["grounded"] else "false"])
staging.close()
tables = store.table_names({k[1] for k in staging.files if k[0] == "n"}, pairs)
started = time.perf_counter()
store.create_database(f"{work}/bulk.lbdb", tables, pairs,
                      {k[1]: p for k, p in staging.files.items() if k[0] == "n"},
                      {k[1:]: p for k, p in staging.files.items() if k[0] == "e"},
                      broken={staging.files[k] for k in staging.broken})
print(time.perf_counter() - started)
"""


def bulk_load(graph: Path, folder: Path) -> float:
    """Seconds of LadybugDB's ``COPY FROM`` of the graph's own node and edge tables (the CSV files written
    first, untimed), in a child process."""
    import subprocess

    (folder / "bulk").mkdir()
    command = Command([sys.executable, "-c", BULK_LOAD, str(graph), str(folder / "bulk")])
    result = subprocess.run(command.argv, capture_output=True, text=True, env=command.env(), check=True)
    return float(result.stdout.strip().splitlines()[-1])


def naive(triples: int, folder: Path) -> float:
    """Seconds for the one-statement-per-triple way on the first ``triples`` triples."""
    import ladybug

    database = ladybug.Database(str(folder / "naive.lbdb"))
    connection = ladybug.Connection(database)
    connection.execute("CREATE NODE TABLE Entity(name STRING PRIMARY KEY, type STRING)")
    connection.execute("CREATE REL TABLE Relation(FROM Entity TO Entity, type STRING)")
    done = 0
    started = time.perf_counter()
    for document in documents(triples):
        for r in document["relations"]:
            connection.execute(
                f"MERGE (h:Entity {{name: '{r['head']}'}}) ON CREATE SET h.type = '人物' "
                f"MERGE (t:Entity {{name: '{r['tail']}'}}) ON CREATE SET t.type = '地点' "
                f"MERGE (h)-[e:Relation {{type: '{r['relation']}'}}]->(t)"
            )
            done += 1
    seconds = time.perf_counter() - started
    connection.close()
    database.close()
    assert done == triples
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--naive", type=int, default=5000)
    parser.add_argument("--against", help="a git revision whose graph build runs on the same input")
    args = parser.parse_args()
    kgc = [sys.executable, "-m", "kgcli"]
    with tempfile.TemporaryDirectory(dir=os.environ.get("KGC_BENCH_TMP")) as tmp, \
            trees(args.against) as sources:
        folder = Path(tmp)
        docs = folder / "docs.json"
        with open(docs, "w", encoding="utf-8") as handle:
            for document in documents(args.triples):
                handle.write(json.dumps(document, ensure_ascii=False) + "\n")
        size = docs.stat().st_size / 1e6
        builds = []  # (label, seconds, peak RSS MB) per source tree
        for label, tree in sources:
            out = folder / f"graph-{len(builds)}"
            seconds, rss = run_measured(
                Command([*kgc, "graph", "build", str(docs), "--out", str(out)], tree=tree))
            builds.append((label, seconds, rss))
            if len(builds) > 1:
                shutil.rmtree(out)
        _, build_s, build_rss = builds[0]
        meta = json.loads((folder / "graph-0" / "graph.json").read_text())
        export_s, export_rss = run_measured(
            Command([*kgc, "graph", "export", str(folder / "graph-0"), "--format", "neo4j",
                     "--out", str(folder / "neo4j")])
        )
        bulk_s = bulk_load(folder / "graph-0", folder)
        naive_s = naive(args.naive, folder)
        shutil.rmtree(folder / "graph-0")
    kgc_rate = args.triples / build_s
    naive_rate = args.naive / naive_s
    print(
        f"input: {args.triples:,} triples in {meta['documents']:,} merged documents ({size:,.0f} MB); "
        f"graph: {meta['nodes']:,} nodes, {meta['edges']:,} edges"
    )
    print(
        table(
            [
                (
                    "kgc graph build (→ LadybugDB)",
                    f"{build_s:.1f}",
                    f"{build_rss:,.0f}",
                    f"{kgc_rate:,.0f}",
                    f"{meta['nodes'] / build_s:,.0f} / {meta['edges'] / build_s:,.0f}",
                ),
                *[
                    (f"kgc graph build at {label}", f"{seconds:.1f}", f"{rss:,.0f}",
                     f"{args.triples / seconds:,.0f}", "")
                    for label, seconds, rss in builds[1:]
                ],
                (
                    "kgc graph export --format neo4j",
                    f"{export_s:.1f}",
                    f"{export_rss:,.0f}",
                    f"{args.triples / export_s:,.0f}",
                    "",
                ),
                (
                    "LadybugDB's own bulk load (COPY FROM) of the same tables",
                    f"{bulk_s:.1f}",
                    "",
                    f"{args.triples / bulk_s:,.0f}",
                    "",
                ),
                (
                    f"one MERGE per triple (first {args.naive:,})",
                    f"{naive_s:.1f}",
                    "",
                    f"{naive_rate:,.0f}",
                    "",
                ),
            ],
            ("run", "seconds", "peak RSS MB", "triples/s", "nodes/s / edges/s"),
        )
    )
    print(
        f"kgc's whole build takes {build_s / bulk_s:.2f}x LadybugDB's own bulk load of the same tables, "
        f"and builds {kgc_rate / naive_rate:,.0f}x the triples per second of one MERGE per triple (build "
        f"peak RSS {build_rss:,.0f} MB; target under 1,024)"
    )
    for label, seconds, _ in builds[1:]:
        allowed = max(seconds / 5, 2 * bulk_s)
        print(
            f"against {label}: {seconds / build_s:.2f}x faster ({seconds:.1f} s → {build_s:.1f} s); "
            f"target: at most {allowed:.1f} s (the larger of a fifth of {label}'s time, {seconds / 5:.1f} s, "
            f"and twice the bulk load, {2 * bulk_s:.1f} s): {'met' if build_s <= allowed else 'not met'}"
        )
    summarize(
        "graph build",
        f"{kgc_rate:,.0f} triples/s, {build_rss:,.0f} MB peak",
        f"LadybugDB bulk load (COPY FROM) of the same tables: {args.triples / bulk_s:,.0f} triples/s",
        f"{bulk_s / build_s:.2f}x",
        f"{args.triples:,} triples; one MERGE per triple: {naive_rate:,.0f} triples/s "
        f"({kgc_rate / naive_rate:,.0f}x); export neo4j {export_s:.0f} s",
    )


if __name__ == "__main__":
    main()
