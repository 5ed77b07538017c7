"""One text, one request: the seed's prompt as a single user message; the reply and what it states."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kgcli.icl.client import ChatClient
from kgcli.icl.prompts import SingleRequest, build_prompt, parse_reply


@dataclass
class SingleResult:
    prompt: str
    reply: str
    extracted: Any


def ask(request: SingleRequest, examples: list[dict], client: ChatClient, system: str | None = None) -> SingleResult:
    prompt = build_prompt(request, examples)
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    reply = client.complete(messages).text
    return SingleResult(prompt, reply, parse_reply(request, reply))
