from django.urls import path

from . import views

app_name = "qualification"

# Mounted at the site root by leadflow/urls.py: lead-scoped pages live under /leads/<pk>/.
urlpatterns = [
    path("leads/<int:pk>/calls/new/", views.call_new, name="call_new"),
    path("leads/<int:pk>/disqualify/", views.disqualify, name="disqualify"),
    path("leads/<int:pk>/not-now/", views.nurture, name="nurture"),
    path("helpful-closes/<int:pk>/", views.helpful_close, name="helpful_close"),
    path("settings/criteria/", views.criteria_settings, name="criteria"),
    path("settings/reasons/", views.reason_list, name="reasons"),
    path("settings/reasons/new/", views.reason_edit, name="reason_new"),
    path("settings/reasons/<int:pk>/", views.reason_edit, name="reason_edit"),
]
