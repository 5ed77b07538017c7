"""An OpenAI-compatible server that answers every chunk from annotated documents' own gold: a perfect model
with no weights, to try the API route end to end (the README's block) and to time it (``bench/``).

Usage: python -m kgcli.demo.answer_server GOLD.jsonl [--port 8765] [--latency 0.3] [--model gold]
                                                 [--background PIDFILE]

GOLD.jsonl: annotated documents (``text``, ``entity`` [{entity, entity_type}], ``relation`` [{head, relation,
tail}]). A chat (or text) request whose user message is an IEPile instruction (JSON with ``schema`` and
``input``) is answered with the gold names inside the input: NER when the schema lists entity types, RE
when it lists relations. A ``kgc schema suggest`` prompt is answered with the types and relations of the gold
inside its text, each with a definition and an example. Any other request (another tool's prompt) gets
``{"extractions": []}``. Each answer
waits ``--latency`` seconds first, as a remote model would; ``GET /stats`` says how many were answered.
``--background PIDFILE``: listen, then serve from a child process and return (its pid in PIDFILE), so a
script can go on at once. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def load_gold(path: str) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    entities, relations = set(), set()
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                entities |= {(e["entity"], e["entity_type"]) for e in record.get("entity") or []}
                relations |= {(r["head"], r["relation"], r["tail"]) for r in record.get("relation") or []}
    return sorted(entities), sorted(relations)


def suggestion(text: str, entities: list, relations: list) -> dict[str, list[dict[str, Any]]]:
    """A schema-suggestion answer from the gold inside ``text``: its entity types (each with a name of the
    text as example) and its relations (with their ends' types)."""
    kinds = dict(entities)
    types: dict[str, str] = {}
    for name, kind in entities:
        if name in text:
            types.setdefault(kind, name)
    found: dict[str, dict[str, Any]] = {}
    sentences = re.split(r"(?<=[。！？.!?])", text)
    for head, relation, tail in relations:
        if head in text and tail in text and head in kinds and tail in kinds:
            sentence = next((s.strip() for s in sentences if head in s and tail in s), "")
            found.setdefault(relation, {"name": relation, "definition": f"{kinds[head]} {relation} "
                                        f"{kinds[tail]}", "example": sentence, "head": kinds[head],
                                        "tail": kinds[tail], "aliases": []})
    return {"entity_types": [{"name": kind, "definition": f"{kind}: one named in the text", "example": name,
                              "aliases": []} for kind, name in sorted(types.items())],
            "relations": [found[r] for r in sorted(found)]}


def answer(content: str, entities: list, relations: list) -> str:
    from kgcli.schema_tools.prompts import prompt_text

    text = prompt_text(content)
    if text is not None:
        return json.dumps(suggestion(text, entities, relations), ensure_ascii=False)
    try:
        instruction = json.loads(content)
        schema, text = instruction["schema"], instruction["input"]
    except (ValueError, KeyError, TypeError):
        return json.dumps({"extractions": []})
    if set(schema) <= {kind for _, kind in entities}:
        found: dict[str, list] = {kind: [] for kind in schema}
        for name, kind in entities:
            if kind in found and name in text and name not in found[kind]:
                found[kind].append(name)
    else:
        found = {relation: [] for relation in schema}
        for head, relation, tail in relations:
            if relation in found and head in text and tail in text:
                found[relation].append({"subject": head, "object": tail})
    return json.dumps(found, ensure_ascii=False)


def server(gold: str, port: int, latency: float, model: str) -> ThreadingHTTPServer:
    entities, relations = load_gold(gold)
    answered = [0]  # completions answered, for GET /stats (the bench counts a run's requests)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, payload: dict, status: int = 200) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.endswith("/stats"):
                self._send({"requests": answered[0]})
                return
            self._send({"object": "list", "data": [{"id": model, "object": "model", "owned_by": "kgc"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if not self.path.endswith("/completions"):
                self._send({"error": {"message": "not found"}}, 404)
                return
            chat = self.path.endswith("/chat/completions")
            content = body["messages"][-1]["content"] if chat else body.get("prompt", "")
            time.sleep(latency)
            answered[0] += 1
            text = answer(content if isinstance(content, str) else "", entities, relations)
            usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            choice = ({"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                      if chat else {"index": 0, "text": text, "finish_reason": "stop", "logprobs": None})
            self._send({"id": "gold", "object": "chat.completion" if chat else "text_completion",
                        "created": 0, "model": model, "choices": [choice], "usage": usage})

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--model", default="gold")
    parser.add_argument("--background", metavar="PIDFILE")
    args = parser.parse_args()
    httpd = server(args.gold, args.port, args.latency, args.model)  # listening from here on
    if args.background:
        pid = os.fork()
        if pid:
            with open(args.background, "w") as handle:
                handle.write(f"{pid}\n")
            print(f"answering at http://127.0.0.1:{args.port}/v1 (pid {pid})")
            os._exit(0)
        os.setsid()
        sys.stdout = sys.stderr = open(os.devnull, "w")
    else:
        print(f"answering at http://127.0.0.1:{args.port}/v1", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
