from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from api.selectors import api_tokens_for
from api.token_views import NEW_KEY_SESSION


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The user's own page: who they are, their teams, and their API tokens."""
    new_token = request.session.pop(NEW_KEY_SESSION, None)
    ctx = {
        "memberships": list(request.user.memberships.select_related("team")),
        "tokens": list(api_tokens_for(user=request.user)),
        "new_token": new_token,
    }
    return render(request, "accounts/profile.html", ctx)
