"""changes.kpis.change_kpis: success rate, emergency share, changes that caused incidents and
approval lead time over a period, checked against figures computed by hand."""

import datetime as dt

import pytest
from django.utils import timezone

from changes.kpis import change_kpis
from changes.models import ChangeRequest
from tests.factories import ChangeFactory, IncidentFactory

pytestmark = pytest.mark.django_db

MARCH = (dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def moment(day, hour=12, month=3):
    return timezone.make_aware(dt.datetime(2026, month, day, hour))


def change(created=None, **fields):
    """A change row; ``created`` backdates its creation (auto_now_add can't be set on create)."""
    row = ChangeFactory(**fields)
    ChangeRequest.objects.filter(pk=row.pk).update(created_at=created or moment(1, month=1))
    return row


def closed(day, code, month=3, **fields):
    return change(state="closed", close_code=code, closed_at=moment(day, month=month), **fields)


@pytest.fixture
def march():
    """Closed in March: 3 successful (one with issues), 1 unsuccessful, 1 backed out; 2 of the 5
    caused incidents. Created in March: 4, 2 of them emergencies. Approved in March: 3, after
    2, 10 and 3 hours (median 3, mean 5)."""
    incident = IncidentFactory()
    closed(2, "successful", created=moment(1))
    closed(3, "successful")
    closed(4, "successful_with_issues").caused_incidents.add(incident)
    closed(5, "unsuccessful", type="emergency", created=moment(2)).caused_incidents.add(IncidentFactory())
    closed(31, "backed_out", month=3)
    closed(28, "successful", month=2).caused_incidents.add(incident)  # before March
    change(state="canceled", closed_at=moment(6))  # canceled is not closed
    change(type="emergency", created=moment(20))
    change(type="normal", created=moment(31, hour=23))  # the end date counts whole
    change(type="emergency", created=moment(1, hour=0, month=4))  # April
    for requested, approved in (
        (moment(10, 8), moment(10, 10)),
        (moment(11, 0), moment(11, 10)),
        (moment(12, 0), moment(12, 3)),
        (moment(31, 20), moment(1, 1, month=4)),  # approved in April
    ):
        change(state="scheduled", approval_requested_at=requested, approved_at=approved)
    change(state="scheduled", approval_requested_at=None, approved_at=moment(13))  # no request: no lead time


def test_the_success_rate_is_the_share_of_changes_closed_in_the_period_with_a_successful_code(march):
    kpis = change_kpis(*MARCH)

    assert (kpis["closed"], kpis["successful"], kpis["success_rate"]) == (5, 3, 0.6)


def test_the_emergency_share_is_the_share_of_emergencies_among_the_changes_created(march):
    kpis = change_kpis(*MARCH)

    assert (kpis["created"], kpis["emergency"], kpis["emergency_share"]) == (4, 2, 0.5)


def test_caused_incidents_counts_the_changes_closed_in_the_period_marked_as_a_cause(march):
    kpis = change_kpis(*MARCH)

    assert (kpis["caused_incidents"], kpis["caused_incidents_rate"]) == (2, 0.4)


def test_the_approval_lead_time_runs_from_the_request_to_the_approval_of_changes_approved_in_the_period(march):
    assert change_kpis(*MARCH)["approval_lead_time_hours"] == {"median": 3.0, "mean": 5.0, "count": 3}


def test_datetimes_bound_the_period_exactly(march):
    kpis = change_kpis(moment(2, 0), moment(5, 12))  # the change closed on the 5th at noon is left out

    assert (kpis["closed"], kpis["successful"], kpis["caused_incidents"]) == (3, 3, 1)
    assert (kpis["start"], kpis["end"]) == (moment(2, 0), moment(5, 12))


def test_a_period_with_nothing_to_divide_gives_no_rates(django_assert_max_num_queries):
    change(type="emergency", created=moment(1, month=6))

    with django_assert_max_num_queries(2):
        kpis = change_kpis(*MARCH)

    assert kpis["closed"] == kpis["created"] == kpis["caused_incidents"] == 0
    assert kpis["success_rate"] is kpis["emergency_share"] is kpis["caused_incidents_rate"] is None
    assert kpis["approval_lead_time_hours"] == {"median": None, "mean": None, "count": 0}


def test_rates_are_rounded_fractions():
    for code in ("successful", "successful", "unsuccessful"):
        closed(10, code)

    assert change_kpis(*MARCH)["success_rate"] == 0.6667
