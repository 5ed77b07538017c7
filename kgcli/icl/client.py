"""Chat completions through litellm: any provider litellm knows, retries with backoff, JSON mode with a
fallback, the reply cache, and a running tally of tokens and cost.

* litellm is imported here only, with its offline settings (the bundled cost map; no network at import).
* API keys come from the environment: litellm reads the provider's own variable (``OPENAI_API_KEY``,
  ``DEEPSEEK_API_KEY``, ``ANTHROPIC_API_KEY``, ``HOSTED_VLLM_API_KEY``, ...), or ``--api-key-env NAME`` names
  one. A key is never printed: every message shown to the user passes through ``scrub`` first.
* Rate limits (429), server errors (5xx), timeouts and refused connections are retried ``retries`` times,
  waiting ``backoff`` seconds, doubling, plus jitter (or the server's ``Retry-After``).
"""

from __future__ import annotations

import os
import random
import threading
from dataclasses import dataclass
from typing import Any

from kgcli.errors import KgcError, warn
from kgcli.icl.cache import Reply, ReplyCache, request_key
from kgcli.repair import answer_cap
from kgcli.secrets import key_for, provider_host, scrub, secrets_in_environment

NO_KEY = "EMPTY"  # what a keyless OpenAI-compatible server is sent (vLLM's convention), never a real key
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
_UNREACHABLE = ("connection refused", "connecterror", "connection error", "cannot connect",
                "name or service not known",
                "nodename nor servname", "failed to establish", "all connection attempts failed")


def retry_after(headers: Any) -> float | None:
    """The seconds a server's ``Retry-After`` asks to wait, if it gives a number."""
    try:
        return float(headers.get("retry-after"))
    except (TypeError, ValueError):
        return None


def retry_delay(attempt: int, after: float | None, backoff: float = 1.0) -> float:
    """How long to wait before retry ``attempt`` (0 first): what the server asked, else ``backoff``
    doubling with each attempt plus jitter; two minutes at most."""
    base = backoff * (2**attempt)
    return min(after if after is not None else base + random.uniform(0, base / 2), 120.0)


def import_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    import logging

    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners on stdout
    litellm.telemetry = False
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return litellm


@dataclass
class CallSettings:
    model: str
    api_base: str | None = None
    temperature: float = 0.0
    top_p: float | None = None
    max_tokens: int = 512
    json_mode: bool = False
    timeout: float = 600.0
    retries: int = 4
    backoff: float = 1.0
    api_key_env: str | None = None


@dataclass
class Usage:
    replies: int = 0
    requests: int = 0
    cached: int = 0
    retried: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cost_known: bool = True
    capped: int = 0  # replies over the answer cap (a server that ignores max_tokens), cut

    def summary(self, model: str) -> str:
        cost = (f"cost ${self.cost:.4f} (litellm's cost map)" if self.cost_known
                else f"cost unknown ({model} is not in litellm's cost map)")
        capped = (f"; {self.capped} over-long replies cut (does the server honour max_tokens?)"
                  if self.capped else "")
        return (f"{self.replies} replies: {self.requests} requests, {self.cached} from the cache, "
                f"{self.retried} retries; tokens {self.prompt_tokens:,} prompt + {self.completion_tokens:,} "
                f"completion; {cost}{capped}")


class ChatClient:
    """``complete(messages) -> Reply``; thread-safe, so a pool of threads can share one client."""

    def _check_key(self) -> None:
        """A hosted provider's key must be in the environment before the first request (litellm would
        answer a missing key with a 500, retried for most of a minute)."""
        try:
            found = self.litellm.validate_environment(model=self.settings.model)
        except Exception:
            return  # a provider litellm cannot check: the first request will tell
        missing = [key for key in found.get("missing_keys") or [] if "KEY" in key.upper()]
        if missing and not found.get("keys_in_environment"):
            raise KgcError(f"{' or '.join(missing)} is not set (model {self.settings.model}); export it, or "
                           "name another variable with --api-key-env")

    def __init__(self, settings: CallSettings, cache: ReplyCache | None = None):
        self.settings, self.cache = settings, cache
        self.secrets = secrets_in_environment(settings.api_key_env)
        self.litellm = import_litellm()
        try:
            provider = self.litellm.get_llm_provider(settings.model, api_base=settings.api_base)[1]
        except Exception:
            raise KgcError(f"--model {settings.model}: litellm cannot tell its provider; write "
                           "PROVIDER/MODEL "
                           "(openai/…, deepseek/…, anthropic/…, ollama/…, hosted_vllm/NAME with "
                           "--api-base)") from None
        # litellm reads the provider's usual variable by itself: that may happen only on the provider's own
        # host; a custom --api-base gets --api-key-env's key, or a placeholder that stands for none
        self.api_key = None
        if settings.api_key_env or (settings.api_base and not provider_host(provider, settings.api_base)):
            self.api_key = key_for(settings.api_base, settings.api_key_env, provider, None) or NO_KEY
        if not self.api_key and not settings.api_base:
            self._check_key()
        self.usage = Usage()
        self._lock = threading.Lock()
        self.stopped = threading.Event()  # set when the run gives up: threads still waiting to retry stop too
        self._json_mode = settings.json_mode and self._supports_json_mode()
        self._format_refused = False  # a response_format given per request was refused once: not sent again

    def _supports_json_mode(self) -> bool:
        try:
            model, provider, _, _ = self.litellm.get_llm_provider(self.settings.model,
                                                                  api_base=self.settings.api_base)
            supported = self.litellm.get_supported_openai_params(model=model,
                                                                 custom_llm_provider=provider) or []
        except Exception:  # a model string litellm cannot place: try JSON mode, fall back if refused
            return True
        return "response_format" in supported

    def description(self, messages: list[dict], response_format: dict | None = None) -> dict:
        """Everything that decides a reply (and nothing secret): the cache key's input."""
        s = self.settings
        found = {"model": s.model, "api_base": s.api_base, "messages": messages, "temperature": s.temperature,
                 "top_p": s.top_p, "max_tokens": s.max_tokens, "json_mode": s.json_mode}
        if response_format:
            found["response_format"] = response_format
        return found

    def complete(self, messages: list[dict], response_format: dict | None = None) -> Reply:
        """One reply; ``response_format``: a JSON schema to answer in (dropped, with one warning, where the
        provider refuses it)."""
        key = request_key(self.description(messages, response_format)) if self.cache else ""
        reply = self.cache.get(key) if self.cache else None
        if reply is None:
            reply = self._call(messages, response_format)
            if self.cache:
                self.cache.put(key, reply)
        with self._lock:
            usage = self.usage
            usage.replies += 1
            if reply.cached:
                usage.cached += 1
            else:
                usage.prompt_tokens += reply.prompt_tokens
                usage.completion_tokens += reply.completion_tokens
                if reply.cost is None:
                    usage.cost_known = False
                else:
                    usage.cost += reply.cost
        return reply

    def _kwargs(self, messages: list[dict], response_format: dict | None = None) -> dict[str, Any]:
        s = self.settings
        kwargs: dict[str, Any] = {"model": s.model, "messages": messages, "temperature": s.temperature,
                                  "max_tokens": s.max_tokens, "timeout": s.timeout, "num_retries": 0,
                                  "max_retries": 0}
        if s.top_p is not None:
            kwargs["top_p"] = s.top_p
        if s.api_base:
            kwargs["api_base"] = s.api_base
        if self.api_key:
            kwargs["api_key"] = self.api_key
        if response_format and not self._format_refused:
            kwargs["response_format"] = response_format
        elif self._json_mode:
            kwargs["response_format"] = {"type": "json_object"}
        return kwargs

    def _call(self, messages: list[dict], response_format: dict | None = None) -> Reply:
        attempt = 0
        while True:
            if self.stopped.is_set():
                raise KgcError("stopped")
            kwargs = self._kwargs(messages, response_format)
            with self._lock:
                self.usage.requests += 1
            try:
                response = self.litellm.completion(**kwargs)
            except Exception as exc:
                if "response_format" in kwargs and self._refuses_json_mode(exc):
                    if kwargs["response_format"] is response_format:
                        self._drop_format()
                    else:
                        self._drop_json_mode()
                    continue
                if attempt < self.settings.retries and self._retryable(exc):
                    self.stopped.wait(self._wait(exc, attempt))
                    attempt += 1
                    with self._lock:
                        self.usage.retried += 1
                    continue
                raise KgcError(self.explain(exc)) from None
            return self._reply(response)

    def _reply(self, response: Any) -> Reply:
        choice = response.choices[0]
        text = getattr(choice.message, "content", None) or ""
        cap = answer_cap(self.settings.max_tokens)
        if len(text) > cap:
            text = text[:cap]
            with self._lock:
                self.usage.capped += 1
        text = scrub(text, self.secrets)
        usage = getattr(response, "usage", None)
        cost = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
        if cost is None:
            try:
                cost = self.litellm.completion_cost(completion_response=response)
            except Exception:  # a model litellm has no price for
                cost = None
        return Reply(text, getattr(usage, "prompt_tokens", 0) or 0,
                     getattr(usage, "completion_tokens", 0) or 0,
                     cost)

    def _drop_format(self) -> None:
        with self._lock:
            if not self._format_refused:
                self._format_refused = True
                warn(f"{self.settings.model} refused structured output (response_format json_schema); asking "
                     "without it")

    def _drop_json_mode(self) -> None:
        with self._lock:
            if self._json_mode:
                self._json_mode = False
                warn(f"{self.settings.model} refused JSON mode (response_format); asking without it")

    @staticmethod
    def _status(exc: Exception) -> int | None:
        status = getattr(exc, "status_code", None)
        return status if isinstance(status, int) else None

    def _unreachable(self, exc: Exception) -> bool:
        if isinstance(exc, self.litellm.APIConnectionError):
            return True
        message = str(exc).lower()
        return any(marker in message for marker in _UNREACHABLE)

    def _refuses_json_mode(self, exc: Exception) -> bool:
        if isinstance(exc, self.litellm.UnsupportedParamsError):
            return True
        message = str(exc).lower()
        return self._status(exc) in (400, 422, 500) and ("response_format" in message or "json" in message)

    def _retryable(self, exc: Exception) -> bool:
        if isinstance(exc, self.litellm.Timeout) or self._unreachable(exc):
            return True
        return self._status(exc) in RETRY_STATUS

    def _wait(self, exc: Exception, attempt: int) -> float:
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        return retry_delay(attempt, retry_after(headers), self.settings.backoff)

    def explain(self, exc: Exception) -> str:
        """One line for the user, with any secret blanked out."""
        if self._unreachable(exc):
            text = (f"cannot reach the server at {self.settings.api_base} (is it running?)"
                    if self.settings.api_base
                    else f"cannot reach the API of {self.settings.model} (network?)")
        elif isinstance(exc, self.litellm.AuthenticationError):
            text = (f"{self.settings.model}: authentication failed; set the provider's API key variable "
                    "(or name one with --api-key-env)")
        else:
            status = self._status(exc)
            detail = " ".join(str(exc).split())[:300]
            text = f"{self.settings.model}: " + (f"HTTP {status}: " if status else "") + detail
        return scrub(text, self.secrets)
