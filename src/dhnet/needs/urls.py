from django.urls import path

from dhnet.needs import views

app_name = "needs"

urlpatterns = [
    path("", views.need_list, name="list"),
    path("new", views.need_create, name="create"),
    path("analytics/<str:country>/", views.analytics, name="analytics"),
    path("<str:public_id>/", views.need_detail, name="detail"),
    path("<str:public_id>/edit", views.need_edit, name="edit"),
    path("<str:public_id>/decide", views.decide, name="decide"),
]
