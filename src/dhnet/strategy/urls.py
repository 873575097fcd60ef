from django.urls import path

from dhnet.strategy import views

app_name = "strategy"

urlpatterns = [
    path("", views.framework, name="framework"),
    path("indicators/", views.indicator_list, name="indicators"),
    path("indicators/<str:code>/", views.indicator_detail, name="indicator"),
    path("indicators/<str:code>/target", views.set_target, name="set-target"),
    path("progress/", views.progress, name="progress"),
    path("report/", views.report, name="report"),
    path("values/upload/", views.upload, name="upload"),
]
