"""``kgc chunk``: documents → chunk records (doc_id, chunk, start, end, text) sized in the model's tokens."""

from __future__ import annotations

import typer

from kgcli.cli.options import EncodingOpt, FollowLinksOpt, OnBadFileOpt, PresetOpt, choice, comma_list
from kgcli.errors import say


def chunk(
    in_path: str = typer.Argument(..., metavar="IN",
                                  help="A folder of .txt/.md files, a text file, or JSON lines with 'text'."),
    out_path: str = typer.Argument("-", metavar="OUT", help="Chunk records, JSON lines ('-' = stdout)."),
    preset: PresetOpt = None,
    tokenizer: str = typer.Option(None, "--tokenizer", help="A tokenizer folder (instead of the preset's)."),
    task: str = typer.Option(None, "--task", help="Tasks the chunks are for, comma-separated: NER,RE."),
    schema: str = typer.Option(None, "--schema", help="One schema file for every task (as kgc schema suggest "
                          "writes), or one per task, comma-separated, same order."),
    language: str = typer.Option("zh", "--language", click_type=choice("zh", "en", "auto"),
                                 help="zh, en, or auto (per document, by its script): the instruction "
                                 "sentence the chunks are sized for."),
    budget: int = typer.Option(None, "--budget", min=1,
                               help="Tokens per chunk (default: what cutoff_len leaves after the prompt)."),
    overlap: int = typer.Option(None, "--overlap", min=0, help="Tokens shared by neighbours (default 10%)."),
    cutoff_len: int = typer.Option(None, "--cutoff-len", min=1, help="Prompt budget (default: the preset's)"),
    follow_links: FollowLinksOpt = False,
    encoding: EncodingOpt = "utf-8",
    on_bad_file: OnBadFileOpt = "stop",
) -> None:
    """Cut documents into chunks that fit the model's prompt, with exact character offsets."""
    from kgcli.documents.sizing import ChunkSettings, chunk_file

    stats = chunk_file(in_path, out_path, ChunkSettings(
        preset=preset, tokenizer=tokenizer, tasks=comma_list(task), schemas=comma_list(schema),
        language=language.lower(), budget=budget, overlap=overlap, cutoff_len=cutoff_len,
        follow_links=follow_links, encodings=tuple(comma_list(encoding)), on_bad_file=on_bad_file.lower()))
    say(f"chunked {stats.documents} document(s) into {stats.chunks} chunk(s) of at most "
               f"{stats.budget} tokens ({stats.overlap} shared)")
