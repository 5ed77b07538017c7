"""Mention precision and recall of `kgc extract` with a perfect model, on the generated hazard documents of
`tests/grounding_docs.py` (two Chinese, two English): a local server answers every chunk from the gold, so
only chunking, merging and grounding decide. Also: whether each whole book equals its four chapters.

Usage: python bench/grounding_figures.py [TREE] [--sloppy]
  TREE: a checkout of kgc to measure (default: this one); --sloppy: the server copies some names carelessly.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import test_grounding as grounding  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402
from tests.grounding_docs import chapters  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tree", nargs="?", default=str(ROOT))
    parser.add_argument("--sloppy", action="store_true")
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = args.tree  # the kgc that tests.test_grounding.extract runs
    with FakeOpenAI(grounding.gold_answerer(args.sloppy)) as server, tempfile.TemporaryDirectory() as tmp:
        for language in ("zh", "en"):
            docs = [d for d in grounding.DOCS if d.language == language]
            files = {f"{d.name}.txt": d.text for d in docs}
            files |= {f"{d.name}-{n}.txt": text for d in docs for n, (_, text) in enumerate(chapters(d))}
            run = grounding.extract(Path(tmp) / language, files, language, docs[0].types, server)
            found = gold = right = differ = 0
            for document in docs:
                mentions = grounding.mentions(run[f"{document.name}.txt"])
                found, gold = found + len(mentions), gold + len(document.gold)
                right += len(mentions & document.gold)
                from_chapters = set()
                for number, (offset, _) in enumerate(chapters(document)):
                    chapter = grounding.mentions(run[f"{document.name}-{number}.txt"])
                    from_chapters |= {(s + offset, e + offset, t) for s, e, t in chapter}
                differ += len(from_chapters ^ mentions)
            mode = "sloppy" if args.sloppy else "exact"
            print(f"{language} {mode}: precision {right / found:.3f}, recall {right / gold:.3f} ({found} "
                  f"found, {gold} gold); book vs its chapters: {differ} mention(s) differ", flush=True)


if __name__ == "__main__":
    main()
