"""The home page (``/``), mounted before the platform's: the dashboard for surveillance users."""

from django.urls import path

from dhnet.dashboard import views

app_name = "dashboard-home"

urlpatterns = [path("", views.home_view, name="home")]
