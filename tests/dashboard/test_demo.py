"""``dhnet demo --subset``: the demo country through the real services, idempotent, with real signals on the map.

The subset (23 influenza districts of Upper Bavaria, all of measles, hepatitis A and Salmonella Newport: about
17,000 counts) takes a few seconds; the full data (72,000 counts, 202 org units) about 15-35 s on a laptop, which
``make demo`` runs.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pyotp
import pytest
from click.testing import CliRunner
from django.apps import apps
from django.test import Client

from dhnet.accounts import services as accounts
from dhnet.accounts.models import RoleAssignment, User
from dhnet.cli import main
from dhnet.cli.demo import USERS
from dhnet.dashboard import services as dashboard
from dhnet.orgunits.models import OrgUnit
from dhnet.reporting.models import CountValue
from dhnet.signals.models import Detection, Signal
from tests.platform.fixtures import login

pytestmark = pytest.mark.django_db


def _run(*args: str) -> Any:
    result = CliRunner().invoke(main, ["demo", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _snapshot() -> dict[str, str]:
    """A digest of every table but the audit trail (which records each run) and the sessions."""
    out = {}
    for model in apps.get_models():
        if model._meta.app_label in ("audit", "sessions"):
            continue
        rows = list(model.objects.order_by("pk").values())
        for row in rows:
            for volatile in ("updated_at", "last_login", "last_used_at"):
                row.pop(volatile, None)
        out[model._meta.label] = hashlib.sha256(json.dumps(rows, default=str, sort_keys=True).encode()).hexdigest()
    return out


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Any, Path]:
    dashboard.clear_caches()
    credentials = tmp_path / "credentials.json"
    return _run("--subset", "--credentials", str(credentials)), credentials


def test_demo_loads_the_country_users_and_signals(demo: tuple[Any, Path]) -> None:
    result, credentials = demo
    assert OrgUnit.objects.filter(level=1).get().code == "DE"
    assert OrgUnit.objects.filter(level=2).count() == 16
    # 16 state-level units, 23 influenza districts, 17 of Weser-Ems, 12 of Berlin
    assert OrgUnit.objects.filter(level=3).count() == 16 + 23 + 17 + 12
    munich = OrgUnit.objects.get(code="09162")
    assert munich.parent.code == "DE-BY"  # type: ignore[union-attr]
    assert munich.geometry["type"] in ("Polygon", "MultiPolygon")
    assert (munich.population or 0) > 1_000_000
    assert OrgUnit.objects.get(code="03401").population == 75986  # from the GeoJSON (Delmenhorst)
    assert CountValue.objects.filter(disease__code="influenza", batch__source="demo").count() == 23 * 416
    assert CountValue.objects.filter(disease__code="salmonellosis", batch__source="demo").count() == 16 * 528
    demo_counts = CountValue.objects.filter(batch__source="demo").count()
    case_counts = CountValue.objects.filter(batch__source="cases").count()
    assert demo_counts + case_counts == CountValue.objects.count()
    # The case reports: through the FHIR intake, pseudonymised, counted by week into detection.
    from dhnet.cases.models import Case
    from dhnet.cli.demo import SUBSET_CASE_BUNDLES

    assert Case.objects.count() == SUBSET_CASE_BUNDLES
    assert case_counts > 0
    assert all(len(p) == 64 for p in Case.objects.values_list("pseudonym", flat=True))
    assert "case reports" in result.output
    # The network of networks: the strategy texts searchable, stakeholders, networks (one nested) and a roundtable.
    from dhnet.knowledge.models import Chunk, Item
    from dhnet.network.models import Event, Network, Organisation

    assert Item.objects.filter(status="published").count() >= 5
    assert Chunk.objects.count() > 50
    assert Organisation.objects.count() >= 5
    assert Network.objects.filter(parent__isnull=False).exists()
    assert Event.objects.filter(kind="roundtable").exists()
    assert "knowledge" in result.output
    assert Detection.objects.exists()
    assert Signal.objects.filter(disease__code="influenza").exists()
    assert Signal.objects.filter(disease__code="measles").exists()
    # every role, with its password printed and stored for the operator only
    stored = json.loads(credentials.read_text())["users"]
    assert credentials.stat().st_mode & 0o777 == 0o600
    for username, role, orgunit, _ in USERS:
        user = User.objects.get(username=username)
        assert RoleAssignment.objects.filter(user=user, role=role, orgunit__code=orgunit).exists()
        assert user.check_password(stored[username]["password"])
        assert stored[username]["password"] in result.output
    for username in ("demo-admin", "demo-epi"):
        user = User.objects.get(username=username)
        assert user.totp_enabled
        assert stored[username]["totp_secret"] == user.totp_secret
        assert f"dhnet totp-code {username}" in result.output
    assert not User.objects.get(username="demo-region").totp_enabled
    _check_totp_code()
    _check_dashboard()


def test_demo_twice_changes_nothing(demo: tuple[Any, Path]) -> None:
    _, credentials = demo
    before = _snapshot()
    again = _run("--subset", "--credentials", str(credentials))
    assert "already loaded" in again.output
    assert "skipped" in again.output  # detection: counts unchanged
    assert _snapshot() == before


def _check_totp_code() -> None:
    """``dhnet totp-code`` gives a code that passes the real second factor (the demo loads in one test: slow)."""
    result = CliRunner().invoke(main, ["totp-code", "demo-epi"])
    assert result.exit_code == 0, result.output
    code = result.stdout.strip()
    assert re.fullmatch(r"\d{6}", code)
    user = User.objects.get(username="demo-epi")
    assert accounts.verify_totp(user, code)  # the code of the current step, not yet used by the enrolment
    assert not accounts.verify_totp(user, code)  # and once only
    assert pyotp.TOTP(user.totp_secret).verify(code)
    missing = CliRunner().invoke(main, ["totp-code", "demo-region"])
    assert missing.exit_code != 0
    assert "no second factor" in missing.output


def _check_dashboard() -> None:
    """The home page of the national epidemiologist: real signals on the influenza map."""
    client = login(Client(), User.objects.get(username="demo-epi"))
    html = client.get("/").content.decode()
    assert "Influenza (laboratory-confirmed)" in html  # the default disease: the latest with a map
    assert 'value="2008-W51"' in html  # its latest week with data
    codes = set(re.findall(r'data-code="([^"]+)"', html))
    assert len(codes) == 23
    assert "09162" in codes
    assert re.search(r'class="c[1-9]', html)  # some district in colour: open signals
    assert "/signals/" in html  # links to the signal pages
    munich = login(Client(), User.objects.get(username="demo-district")).get("/").content.decode()
    assert set(re.findall(r'data-code="([^"]+)"', munich)) == {"09162"}
    partner = login(Client(), User.objects.get(username="demo-partner")).get("/").content.decode()
    assert "Open signals" not in partner
    assert len(set(re.findall(r'data-code="([^"]+)"', partner))) == 23
