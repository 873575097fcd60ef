from django.urls import path

from dhnet.identity import views

app_name = "identity"

urlpatterns = [
    path("reidentify/", views.reidentify, name="reidentify"),
    path("reviews/", views.reviews, name="reviews"),
    path("reviews/<int:review_id>/", views.review, name="review"),
]
