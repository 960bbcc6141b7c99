from django.urls import path

from . import views

app_name = "intake"

urlpatterns = [
    path("f/<slug:slug>/", views.public_form, name="public_form"),
    path("f/<slug:slug>/thanks/", views.public_thanks, name="public_thanks"),
    path("f/<slug:slug>/token/", views.public_token, name="public_token"),
    path("leads/import/", views.import_start, name="import_start"),
    path("leads/import/<int:pk>/", views.import_detail, name="import_detail"),
    path("leads/import/<int:pk>/mapping/", views.import_mapping, name="import_mapping"),
    path("leads/import/<int:pk>/status.json", views.import_status, name="import_status"),
    path("leads/import/<int:pk>/rejected.csv", views.import_errors_csv, name="import_errors_csv"),
    path("leads/export.csv", views.lead_export, name="lead_export"),
]
