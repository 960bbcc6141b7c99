from django.urls import path

from . import views

app_name = "leads"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("new/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("<int:pk>/stage/", views.change_stage, name="change_stage"),
    path("<int:pk>/activity/", views.log_activity, name="log_activity"),
    path("<int:pk>/reassign/", views.reassign, name="reassign"),
    path("<int:pk>/merge/", views.merge_pick, name="merge_pick"),
    path("<int:pk>/merge/<int:other_pk>/", views.merge, name="merge"),
]
