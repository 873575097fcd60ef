from django.urls import path

from dhnet.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/totp/", views.login_totp_view, name="login-totp"),
    path("totp/enrol/", views.totp_enrol_view, name="totp-enrol"),
    path("logout/", views.logout_view, name="logout"),
]
