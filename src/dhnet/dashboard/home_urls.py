"""The home page (``/``, named ``platform:home`` as before): the dashboard for those who read surveillance data,
the platform's account page (``dhnet.platform.views.home``) for everyone else. Mounted in place of the platform's
own home route, so that every link and redirect to ``platform:home`` lands here."""

from django.urls import path

from dhnet.dashboard import views

app_name = "platform"

urlpatterns = [path("", views.home_view, name="home")]
