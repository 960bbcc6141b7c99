from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from qualification.models import CriteriaVersion
from qualification.services import criteria_publish
from tests.factories import BASIC_RULES, make_criteria


@pytest.mark.postgres
def test_two_admins_publishing_at_once_get_consecutive_versions_and_one_current(committed_db, admin_user):
    make_criteria(by=admin_user)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def publish(threshold: int) -> None:
        try:
            barrier.wait()
            results.append(criteria_publish(by=admin_user, rules=BASIC_RULES, threshold=threshold).number)
        except ValidationError as e:  # pragma: no cover - shown if the lock does not hold
            results.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(t,)) for t in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [2, 3]
    assert list(CriteriaVersion.objects.filter(is_current=True).values_list("number", flat=True)) == [3]
