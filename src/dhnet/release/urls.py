from django.urls import path

from dhnet.release import views

app_name = "release"

urlpatterns = [
    path("", views.home, name="home"),
    path("new/", views.create, name="create"),
    path("linelist/", views.linelist, name="linelist"),
    path("public/", views.public_home, name="public-home"),
    path("public/<slug:slug>/", views.public_dataset, name="public-dataset"),
    path("<slug:slug>/", views.dataset, name="dataset"),
    path("<slug:slug>/publish/", views.publish, name="publish"),
]
