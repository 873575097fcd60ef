"""The URL map: pages of each context, and the API under ``/api/v1/``."""

from django.urls import include, path, re_path

from dhnet.platform import views
from dhnet.platform.api import api

urlpatterns = [
    path("", include("dhnet.dashboard.home_urls")),  # platform:home: the dashboard for surveillance users
    path("accounts/", include("dhnet.accounts.urls")),
    path("orgunits/", include("dhnet.orgunits.urls")),
    path("audit/", include("dhnet.audit.urls")),
    path("jobs/", include("dhnet.jobs.urls")),
    path("signals/", include("dhnet.signals.urls")),
    path("notifications/", include("dhnet.notifications.urls")),
    path("diseases/", include("dhnet.diseases.urls")),
    path("reporting/", include("dhnet.reporting.urls")),
    path("dashboard/", include("dhnet.dashboard.urls")),
    path("cases/", include("dhnet.cases.urls")),
    path("", include("dhnet.consent.urls")),  # /consent/... (staff) and /my-data/... (right of access)
    path("identity/", include("dhnet.identity.urls")),
    path("release/", include("dhnet.release.urls")),
    path("knowledge/", include("dhnet.knowledge.urls")),
    path("network/", include("dhnet.network.urls")),
    path("atlas/", include("dhnet.atlas.urls")),  # the registry: products, projects, review
    path("feedback/", include("dhnet.feedback.urls")),
    path("needs/", include("dhnet.needs.urls")),
    path("planning/", include("dhnet.planning.urls")),
    path("strategy/", include("dhnet.strategy.urls")),
    path("business-cases/", include("dhnet.businesscase.urls")),
    path("atlas/", include("dhnet.atlas.explore_urls")),  # search, map, country portfolios
    path("atlas/", include("dhnet.atlas.io_urls")),  # import page, export downloads
    path("maturity/", include("dhnet.maturity.explore_urls")),  # profiles, comparison, regions, map of phases
    path("maturity/", include("dhnet.maturity.urls")),  # assessments: fill, focal-point links, review, history
    path("", include("dhnet.fhir.urls")),  # /fhir and /fhir/...: FHIR R4
    path("api/v1/", api.urls),
    path("api/", include("dhnet.reporting.dhis2_urls")),  # DHIS2 clients post to /api/dataValueSets
    re_path(r"^api/", views.api_not_found),  # JSON, also in dev mode
]

handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.not_found
handler500 = views.server_error
