"""The OpenAI-compatible backend: any server with a completions endpoint (``vllm serve``, TGI, llama.cpp,
hosted APIs). Raw completions with the template-rendered prompt (or the encoder's token ids with
``--prompt-format ids``), greedy by default, several requests in flight, retries with backoff by the
client library. The API key is read from an environment variable and never printed.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kgcli.errors import KgcError
from kgcli.predict.base import Setup


class OpenAIBackend:
    name = "openai"

    def __init__(self, setup: Setup, *, api_base: str, served_model: str, api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 4, prompt_format: str = "text", max_retries: int = 2,
                 timeout: float = 600.0):
        from openai import OpenAI

        if prompt_format not in ("text", "ids"):
            raise KgcError("--prompt-format must be text or ids")
        self.template, self.tokenizer, sampling = setup.template, setup.tokenizer, setup.sampling
        self.sampling, self.served_model, self.prompt_format = sampling, served_model, prompt_format
        self.concurrency = max(1, concurrency)
        self.stop = [self.tokenizer.convert_ids_to_tokens(i)
                     for i in self.template.stop_token_ids(self.tokenizer)]
        self.client = OpenAI(base_url=api_base, api_key=os.environ.get(api_key_env) or "EMPTY",
                             max_retries=max_retries, timeout=timeout)

    def _one(self, ids: list[int]) -> str:
        import openai

        prompt: Any = (ids if self.prompt_format == "ids"
                       else self.tokenizer.decode(ids, skip_special_tokens=False))
        kwargs: dict[str, Any] = {"model": self.served_model, "prompt": prompt,
                                  "max_tokens": self.sampling.max_new_tokens,
                                  "temperature": self.sampling.temperature, "stop": self.stop}
        if self.sampling.temperature > 0:
            kwargs["top_p"] = self.sampling.top_p
        try:
            response = self.client.completions.create(**kwargs)
        except openai.APIConnectionError:
            raise KgcError(f"cannot reach the server at {self.client.base_url} (is it running?)") from None
        except openai.APIStatusError as exc:
            raise KgcError(f"the server answered HTTP {exc.status_code}: {str(exc.message)[:200]}") from None
        return response.choices[0].text

    def generate(self, prompts: list[list[int]], schemas: list[dict] | None = None) -> list[str]:
        if schemas:
            raise KgcError("--guided-json needs the vllm backend")
        if self.concurrency == 1 or len(prompts) == 1:
            return [self._one(p) for p in prompts]
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(self._one, prompts))

    def close(self) -> None:
        self.client.close()
