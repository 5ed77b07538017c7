"""Prompt templates (data in ``kgcli/data/templates.json``) and the seed's piecewise encoder.

The published checkpoints were trained with a template encoder that encodes **each string piece
separately** (``add_special_tokens=False``) and concatenates the ids; ``{"token": name}`` pieces contribute
the id of that one token. For SentencePiece and byte-level BPE tokenizers this can differ from encoding the
joined prompt, so the encoder works on pieces and the text rendering is only for display and for servers
that take text.

Templates whose name contains ``llama2`` fold the system block into the query and encode
``"[INST] " + system_block + query + " [/INST]"`` in one call (no separator), as the seed does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from kgcli.errors import KgcError

Piece = str | dict  # a text piece with placeholders, or {"token": name}


@dataclass(frozen=True)
class Template:
    name: str
    prefix: tuple[Piece, ...]
    prompt: tuple[Piece, ...]
    system: str
    sep: tuple[Piece, ...]
    stop_words: tuple[str, ...] = ()
    use_history: bool = True
    efficient_eos: bool = False
    replace_eos: bool = False
    drop_empty_system: bool = False  # no system block at all when the system text is empty (Qwen3)
    thinking_variant: str | None = None  # the same template with reasoning on (predict --thinking on)
    fold_system: bool = False  # the llama2 rule for a template not named llama2 (Mistral, Gemma-3)

    @property
    def folds_system(self) -> bool:
        """The llama2 rule: system block string-prepended to the query, one encode call. The seed keys it
        on the name; templates whose official chat template also writes the system text into the user
        turn (Mistral's, Gemma-3's) say so with ``fold_system``."""
        return self.fold_system or "llama2" in self.name

    # ---- pieces -------------------------------------------------------------------------------
    def prompt_pieces(self, query: str, system: str | None = None) -> list[Piece]:
        """Turn-0 prompt as a list of pieces, each encoded on its own (BOS not included)."""
        system = self.system if system is None else system
        if self.folds_system:
            block = _substitute(self.prefix[0], system=system) if self.prefix else ""
            if self.drop_empty_system and not system:
                block = ""
            return [_substitute(p, query=block + query, idx="1") for p in self.prompt]
        prefix = [_substitute(p, system=system) for p in self.prefix]
        prompt = [_substitute(p, query=query, idx="1") for p in self.prompt]
        if _is_empty(prefix) or (self.drop_empty_system and not system):
            return prompt
        return prefix + list(self.sep) + prompt

    def render_prompt(self, query: str, system: str | None = None, bos: str = "") -> str:
        """The prompt as text (special-token pieces written as the token's text)."""
        return bos + "".join(p if isinstance(p, str) else p["token"]
                             for p in self.prompt_pieces(query, system))

    # ---- ids ----------------------------------------------------------------------------------
    def encode_prompt(self, tokenizer: Any, query: str, system: str | None = None) -> list[int]:
        return bos_ids(tokenizer) + encode_pieces(tokenizer, self.prompt_pieces(query, system))

    def encode_response(self, tokenizer: Any, response: str) -> list[int]:
        """Response ids + EOS: for one turn the seed's efficient_eos path appends the same single EOS."""
        ids = encode_pieces(tokenizer, [response])
        return ids + [tokenizer.eos_token_id]

    def stop_token_ids(self, tokenizer: Any) -> list[int]:
        """EOS plus every stop word that is a single known token: always passed to generation."""
        ids: list[int] = []
        if tokenizer.eos_token_id is not None:
            ids.append(tokenizer.eos_token_id)
        for word in self.stop_words:
            token_id = tokenizer.convert_tokens_to_ids(word)
            if isinstance(token_id, int) and token_id != tokenizer.unk_token_id and token_id not in ids:
                ids.append(token_id)
        return ids

    def chat_template(self, bos: str = "") -> str:
        """A Jinja chat template rendering exactly ``render_prompt`` for one user turn (a system message
        replaces the default system text), for servers that build prompts themselves (vLLM and others)."""
        system_mark, query_mark = "\x00SYSTEM\x00", "\x00QUERY\x00"

        def literal(text: str) -> str:
            text = text.replace("{", "{{ '{' }}").replace("%", "{{ '%' }}").replace("#", "{{ '#' }}")
            return text.replace(system_mark, "{{ system }}").replace(query_mark, "{{ query }}")

        with_system = literal(self.render_prompt(query_mark, system=system_mark, bos=bos))
        without = literal(self.render_prompt(query_mark, system="",
                                             bos=bos))  # an empty prefix drops its separator
        default = json.dumps(self.system, ensure_ascii=False)
        return (
            "{%- if messages[0]['role'] == 'system' -%}{%- set system = messages[0]['content'] -%}"
            "{%- else -%}{%- set system = " + default + " -%}{%- endif -%}"
            "{%- set query = (messages | selectattr('role', 'equalto', 'user') | list | last)['content'] -%}"
            "{%- if system -%}" + with_system + "{{ '' }}{%- else -%}" + without + "{{ '' }}{%- endif -%}"
        )

    def ollama_template(self) -> str:
        """An Ollama (Go) TEMPLATE rendering exactly ``render_prompt`` for one turn: ``.System`` (the
        Modelfile's SYSTEM is the default system text) and ``.Prompt``; BOS is the tokenizer's to add."""
        system_mark, query_mark = "\x00SYSTEM\x00", "\x00QUERY\x00"

        def literal(text: str) -> str:
            text = text.replace("{{", '{{ "{{" }}')
            return text.replace(system_mark, "{{ .System }}").replace(query_mark, "{{ .Prompt }}")

        with_system = literal(self.render_prompt(query_mark, system=system_mark))
        without = literal(self.render_prompt(query_mark, system=""))
        return "{{ if .System }}" + with_system + "{{ else }}" + without + "{{ end }}"

    def special_tokens(self) -> list[str]:
        """Names of the single tokens this template needs in the vocabulary."""
        names = []
        for piece in (*self.prefix, *self.prompt, *self.sep):
            if isinstance(piece, dict) and piece["token"] not in names:
                names.append(piece["token"])
        return names


def _substitute(piece: Piece, *, system: str | None = None, query: str | None = None,
                idx: str | None = None) -> Piece:
    """First-occurrence replacement in the seed's order: system, then query, then idx."""
    if not isinstance(piece, str):
        return piece
    if system is not None:
        piece = piece.replace("{{system}}", system, 1)
    if query is not None:
        piece = piece.replace("{{query}}", query, 1)
    if idx is not None:
        piece = piece.replace("{{idx}}", idx, 1)
    return piece


def _is_empty(pieces: list[Piece]) -> bool:
    return all(isinstance(p, str) and p == "" for p in pieces)


def _encode_kwargs(tokenizer: Any) -> dict[str, Any]:
    # Qwen-1's tiktoken tokenizer refuses special-token text unless told otherwise.
    if type(tokenizer).__name__ == "QWenTokenizer":
        return {"add_special_tokens": False, "allowed_special": "all"}
    return {"add_special_tokens": False}


def encode_pieces(tokenizer: Any, pieces: list[Piece]) -> list[int]:
    """Encode every text piece on its own and concatenate; token pieces map to one id each."""
    kwargs = _encode_kwargs(tokenizer)
    ids: list[int] = []
    for piece in pieces:
        if isinstance(piece, str):
            if piece:
                ids.extend(tokenizer.encode(piece, **kwargs))
        else:
            ids.append(tokenizer.convert_tokens_to_ids(piece["token"]))
    return ids


def bos_ids(tokenizer: Any) -> list[int]:
    """[bos] when the tokenizer has a BOS id and adds it, read as the seed read it under transformers 4: a
    stated ``add_bos_token`` decides; a tokenizer without the attribute counted as adding. Transformers 5
    gives every fast tokenizer the attribute, false when its config is silent; for those, what the
    tokenizer does itself on encode decides (Llama-3's post-processor adds ``<|begin_of_text|>``, which the
    llama3-8b-iepile-lora prompt starts with)."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return []
    stated = getattr(tokenizer, "init_kwargs", {}).get("add_bos_token")
    if stated is not None:
        adds = bool(stated)
    elif hasattr(tokenizer, "backend_tokenizer"):
        adds = tokenizer.encode("a", add_special_tokens=True)[:1] == [bos]
    else:
        adds = bool(getattr(tokenizer, "add_bos_token", True))
    return [bos] if adds else []


def fix_tokenizer(tokenizer: Any, template: Template) -> None:
    """The seed's tokenizer fix-ups, in its order: replace_eos, default EOS, PAD := EOS, stop words."""
    stop_words = list(template.stop_words)
    if template.replace_eos and stop_words:
        eos = stop_words.pop(0)
        if tokenizer.eos_token != eos:
            tokenizer.add_special_tokens({"eos_token": eos})
    if tokenizer.eos_token_id is None:
        tokenizer.add_special_tokens({"eos_token": "<|endoftext|>"})
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    missing = [w for w in stop_words if w not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_special_tokens({"additional_special_tokens": missing},
                                     replace_extra_special_tokens=False)


def check_vocabulary(tokenizer: Any, template: Template) -> None:
    """A template's single-token pieces must exist in the tokenizer, or ids would silently be UNK/None."""
    vocab = tokenizer.get_vocab()
    absent = [name for name in template.special_tokens() if name not in vocab]
    if absent:
        raise KgcError(
            f"template {template.name!r} needs token(s) {', '.join(absent)} that this tokenizer does not "
            "have; "
            "choose the template the model was trained with (kgc presets list)"
        )


@cache
def _registry() -> dict[str, Template]:
    raw = json.loads(resources.files("kgcli.data").joinpath("templates.json").read_text(encoding="utf-8"))
    return {name: _from_dict(name, spec) for name, spec in raw.items()}


def _from_dict(name: str, spec: dict[str, Any]) -> Template:
    return Template(
        name=name,
        prefix=tuple(spec["prefix"]),
        prompt=tuple(spec["prompt"]),
        system=spec["system"],
        sep=tuple(spec["sep"]),
        stop_words=tuple(spec.get("stop_words", ())),
        use_history=spec.get("use_history", True),
        efficient_eos=spec.get("efficient_eos", False),
        replace_eos=spec.get("replace_eos", False),
        drop_empty_system=spec.get("drop_empty_system", False),
        thinking_variant=spec.get("thinking_variant"),
        fold_system=spec.get("fold_system", False),
    )


def template_names() -> list[str]:
    return list(_registry())


def get_template(name: str) -> Template:
    try:
        return _registry()[name]
    except KeyError:
        raise KgcError(f"unknown template {name!r}; known: {', '.join(sorted(_registry()))}") from None
