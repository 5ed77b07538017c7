"""A local OpenAI-compatible server for tests that put kgc's own logic under test, not a model's: it answers
``/v1/models``, ``/v1/completions`` and ``/v1/chat/completions`` on 127.0.0.1 with what ``answer`` says
for each request (a text, or ``(status, message)`` for an error), and keeps every request (path, headers,
body) so a test can check what kgc sent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # when it came

    def raw(self) -> str:
        """Everything the request carried, as one text (to search for a secret)."""
        return json.dumps({"path": self.path, "headers": self.headers, "body": self.body}, ensure_ascii=False)


def prompt_of(body: dict[str, Any]) -> str:
    """The prompt text of a completions request, or the last user message of a chat request."""
    if "prompt" in body:
        return body["prompt"] if isinstance(body["prompt"], str) else json.dumps(body["prompt"])
    return next((m["content"] for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")


class FakeOpenAI:
    def __init__(self, answer: Callable[[dict[str, Any]], str | tuple[int, str]] = lambda body: "{}",
                 model: str = "m", chat_only: bool = False, refuse_format: bool = False):
        """``chat_only``: /v1/completions answers 404, as a chat-only service does; ``refuse_format``: a
        chat request with ``response_format`` answers 400, as a server without structured output does."""
        self.answer, self.model, self.seen, self.lock = answer, model, [], threading.Lock()
        self.chat_only, self.refuse_format = chat_only, refuse_format
        self.retry_after = 2  # seconds, on a 429 or 503
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, payload: dict[str, Any], status: int = 200) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                if status in (429, 503):
                    self.send_header("Retry-After", str(server.retry_after))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self, body: dict[str, Any]) -> None:
                with server.lock:
                    server.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body))

            def do_GET(self) -> None:
                self._record({})
                self._send({"object": "list", "data": [{"id": server.model, "object": "model", "created": 0,
                                                         "owned_by": "test"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                self._record(body)
                chat = self.path.endswith("/chat/completions")
                if not self.path.endswith("/completions"):  # /tokenize and the like: not this server's
                    self._send({"error": {"message": "not found"}}, 404)
                    return
                if server.chat_only and not chat:
                    self._send({"error": {"message": "this service has chat completions only",
                                          "type": "invalid_request_error", "code": 404}}, 404)
                    return
                if server.refuse_format and "response_format" in body:
                    self._send({"error": {"message": "response_format is not supported by this server",
                                          "type": "invalid_request_error", "code": 400}}, 400)
                    return
                text = server.answer(body)
                if isinstance(text, tuple):
                    status, message = text
                    self._send({"error": {"message": message, "type": "error", "code": status}}, status)
                    return
                usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
                if self.path.endswith("/chat/completions"):
                    self._send({"id": "c", "object": "chat.completion", "created": 0, "model": server.model,
                                "choices": [{"index": 0, "finish_reason": "stop",
                                             "message": {"role": "assistant", "content": text}}],
                                "usage": usage})
                elif self.path.endswith("/completions"):
                    self._send({"id": "c", "object": "text_completion", "created": 0, "model": server.model,
                                "choices": [{"index": 0, "text": text, "finish_reason": "stop",
                                             "logprobs": None}], "usage": usage})
                else:
                    self._send({"error": {"message": "not found"}}, 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def everything(self) -> str:
        with self.lock:
            return "\n".join(s.raw() for s in self.seen)

    def authorizations(self) -> list[str]:
        with self.lock:
            return [s.headers.get("authorization", "") for s in self.seen]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
