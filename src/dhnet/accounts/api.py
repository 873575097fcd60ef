"""``/api/v1/me`` and ``/api/v1/tokens``: thin handlers over :mod:`dhnet.accounts.services`."""

from django.http import HttpRequest
from ninja import Router, Status

from dhnet.accounts import services
from dhnet.accounts.models import User
from dhnet.accounts.schemas import MeOut, RoleOut, TokenCreated, TokenIn, TokenOut
from dhnet.platform.access import request_actor, requires

router = Router(tags=["accounts"])


@router.get("/me", response=MeOut, summary="Who am I: roles, where they apply, effective scopes")
@requires("accounts:profile:read")
def me(request: HttpRequest) -> MeOut:
    actor = request_actor(request)
    return MeOut(
        username=actor.username,
        via=actor.via,
        roles=[RoleOut(role=g.role, orgunit=g.orgunit_code, orgunit_name=g.orgunit_name) for g in actor.grants],
        scopes=sorted(actor.permissions),
        mfa_verified=actor.mfa_verified,
    )


@router.get("/tokens", response=list[TokenOut], summary="My API tokens (without secrets)")
@requires("accounts:token:read")
def list_tokens(request: HttpRequest) -> list[TokenOut]:
    return [TokenOut.model_validate(t) for t in services.list_tokens(request_actor(request))]


@router.post("/tokens", response={201: TokenCreated}, summary="Create an API token; the secret is shown once")
@requires("accounts:token:write")
def create_token(request: HttpRequest, payload: TokenIn) -> Status[TokenCreated]:
    actor = request_actor(request)
    owner = User.objects.get(pk=actor.user_id)
    token, raw = services.create_token(
        actor, owner, name=payload.name, scopes=payload.scopes, expires_days=payload.expires_days
    )
    return Status(201, TokenCreated(**TokenOut.model_validate(token).model_dump(), token=raw))


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke one of my API tokens")
@requires("accounts:token:write")
def revoke_token(request: HttpRequest, token_id: int) -> Status[None]:
    services.revoke_token(request_actor(request), token_id)
    return Status(204, None)
