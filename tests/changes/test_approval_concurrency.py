"""Concurrent decisions on PostgreSQL, with real threads and committed data: twenty approvers
giving the last required approval at once make exactly one transition (the others find the change
scheduled: 409), and one approver's twenty simultaneous clicks record one approval."""

import importlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.utils import timezone

from changes.choices import ChangeTimelineKind, StageState
from changes.models import ChangeApproval, ChangeRequest, RiskQuestion
from changes.services import approvals
from changes.services import changes as change_services
from itom.api.exceptions import Conflict
from itom.models import Notification
from itom.roles import APPROVER
from tests.factories import UserFactory, new_change

PLANS = {"implementation_plan": "Upgrade the firmware.", "backout_plan": "Flash the previous image."}
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture(autouse=True)
def seeded(transactional_db):
    """The change app's seeded policies, boards and questionnaire, seeded again when an earlier
    transactional test flushed them (the data migration's own function leaves existing rows)."""
    importlib.import_module("changes.migrations.0002_defaults").seed(django_apps, None)


def at_once(*calls):
    """Run the calls in threads released together; returns ``("ok", result)`` or
    ``("conflict", message)`` per call, in order (any other exception is raised)."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=30)
            return "ok", call()
        except Conflict as exc:
            return "conflict", str(exc.detail)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(run, call) for call in calls]]


@pytest.fixture
def awaiting_last_cab_approval(alice, maria, nina, carol, cab, network_team):
    """A high-risk change whose technical review nina approved and whose CAB stage (two
    approvals needed) carol approved: one approval short of being scheduled."""
    start = timezone.now() + timedelta(days=5)
    answers = [q.options.order_by("score").first().pk for q in RiskQuestion.objects.filter(active=True)]
    change = new_change(
        alice,
        assignment_team=network_team,
        planned_start=start,
        planned_end=start + timedelta(hours=1),
        risk_answers=answers,
        **PLANS,
    )
    change_services.override_risk(change, user=maria, level="high", reason="Touches the core switches.")
    change_services.transition(change, "assess", user=alice)
    change_services.transition(change, "authorize", user=alice)
    approvals.decide(change, user=nina, decision="approved")
    approvals.decide(change, user=carol, decision="approved")
    change.refresh_from_db()
    assert change.state == "authorize" and approvals.current_stage(change).name == "CAB"
    return change


def test_twenty_approvers_giving_the_last_approval_at_once_make_exactly_one_transition(awaiting_last_cab_approval, cab):
    assert connection.vendor == "postgresql"
    change = awaiting_last_cab_approval
    board = [UserFactory(username=f"cab{n:02d}", roles=[APPROVER]) for n in range(20)]
    cab.members.add(*board)
    stale = [ChangeRequest.objects.get(pk=change.pk) for _ in board]

    outcomes = at_once(
        *[
            (lambda user=user, copy=copy: approvals.decide(copy, user=user, decision="approved"))
            for user, copy in zip(board, stale, strict=True)
        ]
    )

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["conflict"] * 19 + ["ok"], outcomes
    assert all("not awaiting approval: it is scheduled" in detail for kind, detail in outcomes if kind == "conflict")
    change.refresh_from_db()
    assert change.state == "scheduled" and change.approved_at is not None
    to_scheduled = change.timeline.filter(kind=ChangeTimelineKind.STATE, data__to="scheduled")
    assert to_scheduled.count() == 1
    cab_stage = approvals.round_stages(change)[1]
    assert cab_stage.state == StageState.APPROVED
    assert cab_stage.decisions.count() == 2
    winner = next(result for kind, result in outcomes if kind == "ok")
    assert set(cab_stage.decisions.values_list("approver__username", flat=True)) == {
        "carol",
        winner.approver.username,
    }
    assert Notification.objects.filter(event="change.approved").count() == 1


def test_one_approver_clicking_twenty_times_at_once_approves_once(awaiting_last_cab_approval, dave):
    change = ChangeRequest.objects.get(pk=awaiting_last_cab_approval.pk)
    # Make the CAB stage need a third approval, so dave's one approval leaves it pending.
    stage = approvals.current_stage(change)
    stage.required_approvals = 3
    stage.save(update_fields=["required_approvals"])

    outcomes = at_once(*[lambda: approvals.decide(change, user=dave, decision="approved") for _ in range(20)])

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["conflict"] * 19 + ["ok"], outcomes
    assert all("You already approved the stage “CAB”" in detail for kind, detail in outcomes if kind == "conflict")
    assert ChangeApproval.objects.filter(approver=dave).count() == 1
    change.refresh_from_db()
    assert change.state == "authorize"
    stage.refresh_from_db()
    assert stage.state == StageState.PENDING and stage.decisions.count() == 2
