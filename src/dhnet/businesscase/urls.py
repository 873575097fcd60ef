from django.urls import path

from dhnet.businesscase import views

app_name = "businesscase"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("new", views.case_create, name="create"),
    path("<str:public_id>/", views.case_detail, name="detail"),
    path("<str:public_id>/edit", views.case_edit, name="edit"),
    path("<str:public_id>/upload", views.case_upload, name="upload"),
    path("<str:public_id>/copy", views.case_copy, name="copy"),
    path("<str:public_id>/history", views.case_history, name="history"),
    path("<str:public_id>/export.csv", views.export_csv, name="export-csv"),
    path("<str:public_id>/export.pdf", views.export_pdf, name="export-pdf"),
]
