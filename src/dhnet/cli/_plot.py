"""``dhnet detect --plot``: the series with most alarms, as a self-contained HTML page or a PNG.

While the output streams by, :class:`AlarmPlotCollector` keeps only the
``limit`` series with most alarms (ties: input order) and totals.  The HTML
page is one file with inline SVG and inline CSS, no JavaScript and nothing
fetched from a network; the PNG is drawn with matplotlib's Agg backend.
"""

from __future__ import annotations

import datetime as _dt
import heapq
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from dhnet.cli._engine import ChunkResult

HTML_LIMIT = 50
PNG_LIMIT = 20


@dataclass
class SeriesPlot:
    name: str
    order: int
    dates: NDArray[np.datetime64]
    observed: NDArray[np.float64]
    expected: NDArray[np.float64]
    upperbound: NDArray[np.float64]
    alarm: NDArray[np.bool_]

    @property
    def n_alarms(self) -> int:
        return int(self.alarm.sum())


class AlarmPlotCollector:
    """Keeps the ``limit`` series with most alarms while chunks stream by."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._heap: list[tuple[int, int, SeriesPlot]] = []  # (alarms, -order, plot): the root is the weakest
        self.n_series = 0
        self.n_with_alarms = 0
        self.n_alarms = 0
        self.first: np.datetime64 | None = None
        self.last: np.datetime64 | None = None

    def add(self, result: ChunkResult) -> None:
        t = result.table
        if t.num_rows == 0:
            self.n_series += result.n_series
            return
        off = result.offsets
        alarm = t.column("alarm").to_numpy().astype(bool)
        counts = np.add.reduceat(alarm.astype(np.int64), off[:-1]) if off.size > 1 else np.zeros(0, np.int64)
        dates = t.column("period_start").to_numpy(zero_copy_only=False).astype("datetime64[D]")
        lo, hi = dates.min(), dates.max()
        self.first = lo if self.first is None else min(self.first, lo)
        self.last = hi if self.last is None else max(self.last, hi)
        self.n_with_alarms += int((counts > 0).sum())
        self.n_alarms += int(counts.sum())
        # Candidates: the chunk's own best `limit` series (most alarms, then input order).
        best = np.lexsort((np.arange(counts.size), -counts))[: self.limit]
        names = t.column("series")
        cols = {c: t.column(c).to_numpy(zero_copy_only=False) for c in ("observed", "expected", "upperbound")}
        for i in best.tolist():
            order = self.n_series + i
            key = (int(counts[i]), -order)
            if len(self._heap) >= self.limit and key <= self._heap[0][:2]:
                break  # the rest of `best` is weaker still
            s, e = int(off[i]), int(off[i + 1])
            plot = SeriesPlot(
                name=str(names[s].as_py()),
                order=order,
                dates=dates[s:e],
                observed=np.asarray(cols["observed"][s:e], dtype=float),
                expected=np.asarray(cols["expected"][s:e], dtype=float),
                upperbound=np.asarray(cols["upperbound"][s:e], dtype=float),
                alarm=alarm[s:e],
            )
            item = (key[0], key[1], plot)
            if len(self._heap) < self.limit:
                heapq.heappush(self._heap, item)
            else:
                heapq.heapreplace(self._heap, item)
        self.n_series += result.n_series

    def selected(self) -> list[SeriesPlot]:
        """The kept series, most alarms first, then input order."""
        return [p for _, _, p in sorted(self._heap, key=lambda x: (-x[0], -x[1]))]


# --------------------------------------------------------------------------------------------------
# HTML with inline SVG
# --------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#222;max-width:1100px}
h1{font-size:1.35rem;margin:0 0 .4rem}
p.meta{margin:.2rem 0;color:#444;font-size:.9rem}
.note{background:#fff6dd;border:1px solid #e8d18a;padding:.5rem .8rem;margin:.8rem 0;font-size:.9rem}
.legend span{display:inline-block;margin-right:1.2rem;font-size:.85rem}
.legend i{display:inline-block;width:18px;height:3px;vertical-align:middle;margin-right:.35rem}
figure{margin:1rem 0 1.4rem;border-top:1px solid #ddd;padding-top:.4rem}
figcaption{font-weight:600;font-size:.95rem}
figcaption small{font-weight:400;color:#555;margin-left:.5rem}
svg text{font-size:11px;fill:#444}
svg .obs{fill:#9db7d5}
svg .exp{fill:none;stroke:#1f4e8c;stroke-width:1.6}
svg .ub{fill:none;stroke:#d9822b;stroke-width:1.6;stroke-dasharray:5 3}
svg .al{fill:#c62828}
svg .ax{stroke:#888;stroke-width:1}
svg .grid{stroke:#e5e5e5;stroke-width:1}
"""

_W, _H = 1000, 190
_ML, _MR, _MT, _MB = 52, 12, 10, 28


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def _nice_max(v: float) -> float:
    if not math.isfinite(v) or v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * exp >= v:
            return float(m * exp)
    return float(10 * exp)  # pragma: no cover


def _label(d: np.datetime64, weekly: bool, week_system: str) -> str:
    day = d.astype(_dt.date)
    if not weekly:
        return str(d)
    from epiweeks import Week

    w = Week.fromdate(day, system="iso" if week_system == "iso" else "cdc")
    return f"{day.isoformat()} ({w.year}-W{w.week:02d})"


def _polyline(xs: Sequence[float], ys: NDArray[np.float64], y_of: object, cls: str) -> str:
    """Polyline(s) through finite points, broken at NaN."""
    out, seg = [], []
    for x, y in zip(xs, ys, strict=True):
        if math.isfinite(y):
            seg.append(f"{_fmt(x)},{_fmt(y_of(y))}")  # type: ignore[operator]
        elif seg:
            out.append(seg)
            seg = []
    if seg:
        out.append(seg)
    return "".join(f'<polyline class="{cls}" points="{" ".join(s)}"/>' for s in out if s)


def series_svg(p: SeriesPlot, week_system: str) -> str:
    n = p.dates.size
    finite = [a[np.isfinite(a)] for a in (p.observed, p.expected, p.upperbound)]
    top = _nice_max(max((float(a.max()) for a in finite if a.size), default=1.0))
    pw, ph = _W - _ML - _MR, _H - _MT - _MB
    step = pw / max(n, 1)

    def x_of(i: float) -> float:
        return _ML + (i + 0.5) * step

    def y_of(v: float) -> float:
        return _MT + ph * (1 - min(max(v, 0.0), top) / top)

    parts = [f'<svg viewBox="0 0 {_W} {_H}" width="100%" role="img">']
    for k in range(5):
        v = top * k / 4
        y = y_of(v)
        parts.append(f'<line class="grid" x1="{_ML}" x2="{_W - _MR}" y1="{_fmt(y)}" y2="{_fmt(y)}"/>')
        label = f"{v:g}" if v < 1e5 else f"{v:.3g}"
        parts.append(f'<text x="{_ML - 6}" y="{_fmt(y + 4)}" text-anchor="end">{label}</text>')
    bw = max(step * 0.8, 0.5)
    for i in range(n):
        v = p.observed[i]
        if math.isfinite(v) and v > 0:
            y = y_of(v)
            parts.append(
                f'<rect class="obs" x="{_fmt(x_of(i) - bw / 2)}" y="{_fmt(y)}" width="{_fmt(bw)}" '
                f'height="{_fmt(_MT + ph - y)}"><title>{p.dates[i]}: {v:g}</title></rect>'
            )
    xs = [x_of(i) for i in range(n)]
    parts.append(_polyline(xs, p.expected, y_of, "exp"))
    parts.append(_polyline(xs, p.upperbound, y_of, "ub"))
    r = max(min(step * 0.35, 4.5), 2.0)
    for i in np.flatnonzero(p.alarm).tolist():
        v = p.observed[i]
        ub = p.upperbound[i]
        tip = f"alarm {p.dates[i]}: observed {v:g}" + (f", upperbound {ub:.4g}" if math.isfinite(ub) else "")
        parts.append(
            f'<circle class="al" cx="{_fmt(x_of(i))}" cy="{_fmt(y_of(v))}" r="{_fmt(r)}">'
            f"<title>{html.escape(tip)}</title></circle>"
        )
    base = _MT + ph
    parts.append(f'<line class="ax" x1="{_ML}" x2="{_W - _MR}" y1="{_fmt(base)}" y2="{_fmt(base)}"/>')
    if n:
        weekly = n > 1 and int((p.dates[1] - p.dates[0]).astype(int)) == 7
        parts.append(f'<text x="{_ML}" y="{_H - 8}">{html.escape(_label(p.dates[0], weekly, week_system))}</text>')
        parts.append(
            f'<text x="{_W - _MR}" y="{_H - 8}" text-anchor="end">'
            f"{html.escape(_label(p.dates[-1], weekly, week_system))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(collector: AlarmPlotCollector, *, title: str, meta: Sequence[str], week_system: str = "iso") -> str:
    shown = collector.selected()
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    lines += [f'<p class="meta">{html.escape(m)}</p>' for m in meta]
    span = f"{collector.first} to {collector.last}" if collector.first is not None else "no period"
    lines.append(
        f'<p class="meta">{collector.n_series} series evaluated over {span}; '
        f"{collector.n_with_alarms} with at least one alarm; {collector.n_alarms} alarms in total.</p>"
    )
    if collector.n_series > len(shown):
        lines.append(
            f'<p class="note">Showing {len(shown)} of {collector.n_series} series: the {len(shown)} with most '
            f"alarms (ties in input order); the page shows at most {collector.limit}. "
            "The full results are in the output file.</p>"
        )
    lines.append(
        '<p class="legend"><span><i style="background:#9db7d5;height:10px"></i>observed</span>'
        '<span><i style="background:#1f4e8c"></i>expected</span>'
        '<span><i style="background:#d9822b"></i>threshold (upperbound)</span>'
        '<span><i style="background:#c62828;height:8px;width:8px;border-radius:4px"></i>alarm</span></p>'
    )
    for p in shown:
        lines.append(
            f"<figure><figcaption>{html.escape(p.name)}<small>{p.n_alarms} alarm"
            f"{'' if p.n_alarms == 1 else 's'}</small></figcaption>{series_svg(p, week_system)}</figure>"
        )
    if not shown:
        lines.append("<p>No series to show.</p>")
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"


def render_png(collector: AlarmPlotCollector, *, title: str, meta: Sequence[str]) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = collector.selected()
    cols = 2 if len(shown) > 4 else 1
    rows = max(1, math.ceil(len(shown) / cols))
    height = 2.1 * rows + 0.9
    fig = Figure(figsize=(7 * cols, height), dpi=100)
    FigureCanvasAgg(fig)
    note = f"{collector.n_series} series, {collector.n_alarms} alarms"
    if collector.n_series > len(shown):
        note += f"; showing the {len(shown)} with most alarms (at most {collector.limit})"
    fig.suptitle(f"{title}\n{' | '.join(meta)}\n{note}", fontsize=9)
    if not shown:
        fig.text(0.5, 0.5, "No series to show.", ha="center")
    for k, p in enumerate(shown):
        ax = fig.add_subplot(rows, cols, k + 1)
        x = p.dates.astype("datetime64[D]").astype(_dt.date)
        step = 0.8 * (float((p.dates[1] - p.dates[0]).astype(int)) if p.dates.size > 1 else 1.0)
        ax.bar(x, p.observed, width=step, color="#9db7d5", label="observed")
        ax.plot(x, p.expected, color="#1f4e8c", lw=1.2, label="expected")
        ax.plot(x, p.upperbound, color="#d9822b", lw=1.2, ls="--", label="upperbound")
        al = p.alarm
        if al.any():
            ax.plot(np.asarray(x)[al], p.observed[al], "o", color="#c62828", ms=4, label="alarm")
        ax.set_title(f"{p.name} ({p.n_alarms} alarms)", fontsize=8)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.7 / height))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
