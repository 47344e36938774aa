"""The loop between incidents and changes (DESIGN.md §1, issue 5 item 7): an incident requests
a change and waits on hold for it; the change is approved, scheduled, implemented and closed;
the incident then resolves — or, raised by monitoring, waits for its alerts to recover. An
unsuccessful or canceled change gives the incident back to its team. A change may be marked as
the cause of an incident."""

import pytest
from django.core.exceptions import ValidationError

from changes.choices import ChangeState, ChangeTimelineKind, ChangeType
from changes.services import changes as services
from incidents.choices import HoldReason, IncidentState, ResolutionCode, TimelineKind
from incidents.services import incidents as incident_services
from itom.api.exceptions import Conflict
from tests.changes.journeys import PLANS, Cast, approve, calm_answers, change_in, window
from tests.factories import CIFactory, open_incident

pytestmark = pytest.mark.django_db

S, T, I = ChangeState, ChangeType, IncidentState  # noqa: E741


@pytest.fixture
def cast(alice, network_team, nina, ecab, erin):
    return Cast(requester=alice, team=network_team, approvers={T.NORMAL: nina, T.EMERGENCY: erin})


@pytest.fixture
def switch():
    return CIFactory(name="core-sw-01", criticality=3)  # in production: a normal change on it is of low risk


def outage(cast, switch, **fields):
    """A priority 1 incident on the core switch, owned by the network team."""
    values = {"title": "Core switch drops packets", "impact": 1, "urgency": 1, "affected_cis": [switch]}
    return open_incident(cast.requester, assignment_team=cast.team, **{**values, **fields})


def lines(incident, kind):
    return list(incident.timeline.filter(kind=kind).order_by("time", "pk"))


def request(cast, incident, **fields):
    """The incident page's "Request change", with what approval needs filled in."""
    return services.request_change_for_incident(incident, user=cast.requester, **PLANS, **window(), **fields)


def close(change, cast, code="successful", review_notes="Went as planned."):
    """Implement and close an approved, scheduled change (through review when it needs one)."""
    change = services.transition(change, S.IMPLEMENT, user=cast.requester)
    if change.type == T.EMERGENCY or code not in ("successful", "successful_with_issues"):
        change = services.transition(change, S.REVIEW, user=cast.requester, close_code=code)
    return services.transition(change, S.CLOSED, user=cast.requester, close_code=code, review_notes=review_notes)


# --- the whole loop ---------------------------------------------------------------------------


def test_an_incident_requests_a_change_waits_for_it_and_resolves_when_it_closes(cast, switch, erin):
    incident = outage(cast, switch)
    change = request(cast, incident)

    assert change.type == T.EMERGENCY  # priority 1
    assert change.title == f"Fix for {incident.number}: Core switch drops packets"
    assert change.justification.startswith(f"Requested from {incident.number}")
    assert list(change.affected_cis.all()) == [switch] and change.assignment_team == cast.team
    assert list(change.incidents.all()) == [incident]
    incident.refresh_from_db()
    assert (incident.state, incident.hold_reason) == (I.ON_HOLD, HoldReason.AWAITING_CHANGE)
    assert change.number in lines(incident, TimelineKind.LINK)[0].body

    change = services.transition(change, S.AUTHORIZE, user=cast.requester)
    change = approve(change, erin)
    assert change.state == S.SCHEDULED
    change = close(change, cast)
    assert change.state == S.CLOSED

    incident.refresh_from_db()
    assert (incident.state, incident.resolution_code) == (I.RESOLVED, ResolutionCode.RESOLVED_BY_CHANGE)
    assert incident.resolution_notes.startswith(f"Resolved by {change.number}")
    moves = [(line.data["from"], line.data["to"]) for line in lines(incident, TimelineKind.STATE)]
    assert moves == [(None, I.NEW), (I.NEW, I.ON_HOLD), (I.ON_HOLD, I.RESOLVED)]


def test_a_lower_priority_incident_requests_a_normal_change_that_closes_from_implement(cast, switch, nina):
    incident = outage(cast, switch, impact=3, urgency=2)
    change = request(cast, incident, risk_answers=calm_answers())
    assert change.type == T.NORMAL
    change = services.transition(change, S.ASSESS, user=cast.requester)
    change = approve(services.transition(change, S.AUTHORIZE, user=cast.requester), nina)
    close(change, cast)
    incident.refresh_from_db()
    assert incident.state == I.RESOLVED


def test_the_requester_may_choose_another_type_and_title(cast, switch):
    change = request(cast, outage(cast, switch), type=T.NORMAL, title="Replace the switch")
    assert (change.type, change.title) == (T.NORMAL, "Replace the switch")


def test_a_change_is_not_requested_for_a_resolved_incident(cast, switch):
    incident = outage(cast, switch)
    incident_services.transition(incident, I.RESOLVED, user=cast.requester, resolution_code="solved", note="Rebooted.")
    with pytest.raises(ValidationError) as caught:
        request(cast, incident)
    assert list(caught.value.message_dict) == ["incident"]


def test_an_incident_monitoring_raised_waits_for_its_alerts_to_recover(cast, switch, erin):
    incident = outage(cast, switch, source="monitoring")
    change = approve(services.transition(request(cast, incident), S.AUTHORIZE, user=cast.requester), erin)
    close(change, cast)
    incident.refresh_from_db()
    assert incident.state == I.IN_PROGRESS and incident.resolution_code == ""
    note = lines(incident, TimelineKind.WORK_NOTE)[-1]
    assert change.number in note.body and "alerts recover" in note.body
    assert "waiting for its alerts to recover" in lines(incident, TimelineKind.STATE)[-1].body


@pytest.mark.parametrize("code", ["unsuccessful", "backed_out"])
def test_an_unsuccessful_change_gives_the_incident_back_to_its_team(cast, switch, erin, code):
    incident = outage(cast, switch)
    change = approve(services.transition(request(cast, incident), S.AUTHORIZE, user=cast.requester), erin)
    close(change, cast, code=code, review_notes="The firmware bricked a line card; rolled back.")
    incident.refresh_from_db()
    assert (incident.state, incident.hold_reason) == (I.IN_PROGRESS, "")
    assert "needs another fix" in lines(incident, TimelineKind.STATE)[-1].body


def test_a_canceled_change_gives_the_incident_back_to_its_team(cast, switch):
    incident = outage(cast, switch)
    change = request(cast, incident)
    services.transition(change, S.CANCELED, user=cast.requester, note="A config fix will do.")
    incident.refresh_from_db()
    assert incident.state == I.IN_PROGRESS
    assert f"{change.number} was canceled" in lines(incident, TimelineKind.STATE)[-1].body


def test_an_incident_awaiting_two_changes_resolves_when_the_last_closes(cast, switch, erin):
    incident = outage(cast, switch)
    first = approve(services.transition(request(cast, incident), S.AUTHORIZE, user=cast.requester), erin)
    second = approve(services.transition(request(cast, incident), S.AUTHORIZE, user=cast.requester), erin)
    close(first, cast)
    incident.refresh_from_db()
    assert incident.state == I.ON_HOLD
    assert f"still awaiting {second.number}" in lines(incident, TimelineKind.WORK_NOTE)[-1].body
    close(second, cast)
    incident.refresh_from_db()
    assert incident.state == I.RESOLVED


def test_an_incident_resolved_meanwhile_is_left_alone(cast, switch, erin):
    incident = outage(cast, switch)
    change = approve(services.transition(request(cast, incident), S.AUTHORIZE, user=cast.requester), erin)
    incident_services.transition(
        incident, I.RESOLVED, user=cast.requester, resolution_code="workaround", note="Rerouted."
    )
    close(change, cast)
    incident.refresh_from_db()
    assert (incident.state, incident.resolution_code) == (I.RESOLVED, "workaround")


# --- linking and unlinking --------------------------------------------------------------------


def test_linking_an_incident_puts_it_on_hold_with_a_line_on_both_timelines(cast, switch):
    change = change_in(S.NEW, cast, T.NORMAL)
    incident = outage(cast, switch)
    incident_services.transition(incident, I.IN_PROGRESS, user=cast.requester)
    services.link_incident(change, incident, user=cast.requester)
    incident.refresh_from_db()
    assert (incident.state, incident.hold_reason) == (I.ON_HOLD, HoldReason.AWAITING_CHANGE)
    on_change = change.timeline.filter(kind=ChangeTimelineKind.LINK).get()
    assert on_change.data == {"incident": incident.pk, "number": incident.number, "relation": "fixes", "linked": True}
    assert lines(incident, TimelineKind.LINK)[0].data["change"] == change.pk


def test_linking_twice_writes_nothing_more(cast, switch):
    change = change_in(S.NEW, cast, T.NORMAL)
    incident = outage(cast, switch)
    services.link_incident(change, incident, user=cast.requester)
    services.link_incident(change, incident, user=cast.requester)
    assert change.timeline.filter(kind=ChangeTimelineKind.LINK).count() == 1


def test_an_incident_on_hold_for_another_reason_keeps_it(cast, switch):
    incident = outage(cast, switch)
    incident_services.transition(incident, I.ON_HOLD, user=cast.requester, hold_reason="awaiting_vendor")
    services.link_incident(change_in(S.NEW, cast, T.NORMAL), incident, user=cast.requester)
    incident.refresh_from_db()
    assert incident.hold_reason == "awaiting_vendor"


def test_only_open_incidents_and_open_changes_are_linked(cast, switch):
    incident = outage(cast, switch)
    incident_services.transition(incident, I.CANCELED, user=cast.requester, note="Duplicate.")
    with pytest.raises(ValidationError) as caught:
        services.link_incident(change_in(S.NEW, cast, T.NORMAL), incident, user=cast.requester)
    assert list(caught.value.message_dict) == ["incident"]
    with pytest.raises(Conflict):
        services.link_incident(change_in(S.CANCELED, cast, T.NORMAL), outage(cast, switch), user=cast.requester)


def test_unlinking_gives_the_incident_back_to_its_team(cast, switch):
    incident = outage(cast, switch)
    change = request(cast, incident)
    services.unlink_incident(change, incident, user=cast.requester)
    incident.refresh_from_db()
    assert incident.state == I.IN_PROGRESS and not change.incidents.exists()
    assert change.timeline.filter(kind=ChangeTimelineKind.LINK).last().data["linked"] is False


def test_unlinking_an_incident_that_is_not_linked_is_refused(cast, switch):
    with pytest.raises(ValidationError) as caught:
        services.unlink_incident(change_in(S.NEW, cast, T.NORMAL), outage(cast, switch), user=cast.requester)
    assert "is not linked" in caught.value.message_dict["incident"][0]


# --- the change as a cause --------------------------------------------------------------------


def test_a_change_is_marked_as_the_cause_of_an_incident_and_unmarked(cast, switch):
    change = change_in(S.CLOSED, cast, T.NORMAL)
    incident = outage(cast, switch, title="Packet loss since the upgrade")
    services.mark_cause(change, incident, user=cast.requester)
    services.mark_cause(change, incident, user=cast.requester)  # once is enough
    assert list(change.caused_incidents.all()) == [incident]
    assert list(incident.caused_by_changes.all()) == [change]
    line = change.timeline.filter(kind=ChangeTimelineKind.LINK).get()
    assert line.data["relation"] == "caused" and "cause of" in line.body
    assert "marked as the cause" in lines(incident, TimelineKind.LINK)[0].body

    services.mark_cause(change, incident, user=cast.requester, caused=False)
    assert not change.caused_incidents.exists()
    assert change.timeline.filter(kind=ChangeTimelineKind.LINK).count() == 2
    incident.refresh_from_db()
    assert incident.state == I.NEW  # marking a cause does not move the incident
