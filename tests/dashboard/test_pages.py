"""Dashboard pages and API: the authorization matrix (every role x every page and endpoint, cross-district access
denied), what each role sees, htmx fragments, bad input, and the audit of reads."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.accounts.roles import ROLE_PERMISSIONS
from dhnet.audit.models import AuditRecord
from dhnet.orgunits.models import OrgUnit
from tests.dashboard.conftest import Data
from tests.platform.fixtures import HOMES, ROLES, login

AGG = "surveillance:aggregate:read"
SIG = "surveillance:signal:read"
Q = "disease=hepatitis_a&week=2008-W10"


@dataclass(frozen=True)
class Case:
    label: str
    url: str
    permission: str
    target: str | None = None  # org unit the request is about


CASES = [
    Case("home", "/", "accounts:profile:read"),
    Case("dashboard", f"/dashboard/?{Q}", AGG),
    Case("dashboard of D11", f"/dashboard/?{Q}&area=D11", AGG, "D11"),
    Case("dashboard of D12", f"/dashboard/?{Q}&area=D12", AGG, "D12"),
    Case("dashboard of R2", f"/dashboard/?{Q}&area=R2", AGG, "R2"),
    Case("curve of D21", f"/dashboard/?{Q}&unit=D21", AGG, "D21"),
    Case("signal list", "/dashboard/signals/", SIG),
    Case("signals of D21", "/dashboard/signals/?area=D21", SIG, "D21"),
    Case("bulletin", "/dashboard/bulletin/?week=2008-W10", AGG),
    Case("bulletin of D21", "/dashboard/bulletin/?week=2008-W10&area=D21", AGG, "D21"),
    Case("map API", f"/api/v1/dashboard/map?{Q}", AGG),
    Case("map API of D12", f"/api/v1/dashboard/map?{Q}&area=D12", AGG, "D12"),
    Case("curve API", f"/api/v1/dashboard/curve?{Q}", AGG),
    Case("curve API of D21", f"/api/v1/dashboard/curve?{Q}&area=D21", AGG, "D21"),
    Case("completeness API", "/api/v1/dashboard/completeness?week=2008-W10", AGG),
    Case("completeness API of R2", "/api/v1/dashboard/completeness?week=2008-W10&area=R2", AGG, "R2"),
]


def _expected(role: str, case: Case, units: dict[str, OrgUnit]) -> int:
    if case.permission not in ROLE_PERMISSIONS[role]:
        return 403
    if case.target is not None and not units[case.target].is_within(units[HOMES[role]].path):  # type: ignore[index]
        return 404
    return 200


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_role_matrix(
    role: str, case: Case, users: dict[str, User], tree: dict[str, OrgUnit], surveillance: Data
) -> None:
    client = login(Client(), users[role])
    response = client.get(case.url)
    assert response.status_code == _expected(role, case, tree), (role, case.label, response.content[:300])


def test_matrix_covers_every_dashboard_page_and_endpoint() -> None:
    from django.urls import get_resolver

    from dhnet.dashboard.api import router

    resolver = get_resolver()
    pages = {f"/dashboard/{p.pattern}" for p in resolver.resolve("/dashboard/").tried[0][0].url_patterns}  # type: ignore[attr-defined]
    covered_pages = {re.sub(r"\?.*", "", c.url) for c in CASES if not c.url.startswith("/api/")}
    assert covered_pages >= {"/", *pages}
    operations = {f"/api/v1/{path.strip('/')}" for path in router.path_operations}
    covered_api = {re.sub(r"\?.*", "", c.url) for c in CASES if c.url.startswith("/api/")}
    assert operations <= covered_api


def test_anonymous_is_sent_to_login(surveillance: Data) -> None:
    client = Client()
    for url in ("/", "/dashboard/", "/dashboard/signals/", "/dashboard/bulletin/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    assert client.get(f"/api/v1/dashboard/map?{Q}").status_code == 401


def _codes(html: str) -> set[str]:
    return set(re.findall(r'data-code="([^"]+)"', html))


def test_national_epidemiologist_sees_every_district_signals_and_alarms(
    users: dict[str, User], surveillance: Data
) -> None:
    client = login(Client(), users["national_epidemiologist"])
    html = client.get("/").content.decode()  # the home page is the dashboard
    assert 'id="dash"' in html
    assert _codes(html) == {"D11", "D12", "D21"}
    assert "Hepatitis A above threshold in District 11" in html
    assert "Hepatitis A above threshold in District 21" in html
    assert 'class="e"' not in html  # the country's curve: no detections at that level in this dataset
    assert 'class="s"' in html  # but an alarm below it (D11)
    curve = client.get(f"/dashboard/?{Q}&unit=D11").content.decode()
    assert 'class="u"' in curve  # threshold line
    assert 'class="e"' in curve  # expected line
    assert 'class="m"' in curve  # alarm marker
    assert "/static/vendor/htmx.min.js" in html


def test_default_disease_and_week_are_the_latest_with_data(users: dict[str, User], surveillance: Data) -> None:
    client = login(Client(), users["national_epidemiologist"])
    html = client.get("/dashboard/").content.decode()
    assert 'value="2008-W10"' in html
    assert re.search(r'<option value="hepatitis_a" selected>', html)


def test_district_officer_sees_only_their_district(users: dict[str, User], surveillance: Data) -> None:
    client = login(Client(), users["district_officer"])
    html = client.get(f"/dashboard/?{Q}").content.decode()
    assert _codes(html) == {"D11"}
    assert "District 21" not in html
    assert "District 12" not in html
    assert "Hepatitis A above threshold in District 11" in html
    body = client.get(f"/api/v1/dashboard/map?{Q}").json()
    assert [u["code"] for u in body["units"]] == ["D11"]
    signals = client.get("/dashboard/signals/?status=all").content.decode()
    assert "District 11" in signals
    assert "District 12" not in signals
    assert "District 21" not in signals


def test_regional_viewer_sees_their_region_only(users: dict[str, User], surveillance: Data) -> None:
    client = login(Client(), users["viewer"])
    html = client.get(f"/dashboard/?{Q}").content.decode()
    assert _codes(html) == {"D11", "D12"}
    signals = client.get("/dashboard/signals/?status=all").content.decode()
    assert "District 11" in signals
    assert "cluster in District 12" in signals  # closed, shown with status all
    assert "District 21" not in signals
    open_only = client.get("/dashboard/signals/").content.decode()
    assert "cluster in District 12" not in open_only


def test_partner_sees_aggregates_but_nothing_of_signals_or_detection(
    users: dict[str, User], surveillance: Data
) -> None:
    client = login(Client(), users["partner"])
    html = client.get(f"/dashboard/?{Q}&unit=D11&measure=signals").content.decode()
    assert _codes(html) == {"D11", "D12", "D21"}
    assert "above threshold" not in html
    assert "Open signals" not in html
    assert 'value="signals"' not in html
    assert 'value="incidence" checked' in html  # asked for signals, got the default of the role
    assert "<polyline" not in html
    assert "ALARM" not in html
    body = client.get(f"/api/v1/dashboard/map?{Q}&measure=signals").json()
    assert body["measure"] == "incidence"
    assert all(u["signals"] is None for u in body["units"])
    curve = client.get(f"/api/v1/dashboard/curve?{Q}&area=D11").json()
    assert curve["detection"] is False
    assert all(p["alarm"] is None and p["upperbound"] is None for p in curve["points"])
    assert client.get("/dashboard/signals/").status_code == 403
    bulletin = client.get("/dashboard/bulletin/?week=2008-W10").content.decode()
    assert "Hepatitis A" in bulletin
    assert "above threshold" not in bulletin
    assert "Open signals" not in bulletin


def test_map_values_incidence_and_signals(users: dict[str, User], surveillance: Data) -> None:
    client = login(Client(), users["national_epidemiologist"])
    body = client.get(f"/api/v1/dashboard/map?{Q}&measure=incidence").json()
    units = {u["code"]: u for u in body["units"]}
    assert units["D11"]["cases"] == 30
    assert units["D11"]["incidence"] == pytest.approx(units["D11"]["cases"] * 100_000 / 200_000)
    assert units["D12"]["cases"] is None  # did not report
    assert units["D12"]["colour"] == "#d5dbe0"  # no data
    assert units["D11"]["signals"] == 1
    assert units["D12"]["signals"] == 0  # its signal is closed
    assert units["D21"]["signals"] == 1
    signals = client.get(f"/api/v1/dashboard/map?{Q}&measure=signals").json()
    assert signals["measure"] == "signals"
    assert {u["code"]: u["value"] for u in signals["units"]} == {"D11": 1.0, "D12": 0.0, "D21": 1.0}


def test_curve_api_sums_the_subtree_and_carries_detections(users: dict[str, User], surveillance: Data) -> None:
    client = login(Client(), users["national_epidemiologist"])
    body = client.get(f"/api/v1/dashboard/curve?{Q}&weeks=8").json()
    assert len(body["points"]) == 8
    assert body["points"][-1]["week"] == "2008-W10"
    assert body["points"][-1]["observed"] == 30 + 4  # D11 and D21; D12 did not report
    assert body["points"][-1]["alarms_below"] == 1
    d11 = client.get(f"/api/v1/dashboard/curve?{Q}&weeks=8&area=D11").json()
    assert d11["detection"] is True
    assert d11["points"][-1]["alarm"] is True
    assert d11["points"][-1]["upperbound"] == 9.0
    assert d11["points"][-2]["alarm"] is False


def test_completeness(users: dict[str, User], surveillance: Data) -> None:
    client = login(Client(), users["national_epidemiologist"])
    body = client.get("/api/v1/dashboard/completeness?week=2008-W10").json()
    rows = {r["code"]: r for r in body["rows"]}
    assert rows["R1"]["reporting_units"] == 2
    assert rows["R1"]["reported"] == 1  # D12 missed the week
    assert rows["R1"]["completeness"] == 50
    assert rows["R2"]["completeness"] == 100
    assert rows["R2"]["timeliness"] == 0  # D21 reports late
    assert body["total"]["reporting_units"] == 3
    html = client.get(f"/dashboard/?{Q}").content.decode()
    assert "Reporting completeness" in html
    assert "50%" in html


def test_htmx_gets_the_fragment_only(users: dict[str, User], surveillance: Data) -> None:
    client = login(Client(), users["regional_officer"])
    response = client.get(f"/dashboard/?{Q}&measure=incidence", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="dash"')
    assert "<html" not in html
    assert "HX-Request" in response["Vary"]
    full = client.get(f"/dashboard/?{Q}&measure=incidence").content.decode()
    assert "<html" in full
    assert 'id="dash"' in full
    restore = client.get(f"/dashboard/?{Q}", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in restore.content.decode()
    signals = client.get("/dashboard/signals/", HTTP_HX_REQUEST="true").content.decode()
    assert signals.lstrip().startswith('<div id="sigs"')


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("week=2008-W99", "week"),
        ("week=yesterday", "week"),
        ("disease=nosuch", "disease"),
        ("measure=deaths", "measure"),
        ("weeks=3", "weeks"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    query: str, message: str, users: dict[str, User], surveillance: Data
) -> None:
    client = login(Client(), users["national_epidemiologist"])
    response = client.get(f"/dashboard/?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()
    endpoint = "curve" if message == "weeks" else "map"
    api = client.get(f"/api/v1/dashboard/{endpoint}?disease=hepatitis_a&{query}")
    assert api.status_code in (400, 422)  # 422: refused by the schema before the service


def test_signal_list_filters(users: dict[str, User], surveillance: Data) -> None:
    client = login(Client(), users["national_epidemiologist"])
    all_html = client.get("/dashboard/signals/?status=all").content.decode()
    assert all_html.count("<tr>") >= 4  # header + 3
    assert "3 signals" in all_html
    assert "2 signals" in client.get("/dashboard/signals/").content.decode()  # open only
    assert "1 signal " in client.get("/dashboard/signals/?status=verification").content.decode()
    assert "0 signals" in client.get("/dashboard/signals/?week_from=2008-W11").content.decode()
    assert "2 signals" in client.get("/dashboard/signals/?week_to=2008-W10").content.decode()
    assert "1 signal " in client.get("/dashboard/signals/?q=District+21").content.decode()
    assert "2 signals" in client.get("/dashboard/signals/?area=R1&status=all").content.decode()
    assert client.get("/dashboard/signals/?status=bogus").status_code == 400
    assert client.get("/dashboard/signals/?week_from=2008-W12&week_to=2008-W10").status_code == 400
    assert client.get("/dashboard/signals/?area=NOPE").status_code == 404


def test_bulletin(users: dict[str, User], surveillance: Data) -> None:
    client = login(Client(), users["national_epidemiologist"])
    html = client.get("/dashboard/bulletin/?week=2008-W10").content.decode()
    assert "Weekly epidemiological bulletin" in html
    assert "2008-W10" in html
    assert "3 Mar 2008" in html
    assert "Hepatitis A" in html
    assert "<svg" in html
    assert 'class="curve"' in html
    assert "@media print" not in html  # the print rules live in the stylesheet
    assert "Region 1" in html
    assert "Region 2" in html
    assert "open signal" in html
    latest = client.get("/dashboard/bulletin/").content.decode()
    assert "2008-W10" in latest
    empty = client.get("/dashboard/bulletin/?week=2010-W01").content.decode()
    assert "No disease was reported" in empty


def test_reads_are_audited(users: dict[str, User], surveillance: Data) -> None:
    client = login(Client(), users["regional_officer"])
    before = AuditRecord.objects.count()
    client.get(f"/dashboard/?{Q}")
    client.get("/dashboard/signals/")
    client.get("/dashboard/bulletin/?week=2008-W10")
    client.get(f"/api/v1/dashboard/map?{Q}")
    records = list(AuditRecord.objects.order_by("seq")[before:])
    actions = [r.action for r in records]
    assert actions == [
        "reporting.completeness.read",  # the reporting service audits its own read
        "dashboard.overview.read",
        "dashboard.signal.list",
        "reporting.completeness.read",
        "dashboard.bulletin.read",
        "dashboard.map.read",
    ]
    assert all(r.actor_username == "regional_officer" for r in records)
    overview = records[1]
    assert overview.detail["disease"] == "hepatitis_a"
    assert overview.actor_role == "regional_officer@R1"


def test_refused_reads_are_not_audited_as_reads(users: dict[str, User], surveillance: Data) -> None:
    client = login(Client(), users["district_officer"])
    before = AuditRecord.objects.count()
    assert client.get(f"/dashboard/?{Q}&area=D21").status_code == 404
    assert not AuditRecord.objects.filter(seq__gt=before, action__startswith="dashboard.").exists()


def test_users_without_surveillance_permissions_get_the_account_home(tree: dict[str, OrgUnit]) -> None:
    """Every role reads aggregates today; an actor without (e.g. a future role) gets the platform's home page."""
    from django.test import RequestFactory

    from dhnet.dashboard.views import home_view
    from dhnet.platform.access import Actor, Grant

    unit = tree["D11"]
    grant = Grant("someone", unit.pk, unit.code, unit.name, unit.path, frozenset({"accounts:profile:read"}))
    request = RequestFactory().get("/")
    request.actor = Actor(user_id=None, username="someone", grants=(grant,), via="session", mfa_verified=True)  # type: ignore[attr-defined]
    html = home_view(request).content.decode()
    assert "Your roles and jurisdiction" in html
    assert 'id="dash"' not in html
