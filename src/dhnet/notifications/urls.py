from django.urls import path

from dhnet.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.subscriptions_view, name="subscriptions"),
    path("<int:pk>/active/", views.toggle_view, name="toggle"),
    path("<int:pk>/delete/", views.delete_view, name="delete"),
    path("<int:pk>/secret/", views.secret_view, name="secret"),
    path("deliveries/", views.deliveries_view, name="deliveries"),
]
