"""A Hugging Face hub on 127.0.0.1 (``HF_ENDPOINT``) serving one model folder as ``REPO``: the repository
info with file sizes, and each file by HEAD and GET, as ``huggingface_hub`` asks for them.

``first_byte`` is called (in the server's thread) before the first byte of any file is sent: a test uses
it to see what the client had said by then.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

REPO = "kgc-test/tiny-llama"
SHA = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, folder: Path, first_byte: Callable[[], None] = lambda: None):
        self.files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
        self.first_byte = first_byte
        self.sent_bytes = False
        self.requests: list[str] = []
        self.lock = threading.Lock()

    def tree(self) -> bytes:
        return json.dumps([{"type": "file", "path": name, "size": len(data),
                            "oid": hashlib.sha1(data).hexdigest()}  # noqa: S324 (git's blob id scheme)
                           for name, data in self.files.items()]).encode()

    def info(self) -> bytes:
        return json.dumps({"id": REPO, "modelId": REPO, "sha": SHA, "private": False, "tags": [],
                           "siblings": [{"rfilename": name, "size": len(data)}
                                        for name, data in self.files.items()]}).encode()


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def _file(self) -> tuple[str, bytes] | None:
            path = unquote(urlparse(self.path).path)
            prefix = f"/{REPO}/resolve/"
            if not path.startswith(prefix):
                return None
            name = path[len(prefix):].split("/", 1)[-1]
            return (name, hub.files[name]) if name in hub.files else None

        def _headers(self, status: int, length: int, etag: str = "") -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(length))
            self.send_header("X-Repo-Commit", SHA)
            if etag:
                self.send_header("ETag", f'"{etag}"')
            self.end_headers()

        def do_HEAD(self) -> None:  # noqa: N802
            hub.requests.append(f"HEAD {self.path}")
            found = self._file()
            if found is None:
                self._headers(404, 0)
                return
            self._headers(200, len(found[1]), hashlib.sha256(found[1]).hexdigest())

        def do_GET(self) -> None:  # noqa: N802
            hub.requests.append(f"GET {self.path}")
            if urlparse(self.path).path.startswith(f"/api/models/{REPO}"):
                body = hub.tree() if "/tree/" in self.path else hub.info()
                self._headers(200, len(body))
                self.wfile.write(body)
                return
            found = self._file()
            if found is None:
                self._headers(404, 0)
                return
            with hub.lock:
                if not hub.sent_bytes:
                    hub.first_byte()
                    hub.sent_bytes = True
            self._headers(200, len(found[1]), hashlib.sha256(found[1]).hexdigest())
            self.wfile.write(found[1])

    return Handler


@contextlib.contextmanager
def fake_hub(hub: FakeHub) -> Iterator[str]:
    """The hub's URL while it runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
