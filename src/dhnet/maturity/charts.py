"""Pure builders of the maturity pages' charts (inline SVG, no JavaScript, no database).

Three charts, each readable without seeing it: a ``<title>`` and a ``<desc>`` that lists every value, the values
written as text next to the marks, and ``data-*`` attributes that name what each mark stands for (tests and
scripts read them).

- :func:`radar_svg` — the component scores of one assessment on a radar with rings at phases 1–5, optionally a
  second, dashed polygon for a comparison (the WHO region's mean, the targets). A component without a score (all
  its indicators not available) is marked "no score" on its axis and left out of the polygon rather than drawn
  at the centre, which would read as a score of 0.
- :func:`trend_svg` — overall and component scores across years (one line per series, the overall one thicker).
- :func:`phase_histogram_svg` — how many countries are in each phase 1–5, the bar of a chosen phase emphasised.

Phase colours (:data:`PHASE_COLOURS`) are shared with the map of phases and the tables, so that a phase looks
the same everywhere.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from dhnet.dashboard.svg import NO_DATA_COLOUR, esc

#: Sequential colours (ColorBrewer GnBu, 5 classes) of phases 1..5; "no published assessment" is the map's grey.
PHASE_COLOURS: dict[int, str] = {1: "#f0f9e8", 2: "#bae4bc", 3: "#7bccc4", 4: "#43a2ca", 5: "#0868ac"}
NO_PHASE_COLOUR = NO_DATA_COLOUR
#: Text colour that stays readable on each phase colour.
PHASE_TEXT: dict[int, str] = {1: "#1d2329", 2: "#1d2329", 3: "#1d2329", 4: "#ffffff", 5: "#ffffff"}
#: Line colours of the trend chart's component series (Okabe–Ito, readable by people with colour-vision deficiency).
SERIES_COLOURS = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7", "#999999")
OVERALL_COLOUR = "#1d2329"
#: Extra room left and right of the radar for its labels (viewBox units).
SIDE = 60
COMPARE_COLOUR = "#b30000"
VALUE_COLOUR = "#0868ac"


def score_text(value: float | None) -> str:
    """A score for people: one decimal (``3.0``, ``2.7``), ``no score`` for none."""
    return "no score" if value is None else f"{value:.1f}"


def _num(value: float) -> str:
    return f"{value:.1f}"


# --- radar -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Axis:
    """One spoke of the radar: a component, its score (None: no score) and the comparison's value."""

    label: str
    value: float | None
    compare: float | None = None


def _wrap(label: str, width: int = 18) -> list[str]:
    """A label broken into lines of about ``width`` characters at spaces (at most three lines)."""
    lines: list[str] = []
    for word in label.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    if len(lines) > 3:
        lines = [*lines[:2], " ".join(lines[2:])[: width - 1] + "…"]
    return lines or [""]


def radar_svg(
    axes: Sequence[Axis],
    *,
    title: str,
    value_label: str = "score",
    compare_label: str = "",
    svg_id: str = "radar",
    size: int = 420,
) -> str:
    """The radar of ``axes`` (scores 0–5 on rings 1–5); a dashed second polygon when any axis has ``compare``.

    Empty string for no axes. Fewer than three axes still draw (spokes and points; the polygon needs three).
    """
    if not axes:
        return ""
    n = len(axes)
    width = size + 2 * SIDE  # wider than tall: the labels left and right of the rings need the room
    cx, cy = width / 2, size / 2
    radius = size / 2 - 92  # room for the labels above and below the rings
    has_compare = any(a.compare is not None for a in axes)

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        r = radius * max(0.0, min(value, 5.0)) / 5
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    desc = "; ".join(
        f"{a.label}: {score_text(a.value)}"
        + (f" ({compare_label or 'comparison'} {score_text(a.compare)})" if has_compare else "")
        for a in axes
    )
    out = [
        f'<svg id="{esc(svg_id)}" class="radar" viewBox="0 0 {width} {size}" role="img" '
        f'aria-labelledby="{esc(svg_id)}-t {esc(svg_id)}-d" xmlns="http://www.w3.org/2000/svg" width="100%" '
        f'style="max-width:{width * 1.4:.0f}px">',
        f'<title id="{esc(svg_id)}-t">{esc(title)}</title>',
        f'<desc id="{esc(svg_id)}-d">{esc(desc)}</desc>',
        "<style>.radar text{font:13px system-ui,sans-serif;fill:#1d2329}.radar .ring{fill:none;stroke:#d5dbe0}"
        ".radar .spoke{stroke:#d5dbe0}.radar .rl{fill:#5b6670;font-size:10px}.radar .ns{fill:#5b6670;"
        "font-style:italic}</style>",
    ]
    for ring in range(1, 6):
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, ring) for i in range(n)))
        if n >= 3:
            out.append(f'<polygon class="ring" points="{pts}"/>')
        else:
            out.append(f'<circle class="ring" cx="{cx:.1f}" cy="{cy:.1f}" r="{radius * ring / 5:.1f}"/>')
        rx, ry = point(0, ring)
        out.append(f'<text class="rl" x="{rx + 3:.1f}" y="{ry + 10:.1f}">{ring}</text>')
    for i in range(n):
        x, y = point(i, 5)
        out.append(f'<line class="spoke" x1="{cx:.1f}" y1="{cy:.1f}" x2="{x:.1f}" y2="{y:.1f}"/>')
    if has_compare:
        out.append(
            _polygon([(i, a.compare) for i, a in enumerate(axes)], point, "compare", COMPARE_COLOUR, dashed=True)
        )
    out.append(_polygon([(i, a.value) for i, a in enumerate(axes)], point, "value", VALUE_COLOUR, dashed=False))
    for i, a in enumerate(axes):
        if a.value is not None:
            x, y = point(i, a.value)
            out.append(
                f'<circle class="pt" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{VALUE_COLOUR}" '
                f'data-component="{esc(a.label)}" data-score="{_num(a.value)}">'
                f"<title>{esc(a.label)}: {score_text(a.value)}</title></circle>"
            )
        if has_compare and a.compare is not None:
            x, y = point(i, a.compare)
            out.append(
                f'<circle class="cpt" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{COMPARE_COLOUR}" '
                f'data-component="{esc(a.label)}" data-compare="{_num(a.compare)}">'
                f"<title>{esc(a.label)}: {esc(compare_label or 'comparison')} {score_text(a.compare)}</title></circle>"
            )
        # the label outside the rings, with the value written out
        angle = -math.pi / 2 + 2 * math.pi * i / n
        lx, ly = cx + (radius + 14) * math.cos(angle), cy + (radius + 14) * math.sin(angle)
        anchor = "middle" if abs(math.cos(angle)) < 0.3 else ("start" if math.cos(angle) > 0 else "end")
        lines = _wrap(a.label)
        value_line = f"{value_label} {score_text(a.value)}"
        if has_compare:
            value_line += f" · {score_text(a.compare)}"
        lines.append(value_line)
        top = ly - (len(lines) - 1) * 14 if math.sin(angle) < -0.3 else ly if math.sin(angle) > 0.3 else ly - 6
        out.append(f'<text x="{lx:.1f}" y="{top + 4:.1f}" text-anchor="{anchor}" data-axis="{i}">')
        for k, line in enumerate(lines):
            css = ' class="ns"' if k == len(lines) - 1 and a.value is None else ""
            out.append(f'<tspan x="{lx:.1f}" dy="{0 if k == 0 else 14}"{css}>{esc(line)}</tspan>')
        out.append("</text>")
    out.append("</svg>")
    return "".join(out)


def _polygon(
    values: Sequence[tuple[int, float | None]],
    point: Callable[[int, float], tuple[float, float]],
    css: str,
    colour: str,
    *,
    dashed: bool,
) -> str:
    """The polygon through the axes that have a value (fewer than three: a polyline, or nothing)."""
    pts = [point(i, v) for i, v in values if v is not None]
    if not pts:
        return ""
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    if len(pts) < 3:
        return f'<polyline class="{css}" points="{coords}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
    fill = "none" if dashed else colour
    return (
        f'<polygon class="{css}" points="{coords}" fill="{fill}" fill-opacity="0.18" stroke="{colour}" '
        f'stroke-width="2"{dash}/>'
    )


# --- trend -----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One line of the trend chart: a name and a value (or None) per year of the chart."""

    name: str
    values: tuple[float | None, ...]
    overall: bool = False


def trend_svg(
    years: Sequence[int],
    series: Sequence[Series],
    *,
    title: str,
    svg_id: str = "trend",
    width: int = 640,
) -> str:
    """Scores across ``years`` (x) on a 0–5 scale (y, gridlines at phases 1–5), one line per series.

    Empty string for no years. A gap (None) breaks a line; a single year draws points only. The legend below the
    plot names each series with its colour and its latest value.
    """
    if not years:
        return ""
    for s in series:
        if len(s.values) != len(years):
            raise ValueError(f"series {s.name!r}: {len(s.values)} values for {len(years)} years")
    left, right, top, plot_h = 34, 16, 14, 200
    legend_rows = math.ceil(len(series) / 2)
    height = top + plot_h + 30 + legend_rows * 18 + 6
    plot_w = width - left - right
    n = len(years)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def y(v: float) -> float:
        return top + plot_h - max(0.0, min(v, 5.0)) / 5 * plot_h

    desc = "; ".join(
        f"{s.name}: " + ", ".join(f"{year} {score_text(v)}" for year, v in zip(years, s.values, strict=True))
        for s in series
    )
    out = [
        f'<svg id="{esc(svg_id)}" class="trend" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{esc(svg_id)}-t {esc(svg_id)}-d" xmlns="http://www.w3.org/2000/svg" width="100%" '
        f'style="max-width:{width * 1.2:.0f}px">',
        f'<title id="{esc(svg_id)}-t">{esc(title)}</title>',
        f'<desc id="{esc(svg_id)}-d">{esc(desc)}</desc>',
        "<style>.trend text{font:12px system-ui,sans-serif;fill:#5b6670}.trend .g{stroke:#e6eaed}"
        ".trend .lg{fill:#1d2329}</style>",
    ]
    for phase in range(0, 6):
        yy = y(phase)
        out.append(f'<line class="g" x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        out.append(f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end">{phase}</text>')
    for i, year in enumerate(years):
        out.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{year}</text>')
    ordered = [s for s in series if not s.overall] + [s for s in series if s.overall]  # overall drawn on top
    colours = _series_colours(series)
    for s in ordered:
        colour = colours[s.name]
        stroke = 3.5 if s.overall else 1.8
        for run in _runs(s.values):
            if len(run) > 1:
                pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
                out.append(
                    f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="{stroke}" '
                    f'data-series="{esc(s.name)}"/>'
                )
        for i, v in enumerate(s.values):
            if v is None:
                continue
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{4.5 if s.overall else 3}" fill="{colour}" '
                f'data-series="{esc(s.name)}" data-year="{years[i]}" data-score="{_num(v)}">'
                f"<title>{esc(s.name)} {years[i]}: {score_text(v)}</title></circle>"
            )
        if s.overall:
            for i, v in enumerate(s.values):
                if v is not None:
                    out.append(
                        f'<text x="{x(i):.1f}" y="{y(v) - 9:.1f}" text-anchor="middle" class="lg">{_num(v)}</text>'
                    )
    base = top + plot_h + 34
    for k, s in enumerate(series):
        lx = left + (k % 2) * (plot_w / 2)
        ly = base + (k // 2) * 18
        latest = next((v for v in reversed(s.values) if v is not None), None)
        out.append(
            f'<rect x="{lx:.1f}" y="{ly - 9:.1f}" width="14" height="{5 if s.overall else 3}" '
            f'fill="{colours[s.name]}"/>'
            f'<text class="lg" x="{lx + 20:.1f}" y="{ly:.1f}">{esc(s.name)}: {score_text(latest)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _series_colours(series: Sequence[Series]) -> dict[str, str]:
    colours: dict[str, str] = {}
    k = 0
    for s in series:
        if s.overall:
            colours[s.name] = OVERALL_COLOUR
        else:
            colours[s.name] = SERIES_COLOURS[k % len(SERIES_COLOURS)]
            k += 1
    return colours


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Consecutive stretches of defined values, with their indexes."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, v in enumerate(values):
        if v is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, float(v)))
    if current:
        runs.append(current)
    return runs


# --- histogram of phases ---------------------------------------------------------------------------------------------


def phase_histogram_svg(
    counts: Mapping[int, int],
    *,
    title: str,
    highlight: int | None = None,
    svg_id: str = "phases",
    width: int = 420,
) -> str:
    """Bars of the number of countries in each phase 1–5 (zero bars drawn as a baseline tick), each count written
    above its bar; ``highlight`` (a phase) is outlined and named "this country's phase" in its tooltip."""
    left, right, top, plot_h, bottom = 12, 12, 22, 150, 40
    height = top + plot_h + bottom
    plot_w = width - left - right
    bw = plot_w / 5
    most = max([counts.get(p, 0) for p in range(1, 6)] + [1])
    total = sum(counts.get(p, 0) for p in range(1, 6))
    desc = "; ".join(
        f"phase {p}: {counts.get(p, 0)} countr{'y' if counts.get(p, 0) == 1 else 'ies'}" for p in range(1, 6)
    )
    out = [
        f'<svg id="{esc(svg_id)}" class="phase-hist" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{esc(svg_id)}-t {esc(svg_id)}-d" xmlns="http://www.w3.org/2000/svg" width="100%" '
        f'style="max-width:{width * 1.2:.0f}px">',
        f'<title id="{esc(svg_id)}-t">{esc(title)}</title>',
        f'<desc id="{esc(svg_id)}-d">{esc(desc)} ({total} in all)</desc>',
        "<style>.phase-hist text{font:12px system-ui,sans-serif;fill:#1d2329}</style>",
    ]
    for p in range(1, 6):
        n = counts.get(p, 0)
        h = n / most * plot_h
        x0 = left + (p - 1) * bw
        y0 = top + plot_h - h
        outline = ' stroke="#1d2329" stroke-width="3"' if highlight == p else ' stroke="#5b6670" stroke-width=".6"'
        tip = f"Phase {p}: {_countries(n)}" + ("; this country's phase" if highlight == p else "")
        out.append(
            f'<rect x="{x0 + bw * 0.1:.1f}" y="{y0:.1f}" width="{bw * 0.8:.1f}" height="{max(h, 1):.1f}" '
            f'fill="{PHASE_COLOURS[p]}"{outline} data-phase="{p}" data-count="{n}"><title>{esc(tip)}</title></rect>'
        )
        out.append(f'<text x="{x0 + bw / 2:.1f}" y="{y0 - 5:.1f}" text-anchor="middle">{n}</text>')
        label = f"Phase {p}" + (" ◀" if highlight == p else "")
        out.append(f'<text x="{x0 + bw / 2:.1f}" y="{top + plot_h + 18}" text-anchor="middle">{esc(label)}</text>')
    out.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#5b6670"/>'
        f'<text x="{left}" y="{height - 6}" fill="#5b6670">countries per phase ({total} in all)</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _countries(n: int) -> str:
    return f"{n} countr{'y' if n == 1 else 'ies'}"


# --- the map of phases -----------------------------------------------------------------------------------------------


class Outline(Protocol):
    """A country's projected outline (``dhnet.atlas.maps.Outline``): alpha-2 code ("" when none), name, path."""

    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def d(self) -> str: ...


#: A shape wider than this share of the map does not set a region's crop.
WIDE_SHAPE = 0.3
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def path_bbox(d: str) -> tuple[float, float, float, float] | None:
    """The bounding box of a path written by ``dashboard.svg.ring_path`` (``M x y l dx dy … z`` per ring)."""
    xs: list[float] = []
    ys: list[float] = []
    for ring in d.split("M")[1:]:
        numbers = [float(n) for n in _NUMBER.findall(ring)]
        if len(numbers) < 2:
            continue
        x, y = numbers[0], numbers[1]
        xs.append(x)
        ys.append(y)
        for k in range(2, len(numbers) - 1, 2):
            x += numbers[k]
            y += numbers[k + 1]
            xs.append(x)
            ys.append(y)
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def phase_legend() -> list[tuple[str, str, str]]:
    """The map's legend: (label, colour, css class) for phases 1–5 and "no published assessment"."""
    return [(f"Phase {p}", PHASE_COLOURS[p], f"p{p}") for p in range(1, 6)] + [
        ("No published assessment", NO_PHASE_COLOUR, "nd")
    ]


def phase_map_svg(
    width: int,
    height: int,
    outlines: Sequence[Outline],
    phases: Mapping[str, int],
    *,
    title: str,
    names: Mapping[str, str] | None = None,
    href: Callable[[str], str] | None = None,
    focus: frozenset[str] | None = None,
    svg_id: str = "phasemap",
) -> str:
    """The world map with each country coloured by its phase (``phases``: alpha-2 -> 1..5; others "no published
    assessment"), each a link (``href(code)``) with a tooltip.

    With ``focus`` (a region's countries) the view box is cropped to those countries (clipped to the map's width;
    shapes wider than :data:`WIDE_SHAPE` of the map left out of the crop) and the other countries are drawn faded,
    without links.
    """
    names = names or {}
    box = (0.0, 0.0, float(width), float(height))
    if focus:
        boxes = [b for o in outlines if o.code in focus and (b := path_bbox(o.d)) is not None]
        # a country drawn across much of the map's width (Russia, whose outline is drawn on both sides of the
        # antimeridian) would widen the crop to the whole world: it is drawn, clipped, but does not set the crop
        narrow = [b for b in boxes if b[2] - b[0] <= WIDE_SHAPE * width]
        boxes = narrow or boxes
        if boxes:
            x0 = max(0.0, min(b[0] for b in boxes))
            y0 = max(0.0, min(b[1] for b in boxes))
            x1 = min(float(width), max(b[2] for b in boxes))
            y1 = min(float(height), max(b[3] for b in boxes))
            pad = 0.04 * max(x1 - x0, y1 - y0) + 4
            x0, y0 = max(0.0, x0 - pad), max(0.0, y0 - pad)
            box = (x0, y0, min(float(width), x1 + pad) - x0, min(float(height), y1 + pad) - y0)
    sid = esc(svg_id)
    rules = [
        f"#{sid} path{{stroke:rgba(29,35,41,.35);stroke-width:.6;fill-rule:evenodd;stroke-linejoin:round}}",
        f"#{sid} a:hover path,#{sid} a:focus path{{stroke:#1d2329;stroke-width:2}}",
        f"#{sid} path.out{{opacity:.35}}",
        f"#{sid} .nd{{fill:{NO_PHASE_COLOUR}}}",
        *(f"#{sid} .p{p}{{fill:{c}}}" for p, c in PHASE_COLOURS.items()),
    ]
    out = [
        f'<svg id="{sid}" class="map" viewBox="{box[0]:.0f} {box[1]:.0f} {box[2]:.0f} {box[3]:.0f}" role="img" '
        f'aria-label="{esc(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{esc(title)}</title>",
        "<style>" + "".join(rules) + "</style>",
    ]
    for outline in outlines:
        code = outline.code
        label = names.get(code, outline.name) if code else outline.name
        phase = phases.get(code) if code else None
        css = f"p{phase}" if phase else "nd"
        tip = f"{label}: phase {phase}" if phase else f"{label}: no published assessment"
        if focus and code not in focus:
            out.append(f'<path class="{css} out" d="{outline.d}"><title>{esc(tip)}</title></path>')
            continue
        link = href(code) if href and code else "#"
        out.append(
            f'<a href="{esc(link)}" data-code="{esc(code)}" data-phase="{phase or ""}"><path class="{css}" '
            f'd="{outline.d}"><title>{esc(tip)}</title></path></a>'
        )
    out.append("</svg>")
    return "".join(out)
