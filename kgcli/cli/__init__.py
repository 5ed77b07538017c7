"""The ``kgc`` executable: a thin Typer layer (parse, validate, call the library).

Heavy libraries are imported inside the commands that need them, so ``kgc --help``, ``convert`` and
``eval`` start fast.
"""

from __future__ import annotations

import os
import sys

import typer

from kgcli.errors import KgcError

_app = typer.Typer(
    name="kgc",
    help="Instruction-based knowledge graph construction with LLMs: convert, chunk, extract, eval, train, "
         "predict, merge, icl, demo, and the presets, graph and schema groups.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)

# Every subcommand, in the order it is registered: name → (module under kgcli.cli, function; None for
# a group, whose module has its own `app`).
COMMANDS: dict[str, tuple[str, str | None]] = {
    "presets": ("presets_cmd", None), "graph": ("graph_cmd", None), "schema": ("schema_cmd", None),
    "convert": ("convert_cmd", "convert"), "chunk": ("chunk_cmd", "chunk"),
    "extract": ("extract_cmd", "extract"), "eval": ("eval_cmd", "evaluate"), "train": ("train_cmd", "train"),
    "predict": ("predict_cmd", "predict"), "merge": ("merge_cmd", "merge"), "icl": ("icl_cmd", "icl"),
    "demo": ("demo_cmd", "demo"),
}
_ROOT_OPTIONS_WITH_VALUE = ("--presets-dir",)
_registered: list[str] = []


def _register(only: str | None = None) -> typer.Typer:
    """Register one subcommand (the one being run) or, with `only` None, all of them.

    A run builds only the command it runs: every command module imported and every signature turned into
    click parameters costs start-up time that `kgc eval` in a pipeline would pay on each call. Help, a
    typo (for click's did-you-mean) and `app` from Python get every command."""
    import importlib

    names = [only] if only in COMMANDS else list(COMMANDS)
    if set(names) <= set(_registered):
        return _app
    _app.registered_commands.clear()  # a partial registration is replaced whole, in the listed order
    _app.registered_groups.clear()
    _registered.clear()
    examples = _examples()
    for name in names:
        module_name, function_name = COMMANDS[name]
        module = importlib.import_module(f"kgcli.cli.{module_name}")
        if function_name is None:
            if name in ("graph", "schema"):  # their commands' help: examples and arguments (presets': none)
                for command in module.app.registered_commands:
                    command.epilog = examples.get(f"{name} {command.name}")
                    command.help = _help_with_arguments(command.callback)
            _app.add_typer(module.app, name=name)
        else:
            function = getattr(module, function_name)
            _app.command(name, epilog=examples.get(name), help=_help_with_arguments(function))(function)
        _registered.append(name)
    return _app


def _invoked(argv: list[str]) -> str | None:
    """The subcommand `argv` runs, after the root options; None when it names none (help, --version)."""
    words = iter(argv)
    for word in words:
        if word in _ROOT_OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def __getattr__(name: str) -> typer.Typer:
    """`from kgcli.cli import app`: the whole command tree (tests, docs)."""
    if name == "app":
        return _register()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def _version(value: bool) -> None:
    if value:
        from kgcli import __version__

        typer.echo(f"kgc {__version__}")
        raise typer.Exit()


@_app.callback()
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
    from kgcli.terminal import calm_libraries

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


GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")


def global_flags_first(args: list[str]) -> list[str]:
    """``kgc predict … -q`` as ``kgc -q predict …``: the root's flags (which take no value) are read
    wherever they stand, up to a ``--``."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in GLOBAL_FLAGS]
    return [*flags, *(a for a in args[:end] if a not in GLOBAL_FLAGS), *args[end:]] if flags else args


def main(argv: list[str] | None = None) -> None:
    import click

    args = global_flags_first(sys.argv[1:] if argv is None else argv)
    try:
        status = _register(_invoked(args))(args=args, prog_name="kgc", standalone_mode=False)
    except KgcError as exc:
        from kgcli.errors import verbose

        if verbose():
            import traceback

            traceback.print_exc()
        _fail(str(exc), exc.exit_code)
    except click.UsageError as exc:  # a bad flag or value: one line too, with where to read more
        command = exc.ctx.command_path if exc.ctx else "kgc"
        message = _once(exc.format_message()).rstrip(".")
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


def _once(message: str) -> str:
    """Typer and click each add their did-you-mean to an unknown command: say it once."""
    import re

    return re.sub(r"( Did you mean [^?]*\?)\1+", r"\1", message)


def _fail(message: str, status: int) -> None:
    from kgcli.terminal import visible

    print(f"kgc: error: {visible(message, keep=chr(10))}", file=sys.stderr)
    sys.exit(status)
