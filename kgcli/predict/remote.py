"""Prediction through a model behind an API, with no model files here: each record's instruction goes as the
user message of a chat request (``--prompt-format chat``, the default without a preset) or as a plain text
prompt (``text``), to any OpenAI-compatible server (``--backend openai``, the ``openai`` client) or any
provider litellm knows (``--backend litellm``, ``kgc icl``'s client: one home for keys, retries and
scrubbing). No torch, no transformers: this route imports neither.

``--structured`` sends each request its answer's JSON schema (built by the task from the instruction's
schema, as ``--guided-json`` does) as ``response_format: {type: json_schema, strict: true}``; a server that
refuses it is asked without, after one warning. An answer the token limit cut is closed after its last
complete item, as ``--guided-json``'s are.

Records are answered ``concurrency`` at a time, written in input order as they finish, OUT flushed window
by window: ``--resume`` continues after the last complete line, as ``kgc predict`` does.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from kgcli.errors import KgcError, say, warn
from kgcli.icl.client import RETRY_STATUS, retry_after, retry_delay
from kgcli.io import display_name, read_jsonl, spool_stdin
from kgcli.outputs import Output, check_output
from kgcli.predict.base import Sampling, windows
from kgcli.predict.closing import closed_if_cut
from kgcli.progress import progress
from kgcli.records import INSTRUCTION, answered_line, check_records
from kgcli.secrets import key_for, scrub, secrets_in_environment

PROMPT_FORMATS = ("chat", "text")
REMOTE_BACKENDS = ("openai", "litellm")
DEFAULT_NEW_TOKENS = 512  # an answer's token limit without a preset, unless --max-new-tokens says


def remote_model(backend: str, preset: Any, model: Any, *, served_model: str | None = None,
                 api_base: str | None = None, api_key_env: str | None = None, concurrency: int = 4,
                 prompt_format: str | None = None, structured: bool = False, retries: int | None = None
                 ) -> RemoteModel | None:
    """The model behind an API when that is the route (``--backend litellm``, or ``openai`` with neither
    ``--preset`` nor ``--model``), checked; None for a local preset's route (where ``--structured`` and
    ``--prompt-format chat`` do not apply)."""
    if backend == "litellm" or (backend == "openai" and preset is None and model is None):
        found = RemoteModel(backend, served_model or "", api_base, api_key_env, concurrency,
                            (prompt_format or "chat").lower(), structured,
                            4 if retries is None else retries)
        found.check()
        return found
    if structured:
        raise KgcError("--structured is for a model behind an API without --preset (with a preset: "
                       "--backend vllm --guided-json)")
    if prompt_format == "chat":
        raise KgcError("--prompt-format chat sends the bare instruction: leave --preset out (with a preset "
                       "the prompt is its template's: text or ids)")
    return None


@dataclass(frozen=True)
class RemoteModel:
    """A model behind an API, as the user named it."""

    backend: str  # openai or litellm
    served_model: str  # what the server calls it (litellm: PROVIDER/MODEL)
    api_base: str | None = None
    api_key_env: str | None = None
    concurrency: int = 4
    prompt_format: str = "chat"
    structured: bool = False
    max_retries: int = 4

    def check(self) -> None:
        if self.backend not in REMOTE_BACKENDS:
            raise KgcError(f"a model behind an API takes --backend {' or '.join(REMOTE_BACKENDS)}")
        if not self.served_model:
            raise KgcError(f"--backend {self.backend} needs --served-model NAME (what the server calls the "
                           "model" + ("; litellm: PROVIDER/MODEL, e.g. anthropic/claude-3-5-haiku-latest)"
                                      if self.backend == "litellm" else ")"))
        if self.backend == "openai" and not self.api_base:
            raise KgcError("--backend openai needs --api-base URL (https://api.openai.com/v1 for OpenAI)")
        if self.prompt_format not in PROMPT_FORMATS:
            raise KgcError("--prompt-format ids needs the model's tokenizer and template: give --preset "
                           "(without one: chat or text)")
        if self.backend == "litellm" and self.prompt_format != "chat":
            raise KgcError("--backend litellm speaks chat only (--prompt-format chat)")

    def response_format(self, schema: dict | None) -> dict | None:
        if not (self.structured and schema):
            return None
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}


BODY_LIMIT = 64 << 20  # bytes of one response read at most: a server cannot fill this machine's memory


class ServerError(Exception):
    """An HTTP error status with the server's own message."""

    def __init__(self, status: int, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status_code, self.message, self.retry_after = status, message, retry_after


def _refuses_format(exc: Exception) -> bool:
    """Whether a server's error says it does not take ``response_format`` (or a JSON schema in it)."""
    status = getattr(exc, "status_code", None)
    message = str(exc).lower()
    return status in (400, 404, 422, 500, 501) and any(
        word in message for word in ("response_format", "json_schema", "structured", "guided", "json"))


class OpenAIClient:
    """Any OpenAI-compatible server over plain httpx (the ``openai`` package takes a second to import, this
    route starts in a fraction of one): chat or text completions, retries with backoff that honour
    ``Retry-After``, responses read up to ``BODY_LIMIT``, the key from the environment only."""

    def __init__(self, model: RemoteModel):
        import httpx

        self.model = model
        self.secrets = secrets_in_environment(model.api_key_env)
        key = key_for(model.api_base, model.api_key_env, "openai", "OPENAI_API_KEY")
        self.base = str(model.api_base).rstrip("/")
        self.http = httpx.Client(timeout=httpx.Timeout(600.0, connect=10.0),
                                 headers={"Authorization": f"Bearer {key or 'EMPTY'}"})
        self.refused = threading.Event()
        self.stopped = threading.Event()
        self._check_server()

    def _request(self, method: str, path: str, body: dict | None = None, retries: int = 0) -> dict:
        import httpx

        attempt = 0
        while True:
            try:
                with self.http.stream(method, f"{self.base}/{path}", json=body) as response:
                    data = bytearray()
                    for chunk in response.iter_bytes():
                        data += chunk
                        if len(data) > BODY_LIMIT:
                            raise KgcError(f"the server's answer is over {BODY_LIMIT:,} bytes: does it "
                                           "honour max_tokens?")
                    status, headers = response.status_code, response.headers
            except httpx.TransportError as exc:
                if attempt < retries and not self.stopped.is_set():
                    self.stopped.wait(retry_delay(attempt, None))
                    attempt += 1
                    continue
                if isinstance(exc, httpx.TimeoutException):
                    raise KgcError(f"the server at {self.base} did not answer in time") from None
                raise KgcError(f"cannot reach the server at {self.base} (is it running?)") from None
            if status < 400:
                try:
                    return json.loads(data)
                except ValueError:
                    raise KgcError("the server's answer is not JSON (not an OpenAI-compatible server?)"
                                   ) from None
            error = ServerError(status, self._message(bytes(data)), retry_after(headers))
            if status in RETRY_STATUS and attempt < retries and not self.stopped.is_set():
                self.stopped.wait(retry_delay(attempt, error.retry_after))
                attempt += 1
                continue
            raise error

    @staticmethod
    def _message(data: bytes) -> str:
        try:
            found = json.loads(data)
            error = found.get("error", found) if isinstance(found, dict) else found
            text = error.get("message", error) if isinstance(error, dict) else error
        except ValueError:
            text = data.decode("utf-8", "replace")
        return " ".join(str(text).split())[:200]

    def _error(self, exc: ServerError) -> KgcError:
        text = f"the server answered HTTP {exc.status_code}: {exc.message}"
        if exc.status_code in (404, 405) and self.model.prompt_format == "text":
            text += " (a chat-only server? --prompt-format chat)"
        return KgcError(scrub(text, self.secrets))

    def _check_server(self) -> None:
        """The server is there, and serves the model asked for (else the names it serves are listed)."""
        try:
            found = self._request("GET", "models")
        except ServerError as exc:
            if exc.status_code == 404:
                return
            raise self._error(exc) from None
        served = [m.get("id") for m in found.get("data") or [] if isinstance(m, dict)]
        if served and self.model.served_model not in served:
            listed = ", ".join(map(str, served[:20])) + (", …" if len(served) > 20 else "")
            raise KgcError(scrub(f"--served-model {self.model.served_model}: the server serves {listed}",
                                 self.secrets))

    def answer(self, instruction: str, schema: dict | None, sampling: Sampling) -> str:
        body: dict[str, Any] = {"model": self.model.served_model, "max_tokens": sampling.max_new_tokens,
                                "temperature": sampling.temperature}
        if sampling.temperature > 0:
            body["top_p"] = sampling.top_p
            if sampling.seed is not None:
                body["seed"] = sampling.seed
        wanted = None if self.refused.is_set() else self.model.response_format(schema)
        if wanted:
            body["response_format"] = wanted
        chat = self.model.prompt_format == "chat"
        if chat:
            body["messages"] = [{"role": "user", "content": instruction}]
        else:
            body["prompt"] = instruction
        try:
            found = self._request("POST", "chat/completions" if chat else "completions", body,
                                  self.model.max_retries)
        except ServerError as exc:
            if wanted and _refuses_format(exc):
                self._refused()
                return self.answer(instruction, schema, sampling)
            raise self._error(exc) from None
        try:
            choice = found["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
        except (KeyError, IndexError, TypeError):
            text = None
        if not isinstance(text, str):
            raise KgcError("the server's answer is not an OpenAI-compatible completion (no text)")
        return scrub(text, self.secrets)

    def _refused(self) -> None:
        if not self.refused.is_set():
            self.refused.set()
            warn(f"the server refused structured output (response_format json_schema) for "
                 f"{self.model.served_model}; asking without it")

    def close(self) -> None:
        self.stopped.set()
        self.http.close()


class LitellmClient:
    """Any provider litellm knows, through ``kgc icl``'s chat client."""

    def __init__(self, model: RemoteModel):
        from kgcli.icl.client import CallSettings, ChatClient

        self.model = model
        self.chat = ChatClient(CallSettings(model=model.served_model, api_base=model.api_base,
                                            retries=model.max_retries, api_key_env=model.api_key_env))

    def answer(self, instruction: str, schema: dict | None, sampling: Sampling) -> str:
        settings = self.chat.settings
        settings.temperature, settings.max_tokens = sampling.temperature, sampling.max_new_tokens
        settings.top_p = sampling.top_p if sampling.temperature > 0 else None
        return self.chat.complete([{"role": "user", "content": instruction}],
                                  response_format=self.model.response_format(schema)).text

    def close(self) -> None:
        self.chat.stopped.set()


_OPENED: dict[RemoteModel, Any] = {}  # a client opened by preflight, for the run that follows


def open_client(model: RemoteModel) -> OpenAIClient | LitellmClient:
    """The client for the model (the one ``preflight`` opened, where it did)."""
    found = _OPENED.pop(model, None)
    if found is not None:
        return found
    return OpenAIClient(model) if model.backend == "openai" else LitellmClient(model)


def preflight(model: RemoteModel) -> None:
    """Before any work: the server answers and serves the model (openai), the provider's key is there
    (litellm); the client stays open for the run."""
    _OPENED[model] = open_client(model)


@dataclass
class RemoteStats:
    records: int = 0
    skipped_done: int = 0
    closed: int = 0  # answers cut by the token limit and closed (--structured)
    unparsed: int = 0  # answers that still do not parse as JSON
    capped: int = 0


def _schema(record: dict, name: str, number: int) -> dict:
    from kgcli.predict.inputs import output_schema

    try:
        return output_schema(record)
    except (KeyError, TypeError, ValueError, KgcError):
        raise KgcError("--structured needs converted records (task + JSON instruction with a schema)", name,
                       number) from None


def _parses(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def predict_remote(in_path: str, out_path: str, model: RemoteModel, sampling: Sampling, *,
                   resume: bool = False, overwrite: bool = False) -> RemoteStats:
    """Every record of IN answered by the model behind the API, into OUT (each record plus ``output``)."""
    from kgcli.predict.inputs import test_record_rule

    model.check()
    in_path = spool_stdin(in_path)

    def rule(record: dict, file: str, number: int) -> None:
        test_record_rule(record, file, number)
        if not isinstance(record.get(INSTRUCTION), str):
            raise KgcError("record has no 'instruction' string", file, number)
        if model.structured:
            _schema(record, file, number)

    total = check_records(in_path, rule)
    output = check_output(out_path, inputs=[in_path], resume=resume, overwrite=overwrite, resumable=True)
    client = open_client(model)
    done = f" ({output.done} already in OUT)" if output.done else ""
    say(f"predict: {total} record(s){done} with {model.served_model} ({model.backend}, {model.prompt_format}"
        f"{', structured' if model.structured else ''}), {model.concurrency} in flight, at most "
        f"{sampling.max_new_tokens} new tokens → {'stdout' if out_path == '-' else out_path}")
    try:
        return _answer_all(in_path, output, client, model, sampling, total)
    finally:
        client.close()


def _answer_all(in_path: str, output: Output, client: Any, model: RemoteModel, sampling: Sampling,
                total: int) -> RemoteStats:
    stats = RemoteStats(skipped_done=output.done)
    name = display_name(in_path)
    records = read_jsonl(in_path)
    for _ in range(output.done):
        next(records, None)
    cap = sampling.answer_cap
    left = max(0, total - output.done)
    with output.open() as out, progress("predict", total=left, unit="samples") as advance, \
            ThreadPoolExecutor(max(1, model.concurrency)) as pool:
        for window in windows(records, max(1, model.concurrency) * 8):
            schemas = [_schema(r, name, n) if model.structured else None for n, r in window]
            answers = pool.map(lambda item: client.answer(item[0], item[1], sampling),
                               zip([r[INSTRUCTION] for _, r in window], schemas, strict=True))
            for (_, record), schema, text in zip(window, schemas, answers, strict=True):
                if len(text) > cap:
                    text, stats.capped = text[:cap], stats.capped + 1
                closed = closed_if_cut(text, schema) if schema is not None else None
                if closed is not None:
                    text, stats.closed = closed, stats.closed + 1
                stats.unparsed += not _parses(text)
                out.write(answered_line(record, text))
                advance(1)
            out.flush()
            stats.records += len(window)
    if stats.capped:
        warn(f"{stats.capped} answer(s) longer than {cap:,} characters were cut: does the server honour "
             "max_tokens?")
    if stats.closed:
        warn(f"{stats.closed} answer(s) reached the new-token limit: closed after their last complete item "
             "(raise --max-new-tokens to keep more)")
    if stats.unparsed:
        hint = "" if model.structured else " (--structured asks the server for JSON that follows the schema)"
        warn(f"{stats.unparsed} of {stats.records} answer(s) do not parse as JSON{hint}")
    return stats
