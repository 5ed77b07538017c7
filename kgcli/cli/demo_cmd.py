"""``kgc demo``: convert → zero-shot predict → LoRA train → predict → eval → extract → graph, on CPU."""

from __future__ import annotations

import typer

from kgcli.cli.options import choice
from kgcli.demo.run import DemoSettings  # light: the stages import what they need when they run

DEFAULT = DemoSettings()


def demo(
    out: str = typer.Option(DEFAULT.out, "--out",
                            help="Report folder (replaced if an earlier demo wrote it)."),
    steps: int = typer.Option(DEFAULT.steps, "--steps", min=1, help="LoRA training steps (batch 4)."),
    train_texts: int = typer.Option(DEFAULT.train_texts, "--train-texts", min=10,
                                    help="Synthetic train texts (each gives NER + RE)."),
    test_texts: int = typer.Option(DEFAULT.test_texts, "--test-texts", min=2,
                                   help="Synthetic held-out test texts."),
    documents: int = typer.Option(DEFAULT.documents, "--documents", min=1,
                                  help="Synthetic multi-paragraph test documents for extract → graph."),
    max_new_tokens: int = typer.Option(DEFAULT.max_new_tokens, "--max-new-tokens", min=8),
    language: str = typer.Option(DEFAULT.language, "--language", click_type=choice("en", "zh"),
                                 help="The synthetic data's language (and its instructions'): en or zh."),
    chunk_tokens: int = typer.Option(None, "--chunk-tokens", min=8, hidden=True,
                                     help="extract's chunk budget (default: the demo's, per language)."),
    threads: int = typer.Option(None, "--threads",
                                help="torch CPU threads (default: KGC_TORCH_THREADS or all cores)."),
    data_only: bool = typer.Option(False, "--data-only",
                                   help="Only write the synthetic data (raw + converted)."),
    preset: str = typer.Option(DEFAULT.preset, "--preset", hidden=True),
    memorize: bool = typer.Option(False, "--memorize", hidden=True,
                                  help="A pipeline check: train on the documents' own gold chunk answers."),
) -> None:
    """Run kgc's main job on an embedded default: SmolLM2-135M, synthetic English NER + RE, CPU only."""
    import os
    from pathlib import Path

    from kgcli.demo.run import check_folder, print_comparison, run_demo
    from kgcli.model import launch

    check_folder(Path(out))  # before torch: a wrong --out costs nothing
    if threads:
        os.environ["KGC_TORCH_THREADS"] = str(threads)
    launch.set_threads()
    result = run_demo(DemoSettings(out=out, steps=steps, train_texts=train_texts, test_texts=test_texts,
                                   documents=documents, max_new_tokens=max_new_tokens,
                                   data_only=data_only, preset=preset, memorize=memorize,
                                   language=language.lower(),
                                   **({"chunk_tokens": chunk_tokens} if chunk_tokens else {})))
    if data_only:
        typer.echo("\n".join(f"{out}/{name}" for name in result["files"]))
        return
    print_comparison(result)
    typer.echo(f"report: {out}/report.md (whole run {result['seconds']:.0f} s)")
