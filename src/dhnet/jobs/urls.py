from django.urls import path

from dhnet.jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.list_view, name="list"),
    path("<int:job_id>/", views.detail_view, name="detail"),
    path("<int:job_id>/retry/", views.retry_view, name="retry"),
]
