"""The graph page a person reads, measured in headless Chromium over the DevTools protocol (``tests/cdp.py``):
after the layout settles no node near the border and few label boxes overlapping, zoom and pan answering real
wheel and drag events, a search that centres the node it finds, no console error, no request, and names that
stay text whatever they hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cdp import Browser
from tests.conftest import run_kgc

pytestmark = pytest.mark.slow

LAYOUT = """(() => {
  const cy = document.getElementById("graph")._cyreg.cy;
  const w = cy.width(), h = cy.height();
  const bodies = cy.nodes().map(n => n.renderedBoundingBox({includeLabels: false, includeOverlays: false}));
  const labels = cy.nodes().map(n => n.renderedBoundingBox({includeNodes: false, includeEdges: false,
                                                             includeLabels: true, includeOverlays: false}));
  let pairs = 0, overlapping = 0;
  for (let i = 0; i < labels.length; i++) for (let j = i + 1; j < labels.length; j++) {
    const a = labels[i], b = labels[j];
    pairs++;
    if (a.x1 < b.x2 && b.x1 < a.x2 && a.y1 < b.y2 && b.y1 < a.y2) overlapping++;
  }
  const box = document.getElementById("graph").getBoundingClientRect();
  return {border: Math.min(...bodies.map(b => Math.min(b.x1, b.y1, w - b.x2, h - b.y2))),
          overlap: pairs ? overlapping / pairs : 0, zoom: cy.zoom(), pan: cy.pan(), width: w, height: h,
          left: box.left, top: box.top, nodes: cy.nodes().length};
})()"""


def demo_graph(folder: Path) -> Path:
    """The demo documents' own graph (what `make demo`'s graph is with a perfect model): 26 nodes."""
    run_kgc("demo", "--data-only", "--out", "demo-data", cwd=folder, check=True)
    run_kgc("graph", "build", "demo-data/data/synthetic/documents.json", "--gold", "--out", "graph",
            cwd=folder, check=True)
    run_kgc("graph", "show", "graph", "--out", "graph.html", cwd=folder, check=True)
    return folder / "graph.html"


def big_graph(folder: Path, count: int = 280) -> Path:
    """A graph of ``count`` people, each working for one of twenty organisations: 300 nodes."""
    documents = []
    for number in range(count):
        person, company = f"Person {number:03d}", f"Company {number % 20:02d}"
        documents.append({"id": f"d{number}", "text": f"{person} works for {company}.",
                          "entity": [{"entity": person, "entity_type": "person"},
                                     {"entity": company, "entity_type": "organization"}],
                          "relation": [{"head": person, "relation": "works for", "tail": company}]})
    (folder / "big.json").write_text("".join(json.dumps(d) + "\n" for d in documents))
    run_kgc("graph", "build", "big.json", "--gold", "--out", "big", cwd=folder, check=True)
    run_kgc("graph", "show", "big", "--out", "big.html", cwd=folder, check=True)
    return folder / "big.html"


def test_the_demo_page_is_laid_out_to_be_read_and_answers_the_mouse(tmp_path):
    page = demo_graph(tmp_path)
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        layout = browser.evaluate(LAYOUT)
        assert layout["nodes"] == 26
        assert layout["border"] >= 5  # no node clamped to the border
        assert layout["overlap"] <= 0.05, layout  # label boxes of at most 5% of node pairs overlap
        # the mouse: a wheel turn over the drawing zooms, a drag on its empty corner pans
        centre = (layout["left"] + layout["width"] / 2, layout["top"] + layout["height"] / 2)
        for _ in range(3):
            browser.wheel(*centre, -400)
        zoomed = browser.evaluate(LAYOUT)
        assert zoomed["zoom"] > layout["zoom"] * 1.05
        corner = (layout["left"] + 6, layout["top"] + 6)
        browser.drag(corner, (corner[0] + 120, corner[1] + 60))
        panned = browser.evaluate(LAYOUT)
        assert abs(panned["pan"]["x"] - zoomed["pan"]["x"] - 120) < 2
        assert abs(panned["pan"]["y"] - zoomed["pan"]["y"] - 60) < 2
        # search: typing a name selects its node and centres it
        browser.evaluate("document.getElementById('search').focus()")
        name = browser.evaluate("document.querySelector('#drawn li.node').textContent.split(' (')[0]")
        browser.send("Input.insertText", {"text": name})
        found = browser.evaluate("""(() => {
          const cy = document.getElementById("graph")._cyreg.cy, n = cy.$("node:selected");
          const box = n.renderedBoundingBox({includeLabels: true, includeOverlays: false});
          return {count: n.length, box: box, w: cy.width(), h: cy.height()};
        })()""")
        box = found["box"]  # the node and its label, centred in the view
        assert found["count"] == 1
        assert abs((box["x1"] + box["x2"]) / 2 - found["w"] / 2) < 2
        assert abs((box["y1"] + box["y2"]) / 2 - found["h"] / 2) < 2
        assert browser.evaluate("document.getElementById('panel').textContent").startswith(name)
        assert browser.errors() == [] and browser.requests() == []
        browser.screenshot(tmp_path / "graph-page.png")
        assert (tmp_path / "graph-page.png").stat().st_size > 10_000


def test_a_300_node_page_fits_the_view(tmp_path):
    page = big_graph(tmp_path)
    with Browser(tmp_path / "profile") as browser:
        browser.open(page.as_uri())
        layout = browser.evaluate(LAYOUT)
        assert layout["nodes"] == 300
        assert layout["border"] >= 5
        assert browser.errors() == [] and browser.requests() == []


HOSTILE = ["</script><script>window.pwned=1</script>", "<!--", "<img src=x onerror=\"window.pwned=2\">",
           "quote \" and ' and \\ backslash", "line\nbreak", "bell\u0007 and nul-ish \u0001"]


def test_names_and_sentences_stay_text_and_run_nothing(tmp_path):
    text = " ".join(f"[{name}]" for name in HOSTILE) + " all met."
    documents = [{"id": "hostile", "text": text,
                  "entity": [{"entity": f"[{name}]", "entity_type": "person"} for name in HOSTILE],
                  "relation": [{"head": f"[{HOSTILE[0]}]", "relation": "met <b>",
                                "tail": f"[{HOSTILE[2]}]"}]}]
    (tmp_path / "docs.json").write_text("".join(json.dumps(d) + "\n" for d in documents))
    run_kgc("graph", "build", "docs.json", "--gold", "--out", "g", cwd=tmp_path, check=True)
    run_kgc("graph", "show", "g", "--out", "page.html", cwd=tmp_path, check=True)
    with Browser(tmp_path / "profile") as browser:
        browser.open((tmp_path / "page.html").as_uri())
        listed = browser.evaluate(
            "[...document.querySelectorAll('#drawn li.node')].map(li => li.textContent)")
        assert browser.evaluate("document.body.getAttribute('data-rendered')") == str(len(HOSTILE))
        for name in HOSTILE:
            assert f"[{name}] (person)" in listed, name
        assert browser.evaluate("[window.pwned, document.querySelectorAll('img, b').length]") == [None, 0]
        assert browser.errors() == [] and browser.requests() == []


MARKS = """(() => [...document.querySelectorAll('#documents .block')].flatMap(block =>
  [...block.querySelectorAll('mark')].map(m => [block.getAttribute('data-doc'), +m.getAttribute('data-start'),
                                                  +m.getAttribute('data-end'), m.textContent])))()"""


def all_marks(browser: Browser) -> set[tuple]:
    """Every mark the document pane draws, scrolled through from top to bottom."""
    found: set[tuple] = set()
    height = browser.evaluate("document.getElementById('documents').scrollHeight")
    for top in range(0, height + 1, 200):
        browser.evaluate(f"document.getElementById('documents').scrollTop = {top}")
        browser.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
        found |= {tuple(mark) for mark in browser.evaluate(MARKS)}
    return found


def test_the_document_view_highlights_every_mention_and_links_it_to_its_node(tmp_path):
    from tests.fake_openai import FakeOpenAI
    from tests.resolution_docs import DOCS, EN_TYPES, ZH_TYPES, answer_chunk
    from tests.test_api_route import instruction_of

    (tmp_path / "docs").mkdir()
    for doc in DOCS:
        (tmp_path / "docs" / f"{doc.name}.txt").write_text(doc.text, encoding="utf-8")
    (tmp_path / "ner.json").write_text(json.dumps(ZH_TYPES + EN_TYPES, ensure_ascii=False) + "\n[]\n{}\n",
                                       encoding="utf-8")
    with FakeOpenAI(lambda body: answer_chunk(instruction_of(body))) as server:
        run_kgc("extract", "docs", "out.json", "--backend", "openai", "--api-base", server.url,
                "--served-model", "m", "--task", "NER", "--schema", "ner.json", cwd=tmp_path, check=True)
    run_kgc("graph", "build", "out.json", "--out", "g", cwd=tmp_path, check=True)
    run_kgc("graph", "show", "g", "--out", "page.html", "--documents", "docs", cwd=tmp_path, check=True)
    extracted = [json.loads(line) for line in (tmp_path / "out.json").read_text().splitlines()]
    texts = {doc["doc_id"]: (tmp_path / "docs" / doc["doc_id"]).read_text(encoding="utf-8")
             for doc in extracted}
    wanted = {(doc["doc_id"], m["start"], m["end"]) for doc in extracted for e in doc["entities"]
              for m in e["mentions"]}
    assert any("\u4e00" <= c <= "\u9fff" for d, _, _ in wanted for c in texts[d]) and len(wanted) > 50
    with Browser(tmp_path / "profile") as browser:
        browser.open((tmp_path / "page.html").as_uri())
        marks = all_marks(browser)
        assert {(d, s, e) for d, s, e, _ in marks} == wanted  # every mention, at its offsets, and no other
        assert all(text == texts[d][s:e] for d, s, e, text in marks)
        # a click on a mention selects the node it is a mention of
        doc, start, end = sorted(wanted)[0]
        browser.evaluate("document.getElementById('documents').scrollTop = 0")
        box = browser.evaluate(f"""(() => {{ const r = document.querySelector(
            '.block[data-doc="{doc}"] mark[data-start="{start}"]').getBoundingClientRect();
            return [r.left + r.width / 2, r.top + r.height / 2]; }})()""")
        browser.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": box[0], "y": box[1],
                                                  "button": "left", "buttons": 1, "clickCount": 1})
        browser.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": box[0], "y": box[1],
                                                  "button": "left", "buttons": 0, "clickCount": 1})
        selected = browser.evaluate("document.getElementById('graph')._cyreg.cy.$('node:selected').id()")
        owner = [n["id"] for n in map(json.loads, (tmp_path / "g" / "nodes.jsonl").read_text().splitlines())
                 if any((m["doc"], m["start"], m["end"]) == (doc, start, end) for m in n["mentions"])]
        assert [selected] == owner
        assert browser.errors() == [] and browser.requests() == []
    # a text that changed since it was extracted is refused
    (tmp_path / "docs" / "en1.txt").write_text(texts["en1.txt"].replace("Gdansk", "Gdańsk"), encoding="utf-8")
    refused = run_kgc("graph", "show", "g", "--out", "again.html", "--documents", "docs", cwd=tmp_path)
    assert refused.returncode == 2 and not (tmp_path / "again.html").exists()
    assert refused.stderr_text == ("kgc: error: docs: document 'en1.txt' is not the text that was extracted "
                                   "(its SHA-256 differs): its mentions' offsets would point elsewhere\n")


def test_a_300_page_book_keeps_a_few_thousand_marks_at_most(tmp_path):
    """A book of 600,000 characters with 30,000 mentions: the pane draws the marks near the view only."""
    from kgcli.documents.chunking import text_digest

    sentence = "Ana Lopez met Bo Chen in Lisbon at noon. "
    text = sentence * 15000
    mentions = {name: [] for name in ("Ana Lopez", "Bo Chen")}
    for at in range(0, len(text), len(sentence)):
        mentions["Ana Lopez"].append({"chunk": 0, "start": at, "end": at + 9, "record": "r",
                                      "context": sentence, "status": "exact"})
        mentions["Bo Chen"].append({"chunk": 0, "start": at + 14, "end": at + 21, "record": "r",
                                    "context": sentence, "status": "exact"})
    document = {"doc_id": "book.txt", "doc_sha256": text_digest(text), "chunks": 1, "unparsed_answers": 0,
                "entities": [{"task": "NER", "text": name, "type": "person", "grounded": True,
                              "mentions": found, "records": ["r"]} for name, found in mentions.items()],
                "relations": [], "events": [], "arguments": [], "attributes": []}
    (tmp_path / "out.json").write_text(json.dumps(document) + "\n")
    (tmp_path / "book.txt").write_text(text)
    run_kgc("graph", "build", "out.json", "--out", "g", cwd=tmp_path, check=True)
    run_kgc("graph", "show", "g", "--out", "page.html", "--documents", "book.txt", cwd=tmp_path, check=True)
    with Browser(tmp_path / "profile") as browser:
        browser.open((tmp_path / "page.html").as_uri())
        counts = []
        for share in (0, 0.5, 1):
            browser.evaluate(
                f"(p => p.scrollTop = p.scrollHeight * {share})(document.getElementById('documents'))")
            browser.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
            counts.append(browser.evaluate("document.querySelectorAll('#documents mark').length"))
        assert all(0 < count <= 2500 for count in counts), counts
        assert browser.errors() == []
