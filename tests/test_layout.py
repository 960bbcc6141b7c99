from __future__ import annotations

import pytest
from django.urls import reverse, set_script_prefix

from leadflow.context_processors import NAV_URLS, layout


def test_the_nav_urls_are_what_reverse_gives_for_each_name(rf):
    urls = layout(rf.get("/"))["nav_urls"]
    assert urls == {key: reverse(name) for key, name in NAV_URLS.items()}


def test_the_nav_urls_follow_the_script_prefix(rf):
    set_script_prefix("/crm/")
    try:
        urls = layout(rf.get("/"))["nav_urls"]
    finally:
        set_script_prefix("/")
    assert urls["queue"] == "/crm" + reverse("leads:queue")
    assert layout(rf.get("/"))["nav_urls"]["queue"] == reverse("leads:queue")


@pytest.mark.django_db
def test_every_page_links_the_nav_through_them(client, rep):
    client.force_login(rep)
    html = client.get(reverse("leads:queue")).content.decode()
    for key in ("queue", "followups", "notifications", "unread_count", "profile", "password_change", "logout"):
        assert f'"{reverse(NAV_URLS[key])}"' in html
