"""``dhnet needs``: a need's ranked and explained matches from the command line.

``dhnet needs match PUBLIC_ID [--limit N] [--json] [--as USERNAME]`` prints the candidates best first, each with
its score and every part (weight, value, points, reason): a table, or JSON in the API's shape. The actor is the
operator (``cli:<os user>``, every permission, audited) unless ``--as`` names a user. Django is imported inside the
command so that ``dhnet --help`` stays fast.
"""

from __future__ import annotations

import json
from typing import Any

import click

from dhnet.cli import main


@main.group()
def needs() -> None:
    """Country needs linked to solutions: ranked, explained matches."""


def _actor(username: str | None) -> Any:
    from dhnet.cli.platform import _django, _operator

    _django()
    if not username:
        return _operator()
    from dhnet.accounts.models import User
    from dhnet.accounts.services import actor_for_user

    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise click.ClickException(f"no active user {username!r}")
    return actor_for_user(user, via="cli", mfa_verified=True)


@needs.command("match")
@click.argument("public_id")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True, help="How many candidates.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of matches (the API's /needs/{id}/matches shape).")
@click.option("--as", "username", default=None, help="Match as this user (default: the operator).")
def match(public_id: str, limit: int, as_json: bool, username: str | None) -> None:
    """The candidates of need PUBLIC_ID (e.g. KE-N4K7Q2M), best first, with every part of each score."""
    actor = _actor(username)
    from dhnet.needs import services
    from dhnet.needs.api import match_out
    from dhnet.platform.errors import ServiceError

    try:
        ranked = services.match(actor, public_id.strip(), limit=limit)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(json.dumps([match_out(m).model_dump() for m in ranked], ensure_ascii=False, indent=1))
        return
    for rank, m in enumerate(ranked, 1):
        where = f" in {m.country}" if m.country else ""
        click.echo(f"{rank:>3}. {m.score:5.1f}  {m.kind} {m.ref}{where}: {m.name}")
        for p in m.parts:
            click.echo(f"        {p.name:<18} {p.weight:4.2f} x {p.value:4.2f} = {p.points:6.4f}  {p.reason}")
