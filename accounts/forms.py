from __future__ import annotations

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from .models import User

USERNAME_MAX = User._meta.get_field("username").max_length


class LoginForm(AuthenticationForm):
    def clean_username(self) -> str:
        # Django's form only sets max_length on the widget; enforce it before authenticate() runs,
        # so an absurd username is a field error, not a failed-login record longer than its column.
        username = self.cleaned_data["username"]
        if len(username) > USERNAME_MAX:
            raise ValidationError(f"Usernames are at most {USERNAME_MAX} characters.")
        return username
