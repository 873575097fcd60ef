from django.urls import path

from dhnet.signals import views

app_name = "signals"

urlpatterns = [
    path("", views.signal_list, name="list"),
    path("<int:signal_id>/", views.signal_detail, name="detail"),
    path("<int:signal_id>/transition/", views.signal_transition, name="transition"),
    path("<int:signal_id>/risk/", views.signal_risk, name="risk"),
    path("<int:signal_id>/assign/", views.signal_assign, name="assign"),
    path("<int:signal_id>/comment/", views.signal_comment, name="comment"),
    path("<int:signal_id>/escalate/", views.signal_escalate, name="escalate"),
    path("<int:signal_id>/ihr/", views.signal_ihr, name="ihr"),
    path("report/", views.event_report, name="report"),
    path("runs/", views.run_list, name="runs"),
    path("runs/start/", views.run_start, name="run-start"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
]
