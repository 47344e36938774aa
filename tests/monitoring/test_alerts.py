"""Alerts and the incidents they open (monitoring.services.alerts): one alert per problem however
often it is reported, one incident per alert with its priority from the CI and the severity,
assigned to the CI's owner team, and resolved by itself when the problem recovers — unless a
person has taken it over, or the check keeps its incidents open."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from changes.choices import ChangeState, ChangeType
from changes.services import changes as change_services
from incidents.choices import IncidentState, ResolutionCode, Source, TimelineKind
from incidents.models import Incident, PriorityRule
from incidents.services import incidents as incident_services
from itom.models import Notification, WebhookDelivery
from monitoring.models import Alert
from monitoring.services import alerts
from monitoring.services import checks as check_services
from tests.changes.journeys import Cast, change_in
from tests.factories import CIFactory, WebhookEndpointFactory
from tests.monitoring.factories import CheckFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(hours=1)


def at(minutes):
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def web(network_team):
    return CIFactory(name="web-01", criticality=2, owner_team=network_team)


@pytest.fixture
def check(web):
    return CheckFactory(name="HTTPS port", ci=web, severity="major", port=443)


def fail(check, minutes=0, status="down", message="Connection refused."):
    return alerts.check_problem(check, status=status, message=message, at=at(minutes))


def work_notes(incident):
    return list(
        incident.timeline.filter(kind=TimelineKind.WORK_NOTE).order_by("time", "pk").values_list("body", flat=True)
    )


# --- firing ----------------------------------------------------------------------------------------


def test_a_checks_hard_failure_fires_an_alert_that_opens_an_incident(check, web, network_team):
    alert = fail(check)

    assert (alert.fingerprint, alert.source, alert.status) == (f"check:{check.pk}", "check", "firing")
    assert (alert.name, alert.summary, alert.severity) == ("HTTPS port", "Connection refused.", "major")
    assert (alert.ci, alert.monitor, alert.occurrences) == (web, check, 1)
    assert alert.first_seen == alert.last_seen == at(0)
    assert alert.labels == {"check": str(check.pk), "kind": "tcp", "target": "127.0.0.1"}
    incident = alert.incident
    assert incident.title == "[web-01] HTTPS port"
    assert (incident.source, incident.state, incident.alert_fingerprint) == (
        Source.MONITORING,
        "new",
        alert.fingerprint,
    )
    assert list(incident.affected_cis.all()) == [web]
    assert incident.assignment_team == network_team
    assert "Connection refused." in incident.description and f"check:{check.pk}" in incident.description


def test_repeated_failures_add_to_the_alert_and_open_no_second_incident(check):
    first = fail(check, 0)
    fail(check, 1, message="Timed out after 5s.")
    again = alerts.fire(
        f"check:{check.pk}", source="check", name="HTTPS port", severity="major", ci=check.ci, at=at(2), count=5
    )

    assert again.pk == first.pk
    assert (again.occurrences, again.first_seen, again.last_seen) == (7, at(0), at(2))
    assert again.summary == "Timed out after 5s."
    assert Alert.objects.count() == 1
    assert Incident.objects.count() == 1 and again.incident_id == first.incident_id


def test_a_report_arriving_late_does_not_move_last_seen_back(check):
    fail(check, 10)
    alert = fail(check, 5)

    assert (alert.first_seen, alert.last_seen, alert.occurrences) == (at(5), at(10), 2)


@pytest.mark.parametrize(
    ("criticality", "severity", "impact", "urgency", "priority"),
    [
        (1, "critical", 1, 1, 1),
        (2, "major", 1, 1, 1),
        (3, "major", 2, 1, 2),
        (3, "minor", 2, 2, 3),
        (4, "minor", 3, 2, 4),
        (4, "warning", 3, 3, 5),
    ],
)
def test_impact_comes_from_the_cis_criticality_urgency_from_the_severity_and_priority_from_the_matrix(
    criticality, severity, impact, urgency, priority
):
    check = CheckFactory(ci=CIFactory(criticality=criticality), severity=severity)

    incident = fail(check).incident

    assert (incident.impact, incident.urgency, incident.priority) == (impact, urgency, priority)


def test_the_priority_follows_the_matrix_as_managers_edited_it():
    PriorityRule.objects.update_or_create(impact=2, urgency=2, defaults={"priority": 2})
    check = CheckFactory(ci=CIFactory(criticality=3), severity="minor")

    assert fail(check).incident.priority == 2


def test_a_warning_result_fires_a_warning_alert_of_a_major_check(check):
    alert = fail(check, status="warning", message="Certificate expires in 12 days.")

    assert alert.severity == "warning"
    assert alert.incident.urgency == 3


def test_a_warning_result_of_an_info_check_stays_info():
    check = CheckFactory(severity="info")

    assert fail(check, status="warning").severity == "info"


def test_an_info_alert_opens_no_incident_and_tells_the_cis_owner_team(network_team, alice):
    check = CheckFactory(ci=CIFactory(owner_team=network_team), severity="info")

    alert = fail(check)

    assert alert.incident is None and alert.suppressed == ""
    assert Incident.objects.count() == 0
    notice = Notification.objects.get(event="alert.firing")
    assert notice.recipient == alice and "HTTPS" not in notice.title and check.name in notice.title


def test_an_alert_that_opens_an_incident_tells_people_only_through_the_incident(check, alice):
    fail(check)
    fail(check, 1)

    assert not Notification.objects.filter(event="alert.firing").exists()
    assert Notification.objects.filter(event="incident.created", recipient=alice).count() == 1


def test_webhooks_hear_of_each_new_and_each_resolved_alert_not_of_every_report(check):
    WebhookEndpointFactory(events=["alert.firing", "alert.resolved"])
    fail(check)
    fail(check, 1)
    alerts.check_recovered(check, at=at(2))

    deliveries = list(WebhookDelivery.objects.order_by("pk"))
    assert [d.event for d in deliveries] == ["alert.firing", "alert.resolved"]
    data = deliveries[1].payload["data"]
    assert (data["fingerprint"], data["status"], data["occurrences"], data["check"]) == (
        f"check:{check.pk}",
        "resolved",
        2,
        check.pk,
    )
    assert deliveries[0].payload["object"]["type"] == "monitoring.alert"


def test_an_inbound_alert_without_a_ci_opens_an_incident_of_medium_impact_and_no_team():
    alert = alerts.fire(
        "am:0123abcd",
        source="alertmanager",
        name="HighErrorRate",
        summary="5xx above 5 % for 10 minutes",
        severity="critical",
        labels={"alertname": "HighErrorRate", "job": "api"},
        at=at(3),
    )

    incident = alert.incident
    assert (incident.title, incident.impact, incident.urgency, incident.assignment_team) == (
        "HighErrorRate",
        2,
        1,
        None,
    )
    assert "alertname=HighErrorRate" in incident.description and alert.first_seen == at(3)


def test_nul_characters_a_sender_put_in_an_alert_are_dropped_rather_than_failing_the_write():
    alert = alerts.fire(
        "am:\x00nul",
        source="events",
        name="Disk\x00 full",
        summary="99 %\x00",
        severity="major",
        labels={"host\x00": "db\x00-01", "n": [1, "a\x00"]},
    )

    alert.refresh_from_db()
    assert (alert.fingerprint, alert.name, alert.summary) == ("am:nul", "Disk full", "99 %")
    assert alert.labels == {"host": "db-01", "n": [1, "a"]}


def test_an_alert_storm_reported_at_once_counts_every_report():
    alert = alerts.fire("am:storm", source="alertmanager", name="DiskFull", severity="major", count=250)

    assert alert.occurrences == 250 and Incident.objects.count() == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"fingerprint": ""}, "fingerprint"),
        ({"fingerprint": "x" * 256}, "fingerprint"),
        ({"source": "carrier-pigeon"}, "source"),
        ({"name": "  "}, "name"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"count": 0}, "count"),
        ({"count": "3"}, "count"),
        ({"labels": ["a", "b"]}, "labels"),
        ({"at": timezone.now().replace(tzinfo=None)}, "at"),
    ],
)
def test_a_malformed_alert_is_refused_naming_the_field_and_nothing_is_written(fields, field):
    values = {"fingerprint": "am:1", "source": "events", "name": "Disk full", "severity": "major", **fields}
    fingerprint = values.pop("fingerprint")

    with pytest.raises(ValidationError) as caught:
        alerts.fire(fingerprint, **values)

    assert field in caught.value.message_dict
    assert not Alert.objects.exists() and not Incident.objects.exists()


# --- recovery ------------------------------------------------------------------------------------


def test_recovery_resolves_the_alert_and_auto_resolves_the_incident_with_a_note(check):
    incident = fail(check).incident
    fail(check, 1)

    alert = alerts.check_recovered(check, at=at(3))

    assert (alert.status, alert.resolved_at) == ("resolved", at(3))
    incident.refresh_from_db()
    assert (incident.state, incident.resolution_code) == (IncidentState.RESOLVED, ResolutionCode.SOLVED)
    assert "HTTPS port recovered after 2 failure reports" in incident.resolution_notes
    assert "2 successful checks in a row" in incident.resolution_notes
    assert Notification.objects.filter(event="alert.resolved").count() == 0  # told through the incident


def test_recovery_leaves_an_incident_a_person_took_over_open_with_a_work_note(check, alice):
    incident = fail(check).incident
    incident_services.assign(incident, user=alice, assignee=alice)

    alerts.check_recovered(check, at=at(3))

    incident.refresh_from_db()
    assert incident.state == IncidentState.NEW
    assert any("Left open: alice has taken it over" in body for body in work_notes(incident))
    assert Alert.objects.get().status == "resolved"


def test_recovery_resolves_a_taken_over_incident_that_a_successful_change_released(check, alice, network_team):
    incident = fail(check).incident
    incident_services.assign(incident, user=alice, assignee=alice)
    cast = Cast(requester=alice, team=network_team, approvers={})
    change = change_in(ChangeState.IMPLEMENT, cast, ChangeType.STANDARD)
    change_services.link_incident(change, incident, user=alice)
    change_services.transition(change, ChangeState.CLOSED, user=alice, close_code="successful", review_notes="Done.")
    incident.refresh_from_db()
    assert (incident.state, incident.assignee) == (IncidentState.IN_PROGRESS, alice)  # waiting for its alerts

    alerts.check_recovered(check, at=at(3))

    incident.refresh_from_db()
    assert incident.state == IncidentState.RESOLVED


def test_recovery_of_a_check_that_keeps_its_incidents_leaves_the_incident_open(web):
    check = CheckFactory(ci=web, auto_resolve=False)
    incident = fail(check).incident

    alerts.check_recovered(check, at=at(3))

    incident.refresh_from_db()
    assert incident.state == IncidentState.NEW
    assert any("does not resolve its incident by itself" in body for body in work_notes(incident))


def test_a_failure_after_the_recovery_fires_a_new_alert_and_opens_a_new_incident(check):
    first = fail(check)
    alerts.check_recovered(check, at=at(3))

    second = fail(check, 10)

    assert second.pk != first.pk and second.occurrences == 1 and second.first_seen == at(10)
    assert second.incident_id != first.incident_id
    assert Incident.objects.filter(state="new").get() == second.incident
    first.refresh_from_db()
    assert first.status == "resolved"


def test_a_failure_again_while_a_person_still_works_the_old_incident_joins_it(check, alice):
    incident = fail(check).incident
    incident_services.assign(incident, user=alice, assignee=alice)
    alerts.check_recovered(check, at=at(3))

    second = fail(check, 10, message="Connection reset.")

    assert second.incident == incident and Incident.objects.count() == 1
    assert any("the problem is back" in body and "Connection reset." in body for body in work_notes(incident))


# --- a check that stops watching -------------------------------------------------------------------


def test_disabling_a_failing_check_ends_its_alert_and_leaves_the_incident_open_with_a_note(check, alice):
    incident = fail(check).incident

    check_services.update_check(check, user=alice, enabled=False)

    alert = Alert.objects.get()
    assert (alert.status, alert.incident) == ("resolved", incident)
    incident.refresh_from_db()
    assert incident.state == IncidentState.NEW
    assert work_notes(incident) == [
        "Monitoring: web-01: HTTPS port: the check was disabled by alice, so its alert ended unrecovered; "
        "the incident stays open."
    ]


def test_a_disabled_check_failing_again_once_enabled_joins_its_still_open_incident(check, alice):
    incident = fail(check).incident
    check_services.update_check(check, user=alice, enabled=False)
    check_services.update_check(check, user=alice, enabled=True)

    again = fail(check, 10)

    assert again.status == "firing" and again.incident == incident
    assert Incident.objects.count() == 1 and Alert.objects.count() == 2


def test_deleting_a_failing_check_ends_its_alert_which_keeps_its_incident(check, alice):
    incident = fail(check).incident

    check_services.delete_check(check, user=alice)

    alert = Alert.objects.get()
    assert (alert.status, alert.monitor, alert.incident) == ("resolved", None, incident)
    incident.refresh_from_db()
    assert incident.state == IncidentState.NEW
    assert any("the check was deleted by alice" in body for body in work_notes(incident))


def test_disabling_a_check_with_nothing_firing_or_editing_an_enabled_one_touches_no_alert(check, alice):
    check_services.update_check(check, user=alice, enabled=False)
    other = CheckFactory(ci=check.ci)
    firing = alerts.check_problem(other, status="down", message="Refused.", at=at(0))

    check_services.update_check(other, user=alice, name="renamed")

    firing.refresh_from_db()
    assert firing.status == "firing" and firing.incident.state == IncidentState.NEW


def test_resolving_a_fingerprint_that_is_not_firing_does_nothing():
    assert alerts.resolve("am:nothing") is None


def test_a_recovered_check_with_nothing_firing_costs_one_query(check, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert alerts.check_recovered(check, at=at(0)) is None


def test_a_repeated_failure_of_a_check_with_its_incident_costs_a_few_queries(check, django_assert_num_queries):
    fail(check)

    with django_assert_num_queries(4):  # savepoint, the alert locked, updated, savepoint released
        fail(check, 1)


def test_an_incident_with_another_firing_alert_waits_for_it_too(check, web):
    first = fail(check)
    # Another report of the same problem (a re-failure joined the incident a person works on).
    other = alerts.fire("am:web-01-down", source="alertmanager", name="Web down", severity="major", ci=web)
    Alert.objects.filter(pk=other.pk).update(incident=first.incident)

    alerts.check_recovered(check, at=at(3))

    first.incident.refresh_from_db()
    assert first.incident.state == IncidentState.NEW
    assert any("Still firing: 1 other alert" in body for body in work_notes(first.incident))


# --- flapping ------------------------------------------------------------------------------------


def test_a_flapping_checks_alert_says_so_with_one_work_note_when_the_flapping_starts(check):
    incident = fail(check).incident
    check.flapping, check.flap_percent = True, 62.5

    fail(check, 1)
    alert = fail(check, 2)

    assert alert.annotations["flapping"] == "true"
    notes = [body for body in work_notes(incident) if "flapping" in body]
    assert len(notes) == 1 and "62 % state changes" in notes[0]
    assert Incident.objects.count() == 1


def test_an_alert_stops_saying_it_flaps_when_the_check_stops(check):
    check.flapping = True
    incident = fail(check).incident
    assert "flapping" in incident.description

    check.flapping = False
    alert = fail(check, 1)

    assert "flapping" not in alert.annotations
