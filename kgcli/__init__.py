"""kgc: instruction-based knowledge graph construction with large language models.

The package is usable from Python without the CLI: ``kgcli.convert``, ``kgcli.evaluate``,
``kgcli.model.presets``, ``kgcli.model.templates`` and friends. ``kgcli.cli`` is a thin Typer layer on top.
"""

__version__ = "0.1.0"
