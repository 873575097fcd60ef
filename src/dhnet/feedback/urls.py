from django.urls import path

from dhnet.feedback import views

app_name = "feedback"

urlpatterns = [
    path("", views.home, name="home"),
    path("projects/<str:public_id>/", views.project_feedback, name="project"),
    path("projects/<str:public_id>/rate/", views.rate, name="rate"),
    path("projects/<str:public_id>/invitations/", views.invitations, name="invitations"),
    path("projects/<str:public_id>/settings/", views.feedback_settings, name="settings"),
    path("invitations/<int:invitation_id>/revoke/", views.revoke, name="revoke"),
    path("redeem/", views.redeem, name="redeem"),
    path("ratings/<int:rating_id>/flag/", views.flag, name="flag"),
    path("ratings/<int:rating_id>/moderate/", views.moderate, name="moderate"),
    path("moderation/", views.moderation, name="moderation"),
    path("reviews/", views.reviews, name="reviews"),
    path("reviews/new/", views.review_new, name="review-new"),
    path("reviews/<int:review_id>/", views.review, name="review"),
]
