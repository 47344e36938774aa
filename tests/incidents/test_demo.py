"""The incidents' part of ``manage.py seed_demo`` (incidents/demo.py): incidents in every state,
worked through the services (so they carry SLA clocks and timelines), a problem with a
workaround and a known error — once, however many times it runs."""

from io import StringIO

import pytest
from django.core.management import call_command

from incidents.choices import IncidentState, TimelineKind
from incidents.models import Incident, KnownError, Problem, TimelineEntry
from slas.models import SLAClock

pytestmark = pytest.mark.django_db


def seed_demo():
    call_command("seed_demo", stdout=StringIO())


def counts():
    return (
        Incident.objects.count(),
        Problem.objects.count(),
        KnownError.objects.count(),
        TimelineEntry.objects.count(),
    )


def test_the_demo_has_incidents_in_every_state_with_clocks_and_timelines():
    seed_demo()
    assert set(Incident.objects.values_list("state", flat=True)) == set(IncidentState.values)
    held = Incident.objects.get(state=IncidentState.ON_HOLD, hold_reason="awaiting_vendor")
    assert held.assignee.username == "dana.dba"
    assert {c.state for c in SLAClock.objects.filter(incident=held)} >= {"paused"}
    resolved = Incident.objects.filter(state=IncidentState.RESOLVED).get()
    assert resolved.resolution_code and resolved.resolution_notes
    # Every incident was opened through the services: SLA clocks and a timeline.
    for incident in Incident.objects.all():
        assert SLAClock.objects.filter(incident=incident).exists(), incident
        assert incident.timeline.exists(), incident
    worked = Incident.objects.get(title="Checkout page times out for some customers")
    assert worked.priority == 1 and worked.affected_services.filter(name="Online shop").exists()
    assert worked.timeline.filter(kind=TimelineKind.WORK_NOTE).exists()


def test_the_demo_problem_has_a_workaround_its_incidents_received_and_a_known_error():
    seed_demo()
    problem = Problem.objects.get()
    assert problem.root_cause and problem.workaround
    assert problem.incidents.count() == 2
    for incident in problem.incidents.filter(state__in=["new", "in_progress", "on_hold"]):
        assert incident.timeline.filter(kind=TimelineKind.WORK_NOTE, body__contains=problem.workaround).exists()
    known_error = KnownError.objects.get()
    assert known_error.problem == problem and known_error.workaround == problem.workaround


def test_seeding_twice_adds_nothing():
    seed_demo()
    first = counts()
    seed_demo()
    assert counts() == first
