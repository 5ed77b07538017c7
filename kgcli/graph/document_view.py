"""The documents beside the graph (``kgc graph show GRAPH --documents DOCS``): each document's text with every
mention of a node at its offsets, for the page to highlight.

Neither extract's output nor the graph keeps the texts, so DOCS gives them again; the graph keeps the SHA-256
of each text as it was extracted (``documents.json``), and a text that differs is refused (its offsets would
point elsewhere). Mentions are ``[start, end, node id, type, status]``, in text order.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from kgcli.errors import KgcError, warn
from kgcli.graph import store
from kgcli.graph.export import nodes


def document_data(folder: str, docs_path: str, drawn: set[str]) -> list[dict[str, Any]]:
    """The documents of DOCS that the graph holds, each with its text and its mentions (``drawn``: the
    ids of the nodes on the page; a mention of another node is highlighted, not linked)."""
    from kgcli.documents.chunking import text_digest
    from kgcli.documents.read import read_documents
    from kgcli.io import display_name

    digests: dict[str, str] = {}
    path = os.path.join(folder, store.DIGESTS)
    if os.path.exists(path):
        with open(path, "rb") as handle:
            digests = orjson.loads(handle.read())
    texts: dict[str, str] = {}
    unchecked = 0
    for document in read_documents(docs_path):
        expected = digests.get(document.doc_id)
        if expected and text_digest(document.text) != expected:
            raise KgcError(f"document {document.doc_id!r} is not the text that was extracted (its SHA-256 "
                           "differs): its mentions' offsets would point elsewhere", display_name(docs_path))
        unchecked += expected is None
        texts[document.doc_id] = document.text
    found: dict[str, list[list[Any]]] = {doc: [] for doc in texts}
    for node in nodes(folder):
        for mention in node["mentions"]:
            doc, start = str(mention.get("doc")), mention.get("start")
            if doc in found and start is not None:
                found[doc].append([start, mention["end"], node["id"] if node["id"] in drawn else None,
                                   node["type"], mention.get("status") or "exact"])
    if not any(found.values()):
        raise KgcError("none of these documents has a mention in the graph (are they the ones extracted? "
                       "documents are matched by id, as kgc extract names them)", display_name(docs_path))
    if unchecked:
        warn(f"{unchecked} document(s) have no SHA-256 in the graph (built before kgc recorded it): their "
             "texts could not be checked")
    return [{"id": doc, "text": texts[doc], "mentions": sorted(mentions)}
            for doc, mentions in found.items() if mentions]
