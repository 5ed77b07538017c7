"""The ``kgc`` executable: a thin Typer layer (parse, validate, call the library).

Heavy libraries are imported inside the commands that need them, so ``kgc --help``, ``convert`` and
``eval`` start fast.
"""

from __future__ import annotations

import os
import sys

import typer

from kgcli.errors import KgcError

app = typer.Typer(
    name="kgc",
    help="Instruction-based knowledge graph construction with LLMs: convert, train, predict, merge, eval, "
         "icl.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _register() -> None:
    from kgcli.cli import (
        convert_cmd,
        demo_cmd,
        eval_cmd,
        icl_cmd,
        merge_cmd,
        predict_cmd,
        presets_cmd,
        train_cmd,
    )

    app.add_typer(presets_cmd.app, name="presets")
    app.command("convert")(convert_cmd.convert)
    app.command("eval")(eval_cmd.evaluate)
    app.command("train")(train_cmd.train)
    app.command("predict")(predict_cmd.predict)
    app.command("merge")(merge_cmd.merge)
    app.command("icl")(icl_cmd.icl)
    app.command("demo")(demo_cmd.demo)


_register()


@app.callback()
def _root(
    presets_dir: str = typer.Option(None, "--presets-dir", envvar="KGC_PRESETS_DIR",
                                    help="Extra folder of preset YAML files."),
) -> None:
    if presets_dir:
        os.environ["KGC_PRESETS_DIR"] = presets_dir


def _reader_gone() -> None:
    """The reader went away (`| head`): stop quietly with status 0, so `set -o pipefail` pipelines pass."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.__stdout__.fileno())
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, prog_name="kgc")
    except KgcError as exc:
        print(f"kgc: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        _reader_gone()
    except SystemExit as exc:
        # Click turns a broken pipe inside a command into exit status 1, wrapping stdout to silence it.
        if exc.code == 1 and type(sys.stdout).__name__ == "_PacifyFlushWrapper":
            _reader_gone()
        raise
    except KeyboardInterrupt:
        print("kgc: interrupted", file=sys.stderr)
        sys.exit(130)
