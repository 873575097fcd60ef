"""The assessment's life: open (and copy a previous year), answer, submit, review, return, approve (four eyes),
publish, reopen as a new version; the read functions other contexts use. Every change audited."""

from __future__ import annotations

import pytest

from dhnet.accounts.models import User
from dhnet.audit.models import AuditRecord
from dhnet.maturity import services
from dhnet.maturity.models import Answer, Assessment, Evidence, PublishedScore
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from tests.maturity.assess_world import RUBRIC, filled, make_rubric, people, published


@pytest.fixture
def who(users: dict[str, User]) -> dict[str, Actor]:
    make_rubric()
    return people(users)


def _actions(public_id: str) -> list[str]:
    return list(AuditRecord.objects.filter(object_id=public_id).order_by("seq").values_list("action", flat=True))


def test_open_is_idempotent_and_audited(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    first, created = services.open_assessment(planner, "de", 2025, RUBRIC)
    again, created_again = services.open_assessment(planner, "DE", "2025", RUBRIC)
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert first.public_id.startswith("MA-")
    assert first.status == "draft"
    assert first.version == 1
    assert Assessment.objects.count() == 1
    assert Answer.objects.filter(assessment=first).count() == 4  # every indicator, unanswered
    assert _actions(first.public_id) == ["maturity.assessment.open"]


@pytest.mark.parametrize(
    ("country", "year", "rubric", "error", "message"),
    [
        ("XX", 2025, RUBRIC, Invalid, "country: 'XX' is not an ISO 3166-1"),
        ("DE", 1999, RUBRIC, Invalid, "year: 1999 is outside"),
        ("DE", "twenty", RUBRIC, Invalid, "year: 'twenty' is not a year"),
        ("DE", 2025, "nope", NotFound, "rubric: no rubric 'nope'"),
        ("KE", 2025, RUBRIC, Forbidden, "of KE requires being its country administrator"),
    ],
)
def test_open_refuses_bad_input(
    who: dict[str, Actor], country: str, year: object, rubric: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        services.open_assessment(who["digital_health_planner"], country, year, rubric)
    assert not Assessment.objects.exists()


def test_open_needs_the_write_permission(who: dict[str, Actor]) -> None:
    with pytest.raises(Forbidden, match="requires maturity:assessment:write"):
        services.open_assessment(who["knowledge_manager"], "DE", 2025, RUBRIC)  # administers, may not write


def test_copy_of_the_previous_year_keeps_the_earlier_year(who: dict[str, Actor]) -> None:
    planner, admin = who["digital_health_planner"], who["system_admin"]
    old = published(planner, admin, 2024)
    draft_2024 = Answer.objects.get(assessment=old, indicator__code="1")
    new, _ = services.open_assessment(planner, "DE", 2025, RUBRIC, copy_previous=True)
    assert new.shared_from_id == old.pk
    assert new.pk != old.pk
    assert dict(new.answers.values_list("indicator__code", "phase")) == {"1": 3, "1a": 5, "2": 2, "3": 4}
    services.answer(planner, new.public_id, {"1": {"phase": 4, "note": "new strategy adopted"}})
    draft_2024.refresh_from_db()
    assert draft_2024.phase == 3
    assert draft_2024.note == ""
    assert services.latest_published("DE", RUBRIC) is not None
    assert services.latest_published("DE", RUBRIC).assessment.year == 2024  # type: ignore[union-attr]


def test_copy_carries_the_evidence(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    old = filled(planner, 2024)
    services.add_evidence(planner, old.public_id, "1", "link", url="https://example.org/strategy.pdf")
    new, _ = services.open_assessment(planner, "DE", 2025, RUBRIC, copy_previous=True)
    assert list(Evidence.objects.filter(answer__assessment=new).values_list("url", flat=True)) == [
        "https://example.org/strategy.pdf"
    ]


def test_answers_are_all_or_nothing_and_idempotent(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    assessment, _ = services.open_assessment(planner, "DE", 2025, RUBRIC)
    pid = assessment.public_id
    with pytest.raises(Invalid, match=r"answers\[9\]: no indicator '9' in rubric mini"):
        services.answer(planner, pid, {"1": 3, "9": 2})
    with pytest.raises(Invalid, match=r"answers\[2\].phase: 6 is not -1"):
        services.answer(planner, pid, {"1": 3, "2": {"phase": 6}})
    with pytest.raises(Invalid, match=r"answers\[2\].phase: 0 is not -1"):
        services.answer(planner, pid, {"2": 0})
    with pytest.raises(Invalid, match=r"answers\[2\]: unknown field 'colour'"):
        services.answer(planner, pid, {"2": {"phase": 2, "colour": "red"}})
    assert not Answer.objects.filter(assessment=assessment, phase__isnull=False).exists()
    _, changed = services.answer(planner, pid, {"1": {"phase": 3, "note": "adopted 2021"}, "2": -1})
    _, changed_again = services.answer(planner, pid, {"1": {"phase": 3, "note": "adopted 2021"}, "2": -1})
    assert changed == ["1", "2"]
    assert changed_again == []
    assert Answer.objects.filter(assessment=assessment).count() == 4
    assert _actions(pid).count("maturity.answer.set") == 1
    row = Answer.objects.get(assessment=assessment, indicator__code="1")
    assert (row.phase, row.note, row.answered_by) == (3, "adopted 2021", "digital_health_planner")
    services.answer(planner, pid, {"1": None})  # clearing
    row.refresh_from_db()
    assert row.phase is None
    assert row.note == "adopted 2021"


def test_submit_names_the_missing_top_level_indicators(who: dict[str, Actor]) -> None:
    planner = who["digital_health_planner"]
    assessment, _ = services.open_assessment(planner, "DE", 2025, RUBRIC)
    services.answer(planner, assessment.public_id, {"2": -1})
    with pytest.raises(Invalid, match=r"not answered .*: 1, 3$"):
        services.submit(planner, assessment.public_id)
    services.answer(planner, assessment.public_id, {"1": 1, "3": -1})  # 1a (a sub-indicator) may stay open
    assert services.submit(planner, assessment.public_id).status == "submitted"
    with pytest.raises(Conflict, match="is submitted; submit needs draft or returned"):
        services.submit(planner, assessment.public_id)
    with pytest.raises(Conflict, match="answers change while draft or returned"):
        services.answer(planner, assessment.public_id, {"1": 2})


def test_four_eyes_and_publication(who: dict[str, Actor]) -> None:
    planner, admin = who["digital_health_planner"], who["system_admin"]
    assessment = filled(planner)
    pid = assessment.public_id
    with pytest.raises(Conflict, match="publish needs approved"):
        services.publish(planner, pid)
    services.submit(planner, pid)
    with pytest.raises(Forbidden, match="four eyes"):
        services.approve(planner, pid)
    with pytest.raises(Forbidden, match="requires maturity:assessment:approve"):
        services.approve(who["knowledge_manager"], pid)
    services.approve(admin, pid)
    row = services.publish(planner, pid)
    # Governance: mean(3, 2) = 2.5 -> phase 3 (1a is a sub-indicator); Workforce: 4; overall (2.5 + 4) / 2 = 3.25,
    # rounded half-even to 3.2 -> phase 4.
    assert row.snapshot["components"] == [
        {"name": "Governance", "score": 2.5, "phase": 3},
        {"name": "Workforce", "score": 4.0, "phase": 4},
    ]
    assert (row.overall_score, row.overall_phase, row.version) == (3.25, 4, 1)
    assert row.snapshot["answers"]["1a"] == {"phase": 5, "note": "", "evidence": 0}
    assert services.indicator_phases(row) == {"1": 3, "1a": 5, "2": 2, "3": 4}
    assessment.refresh_from_db()
    assert assessment.status == "published"
    assert assessment.published_at == row.published_at
    assert _actions(pid)[-3:] == [
        "maturity.assessment.submit",
        "maturity.assessment.approve",
        "maturity.assessment.publish",
    ]


def test_return_needs_a_reason_and_allows_resubmission(who: dict[str, Actor]) -> None:
    planner, admin = who["digital_health_planner"], who["system_admin"]
    pid = filled(planner).public_id
    services.submit(planner, pid)
    with pytest.raises(Invalid, match="reason: required"):
        services.return_assessment(admin, pid, "  ")
    returned = services.return_assessment(admin, pid, "evidence for indicator 2 missing")
    assert returned.status == "returned"
    assert returned.return_reason == "evidence for indicator 2 missing"
    services.answer(planner, pid, {"2": 3})
    assert services.submit(planner, pid).return_reason == ""


def test_reopen_keeps_earlier_publications(who: dict[str, Actor]) -> None:
    planner, admin = who["digital_health_planner"], who["system_admin"]
    pid = published(planner, admin).public_id
    with pytest.raises(Invalid, match="reason: required"):
        services.reopen(planner, pid, "")
    reopened = services.reopen(planner, pid, "indicator 3 was mis-scored")
    assert (reopened.status, reopened.version) == ("draft", 2)
    assert services.latest_published("DE", RUBRIC).version == 1  # type: ignore[union-attr]
    services.answer(planner, pid, {"3": 5})
    services.submit(planner, pid)
    services.approve(admin, pid)
    services.publish(admin, pid)
    rows = list(PublishedScore.objects.filter(assessment__public_id=pid).order_by("version"))
    assert [(r.version, r.snapshot["answers"]["3"]["phase"]) for r in rows] == [(1, 4), (2, 5)]
    assert services.latest_published("DE", RUBRIC) == rows[1]
    assert [r.version for r in services.published_history(Actor.anonymous(), pid)] == [2, 1]


def test_published_scores_one_per_country(who: dict[str, Actor], users: dict[str, User]) -> None:
    planner, admin = who["digital_health_planner"], who["system_admin"]
    published(planner, admin, 2023, phases={"1": 1, "2": 1, "3": 1})
    published(planner, admin, 2025)
    ke, _ = services.open_assessment(admin, "KE", 2024, RUBRIC)
    services.answer(admin, ke.public_id, {"1": 2, "2": 2, "3": -1})
    services.submit(admin, ke.public_id)
    with pytest.raises(NotFound):  # the planner does not administer KE: its unpublished assessment is not there
        services.approve(planner, ke.public_id)
    assert [(p.assessment.country, p.assessment.year) for p in services.published_scores(RUBRIC)] == [("DE", 2025)]
    assert [p.assessment.year for p in services.published_scores(RUBRIC, year=2023)] == [2023]
    assert services.published_scores("gdhm-classic") == []
    assert services.latest_published("KE", RUBRIC) is None


def test_comments_by_reviewers_on_submitted_assessments(who: dict[str, Actor]) -> None:
    planner, reviewer = who["digital_health_planner"], who["expert_reviewer"]
    pid = filled(planner).public_id
    with pytest.raises(NotFound):
        services.comment(reviewer, pid, "too early")  # a draft is not the reviewer's to see
    services.submit(planner, pid)
    with pytest.raises(Forbidden, match="requires maturity:assessment:review"):
        services.comment(planner, pid, "self review")
    with pytest.raises(Invalid, match="indicator: no indicator '7'"):
        services.comment(reviewer, pid, "on what?", "7")
    first, created = services.comment(reviewer, pid, "phase 3 needs a costed plan", "1")
    again, created_again = services.comment(reviewer, pid, "phase 3 needs a costed plan", "1")
    general, _ = services.comment(reviewer, pid, "well documented overall")
    assert created
    assert not created_again
    assert again.pk == first.pk
    assert general.indicator is None
    with pytest.raises(Forbidden, match="resolving a comment on requires maturity:assessment:write"):
        services.resolve_comment(who["knowledge_manager"], pid, first.pk)  # sees it, is not its author or writer
    assert services.resolve_comment(planner, pid, first.pk).resolved_at is not None
    services.resolve_comment(planner, pid, first.pk)
    assert _actions(pid).count("maturity.comment.resolve") == 1


def test_visibility_of_unpublished_assessments(who: dict[str, Actor]) -> None:
    planner, admin = who["digital_health_planner"], who["system_admin"]
    pid = filled(planner).public_id
    for role in ("partner", "viewer", "expert_reviewer"):
        with pytest.raises(NotFound):
            services.get_assessment(who[role], pid)
    with pytest.raises(NotFound):
        services.get_assessment(Actor.anonymous(), pid)
    assert services.get_assessment(who["knowledge_manager"], pid).public_id == pid  # registry manager
    assert [a.public_id for a in services.list_assessments(who["partner"])] == []
    services.submit(planner, pid)
    assert services.get_assessment(who["expert_reviewer"], pid).status == "submitted"
    assert _actions(pid).count("maturity.assessment.read") == 2
    services.approve(admin, pid)
    services.publish(admin, pid)
    assert services.get_assessment(Actor.anonymous(), pid).status == "published"
    assert [a.public_id for a in services.list_assessments(Actor.anonymous(), country="DE")] == [pid]
    assert _actions(pid).count("maturity.assessment.read") == 2  # published reads are not audited


def test_structure_of_a_rubric(who: dict[str, Actor]) -> None:
    built = services.structure(services.rubric(RUBRIC))
    assert [(c.name, c.indicators, c.sub_indicators) for c in built.components] == [
        ("Governance", ("1", "2"), ("1a",)),
        ("Workforce", ("3",), ()),
    ]
    with pytest.raises(NotFound, match="rubric: no rubric 'x'"):
        services.rubric("x")
