"""Start-up of the command line: commands are imported when used (``dhnet.cli.COMMANDS``), and ``dhnet detect``
and ``dhnet --help`` load none of the heavy libraries they do not use (Django, pandas, numba, dask, matplotlib,
tqdm, scipy's ``special`` package initialisation, ``pyarrow.compute`` and ``pyarrow.parquet`` for a CSV run,
``numpy.ma``).
Timing itself is measured by ``bench/bench_farrington.py``, never asserted here."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

from dhnet.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "django",
    "pandas",
    "numba",
    "dask",
    "distributed",
    "matplotlib",
    "tqdm",
    "scipy.stats",
    "scipy.special",
    "pyarrow.compute",
    "pyarrow.parquet",
    "numpy.ma",
)


def _modules_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; return the heavy top-level modules it imported."""
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True, capture_output=True, text=True)
    return out.stdout.split()


def test_the_table_names_every_command_and_its_help() -> None:
    for module in sorted({m for m, _, _ in COMMANDS.values()}):
        importlib.import_module(module)
    assert set(main.commands) == set(COMMANDS)
    for name, (module, text, shorten) in COMMANDS.items():
        cmd = main.commands[name]
        assert cmd.callback is not None
        assert cmd.callback.__module__ == module, name
        assert cmd.get_short_help_str(limit=10_000) == text, name
        assert shorten == (cmd.short_help is None), name


def test_help_lists_every_command_as_click_would() -> None:
    eager = (
        "import importlib, types, click\n"
        "from dhnet.cli import COMMANDS, main\n"
        "for module in sorted({m for m, _, _ in COMMANDS.values()}):\n"
        "    importlib.import_module(module)\n"
        "main.format_commands = types.MethodType(click.Group.format_commands, main)  # click's own listing\n"
    )
    lazy = "from dhnet.cli import main\n"
    call = "import contextlib\nwith contextlib.suppress(SystemExit):\n    main(['--help'], prog_name='dhnet')\n"
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code + call],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
            env={"COLUMNS": "80", "PATH": ""},
        ).stdout
        for code in (eager, lazy)
    ]
    assert "totp-code" in outputs[0]
    assert outputs[1] == outputs[0]


def test_help_imports_no_command_module() -> None:
    code = "import contextlib, io, sys\nfrom dhnet.cli import main\n"
    code += "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n    main(['--help'])\n"
    code += "assert not [m for m in sys.modules if m.startswith('dhnet.cli.')], sorted(sys.modules)\n"
    assert _modules_after(code) == []


def test_detect_imports_no_heavy_library(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    args = ["detect", "data/surveillance/influenza_bavaria_bw_districts_weekly.csv", "--method"]
    args += ["farrington-flexible", "--preset", "noufaily", "--from", "2008-01-07", "--output", str(out), "--quiet"]
    code = f"from dhnet.cli import main\ntry:\n    main({args!r})\nexcept SystemExit as exc:\n    assert not exc.code\n"
    assert _modules_after(code) == []
    assert out.stat().st_size > 0
