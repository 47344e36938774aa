"""Bringing a change to a state the way the product does (shared by the change-service tests):
created with ``changes.services.changes``, approved with ``changes.services.approvals.decide``.

The approval policies seeded by changes/migrations/0002_defaults.py decide who approves: a
normal change of low risk needs the technical review of its assignment team (nina, in
``network_team``), an emergency change the Emergency CAB (erin, in ``ecab``).
"""

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from changes.choices import ChangeState, ChangeType
from changes.models import RiskQuestion
from changes.services import approvals
from changes.services import changes as services
from tests.factories import TemplateFactory, new_change

S, T = ChangeState, ChangeType
PLANS = {
    "implementation_plan": "1. Drain the node. 2. Upgrade the package. 3. Undrain.",
    "backout_plan": "Reinstall the previous package version.",
    "test_plan": "Run the smoke tests.",
}
# What a move to each state needs besides the state.
NEEDS = {
    S.NEW: {"note": "Rework the plan."},
    S.CANCELED: {"note": "No longer needed."},
    S.REVIEW: {"close_code": "successful"},
    S.CLOSED: {"close_code": "successful", "review_notes": "Went as planned."},
}
APPROVE = "approve"  # a step of a path: the approvers approve (authorize → scheduled)
PATHS = {
    T.STANDARD: {
        S.NEW: [],
        S.SCHEDULED: [S.SCHEDULED],
        S.IMPLEMENT: [S.SCHEDULED, S.IMPLEMENT],
        S.REVIEW: [S.SCHEDULED, S.IMPLEMENT, S.REVIEW],
        S.CLOSED: [S.SCHEDULED, S.IMPLEMENT, S.CLOSED],
        S.CANCELED: [S.CANCELED],
    },
    T.NORMAL: {
        S.NEW: [],
        S.ASSESS: [S.ASSESS],
        S.AUTHORIZE: [S.ASSESS, S.AUTHORIZE],
        S.SCHEDULED: [S.ASSESS, S.AUTHORIZE, APPROVE],
        S.IMPLEMENT: [S.ASSESS, S.AUTHORIZE, APPROVE, S.IMPLEMENT],
        S.REVIEW: [S.ASSESS, S.AUTHORIZE, APPROVE, S.IMPLEMENT, S.REVIEW],
        S.CLOSED: [S.ASSESS, S.AUTHORIZE, APPROVE, S.IMPLEMENT, S.CLOSED],
        S.CANCELED: [S.CANCELED],
    },
    T.EMERGENCY: {
        S.NEW: [],
        S.AUTHORIZE: [S.AUTHORIZE],
        S.SCHEDULED: [S.AUTHORIZE, APPROVE],
        S.IMPLEMENT: [S.AUTHORIZE, APPROVE, S.IMPLEMENT],
        S.REVIEW: [S.AUTHORIZE, APPROVE, S.IMPLEMENT, S.REVIEW],
        S.CLOSED: [S.AUTHORIZE, APPROVE, S.IMPLEMENT, S.REVIEW, S.CLOSED],
        S.CANCELED: [S.CANCELED],
    },
}


@dataclass
class Cast:
    """Who plays a change journey: the requester (an agent of ``team``) and the approver of the
    first stage per type."""

    requester: object
    team: object
    approvers: dict

    def approver(self, change_type):
        return self.approvers[change_type]


def window(days=3, hours=2):
    """A planned window ``days`` from now, ``hours`` long (a blackout factory's default starts
    10 days from now, so the default window is clear of it)."""
    start = (timezone.now() + timedelta(days=days)).replace(microsecond=0)
    return {"planned_start": start, "planned_end": start + timedelta(hours=hours)}


def calm_answers():
    """The lowest-scoring option of every active question (the seeded ones score 0)."""
    return [
        question.options.order_by("score", "order", "pk").first().pk
        for question in RiskQuestion.objects.filter(active=True).order_by("order", "pk")
    ]


def ready_change(cast, change_type=T.NORMAL, **fields):
    """A change that may go all the way: plans, planned window, team, and for a normal change the
    questionnaire answered (low risk); a standard change is made from an approved template."""
    values = {**window(), "assignment_team": cast.team, **fields}
    if change_type == T.STANDARD:
        values.setdefault("template", TemplateFactory(risk_level="low"))
    else:
        values = {**PLANS, **values}
    if change_type == T.NORMAL:
        values.setdefault("risk_answers", calm_answers())
    return new_change(cast.requester, type=change_type, **values)


def approve(change, approver):
    """``approver`` approves the pending stage; returns the change as it is now."""
    approvals.decide(change, user=approver, decision="approved")
    change.refresh_from_db()
    return change


def walk(change, steps, cast):
    """Move ``change`` along ``steps`` (states, or ``APPROVE``)."""
    for step in steps:
        if step == APPROVE:
            change = approve(change, cast.approver(change.type))
        else:
            change = services.transition(change, step, user=cast.requester, **NEEDS.get(step, {}))
    change.refresh_from_db()
    return change


def change_in(state, cast, change_type=T.NORMAL, **fields):
    """A ready change of ``change_type`` brought to ``state``."""
    change = walk(ready_change(cast, change_type, **fields), PATHS[change_type][state], cast)
    assert change.state == state, (change.state, state)
    return change
