"""``dhnet detect``, ``dhnet evaluate`` and ``dhnet simulate``: the detection engine on the command line.

``dhnet detect INPUT --method METHOD [method options] [--preset P] [--from DATE] [--to DATE]
[--fill-missing zero] [--week-system iso|mmwr] [--dask ADDRESS|local:N] [--plot FILE] [--quiet] --output OUTPUT``

* INPUT: CSV or Parquet, columns ``series, period_start, count`` (+ ``population``); see
  :mod:`dhnet.cli._io` for the validation rules (series contiguous, calendars, missing periods).
* Method options are the fields of the method's settings dataclass in kebab-case
  (``--past-weeks-not-included 26``, ``--no-trend``, ``--limit54 5,4``, ``--alpha none``); see
  :mod:`dhnet.cli._options`.  ``--preset`` applies one of the method's presets first.
* ``--from``/``--to`` select the evaluated periods (inclusive; a date inside a series' span must be
  one of its period starts); earlier periods are history.  Without them every period is evaluated,
  which most methods refuse (they need history): the error says how much.
* OUTPUT (CSV, or Parquet for ``.parquet``/``.pq``):
  ``series, period_start, observed, expected, upperbound, alarm, score`` for the evaluated periods,
  series in input order.  Written to a temporary file and renamed: nothing is written on error.
* Bad input or settings: exit status 2 and one line on stderr naming the file, the data row
  (1-based, header not counted) and the series.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from dhnet.cli import main
from dhnet.cli._errors import EXIT_BAD_INPUT, InputError

DEFAULT_BATCH_SERIES = 20_000


def _fail(ctx: click.Context, command: str, exc: InputError | str) -> NoReturn:
    click.echo(f"dhnet {command}: error: {exc}", err=True)
    ctx.exit(EXIT_BAD_INPUT)
    raise AssertionError("unreachable")  # pragma: no cover


def _parse_date(flag: str, value: str | None) -> Any:
    if value is None:
        return None
    import numpy as np

    text = value.strip()
    try:
        if len(text) != 10:
            raise ValueError
        _dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{flag} {value!r} is not an ISO date (YYYY-MM-DD)") from None
    return np.datetime64(text, "D")


# --------------------------------------------------------------------------------------------------
# detect
# --------------------------------------------------------------------------------------------------


def _method_from_args(args: Sequence[str]) -> str | None:
    for i, token in enumerate(args):
        if token == "--":
            return None
        if token == "--method" and i + 1 < len(args):
            return args[i + 1]
        if token.startswith("--method="):
            return token.split("=", 1)[1]
    return None


def _control_type(method: str | None) -> type[Any] | None:
    if method is None:
        return None
    from dhnet.surveillance import registry

    try:
        return registry.get(method).control_type
    except ValueError:
        return None


_gc_paused = False


def _pause_gc() -> None:
    """Cyclic garbage collector off for the start-up of a run (see :meth:`DetectCommand.make_context`)."""
    global _gc_paused
    if gc.isenabled():
        gc.disable()
        _gc_paused = True


def _resume_gc() -> None:
    global _gc_paused
    if _gc_paused:
        _gc_paused = False
        gc.enable()


class DetectCommand(click.Command):
    """Separates method options (fields of the method's settings) from the command's own options."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        """Parsing imports the method (numpy and the engine), the run pyarrow: some 100,000 objects, for which
        the cyclic garbage collector would run dozens of times for nothing (about 10 ms of a 0.4 s run).  It is
        off from here until the batches are about to run (:func:`_detect`), and on again whatever happens."""
        _pause_gc()
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BaseException:
            _resume_gc()
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        finally:
            _resume_gc()

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from dhnet.cli._options import split_args

        own: dict[str, bool] = {}
        for param in self.params:
            if isinstance(param, click.Option):
                for opt in (*param.opts, *param.secondary_opts):
                    own[opt] = not param.is_flag
        for opt in ctx.help_option_names:
            own[opt] = False
        method = _method_from_args(args)
        ctx.meta["dhnet.method"] = method
        kept, method_args = split_args(args, own, _control_type(method))
        ctx.meta["dhnet.method_args"] = method_args
        return super().parse_args(ctx, kept)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from dhnet.cli._options import describe_options
        from dhnet.surveillance import registry

        names = registry.names()
        with formatter.section("Methods"):
            if names:
                formatter.write_dl([(n, registry.get(n).summary) for n in names])
            else:
                formatter.write_text("(no method registered)")
        method = ctx.meta.get("dhnet.method")
        if method in names:
            spec = registry.get(method)
            with formatter.section(f"Options of --method {method}"):
                formatter.write_dl(describe_options(spec.control_type))
                if spec.presets:
                    formatter.write_text("Presets: " + ", ".join(sorted(spec.presets)))
        else:
            formatter.write_paragraph()
            formatter.write_text("Add --method NAME to --help to list that method's options.")


@main.command(cls=DetectCommand, short_help="Detect aberrations in every series of a CSV or Parquet file.")
@click.argument("input_path", metavar="INPUT")
@click.option("--method", required=True, help="Detection method (see Methods below).")
@click.option("--preset", default=None, help="Apply a preset of the method (e.g. noufaily, farrington) first.")
@click.option("--from", "start", default=None, metavar="DATE", help="First evaluated period (ISO date).")
@click.option("--to", "end", default=None, metavar="DATE", help="Last evaluated period (ISO date).")
@click.option(
    "--fill-missing", type=click.Choice(["zero"]), default=None, help="Insert missing periods with a zero count."
)
@click.option(
    "--week-system",
    type=click.Choice(["iso", "mmwr"]),
    default="iso",
    show_default=True,
    help="Weekly periods start on Monday (ISO) or Sunday (CDC/MMWR).",
)
@click.option("--dask", "dask_address", default=None, metavar="ADDRESS|local:N", help="Run on a Dask cluster.")
@click.option("--plot", "plot_path", default=None, metavar="FILE", help="Write an HTML page (or .png) of the alarms.")
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
@click.option(
    "--batch-series",
    type=click.IntRange(min=1),
    default=DEFAULT_BATCH_SERIES,
    show_default=True,
    help="Series per batch (memory vs. vectorisation).",
)
@click.option("--output", "output_path", required=True, metavar="OUTPUT", help="Output CSV (or .parquet).")
@click.pass_context
def detect(
    ctx: click.Context,
    input_path: str,
    method: str,
    preset: str | None,
    start: str | None,
    end: str | None,
    fill_missing: str | None,
    week_system: str,
    dask_address: str | None,
    plot_path: str | None,
    quiet: bool,
    batch_series: int,
    output_path: str,
) -> None:
    """Detect aberrations in every series of INPUT and write the evaluated periods to OUTPUT.

    INPUT is a CSV or Parquet file with columns series, period_start, count
    (and optionally population; other columns are ignored).  The rows of a
    series must be contiguous (a series re-appearing after another one is an
    error: sort the file by series); the frequency (daily, weekly, monthly) is
    inferred per series.  Method options are the method's settings in
    kebab-case (R's control names), e.g. --alpha 0.01 --no-trend --limit54 5,4;
    "none" sets an optional value to None.

    OUTPUT has the columns series, period_start, observed, expected,
    upperbound, alarm (0/1), score for the periods --from..--to (empty where a
    value is undefined).  On bad input or settings nothing is written and the
    exit status is 2, with one line on stderr naming the file, the data row
    (1-based, header not counted; "row" in Parquet files) and the series.
    """
    try:
        summary = _detect(
            input_path=input_path,
            method=method,
            preset=preset,
            start=start,
            end=end,
            method_args=ctx.meta.get("dhnet.method_args", []),
            fill_missing=fill_missing == "zero",
            week_system=week_system,
            dask_address=dask_address,
            plot_path=plot_path,
            quiet=quiet,
            batch_series=batch_series,
            output_path=output_path,
        )
    except InputError as exc:
        _fail(ctx, "detect", exc)
    if not quiet:
        click.echo(summary, err=True)


def build_control(method: str, preset: str | None, method_args: Sequence[str]) -> Any:
    """The settings object from the registry, the preset and the command-line method options."""
    from dhnet.cli._options import parse_method_options
    from dhnet.surveillance import make_control, registry

    try:
        spec = registry.get(method)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    options = parse_method_options(method, spec.control_type, method_args)
    try:
        return make_control(method, preset, **options)
    except (ValueError, TypeError) as exc:
        raise InputError(f"invalid settings for method {method!r}: {exc}") from None


class _Progress:
    """A tqdm bar on stderr, shown once the input has proved large (more than ``min_chunks`` batches)."""

    def __init__(self, source: Any, enabled: bool, min_chunks: int = 2) -> None:
        self.source = source
        self.enabled = enabled
        self.min_chunks = min_chunks
        self.chunks = 0
        self.series = 0
        self.bar: Any = None

    def step(self, n_series: int) -> None:
        self.chunks += 1
        self.series += n_series
        if not self.enabled:
            return
        if self.bar is None and self.chunks > self.min_chunks:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.source.progress_total,
                unit=self.source.unit,
                unit_scale=True,
                desc="dhnet detect",
                file=sys.stderr,
                dynamic_ncols=True,
                mininterval=0.5,
            )
        if self.bar is not None:
            done = self.source.progress_done()
            self.bar.update(max(0, done - self.bar.n))
            self.bar.set_postfix_str(f"{self.series:,} series", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            total = self.source.progress_total
            if total is not None:
                self.bar.update(max(0, total - self.bar.n))
            self.bar.close()
            self.bar = None


_MMAP_THRESHOLD = 32 << 20  # glibc's largest (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
_TRIM_THRESHOLD = 1 << 30


def _keep_freed_memory() -> None:
    """Let glibc's ``malloc`` keep freed large blocks for reuse (``mallopt``) instead of returning them.

    The detection methods work on arrays of a few MB that are allocated and freed many times per run; by
    default glibc serves them with ``mmap`` and unmaps them when freed, so every reallocation faults its
    pages in again (zero-filled by the kernel: about a third of ``dhnet detect``'s system time on the
    influenza benchmark).  A short-lived command line process can keep them: blocks up to 32 MB come from
    the heap, and up to 1 GB of free heap is kept.  No effect elsewhere than glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # pragma: no cover - not glibc (e.g. musl)
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    mallopt(-3, _MMAP_THRESHOLD)  # M_MMAP_THRESHOLD
    mallopt(-1, _TRIM_THRESHOLD)  # M_TRIM_THRESHOLD


def _detect(
    *,
    input_path: str,
    method: str,
    preset: str | None,
    start: str | None,
    end: str | None,
    method_args: Sequence[str],
    fill_missing: bool,
    week_system: str,
    dask_address: str | None,
    plot_path: str | None,
    quiet: bool,
    batch_series: int,
    output_path: str,
) -> str:
    from dhnet.cli._engine import ChunkResult, run_chunk
    from dhnet.cli._io import OutputWriter, SeriesAssembler, open_source

    _keep_freed_memory()
    control = build_control(method, preset, method_args)
    t0, t1 = _parse_date("--from", start), _parse_date("--to", end)
    if t0 is not None and t1 is not None and t1 < t0:
        raise InputError(f"--to {end} is before --from {start}")
    if dask_address is not None:
        from dhnet.cli._dask import parse_address

        parse_address(dask_address)  # fail early on a malformed address
    if plot_path is not None and Path(plot_path).suffix.lower() not in (".html", ".htm", ".png"):
        raise InputError("--plot must end with .html, .htm or .png", file=plot_path)
    source = open_source(input_path)
    assembler = SeriesAssembler(source, batch_series=batch_series, fill_missing=fill_missing, week_system=week_system)
    try:
        writer = OutputWriter(output_path)
    except BaseException:
        source.close()
        raise
    chunks = assembler.chunks()
    _resume_gc()  # start-up is over: what the batches allocate is collected as usual
    collector = None
    if plot_path is not None:
        from dhnet.cli._plot import HTML_LIMIT, PNG_LIMIT, AlarmPlotCollector

        collector = AlarmPlotCollector(PNG_LIMIT if plot_path.lower().endswith(".png") else HTML_LIMIT)
    progress = _Progress(source, enabled=not quiet)
    plot_tmp: Path | None = None
    n_rows = n_alarms = 0
    try:

        def consume(results: Iterator[ChunkResult]) -> None:
            nonlocal n_rows, n_alarms
            for res in results:
                writer.write(res.table)
                n_rows += res.table.num_rows
                if res.table.num_rows:
                    from dhnet.cli import _arrow

                    n_alarms += int(_arrow.to_numpy(res.table.column("alarm")).sum())
                if collector is not None:
                    collector.add(res)
                progress.step(res.n_series)

        if dask_address is None:
            consume(run_chunk(c, method, control, t0, t1) for c in chunks)
        else:
            from dhnet.cli._dask import dask_client, map_ordered

            with dask_client(dask_address) as client:
                consume(map_ordered(client, run_chunk, chunks, method, control, t0, t1))
        progress.close()
        if collector is not None and plot_path is not None:
            plot_tmp = _write_plot(collector, plot_path, input_path, method, preset, method_args, week_system)
        writer.commit()
        if plot_tmp is not None and plot_path is not None:
            os.replace(plot_tmp, plot_path)
            plot_tmp = None
    except InputError as exc:
        writer.abort()
        raise (exc if exc.file is not None else exc.with_file(input_path, source.row_kind)) from None
    except BaseException:
        writer.abort()
        raise
    finally:
        progress.close()
        chunks.close()
        source.close()
        if plot_tmp is not None:
            plot_tmp.unlink(missing_ok=True)
    return (
        f"dhnet detect: {assembler.n_series:,} series, {n_rows:,} evaluated periods, {n_alarms:,} alarms "
        f"-> {output_path}" + (f" (plot: {plot_path})" if plot_path else "")
    )


def _write_plot(
    collector: Any,
    plot_path: str,
    input_path: str,
    method: str,
    preset: str | None,
    method_args: Sequence[str],
    week_system: str,
) -> Path:
    from dhnet.cli._io import atomic_write_bytes
    from dhnet.cli._plot import render_html, render_png

    settings = " ".join([f"--preset {preset}"] if preset else []) + (" " if preset and method_args else "")
    settings += " ".join(method_args)
    meta = [f"Input: {input_path}", f"Method: {method}" + (f" ({settings})" if settings else "")]
    title = f"dhnet detect: {method} alarms"
    if plot_path.lower().endswith(".png"):
        data = render_png(collector, title=title, meta=meta)
    else:
        data = render_html(collector, title=title, meta=meta, week_system=week_system).encode("utf-8")
    return atomic_write_bytes(plot_path, data)


# --------------------------------------------------------------------------------------------------
# evaluate
# --------------------------------------------------------------------------------------------------

QUALITY_COLUMNS = (
    "level",
    "series",
    "periods",
    "TP",
    "FP",
    "TN",
    "FN",
    "sens",
    "spec",
    "dist",
    "mlag",
    "outbreaks",
    "detected",
    "pod",
    "fpr",
)


def _read_table(path: str, columns: Sequence[str], role: str) -> Any:
    """Read the needed columns of a CSV or Parquet file as an Arrow table (series as text)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from dhnet.cli._io import is_parquet

    if not os.path.isfile(path):
        raise InputError("no such file", file=path)
    try:
        if is_parquet(path):
            names = pq.ParquetFile(path).schema_arrow.names
            missing = [c for c in columns if c not in names]
            if missing:
                raise InputError(f"missing column(s) {', '.join(missing)} in the {role} file", file=path)
            table = pq.read_table(path, columns=list(columns))
        else:
            types = {"series": pa.string(), "period_start": pa.date32()}
            head = pacsv.open_csv(path).schema.names
            missing = [c for c in columns if c not in head]
            if missing:
                raise InputError(f"missing column(s) {', '.join(missing)} in the {role} file", file=path)
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(column_types=types, include_columns=list(columns)),
            )
    except pa.ArrowInvalid as exc:
        raise InputError(f"cannot read the {role} file: {' '.join(str(exc).split())}", file=path) from None
    cols = {}
    for c in columns:
        arr = table.column(c).combine_chunks()
        if pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_decode()
        if c == "series" and not pa.types.is_string(arr.type):
            arr = arr.cast(pa.string())
        if c == "period_start" and not pa.types.is_date32(arr.type):
            arr = arr.cast(pa.date32())
        cols[c] = arr
    return pa.table(cols)


def _binary(table: Any, column: str, path: str, row_kind: str) -> Any:
    import numpy as np

    arr = table.column(column)
    values = arr.to_numpy(zero_copy_only=False)
    ok = ~arr.is_null().to_numpy(zero_copy_only=False)
    ok &= np.isin(np.nan_to_num(values.astype(float), nan=-1.0), (0.0, 1.0))
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InputError(
            f"{column} must be 0 or 1, got {values[i]!r}",
            file=path,
            row=i + 1,
            series=table.column("series")[i].as_py(),
            row_kind=row_kind,
        )
    return values.astype(float).astype(bool)


def evaluate_files(input_path: str, alarms_path: str, penalty: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-series and overall quality of the alarms of ``alarms_path`` against the outbreaks of ``input_path``."""
    import numpy as np
    import pyarrow as pa

    from dhnet.cli._io import is_parquet
    from dhnet.surveillance.evaluation import pool, quality_segments

    kind_in = "row" if is_parquet(input_path) else "data row"
    kind_al = "row" if is_parquet(alarms_path) else "data row"
    truth = _read_table(input_path, ("series", "period_start", "outbreak"), "input")
    alarms = _read_table(alarms_path, ("series", "period_start", "alarm"), "alarms")
    state = _binary(truth, "outbreak", input_path, kind_in)
    alarm = _binary(alarms, "alarm", alarms_path, kind_al)
    for t, path, kind in ((truth, input_path, kind_in), (alarms, alarms_path, kind_al)):
        for c in ("series", "period_start"):
            if t.column(c).null_count:
                i = int(np.flatnonzero(t.column(c).is_null().to_numpy(zero_copy_only=False))[0])
                raise InputError(f"{c} is missing", file=path, row=i + 1, row_kind=kind)
    left = pa.table(
        {
            "series": truth.column("series"),
            "period_start": truth.column("period_start"),
            "state": pa.array(state),
            "in_row": pa.array(np.arange(1, truth.num_rows + 1)),
        }
    )
    right = pa.table(
        {
            "series": alarms.column("series"),
            "period_start": alarms.column("period_start"),
            "alarm": pa.array(alarm),
            "al_row": pa.array(np.arange(1, alarms.num_rows + 1)),
        }
    )
    for t, path, kind, row_col in ((left, input_path, kind_in, "in_row"), (right, alarms_path, kind_al, "al_row")):
        counts = t.group_by(["series", "period_start"]).aggregate([(row_col, "max"), ([], "count_all")])
        dup = counts.filter(pa.compute.greater(counts.column("count_all"), 1))
        if dup.num_rows:
            raise InputError(
                f"duplicate period {dup.column('period_start')[0]}",
                file=path,
                row=int(dup.column(f"{row_col}_max")[0].as_py()),
                series=dup.column("series")[0].as_py(),
                row_kind=kind,
            )
    joined = right.join(left, keys=["series", "period_start"], join_type="left outer")
    unmatched = joined.filter(joined.column("state").is_null())
    if unmatched.num_rows:
        first = unmatched.sort_by("al_row")
        raise InputError(
            f"period {first.column('period_start')[0]} has no outbreak label in {input_path}",
            file=alarms_path,
            row=int(first.column("al_row")[0].as_py()),
            series=first.column("series")[0].as_py(),
            row_kind=kind_al,
        )
    # Series in order of first appearance in the alarms file, periods in time order.
    first_row = joined.group_by("series").aggregate([("al_row", "min")])
    order_of = dict(
        zip(first_row.column("series").to_pylist(), first_row.column("al_row_min").to_pylist(), strict=True)
    )
    joined = joined.append_column(
        "series_order", pa.array([order_of[s] for s in joined.column("series").to_pylist()], type=pa.int64())
    )
    joined = joined.sort_by([("series_order", "ascending"), ("period_start", "ascending")])
    series = joined.column("series").to_numpy(zero_copy_only=False)
    n = series.size
    starts = np.flatnonzero(np.concatenate(([True], series[1:] != series[:-1]))) if n else np.empty(0, np.int64)
    offsets = np.append(starts, n)
    qs = quality_segments(
        joined.column("state").to_numpy(zero_copy_only=False).astype(bool),
        joined.column("alarm").to_numpy(zero_copy_only=False).astype(bool),
        offsets,
        penalty,
    )
    rows = [{"level": "series", "series": str(series[s]), **q.as_dict()} for s, q in zip(starts, qs, strict=True)]
    overall = {"level": "overall", "series": "", **pool(qs).as_dict()}
    return rows, overall


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _text_value(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def _print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    cells = [[str(c) for c in columns]] + [[_text_value(r[c]) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for row in cells:
        click.echo(
            "  ".join(
                cell.rjust(w) if k > 1 else cell.ljust(w) for k, (cell, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )


@main.command(short_help="Sensitivity, specificity, POD, FPR and delay of alarms (R's algo.quality).")
@click.argument("input_path", metavar="INPUT")
@click.option("--alarms", "alarms_path", required=True, metavar="ALARMS", help="Output of dhnet detect.")
@click.option("--output", "output_path", default=None, metavar="FILE", help="Write the table (CSV, or JSON for .json).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--penalty", default=20, show_default=True, type=click.IntRange(min=0), help="Delay of a missed outbreak."
)
@click.pass_context
def evaluate(
    ctx: click.Context, input_path: str, alarms_path: str, output_path: str | None, as_json: bool, penalty: int
) -> None:
    """Sensitivity, specificity, POD, FPR and delay of ALARMS against the outbreak column of INPUT.

    As R's algo.quality, per series and overall, over the periods present in
    ALARMS.  An outbreak episode is a run of consecutive outbreak=1 periods
    of one series; POD is the share of episodes with an alarm during the
    episode; FPR the share of outbreak-free periods with an alarm; mlag the
    mean delay from the start of an episode to the first alarm (PENALTY when
    none within PENALTY periods), as R.
    """
    try:
        rows, overall = evaluate_files(input_path, alarms_path, penalty)
        if output_path is not None:
            _write_quality(output_path, [*rows, overall])
    except InputError as exc:
        _fail(ctx, "evaluate", exc)
    if as_json:
        doc = {
            "overall": {k: _json_value(v) for k, v in overall.items() if k not in ("level", "series")},
            "series": [{k: _json_value(v) for k, v in r.items() if k != "level"} for r in rows],
            "penalty": penalty,
        }
        click.echo(json.dumps(doc, indent=1))
        return
    shown = rows if len(rows) <= 50 else []
    _print_table([*shown, overall], QUALITY_COLUMNS)
    if len(rows) > 50:
        click.echo(f"({len(rows)} series: per-series rows omitted; use --output FILE or --json)", err=True)


def _write_quality(path: str, rows: Sequence[dict[str, Any]]) -> None:
    import csv
    import io

    from dhnet.cli._io import atomic_write_bytes

    if path.lower().endswith(".json"):
        data = json.dumps([{k: _json_value(v) for k, v in r.items()} for r in rows], indent=1).encode()
    else:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(QUALITY_COLUMNS)
        for r in rows:
            w.writerow(["" if isinstance(r[c], float) and math.isnan(r[c]) else r[c] for c in QUALITY_COLUMNS])
        data = buf.getvalue().encode()
    tmp = atomic_write_bytes(path, data)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------
# simulate
# --------------------------------------------------------------------------------------------------


@main.command(short_help="Simulated series with outbreaks (Noufaily et al. 2013); FPR/POD of methods.")
@click.option("--output", "output_path", required=True, metavar="FILE", help="Simulated long CSV (or .parquet).")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the random generator.")
@click.option("--weeks", default=624, show_default=True, type=click.IntRange(min=100), help="Weeks per series.")
@click.option("--replicates", default=10, show_default=True, type=click.IntRange(min=1), help="Series per scenario.")
@click.option(
    "--method",
    "methods",
    multiple=True,
    metavar="METHOD[:PRESET]",
    help="Run a method on the last 49 weeks and print FPR/POD (repeatable).",
)
@click.option(
    "--by",
    type=click.Choice(["set", "scenario", "trend", "seasonality"]),
    default="set",
    show_default=True,
    help="Scenario grouping of the table.",
)
@click.option(
    "--penalty", default=20, show_default=True, type=click.IntRange(min=0), help="Delay of a missed outbreak."
)
@click.pass_context
def simulate(
    ctx: click.Context,
    output_path: str,
    seed: int,
    weeks: int,
    replicates: int,
    methods: tuple[str, ...],
    by: str,
    penalty: int,
) -> None:
    """Simulate the 42 scenarios of Noufaily et al. (2013) and optionally score methods on them.

    Writes the long table series, period_start, count, outbreak (series
    s<scenario>-r<replicate>).  With --method, each method runs on the last
    49 weeks of every series and a table of FPR (alarms in outbreak-free
    weeks) and POD (current outbreaks with an alarm) per scenario group is
    printed.
    """
    try:
        _simulate(output_path, seed, weeks, replicates, methods, by, penalty)
    except InputError as exc:
        _fail(ctx, "simulate", exc)


def _simulate(
    output_path: str, seed: int, weeks: int, replicates: int, methods: Sequence[str], by: str, penalty: int
) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from dhnet.cli._io import atomic_write_bytes, is_parquet
    from dhnet.surveillance import Frequency, Panel, SeriesError, registry
    from dhnet.surveillance.evaluation import pool, quality_segments
    from dhnet.surveillance.simulation import SCENARIOS, Design
    from dhnet.surveillance.simulation import simulate as run_simulation

    design = Design(weeks=weeks, past_window=(max(1, weeks - 311), weeks - 49)) if weeks != 624 else Design()
    controls = []
    for item in methods:
        name, _, preset = item.partition(":")
        controls.append((item, name, build_control(name, preset or None, [])))
    sim = run_simulation(replicates, seed=seed, design=design)
    n, t = sim.counts.shape
    table = pa.table(
        {
            "series": pa.array(np.repeat(np.asarray(sim.names, dtype=object), t), type=pa.string()),
            "period_start": pa.array(np.tile(sim.dates, n), type=pa.date32()),
            "count": pa.array(sim.counts.ravel()),
            "outbreak": pa.array(sim.outbreak.ravel().astype(np.int8)),
        }
    )
    buf = pa.BufferOutputStream()
    if is_parquet(output_path):
        pq.write_table(table, buf)
    else:
        pacsv.write_csv(table, buf)
    tmp = atomic_write_bytes(output_path, buf.getvalue().to_pybytes())
    os.replace(tmp, output_path)
    click.echo(
        f"dhnet simulate: {n} series ({len(SCENARIOS)} scenarios x {replicates} replicates) x {t} weeks, "
        f"seed {seed} -> {output_path}",
        err=True,
    )
    if not controls:
        return
    panel = Panel(names=sim.names, dates=sim.dates, counts=sim.counts.astype(float), freq=Frequency.WEEKLY)
    cur = design.current_weeks
    idx = np.arange(t - cur, t, dtype=np.intp)
    state = sim.outbreak[:, t - cur :]
    scen = {s.number: s for s in SCENARIOS}

    def group_of(number: int) -> str:
        s = scen[number]
        if by == "set":
            return f"set-{s.parameter_set}"
        if by == "scenario":
            return f"scenario-{s.number:02d}"
        if by == "trend":
            return "trend" if s.trend else "no-trend"
        return f"m={s.m}"

    groups = [group_of(int(s)) for s in sim.scenario]
    out_rows: list[dict[str, Any]] = []
    for label, name, control in controls:
        try:
            res = registry.get(name).run(panel, control, idx)
        except SeriesError as exc:
            raise InputError(f"method {label}: {exc}") from None
        qs = quality_segments(state.ravel(), res.alarm.ravel(), np.arange(0, n * cur + 1, cur), penalty)
        for g in dict.fromkeys(groups):
            sel = [q for q, gg in zip(qs, groups, strict=True) if gg == g]
            p = pool(sel)
            out_rows.append({"method": label, "group": g, "series": len(sel), **p.as_dict()})
        p = pool(qs)
        out_rows.append({"method": label, "group": "all", "series": n, **p.as_dict()})
    _print_table(out_rows, ("method", "group", "series", "fpr", "pod", "sens", "spec", "mlag", "outbreaks", "detected"))
