"""Pages and API of the signals context: the queue with filters, a signal's page and triage forms, the IHR guided form
step by step, event reports, detection runs and their jobs; errors are 4xx with a message naming the field."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from dhnet.accounts.models import User
from dhnet.jobs.models import Job
from dhnet.orgunits.models import OrgUnit
from dhnet.signals.models import IHRAssessment, Signal, SignalEvent
from tests.platform.fixtures import login
from tests.signals import helpers

pytestmark = pytest.mark.django_db

TODAY = dt.date.today()


@pytest.fixture
def national(users: dict[str, User]) -> Client:
    return login(Client(), users["national_epidemiologist"])


@pytest.fixture
def regional(users: dict[str, User]) -> Client:
    return login(Client(), users["regional_officer"])


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_list_filters_and_pagination(national: Client, tree: dict[str, OrgUnit]) -> None:
    flu = helpers.disease()
    for week in range(30):
        helpers.make_signal(tree["D11"], d=flu, period=dt.date(2024, 1, 1) + dt.timedelta(weeks=week), title=f"w{week}")
    helpers.make_signal(tree["D21"], status="verified", title="verified one", period=dt.date(2023, 6, 5))
    Signal.objects.filter(title="w3").update(risk="high")
    body = national.get("/api/v1/signals?limit=10").json()
    assert body["count"] == 31
    assert [s["title"] for s in body["items"]][:3] == ["w29", "w28", "w27"]  # most recent first
    body = national.get("/api/v1/signals?limit=10&offset=25").json()
    assert [s["title"] for s in body["items"]] == ["w4", "w3", "w2", "w1", "w0", "verified one"]
    assert national.get("/api/v1/signals?status=verified").json()["count"] == 1
    assert national.get("/api/v1/signals?status=verified&status=new").json()["count"] == 31
    assert national.get(f"/api/v1/signals?disease={flu.code}").json()["count"] == 30
    assert national.get("/api/v1/signals?orgunit=R2").json()["count"] == 1
    assert national.get("/api/v1/signals?risk=high").json()["items"][0]["title"] == "w3"
    assert national.get("/api/v1/signals?source=event").json()["count"] == 0
    assert national.get("/api/v1/signals?from=2024-07-01").json()["count"] == 4
    assert national.get("/api/v1/signals?from=2024-01-01&to=2024-01-14").json()["count"] == 2
    assert national.get("/api/v1/signals?q=verified").json()["count"] == 1
    # Bad filters: a 4xx naming the field.
    response = national.get("/api/v1/signals?status=bogus")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("status: expected one of")
    assert national.get("/api/v1/signals?disease=nope").status_code == 404
    assert (
        national.get("/api/v1/signals?from=2024-02-01&to=2024-01-01").json()["detail"] == "from: must not be after to"
    )
    assert national.get("/api/v1/signals?limit=1000").status_code == 422
    # The page: same filters, 25 a page.
    page = national.get("/signals/?status=new").content.decode()
    assert 'id="signal-table"' in page
    assert "Page 1 of 2" in page
    assert "w29" in page
    assert "verified one" not in page
    assert national.get("/signals/?disease=nope").status_code == 404


def test_signal_page_and_triage_forms(national: Client, tree: dict[str, OrgUnit]) -> None:
    signal = helpers.make_signal(tree["D11"], title="Cholera cluster")
    page = national.get(f"/signals/{signal.pk}/").content.decode()
    for element in (
        'id="signal-status" data-status="new"',
        'id="action-verify"',
        'id="action-discard"',
        'id="ihr-start"',
        'id="assign-username"',
        'id="escalate-level"',
        'id="comment-text"',
    ):
        assert element in page, element
    assert 'id="risk-form"' not in page  # only once verified
    response = national.post(f"/signals/{signal.pk}/transition/", {"action": "verify"})
    assert response.status_code == 302
    assert response["Location"] == f"/signals/{signal.pk}/?done=verify"
    page = national.get(response["Location"]).content.decode()
    assert 'data-status="verified"' in page
    assert 'id="risk-form"' in page
    # An invalid transition shows the page again with the message, and a 409.
    response = national.post(f"/signals/{signal.pk}/transition/", {"action": "monitor"})
    assert response.status_code == 409
    assert "verified -&gt; monitoring" in response.content.decode()
    response = national.post(
        f"/signals/{signal.pk}/risk/",
        {"hazard": "V. cholerae", "exposure": "one village", "context": "floods", "risk": "high"},
    )
    assert response.status_code == 302
    national.post(f"/signals/{signal.pk}/comment/", {"text": "team on site"})
    national.post(f"/signals/{signal.pk}/assign/", {"username": "regional_officer"})
    national.post(f"/signals/{signal.pk}/escalate/", {"to_level": "1"})
    page = national.get(f"/signals/{signal.pk}/").content.decode()
    assert page.count('class="timeline-event"') == 5
    assert "team on site" in page
    assert "Escalated to the national level" in page
    assert "Risk assessed: high" in page
    signal.refresh_from_db()
    assert (signal.status, signal.risk, signal.escalation_level) == ("risk_assessed", "high", 1)
    assert signal.assigned_to.username == "regional_officer"
    response = national.post(f"/signals/{signal.pk}/assign/", {"username": "nobody-here"})
    assert response.status_code == 404


def test_ihr_guided_form_step_by_step(national: Client, tree: dict[str, OrgUnit]) -> None:
    signal = helpers.make_signal(tree["D11"], status="verified")
    url = f"/signals/{signal.pk}/ihr/"
    page = national.get(url).content.decode()
    assert 'id="ihr-step-notifiable"' in page
    answers: dict[str, str] = {}
    steps = [("notifiable", "none"), ("assessed", "cholera"), ("serious", "yes"), ("unusual", "no"), ("spread", "yes")]
    for key, value in steps:
        answers[key] = value
        page = national.post(url, answers).content.decode()
    assert 'id="ihr-result" data-notify="yes"' in page
    assert "Notify WHO within 24 hours" in page
    assert 'id="ihr-save"' in page
    response = national.post(url, {**answers, "save": "1"})
    assert response.status_code == 302
    assessment = IHRAssessment.objects.get(signal=signal)
    assert assessment.notify_who
    assert assessment.answers == answers
    page = national.get(f"/signals/{signal.pk}/").content.decode()
    assert 'data-notify="yes"' in page
    # A bad answer is a 400 naming the step; saving an incomplete assessment stores nothing.
    response = national.post(url, {"notifiable": "plague"})
    assert response.status_code == 400
    assert "answers.notifiable" in response.content.decode()
    national.post(url, {"notifiable": "none", "save": "1"})
    assert IHRAssessment.objects.count() == 1


def test_ihr_form_preselects_from_the_disease(national: Client, tree: dict[str, OrgUnit]) -> None:
    from dhnet.diseases.models import Disease

    cholera = Disease.objects.get(code="cholera")  # from the catalogue
    signal = helpers.make_signal(tree["D11"], d=cholera)
    page = national.post(f"/signals/{signal.pk}/ihr/", {"notifiable": "none"}).content.decode()
    assert 'id="ihr-assessed-cholera"' in page
    page = national.get(f"/signals/{signal.pk}/ihr/").content.decode()
    assert 'id="ihr-notifiable-none" checked' in page


def test_api_detail_and_actions(national: Client, tree: dict[str, OrgUnit]) -> None:
    signal = helpers.make_signal(tree["D11"])
    assert (
        _post(national, f"/api/v1/signals/{signal.pk}/transition", {"action": "verify"}).json()["status"] == "verified"
    )
    response = _post(national, f"/api/v1/signals/{signal.pk}/transition", {"action": "verify"})
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"signal {signal.pk}: cannot verify: the transition verified -> verified is not allowed "
        "(from verified: close)",
        "code": "conflict",
    }
    response = _post(national, f"/api/v1/signals/{signal.pk}/ihr", {"answers": {"notifiable": "none"}})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("answers.assessed: the assessment is not complete")
    assert _post(national, f"/api/v1/signals/{signal.pk}/comments", {"text": "ok"}).status_code == 201
    detail = national.get(f"/api/v1/signals/{signal.pk}").json()
    assert [e["kind"] for e in detail["timeline"]] == ["status", "comment"]
    assert detail["actions"] == ["close"]
    assert detail["orgunit"] == "D11"
    assert _post(national, f"/api/v1/signals/{signal.pk}/escalate", {"to_level": 9}).status_code == 400
    assert national.get("/api/v1/signals/999999").status_code == 404


def test_event_report_page_and_api(users: dict[str, User], tree: dict[str, OrgUnit]) -> None:
    viewer = login(Client(), users["viewer"])  # any signed-in user may report
    page = viewer.get("/signals/report/").content.decode()
    assert 'id="event-form"' in page
    assert 'value="D11"' in page
    assert 'value="D21"' not in page  # only org units the reporter may see
    form = {
        "orgunit": "D12",
        "date": (TODAY - dt.timedelta(days=2)).isoformat(),
        "hazard": "Rumour of dead pigs",
        "description": "Radio report of many dead pigs near the river",
        "place": "Riverside farm",
    }
    response = viewer.post("/signals/report/", form)
    assert response.status_code == 302
    signal = Signal.objects.get()
    assert (signal.source, signal.status, signal.orgunit.code, signal.reported_by) == ("event", "new", "D12", "viewer")
    assert signal.title == "Rumour of dead pigs (Riverside farm)"
    assert SignalEvent.objects.get(signal=signal).kind == "created"
    # Submitting the same report again does not duplicate it.
    assert viewer.post("/signals/report/", form).status_code == 302
    assert Signal.objects.count() == 1
    # Errors name the field, nothing is stored.
    for bad, message in (
        ({**form, "hazard": ""}, "hazard: required"),
        ({**form, "date": (TODAY + dt.timedelta(days=1)).isoformat()}, "date: must not be in the future"),
        ({**form, "date": "yesterday"}, "date: enter the date"),
        ({**form, "disease": "nope"}, "disease: disease &#x27;nope&#x27; not found"),
    ):
        response = viewer.post("/signals/report/", bad)
        assert response.status_code in (400, 404)
        assert message in response.content.decode()
    assert viewer.post("/signals/report/", {**form, "orgunit": "D21"}).status_code == 404
    assert Signal.objects.count() == 1
    # The API.
    partner = login(Client(), users["partner"])
    body = {**form, "hazard": "Cluster of fever", "disease": "dengue"}
    response = _post(partner, "/api/v1/events", body)
    assert response.status_code == 201
    assert response.json()["disease"] == "dengue"
    assert _post(partner, "/api/v1/events", body).status_code == 200  # the same again
    response = _post(partner, "/api/v1/events", {**body, "date": "2024-13-01"})
    assert response.status_code == 422
    assert Signal.objects.filter(source="event").count() == 2


def test_detection_runs_pages_and_api(national: Client, regional: Client, tree: dict[str, OrgUnit]) -> None:
    response = _post(national, "/api/v1/detection-runs", {"window": 12, "diseases": ["cholera"]})
    assert response.status_code == 202
    first = response.json()
    assert first["coalesced"] is False
    again = _post(national, "/api/v1/detection-runs", {"diseases": ["measles"]}).json()
    assert (again["job"], again["coalesced"]) == (first["job"], True)
    job = Job.objects.get(pk=first["job"])
    assert job.payload["diseases"] == ["cholera", "measles"]
    assert job.payload["window"] == 12
    assert _post(national, "/api/v1/detection-runs", {"diseases": ["nope"]}).status_code == 400
    page = regional.get("/signals/runs/").content.decode()
    assert 'id="runs-pending"' in page
    assert 'id="run-start"' not in page  # a regional officer may not start runs
    # The worker runs it; the run is linked to its job and visible with its progress.
    from dhnet.jobs.worker import Worker

    assert Worker(kinds=["signals.detect"]).run(once=True) == 1
    job.refresh_from_db()
    assert job.status == "done"
    runs = regional.get("/api/v1/detection-runs").json()
    assert runs["count"] == 1
    run = runs["items"][0]
    assert (run["status"], run["job"], run["trigger"]) == ("done", job.pk, "manual")
    assert run["progress_done"] == run["progress_total"] > 0
    assert job.result["run"] == run["id"]
    assert regional.get(f"/signals/runs/{run['id']}/").status_code == 200
    assert national.get("/jobs/").status_code == 200
    assert f'id="job-{job.pk}"' in national.get("/jobs/").content.decode()
    assert national.get(f"/api/v1/jobs/{job.pk}").json()["result"]["run"] == run["id"]
    response = national.post("/signals/runs/start/", {"full": "1"})
    assert response.status_code == 302
    assert Job.objects.filter(status="queued").get().payload["full"] is True


def test_failed_job_retry(national: Client) -> None:
    job = Job.objects.create(kind="signals.detect", status="failed", attempts=3, max_attempts=3, error="boom")
    done = Job.objects.create(kind="signals.detect", status="done", attempts=1)
    assert _post(national, f"/api/v1/jobs/{done.pk}/retry", {}).status_code == 409
    body = _post(national, f"/api/v1/jobs/{job.pk}/retry", {}).json()
    assert (body["status"], body["max_attempts"]) == ("queued", 4)
    assert national.get("/api/v1/jobs?status=bogus").status_code == 400
    assert national.get("/api/v1/jobs/99999").status_code == 404
