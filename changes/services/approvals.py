"""Approval rounds of a change: policies → stages → decisions (DESIGN.md §1, issue 5 item 3).

A change entering ``authorize`` starts a *round* (``start_round``): the stages of the policy that
matches its type and effective risk (``policy_for``) are copied onto the change, the first one
``pending``, the others ``waiting``. Approvers decide the pending stage (``decide``); a stage is
approved once it has its ``required_approvals``, and the next one becomes pending; after the last
one the change is approved and ``changes.services.changes.enter_scheduled`` moves it on. One
rejection (with a comment) rejects the change back to ``new``. Editing the plans, the schedule or
the CIs of a change under approval (or approved) resets the round and starts a new one
(``reset_approvals``).

Who may decide a stage (``eligible_approvers``): active users holding the approver or manager
role (or superusers) who sit in the stage's team (lead or member), in the change's assignment
team (technical review), or any manager — never the change's requester or assignee
(segregation of duties). A stage whose team is missing (a change with no assignment team, a team
deleted since) falls back to the managers, so no round can be stuck without anyone to decide it.

``decide`` is a public entry point: it locks the change row (``select_for_update``) and re-reads
it, so concurrent decisions are serialised and exactly one of them makes the last approval (the
others find the change no longer in ``authorize``: 409). ``start_round``, ``reset_approvals`` and
``close_round`` are called by ``changes.services.changes`` with the change already locked, and
work on the instance they are given (the caller saves it afterwards, with what they set on it).

Errors: bad input → ``ValidationError({field: reason})`` (400); not allowed to decide →
``PermissionDenied`` (403); a decision the change's state or an earlier decision forbids →
``Conflict`` (409). Nothing is written when one is raised.
"""

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from accounts.models import Team
from changes.choices import (
    APPROVED_STATES,
    ApproverKind,
    ChangeState,
    ChangeTimelineKind,
    Decision,
    StageState,
)
from changes.models import ApprovalPolicy, ChangeApproval, ChangeApprovalStage, ChangeRequest
from changes.notifications import notify_about, requester_and_assignee
from changes.timeline import record
from itom.api.exceptions import Conflict
from itom.roles import APPROVER, MANAGER, has_role

S = ChangeState
# How the fields ``reset_approvals`` is told about read in its timeline line and notification.
FIELD_LABELS = {
    "planned_start": "schedule",
    "planned_end": "schedule",
    "affected_cis": "affected CIs",
    "implementation_plan": "implementation plan",
    "backout_plan": "backout plan",
    "test_plan": "test plan",
}


# --- policies and stages ----------------------------------------------------------------------


def policy_for(change):
    """The active policy for the change's type and effective risk level, else the type's active
    policy for any risk level (blank ``risk_level``), else None (no approval needed)."""
    candidates = ApprovalPolicy.objects.filter(
        active=True, change_type=change.type, risk_level__in=[change.effective_risk, ""]
    )
    by_level = {policy.risk_level: policy for policy in candidates}
    return by_level.get(change.effective_risk) or by_level.get("")


def current_stage(change):
    """The stage of the change's current round that awaits decisions, or None."""
    if not change.approval_round:
        return None
    return (
        ChangeApprovalStage.objects.filter(change=change, round=change.approval_round, state=StageState.PENDING)
        .select_related("approver_team")
        .order_by("order")
        .first()
    )


def round_stages(change, round=None):
    """The stages of the change's current round (or of ``round``), in order."""
    return list(
        ChangeApprovalStage.objects.filter(change=change, round=round or change.approval_round)
        .select_related("approver_team")
        .order_by("order")
    )


# --- who may decide ---------------------------------------------------------------------------


def _scope(stage, change):
    """``(kind, team)``: who decides ``stage`` of ``change`` — the members of ``team`` (kind
    ``team``), or the managers (kind ``managers``; also when the stage's team is missing)."""
    if stage.approver_kind == ApproverKind.TEAM and stage.approver_team_id:
        return ApproverKind.TEAM, stage.approver_team
    if stage.approver_kind == ApproverKind.ASSIGNMENT_TEAM and change.assignment_team_id:
        return ApproverKind.TEAM, change.assignment_team
    return ApproverKind.MANAGERS, None


def describe_approvers(stage, change=None):
    """Who decides the stage, in words: "approvers of the Change Advisory Board"."""
    change = change or stage.change
    kind, team = _scope(stage, change)
    if kind == ApproverKind.MANAGERS:
        return "managers"
    if stage.approver_kind == ApproverKind.ASSIGNMENT_TEAM:
        return f"approvers of the change's assignment team ({team.name})"
    return f"approvers of {team.name}"


def _team_member_ids(team):
    return Team.members.through.objects.filter(team=team).values("user_id")


def eligible_approvers(stage, change=None):
    """The users who may decide ``stage`` (of ``change``, by default the stage's): active users
    holding the approver or manager role, or superusers, who are in the stage's team (lead or
    member), in the change's assignment team, or are managers — minus the change's requester and
    assignee. A queryset ordered by username."""
    change = change or stage.change
    kind, team = _scope(stage, change)
    users = get_user_model()._default_manager.filter(is_active=True)
    if kind == ApproverKind.MANAGERS:
        users = users.filter(Q(is_superuser=True) | Q(groups__name=MANAGER))
    else:
        users = users.filter(Q(is_superuser=True) | Q(groups__name__in=(APPROVER, MANAGER))).filter(
            Q(pk__in=_team_member_ids(team)) | Q(pk=team.lead_id)
        )
    own = [pk for pk in (change.requester_id, change.assignee_id) if pk is not None]
    return users.exclude(pk__in=own).distinct().order_by("username")


def check_can_decide(stage, user, change=None):
    """Raise unless ``user`` may decide ``stage`` now: ``PermissionDenied`` with the reason (their
    own change, not an approver of that stage), ``Conflict`` when the stage is not awaiting
    decisions or they already decided it."""
    change = change or stage.change
    if user is None or not user.is_authenticated:
        raise PermissionDenied("Sign in to decide approvals.")
    if user.pk == change.requester_id:
        raise PermissionDenied("You can't approve your own change.")
    if user.pk == change.assignee_id:
        raise PermissionDenied("You can't approve a change assigned to you.")
    if not eligible_approvers(stage, change).filter(pk=user.pk).exists():
        raise PermissionDenied(f"Only {describe_approvers(stage, change)} may decide the stage “{stage.name}”.")
    if stage.state != StageState.PENDING:
        raise Conflict(f"The stage “{stage.name}” is not awaiting approval (it is {stage.get_state_display()}).")
    previous = ChangeApproval.objects.filter(stage=stage, approver=user).first()
    if previous is not None:
        raise Conflict(f"You already {previous.decision} the stage “{stage.name}”.")


def can_decide(stage, user, change=None):
    """True when ``check_can_decide`` would let ``user`` decide ``stage`` (for the UI)."""
    try:
        check_can_decide(stage, user, change)
    except (PermissionDenied, Conflict):
        return False
    return True


def pending_for(user):
    """The pending stages ``user`` may decide now: of changes in ``authorize``, in their current
    round, that are not the user's own (requester, assignee) and that the user has not decided
    yet — the "Awaiting my approval" panel and list tab. Oldest request first."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ChangeApprovalStage.objects.none()
    if not has_role(user, APPROVER, MANAGER):
        return ChangeApprovalStage.objects.none()
    my_teams = Team.objects.filter(Q(members=user) | Q(lead=user)).values("pk")
    manager = has_role(user, MANAGER)
    named_team = Q(approver_kind=ApproverKind.TEAM, approver_team__isnull=False, approver_team__in=my_teams)
    own_team = Q(
        approver_kind=ApproverKind.ASSIGNMENT_TEAM,
        change__assignment_team__isnull=False,
        change__assignment_team__in=my_teams,
    )
    allowed = named_team | own_team
    if manager:
        # Managers decide the managers' stages and those whose team is missing (see ``_scope``).
        allowed |= (
            Q(approver_kind=ApproverKind.MANAGERS)
            | Q(approver_kind=ApproverKind.TEAM, approver_team__isnull=True)
            | Q(approver_kind=ApproverKind.ASSIGNMENT_TEAM, change__assignment_team__isnull=True)
        )
    decided = ChangeApproval.objects.filter(stage=OuterRef("pk"), approver=user)
    return (
        ChangeApprovalStage.objects.filter(
            allowed,
            state=StageState.PENDING,
            change__state=S.AUTHORIZE,
            round=F("change__approval_round"),
        )
        .exclude(change__requester=user)
        .exclude(change__assignee=user)
        .exclude(Exists(decided))
        .select_related("change", "change__assignment_team", "change__requester", "approver_team")
        .order_by("change__approval_requested_at", "change_id", "order")
    )


# --- rounds -----------------------------------------------------------------------------------


def start_round(change, *, user, at=None):
    """Start a new approval round on ``change`` (the caller holds its lock and has moved it to
    ``authorize``): copy the stages of its policy, the first pending. Returns True when no
    approval is needed (no policy, or a policy without stages): the change is then approved at
    once (``approved_at = at``), and the caller moves it on."""
    at = at or timezone.now()
    policy = policy_for(change)
    stages = list(policy.stages.order_by("order", "pk")) if policy is not None else []
    change.approval_round += 1
    change.approval_requested_at = at
    change.approved_at = at if not stages else None
    change.save(update_fields=["approval_round", "approval_requested_at", "approved_at", "updated_at"])
    if not stages:
        why = f"the policy “{policy.name}” has no stages" if policy else "no approval policy applies"
        record(
            change,
            ChangeTimelineKind.APPROVAL,
            user=user,
            body=f"No approval needed: {why}.",
            data={"round": change.approval_round, "policy": policy.pk if policy else None, "stages": []},
            time=at,
        )
        return True
    rows = ChangeApprovalStage.objects.bulk_create(
        [
            ChangeApprovalStage(
                change=change,
                round=change.approval_round,
                order=position,
                name=stage.name,
                approver_kind=stage.approver_kind,
                approver_team_id=stage.approver_team_id,
                required_approvals=stage.required_approvals,
                is_cab=stage.is_cab,
                state=StageState.PENDING if position == 1 else StageState.WAITING,
            )
            for position, stage in enumerate(stages, start=1)
        ]
    )
    record(
        change,
        ChangeTimelineKind.APPROVAL,
        user=user,
        body=f"Approval requested ({policy.name}): {' → '.join(stage.name for stage in rows)}.",
        data={
            "round": change.approval_round,
            "policy": policy.pk,
            "stages": [{"name": s.name, "required_approvals": s.required_approvals} for s in rows],
        },
        time=at,
    )
    _request_decisions(rows[0], change, user=user)
    return False


def close_round(change):
    """End the current round without a result (the change was sent back or canceled): its
    waiting and pending stages are reset. Returns how many were."""
    if not change.approval_round:
        return 0
    return ChangeApprovalStage.objects.filter(
        change=change, round=change.approval_round, state__in=(StageState.WAITING, StageState.PENDING)
    ).update(state=StageState.RESET, updated_at=timezone.now())


def reset_approvals(change, *, user, reason):
    """The plans, the schedule or the CIs of a change under approval (or approved and scheduled)
    changed: the round's stages are reset, a scheduled change goes back to ``authorize``, whoever
    had approved is told, and a new round starts. ``reason`` names the fields that changed (a
    list, or a sentence). The caller holds the change's lock. Returns False (and does nothing)
    when the change is not in ``APPROVED_STATES`` or never started a round."""
    if change.state not in APPROVED_STATES or not change.approval_round:
        return False
    from changes.services.changes import enter_scheduled

    now = timezone.now()
    what = _reason_text(reason)
    approvers = list(
        get_user_model()
        ._default_manager.filter(
            change_approvals__stage__change=change,
            change_approvals__stage__round=change.approval_round,
            change_approvals__decision=Decision.APPROVED,
        )
        .distinct()
        .order_by("pk")
    )
    reset = ChangeApprovalStage.objects.filter(
        change=change,
        round=change.approval_round,
        state__in=(StageState.WAITING, StageState.PENDING, StageState.APPROVED),
    ).update(state=StageState.RESET, updated_at=now)
    if change.state == S.SCHEDULED:
        _set_state(change, S.AUTHORIZE, user=user, body=f"Back to authorize: {what}.", at=now)
    record(
        change,
        ChangeTimelineKind.APPROVAL,
        user=user,
        body=f"Approvals reset: {what}.",
        data={"round": change.approval_round, "reset": True, "reason": _reason_fields(reason), "stages": reset},
        time=now,
    )
    if approvers:
        notify_about(
            "change.approvals_reset",
            change,
            approvers,
            user=user,
            title=f"{change.number} needs your approval again: {change.title}",
            body=f"Approvals reset: {what}.",
        )
    if start_round(change, user=user, at=now):
        enter_scheduled(change, user=user, at=now)
    return True


def _reason_fields(reason):
    if isinstance(reason, str):
        return [reason] if reason else []
    return [str(name) for name in reason or ()]


def _reason_text(reason):
    """ "the schedule and backout plan changed" from ``["planned_end", "backout_plan"]``."""
    if isinstance(reason, str):
        return reason.strip().rstrip(".") or "the change was edited"
    labels = list(dict.fromkeys(FIELD_LABELS.get(name, str(name).replace("_", " ")) for name in reason or ()))
    if not labels:
        return "the change was edited"
    listed = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
    return f"the {listed} changed"


# --- decisions --------------------------------------------------------------------------------


@transaction.atomic
def decide(change, *, user, decision, comment=""):
    """Record ``user``'s decision on the change's pending stage and return the ``ChangeApproval``.

    A rejection needs a comment; it rejects the stage, resets the round's other stages and sends
    the change back to ``new``. An approval completes the stage once it has its required
    approvals; the next stage then awaits its approvers, and after the last one the change is
    approved and moved on to ``scheduled`` (``changes.services.changes.enter_scheduled``)."""
    decision = str(decision or "").strip()
    if decision not in Decision.values:
        raise ValidationError({"decision": f"Decide “approved” or “rejected”, not “{decision}”."})
    comment = (comment or "").strip()
    if decision == Decision.REJECTED and not comment:
        raise ValidationError({"comment": "Say why the change is rejected."})
    change = _lock(change)
    if change.state != S.AUTHORIZE:
        raise Conflict(
            f"{change.number} is not awaiting approval: it is {change.get_state_display().lower()}.",
        )
    stage = (
        ChangeApprovalStage.objects.select_for_update(of=("self",))
        .filter(change=change, round=change.approval_round, state=StageState.PENDING)
        .select_related("approver_team")
        .order_by("order")
        .first()
    )
    if stage is None:
        raise Conflict(f"{change.number} has no approval stage awaiting a decision.")
    check_can_decide(stage, user, change)
    now = timezone.now()
    try:
        with transaction.atomic():
            approval = ChangeApproval.objects.create(
                stage=stage, approver=user, decision=decision, comment=comment, decided_at=now
            )
    except IntegrityError:
        raise Conflict(f"You already decided the stage “{stage.name}”.") from None
    if decision == Decision.REJECTED:
        _reject(change, stage, approval, user=user, at=now)
    else:
        _approve(change, stage, approval, user=user, at=now)
    return approval


def _lock(change):
    pk = change.pk if isinstance(change, ChangeRequest) else change
    try:
        return ChangeRequest.objects.select_for_update(of=("self",)).select_related("assignment_team").get(pk=pk)
    except ChangeRequest.DoesNotExist:
        raise ValidationError({"change": f"Change {pk} does not exist."}) from None


def _reject(change, stage, approval, *, user, at):
    stage.state = StageState.REJECTED
    stage.decided_at = at
    stage.save(update_fields=["state", "decided_at", "updated_at"])
    ChangeApprovalStage.objects.filter(change=change, round=stage.round).exclude(pk=stage.pk).exclude(
        state__in=(StageState.REJECTED, StageState.RESET)
    ).update(state=StageState.RESET, updated_at=at)
    record(
        change,
        ChangeTimelineKind.APPROVAL,
        user=user,
        body=f"Rejected “{stage.name}”: {approval.comment}",
        data=_decision_data(stage, approval, approvals=None),
        time=at,
    )
    change.approved_at = None
    _set_state(
        change, S.NEW, user=user, body=f"Rejected at “{stage.name}”: {approval.comment}", at=at, also=["approved_at"]
    )
    notify_about(
        "change.rejected",
        change,
        requester_and_assignee(change),
        user=user,
        title=f"{change.number} rejected: {change.title}",
        body=f"{_name(user)} rejected the stage “{stage.name}”: {approval.comment}",
        data={"stage": stage.name, "decision": approval.decision},
    )


def _approve(change, stage, approval, *, user, at):
    approvals = stage.decisions.filter(decision=Decision.APPROVED).count()
    following = None
    if approvals >= stage.required_approvals:
        stage.state = StageState.APPROVED
        stage.decided_at = at
        stage.save(update_fields=["state", "decided_at", "updated_at"])
        following = (
            ChangeApprovalStage.objects.filter(change=change, round=stage.round, order__gt=stage.order)
            .filter(state=StageState.WAITING)
            .select_related("approver_team")
            .order_by("order")
            .first()
        )
    body = f"Approved “{stage.name}” ({approvals} of {stage.required_approvals})"
    if stage.state == StageState.APPROVED:
        body += f"; next: {following.name}." if following else "; all approvals given."
    else:
        body += "."
    if approval.comment:
        body += f"\n{approval.comment}"
    record(
        change,
        ChangeTimelineKind.APPROVAL,
        user=user,
        body=body,
        data=_decision_data(stage, approval, approvals=approvals),
        time=at,
    )
    if stage.state != StageState.APPROVED:
        return
    if following is not None:
        following.state = StageState.PENDING
        following.save(update_fields=["state", "updated_at"])
        _request_decisions(following, change, user=user)
        return
    from changes.services.changes import enter_scheduled

    change.approved_at = at
    change.save(update_fields=["approved_at", "updated_at"])
    notify_about(
        "change.approved",
        change,
        requester_and_assignee(change),
        user=user,
        title=f"{change.number} approved: {change.title}",
        body=f"Every approval stage of {change.number} is approved.",
    )
    enter_scheduled(change, user=user, at=at)


def _set_state(change, state, *, user, body, at, also=()):
    """Save the locked ``change`` in ``state`` (and the fields ``also``), with a state line."""
    previous = change.state
    change.state = state
    change.save(update_fields=["state", *also, "updated_at"])
    record(change, ChangeTimelineKind.STATE, user=user, body=body, data={"from": previous, "to": state}, time=at)


def _request_decisions(stage, change, *, user):
    """Tell the approvers of ``stage`` that it awaits them."""
    approvers = list(eligible_approvers(stage, change))
    if not approvers:
        return
    notify_about(
        "change.approval_requested",
        change,
        approvers,
        user=user,
        title=f"{change.number} awaits your approval ({stage.name}): {change.title}",
        body=change.description,
        data={"stage": stage.name, "round": stage.round},
    )


def _decision_data(stage, approval, *, approvals):
    data = {
        "round": stage.round,
        "stage": stage.pk,
        "stage_name": stage.name,
        "decision": approval.decision,
        "stage_state": stage.state,
        "required": stage.required_approvals,
    }
    if approvals is not None:
        data["approvals"] = approvals
    if approval.comment:
        data["comment"] = approval.comment
    return data


def _name(user):
    return user.get_username() if user is not None else "The system"


# --- the change advisory board ----------------------------------------------------------------


@dataclass
class Agenda:
    """The next CAB meeting's agenda: the changes awaiting a CAB decision, the post-implementation
    reviews, and the forward schedule (changes scheduled or being implemented that start before
    the meeting after it)."""

    meeting_at: datetime
    following_meeting_at: datetime
    awaiting: object  # ChangeRequest queryset
    reviews: object
    forward_schedule: object


def next_cab_meeting(now=None):
    """The next CAB meeting at or after ``now``: ``CHANGE_CAB_MEETING_WEEKDAY`` (0 = Monday) at
    ``CHANGE_CAB_MEETING_TIME``, wall-clock time in ``TIME_ZONE`` (so it stays at 14:00 across
    daylight-saving changes)."""
    local = timezone.localtime(now or timezone.now(), zoneinfo.ZoneInfo(settings.TIME_ZONE))
    day = local.date() + timedelta(days=(settings.CHANGE_CAB_MEETING_WEEKDAY - local.weekday()) % 7)
    meeting = _meeting_on(day)
    return meeting if meeting >= local else _meeting_on(day + timedelta(days=7))


def _meeting_on(day):
    hour, minute = (int(part) for part in settings.CHANGE_CAB_MEETING_TIME.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))


def cab_agenda(now=None):
    """The agenda of the next CAB meeting (see ``Agenda``); each list ordered by planned start."""
    meeting = next_cab_meeting(now)
    following = _meeting_on(meeting.date() + timedelta(days=7))
    cab_pending = ChangeApprovalStage.objects.filter(
        change=OuterRef("pk"), round=OuterRef("approval_round"), state=StageState.PENDING, is_cab=True
    )
    changes = ChangeRequest.objects.select_related("assignment_team", "assignee", "requester").order_by(
        F("planned_start").asc(nulls_last=True), "created_at", "pk"
    )
    return Agenda(
        meeting_at=meeting,
        following_meeting_at=following,
        awaiting=changes.filter(Exists(cab_pending), state=S.AUTHORIZE),
        reviews=changes.filter(state=S.REVIEW),
        forward_schedule=changes.filter(
            Q(state=S.IMPLEMENT) | Q(state=S.SCHEDULED, planned_start__lt=following),
        ),
    )
