"""Maintenance: windows (one-off or weekly, by CI, class or tag) and changes being implemented
hold back the incidents of their CIs' failures; when the maintenance is over, a failure still
firing opens its incident — a change marked as its likely cause — and one that recovered in the
meantime opens nothing (monitoring.selectors, monitoring.services.maintenance)."""

import time as clock
import zoneinfo
from datetime import datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from changes.choices import ChangeState, ChangeTimelineKind, ChangeType
from changes.services import changes as change_services
from cmdb.models import CI, Tag
from incidents.models import Incident
from itom.models import Notification
from monitoring import selectors
from monitoring.models import Alert, MaintenanceWindow
from monitoring.probes import Outcome
from monitoring.services import alerts, engine, maintenance
from tests.changes.journeys import Cast, change_in
from tests.factories import CIFactory, ci_class, link
from tests.monitoring.factories import CheckFactory, MaintenanceWindowFactory

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NOW = timezone.now().replace(microsecond=0)


def paris(year, month, day, hour, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def fail(check, message="Connection refused."):
    return alerts.check_problem(check, status="down", message=message, at=timezone.now())


@pytest.fixture
def cast(alice, network_team):
    return Cast(requester=alice, team=network_team, approvers={})


# --- when a window runs ----------------------------------------------------------------------


def test_a_one_off_window_runs_from_its_start_to_just_before_its_end():
    window = MaintenanceWindowFactory(start=NOW, end=NOW + timedelta(hours=2))

    assert not selectors.window_is_active(window, NOW - timedelta(seconds=1))
    assert selectors.window_is_active(window, NOW)
    assert selectors.window_is_active(window, NOW + timedelta(hours=2) - timedelta(seconds=1))
    assert not selectors.window_is_active(window, NOW + timedelta(hours=2))


def test_an_inactive_window_never_runs():
    window = MaintenanceWindowFactory(active=False)

    assert not selectors.window_is_active(window, window.start + timedelta(minutes=5))


def test_a_weekly_window_runs_across_midnight_in_the_portals_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    # Fridays 23:00 to Saturdays 01:00, Paris time; 2026-03-06 is a Friday.
    window = MaintenanceWindowFactory(
        recurrence="weekly",
        start=paris(2026, 3, 1, 0),
        end=None,
        weekdays=[4],
        start_time=time(23, 0),
        duration_minutes=120,
    )

    assert not selectors.window_is_active(window, paris(2026, 3, 6, 22, 59))
    assert selectors.window_is_active(window, paris(2026, 3, 6, 23, 0))
    assert selectors.window_is_active(window, paris(2026, 3, 7, 0, 30))  # Saturday, after midnight
    assert not selectors.window_is_active(window, paris(2026, 3, 7, 1, 0))
    assert not selectors.window_is_active(window, paris(2026, 3, 5, 23, 30))  # a Thursday
    assert selectors.window_is_active(window, paris(2026, 3, 13, 23, 30))  # the next Friday
    # 22:30 UTC on a Friday is 23:30 in Paris (winter time): running; in UTC it would not be yet.
    assert selectors.window_is_active(window, datetime(2026, 3, 13, 22, 30, tzinfo=zoneinfo.ZoneInfo("UTC")))


def test_a_weekly_window_runs_only_from_its_first_to_its_last_day(settings):
    settings.TIME_ZONE = "Europe/Paris"
    window = MaintenanceWindowFactory(
        recurrence="weekly",
        start=paris(2026, 3, 9, 12),  # a Monday
        end=paris(2026, 3, 16, 0),  # the next Monday
        weekdays=[0, 2],
        start_time=time(2, 0),
        duration_minutes=60,
    )

    assert selectors.window_is_active(window, paris(2026, 3, 9, 2, 30))  # its first day, before `start`'s time
    assert selectors.window_is_active(window, paris(2026, 3, 11, 2, 30))  # Wednesday
    assert selectors.window_is_active(window, paris(2026, 3, 16, 2, 30))  # its last day
    assert not selectors.window_is_active(window, paris(2026, 3, 2, 2, 30))  # before
    assert not selectors.window_is_active(window, paris(2026, 3, 18, 2, 30))  # after


def test_a_weekly_window_keeps_its_local_time_across_the_change_to_summer_time(settings):
    settings.TIME_ZONE = "Europe/Paris"
    window = MaintenanceWindowFactory(
        weekly=True, start=paris(2026, 3, 1, 0), weekdays=[6], start_time=time(4, 0), duration_minutes=30
    )

    assert selectors.window_is_active(window, paris(2026, 3, 22, 4, 10))  # winter time
    assert selectors.window_is_active(window, paris(2026, 3, 29, 4, 10))  # summer time


# --- what a window covers ----------------------------------------------------------------------


def test_a_window_covers_its_cis_the_cis_of_its_classes_and_their_subclasses_and_its_tagged_cis():
    web, linux, db, other = (
        CIFactory(name="web"),
        CIFactory(name="linux", ci_class=ci_class("linux-server")),
        CIFactory(name="db", tags=["patch-group-a"]),
        CIFactory(name="other"),
    )
    by_ci = MaintenanceWindowFactory(cis=[web])
    by_class = MaintenanceWindowFactory(ci_classes=[ci_class("server")])
    by_tag = MaintenanceWindowFactory(tags=["patch-group-a"])

    found = selectors.maintenance_for([web.pk, linux.pk, db.pk, other.pk])

    assert found == {web.pk: ("window", by_ci.pk), linux.pk: ("window", by_class.pk), db.pk: ("window", by_tag.pk)}


def test_windows_that_are_not_running_cover_nothing():
    ci = CIFactory()
    MaintenanceWindowFactory(cis=[ci], active=False)
    MaintenanceWindowFactory(cis=[ci], start=NOW - timedelta(hours=3), end=NOW - timedelta(hours=1))
    MaintenanceWindowFactory(cis=[ci], start=NOW + timedelta(hours=1), end=NOW + timedelta(hours=3))

    assert selectors.maintenance_for([ci.pk]) == {}


def test_a_change_being_implemented_comes_before_a_window(cast):
    ci = CIFactory()
    MaintenanceWindowFactory(cis=[ci])
    change = change_in(ChangeState.IMPLEMENT, cast, ChangeType.STANDARD, affected_cis=[ci])

    assert selectors.maintenance_for([ci.pk]) == {ci.pk: ("change", change.pk)}


def test_maintenance_for_five_hundred_cis_takes_a_bounded_number_of_queries(django_assert_max_num_queries, cast):
    application, server = ci_class("application"), ci_class("linux-server")
    cis = CI.objects.bulk_create(
        [CI(name=f"host-{n:03d}", ci_class=server if n % 3 == 0 else application) for n in range(500)]
    )
    tag = Tag.objects.create(name="rack-7")
    tag.cis.add(*[ci for ci in cis if ci.pk % 3 == 1])
    MaintenanceWindowFactory(cis=cis[:10])
    MaintenanceWindowFactory(ci_classes=[ci_class("server")])
    MaintenanceWindowFactory(tags=[tag])
    MaintenanceWindowFactory(weekly=True, start_time=time(0, 0), duration_minutes=24 * 60, cis=cis[-5:])
    change_in(ChangeState.IMPLEMENT, cast, ChangeType.STANDARD, affected_cis=cis[10:12])

    with django_assert_max_num_queries(8):
        found = selectors.maintenance_for([ci.pk for ci in cis])

    covered = {ci.pk for n, ci in enumerate(cis) if n < 12 or n >= 495 or n % 3 == 0 or ci.pk % 3 == 1}
    assert set(found) == covered
    assert [found[ci.pk][0] for ci in cis[10:12]] == ["change", "change"]


def test_maintenance_for_no_ci_asks_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert selectors.maintenance_for([]) == {}


# --- suppression -------------------------------------------------------------------------------


def test_a_failure_under_a_window_is_recorded_and_opens_no_incident():
    check = CheckFactory()
    window = MaintenanceWindowFactory(cis=[check.ci])

    alert = fail(check)

    assert (alert.suppressed, alert.suppressed_by_window, alert.incident) == ("window", window, None)
    assert not Incident.objects.exists()


def test_a_check_under_maintenance_keeps_running_its_results_are_recorded_and_no_incident_opens():
    check = CheckFactory(max_attempts=1)
    MaintenanceWindowFactory(cis=[check.ci])

    engine.record([(check.pk, Outcome("down", None, "Connection refused.", clock.time()))])

    check.refresh_from_db()
    assert check.state == "maintenance"
    assert list(check.results.values_list("status", "state")) == [("down", "maintenance")]
    assert Alert.objects.get().suppressed == "window" and not Incident.objects.exists()


def test_a_change_being_implemented_holds_back_its_affected_and_impacted_cis_failures(cast, alice):
    db, app = CIFactory(name="db-01"), CIFactory(name="shop-app")
    link(app, db)  # the app depends on the database: impacted by a change on it
    change = change_in(ChangeState.IMPLEMENT, cast, ChangeType.STANDARD, affected_cis=[db])
    assert list(change.impacted_cis.all()) == [app]

    held = [fail(CheckFactory(ci=db, name="Postgres port")), fail(CheckFactory(ci=app, name="Shop HTTP"))]

    assert [(a.suppressed, a.suppressed_by_change, a.incident) for a in held] == [("change", change, None)] * 2
    assert not Incident.objects.exists()
    lines = change.timeline.filter(kind=ChangeTimelineKind.SYSTEM, body__startswith="Monitoring:")
    assert sorted(line.body.split(" is failing")[0] for line in lines) == [
        "Monitoring: db-01: Postgres port",
        "Monitoring: shop-app: Shop HTTP",
    ]
    assert Notification.objects.filter(event="alert.firing", recipient=alice).count() == 2  # the implementer


def test_repeated_failures_under_a_change_add_to_the_alert_and_write_one_timeline_line(cast):
    check = CheckFactory()
    change = change_in(ChangeState.IMPLEMENT, cast, ChangeType.STANDARD, affected_cis=[check.ci])

    fail(check)
    alert = fail(check)

    assert alert.occurrences == 2
    assert change.timeline.filter(kind=ChangeTimelineKind.SYSTEM, body__startswith="Monitoring:").count() == 1


# --- the end of maintenance ------------------------------------------------------------------


def test_a_failure_still_firing_when_the_change_closes_opens_an_incident_caused_by_the_change(cast, network_team):
    check = CheckFactory(name="Postgres port", ci=CIFactory(name="db-01", owner_team=network_team))
    change = change_in(ChangeState.IMPLEMENT, cast, ChangeType.STANDARD, affected_cis=[check.ci])
    alert = fail(check)
    change_services.transition(change, ChangeState.CLOSED, user=cast.requester, close_code="successful")

    assert maintenance.release_ended() == 1

    alert.refresh_from_db()
    incident = alert.incident
    assert (alert.suppressed, incident.title, incident.assignment_team) == ("", "[db-01] Postgres port", network_team)
    assert list(change.caused_incidents.all()) == [incident]
    assert f"while change {change.number}" in incident.description and "likely cause" in incident.description
    assert incident.timeline.filter(kind="link", body__contains=change.number).exists()
    assert maintenance.release_ended() == 0  # released once


def test_a_failure_still_firing_when_the_window_ends_opens_its_incident():
    check = CheckFactory()
    window = MaintenanceWindowFactory(
        cis=[check.ci], start=NOW - timedelta(minutes=30), end=NOW + timedelta(minutes=30)
    )
    alert = fail(check)

    assert maintenance.release_ended(now=NOW + timedelta(minutes=10)) == 0  # still running
    assert maintenance.release_ended(now=NOW + timedelta(minutes=31)) == 1

    alert.refresh_from_db()
    assert alert.suppressed == "" and alert.incident is not None
    assert f"maintenance window “{window.name}”" in alert.incident.description


def test_a_failure_that_recovered_during_the_window_opens_nothing():
    check = CheckFactory()
    window = MaintenanceWindowFactory(cis=[check.ci])
    fail(check)
    alerts.check_recovered(check, at=timezone.now())

    assert maintenance.release_ended(now=window.end + timedelta(minutes=1)) == 0
    assert not Incident.objects.exists()
    assert Alert.objects.get().status == "resolved"


def test_the_next_failure_after_the_maintenance_opens_the_incident_without_waiting(cast):
    check = CheckFactory()
    change = change_in(ChangeState.IMPLEMENT, cast, ChangeType.STANDARD, affected_cis=[check.ci])
    fail(check)
    change_services.transition(change, ChangeState.CLOSED, user=cast.requester, close_code="successful")

    alert = fail(check)

    assert alert.incident is not None and list(change.caused_incidents.all()) == [alert.incident]


def test_a_failure_held_back_by_a_window_then_a_change_waits_for_both(cast):
    check = CheckFactory()
    window = MaintenanceWindowFactory(cis=[check.ci])
    fail(check)
    change = change_in(ChangeState.IMPLEMENT, cast, ChangeType.STANDARD, affected_cis=[check.ci])

    assert maintenance.release_ended(now=window.end + timedelta(minutes=1)) == 0

    alert = Alert.objects.get()
    assert (alert.suppressed, alert.suppressed_by_change) == ("change", change)


def test_deleting_a_window_releases_the_failures_it_held_back(maria):
    check = CheckFactory()
    window = MaintenanceWindowFactory(cis=[check.ci])
    fail(check)

    maintenance.delete_window(window, user=maria)

    assert maintenance.release_ended() == 1
    assert Incident.objects.count() == 1


def test_an_info_failure_leaves_maintenance_without_an_incident():
    check = CheckFactory(severity="info")
    window = MaintenanceWindowFactory(cis=[check.ci])
    fail(check)

    assert maintenance.release_ended(now=window.end + timedelta(minutes=1)) == 1

    assert Alert.objects.get().suppressed == "" and not Incident.objects.exists()


# --- windows: create, edit, delete ---------------------------------------------------------------


def test_an_agent_creates_a_weekly_window_by_class_and_tag(alice):
    CIFactory(tags=["patch-group-a"])

    window = maintenance.create_window(
        user=alice,
        name="Sunday patching",
        recurrence="weekly",
        weekdays=[6, "6"],
        start_time="03:00",
        duration_minutes=90,
        ci_classes=["linux-server"],
        tags=["Patch-Group-A"],
    )

    assert (window.recurrence, window.weekdays, window.start_time, window.duration_minutes) == (
        "weekly",
        [6],
        time(3, 0),
        90,
    )
    assert [c.slug for c in window.ci_classes.all()] == ["linux-server"]
    assert [t.name for t in window.tags.all()] == ["patch-group-a"]
    assert window.created_by == alice and window.start is not None


def test_an_agent_edits_a_window_and_a_list_given_replaces_the_set(alice):
    first, second = CIFactory(), CIFactory()
    window = maintenance.create_window(
        user=alice, name="Disk swap", start=NOW, end=NOW + timedelta(hours=1), cis=[first.pk]
    )

    maintenance.update_window(window, user=alice, cis=[second], end=NOW + timedelta(hours=3))

    window.refresh_from_db()
    assert list(window.cis.all()) == [second] and window.end == NOW + timedelta(hours=3)


def test_a_viewer_may_not_create_a_window(victor):
    with pytest.raises(PermissionDenied):
        maintenance.create_window(user=victor, name="Nope", start=NOW, end=NOW + timedelta(hours=1))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "Disk\x00swap"}, "name"),
        ({"end": None}, "end"),
        ({"end": NOW - timedelta(hours=1)}, "end"),
        ({"start": None}, "start"),
        ({"start": "tomorrow-ish"}, "start"),
        ({"recurrence": "daily"}, "recurrence"),
        ({"recurrence": "weekly", "weekdays": [], "start_time": "02:00", "duration_minutes": 60}, "weekdays"),
        ({"recurrence": "weekly", "weekdays": [7], "start_time": "02:00", "duration_minutes": 60}, "weekdays"),
        ({"recurrence": "weekly", "weekdays": ["mon"], "start_time": "02:00", "duration_minutes": 60}, "weekdays"),
        ({"recurrence": "weekly", "weekdays": [1], "duration_minutes": 60}, "start_time"),
        ({"recurrence": "weekly", "weekdays": [1], "start_time": "25:00", "duration_minutes": 60}, "start_time"),
        ({"recurrence": "weekly", "weekdays": [1], "start_time": "02:00", "duration_minutes": 0}, "duration_minutes"),
        (
            {"recurrence": "weekly", "weekdays": [1], "start_time": "02:00", "duration_minutes": 10081},
            "duration_minutes",
        ),
        ({"cis": []}, "cis"),
        ({"cis": [999999]}, "cis"),
        ({"ci_classes": ["no-such-class"]}, "ci_classes"),
        ({"tags": ["no-such-tag"]}, "tags"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_window_is_refused_naming_the_field_and_nothing_is_written(alice, fields, field):
    ci = CIFactory()
    values = {"name": "Disk swap", "start": NOW, "end": NOW + timedelta(hours=1), "cis": [ci], **fields}

    with pytest.raises(ValidationError) as caught:
        maintenance.create_window(user=alice, **values)

    assert field in caught.value.message_dict, caught.value.message_dict
    assert not MaintenanceWindow.objects.exists()
