"""``kgc graph show``: a GRAPH folder → one self-contained HTML page, or a PNG picture of a small graph.

The page carries its data, Cytoscape.js (vendored in ``kgcli/data/vendor``, see its README) and its own
script inline, and loads nothing (it opens with no network): a force layout fitted to the view, zoom, pan
and drag, a fit button, a search that centres the node it finds, nodes coloured by type (each type keeps
its colour in every graph) with a legend, edge labels shown on hover and selection where the graph is
crowded, ungrounded elements dashed and merged nodes ringed, and a side panel beside the drawing that lists
a clicked node's or edge's mentions with the sentence around each. Big graphs keep the ``max_nodes`` nodes
with the most links, then the most mentions (the page says what it left out). Names reach the page as JSON
data and are set as canvas labels or with ``textContent``, never as markup.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from typing import Any

from kgcli.graph import store
from kgcli.graph.export import edges, nodes
from kgcli.outputs import atomic_file

MENTIONS_SHOWN = 20


# Distinct colours (Tableau 10, Tableau 20's light tones, a few more), chosen by a digest of the type
PALETTE = [
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
    "#bab0ac", "#a0cbe8", "#ffbe7d", "#8cd17d", "#b6992d", "#86bcb6", "#d37295", "#fabfd2", "#d4a6c8",
    "#499894", "#79706e", "#1f77b4", "#d62728", "#9467bd", "#8c564b",
]


def colour(node_type: str) -> str:
    """A type's own colour: chosen by a digest of its name, so the same type has the same colour in every
    graph (the picture and the page alike)."""
    digest = hashlib.blake2b(node_type.encode("utf-8"), digest_size=4).digest()
    return PALETTE[int.from_bytes(digest, "big") % len(PALETTE)]


def colours(types: list[str]) -> dict[str, str]:
    """Each type's colour; where two types of one graph would share one, the later (in code-point order)
    takes the next free colour."""
    found: dict[str, str] = {}
    for node_type in sorted(set(types)):
        start = PALETTE.index(colour(node_type))
        taken = set(found.values())
        free = [PALETTE[(start + i) % len(PALETTE)] for i in range(len(PALETTE))
                if PALETTE[(start + i) % len(PALETTE)] not in taken]
        found[node_type] = free[0] if free else colour(node_type)
    return found


def _mentions(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: m.get(k) for k in ("doc", "start", "end", "text", "context", "status")}
            for m in items[:MENTIONS_SHOWN]]


def view_data(folder: str, max_nodes: int) -> dict[str, Any]:
    """The nodes and edges the page draws: the ``max_nodes`` nodes with the most links (then the most
    mentions) and the edges between them."""
    meta = store.read_meta(folder)
    degree: dict[str, int] = {}
    for edge in edges(folder):
        for end in (edge["head"], edge["tail"]):
            degree[end] = degree.get(end, 0) + 1
    kept = sorted(nodes(folder), key=lambda n: (-degree.get(n["id"], 0), -n["count"], n["id"]))[:max_nodes]
    ids = {n["id"] for n in kept}
    drawn_nodes = [
        {
            "id": n["id"],
            "name": n["name"],
            "type": n["type"],
            "kind": n["kind"],
            "count": n["count"],
            "grounded": n["grounded"],
            "properties": n["properties"],
            "merged": [{k: m.get(k) for k in ("name", "type", "by")} for m in n.get("merged_from") or []],
            "mentions": _mentions(n["mentions"]),
        }
        for n in sorted(kept, key=lambda n: n["id"])
    ]
    drawn_edges = [
        {
            "id": e["id"],
            "source": e["head"],
            "target": e["tail"],
            "relation": e["relation"],
            "count": e["count"],
            "grounded": e["grounded"],
            "mentions": _mentions(e["mentions"]),
        }
        for e in edges(folder)
        if e["head"] in ids and e["tail"] in ids
    ]
    return {
        "nodes": drawn_nodes,
        "edges": drawn_edges,
        "total_nodes": meta["nodes"],
        "total_edges": meta["edges"],
        "left_out": (f"the {meta['nodes'] - len(drawn_nodes)} with the fewest links and mentions left out"
                     if meta["nodes"] > len(drawn_nodes) else ""),
        "colours": colours([n["type"] for n in drawn_nodes]),
    }


DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
PAGE = os.path.join(DATA, "graph_view.html")
LIBRARY = os.path.join(DATA, "vendor", "cytoscape.min.js")


def render_html(data: dict[str, Any], title: str) -> str:
    """The page template (``kgcli/data/graph_view.html``) with the title and the data filled in.

    Every ``<``, ``>`` and ``&`` of the inline JSON is written as its ``\\u`` escape, so no string in the
    data (a name, a sentence, a type, a document id) can end the data element or open a comment or a
    script inside it; the page's own script and style are allowed by their SHA-256 in the CSP, not by
    ``'unsafe-inline'``."""
    with open(PAGE, encoding="utf-8") as handle:
        page = handle.read()
    with open(LIBRARY, encoding="utf-8") as handle:
        library = handle.read()
    assert "</script" not in library.lower()
    page = page.replace("__LIBRARY__", library)
    payload = json.dumps(data, ensure_ascii=False).translate(_INLINE_ESCAPES)
    values = {
        "__TITLE__": _escape(title),
        "__DATA__": payload,
        "__SCRIPT_HASH__": _csp_hash(page, r"<script>(.*?)</script>"),
        "__STYLE_HASH__": _csp_hash(page, r"<style[^>]*>(.*?)</style>"),
    }
    return re.sub("|".join(values), lambda m: values[m.group()], page)  # one pass: no value is re-read


_INLINE_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def _csp_hash(page: str, element: str) -> str:
    """The CSP source list that allows every such element of the page by its SHA-256."""
    found = re.findall(element, page, re.S)
    assert found, element
    return " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(text.encode('utf-8')).digest()).decode()}'"
                    for text in found)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def write_html(folder: str, out: str, max_nodes: int = 300, documents: str | None = None) -> dict[str, Any]:
    """The page; ``documents``: DOCS, whose texts are shown with their mentions (``document_view``)."""
    from kgcli.outputs import write_text_atomic

    data = view_data(folder, max_nodes)
    if documents:
        from kgcli.graph.document_view import document_data

        data["documents"] = document_data(folder, documents, {n["id"] for n in data["nodes"]})
    write_text_atomic(out, render_html(data, os.path.basename(os.path.abspath(folder))))
    return data


def cjk_font() -> str | None:
    """A font family with Chinese glyphs, if the machine has one (matplotlib's default has none). The font
    cache may predate the font's install, so the system's font files are searched too."""
    from matplotlib import font_manager

    wanted = (
        "Noto Sans CJK",
        "Noto Serif CJK",
        "WenQuanYi",
        "Source Han Sans",
        "Droid Sans Fallback",
        "AR PL",
        "SimHei",
        "Microsoft YaHei",
        "PingFang",
        "Heiti",
    )
    for font in font_manager.fontManager.ttflist:
        if font.name.startswith(wanted):
            return font.name
    files = ("wqy", "notosanscjk", "notoserifcjk", "sourcehansans", "droidsansfallback", "uming", "ukai")
    for path in sorted(font_manager.findSystemFonts()):
        if any(part in os.path.basename(path).lower().replace("-", "") for part in files):
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError):
                continue
    return None


def write_png(folder: str, out: str, max_nodes: int = 60) -> dict[str, Any]:
    """A static picture (matplotlib): the ``max_nodes`` most mentioned nodes, spring layout, fixed seed."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    warnings.filterwarnings("ignore", message="Glyph .* missing from font")  # said once, below
    import matplotlib.pyplot as plt
    import networkx

    from kgcli.errors import warn

    data = view_data(folder, max_nodes)
    font = cjk_font()
    names = [n["name"] for n in data["nodes"]] + [e["relation"] for e in data["edges"]]
    if font is None and any(ord(c) > 0x2E80 for name in names for c in name):
        warn(
            "no font with Chinese glyphs on this machine: labels will show as boxes (install one, e.g. "
            "Debian's fonts-wqy-microhei)"
        )
    graph = networkx.MultiDiGraph()
    for node in data["nodes"]:
        graph.add_node(node["id"])
    for edge in data["edges"]:
        graph.add_edge(edge["source"], edge["target"], key=edge["id"])
    layout = networkx.spring_layout(graph, seed=7, k=1.6 / max(1, len(graph)) ** 0.5)
    figure, axes = plt.subplots(figsize=(10, 7), dpi=120)
    family = {"fontfamily": font} if font else {}
    for grounded, style in ((True, "solid"), (False, "dashed")):  # strings not in their text: dashed
        networkx.draw_networkx_edges(
            graph, layout, ax=axes, edge_color="#999999", arrows=True, arrowsize=10, node_size=500,
            style=style,
            edgelist=[(e["source"], e["target"], e["id"]) for e in data["edges"]
                      if e["grounded"] is grounded],
        )
    for grounded, style in ((True, "solid"), (False, "dashed")):
        drawn = [n for n in data["nodes"] if n["grounded"] is grounded]
        networkx.draw_networkx_nodes(graph, layout, ax=axes, nodelist=[n["id"] for n in drawn], node_size=500,
                                     node_color=[data["colours"][n["type"]] for n in drawn],
                                     edgecolors="#444444" if not grounded else None,
                                     linewidths=1.5 if not grounded else None, node_shape="o")
        if not grounded and drawn:
            axes.collections[-1].set_linestyle(style)
    networkx.draw_networkx_labels(
        graph,
        layout,
        {n["id"]: n["name"] for n in data["nodes"]},
        ax=axes,
        font_size=9,
        **({"font_family": font} if font else {}),
    )
    labels: dict[tuple[str, str], str] = {}
    for edge in data["edges"]:
        pair = (edge["source"], edge["target"])
        labels[pair] = f"{labels[pair]}, {edge['relation']}" if pair in labels else edge["relation"]
    networkx.draw_networkx_edge_labels(
        graph, layout, labels, ax=axes, font_size=8, **({"font_family": font} if font else {})
    )
    handles = [
        plt.Line2D([], [], marker="o", linestyle="", color=c, label=t) for t, c in data["colours"].items()
    ]
    axes.legend(handles=handles, loc="upper left", fontsize=8, prop={"family": font} if font else None)
    shown = (
        f"{len(data['nodes'])} of {data['total_nodes']} nodes"
        if len(data["nodes"]) < data["total_nodes"]
        else f"{data['total_nodes']} nodes"
    )
    axes.set_title(
        f"{os.path.basename(os.path.abspath(folder))}: {shown}, {len(data['edges'])} edges", **family
    )
    axes.axis("off")
    figure.tight_layout()
    try:
        with atomic_file(out) as handle:
            figure.savefig(handle, format="png")
    finally:
        plt.close(figure)
    return data
