from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.forms import LoginForm
from accounts.views import profile
from api import token_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="leads:queue", permanent=False), name="home"),
    # Public web forms (/f/<slug>/), CSV import (/leads/import/…) and export (/leads/export.csv).
    path("", include("intake.urls")),
    path("leads/", include("leads.urls")),
    path("", include("qualification.urls")),
    path("dashboard/", include("dashboard.urls")),
    path("", include("followups.urls")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=LoginForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("api/", include("api.urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/profile/", profile, name="profile"),
    path("accounts/profile/tokens/new/", token_views.token_create, name="api_token_create"),
    path("accounts/profile/tokens/<int:pk>/revoke/", token_views.token_revoke, name="api_token_revoke"),
    path("admin/", admin.site.urls),
]

handler500 = "leadflow.views.server_error"
