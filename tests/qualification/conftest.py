from __future__ import annotations

import pytest

from qualification.models import DisqualificationReason
from tests.factories import make_criteria


@pytest.fixture
def criteria(admin_user):
    """Version 1 of BASIC_RULES (problem required; budget 2, decision maker 1, timeline 1; 3 needed)."""
    return make_criteria(by=admin_user)


@pytest.fixture
def no_budget():
    """One of the reasons the data migration installs."""
    return DisqualificationReason.objects.get(code="no_budget")


@pytest.fixture
def other_reason():
    return DisqualificationReason.objects.get(code="other")
