"""Plain progress lines off a terminal: one every PLAIN_EVERY seconds, none for a short run, none under
-q or KGC_PLAIN_PROGRESS=0 (the clock is the test's, not the machine's)."""

from __future__ import annotations

import pytest

from kgcli import progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(progress, "clock", fake)
    monkeypatch.setattr(progress.sys.stderr, "isatty", lambda: False)
    return fake


def run(clock, steps: int, seconds_per_step: float) -> None:
    with progress.progress("predict", total=steps, unit="samples") as advance:
        for _ in range(steps):
            clock.now += seconds_per_step
            advance(1)


def test_a_long_run_prints_a_line_every_interval_and_its_end(clock, capsys, monkeypatch):
    monkeypatch.setenv("KGC_PLAIN_PROGRESS", "1")
    monkeypatch.delenv("KGC_QUIET", raising=False)
    run(clock, 10, progress.PLAIN_EVERY / 2)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[1] for line in lines] == ["2/10", "4/10", "6/10", "8/10", "10/10"]  # every 15 s


def test_a_short_run_and_quiet_runs_print_nothing(clock, capsys, monkeypatch):
    monkeypatch.setenv("KGC_PLAIN_PROGRESS", "1")
    monkeypatch.delenv("KGC_QUIET", raising=False)
    run(clock, 10, progress.PLAIN_EVERY / 100)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("KGC_QUIET", "1")
    run(clock, 10, progress.PLAIN_EVERY)
    assert capsys.readouterr().err == ""
    monkeypatch.delenv("KGC_QUIET")
    monkeypatch.setenv("KGC_PLAIN_PROGRESS", "0")
    run(clock, 10, progress.PLAIN_EVERY)
    assert capsys.readouterr().err == ""
