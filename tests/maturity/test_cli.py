"""``dhnet maturity score`` through the installed command (subprocess, no database), and rubric import/export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dhnet.audit.models import AuditRecord
from dhnet.cli import main
from dhnet.maturity import rubrics
from dhnet.maturity.models import Indicator, Rubric

DHNET = str(Path(sys.executable).with_name("dhnet"))
CURRENT_NAMES = [
    "Leadership & Governance",
    "Strategy & Investment",
    "Legislation, Policy, & Compliance",
    "Workforce",
    "Standards & Interoperability",
    "Infrastructure",
    "Services & Applications",
]


def _score(tmp_path: Path, payload: Any, *args: str, raw: str | None = None) -> subprocess.CompletedProcess[str]:
    file = tmp_path / "input.json"
    file.write_text(raw if raw is not None else json.dumps(payload), encoding="utf-8")
    # No database settings at all: the command must not need them.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DJANGO_", "DHNET_"))}
    return subprocess.run(
        [DHNET, "maturity", "score", str(file), *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_score_current_json_hand_computed(tmp_path: Path) -> None:
    # Leadership: 1=3, 2=NA, 3=4, 4=2 -> 9/3 = 3.0 (3); 2a=5 is a sub-indicator, ignored
    # Strategy: 5=5, 6 missing -> 5.0 (5); Workforce: 11=2, 12=3, 13=NA, 14 missing -> 2.5 (3)
    # Services: 19=1, 20=2, 21=2, 22=2, 23=2 -> 9/5 = 1.8 (2); other components: no score
    # overall (3 + 5 + 2.5 + 1.8) / 4 = 12.3 / 4 = 3.075 -> 3.1 -> 4
    payload = {
        "indicators": {
            "1": 3, "2": -1, "2a": 5, "3": 4, "4": 2, "5": 5, "11": 2, "12": 3, "13": -1,
            "19": 1, "20": 2, "21": 2, "21a": 5, "22": 2, "23": 2,
        }
    }  # fmt: skip
    done = _score(tmp_path, payload, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "components": [
            {"name": CURRENT_NAMES[0], "score": 3.0, "phase": 3},
            {"name": CURRENT_NAMES[1], "score": 5.0, "phase": 5},
            {"name": CURRENT_NAMES[2], "score": None, "phase": None},
            {"name": CURRENT_NAMES[3], "score": 2.5, "phase": 3},
            {"name": CURRENT_NAMES[4], "score": None, "phase": None},
            {"name": CURRENT_NAMES[5], "score": None, "phase": None},
            {"name": CURRENT_NAMES[6], "score": 1.8, "phase": 2},
        ],
        "overall": {"score": 3.075, "phase": 4},
    }
    assert _score(tmp_path, payload, "--json", "--rubric", "current").stdout == done.stdout


def test_score_classic_json_with_rounding_half_even(tmp_path: Path) -> None:
    # Leadership (1, 2): 2, 3 -> 2.5 (3); Strategy (3, 4): 2, 2 -> 2.0 (2);
    # Legislation (5-8): 2, 2, 2, 3 -> 2.25 -> 2.2 (3); Workforce (9-12): 9=2, 10..12 NA, 9a-c ignored -> 2.0 (2)
    # Standards (13, 14): NA, NA -> none; Infrastructure (15, 16): 3, 2 -> 2.5 (3); Services (17-19): 2, 2, 2 -> 2 (2)
    # overall (2.5 + 2 + 2.25 + 2 + 2.5 + 2) / 6 = 13.25 / 6 = 2.2083.. -> 2.2 -> 3
    payload = {
        "indicators": {
            "1": 2, "2": 3, "3": 2, "4": 2, "5": 2, "6": 2, "7": 2, "8": 3, "9": 2, "9a": 5, "9b": 1, "9c": -1,
            "10": -1, "11": -1, "12": -1, "13": -1, "14": -1, "15": 3, "16": 2, "17": 2, "18": 2, "19": 2, "19d": 4,
        }
    }  # fmt: skip
    done = _score(tmp_path, payload, "--rubric", "classic", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert [(c["score"], c["phase"]) for c in out["components"]] == [
        (2.5, 3), (2.0, 2), (2.25, 3), (2.0, 2), (None, None), (2.5, 3), (2.0, 2),
    ]  # fmt: skip
    assert out["components"][0]["name"] == "Leadership and Governance"
    assert out["overall"] == {"score": 13.25 / 6, "phase": 3}


def test_score_all_not_available_and_empty(tmp_path: Path) -> None:
    done = _score(tmp_path, {"indicators": {}}, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["overall"] == {"score": None, "phase": None}
    assert {(c["score"], c["phase"]) for c in out["components"]} == {(None, None)}


def test_score_table_without_json(tmp_path: Path) -> None:
    done = _score(tmp_path, {"indicators": {"1": 4, "2": 5}})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["component", "score", "phase"]
    assert lines[1].split()[-2:] == ["4.50", "5"]
    assert lines[1].startswith("Leadership & Governance")
    assert lines[2].split()[-2:] == ["n/a", "n/a"]
    assert lines[-1].split() == ["overall", "4.50", "5"]


@pytest.mark.parametrize(
    ("payload", "raw", "args", "message"),
    [
        ({"indicators": {"24": 3}}, None, (), "indicator '24': unknown code (not in gdhm-current)"),
        ({"indicators": {"21a": 3}}, None, ("--rubric", "classic"), "indicator '21a': unknown code"),
        ({"indicators": {"3": 6}}, None, (), "indicator '3': phase 6 is not one of -1"),
        ({"indicators": {"3": 0}}, None, (), "indicator '3': phase 0 is not one of -1"),
        ({"indicators": {"7": "3"}}, None, (), "indicator '7': phase '3' is not one of -1"),
        ({"indicators": {"7": 2.5}}, None, (), "indicator '7': phase 2.5"),
        ({"indicators": {"7": True}}, None, (), "indicator '7': phase True"),
        (None, "{not json", (), "not JSON"),
        ([1, 2], None, (), "must be a JSON object"),
        ({"answers": {}}, None, (), 'missing "indicators"'),
        ({"indicators": [3, 4]}, None, (), '"indicators" must be an object'),
        ({"indicators": {}}, None, ("--rubric", "future"), "Invalid value for '--rubric'"),
    ],
)
def test_bad_input_exits_non_zero_naming_the_problem(
    tmp_path: Path, payload: Any, raw: str | None, args: tuple[str, ...], message: str
) -> None:
    done = _score(tmp_path, payload, *args, "--json", raw=raw)
    assert done.returncode != 0
    assert message in done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr


def test_score_does_not_import_django(tmp_path: Path) -> None:
    file = tmp_path / "input.json"
    file.write_text('{"indicators": {"1": 3}}', encoding="utf-8")
    code = (
        "import sys\nfrom dhnet.cli import main\n"
        f"try:\n    main(['maturity', 'score', {str(file)!r}, '--json'])\nexcept SystemExit:\n    pass\n"
        "print(any(m == 'django' or m.startswith('django.') for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False"


# --- rubric import / export (database) -----------------------------------------------------------------------------


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["maturity", "rubric", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.django_db
def test_rubric_export_then_import_official_texts(tmp_path: Path) -> None:
    code, out, err = _run("export", "current")
    assert code == 0, err
    data = json.loads(out)
    assert data == rubrics.packaged("current")
    data.pop("official_texts")
    data["components"][0]["indicators"][0]["question"] = "The official question of indicator 1?"
    file = tmp_path / "official.json"
    file.write_text(json.dumps(data), encoding="utf-8")
    code, out, err = _run("import", str(file))
    assert code == 0, err
    assert out.strip() == "rubric gdhm-current: updated, 2 change(s), official texts"
    assert Rubric.objects.get(code="gdhm-current").official_texts
    assert (
        Indicator.objects.get(rubric__code="gdhm-current", code="1").question
        == data["components"][0]["indicators"][0]["question"]
    )
    record = AuditRecord.objects.filter(action="maturity.rubric.import").latest("id")
    assert record.actor_username.startswith("cli:")


@pytest.mark.django_db
def test_rubric_import_and_export_errors(tmp_path: Path) -> None:
    file = tmp_path / "broken.json"
    data = rubrics.packaged("classic")
    del data["components"][2]["indicators"][0]["phases"]["3"]
    file.write_text(json.dumps(data), encoding="utf-8")
    code, _, err = _run("import", str(file))
    assert code == 1
    assert "components[2].indicators[0].phases.3: missing" in err
    file.write_text("[", encoding="utf-8")
    code, _, err = _run("import", str(file))
    assert code == 1
    assert "not a JSON file" in err
    code, _, err = _run("export", "gdhm-future")
    assert code == 1
    assert "no rubric 'gdhm-future'" in err
