"""``/api/v1/maturity``: yearly assessments, their answers, evidence, focal-point links, review and workflow.

Thin handlers over :mod:`dhnet.maturity.services`. Published assessments and their publications are public (no
authentication needed, but a token or session sent is honoured so that its holder sees unpublished ones); the
focal-point endpoints ``/maturity/fill/{token}`` are authenticated by the link's token alone.
"""

import base64
import binascii
import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, Status
from ninja.errors import AuthenticationError
from ninja.files import UploadedFile
from pydantic import Field

from dhnet.maturity import services
from dhnet.maturity.models import Assessment, Evidence, FocalPointLink, PublishedScore, ReviewComment
from dhnet.platform.access import Actor, public, request_actor, requires
from dhnet.platform.errors import Invalid

router = Router(tags=["maturity"])


def _viewer(request: HttpRequest) -> Actor:
    """The caller of a public endpoint: the token's actor if a token is sent, else the session's (or anonymous)."""
    if request.headers.get("Authorization"):
        from dhnet.accounts.auth import TokenAuth

        if TokenAuth()(request) is None:
            raise AuthenticationError()
    return request_actor(request)


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR")


# --- schemas --------------------------------------------------------------------------------------------------------


class MaturityAssessmentIn(Schema):
    country: str = Field(max_length=10, description="ISO 3166-1 alpha-2")
    year: int
    rubric: str = Field(services.DEFAULT_RUBRIC, max_length=40, description="gdhm-current (default) or gdhm-classic")
    copy_previous: bool = Field(False, description="start from the country's latest earlier assessment's answers")


class MaturityAssessmentOut(Schema):
    public_id: str
    country: str
    year: int
    rubric: str
    status: str
    version: int
    shared_from: str | None
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    approved_at: dt.datetime | None
    published_at: dt.datetime | None
    return_reason: str


class MaturityEvidenceOut(Schema):
    id: int
    kind: str
    text: str
    url: str
    filename: str
    sha256: str
    size: int
    added_by: str
    created_at: dt.datetime


class MaturityAnswerOut(Schema):
    code: str
    name: str
    component: str
    sub_indicator: bool
    phase: int | None = Field(description="null: unanswered, -1: not available, 1..5")
    note: str
    answered_by: str
    evidence: list[MaturityEvidenceOut]


class MaturityCommentOut(Schema):
    id: int
    indicator: str | None
    author: str
    text: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None


class MaturityDraftComponentScoreOut(Schema):
    name: str
    score: float | None
    phase: int | None


class MaturityAssessmentDetailOut(MaturityAssessmentOut):
    answered: int
    total: int
    answers: list[MaturityAnswerOut]
    comments: list[MaturityCommentOut]
    components: list[MaturityDraftComponentScoreOut] = Field(description="the score of the current answers")
    overall_score: float | None
    overall_phase: int | None


class MaturityAnswerValue(Schema):
    phase: int | None = Field(None, description="-1 (not available) or 1..5; null clears the answer")
    note: str | None = Field(None, max_length=services.MAX_NOTE, description="omitted: the note is kept")


class MaturityAnswersIn(Schema):
    answers: dict[str, MaturityAnswerValue] = Field(description="indicator code -> phase and note", max_length=500)


class MaturityAnswersOut(Schema):
    changed: list[str]
    answered: int
    total: int


class MaturityEvidenceIn(Schema):
    indicator: str = Field(max_length=16)
    kind: str = Field(description="text | link | document")
    text: str = Field("", max_length=services.MAX_TEXT)
    url: str = Field("", max_length=500)
    filename: str = Field("", max_length=255, description="document: its file name (the type is taken from it)")
    content_base64: str = Field(
        "",
        max_length=3_000_000,
        description="document: its content, base64 (small files: a JSON body is limited to 2.5 MB; upload larger "
        f"documents, up to {services.MAX_DOCUMENT} bytes, as multipart to .../documents)",
    )


class MaturityInviteIn(Schema):
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    days: int = Field(services.LINK_DAYS_DEFAULT, description=f"valid for 1..{services.LINK_DAYS_MAX} days")
    send_email: bool = Field(False, description="also e-mail the link to the focal point")


class MaturityLinkOut(Schema):
    id: int
    name: str
    email: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class MaturityInviteOut(MaturityLinkOut):
    token: str = Field(description="shown this once; the link is /maturity/fill/<token>/")
    url: str
    emailed: bool = Field(description="whether the e-mail was accepted by the mail server (send_email)")
    email_error: str


class MaturityReasonIn(Schema):
    reason: str = Field(max_length=services.MAX_COMMENT)


class MaturityCommentIn(Schema):
    text: str = Field(max_length=services.MAX_COMMENT)
    indicator: str | None = Field(None, max_length=16, description="an indicator code; omitted: a general comment")


class MaturityPublicationOut(Schema):
    assessment: str
    country: str
    year: int
    rubric: str
    version: int
    published_at: dt.datetime
    overall_score: float | None
    overall_phase: int | None
    snapshot: dict[str, Any]


class MaturityAssessmentFilter(Schema):
    country: str | None = Field(None, max_length=10)
    year: int | None = None


# --- serialisers ----------------------------------------------------------------------------------------------------


def assessment_out(a: Assessment) -> MaturityAssessmentOut:
    return MaturityAssessmentOut(**_assessment_fields(a))


def _assessment_fields(a: Assessment) -> dict[str, Any]:
    return {
        "public_id": a.public_id,
        "country": a.country,
        "year": a.year,
        "rubric": a.rubric.code,
        "status": a.status,
        "version": a.version,
        "shared_from": a.shared_from.public_id if a.shared_from_id and a.shared_from else None,
        "created_at": a.created_at,
        "submitted_at": a.submitted_at,
        "approved_at": a.approved_at,
        "published_at": a.published_at,
        "return_reason": a.return_reason,
    }


def evidence_out(e: Evidence) -> MaturityEvidenceOut:
    return MaturityEvidenceOut(
        id=e.pk,
        kind=e.kind,
        text=e.text,
        url=e.url,
        filename=e.filename,
        sha256=e.sha256,
        size=e.size,
        added_by=e.added_by,
        created_at=e.created_at,
    )


def comment_out(c: ReviewComment) -> MaturityCommentOut:
    return MaturityCommentOut(
        id=c.pk,
        indicator=c.indicator.code if c.indicator_id and c.indicator else None,
        author=c.author.username if c.author_id and c.author else "",
        text=c.text,
        created_at=c.created_at,
        resolved_at=c.resolved_at,
    )


def detail_out(a: Assessment) -> MaturityAssessmentDetailOut:
    layout = services.form(a)
    answers = [
        MaturityAnswerOut(
            code=r.indicator.code,
            name=r.indicator.name,
            component=c.name,
            sub_indicator=r.sub,
            phase=r.answer.phase if r.answer else None,
            note=r.answer.note if r.answer else "",
            answered_by=r.answer.answered_by if r.answer else "",
            evidence=[evidence_out(e) for e in r.evidence],
        )
        for c in layout.components
        for r in c.rows
    ]
    comments = [comment_out(x) for x in layout.general_comments]
    comments += [comment_out(x) for c in layout.components for r in c.rows for x in r.comments]
    return MaturityAssessmentDetailOut(
        **_assessment_fields(a),
        answered=layout.answered,
        total=layout.total,
        answers=answers,
        comments=comments,
        components=[
            MaturityDraftComponentScoreOut(name=c.name, score=c.score, phase=c.phase) for c in layout.score.components
        ],
        overall_score=layout.score.score,
        overall_phase=layout.score.phase,
    )


def link_out(link: FocalPointLink) -> MaturityLinkOut:
    return MaturityLinkOut(
        id=link.pk,
        name=link.name,
        email=link.email,
        created_at=link.created_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        last_used_at=link.last_used_at,
    )


def publication_out(p: PublishedScore) -> MaturityPublicationOut:
    return MaturityPublicationOut(
        assessment=p.assessment.public_id,
        country=p.assessment.country,
        year=p.assessment.year,
        rubric=p.assessment.rubric.code,
        version=p.version,
        published_at=p.published_at,
        overall_score=p.overall_score,
        overall_phase=p.overall_phase,
        snapshot=p.snapshot,
    )


def _document(payload: MaturityEvidenceIn) -> bytes | None:
    if payload.kind != "document":
        return None
    try:
        return base64.b64decode(payload.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("content_base64: not valid base64") from None


def _add_evidence(
    request: HttpRequest, pid: str, payload: MaturityEvidenceIn, focal: services.FocalPoint | None
) -> Status[MaturityEvidenceOut]:
    item, created = services.add_evidence(
        request_actor(request),
        pid,
        payload.indicator,
        payload.kind,
        text=payload.text,
        url=payload.url,
        data=_document(payload),
        filename=payload.filename,
        focal=focal,
    )
    return Status(201 if created else 200, evidence_out(item))


def _answers(payload: MaturityAnswersIn) -> dict[str, dict[str, Any]]:
    return {code: value.model_dump(exclude_unset=True) for code, value in payload.answers.items()}


# --- assessments ----------------------------------------------------------------------------------------------------


@router.get(
    "/maturity/assessments",
    auth=None,
    response=list[MaturityAssessmentOut],
    summary="Assessments the caller may see (published ones are public)",
)
@public
def list_assessments(request: HttpRequest, filters: Query[MaturityAssessmentFilter]) -> list[MaturityAssessmentOut]:
    rows = services.list_assessments(_viewer(request), filters.country, filters.year)
    return [assessment_out(a) for a in rows]


@router.post(
    "/maturity/assessments",
    response={200: MaturityAssessmentOut, 201: MaturityAssessmentOut},
    summary="Open a country's assessment for a year (idempotent: an existing one is returned)",
)
@requires(services.WRITE)
def open_assessment(request: HttpRequest, payload: MaturityAssessmentIn) -> Status[MaturityAssessmentOut]:
    assessment, created = services.open_assessment(
        request_actor(request), payload.country, payload.year, payload.rubric, copy_previous=payload.copy_previous
    )
    return Status(201 if created else 200, assessment_out(assessment))


@router.get(
    "/maturity/assessments/{pid}",
    auth=None,
    response=MaturityAssessmentDetailOut,
    summary="One assessment with its answers, evidence and comments",
)
@public
def get_assessment(request: HttpRequest, pid: str) -> MaturityAssessmentDetailOut:
    return detail_out(services.get_assessment(_viewer(request), pid))


@router.put(
    "/maturity/assessments/{pid}/answers",
    response=MaturityAnswersOut,
    summary="Set phases and notes (all or nothing; the same values again change nothing)",
)
@requires(services.WRITE)
def put_answers(request: HttpRequest, pid: str, payload: MaturityAnswersIn) -> MaturityAnswersOut:
    assessment, changed = services.answer(request_actor(request), pid, _answers(payload))
    layout = services.form(assessment)
    return MaturityAnswersOut(changed=changed, answered=layout.answered, total=layout.total)


@router.post(
    "/maturity/assessments/{pid}/evidence",
    response={200: MaturityEvidenceOut, 201: MaturityEvidenceOut},
    summary="Add evidence to an indicator (deduplicated: the same text, URL or content returns the existing one)",
)
@requires(services.WRITE)
def add_evidence(request: HttpRequest, pid: str, payload: MaturityEvidenceIn) -> Status[MaturityEvidenceOut]:
    return _add_evidence(request, pid, payload, None)


@router.post(
    "/maturity/assessments/{pid}/documents",
    response={200: MaturityEvidenceOut, 201: MaturityEvidenceOut},
    summary="Upload a document as evidence (multipart: indicator, file; the same content again returns it)",
)
@requires(services.WRITE)
def upload_document(
    request: HttpRequest, pid: str, indicator: Form[str], file: File[UploadedFile]
) -> Status[MaturityEvidenceOut]:
    if file.size is not None and file.size > services.MAX_DOCUMENT:
        raise Invalid(f"document: {file.size} bytes is larger than the limit of {services.MAX_DOCUMENT} bytes")
    item, created = services.add_evidence(
        request_actor(request),
        pid,
        indicator,
        "document",
        data=file.read(services.MAX_DOCUMENT + 1),
        filename=file.name or "",
    )
    return Status(201 if created else 200, evidence_out(item))


@router.delete("/maturity/assessments/{pid}/evidence/{eid}", response={204: None}, summary="Remove evidence")
@requires(services.WRITE)
def remove_evidence(request: HttpRequest, pid: str, eid: int) -> Status[None]:
    services.remove_evidence(request_actor(request), pid, eid)
    return Status(204, None)


@router.post("/maturity/assessments/{pid}/submit", response=MaturityAssessmentOut, summary="Submit for review")
@requires(services.WRITE)
def submit(request: HttpRequest, pid: str) -> MaturityAssessmentOut:
    return assessment_out(services.submit(request_actor(request), pid))


@router.post(
    "/maturity/assessments/{pid}/return", response=MaturityAssessmentOut, summary="Return to the country, with a reason"
)
@requires(services.APPROVE)
def return_assessment(request: HttpRequest, pid: str, payload: MaturityReasonIn) -> MaturityAssessmentOut:
    return assessment_out(services.return_assessment(request_actor(request), pid, payload.reason))


@router.post(
    "/maturity/assessments/{pid}/approve", response=MaturityAssessmentOut, summary="Approve (not the submitter)"
)
@requires(services.APPROVE)
def approve(request: HttpRequest, pid: str) -> MaturityAssessmentOut:
    return assessment_out(services.approve(request_actor(request), pid))


@router.post(
    "/maturity/assessments/{pid}/publish",
    response=MaturityPublicationOut,
    summary="Publish: the snapshot and score become public",
)
@requires(services.APPROVE)
def publish(request: HttpRequest, pid: str) -> MaturityPublicationOut:
    return publication_out(services.publish(request_actor(request), pid))


@router.post(
    "/maturity/assessments/{pid}/reopen",
    response=MaturityAssessmentOut,
    summary="Reopen a published assessment as a new version (earlier publications stay)",
)
@requires(services.WRITE)
def reopen(request: HttpRequest, pid: str, payload: MaturityReasonIn) -> MaturityAssessmentOut:
    return assessment_out(services.reopen(request_actor(request), pid, payload.reason))


@router.get(
    "/maturity/assessments/{pid}/publications",
    auth=None,
    response=list[MaturityPublicationOut],
    summary="Every publication of an assessment, newest version first",
)
@public
def publications(request: HttpRequest, pid: str) -> list[MaturityPublicationOut]:
    return [publication_out(p) for p in services.published_history(_viewer(request), pid)]


# --- review ---------------------------------------------------------------------------------------------------------


@router.post(
    "/maturity/assessments/{pid}/comments",
    response={200: MaturityCommentOut, 201: MaturityCommentOut},
    summary="A reviewer's comment (on an indicator or general)",
)
@requires(services.REVIEW)
def add_comment(request: HttpRequest, pid: str, payload: MaturityCommentIn) -> Status[MaturityCommentOut]:
    row, created = services.comment(request_actor(request), pid, payload.text, payload.indicator)
    return Status(201 if created else 200, comment_out(row))


@router.post(
    "/maturity/assessments/{pid}/comments/{cid}/resolve",
    response=MaturityCommentOut,
    summary="Mark a comment resolved (its author or the country's writers)",
)
@requires(services.SIGNED_IN)
def resolve_comment(request: HttpRequest, pid: str, cid: int) -> MaturityCommentOut:
    return comment_out(services.resolve_comment(request_actor(request), pid, cid))


# --- focal-point links ----------------------------------------------------------------------------------------------


@router.get("/maturity/assessments/{pid}/links", response=list[MaturityLinkOut], summary="The focal-point links")
@requires(services.WRITE)
def list_links(request: HttpRequest, pid: str) -> list[MaturityLinkOut]:
    return [link_out(x) for x in services.links(request_actor(request), pid)]


@router.post(
    "/maturity/assessments/{pid}/links",
    response={201: MaturityInviteOut},
    summary="Invite a focal point: the link's token is shown this once (re-inviting an e-mail revokes its old links)",
)
@requires(services.WRITE)
def invite(request: HttpRequest, pid: str, payload: MaturityInviteIn) -> Status[MaturityInviteOut]:
    link, token = services.invite(request_actor(request), pid, payload.name, payload.email, payload.days)
    url = request.build_absolute_uri(f"/maturity/fill/{token}/")
    sent, error = services.email_link(request_actor(request), link, url) if payload.send_email else (False, "")
    out = MaturityInviteOut(**link_out(link).model_dump(), token=token, url=url, emailed=sent, email_error=error)
    return Status(201, out)


@router.delete("/maturity/assessments/{pid}/links/{lid}", response=MaturityLinkOut, summary="Revoke a link")
@requires(services.WRITE)
def revoke(request: HttpRequest, pid: str, lid: int) -> MaturityLinkOut:
    return link_out(services.revoke(request_actor(request), pid, lid))


# --- the focal point's own endpoints (the link's token authenticates) -----------------------------------------------


@router.get(
    "/maturity/fill/{token}",
    auth=None,
    response=MaturityAssessmentDetailOut,
    summary="The assessment a focal-point link reaches",
)
@public
def fill_get(request: HttpRequest, token: str) -> MaturityAssessmentDetailOut:
    focal = services.link_actor(token, _client_ip(request))
    return detail_out(services.get_assessment(focal.actor, focal.link.assessment.public_id, focal=focal))


@router.put(
    "/maturity/fill/{token}/answers",
    auth=None,
    response=MaturityAnswersOut,
    summary="A focal point sets phases and notes",
)
@public
def fill_answers(request: HttpRequest, token: str, payload: MaturityAnswersIn) -> MaturityAnswersOut:
    focal = services.link_actor(token, _client_ip(request))
    assessment, changed = services.answer(focal.actor, focal.link.assessment.public_id, _answers(payload), focal=focal)
    layout = services.form(assessment)
    return MaturityAnswersOut(changed=changed, answered=layout.answered, total=layout.total)


@router.post(
    "/maturity/fill/{token}/evidence",
    auth=None,
    response={200: MaturityEvidenceOut, 201: MaturityEvidenceOut},
    summary="A focal point adds evidence",
)
@public
def fill_evidence(request: HttpRequest, token: str, payload: MaturityEvidenceIn) -> Status[MaturityEvidenceOut]:
    focal = services.link_actor(token, _client_ip(request))
    return _add_evidence(request, focal.link.assessment.public_id, payload, focal)
