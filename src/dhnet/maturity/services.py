"""The yearly maturity assessment: opening, focal-point links, answers, evidence, review, approval, publication.

Who may do what (``docs/maturity-design.md``):

- a country's **administrators** (:func:`administers`: holders of ``atlas:registry:manage`` or an
  ``atlas.CountryAdmin`` appointment) see its assessments in every state; with ``maturity:assessment:write`` they
  open one, invite focal points, fill and submit it; with ``maturity:assessment:approve`` they return, approve and
  publish it (approving needs someone other than the submitter: four eyes);
- **reviewers** (``maturity:assessment:review``) see assessments once submitted and comment on them;
- a **focal point** without an account fills one assessment through a link (:func:`link_actor`); only the token's
  SHA-256 is stored, and every use is audited under ``focal point <e-mail>``;
- everyone sees published assessments and their :class:`PublishedScore` rows (peer comparison is the point).

Anyone else gets 404 for an unpublished assessment (its existence is not revealed). Every change is audited in the
transaction that makes it, and so is every read of an unpublished assessment. Retrying a call never duplicates:
answers are set (not appended), evidence is deduplicated by text, URL or SHA-256, comments by author and text,
opening a (country, year, rubric) that exists returns it, and re-inviting an e-mail revokes its earlier links.

The published snapshot (``PublishedScore.snapshot``) is::

    {"rubric": "gdhm-current", "country": "DE", "year": 2025, "version": 1,
     "answers": {"1": {"phase": 3, "note": "...", "evidence": 2}, "2a": {...}, ...},   # every indicator
     "components": [{"name": ..., "score": 2.5, "phase": 3}, ...],
     "overall": {"score": 2.75, "phase": 3}}
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from dhnet.atlas.models import CountryAdmin
from dhnet.audit.services import record
from dhnet.maturity import scoring
from dhnet.maturity.models import (
    Answer,
    Assessment,
    Evidence,
    FocalPointLink,
    Indicator,
    PublishedScore,
    ReviewComment,
    Rubric,
)
from dhnet.network.timezones import country_code as _country
from dhnet.platform.access import Actor
from dhnet.platform.errors import Conflict, Forbidden, Invalid, NotFound
from dhnet.platform.validate import text as _text

WRITE = "maturity:assessment:write"
REVIEW = "maturity:assessment:review"
APPROVE = "maturity:assessment:approve"
REGISTRY_MANAGE = "atlas:registry:manage"
#: Held by every signed-in role: declared by endpoints whose service decides (resolving a comment: its author or the
#: country's writers).
SIGNED_IN = "accounts:profile:read"

DRAFT, SUBMITTED, RETURNED, APPROVED, PUBLISHED = "draft", "submitted", "returned", "approved", "published"
#: States in which answers and evidence may change.
EDITABLE = (DRAFT, RETURNED)
#: States a reviewer sees (the assessment has been submitted at least once).
REVIEWABLE = (SUBMITTED, RETURNED, APPROVED, PUBLISHED)

DEFAULT_RUBRIC = "gdhm-current"
RUBRIC_NAMES = {"classic": "gdhm-classic", "current": "gdhm-current"}
ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
PUBLIC_ID_RE = re.compile(rf"^MA-[{ID_ALPHABET}]{{6}}$")
FIRST_YEAR = 2000
MAX_NOTE = 5000
MAX_TEXT = 20_000
MAX_COMMENT = 5000
LINK_DAYS_DEFAULT = 30
LINK_DAYS_MAX = 365
FOCAL_PURPOSE = "maturity-focal-point"
#: Largest evidence document accepted (bytes).
MAX_DOCUMENT = 10 * 1024 * 1024
MAX_EVIDENCE_PER_ANSWER = 50
#: Accepted document types: extension -> (media type, the leading bytes the content must start with; None: text).
DOCUMENT_TYPES: dict[str, tuple[str, tuple[bytes, ...] | None]] = {
    "pdf": ("application/pdf", (b"%PDF-",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
    "pptx": ("application/vnd.openxmlformats-officedocument.presentationml.presentation", (b"PK\x03\x04",)),
    "odt": ("application/vnd.oasis.opendocument.text", (b"PK\x03\x04",)),
    "ods": ("application/vnd.oasis.opendocument.spreadsheet", (b"PK\x03\x04",)),
    "csv": ("text/csv", None),
    "txt": ("text/plain", None),
}


# --- small validators (messages name the field) ---------------------------------------------------------------------


def _year(raw: Any) -> int:
    latest = timezone.now().year + 1
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise Invalid("year: expected a year such as 2025")
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"year: {str(raw)[:12]!r} is not a year") from None
    if not FIRST_YEAR <= value <= latest:
        raise Invalid(f"year: {value} is outside {FIRST_YEAR}..{latest}")
    return value


def _phase(raw: Any, code: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = int(raw.strip())
        except ValueError:
            raise Invalid(f"answers[{code}].phase: {raw[:10]!r} is not -1 (not available) or 1..5") from None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw not in scoring.PHASES:
        raise Invalid(f"answers[{code}].phase: {raw!r} is not -1 (not available) or 1..5")
    return raw


def _url(raw: Any, name: str) -> str:
    value = _text(raw, name, max_length=500, required=True)
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise Invalid(f"{name}: {value[:60]!r} is not an http(s) URL") from None
    return value


def _email(raw: Any) -> str:
    value = _text(raw, "email", max_length=254, required=True).lower()
    try:
        validate_email(value)
    except ValidationError:
        raise Invalid(f"email: {value[:60]!r} is not an e-mail address") from None
    return value


# --- permissions ----------------------------------------------------------------------------------------------------


def administers(actor: Actor, country: str) -> bool:
    """Whether ``actor`` administers ``country``: holds ``atlas:registry:manage`` or is appointed its
    administrator (``atlas.CountryAdmin``). Every write about a country needs this besides its own permission."""
    if actor.has(REGISTRY_MANAGE):
        return True
    if actor.user_id is None:
        return False
    return CountryAdmin.objects.filter(user_id=actor.user_id, country=str(country).upper()).exists()


def administered_countries(actor: Actor) -> list[str] | None:
    """The countries ``actor`` administers by appointment; None: all (a registry manager)."""
    if actor.has(REGISTRY_MANAGE):
        return None
    if actor.user_id is None:
        return []
    return sorted(CountryAdmin.objects.filter(user_id=actor.user_id).values_list("country", flat=True))


def _sees_workflow(actor: Actor, assessment: Assessment) -> bool:
    """Whether ``actor`` sees ``assessment`` in its current (possibly unpublished) state."""
    if administers(actor, assessment.country):
        return True
    return actor.has(REVIEW) and assessment.status in REVIEWABLE


def _require(actor: Actor, permission: str, assessment: Assessment, doing: str) -> None:
    if not actor.has(permission):
        raise Forbidden(f"{doing} requires {permission}")
    if not administers(actor, assessment.country):
        raise Forbidden(f"{doing} an assessment of {assessment.country} requires being its country administrator")


@dataclass(frozen=True)
class FocalPoint:
    """The holder of a valid focal-point link: the link and the actor its uses are audited under."""

    link: FocalPointLink
    actor: Actor


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def link_actor(token: str, ip: str | None = None) -> FocalPoint:
    """The focal point holding ``token``: 404 for an unknown token, 403 for a revoked or expired link."""
    raw = str(token or "")
    if not raw or len(raw) > 200:
        raise NotFound("no such focal-point link")
    link = FocalPointLink.objects.select_related("assessment").filter(token_sha256=_token_hash(raw)).first()
    if link is None:
        raise NotFound("no such focal-point link")
    if link.revoked_at is not None:
        raise Forbidden("this focal-point link was revoked; ask the country's planner for a new one")
    if link.expires_at <= timezone.now():
        raise Forbidden(f"this focal-point link expired on {link.expires_at:%Y-%m-%d}; ask for a new one")
    actor = Actor(
        user_id=None, username=f"focal point {link.email}"[:150], via="anonymous", ip=ip, purpose=FOCAL_PURPOSE
    )
    return FocalPoint(link=link, actor=actor)


def _touch(focal: FocalPoint) -> None:
    FocalPointLink.objects.filter(pk=focal.link.pk).update(last_used_at=timezone.now())


# --- rubrics --------------------------------------------------------------------------------------------------------


def rubric(code: str) -> Rubric:
    """The rubric ``code`` (``gdhm-current``, ``gdhm-classic``; ``current``/``classic`` also accepted); 404 if none."""
    name = RUBRIC_NAMES.get(str(code), str(code))
    found = Rubric.objects.filter(code=name[:40]).first()
    if found is None:
        raise NotFound(f"rubric: no rubric {str(code)[:40]!r}")
    return found


def structure(rubric: Rubric) -> scoring.RubricStructure:
    """What scoring needs of ``rubric``: components in position order with their top-level and sub-indicator codes."""
    indicators = list(Indicator.objects.filter(rubric=rubric).order_by("position", "id"))
    components = []
    for component in rubric.components.order_by("position"):
        mine = [i for i in indicators if i.component_id == component.pk]
        components.append(
            scoring.ComponentStructure(
                name=component.name,
                indicators=tuple(i.code for i in mine if i.parent_id is None),
                sub_indicators=tuple(i.code for i in mine if i.parent_id is not None),
            )
        )
    return scoring.RubricStructure(components=tuple(components), code=rubric.code)


def _indicators(rubric: Rubric) -> dict[str, Indicator]:
    return {i.code: i for i in Indicator.objects.filter(rubric=rubric).order_by("position", "id")}


# --- reading --------------------------------------------------------------------------------------------------------


def _find(public_id: Any, *, lock: bool = False) -> Assessment:
    pid = str(public_id or "").strip().upper()[:20]
    rows = Assessment.objects.select_related("rubric").filter(public_id=pid) if PUBLIC_ID_RE.match(pid) else None
    found = rows.first() if rows is not None else None
    if found is None:
        raise NotFound(f"no assessment {str(public_id)[:20]!r}")
    if lock:
        found = Assessment.objects.select_for_update().select_related("rubric").get(pk=found.pk)
    return found


def _visible(actor: Actor, public_id: Any, *, lock: bool = False, focal: FocalPoint | None = None) -> Assessment:
    """The assessment if ``actor`` (or the link holder ``focal``) sees its current state, else 404."""
    assessment = _find(public_id, lock=lock)
    if focal is not None:
        if focal.link.assessment_id != assessment.pk:
            raise NotFound(f"no assessment {str(public_id)[:20]!r}")
        return assessment
    if assessment.status == PUBLISHED or _sees_workflow(actor, assessment):
        return assessment
    raise NotFound(f"no assessment {str(public_id)[:20]!r}")


def get_assessment(actor: Actor, public_id: Any, *, focal: FocalPoint | None = None) -> Assessment:
    """An assessment ``actor`` may see (404 otherwise); reads of unpublished ones are audited."""
    with transaction.atomic():
        assessment = _visible(actor, public_id, focal=focal)
        if assessment.status != PUBLISHED:
            who = focal.actor if focal is not None else actor
            record(
                who,
                "maturity.assessment.read",
                object_type="maturity.assessment",
                object_id=assessment.public_id,
                detail={"status": assessment.status, "version": assessment.version},
            )
            if focal is not None:
                _touch(focal)
    return assessment


def list_assessments(actor: Actor, country: str | None = None, year: int | None = None) -> list[Assessment]:
    """The assessments ``actor`` may see: published ones, plus every state of the countries they administer and,
    for reviewers, those submitted at least once. Newest year first."""
    rows: QuerySet[Assessment] = Assessment.objects.select_related("rubric")
    if country:
        rows = rows.filter(country=_country(country))
    if year is not None:
        rows = rows.filter(year=_year(year))
    countries = administered_countries(actor)
    if countries is not None:
        visible = Q(status=PUBLISHED) | Q(country__in=countries)
        if actor.has(REVIEW):
            visible |= Q(status__in=REVIEWABLE)
        rows = rows.filter(visible)
    return list(rows.order_by("country", "-year", "rubric__code"))


def published_history(actor: Actor, public_id: Any) -> list[PublishedScore]:
    """The publications of an assessment, newest version first (public once published at least once)."""
    assessment = _find(public_id)
    rows = list(assessment.publications.select_related("published_by").order_by("-version"))
    if not rows and not _sees_workflow(actor, assessment):
        raise NotFound(f"no assessment {str(public_id)[:20]!r}")
    return rows


def history(actor: Actor, public_id: Any) -> tuple[Assessment, list[PublishedScore], list[Assessment]]:
    """An assessment's publications (newest version first) and the country's other years on the same rubric that
    ``actor`` may see (published ones, or all for its administrators and reviewers)."""
    rows = published_history(actor, public_id)
    assessment = _find(public_id)
    years = [
        a
        for a in other_years(assessment)
        if a.status == PUBLISHED or a.publications.exists() or _sees_workflow(actor, a)
    ]
    return assessment, rows, years


def other_years(assessment: Assessment) -> list[Assessment]:
    """The same country's assessments on the same rubric in other years (earlier years are kept), newest first."""
    return list(
        Assessment.objects.filter(country=assessment.country, rubric=assessment.rubric)
        .exclude(pk=assessment.pk)
        .order_by("-year")
    )


def latest_published(country: str, rubric_code: str = DEFAULT_RUBRIC) -> PublishedScore | None:
    """The newest publication of ``country``'s newest published year on ``rubric_code`` (None: never published)."""
    code = RUBRIC_NAMES.get(rubric_code, rubric_code)
    return (
        PublishedScore.objects.select_related("assessment", "assessment__rubric")
        .filter(assessment__country=str(country).upper(), assessment__rubric__code=code)
        .order_by("-assessment__year", "-version", "-id")
        .first()
    )


def published_scores(rubric_code: str = DEFAULT_RUBRIC, year: int | None = None) -> list[PublishedScore]:
    """One publication per country (its newest version): of each country's newest published year, or of ``year``.
    Ordered by country."""
    code = RUBRIC_NAMES.get(rubric_code, rubric_code)
    rows = PublishedScore.objects.select_related("assessment", "assessment__rubric").filter(
        assessment__rubric__code=code
    )
    if year is not None:
        rows = rows.filter(assessment__year=year)
    best: dict[str, PublishedScore] = {}
    for row in rows.order_by("assessment__country", "-assessment__year", "-version", "-id"):
        best.setdefault(row.assessment.country, row)
    return [best[c] for c in sorted(best)]


def indicator_phases(published: PublishedScore) -> dict[str, int]:
    """Indicator code -> the published phase (-1 = not available), sub-indicators included; unanswered left out."""
    answers = published.snapshot.get("answers", {}) if isinstance(published.snapshot, dict) else {}
    return {code: int(a["phase"]) for code, a in answers.items() if isinstance(a, dict) and a.get("phase") is not None}


@dataclass
class IndicatorRow:
    """One indicator on the fill or review page: its texts, the answer, its evidence and comments."""

    indicator: Indicator
    phases: list[tuple[int, str]]
    answer: Answer | None
    evidence: list[Evidence] = field(default_factory=list)
    comments: list[ReviewComment] = field(default_factory=list)
    sub: bool = False


@dataclass
class ComponentRows:
    position: int
    name: str
    rows: list[IndicatorRow]


@dataclass
class Form:
    """An assessment laid out for its pages: components with their indicators, progress, general comments."""

    assessment: Assessment
    components: list[ComponentRows]
    answered: int
    total: int
    general_comments: list[ReviewComment]
    score: scoring.Score

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.total) if self.total else 0

    @property
    def missing(self) -> list[str]:
        return [
            r.indicator.code
            for c in self.components
            for r in c.rows
            if not r.sub and (r.answer is None or r.answer.phase is None)
        ]


def form(assessment: Assessment) -> Form:
    """The layout of ``assessment`` (call after :func:`get_assessment` checked who may see it)."""
    indicators = list(
        Indicator.objects.filter(rubric=assessment.rubric).prefetch_related("phases").order_by("position", "id")
    )
    answers = {a.indicator_id: a for a in assessment.answers.all()}
    evidence: dict[int, list[Evidence]] = {}
    for item in Evidence.objects.filter(answer__assessment=assessment).order_by("created_at", "id"):
        evidence.setdefault(item.answer_id, []).append(item)
    comments: dict[int | None, list[ReviewComment]] = {}
    for comment in assessment.comments.select_related("author").order_by("created_at", "id"):
        comments.setdefault(comment.indicator_id, []).append(comment)
    components = []
    for component in assessment.rubric.components.order_by("position"):
        rows = []
        for ind in indicators:
            if ind.component_id != component.pk:
                continue
            answer = answers.get(ind.pk)
            rows.append(
                IndicatorRow(
                    indicator=ind,
                    phases=[(p.phase, p.text) for p in ind.phases.all()],
                    answer=answer,
                    evidence=evidence.get(answer.pk, []) if answer else [],
                    comments=comments.get(ind.pk, []),
                    sub=ind.parent_id is not None,
                )
            )
        components.append(ComponentRows(component.position, component.name, rows))
    top = [r for c in components for r in c.rows if not r.sub]
    answered = sum(1 for r in top if r.answer is not None and r.answer.phase is not None)
    phases = {r.indicator.code: r.answer.phase for c in components for r in c.rows if r.answer is not None}
    return Form(
        assessment=assessment,
        components=components,
        answered=answered,
        total=len(top),
        general_comments=comments.get(None, []),
        score=scoring.score(structure(assessment.rubric), phases),
    )


def links(actor: Actor, public_id: Any) -> list[FocalPointLink]:
    """The focal-point links of an assessment (its country's administrators)."""
    assessment = _visible(actor, public_id)
    if not administers(actor, assessment.country):
        raise Forbidden(f"the links of an assessment of {assessment.country} are for its country administrators")
    return list(assessment.links.order_by("-created_at", "-id"))


# --- opening --------------------------------------------------------------------------------------------------------


def _new_public_id() -> str:
    for _ in range(50):
        candidate = "MA-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(6))
        if not Assessment.objects.filter(public_id=candidate).exists():
            return candidate
    raise Conflict("could not draw a free assessment identifier")  # 30^6 ids: practically unreachable


def open_assessment(
    actor: Actor, country: Any, year: Any, rubric_code: Any = DEFAULT_RUBRIC, *, copy_previous: bool = False
) -> tuple[Assessment, bool]:
    """Open ``country``'s assessment for ``year`` on a rubric; returns (assessment, created).

    An existing (country, year, rubric) is returned as it is (a retry never duplicates). ``copy_previous`` starts the
    new one from the country's latest earlier assessment on the same rubric (answers, notes, text and link evidence
    and documents; ``shared_from`` names it); earlier years are never changed.
    """
    if not actor.has(WRITE):
        raise Forbidden(f"opening an assessment requires {WRITE}")
    code, when = _country(country), _year(year)
    used = rubric(_text(rubric_code, "rubric", max_length=40, required=True) or DEFAULT_RUBRIC)
    if not administers(actor, code):
        raise Forbidden(f"opening an assessment of {code} requires being its country administrator")
    with transaction.atomic():
        existing = Assessment.objects.filter(country=code, year=when, rubric=used).first()
        if existing is not None:
            return existing, False
        previous = None
        if copy_previous:
            previous = Assessment.objects.filter(country=code, rubric=used, year__lt=when).order_by("-year").first()
        try:
            with transaction.atomic():
                assessment = Assessment.objects.create(
                    public_id=_new_public_id(),
                    country=code,
                    year=when,
                    rubric=used,
                    created_by_id=actor.user_id,
                    shared_from=previous,
                )
        except IntegrityError:  # a concurrent request opened it meanwhile
            return Assessment.objects.get(country=code, year=when, rubric=used), False
        indicators = _indicators(used)
        old = {a.indicator_id: a for a in previous.answers.all()} if previous else {}
        label = _label(actor)
        Answer.objects.bulk_create(
            [
                Answer(
                    assessment=assessment,
                    indicator=ind,
                    phase=old[ind.pk].phase if ind.pk in old else None,
                    note=old[ind.pk].note if ind.pk in old else "",
                    answered_by=old[ind.pk].answered_by if ind.pk in old else "",
                )
                for ind in indicators.values()
            ]
        )
        copied = 0
        if previous is not None:
            new_answers = {a.indicator_id: a for a in assessment.answers.all()}
            rows = []
            for item in Evidence.objects.filter(answer__assessment=previous).select_related("answer"):
                rows.append(
                    Evidence(
                        answer=new_answers[item.answer.indicator_id],
                        kind=item.kind,
                        text=item.text,
                        url=item.url,
                        document=item.document.name if item.document else "",
                        filename=item.filename,
                        sha256=item.sha256,
                        size=item.size,
                        added_by=item.added_by,
                    )
                )
            Evidence.objects.bulk_create(rows)
            copied = len(rows)
        record(
            actor,
            "maturity.assessment.open",
            object_type="maturity.assessment",
            object_id=assessment.public_id,
            detail={
                "country": code,
                "year": when,
                "rubric": used.code,
                "copied_from": previous.public_id if previous else None,
                "evidence_copied": copied,
                "by": label,
            },
            permission=WRITE,
        )
    return assessment, True


def _label(actor: Actor) -> str:
    return actor.username[:300]


# --- focal-point links ----------------------------------------------------------------------------------------------


def invite(
    actor: Actor, public_id: Any, name: Any, email: Any, days: Any = LINK_DAYS_DEFAULT
) -> tuple[FocalPointLink, str]:
    """A link for a focal point to fill the assessment: returns (link, token). The token is shown this once; only
    its SHA-256 is kept. Inviting an e-mail again (a re-invite, or a retry) revokes its earlier links."""
    who = _text(name, "name", max_length=200, required=True)
    address = _email(email)
    if isinstance(days, bool) or not isinstance(days, (int, str)):
        raise Invalid(f"days: expected a number of days 1..{LINK_DAYS_MAX}")
    try:
        valid_days = int(days)
    except ValueError:
        raise Invalid(f"days: {str(days)[:10]!r} is not a number of days") from None
    if not 1 <= valid_days <= LINK_DAYS_MAX:
        raise Invalid(f"days: {valid_days} is outside 1..{LINK_DAYS_MAX}")
    with transaction.atomic():
        assessment = _visible(actor, public_id, lock=True)
        _require(actor, WRITE, assessment, "inviting a focal point to")
        if assessment.status not in EDITABLE:
            raise Conflict(
                f"status: assessment {assessment.public_id} is {assessment.status}; invite while draft or returned"
            )
        now = timezone.now()
        revoked = assessment.links.filter(email=address, revoked_at__isnull=True).update(revoked_at=now)
        token = secrets.token_urlsafe(32)
        link = FocalPointLink.objects.create(
            assessment=assessment,
            name=who,
            email=address,
            token_sha256=_token_hash(token),
            created_by_id=actor.user_id,
            expires_at=now + dt.timedelta(days=valid_days),
        )
        record(
            actor,
            "maturity.link.invite",
            object_type="maturity.assessment",
            object_id=assessment.public_id,
            detail={"link": link.pk, "email": address, "expires": link.expires_at.isoformat(), "revoked": revoked},
            permission=WRITE,
        )
    return link, token


def email_link(actor: Actor, link: FocalPointLink, url: str) -> tuple[bool, str]:
    """E-mail a new link's address to its focal point (call after :func:`invite` committed, with the URL built from
    the token); returns (sent, error). The attempt and its outcome are audited; the URL (the secret) is not."""
    from dhnet.notifications import transports

    assessment = link.assessment
    text = (
        f"Dear {link.name},\n\nyou are invited to fill the digital health maturity assessment of {assessment.country} "
        f"for {assessment.year} ({assessment.rubric.name}). Open this personal link (no account needed); it is "
        f"valid until {link.expires_at:%Y-%m-%d}:\n\n{url}\n\nEach indicator asks for a phase from 1 to 5 (or "
        "'not available'), a note and evidence. Your answers are saved under your e-mail address; the country's "
        "planner submits the assessment for review.\n\nIf you did not expect this message, ignore it."
    )
    subject = f"Maturity assessment {assessment.country} {assessment.year}: your link"
    outcome = transports.send_email(link.email, subject, text, delivery_id=link.pk)
    with transaction.atomic():
        record(
            actor,
            "maturity.link.email",
            object_type="maturity.assessment",
            object_id=assessment.public_id,
            detail={"link": link.pk, "email": link.email, "sent": outcome.ok, "error": outcome.error[:300]},
            permission=WRITE,
        )
    return outcome.ok, outcome.error


def revoke(actor: Actor, public_id: Any, link_id: Any) -> FocalPointLink:
    """Revoke a focal-point link (its country's writers); revoking again changes nothing."""
    with transaction.atomic():
        assessment = _visible(actor, public_id, lock=True)
        _require(actor, WRITE, assessment, "revoking a focal-point link of")
        try:
            link = assessment.links.get(pk=int(link_id))
        except (FocalPointLink.DoesNotExist, ValueError, TypeError):
            raise NotFound(f"link: no link {str(link_id)[:20]!r} of assessment {assessment.public_id}") from None
        if link.revoked_at is None:
            link.revoked_at = timezone.now()
            link.save(update_fields=["revoked_at"])
            record(
                actor,
                "maturity.link.revoke",
                object_type="maturity.assessment",
                object_id=assessment.public_id,
                detail={"link": link.pk, "email": link.email},
                permission=WRITE,
            )
    return link


# --- answers --------------------------------------------------------------------------------------------------------


def _editable(actor: Actor, public_id: Any, focal: FocalPoint | None, doing: str) -> tuple[Assessment, Actor]:
    """The assessment locked for a change by ``actor`` or the link holder; the actor to audit."""
    assessment = _visible(actor, public_id, lock=True, focal=focal)
    if focal is None:
        _require(actor, WRITE, assessment, doing)
    if assessment.status not in EDITABLE:
        raise Conflict(
            f"status: assessment {assessment.public_id} is {assessment.status}; answers change while draft or returned"
        )
    return assessment, (focal.actor if focal is not None else actor)


@dataclass(frozen=True)
class AnswerInput:
    code: str
    phase: int | None
    note: str | None  # None: keep the note
    keep_phase: bool = False  # an entry without "phase": only the note changes


def _answer_inputs(assessment: Assessment, answers: Any) -> list[AnswerInput]:
    if not isinstance(answers, Mapping):
        raise Invalid('answers: expected an object {"<indicator code>": {"phase": 1..5 or -1, "note": "..."}}')
    if len(answers) > 500:
        raise Invalid("answers: more than 500 indicators")
    known = set(Indicator.objects.filter(rubric=assessment.rubric).values_list("code", flat=True))
    inputs = []
    for raw_code, raw in answers.items():
        code = str(raw_code)[:16]
        if str(raw_code) not in known:
            raise Invalid(f"answers[{code}]: no indicator {code!r} in rubric {assessment.rubric.code}")
        if isinstance(raw, Mapping):
            unknown = set(raw) - {"phase", "note"}
            if unknown:
                raise Invalid(f"answers[{code}]: unknown field {sorted(unknown)[0][:20]!r} (phase, note)")
            phase = _phase(raw.get("phase"), code)
            note = _text(raw["note"], f"answers[{code}].note", max_length=MAX_NOTE) if "note" in raw else None
            inputs.append(AnswerInput(code, phase, note, keep_phase="phase" not in raw))
        else:
            inputs.append(AnswerInput(code, _phase(raw, code), None))
    return inputs


def answer(
    actor: Actor, public_id: Any, answers: Any, *, focal: FocalPoint | None = None
) -> tuple[Assessment, list[str]]:
    """Set the phases (and notes) of indicators: ``{"<code>": {"phase": 3, "note": "..."}}`` or ``{"<code>": 3}``.

    Phase -1 is "not available", null clears the answer, an entry without "phase" changes the note only. All or
    nothing: one bad entry (named) stores none. Setting the same values again changes nothing (no new audit record).
    Returns the assessment and the codes changed.
    """
    with transaction.atomic():
        assessment, who = _editable(actor, public_id, focal, "answering")
        inputs = _answer_inputs(assessment, answers)
        rows = {a.indicator.code: a for a in assessment.answers.select_related("indicator")}
        missing = [i for i in inputs if i.code not in rows]
        if missing:  # a rubric indicator added after the assessment was opened
            indicators = _indicators(assessment.rubric)
            for item in missing:
                rows[item.code] = Answer.objects.create(assessment=assessment, indicator=indicators[item.code])
        changed: list[str] = []
        for item in inputs:
            row = rows[item.code]
            note = row.note if item.note is None else item.note
            phase = row.phase if item.keep_phase else item.phase
            if row.phase == phase and row.note == note:
                continue
            row.phase, row.note, row.answered_by = phase, note, _label(who)
            row.save(update_fields=["phase", "note", "answered_by", "updated_at"])
            changed.append(item.code)
        if changed:
            record(
                who,
                "maturity.answer.set",
                object_type="maturity.assessment",
                object_id=assessment.public_id,
                detail={"answers": {c: rows[c].phase for c in changed}},
                permission=WRITE if focal is None else None,
            )
        if focal is not None:
            _touch(focal)
    return assessment, changed


# --- evidence -------------------------------------------------------------------------------------------------------


def _document_type(filename: str, data: bytes) -> tuple[str, str]:
    """(extension, media type) of an accepted document, else ``Invalid`` naming what is wrong."""
    suffix = PurePath(filename).suffix.lower().lstrip(".")
    if suffix not in DOCUMENT_TYPES:
        raise Invalid(f"document: type {suffix or '(none)'!r} is not accepted ({', '.join(sorted(DOCUMENT_TYPES))})")
    media, magic = DOCUMENT_TYPES[suffix]
    if magic is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid(f"document: {filename[:80]!r} is not UTF-8 text") from None
        if "\x00" in text:
            raise Invalid(f"document: {filename[:80]!r} is not text (NUL bytes)")
    elif not any(data.startswith(m) for m in magic):
        raise Invalid(f"document: the content of {filename[:80]!r} is not a {suffix} file")
    return suffix, media


def add_evidence(
    actor: Actor,
    public_id: Any,
    code: Any,
    kind: Any,
    *,
    text: Any = "",
    url: Any = "",
    data: bytes | None = None,
    filename: Any = "",
    focal: FocalPoint | None = None,
) -> tuple[Evidence, bool]:
    """Add evidence to indicator ``code``'s answer: a text, a link (http/https) or a document (at most
    :data:`MAX_DOCUMENT` bytes, of a type in :data:`DOCUMENT_TYPES` whose content matches its extension).

    The same text, URL or document content (SHA-256) again returns the existing evidence: (evidence, created).
    Documents are stored under ``var/media/maturity/`` by their SHA-256.
    """
    kinds = list(Evidence.Kind.values)
    if kind not in kinds:
        raise Invalid(f"kind: {str(kind)[:20]!r} is not one of {', '.join(kinds)}")
    indicator_code = _text(code, "indicator", max_length=16, required=True)
    body, link, name, digest, size, ext = "", "", "", "", 0, ""
    if kind == Evidence.Kind.TEXT:
        body = _text(text, "text", max_length=MAX_TEXT, required=True)
        digest = hashlib.sha256(body.encode()).hexdigest()
    elif kind == Evidence.Kind.LINK:
        link = _url(url, "url")
        body = _text(text, "text", max_length=500)
        digest = hashlib.sha256(link.encode()).hexdigest()
    else:
        if not isinstance(data, bytes) or not data:
            raise Invalid("document: required (an uploaded file)")
        if len(data) > MAX_DOCUMENT:
            raise Invalid(f"document: {len(data)} bytes is larger than the limit of {MAX_DOCUMENT} bytes")
        name = _text(PurePath(str(filename or "")).name, "filename", max_length=255, required=True)
        ext, _media = _document_type(name, data)
        digest, size = hashlib.sha256(data).hexdigest(), len(data)
    with transaction.atomic():
        assessment, who = _editable(actor, public_id, focal, "adding evidence to")
        row = (
            Answer.objects.select_related("indicator")
            .filter(assessment=assessment, indicator__code=indicator_code)
            .first()
        )
        if row is None:
            indicator = Indicator.objects.filter(rubric=assessment.rubric, code=indicator_code).first()
            if indicator is None:
                raise Invalid(f"indicator: no indicator {indicator_code!r} in rubric {assessment.rubric.code}")
            row = Answer.objects.create(assessment=assessment, indicator=indicator)
        existing = row.evidence.filter(kind=kind, sha256=digest).first()
        if existing is not None:
            return existing, False
        if row.evidence.count() >= MAX_EVIDENCE_PER_ANSWER:
            raise Invalid(f"indicator {indicator_code}: at most {MAX_EVIDENCE_PER_ANSWER} pieces of evidence")
        item = Evidence(
            answer=row, kind=kind, text=body, url=link, filename=name, sha256=digest, size=size, added_by=_label(who)
        )
        if kind == Evidence.Kind.DOCUMENT and data is not None:
            path = f"maturity/{digest[:2]}/{digest}.{ext}"
            storage = item.document.storage
            if not storage.exists(path):
                saved = storage.save(path, ContentFile(data))
                if saved != path:  # a concurrent upload of the same content stored it first under this name
                    storage.delete(saved)
            item.document.name = path
        item.save()
        record(
            who,
            "maturity.evidence.add",
            object_type="maturity.assessment",
            object_id=assessment.public_id,
            detail={"indicator": indicator_code, "evidence": item.pk, "kind": kind, "sha256": digest, "size": size},
            permission=WRITE if focal is None else None,
        )
        if focal is not None:
            _touch(focal)
    return item, True


def remove_evidence(actor: Actor, public_id: Any, evidence_id: Any, *, focal: FocalPoint | None = None) -> bool:
    """Remove one piece of evidence; returns whether there was one (removing again is a no-op). A stored document
    stays on disk while other evidence (another year's copy) refers to the same content."""
    with transaction.atomic():
        assessment, who = _editable(actor, public_id, focal, "removing evidence from")
        try:
            item = Evidence.objects.select_related("answer__indicator").get(
                pk=int(evidence_id), answer__assessment=assessment
            )
        except (Evidence.DoesNotExist, ValueError, TypeError):
            return False
        document = item.document.name if item.document else ""
        item.delete()
        if document and not Evidence.objects.filter(document=document).exists():
            transaction.on_commit(lambda: Evidence().document.storage.delete(document))
        record(
            who,
            "maturity.evidence.remove",
            object_type="maturity.assessment",
            object_id=assessment.public_id,
            detail={"indicator": item.answer.indicator.code, "evidence": int(evidence_id), "kind": item.kind},
            permission=WRITE if focal is None else None,
        )
    return True


def evidence_document(
    actor: Actor, public_id: Any, evidence_id: Any, *, focal: FocalPoint | None = None
) -> tuple[bytes, str, str]:
    """The content, file name and media type of a document (for whoever sees the assessment)."""
    assessment = get_assessment(actor, public_id, focal=focal)
    try:
        item = Evidence.objects.get(pk=int(evidence_id), answer__assessment=assessment, kind=Evidence.Kind.DOCUMENT)
    except (Evidence.DoesNotExist, ValueError, TypeError):
        raise NotFound(
            f"evidence: no document {str(evidence_id)[:20]!r} in assessment {assessment.public_id}"
        ) from None
    with item.document.open("rb") as handle:
        content = handle.read()
    ext = PurePath(item.filename).suffix.lower().lstrip(".")
    return content, item.filename, DOCUMENT_TYPES.get(ext, ("application/octet-stream", None))[0]


# --- workflow -------------------------------------------------------------------------------------------------------


def _transition(
    actor: Actor, assessment: Assessment, action: str, allowed: Iterable[str], to: str, permission: str, **detail: Any
) -> None:
    states = tuple(allowed)
    if assessment.status not in states:
        raise Conflict(
            f"status: assessment {assessment.public_id} is {assessment.status}; {action} needs {' or '.join(states)}"
        )
    before = assessment.status
    assessment.status = to
    assessment.save()
    record(
        actor,
        f"maturity.assessment.{action}",
        object_type="maturity.assessment",
        object_id=assessment.public_id,
        detail={"from": before, "to": to, "version": assessment.version, **detail},
        permission=permission,
    )


def submit(actor: Actor, public_id: Any) -> Assessment:
    """Draft or returned -> submitted: needs every top-level indicator answered (a phase or not available)."""
    with transaction.atomic():
        assessment = _visible(actor, public_id, lock=True)
        _require(actor, WRITE, assessment, "submitting")
        if assessment.status in EDITABLE:
            top = Indicator.objects.filter(rubric=assessment.rubric, parent__isnull=True)
            answered = set(
                assessment.answers.filter(phase__isnull=False, indicator__parent__isnull=True).values_list(
                    "indicator__code", flat=True
                )
            )
            missing = [i.code for i in top.order_by("position") if i.code not in answered]
            if missing:
                raise Invalid(f"answers: indicators not answered (a phase or not available): {', '.join(missing)}")
        assessment.submitted_by_id = actor.user_id
        assessment.submitted_at = timezone.now()
        assessment.return_reason = ""
        _transition(actor, assessment, "submit", EDITABLE, SUBMITTED, WRITE)
    return assessment


def return_assessment(actor: Actor, public_id: Any, reason: Any) -> Assessment:
    """Submitted or approved -> returned, with a reason for the country (its approvers)."""
    why = _text(reason, "reason", max_length=MAX_COMMENT, required=True)
    with transaction.atomic():
        assessment = _visible(actor, public_id, lock=True)
        _require(actor, APPROVE, assessment, "returning")
        assessment.return_reason = why
        assessment.approved_by_id, assessment.approved_at = None, None
        _transition(actor, assessment, "return", (SUBMITTED, APPROVED), RETURNED, APPROVE, reason=why[:500])
    return assessment


def approve(actor: Actor, public_id: Any) -> Assessment:
    """Submitted -> approved, by an approver of the country who did not submit it (four eyes)."""
    with transaction.atomic():
        assessment = _visible(actor, public_id, lock=True)
        _require(actor, APPROVE, assessment, "approving")
        if assessment.status == SUBMITTED and actor.user_id is not None and actor.user_id == assessment.submitted_by_id:
            raise Forbidden(
                "four eyes: the person who submitted an assessment may not approve it; ask another approver"
            )
        assessment.approved_by_id, assessment.approved_at = actor.user_id, timezone.now()
        _transition(actor, assessment, "approve", (SUBMITTED,), APPROVED, APPROVE)
    return assessment


def snapshot(assessment: Assessment) -> tuple[dict[str, Any], scoring.Score]:
    """The published snapshot of ``assessment`` now (see the module docstring) and its score."""
    answers = (
        assessment.answers.select_related("indicator").annotate(n=Count("evidence")).order_by("indicator__position")
    )
    entries = {a.indicator.code: {"phase": a.phase, "note": a.note, "evidence": a.n} for a in answers}
    result = scoring.score(structure(assessment.rubric), {c: e["phase"] for c, e in entries.items()})
    data = {
        "rubric": assessment.rubric.code,
        "country": assessment.country,
        "year": assessment.year,
        "version": assessment.version,
        "answers": entries,
        **result.as_dict(),
    }
    return data, result


def publish(actor: Actor, public_id: Any) -> PublishedScore:
    """Approved -> published: writes a :class:`PublishedScore` (snapshot and score), which is never changed."""
    with transaction.atomic():
        assessment = _visible(actor, public_id, lock=True)
        _require(actor, APPROVE, assessment, "publishing")
        if assessment.status != APPROVED:
            raise Conflict(f"status: assessment {assessment.public_id} is {assessment.status}; publish needs approved")
        data, result = snapshot(assessment)
        now = timezone.now()
        assessment.published_at = now
        row = PublishedScore.objects.create(
            assessment=assessment,
            version=assessment.version,
            published_at=now,
            published_by_id=actor.user_id,
            snapshot=data,
            overall_score=result.score,
            overall_phase=result.phase,
        )
        _transition(
            actor, assessment, "publish", (APPROVED,), PUBLISHED, APPROVE, score=result.score, phase=result.phase
        )
    return row


def reopen(actor: Actor, public_id: Any, reason: Any) -> Assessment:
    """Published -> draft as a new version, for a correction (its country's writers); the earlier
    :class:`PublishedScore` rows stay and public views show the newest until the next publication."""
    why = _text(reason, "reason", max_length=MAX_COMMENT, required=True)
    with transaction.atomic():
        assessment = _visible(actor, public_id, lock=True)
        _require(actor, WRITE, assessment, "reopening")
        if assessment.status != PUBLISHED:
            raise Conflict(f"status: assessment {assessment.public_id} is {assessment.status}; reopen needs published")
        assessment.version += 1
        assessment.return_reason = why
        assessment.submitted_by_id = assessment.approved_by_id = None
        assessment.submitted_at = assessment.approved_at = None
        _transition(actor, assessment, "reopen", (PUBLISHED,), DRAFT, WRITE, reason=why[:500])
    return assessment


# --- review ---------------------------------------------------------------------------------------------------------


def comment(actor: Actor, public_id: Any, text: Any, code: Any = None) -> tuple[ReviewComment, bool]:
    """A reviewer's comment on a submitted assessment, on indicator ``code`` or general (None); the same open
    comment by the same author again returns the existing one: (comment, created)."""
    body = _text(text, "text", max_length=MAX_COMMENT, required=True)
    if not actor.has(REVIEW):
        raise Forbidden(f"commenting requires {REVIEW}")
    with transaction.atomic():
        assessment = _visible(actor, public_id, lock=True)
        if assessment.status != SUBMITTED:
            raise Conflict(f"status: assessment {assessment.public_id} is {assessment.status}; comments need submitted")
        indicator = None
        if code not in (None, ""):
            label = _text(code, "indicator", max_length=16)
            indicator = Indicator.objects.filter(rubric=assessment.rubric, code=label).first()
            if indicator is None:
                raise Invalid(f"indicator: no indicator {label!r} in rubric {assessment.rubric.code}")
        same = assessment.comments.filter(
            author_id=actor.user_id, indicator=indicator, text=body, resolved_at__isnull=True
        ).first()
        if same is not None:
            return same, False
        row = ReviewComment.objects.create(
            assessment=assessment, indicator=indicator, author_id=actor.user_id, text=body
        )
        record(
            actor,
            "maturity.comment.add",
            object_type="maturity.assessment",
            object_id=assessment.public_id,
            detail={"comment": row.pk, "indicator": indicator.code if indicator else None},
            permission=REVIEW,
        )
    return row, True


def resolve_comment(actor: Actor, public_id: Any, comment_id: Any) -> ReviewComment:
    """Mark a comment resolved (its author, or the country's writers); resolving again changes nothing."""
    with transaction.atomic():
        assessment = _visible(actor, public_id, lock=True)
        try:
            row = assessment.comments.get(pk=int(comment_id))
        except (ReviewComment.DoesNotExist, ValueError, TypeError):
            raise NotFound(
                f"comment: no comment {str(comment_id)[:20]!r} on assessment {assessment.public_id}"
            ) from None
        author = actor.user_id is not None and row.author_id == actor.user_id and actor.has(REVIEW)
        if not author:
            _require(actor, WRITE, assessment, "resolving a comment on")
        if row.resolved_at is None:
            row.resolved_at = timezone.now()
            row.save(update_fields=["resolved_at"])
            record(
                actor,
                "maturity.comment.resolve",
                object_type="maturity.assessment",
                object_id=assessment.public_id,
                detail={"comment": row.pk},
                permission=REVIEW if author else WRITE,
            )
    return row


def may(actor: Actor, assessment: Assessment) -> dict[str, bool]:
    """What ``actor`` may do to ``assessment`` now (which buttons a page shows; the services check again)."""
    admin = administers(actor, assessment.country)
    writer = admin and actor.has(WRITE)
    approver = admin and actor.has(APPROVE)
    four_eyes = actor.user_id is None or actor.user_id != assessment.submitted_by_id
    status = assessment.status
    return {
        "fill": writer and status in EDITABLE,
        "invite": writer and status in EDITABLE,
        "submit": writer and status in EDITABLE,
        "comment": actor.has(REVIEW) and status == SUBMITTED,
        "approve": approver and status == SUBMITTED and four_eyes,
        "return": approver and status in (SUBMITTED, APPROVED),
        "publish": approver and status == APPROVED,
        "reopen": writer and status == PUBLISHED,
        "links": admin,
    }
