"""The feedback demo: example ratings of two generated example deployments, a flag, and an expert review.

Only deployments of the generated registry ("(generated example)" in their description) are rated, never a real
system: the ratings are invented and say so ("(example rating)" in each text), and the raters are accounts without a
password (``demo-rater-1`` ... ``demo-rater-7``) verified through invitation codes issued by the operator, exactly as
a team would. The first deployment gets seven ratings (over the minimum: its averages and chart show), the second
three (below it: "not enough ratings yet"); one rating is flagged for the moderation queue; ``demo-expert`` reviews
the first with the rubric when that user exists. Idempotent: running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from dhnet.accounts import services as accounts
from dhnet.accounts.models import User
from dhnet.atlas.models import AT_SCALE, Project, ProjectStatus
from dhnet.feedback import services
from dhnet.feedback.models import RaterInvitation
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict

MARK = "(generated example)"
NOTE = " (example rating)"
EXPERT = "demo-expert"
FLAGGER = "demo-viewer"

#: (audience, usability, reliability, fit, support, data_value, text) of the example raters.
RATINGS: list[tuple[str, int, int, int, int, int, str]] = [
    ("health_worker", 4, 3, 5, 2, 4, "Quick to enter a visit once you know the forms; sync fails on market days."),
    ("health_worker", 5, 4, 4, 3, 4, "Works offline in the village and catches up in the evening."),
    ("manager", 3, 4, 5, 3, 5, "The monthly report is ready the day after the month ends instead of two weeks."),
    ("health_worker", 2, 2, 4, 1, 3, "Nobody came back after the first training; we help each other on WhatsApp."),
    ("manager", 4, 4, 4, 4, 5, "The district dashboard replaced three spreadsheets."),
    ("patient", 4, 3, 4, 3, 3, "The SMS reminders for my child's vaccinations arrive on time."),
    ("health_worker", 3, 2, 4, 2, 3, "The tablet battery does not last a full outreach day."),
]


def _rater(operator: Actor, index: int) -> Actor:
    user, _ = accounts.create_user(operator, f"demo-rater-{index}", role="viewer", orgunit_code=_home())
    return accounts.actor_for_user(user, via="cli", mfa_verified=True)


def _home() -> str:
    from dhnet.orgunits.models import OrgUnit

    root = OrgUnit.objects.filter(parent__isnull=True).order_by("code").first()
    return root.code if root is not None else "DE"


def _verify(operator: Actor, project: Project, rater: Actor, audience: str, label: str) -> None:
    """Verify ``rater`` through an invitation of its own (label ``label``), issued once."""
    if services.rater_status(rater, project).verified:
        return
    try:
        code = services.issue_invitation(operator, project.public_id, {"label": label, "audience": audience}).code
    except Conflict:  # issued by an earlier, interrupted run: a fresh code under a new label
        RaterInvitation.objects.filter(project=project, label=label).update(revoked_at=timezone.now())
        code = services.issue_invitation(operator, project.public_id, {"label": label, "audience": audience}).code
    services.redeem(rater, code)


def load_demo(operator: Actor) -> str:
    """Rate two generated example deployments, flag one rating and add an expert review; one line for the output."""
    candidates = list(
        Project.objects.filter(status=ProjectStatus.PUBLISHED, description__contains=MARK, stage__in=AT_SCALE).order_by(
            "public_id"
        )[:2]
    )
    if len(candidates) < 2:
        return "feedback: no generated example deployments at scale to rate (load the atlas demo first)"
    rated, below = candidates
    services.set_allow_patients(operator, rated.public_id, True)
    written = 0
    for i, (audience, *scores, text) in enumerate(RATINGS, start=1):
        rater = _rater(operator, i)
        _verify(operator, rated, rater, audience, f"demo rater {i}")
        values = dict(zip(("usability", "reliability", "fit", "support", "data_value"), scores, strict=True))
        written += services.rate(rater, rated.public_id, {**values, "audience": audience, "text": text + NOTE}).changed
    for i, (audience, *scores, text) in enumerate(RATINGS[:3], start=1):
        rater = _rater(operator, i)
        _verify(operator, below, rater, audience, f"demo rater {i}")
        values = dict(zip(("usability", "reliability", "fit", "support", "data_value"), scores, strict=True))
        written += services.rate(rater, below.public_id, {**values, "audience": audience, "text": text + NOTE}).changed
    flagger = User.objects.filter(username=FLAGGER).first()
    if flagger is not None:
        target = services.visible_ratings(rated).filter(text__startswith="Nobody came back").first()
        if target is not None and not target.flags.exists():
            services.flag(
                accounts.actor_for_user(flagger, via="cli", mfa_verified=True),
                target.pk,
                "Mentions a private messaging group; please check (example flag)",
            )
    reviewed = ""
    expert = User.objects.filter(username=EXPERT).first()
    if expert is not None:
        rubric_scores: dict[str, Any] = {"fit": 3, "data_protection": 2, "interoperability": 3}
        rubric_scores |= {"sustainability": 2, "evidence": 2, "usability": 3}
        result = services.write_review(
            accounts.actor_for_user(expert, via="cli", mfa_verified=True),
            {
                "project": rated.public_id,
                "scores": rubric_scores,
                "comment": "Example review of a generated deployment.",
            },
        )
        reviewed = f"; expert review {'written' if result.changed else 'unchanged'}"
    return (
        f"feedback: {rated.public_id} and {below.public_id} rated by example raters "
        f"({written} rating(s) written){reviewed}"
    )
