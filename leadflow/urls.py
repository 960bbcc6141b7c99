from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.forms import LoginForm

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="leads:queue", permanent=False), name="home"),
    path("leads/", include("leads.urls")),
    path("", include("qualification.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("", include("followups.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
]

handler500 = "leadflow.views.server_error"
