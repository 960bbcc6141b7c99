from django.urls import path

from . import views

app_name = "dashboard"

urlpatterns = [
    path("", views.index, name="index"),
    path("refresh/", views.refresh, name="refresh"),
    path("reassign/", views.bulk_reassign, name="bulk_reassign"),
    path("csv/<slug:table>/", views.export_csv, name="csv"),
]
