"""changes.selectors: the CIs under maintenance while a change is implemented (what monitoring
asks) and what the change calendar shows."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from changes.selectors import calendar_entries, cis_under_maintenance, maintenance_changes
from tests.factories import BlackoutWindowFactory, ChangeFactory, CIFactory

pytestmark = pytest.mark.django_db

T0 = (timezone.now() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)


def at(hours):
    return T0 + timedelta(hours=hours)


def change_on(state, affected=(), impacted=(), start=0, end=2, **fields):
    change = ChangeFactory(state=state, planned_start=at(start), planned_end=at(end), **fields)
    change.affected_cis.set(affected)
    change.impacted_cis.set(impacted)
    return change


@pytest.fixture
def cis():
    return [CIFactory(name=f"host{n}") for n in range(6)]


# --- Maintenance --------------------------------------------------------------------------------


def test_the_cis_of_a_change_being_implemented_and_their_dependents_are_under_maintenance(
    cis, django_assert_num_queries
):
    change_on("implement", affected=[cis[0]], impacted=[cis[1], cis[2]])
    change_on("implement", affected=[cis[2], cis[3]])
    change_on("scheduled", affected=[cis[4]])
    change_on("review", affected=[cis[5]])

    with django_assert_num_queries(1):
        assert cis_under_maintenance() == {cis[0].pk, cis[1].pk, cis[2].pk, cis[3].pk}


def test_nothing_is_under_maintenance_when_no_change_is_implemented(cis):
    change_on("scheduled", affected=cis)
    change_on("closed", affected=cis)

    assert cis_under_maintenance() == set()


def test_maintenance_changes_names_the_change_covering_each_ci_asked_about(cis, django_assert_num_queries):
    first = change_on("implement", affected=[cis[0]], impacted=[cis[1]])
    second = change_on("implement", affected=[cis[1], cis[2]])
    change_on("canceled", affected=[cis[3]])

    with django_assert_num_queries(1):
        found = maintenance_changes([cis[0].pk, cis[1].pk, cis[2].pk, cis[3].pk, cis[4].pk])

    assert found == {cis[0].pk: first.pk, cis[1].pk: first.pk, cis[2].pk: second.pk}


def test_maintenance_changes_of_no_ci_asks_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert maintenance_changes([]) == {}


def test_a_ci_leaves_maintenance_when_its_change_moves_on(cis):
    change = change_on("implement", affected=[cis[0]])
    assert maintenance_changes([cis[0].pk]) == {cis[0].pk: change.pk}

    change.state = "review"
    change.save(update_fields=["state"])

    assert maintenance_changes([cis[0].pk]) == {}
    assert cis_under_maintenance() == set()


# --- Calendar -----------------------------------------------------------------------------------


def test_the_calendar_shows_the_changes_overlapping_the_period_but_not_canceled_ones():
    early = change_on("closed", start=-30, end=-20)
    spanning = change_on("scheduled", start=-5, end=50)
    inside = change_on("new", start=1, end=3)
    change_on("canceled", start=1, end=3)
    change_on("scheduled", start=24, end=30)
    change_on("scheduled", start=-30, end=-25)  # ends as the period starts
    ChangeFactory(state="new")  # no planned window

    entries = calendar_entries(at(-25), at(24))

    assert list(entries.changes) == [early, spanning, inside]


def test_the_calendar_joins_each_changes_team_and_assignee(alice, network_team, django_assert_num_queries):
    change_on("scheduled", assignee=alice, assignment_team=network_team)
    change_on("scheduled")

    with django_assert_num_queries(1):
        shown = [
            (c.assignee and c.assignee.username, c.assignment_team and c.assignment_team.name)
            for c in calendar_entries(at(-1), at(3)).changes
        ]

    assert sorted(shown, key=str) == sorted([("alice", "Network"), (None, None)], key=str)


def test_the_calendar_shows_the_active_blackouts_overlapping_the_period():
    freeze = BlackoutWindowFactory(start=at(-48), end=at(1))
    later = BlackoutWindowFactory(start=at(10), end=at(40))
    BlackoutWindowFactory(start=at(-48), end=at(1), active=False)
    BlackoutWindowFactory(start=at(24), end=at(30))

    assert list(calendar_entries(at(0), at(24)).blackouts) == [freeze, later]


def test_a_calendar_period_ending_before_it_starts_is_refused():
    with pytest.raises(ValidationError) as raised:
        calendar_entries(at(2), at(1))
    assert "end" in raised.value.message_dict
