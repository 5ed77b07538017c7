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
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _register() -> None:
    from kgcli.cli import (
        chunk_cmd,
        convert_cmd,
        demo_cmd,
        eval_cmd,
        extract_cmd,
        graph_cmd,
        icl_cmd,
        merge_cmd,
        predict_cmd,
        presets_cmd,
        train_cmd,
    )

    examples = _examples()
    for command in graph_cmd.app.registered_commands:
        command.epilog = examples.get(f"graph {command.name}")
        command.help = _help_with_arguments(command.callback)
    app.add_typer(presets_cmd.app, name="presets")
    app.add_typer(graph_cmd.app, name="graph")
    for name, function in (("convert", convert_cmd.convert), ("chunk", chunk_cmd.chunk),
                           ("extract", extract_cmd.extract), ("eval", eval_cmd.evaluate),
                           ("train", train_cmd.train), ("predict", predict_cmd.predict),
                           ("merge", merge_cmd.merge), ("icl", icl_cmd.icl), ("demo", demo_cmd.demo)):
        app.command(name, epilog=examples.get(name), help=_help_with_arguments(function))(function)


def _help_with_arguments(function) -> str:
    """The command's docstring plus what each positional argument is: this typer/click pair drops an
    Argument's own help from the panel, and IN / OUT ('-' = stdin / stdout) is what a user needs most."""
    import inspect

    from typer.models import ArgumentInfo

    text = inspect.getdoc(function) or ""
    lines = []
    for parameter in inspect.signature(function).parameters.values():
        info = parameter.default
        if isinstance(info, ArgumentInfo) and info.help:
            name = (info.metavar or parameter.name.upper()).strip("[]")
            lines.append(f"{name}: {info.help}")
    return text + ("\n\n" + "\n\n".join(lines) if lines else "")


def _examples() -> dict[str, str]:
    """Each command's help epilog, from the registry ``kgcli/data/help_examples.json`` (JSON: no YAML
    parser on the light commands' path)."""
    import json

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "help_examples.json")
    with open(path, encoding="utf-8") as handle:
        listed = json.load(handle)
    # rich help joins single line breaks: a blank line keeps each example on its own line
    return {name: "Examples:\n\n" + "\n\n".join(f"  {line}" for line in lines)
            for name, lines in listed.items()}


_register()


def _version(value: bool) -> None:
    if value:
        from kgcli import __version__

        typer.echo(f"kgc {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    presets_dir: str = typer.Option(None, "--presets-dir", envvar="KGC_PRESETS_DIR",
                                    help="Extra folder of preset YAML files."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only errors and warnings on stderr."),
    verbose: bool = typer.Option(False, "-v", "--verbose",
                                 help="Keep the libraries' own messages; a traceback with an error."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print kgc's version and exit."),
) -> None:
    from kgcli.errors import verbose as verbose_set
    from kgcli.noise import calm_libraries

    if presets_dir:
        os.environ["KGC_PRESETS_DIR"] = presets_dir
    if quiet:
        os.environ["KGC_QUIET"] = "1"
    if verbose:
        os.environ["KGC_VERBOSE"] = "1"
    calm_libraries(verbose_set())


def _reader_gone() -> None:
    """The reader went away (`| head`): stop quietly with status 0, so `set -o pipefail` pipelines pass."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.__stdout__.fileno())
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    import click

    try:
        status = app(args=argv, prog_name="kgc", standalone_mode=False)
    except KgcError as exc:
        from kgcli.errors import verbose

        if verbose():
            import traceback

            traceback.print_exc()
        _fail(str(exc), exc.exit_code)
    except click.UsageError as exc:  # a bad flag or value: one line too, with where to read more
        command = exc.ctx.command_path if exc.ctx else "kgc"
        message = exc.format_message().rstrip(".")
        if not message:  # `kgc` alone: the help was the answer
            sys.exit(exc.exit_code)
        _fail(f"{message} (see {command} --help)", exc.exit_code)
    except click.ClickException as exc:
        _fail(exc.format_message(), exc.exit_code)
    except click.Abort:
        _fail("interrupted", 130)
    except BrokenPipeError:
        _reader_gone()
    except SystemExit as exc:
        # Click turns a broken pipe inside a command into exit status 1, wrapping stdout to silence it.
        if exc.code == 1 and type(sys.stdout).__name__ == "_PacifyFlushWrapper":
            _reader_gone()
        raise
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except OSError as exc:  # the machine's words about a file (permissions, a full disk): still one line
        if exc.filename is None or isinstance(exc, BlockingIOError):
            raise
        _fail(f"{exc.filename}: {(exc.strerror or str(exc)).lower()}", 2)
    except UnicodeDecodeError as exc:
        _fail(f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})", 2)
    if isinstance(status, int) and status:
        sys.exit(status)


def _fail(message: str, status: int) -> None:
    print(f"kgc: error: {message}", file=sys.stderr)
    sys.exit(status)
