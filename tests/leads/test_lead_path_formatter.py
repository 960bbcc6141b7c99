"""leads.models.lead_path_formatter: Lead.get_absolute_url's paths, formatted for many leads."""

from __future__ import annotations

import pytest
from django.urls import clear_script_prefix, set_script_prefix

from leads import models
from leads.models import Lead, lead_path_formatter


@pytest.mark.parametrize("prefix", ["/", "/crm/", "/1234567/"])
def test_it_gives_each_lead_the_path_get_absolute_url_gives(prefix):
    set_script_prefix(prefix)
    try:
        path = lead_path_formatter()
        for pk in (1, 7, 42, 1234567, 7654321, 10**12):
            assert path(pk) == Lead(pk=pk).get_absolute_url()
    finally:
        clear_script_prefix()


def test_a_path_it_cannot_prove_is_reversed_for_each_lead(monkeypatch):
    calls = []

    def reverse(name, args):
        calls.append(args[0])
        return f"/leads/{args[0]}/{args[0] // 1000000}/"  # not the same around the id

    monkeypatch.setattr(models, "reverse", reverse)
    path = lead_path_formatter()
    assert (path(3), path(4000000)) == ("/leads/3/0/", "/leads/4000000/4/")
    assert calls[-2:] == [3, 4000000]
