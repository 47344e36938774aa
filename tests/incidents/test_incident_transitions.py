"""The incident state machine: every allowed move succeeds, every other move is refused with the
allowed states (409), and a move missing what it needs is a 400 naming the field — with nothing
written either way."""

from itertools import product

import pytest
from django.core.exceptions import ValidationError

from incidents.choices import INCIDENT_TRANSITIONS, IncidentState, TimelineKind
from incidents.models import Incident, TimelineEntry
from incidents.services import incidents as services
from itom.api.exceptions import TransitionNotAllowed
from itom.models import ObjectChange
from tests.factories import open_incident

pytestmark = pytest.mark.django_db

S = IncidentState
# What each target state needs (the resolution and the hold reason).
NEEDS = {
    S.ON_HOLD: {"hold_reason": "awaiting_caller"},
    S.RESOLVED: {"resolution_code": "solved", "note": "Replaced the faulty SFP."},
}
# A way to reach each state from new.
PATH = {
    S.NEW: [],
    S.IN_PROGRESS: [S.IN_PROGRESS],
    S.ON_HOLD: [S.ON_HOLD],
    S.RESOLVED: [S.RESOLVED],
    S.CLOSED: [S.RESOLVED, S.CLOSED],
    S.CANCELED: [S.CANCELED],
}
ALLOWED = [(a, b) for a, targets in INCIDENT_TRANSITIONS.items() for b in targets]
REFUSED = [(a, b) for a, b in product(S, S) if b not in INCIDENT_TRANSITIONS[a]]


def incident_in(state, user):
    incident = open_incident(user)
    for step in PATH[state]:
        incident = services.transition(incident, step, user=user, **NEEDS.get(step, {}))
    assert incident.state == state
    return incident


def footprint(incident):
    incident.refresh_from_db()
    return (
        incident.state,
        incident.hold_reason,
        incident.resolution_code,
        TimelineEntry.objects.count(),
        ObjectChange.objects.count(),
    )


def test_the_table_covers_every_state_and_both_lists_are_complete():
    assert set(INCIDENT_TRANSITIONS) == set(S)
    assert len(ALLOWED) + len(REFUSED) == len(S) ** 2
    assert len(ALLOWED) == 12


@pytest.mark.parametrize(("source", "target"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_every_allowed_move_succeeds_and_is_on_the_timeline(alice, source, target):
    incident = incident_in(source, alice)
    incident = services.transition(incident, target, user=alice, **{"note": "Moving on.", **NEEDS.get(target, {})})
    incident.refresh_from_db()
    assert incident.state == target
    line = incident.timeline.filter(kind=TimelineKind.STATE).last()
    assert line.data["from"] == source and line.data["to"] == target
    assert line.author == alice and line.public
    assert services.allowed_transitions(incident) == [str(s) for s in INCIDENT_TRANSITIONS[target]]


@pytest.mark.parametrize(("source", "target"), REFUSED, ids=[f"{a}->{b}" for a, b in REFUSED])
def test_every_other_move_is_refused_with_the_allowed_states_and_writes_nothing(alice, source, target):
    incident = incident_in(source, alice)
    before = footprint(incident)
    with pytest.raises(TransitionNotAllowed) as caught:
        services.transition(incident, target, user=alice, **{"note": "Trying.", **NEEDS.get(target, {})})
    assert caught.value.status_code == 409
    assert caught.value.current == source and caught.value.requested == target
    assert caught.value.allowed == [str(s) for s in INCIDENT_TRANSITIONS[source]]
    assert footprint(incident) == before


def test_an_unknown_state_is_a_400_naming_the_state(alice):
    incident = open_incident(alice)
    before = footprint(incident)
    with pytest.raises(ValidationError) as caught:
        services.transition(incident, "fixed", user=alice)
    assert "Unknown state 'fixed'" in caught.value.message_dict["state"][0]
    assert footprint(incident) == before


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"resolution_code": "solved"}, "note"),
        ({"resolution_code": "solved", "note": "   "}, "note"),
        ({"note": "Rebooted."}, "resolution_code"),
        ({"note": "Rebooted.", "resolution_code": "magic"}, "resolution_code"),
    ],
)
def test_resolving_needs_a_resolution_code_and_notes(alice, fields, missing):
    incident = open_incident(alice)
    before = footprint(incident)
    with pytest.raises(ValidationError) as caught:
        services.transition(incident, "resolved", user=alice, **fields)
    assert missing in caught.value.message_dict
    assert footprint(incident) == before


@pytest.mark.parametrize("reason", ["", "bored"])
def test_putting_on_hold_needs_a_known_reason(alice, reason):
    incident = open_incident(alice)
    before = footprint(incident)
    with pytest.raises(ValidationError) as caught:
        services.transition(incident, "on_hold", user=alice, hold_reason=reason)
    assert "awaiting_caller" in caught.value.message_dict["hold_reason"][0]
    assert footprint(incident) == before


def test_a_refused_move_is_reported_before_missing_details(alice):
    incident = incident_in(S.CLOSED, alice)
    with pytest.raises(TransitionNotAllowed):
        services.transition(incident, "on_hold", user=alice, hold_reason="awaiting_vendor")


def test_resolving_stores_the_resolution_and_its_time(alice):
    incident = incident_in(S.IN_PROGRESS, alice)
    incident = services.transition(
        incident, "resolved", user=alice, resolution_code="workaround", note="  Restarted the pool.  "
    )
    assert incident.resolution_code == "workaround"
    assert incident.resolution_notes == "Restarted the pool."
    assert incident.resolved_at is not None
    line = incident.timeline.filter(kind=TimelineKind.STATE).last()
    assert line.body == "Restarted the pool." and line.data["resolution_code"] == "workaround"


def test_holding_stores_the_reason_and_leaving_hold_clears_it(alice):
    incident = services.transition(open_incident(alice), "on_hold", user=alice, hold_reason="awaiting_vendor")
    assert incident.hold_reason == "awaiting_vendor"
    incident = services.transition(incident, "in_progress", user=alice)
    assert incident.hold_reason == ""


def test_reopening_a_resolved_incident_clears_the_resolution(alice):
    incident = incident_in(S.RESOLVED, alice)
    incident = services.transition(incident, "in_progress", user=alice, note="Came back after an hour.")
    assert (incident.state, incident.resolution_code, incident.resolution_notes, incident.resolved_at) == (
        "in_progress",
        "",
        "",
        None,
    )
    assert incident.timeline.filter(kind=TimelineKind.STATE).last().data["reopened"] is True


def test_closing_and_canceling_record_the_closing_time(alice):
    assert incident_in(S.CLOSED, alice).closed_at is not None
    assert incident_in(S.CANCELED, alice).closed_at is not None


def test_the_first_move_out_of_new_is_the_first_response_but_a_task_moving_it_is_not(alice):
    incident = services.transition(open_incident(alice), "in_progress", user=alice)
    assert incident.first_responded_at is not None
    by_system = services.transition(
        open_incident(alice), "resolved", user=None, resolution_code="recovered", note="Alert cleared."
    )
    assert by_system.first_responded_at is None


def test_a_transition_works_on_the_current_row_not_a_stale_copy(alice):
    incident = open_incident(alice)
    stale = Incident.objects.get(pk=incident.pk)
    services.transition(incident, "canceled", user=alice)
    with pytest.raises(TransitionNotAllowed) as caught:
        services.transition(stale, "in_progress", user=alice)  # the copy still says "new"
    assert caught.value.current == "canceled"
