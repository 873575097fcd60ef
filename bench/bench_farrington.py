"""Benchmark: R's surveillance::farringtonFlexible vs ``dhnet detect --method farrington-flexible``.

Both evaluate the last 52 weeks of all 140 districts of the influenza data
(data/surveillance/influenza_bavaria_bw_districts_weekly.csv) with the Noufaily
et al. (2013) settings, each timed as a whole process (start-up, reading the
CSV, computing, writing the result):

1. ``Rscript --vanilla tools/r/bench_farrington.R INPUT OUT 52`` (R 4.2, surveillance 1.20.3);
2. ``.venv/bin/dhnet detect INPUT --method farrington-flexible --preset noufaily --from DATE --output OUT --quiet``.

For orientation it also times the library call alone inside one Python process
(``dhnet.surveillance.farrington.run`` on an already loaded panel) and the CLI
on a trivial job (one series, EARS C1), i.e. its fixed start-up cost.

Prints one Markdown section to stdout (progress on stderr): the commands, the
timings (wall and CPU seconds), series-weeks per second, the ratio and whether alarms (and upper
bounds) agree, and which IRLS path ran (the compiled kernel ``dhnet.surveillance._irls`` or the numpy path, when
the kernel is not built or ``DHNET_NO_CKERNEL=1``).  Run from the repository root:
``.venv/bin/python bench/bench_farrington.py``; ``--no-r`` skips R (85 s) while iterating.
"""

from __future__ import annotations

import csv
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INPUT = Path("data/surveillance/influenza_bavaria_bw_districts_weekly.csv")
OUT = Path("bench/out")
N_EVAL = 52
REPEATS = 3
FLOOR_RATIO = 200  # the acceptance floor (whole process, series-weeks per second vs R)
AIM_RATIO = 1000


def log(msg: str) -> None:
    print(f"bench_farrington: {msg}", file=sys.stderr, flush=True)


CPU_SECONDS: dict[str, list[float]] = {}  # command key -> CPU seconds (user + system) of each run


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# Without PYTHONDONTWRITEBYTECODE (set in some shells and CI jobs), so that the warm-up run writes the byte-code
# of freshly edited modules, as an installed package has it; otherwise every timed run compiles them (~0.03 s).
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(cmd: list[str], key: str = "") -> float:
    """Wall seconds of ``cmd``; its CPU seconds (less sensitive to other jobs) go to ``CPU_SECONDS[key]``."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=_ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    CPU_SECONDS.setdefault(key, []).append(_children_cpu() - c0)
    return wall


def read_result(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(ROOT / path, newline="") as fh:
        return {(r["series"], r["period_start"]): r for r in csv.DictReader(fh)}


def dates_of(path: Path) -> list[str]:
    with open(ROOT / path, newline="") as fh:
        return sorted({r["period_start"] for r in csv.DictReader(fh)})


def in_process_seconds(first: str) -> tuple[float, int]:
    """Time the library call alone (best of REPEATS) on the panel loaded once."""
    import numpy as np

    from dhnet.surveillance import Frequency, Panel, evaluation_indices
    from dhnet.surveillance.farrington import noufaily_preset, run

    with open(ROOT / INPUT, newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = list(dict.fromkeys(r["series"] for r in rows))
    dates = sorted({r["period_start"] for r in rows})
    ni = {n: i for i, n in enumerate(names)}
    di = {d: i for i, d in enumerate(dates)}
    counts = np.zeros((len(names), len(dates)))
    for r in rows:
        counts[ni[r["series"]], di[r["period_start"]]] = float(r["count"])
    panel = Panel(
        names=tuple(names), dates=np.array(dates, dtype="datetime64[D]"), counts=counts, freq=Frequency.WEEKLY
    )
    idx = evaluation_indices(panel, first)
    run(panel, noufaily_preset(), idx)
    best = math.inf
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        run(panel, noufaily_preset(), idx)
        best = min(best, time.perf_counter() - t0)
    return best, panel.n_series * idx.size


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    all_dates = dates_of(INPUT)
    first = all_dates[-N_EVAL]
    r_out, py_out = OUT / "farrington_r.csv", OUT / "farrington_dhnet.csv"
    r_cmd = ["Rscript", "--vanilla", "tools/r/bench_farrington.R", str(INPUT), str(r_out), str(N_EVAL)]
    dhnet = str(Path(".venv/bin/dhnet"))
    py_cmd = [dhnet, "detect", str(INPUT), "--method", "farrington-flexible", "--preset", "noufaily"]
    py_cmd += ["--from", first, "--output", str(py_out), "--quiet"]
    trivial = [dhnet, "detect", "data/surveillance/salmonella_agona_uk_weekly.csv", "--method", "ears"]
    trivial += ["--from", "1995-12-18", "--output", str(OUT / "farrington_trivial.csv"), "--quiet"]
    load0 = os.getloadavg()

    have_r = shutil.which("Rscript") is not None and "--no-r" not in sys.argv[1:]
    r_seconds = math.nan
    if have_r:
        log("running R (about 1.5 minutes) ...")
        r_seconds = timed(r_cmd, "r")
    log("running dhnet detect ...")
    timed(py_cmd)  # warm the file cache and byte-code
    py_times = [timed(py_cmd, "dhnet") for _ in range(REPEATS)]
    py_seconds = statistics.median(py_times)
    trivial_seconds = statistics.median([timed(trivial, "trivial") for _ in range(REPEATS)])
    lib_seconds, n_fits = in_process_seconds(first)
    load1 = os.getloadavg()

    ours = read_result(py_out)
    n_sw = len(ours)
    agree = "R not available" if shutil.which("Rscript") is None else "R not run (--no-r)"
    mismatch = -1
    if have_r:
        theirs = read_result(r_out)
        assert set(theirs) == set(ours), "R and dhnet evaluated different (series, period) pairs"
        mismatch = sum((theirs[k]["alarm"] == "1") != (ours[k]["alarm"] == "1") for k in ours)
        n_alarm = sum(theirs[k]["alarm"] == "1" for k in ours)
        n_na = sum(theirs[k]["alarm"] == "" for k in ours)
        worst = 0.0
        for k in ours:
            a, b = theirs[k]["upperbound"], ours[k]["upperbound"]
            if (a == "") != (b == ""):
                worst = math.inf
            elif a:
                x, y = float(a), float(b)
                worst = max(worst, abs(x - y) / max(abs(x), 1e-300) if x != y else 0.0)
        agree = (
            f"alarms identical: **{'yes' if mismatch == 0 else f'no ({mismatch} differ)'}** "
            f"({n_alarm} alarms in R, {n_na} series-weeks where R's fit fails and both report none); "
            f"largest relative difference of the upper bounds: {worst:.1e}"
        )

    def rate(sec: float) -> str:
        return f"{n_sw / sec:,.0f}" if sec == sec else "n/a"

    def cpu(key: str) -> str:
        runs = CPU_SECONDS.get(key)
        return f"{statistics.median(runs):.2f}" if runs else "n/a"

    print("## farrington-flexible: R surveillance::farringtonFlexible vs dhnet (Noufaily settings)")
    print()
    print(
        f"All {n_sw // N_EVAL} districts of `{INPUT}`, last {N_EVAL} weeks (from {first}), "
        "`noufaily` preset (b=5, w=3, noPeriods=10, pastWeeksNotIncluded=26, weightsThreshold=2.58, "
        "pThresholdTrend=1, nbPlugin, alpha=0.05, limit54=c(5,4)). Each command is timed as a whole process."
    )
    print()
    print("```")
    print(" ".join(r_cmd))
    print(" ".join(py_cmd))
    print("```")
    print()
    print("| what | seconds | CPU seconds | series-weeks/s |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| R `farringtonFlexible` (whole process) | {r_seconds:.1f} | {cpu('r')} | {rate(r_seconds)} |")
    print(
        f"| `dhnet detect` (whole process, median of {REPEATS}) | {py_seconds:.2f} | {cpu('dhnet')} | "
        f"{rate(py_seconds)} |"
    )
    print(
        f"| `dhnet detect` start-up floor (1 series, EARS, median of {REPEATS}) | {trivial_seconds:.2f} | "
        f"{cpu('trivial')} | |"
    )
    print(
        f"| library call only (`farrington.run`, in-process, best of {REPEATS}) | {lib_seconds:.3f} | | "
        f"{n_fits / lib_seconds:,.0f} |"
    )
    print()
    if have_r:
        ratio = r_seconds / py_seconds
        print(
            f"Speed-up of the whole process: **{ratio:.0f}x** "
            f"(R time / `dhnet detect` time); of the computation alone: {r_seconds / lib_seconds:.0f}x. "
            f"Floor of the issue: {FLOOR_RATIO}x with identical alarms: "
            f"**{'met' if ratio >= FLOOR_RATIO and mismatch == 0 else 'not met'}** (aim {AIM_RATIO}x)."
        )
        print()
    print(agree + ".")
    print()
    from dhnet.surveillance import _glm

    print(
        "IRLS of the fits with a trend: "
        + (
            "compiled kernel (`dhnet.surveillance._irls`, built by `pip install -e .`)."
            if _glm.kernel is not None
            else "**numpy path** (the compiled kernel is not built, or DHNET_NO_CKERNEL is set)."
        )
    )
    print()
    print(
        f"Load average (1 min) {load0[0]:.1f} at the start, {load1[0]:.1f} at the end, on {os.cpu_count()} cores "
        "shared with other jobs: timings vary with it (CPU seconds, user + system of the process and its threads, "
        "vary less)."
    )


if __name__ == "__main__":
    main()
