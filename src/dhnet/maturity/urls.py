"""The assessment workflow's pages under ``/maturity/`` (``views``); profiles, comparison and map are in
``explore_urls``."""

from django.urls import path

from dhnet.maturity import views

app_name = "maturity"

urlpatterns = [
    path("assessments/", views.assessment_list, name="assessments"),
    path("assessments/new/", views.assessment_open, name="open"),
    path("assessments/<str:pid>/", views.assessment_page, name="assessment"),
    path("assessments/<str:pid>/answers/", views.answers_save, name="answers"),
    path("assessments/<str:pid>/evidence/", views.evidence_add, name="evidence-add"),
    path("assessments/<str:pid>/evidence/<int:eid>/", views.evidence_download, name="evidence"),
    path("assessments/<str:pid>/evidence/<int:eid>/remove/", views.evidence_remove, name="evidence-remove"),
    path("assessments/<str:pid>/submit/", views.assessment_submit, name="submit"),
    path("assessments/<str:pid>/reopen/", views.assessment_reopen, name="reopen"),
    path("assessments/<str:pid>/decide/", views.assessment_decide, name="decide"),
    path("assessments/<str:pid>/comments/", views.comment_add, name="comment"),
    path("assessments/<str:pid>/comments/<int:cid>/resolve/", views.comment_resolve, name="comment-resolve"),
    path("assessments/<str:pid>/links/", views.link_invite, name="invite"),
    path("assessments/<str:pid>/links/<int:lid>/revoke/", views.link_revoke, name="revoke"),
    path("assessments/<str:pid>/history/", views.assessment_history, name="history"),
    path("review/", views.review_queue, name="review"),
    path("fill/<str:token>/", views.fill_page, name="fill"),
    path("fill/<str:token>/answers/", views.fill_answers, name="fill-answers"),
    path("fill/<str:token>/evidence/", views.fill_evidence, name="fill-evidence"),
    path("fill/<str:token>/evidence/<int:eid>/", views.fill_download, name="fill-download"),
    path("fill/<str:token>/evidence/<int:eid>/remove/", views.fill_evidence_remove, name="fill-evidence-remove"),
]
