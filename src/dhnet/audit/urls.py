from django.urls import path

from dhnet.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.records_view, name="records"),
]
