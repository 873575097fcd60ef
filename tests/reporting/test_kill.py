"""All or nothing under ``kill -9``: a ``dhnet import counts`` of 200,000 values killed while it writes stores nothing;
the retry stores everything exactly once, and a second retry nothing more.

Runs the real command line in subprocesses against its own SQLite file (whatever database the other tests use).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

UNITS = 100
DISEASES = ("malaria", "cholera", "measles", "typhoid", "dengue", "ili", "sari", "rotavirus", "shigellosis", "plague")
WEEKS = 100  # 2022-W01 .. 2023-W48
VALUES = UNITS * len(DISEASES) * WEEKS * 2  # cases and deaths


def _dhnet() -> list[str]:
    script = Path(sys.executable).with_name("dhnet")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from dhnet.cli import main; main()"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_dhnet(), *args], env=env, capture_output=True, text=True, timeout=300, check=False)


def _count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as con:  # opening the file rolls a killed transaction back (its hot journal)
        return int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


@pytest.mark.slow
def test_kill_9_during_an_import_stores_nothing_and_the_retry_stores_it_once(tmp_path: Path) -> None:
    db = tmp_path / "kill.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{db}",
        "DHNET_DATA_DIR": str(tmp_path),
        "DHNET_MODE": "dev",
        "PYTHONUNBUFFERED": "1",
    }
    assert _run(["migrate"], env).returncode == 0
    assert _run(["orgunits", "add", "XX", "Country"], env).returncode == 0
    features = [{"type": "Feature", "properties": {"id": f"K{i:03d}", "name": f"District {i}"}} for i in range(UNITS)]
    units = tmp_path / "units.geojson"
    units.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    added = _run(["orgunits", "import", str(units), "--parent", "XX"], env)
    assert added.returncode == 0, added.stderr
    csv = tmp_path / "big.csv"
    with csv.open("w") as f:
        f.write("orgunit,disease,period_start,cases,deaths\n")
        for w in range(WEEKS):
            week = f"{2022 + w // 52}-W{w % 52 + 1:02d}"
            for i in range(UNITS):
                for j, disease in enumerate(DISEASES):
                    f.write(f"K{i:03d},{disease},{week},{(i + j + w) % 50},{(i + w) % 3}\n")

    process = subprocess.Popen(
        [*_dhnet(), "import", "counts", str(csv)], env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 240
    seen = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if " wrote " in line:  # values written, transaction still open
            break
    assert any(" wrote " in line for line in seen), "".join(seen)
    journal = Path(f"{db}-journal")
    assert journal.exists() or Path(f"{db}-wal").exists(), "no open write transaction to kill"
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    process.stderr.close()
    assert not any("stored:" in line for line in seen)

    assert _count(db, "reporting_countvalue") == 0
    assert _count(db, "reporting_importbatch") == 0
    assert _count(db, "reporting_submission") == 0

    retry = _run(["import", "counts", str(csv)], env)
    assert retry.returncode == 0, retry.stderr
    summary = json.loads(retry.stdout)
    assert (summary["imported"], summary["duplicate"]) == (VALUES, False)
    assert _count(db, "reporting_countvalue") == VALUES
    assert _count(db, "reporting_importbatch") == 1
    assert _count(db, "reporting_submission") == UNITS * WEEKS

    again = _run(["import", "counts", str(csv)], env)
    assert again.returncode == 0
    assert json.loads(again.stdout)["duplicate"] is True
    assert _count(db, "reporting_countvalue") == VALUES
    assert _count(db, "reporting_importbatch") == 1
    verify = _run(["audit", "verify"], env)
    assert verify.returncode == 0, verify.stderr
