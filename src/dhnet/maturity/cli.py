"""``dhnet maturity``: score a self-assessment from a JSON file, import and export rubric files.

``dhnet maturity score INPUT.json [--rubric classic|current] [--json]`` scores ``{"indicators": {"1": 3, "2": -1,
...}}`` (indicator code -> phase 1..5, or -1 for not available) exactly as the GDHM does, with the rubric shipped
in the package: no database and no Django, so that it runs anywhere in a pipeline. ``--json`` prints
``{"components": [{"name", "score", "phase"}], "overall": {"score", "phase"}}``; without it, a table.

``dhnet maturity rubric import FILE.json`` and ``dhnet maturity rubric export CODE`` work on the database (the
operator acts, audited, like the other commands).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dhnet.cli import main


@main.group()
def maturity() -> None:
    """Digital health maturity: GDHM scoring, rubric import and export."""


def _error(message: str) -> click.ClickException:
    return click.ClickException(message)


def _read_answers(path: str) -> dict[str, Any]:
    """The ``indicators`` object of the input file, or a ClickException saying what is wrong with the file."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(f"{path}: cannot read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _error(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _error(f'{path}: must be a JSON object {{"indicators": {{"<code>": <phase>, ...}}}}')
    if "indicators" not in data:
        raise _error(f'{path}: missing "indicators" (an object of indicator code -> phase)')
    answers = data["indicators"]
    if not isinstance(answers, dict):
        raise _error(f'{path}: "indicators" must be an object of indicator code -> phase')
    return answers


@maturity.command("score")
@click.argument("input_file", metavar="INPUT.json", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--rubric",
    type=click.Choice(["classic", "current"]),
    default="current",
    show_default=True,
    help="GDHM classic (19 indicators) or current (23 indicators).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON: components (name, score, phase) and overall.")
def score(input_file: str, rubric: str, as_json: bool) -> None:
    """Score INPUT.json ({"indicators": {"1": 3, "2": -1, ...}}, -1 = not available) exactly as the GDHM.

    A component's score is the mean of its top-level indicators (sub-indicators and not available left out), the
    overall score the mean of the component scores; the phase is ceil of the score rounded half-even to one decimal.
    """
    from dhnet.maturity import rubrics, scoring

    answers = _read_answers(input_file)
    structure = rubrics.structure_of(rubrics.packaged(rubric))
    try:
        result = scoring.score(structure, answers)
    except scoring.ScoringError as exc:
        raise _error(f"{input_file}: {exc.message}") from None
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    width = max(len(c.name) for c in result.components)
    click.echo(f"{'component':<{width}}  score  phase")
    for c in result.components:
        value = "  n/a" if c.score is None else f"{c.score:5.2f}"
        phase = "n/a" if c.phase is None else str(c.phase)
        click.echo(f"{c.name:<{width}}  {value}  {phase:>5}")
    overall = "  n/a" if result.score is None else f"{result.score:5.2f}"
    click.echo(f"{'overall':<{width}}  {overall}  {'n/a' if result.phase is None else result.phase:>5}")


@maturity.group("rubric")
def rubric_group() -> None:
    """Rubric files: import (official texts, new rubrics) and export."""


@rubric_group.command("import")
@click.argument("file", metavar="FILE.json", type=click.Path(exists=True, dir_okay=False))
def rubric_import(file: str) -> None:
    """Import FILE.json: a new rubric, or the texts of the rubric with its code (structure fixed once used)."""
    from dhnet.cli.platform import _django, _fail, _operator

    _django()
    from dhnet.maturity import rubrics
    from dhnet.platform.errors import ServiceError

    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _error(f"{file}: not a JSON file ({exc})") from None
    try:
        result = rubrics.import_rubric(_operator(), data)
    except ServiceError as exc:
        raise _fail(exc) from None
    what = "created" if result.created else ("rebuilt" if result.rebuilt else "updated")
    texts = "official texts" if result.official_texts else "project texts"
    click.echo(f"rubric {result.rubric.code}: {what}, {result.changed} change(s), {texts}")


@rubric_group.command("export")
@click.argument("code")
def rubric_export(code: str) -> None:
    """Print the rubric CODE (gdhm-current, gdhm-classic, or current/classic) as a rubric file."""
    from dhnet.cli.platform import _django, _fail

    _django()
    from dhnet.maturity import rubrics, services
    from dhnet.platform.errors import ServiceError

    try:
        rubric = services.rubric(code)
    except ServiceError as exc:
        raise _fail(exc) from None
    click.echo(json.dumps(rubrics.export_rubric(rubric), ensure_ascii=False, indent=1))
