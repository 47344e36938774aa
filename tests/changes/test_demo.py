"""The changes' part of ``manage.py seed_demo`` (changes/demo.py): templates, blackout windows and
changes in every state, worked through the services — approvals by eligible approvers, one
change requested from an incident — once, however many times it runs."""

from io import StringIO

import pytest
from django.core.management import call_command

from changes.choices import ChangeState, StageState, TemplateState
from changes.models import BlackoutWindow, ChangeApproval, ChangeRequest, ChangeTimelineEntry, StandardChangeTemplate
from changes.selectors import cis_under_maintenance

pytestmark = pytest.mark.django_db


def seed_demo():
    call_command("seed_demo", stdout=StringIO())


def counts():
    return (
        ChangeRequest.objects.count(),
        StandardChangeTemplate.objects.count(),
        BlackoutWindow.objects.count(),
        ChangeTimelineEntry.objects.count(),
        ChangeApproval.objects.count(),
    )


def test_the_demo_has_changes_in_every_state_templates_and_blackouts():
    seed_demo()
    assert set(ChangeRequest.objects.values_list("state", flat=True)) == set(ChangeState.values)
    assert set(StandardChangeTemplate.objects.values_list("state", flat=True)) == {
        TemplateState.APPROVED,
        TemplateState.DRAFT,
    }
    assert BlackoutWindow.objects.filter(active=True).count() == 2

    scheduled = ChangeRequest.objects.get(state=ChangeState.SCHEDULED)
    assert scheduled.approved_at is not None
    assert scheduled.approval_stages.filter(state=StageState.APPROVED).exists()
    for decision in ChangeApproval.objects.select_related("stage__change"):
        assert decision.approver_id not in (decision.stage.change.requester_id, decision.stage.change.assignee_id)

    from_incident = ChangeRequest.objects.get(incidents__isnull=False)
    assert from_incident.type == "emergency" and from_incident.state == ChangeState.AUTHORIZE
    assert from_incident.incidents.get().hold_reason == "awaiting_change"

    implementing = ChangeRequest.objects.get(state=ChangeState.IMPLEMENT)
    assert implementing.template is not None
    assert set(implementing.affected_cis.values_list("id", flat=True)) <= cis_under_maintenance()
    assert ChangeRequest.objects.get(state=ChangeState.REVIEW).type == "emergency"


def test_running_the_demo_twice_changes_nothing():
    seed_demo()
    first = counts()
    seed_demo()
    assert counts() == first
