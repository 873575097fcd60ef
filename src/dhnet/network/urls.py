from django.urls import path

from dhnet.network import views

app_name = "network"

urlpatterns = [
    path("", views.organisation_list, name="organisations"),
    path("organisations/new/", views.organisation_create, name="organisation-create"),
    path("organisations/<slug:slug>/", views.organisation_detail, name="organisation"),
    path("organisations/<slug:slug>/edit/", views.organisation_edit, name="organisation-edit"),
    path("organisations/<slug:slug>/contacts/", views.contact_add, name="contact-add"),
    path("networks/", views.network_tree, name="networks"),
    path("networks/new/", views.network_create, name="network-create"),
    path("networks/<slug:slug>/", views.network_detail, name="network"),
    path("networks/<slug:slug>/join/", views.join, name="join"),
    path("networks/<slug:slug>/requests/<int:request_id>/", views.decide, name="decide"),
    path("networks/<slug:slug>/events/new/", views.event_create, name="event-create"),
    path("events/", views.event_list, name="events"),
    path("events/<slug:slug>/", views.event_detail, name="event"),
    path("events/<slug:slug>/participate/", views.participate, name="participate"),
    path("events/<slug:slug>/outcomes/", views.outcome_add, name="outcome-add"),
]
