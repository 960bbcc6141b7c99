"""The profile page's API token section: create (the key is shown once) and revoke."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from .forms import ApiTokenForm
from .models import ApiToken
from .services import api_token_create, api_token_revoke

NEW_KEY_SESSION = "api_new_token_key"


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST)
    if form.is_valid():
        try:
            token, key = api_token_create(user=request.user, name=form.cleaned_data["name"])
        except ValidationError as e:
            messages.error(request, " ".join(e.messages))
        else:
            # Shown once on the next page, then gone: only the hash is stored.
            request.session[NEW_KEY_SESSION] = {"id": token.pk, "key": key}
            messages.success(request, f"Token “{token.name}” created. Copy it now: it is not shown again.")
    else:
        messages.error(request, "Give the token a name.")
    return redirect("profile")


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    api_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("profile")
