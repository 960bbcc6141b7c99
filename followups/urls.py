from django.urls import path

from . import views

app_name = "followups"

urlpatterns = [
    path("followups/", views.mine, name="mine"),
    path("followups/lead/<int:lead_pk>/add/", views.add, name="add"),
    path("followups/<int:pk>/complete/", views.complete, name="complete"),
    path("followups/<int:pk>/snooze/", views.snooze, name="snooze"),
    path("followups/<int:pk>/reschedule/", views.reschedule, name="reschedule"),
    path("followups/<int:pk>/skip/", views.skip, name="skip"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/unread.json", views.unread_count, name="unread_count"),
    path("notifications/read-all/", views.notifications_read_all, name="read_all"),
    path("notifications/<int:pk>/open/", views.notification_open, name="open"),
    path("notifications/<int:pk>/read/", views.notification_read, name="read"),
]
