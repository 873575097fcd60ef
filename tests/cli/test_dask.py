"""``dhnet detect --dask local:2``: the same bytes as a single-process run, errors from workers, clean shutdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dhnet.cli._dask import parse_address
from dhnet.cli._errors import InputError
from tests.cli.conftest import one_line_error, weekly_rows, write_csv

FLU = "influenza_bavaria_bw_districts_weekly.csv"


def test_parse_address() -> None:
    assert parse_address("local:3") == ("local", 3)
    assert parse_address("tcp://127.0.0.1:8786") == ("remote", "tcp://127.0.0.1:8786")
    assert parse_address("127.0.0.1:8786") == ("remote", "127.0.0.1:8786")
    with pytest.raises(InputError, match="at least one worker"):
        parse_address("local:0")
    with pytest.raises(InputError, match="local:N"):
        parse_address("somewhere")


@pytest.mark.slow
def test_two_worker_cluster_gives_identical_output(run: Any, data_dir: Path, tmp_path: Path) -> None:
    single, dask, plot = tmp_path / "single.csv", tmp_path / "dask.csv", tmp_path / "plot.html"
    args = (data_dir / FLU, "--method", "ears", "--variant", "C2", "--from", "2008-01-07", "--batch-series", "9")
    r1 = run("detect", *args, "--quiet", "--output", single)
    assert r1.exit_code == 0, r1.stderr
    r2 = run("detect", *args, "--quiet", "--dask", "local:2", "--output", dask, "--plot", plot)
    assert r2.exit_code == 0, r2.stderr
    assert r2.stderr == ""
    assert dask.read_bytes() == single.read_bytes()
    assert plot.exists()


@pytest.mark.slow
def test_error_on_a_worker_is_reported_like_locally(run: Any, tmp_path: Path) -> None:
    rows = weekly_rows("long", "2020-01-06", list(range(30))) + weekly_rows("short", "2020-05-04", [1, 2, 3, 4])
    src = write_csv(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    args = ("--method", "ears", "--from", "2020-05-25", "--batch-series", "1")
    local = one_line_error(run("detect", src, *args, "--output", out))
    remote = one_line_error(run("detect", src, *args, "--dask", "local:2", "--output", out))
    assert remote == local
    assert "series 'short'" in remote
    assert "data row 34" in remote  # the row of the period asked for (2020-05-25)
    assert not out.exists()


@pytest.mark.slow
def test_scheduler_address(run: Any, data_dir: Path, tmp_path: Path) -> None:
    """--dask tcp://host:port connects to a running scheduler (here a LocalCluster started by the test)."""
    import logging

    from distributed import LocalCluster

    single, remote = tmp_path / "single.csv", tmp_path / "remote.csv"
    args = (data_dir / FLU, "--method", "ears", "--from", "2008-01-07", "--batch-series", "40", "--quiet")
    assert run("detect", *args, "--output", single).exit_code == 0
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        r = run("detect", *args, "--dask", address, "--output", remote)
        assert r.exit_code == 0, r.stderr
    assert remote.read_bytes() == single.read_bytes()
