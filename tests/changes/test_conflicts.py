"""Scheduling conflicts (changes.conflicts): other changes on the same CIs, on the impact set or
with the same assignee in an overlapping window, and the blackout windows in scope."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from changes.conflicts import blocking_blackouts, find_conflicts, when, window_label
from tests.factories import BlackoutWindowFactory, ChangeFactory, CIFactory, ci_class

pytestmark = pytest.mark.django_db

T0 = (timezone.now() + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)


def at(hours):
    return T0 + timedelta(hours=hours)


def booked(start=0, end=2, affected=(), impacted=(), services=(), state="scheduled", **fields):
    """A change row booked from ``at(start)`` to ``at(end)`` with its CI sets stored directly."""
    change = ChangeFactory(state=state, planned_start=at(start), planned_end=at(end), **fields)
    change.affected_cis.set(affected)
    change.impacted_cis.set(impacted)
    change.impacted_services.set(services)
    return change


def blackout(start=-24, end=24, classes=(), services=(), **fields):
    window = BlackoutWindowFactory(start=at(start), end=at(end), **fields)
    window.ci_classes.set(classes)
    window.business_services.set(services)
    return window


def kinds(conflicts):
    return sorted((c.kind, c.change_id or c.blackout_id) for c in conflicts)


@pytest.fixture
def db01():
    return CIFactory(name="db01", ci_class=ci_class("database"), environment="production")


@pytest.fixture
def web01():
    return CIFactory(name="web01", ci_class=ci_class("application"), environment="production")


@pytest.fixture
def app01():
    return CIFactory(name="app01", ci_class=ci_class("application"), environment="staging")


# --- Other changes ------------------------------------------------------------------------------


def test_another_change_on_the_same_ci_in_an_overlapping_window_is_a_same_ci_conflict(db01, web01):
    change = booked(0, 2, affected=[db01, web01])
    other = booked(1, 3, affected=[db01])

    [conflict] = find_conflicts(change)

    assert conflict.kind == "same_ci"
    assert (conflict.change_id, conflict.change_number, conflict.change_state) == (other.pk, other.number, "scheduled")
    assert (conflict.start, conflict.end) == (other.planned_start, other.planned_end)
    assert conflict.ci_ids == (db01.pk,) and conflict.ci_names == ("db01",)
    assert other.number in conflict.message and "also changes db01" in conflict.message


def test_another_change_on_a_ci_this_change_impacts_is_an_impacted_ci_conflict(db01, web01):
    change = booked(0, 2, affected=[db01], impacted=[web01])
    other = booked(1, 3, affected=[web01])

    [conflict] = find_conflicts(change)

    assert (conflict.kind, conflict.change_id, conflict.ci_ids) == ("impacted_ci", other.pk, (web01.pk,))
    assert "changes web01, in this change's impact set" in conflict.message


def test_another_change_whose_impact_set_holds_a_ci_this_change_changes_is_an_impacted_ci_conflict(db01, web01):
    change = booked(0, 2, affected=[db01])
    other = booked(1, 3, affected=[web01], impacted=[db01])

    [conflict] = find_conflicts(change)

    assert (conflict.kind, conflict.change_id, conflict.ci_ids) == ("impacted_ci", other.pk, (db01.pk,))
    assert "impacts db01, which this change changes" in conflict.message


def test_changes_that_only_share_impacted_cis_do_not_conflict(db01, web01, app01):
    change = booked(0, 2, affected=[db01], impacted=[app01])
    booked(1, 3, affected=[web01], impacted=[app01])

    assert find_conflicts(change) == []


def test_the_same_assignee_booked_twice_is_an_assignee_conflict(alice, bob, db01, web01):
    change = booked(0, 2, affected=[db01], assignee=alice)
    other = booked(1, 3, affected=[web01], assignee=alice)
    booked(1, 3, assignee=bob)

    [conflict] = find_conflicts(change)

    assert (conflict.kind, conflict.change_id, conflict.ci_ids) == ("assignee", other.pk, ())
    assert conflict.message.startswith(f"The assignee is also booked on {other.number}")


def test_one_other_change_may_conflict_in_several_ways(alice, db01, web01):
    change = booked(0, 2, affected=[db01], impacted=[web01], assignee=alice)
    other = booked(1, 3, affected=[db01, web01], assignee=alice)

    assert kinds(find_conflicts(change)) == [("assignee", other.pk), ("impacted_ci", other.pk), ("same_ci", other.pk)]


def test_conflicts_are_listed_by_the_other_changes_start(db01):
    change = booked(0, 10, affected=[db01])
    late = booked(8, 12, affected=[db01])
    early = booked(-1, 1, affected=[db01])

    assert [c.change_id for c in find_conflicts(change)] == [early.pk, late.pk]


@pytest.mark.parametrize(("start", "end"), [(2, 4), (-2, 0), (5, 6)])
def test_windows_that_only_touch_or_do_not_meet_do_not_overlap(db01, start, end):
    change = booked(0, 2, affected=[db01])
    booked(start, end, affected=[db01])

    assert find_conflicts(change) == []


@pytest.mark.parametrize("state", ["new", "assess", "review", "closed", "canceled"])
def test_changes_that_do_not_book_their_window_are_ignored(db01, alice, state):
    change = booked(0, 2, affected=[db01], assignee=alice)
    booked(0, 2, affected=[db01], assignee=alice, state=state)

    assert find_conflicts(change) == []


@pytest.mark.parametrize("state", ["authorize", "scheduled", "implement"])
def test_changes_that_book_their_window_conflict(db01, state):
    change = booked(0, 2, affected=[db01], state="new")
    other = booked(0, 2, affected=[db01], state=state)

    assert kinds(find_conflicts(change)) == [("same_ci", other.pk)]


def test_a_change_does_not_conflict_with_itself(alice, db01):
    change = booked(0, 2, affected=[db01], assignee=alice)

    assert find_conflicts(change) == []


def test_a_window_given_replaces_the_planned_one(db01):
    change = booked(0, 2, affected=[db01])
    other = booked(24, 26, affected=[db01])

    assert find_conflicts(change) == []
    assert kinds(find_conflicts(change, start=at(25), end=at(27))) == [("same_ci", other.pk)]


def test_a_change_without_a_planned_window_has_no_conflicts(db01, django_assert_num_queries):
    change = ChangeFactory(state="new")
    change.affected_cis.set([db01])
    booked(0, 2, affected=[db01])
    blackout()

    with django_assert_num_queries(0):
        assert find_conflicts(change) == []
        assert blocking_blackouts(change) == []


def test_a_window_ending_before_it_starts_is_refused(db01):
    change = booked(0, 2, affected=[db01])

    with pytest.raises(ValidationError) as raised:
        find_conflicts(change, start=at(3), end=at(1))
    assert "end" in raised.value.message_dict


def test_a_message_spells_out_five_cis_and_counts_the_rest():
    cis = [CIFactory(name=f"host{n:02d}") for n in range(8)]
    change = booked(0, 2, affected=cis)
    booked(1, 3, affected=cis)

    [conflict] = find_conflicts(change)

    assert "host00, host01, host02, host03, host04 and 3 more" in conflict.message
    assert len(conflict.ci_ids) == 8


# --- Blackout windows ---------------------------------------------------------------------------


def test_a_global_blackout_covers_every_change(db01):
    change = booked(0, 2, affected=[db01])
    window = blackout(name="Year-end freeze", reason="Closing the books.")

    [conflict] = find_conflicts(change)

    assert (conflict.kind, conflict.blackout_id, conflict.blackout_name) == ("blackout", window.pk, "Year-end freeze")
    assert (conflict.start, conflict.end, conflict.ci_ids) == (window.start, window.end, ())
    assert (
        conflict.message
        == f"Blackout window “Year-end freeze” ({when(window.start, window.end)}) applies to every change."
    )
    assert blocking_blackouts(change) == [window]


def test_an_environment_blackout_covers_a_change_touching_a_ci_of_that_environment(db01, app01):
    production = blackout(environment="production")
    staging = blackout(environment="staging")
    blackout(environment="development")
    affecting = booked(0, 2, affected=[db01])
    impacting = booked(0, 2, affected=[CIFactory(environment="test")], impacted=[app01])

    [conflict] = find_conflicts(affecting)
    assert (conflict.blackout_id, conflict.ci_names) == (production.pk, ("db01",))
    assert "covers production CIs (db01)" in conflict.message
    assert blocking_blackouts(affecting) == [production]
    assert blocking_blackouts(impacting) == [staging]


def test_a_class_blackout_covers_cis_of_that_class_and_of_its_subclasses():
    server = CIFactory(name="srv01", ci_class=ci_class("server"))
    linux = CIFactory(name="lnx01", ci_class=ci_class("linux-server"))
    hardware_freeze = blackout(name="Hardware", classes=[ci_class("hardware")])
    linux_freeze = blackout(name="Linux", classes=[ci_class("linux-server")])

    assert blocking_blackouts(booked(0, 2, affected=[linux])) == [hardware_freeze, linux_freeze]
    assert blocking_blackouts(booked(0, 2, affected=[server])) == [hardware_freeze]
    assert blocking_blackouts(booked(0, 2, affected=[CIFactory(ci_class=ci_class("database"))])) == []
    [conflict, _] = [c for c in find_conflicts(booked(0, 2, impacted=[linux])) if c.kind == "blackout"]
    assert (conflict.blackout_id, conflict.ci_ids) == (hardware_freeze.pk, (linux.pk,))
    assert "covers CIs of class Hardware (lnx01)" in conflict.message


def test_a_service_blackout_covers_a_change_impacting_that_service(db01):
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    payroll = CIFactory(name="Payroll", ci_class=ci_class("business-service"))
    window = blackout(services=[shop])
    impacting_shop = booked(0, 2, affected=[db01], impacted=[shop], services=[shop])
    impacting_payroll = booked(0, 2, affected=[db01], impacted=[payroll], services=[payroll])

    [conflict] = [c for c in find_conflicts(impacting_shop) if c.kind == "blackout"]
    assert (conflict.blackout_id, conflict.ci_ids) == (window.pk, (shop.pk,))
    assert "covers the business service Online shop" in conflict.message
    assert blocking_blackouts(impacting_payroll) == []


def test_a_blackout_naming_several_scopes_covers_a_change_matching_any_of_them(db01, app01):
    window = blackout(environment="development", classes=[ci_class("database")])

    [conflict] = find_conflicts(booked(0, 2, affected=[db01, app01]))

    assert (conflict.blackout_id, conflict.ci_names) == (window.pk, ("db01",))


def test_inactive_or_distant_blackouts_do_not_count(db01):
    change = booked(0, 2, affected=[db01])
    blackout(active=False)
    blackout(start=2, end=10)
    blackout(start=-10, end=0)

    assert find_conflicts(change) == []
    assert blocking_blackouts(change) == []


def test_a_blackout_is_checked_against_the_window_given(db01):
    change = booked(0, 2, affected=[db01])
    window = blackout(start=48, end=72)

    assert blocking_blackouts(change) == []
    assert blocking_blackouts(change, start=at(50), end=at(51)) == [window]


def test_blackouts_come_first_then_the_other_changes(db01):
    change = booked(0, 2, affected=[db01])
    other = booked(-1, 1, affected=[db01])
    window = blackout(start=1, end=5)

    assert [(c.kind, c.change_id or c.blackout_id) for c in find_conflicts(change)] == [
        ("blackout", window.pk),
        ("same_ci", other.pk),
    ]


def test_window_label_names_the_window_with_its_dates():
    window = blackout(name="Freeze", start=0, end=30)

    assert window_label(window) == f"“Freeze” ({when(window.start, window.end)})"
    local = timezone.localtime(window.start)
    assert f"{local.day} {local:%b %Y %H:%M}" in window_label(window)


# --- Cost ---------------------------------------------------------------------------------------


def test_finding_conflicts_costs_three_queries_whatever_the_number_of_cis_and_changes(
    alice, django_assert_max_num_queries
):
    cis = [CIFactory(ci_class=ci_class("linux-server")) for _ in range(12)]
    shop = CIFactory(ci_class=ci_class("business-service"))
    change = booked(0, 4, affected=cis[:6], impacted=[*cis[6:], shop], services=[shop], assignee=alice)
    for n in range(10):
        booked(n % 3, n % 3 + 2, affected=[cis[n]], impacted=[cis[n + 1]], assignee=alice)
    blackout(environment="production")
    blackout(classes=[ci_class("server")])
    blackout(services=[shop])
    blackout()

    with django_assert_max_num_queries(3):
        conflicts = find_conflicts(change)

    assert len([c for c in conflicts if c.kind == "blackout"]) == 4
    assert len([c for c in conflicts if c.kind == "assignee"]) == 10
