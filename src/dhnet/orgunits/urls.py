from django.urls import path

from dhnet.orgunits import views

app_name = "orgunits"

urlpatterns = [
    path("", views.tree_view, name="tree"),
]
