"""The OpenAI-compatible backend: any server with a completions endpoint (``vllm serve``, TGI, llama.cpp,
hosted APIs). Raw completions with the template-rendered prompt (or the encoder's token ids with
``--prompt-format ids``), greedy by default, several requests in flight, ``--retries`` retries with backoff
by the client library.

The server is asked for its model list first, without retries: a closed port or a failing server is one
line at once, not after a round of retries per record. The API key is read from an environment variable
and never shown: every text from the server goes through ``kgcli.secrets.scrub``. ``OPENAI_API_KEY`` goes
to api.openai.com only; any other server gets a key only from ``--api-key-env NAME``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kgcli.errors import KgcError
from kgcli.predict.base import Sampling, Setup
from kgcli.secrets import key_for, scrub, secrets_in_environment


def prompt_text(tokenizer: Any, ids: list[int]) -> str:
    """The rendered prompt as text, special tokens spelled out (the server tokenizes it back)."""
    return tokenizer.decode(ids, skip_special_tokens=False)


def stop_strings(template: Any, tokenizer: Any) -> list[str]:
    """The template's stop tokens as strings (the completions API takes strings)."""
    return [tokenizer.convert_ids_to_tokens(i) for i in template.stop_token_ids(tokenizer)]


def completion_request(served_model: str, prompt: Any, sampling: Sampling, stop: list[str]) -> dict[str, Any]:
    """The body of one completions request: the one spelling for this backend and for batch files."""
    body: dict[str, Any] = {"model": served_model, "prompt": prompt, "max_tokens": sampling.max_new_tokens,
                            "temperature": sampling.temperature, "stop": stop}
    if sampling.temperature > 0:
        body["top_p"] = sampling.top_p
        if sampling.seed is not None:
            body["seed"] = sampling.seed
    return body


class BodyTooLarge(Exception):
    """A response body past the limit: reading stops there (a server cannot fill this machine's memory)."""


def capped_http_client(limit: int) -> Any:
    """An httpx client whose responses stop being read after ``limit`` bytes (``BodyTooLarge``)."""
    import httpx

    class Capped(httpx.SyncByteStream):
        def __init__(self, stream: Any):
            self.stream = stream

        def __iter__(self) -> Any:
            total = 0
            for chunk in self.stream:
                total += len(chunk)
                if total > limit:
                    raise BodyTooLarge(total)
                yield chunk

        def close(self) -> None:
            self.stream.close()

    class Transport(httpx.HTTPTransport):
        def handle_request(self, request: Any) -> Any:
            response = super().handle_request(request)
            return httpx.Response(response.status_code, headers=response.headers,
                                  stream=Capped(response.stream), extensions=response.extensions)

    return httpx.Client(transport=Transport())


class OpenAIBackend:
    name = "openai"

    def __init__(self, setup: Setup, *, api_base: str, served_model: str, api_key_env: str | None = None,
                 concurrency: int = 4, prompt_format: str = "text", max_retries: int = 2,
                 timeout: float = 600.0):
        from openai import OpenAI

        if prompt_format not in ("text", "ids"):
            raise KgcError("--prompt-format must be text or ids")
        self.template, self.tokenizer, sampling = setup.template, setup.tokenizer, setup.sampling
        self.sampling, self.served_model, self.prompt_format = sampling, served_model, prompt_format
        self.concurrency = max(1, concurrency)
        self.secrets = secrets_in_environment(api_key_env)
        self.stop = stop_strings(self.template, self.tokenizer)
        key = key_for(api_base, api_key_env, "openai", "OPENAI_API_KEY")
        self.body_limit = 4 * sampling.answer_cap + (1 << 20)  # UTF-8 bytes of the longest answer kept
        self.client = OpenAI(base_url=api_base, api_key=key or "EMPTY", max_retries=max_retries,
                             timeout=timeout, http_client=capped_http_client(self.body_limit))
        self._check_server()

    def _check_server(self) -> None:
        """One request, no retries: the server is there and answers (a 404 for the list is fine)."""
        import openai

        try:
            self.client.with_options(max_retries=0, timeout=10.0).models.list()
        except openai.NotFoundError:
            pass
        except Exception as exc:  # any failure here is the server's or the network's, not kgc's
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> KgcError:
        import openai

        if BodyTooLarge in (type(exc), type(exc.__cause__)):
            text = (f"the server's answer is over {self.body_limit:,} bytes for at most "
                    f"{self.sampling.max_new_tokens} new tokens: does it honour max_tokens?")
        elif isinstance(exc, openai.APIConnectionError):
            text = f"cannot reach the server at {self.client.base_url} (is it running?)"
        elif isinstance(exc, openai.APIStatusError):
            text = f"the server answered HTTP {exc.status_code}: {' '.join(str(exc.message).split())[:200]}"
        else:
            text = ("the server's answer is not an OpenAI-compatible completion "
                    f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]})")
        return KgcError(scrub(text, self.secrets))

    def _one(self, ids: list[int]) -> str:
        prompt: Any = ids if self.prompt_format == "ids" else prompt_text(self.tokenizer, ids)
        try:
            text = self.client.completions.create(
                **completion_request(self.served_model, prompt, self.sampling, self.stop)).choices[0].text
        except Exception as exc:
            raise self._error(exc) from None
        if not isinstance(text, str):
            raise KgcError("the server's answer is not an OpenAI-compatible completion (no text)")
        return scrub(text, self.secrets)

    def generate(self, prompts: list[list[int]], schemas: list[dict] | None = None) -> list[str]:
        if schemas:
            raise KgcError("--guided-json needs the vllm backend")
        if self.concurrency == 1 or len(prompts) == 1:
            return [self._one(p) for p in prompts]
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(self._one, prompts))

    def close(self) -> None:
        self.client.close()
