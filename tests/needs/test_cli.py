"""``dhnet needs match``: the ranked matches as JSON (the API's shape) and as a table; errors as click errors."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from dhnet.accounts.models import User
from dhnet.cli import main
from dhnet.needs import services
from dhnet.platform.access import Actor
from tests.needs.helpers import NEED, make_registry


def test_match_json_and_table(db: Any, operator: Actor, users: dict[str, User]) -> None:
    make_registry()
    need, _ = services.create_need(operator, NEED)
    runner = CliRunner()
    result = runner.invoke(main, ["needs", "match", need.public_id, "--limit", "2", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["kind"], r["ref"], r["score"]) for r in rows] == [
        ("project", "KE-AAAAAA", 80.0),
        ("product", "dhis2", 68.3),
    ]
    assert [p["name"] for p in rows[0]["parts"]][-1] == "cost"
    assert rows[0]["parts"][0]["reason"].startswith("addresses 1 of 2 challenges")
    table = runner.invoke(main, ["needs", "match", need.public_id, "--limit", "1"], catch_exceptions=False)
    assert table.exit_code == 0
    assert table.output.splitlines()[0] == "  1.  80.0  project KE-AAAAAA in KE: Project KE-AAAAAA"
    assert "interventions      0.30 x 0.50 = 0.1500  addresses 1 of 2 challenges" in table.output
    hidden = runner.invoke(main, ["needs", "match", need.public_id, "--as", "partner"])
    assert hidden.exit_code == 1
    assert f"no need {need.public_id!r}" in hidden.output
    assert runner.invoke(main, ["needs", "match", need.public_id, "--as", "nobody"]).exit_code == 1
    assert runner.invoke(main, ["needs", "match", need.public_id, "--limit", "0"]).exit_code == 2
