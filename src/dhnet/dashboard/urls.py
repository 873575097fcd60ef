from django.urls import path

from dhnet.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index_view, name="index"),
    path("signals/", views.signals_view, name="signals"),
    path("bulletin/", views.bulletin_view, name="bulletin"),
]
