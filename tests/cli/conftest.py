"""Helpers of the command-line tests: run ``dhnet`` in process and write small inputs."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from dhnet.cli import main


@pytest.fixture
def run() -> object:
    """``run(*args)`` invokes the ``dhnet`` command line in process and returns click's Result."""
    runner = CliRunner()

    def _run(*args: str) -> Result:
        return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)

    return _run


def write_csv(
    path: Path, rows: Iterable[Sequence[object]], header: Sequence[str] = ("series", "period_start", "count")
) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow(r)
    return path


def weekly_rows(name: str, start: str, counts: Sequence[int], step_days: int = 7) -> list[tuple[object, ...]]:
    d0 = np.datetime64(start, "D")
    return [(name, str(d0 + i * step_days), c) for i, c in enumerate(counts)]


def monthly_rows(name: str, start: str, counts: Sequence[int]) -> list[tuple[object, ...]]:
    m0 = np.datetime64(start, "M")
    return [(name, str((m0 + i).astype("datetime64[D]")), c) for i, c in enumerate(counts)]


def one_line_error(result: Result) -> str:
    """The single stderr line of a failed run (exit status 2)."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip("\n").split("\n")
    assert len(lines) == 1, result.stderr
    return lines[0]
