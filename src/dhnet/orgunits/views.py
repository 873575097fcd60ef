"""The org-unit tree page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dhnet.orgunits import services
from dhnet.platform.access import request_actor, requires


@requires("orgunits:orgunit:read")
def tree_view(request: HttpRequest) -> HttpResponse:
    roots = services.tree(request_actor(request))
    return render(request, "orgunits/tree.html", {"roots": roots})
