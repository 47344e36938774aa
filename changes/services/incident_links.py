"""The loop between changes and incidents (DESIGN.md §1): an incident waits for the change
that fixes it, and hears how it went.

- ``link_incident``: the incident is linked and, when new or in progress, put on hold awaiting
  the change; ``unlink_incident`` gives it back to its team;
- ``release_incidents`` (called when a change closes or is canceled): a successful close resolves
  the open linked incidents ("resolved by change") — except those monitoring raised, which go
  back in progress and wait for their alerts to recover (monitoring resolves them); an
  unsuccessful close or a cancellation puts the incidents on hold for the change back in
  progress. An incident still awaiting another open change only gets a work note;
- ``mark_cause``: the change caused the incident (change management's KPI).

Every link writes a ``link`` line on both timelines. The incidents move through
``incidents.services.incidents`` (their SLA clocks, timelines and notifications follow).
``changes.services.changes`` re-exports the public functions.
"""

from django.core.exceptions import ValidationError
from django.db import transaction

from changes.choices import DONE_STATES, OPEN_STATES, ChangeState, ChangeTimelineKind, CloseCode
from changes.services.checks import lock_change, lock_incident
from changes.timeline import record
from incidents.choices import OPEN_STATES as INCIDENT_OPEN_STATES
from incidents.choices import HoldReason, IncidentState, ResolutionCode, Source, TimelineKind
from incidents.models import Incident
from incidents.timeline import record as record_on_incident
from itom.api.exceptions import Conflict

S, I = ChangeState, IncidentState  # noqa: E741


def _incident_services():
    from incidents.services import incidents

    return incidents


def _other_open_changes(incident, change):
    return list(
        incident.changes.filter(state__in=OPEN_STATES)
        .exclude(pk=change.pk)
        .order_by("pk")
        .values_list("number", flat=True)
    )


def release_incidents(change, *, user, successful):
    """What a closed or canceled change does to the open incidents waiting for it."""
    service = _incident_services()
    outcome = f"closed ({CloseCode(change.close_code).label.lower()})" if change.state == S.CLOSED else "was canceled"
    ids = list(change.incidents.filter(state__in=INCIDENT_OPEN_STATES).order_by("pk").values_list("pk", flat=True))
    for pk in ids:
        incident = Incident.objects.select_for_update().get(pk=pk)
        if incident.state not in INCIDENT_OPEN_STATES:
            continue
        others = _other_open_changes(incident, change)
        awaiting = incident.state == I.ON_HOLD and incident.hold_reason == HoldReason.AWAITING_CHANGE
        if others:
            still = ", ".join(others)
            service.add_comment(
                incident, user=user, public=False, body=f"{change.number} {outcome}; still awaiting {still}."
            )
        elif successful and incident.source == Source.MONITORING:
            service.add_comment(
                incident,
                user=user,
                public=False,
                body=f"{change.number} {outcome}. Monitoring raised this incident: it resolves once its alerts "
                "recover.",
            )
            if awaiting:
                note = f"{change.number} {outcome}: waiting for its alerts to recover."
                service.transition(incident, I.IN_PROGRESS, user=user, note=note)
        elif successful:
            service.transition(
                incident,
                I.RESOLVED,
                user=user,
                resolution_code=ResolutionCode.RESOLVED_BY_CHANGE,
                note=f"Resolved by {change.number}: {change.title}",
            )
        elif awaiting:
            note = f"{change.number} {outcome}: the incident needs another fix."
            service.transition(incident, I.IN_PROGRESS, user=user, note=note)
        else:
            service.add_comment(incident, user=user, public=False, body=f"{change.number} {outcome}.")


def _link_lines(change, incident, *, user, relation, linked):
    verb = "Linked" if linked else "Unlinked"
    if relation == "caused":
        on_change = f"{'Marked' if linked else 'No longer marked'} as the cause of {incident.number}: {incident.title}"
        on_incident = f"{change.number} {'marked' if linked else 'no longer marked'} as the cause: {change.title}"
    else:
        on_change = f"{verb} incident {incident.number}: {incident.title}"
        on_incident = f"{verb} {'to' if linked else 'from'} change {change.number}: {change.title}"
    record(
        change,
        ChangeTimelineKind.LINK,
        user=user,
        body=on_change,
        data={"incident": incident.pk, "number": incident.number, "relation": relation, "linked": linked},
    )
    record_on_incident(
        incident,
        TimelineKind.LINK,
        user=user,
        body=on_incident,
        data={"change": change.pk, "number": change.number, "relation": relation, "linked": linked},
    )


def link(change, incident, *, user):
    """Link a locked open incident to a locked change; a new or in-progress incident goes on
    hold awaiting the change. Returns False when it was linked already."""
    if change.incidents.filter(pk=incident.pk).exists():
        return False
    change.incidents.add(incident)
    _link_lines(change, incident, user=user, relation="fixes", linked=True)
    if incident.state in (I.NEW, I.IN_PROGRESS):
        _incident_services().transition(
            incident,
            I.ON_HOLD,
            user=user,
            hold_reason=HoldReason.AWAITING_CHANGE,
            note=f"Awaiting change {change.number}: {change.title}",
        )
    return True


def _check_open(change, what):
    if change.state in DONE_STATES:
        raise Conflict(f"{change.number} is {change.get_state_display().lower()}: {what}.")


@transaction.atomic
def link_incident(change, incident, *, user):
    """Make ``incident`` wait for ``change``: linked, and on hold awaiting the change when it is
    new or in progress (it resolves when the change closes successfully). The incident must be
    open, the change too."""
    change = lock_change(change)
    _check_open(change, "it no longer takes incidents")
    incident = lock_incident(incident)
    if incident.state not in INCIDENT_OPEN_STATES:
        state = incident.get_state_display().lower()
        raise ValidationError({"incident": f"{incident.number} is {state}: only an open incident waits for a change."})
    link(change, incident, user=user)
    return change


@transaction.atomic
def unlink_incident(change, incident, *, user):
    """Stop ``incident`` waiting for ``change``; an incident on hold for it (and no other open
    change) goes back in progress."""
    change = lock_change(change)
    _check_open(change, "its incidents stay as they were")
    incident = lock_incident(incident)
    if not change.incidents.filter(pk=incident.pk).exists():
        raise ValidationError({"incident": f"{incident.number} is not linked to {change.number}."})
    change.incidents.remove(incident)
    _link_lines(change, incident, user=user, relation="fixes", linked=False)
    awaiting = incident.state == I.ON_HOLD and incident.hold_reason == HoldReason.AWAITING_CHANGE
    if awaiting and not _other_open_changes(incident, change):
        note = f"Unlinked from {change.number}: no longer awaiting a change."
        _incident_services().transition(incident, I.IN_PROGRESS, user=user, note=note)
    return change


@transaction.atomic
def mark_cause(change, incident, *, user, caused=True):
    """Mark ``change`` as a cause of ``incident`` (or, ``caused=False``, no longer), with a line
    on both timelines. Allowed in any state: causes are usually found after the change closed."""
    change = lock_change(change)
    incident = lock_incident(incident)
    if change.caused_incidents.filter(pk=incident.pk).exists() == bool(caused):
        return change
    if caused:
        change.caused_incidents.add(incident)
    else:
        change.caused_incidents.remove(incident)
    _link_lines(change, incident, user=user, relation="caused", linked=bool(caused))
    return change
