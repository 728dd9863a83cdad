"""rows_update saves many rows' changes in one statement, exactly as bulk_update would."""

from datetime import timedelta

import pytest
from django.utils import timezone

from pbx.persistence import rows_update
from routing.models import Call
from tests.factories import CallFactory, make_device

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_in_one_statement(django_assert_num_queries) -> None:
    first, second, third = CallFactory(), CallFactory(), CallFactory()
    device = make_device(second.callee)
    now = timezone.now()
    first.outcome, first.answered_at, first.final_code = Call.Outcome.MISSED, None, 487
    second.outcome, second.answered_at, second.answered_device = (
        Call.Outcome.ANSWERED,
        now,
        device,
    )
    second.final_code = None
    third.plan = "not saved"  # a field not named is not written

    with django_assert_num_queries(1):
        rows_update(
            [first, second, third], ["outcome", "answered_at", "answered_device", "final_code"]
        )

    rows = {c.pk: c for c in Call.objects.filter(pk__in=[first.pk, second.pk, third.pk])}
    assert (rows[first.pk].outcome, rows[first.pk].answered_at, rows[first.pk].final_code) == (
        Call.Outcome.MISSED,
        None,
        487,
    )
    assert rows[second.pk].outcome == Call.Outcome.ANSWERED
    assert abs(rows[second.pk].answered_at - now) < timedelta(microseconds=1)
    assert rows[second.pk].answered_device_id == device.pk
    assert rows[second.pk].final_code is None
    assert rows[third.pk].plan != "not saved"


def test_nothing_to_save_costs_nothing(django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        rows_update([], ["outcome"])


def test_many_rows_go_in_statements_of_at_most_rows_per_update(
    monkeypatch, django_assert_num_queries
) -> None:
    import pbx.persistence

    monkeypatch.setattr(pbx.persistence, "ROWS_PER_UPDATE", 2)
    calls = [CallFactory() for _ in range(3)]
    for n, call in enumerate(calls):
        call.final_code = 480 + n

    with django_assert_num_queries(2):
        rows_update(calls, ["final_code"])

    assert sorted(Call.objects.values_list("final_code", flat=True)) == [480, 481, 482]
