"""Who hears about a change, and what a notification about one carries. The services send
through ``notify_about``; ``itom.notifications.notify`` leaves out the actor and users who
turned the event off, and delivers once the transaction commits."""

from django.urls import NoReverseMatch

# The events the changes app sends (registered in ``changes.wiring``): key → label.
EVENTS = {
    "change.created": "Change requested",
    "change.approval_requested": "Change awaits your approval",
    "change.approved": "Change approved",
    "change.rejected": "Change rejected",
    "change.approvals_reset": "Change approvals reset",
    "change.state_changed": "Change state changed",
    "change.assigned": "Change assigned to you or your team",
}


def _url(change):
    try:
        return change.get_absolute_url()
    except NoReverseMatch:  # the change pages are not installed (an API-only deployment)
        return ""


def payload(change):
    """The structured part of a change notification (webhook bodies carry it)."""
    return {
        "id": change.pk,
        "number": change.number,
        "title": change.title,
        "type": change.type,
        "state": change.state,
        "risk": change.effective_risk,
        "planned_start": change.planned_start.isoformat() if change.planned_start else None,
        "planned_end": change.planned_end.isoformat() if change.planned_end else None,
        "assignment_team": change.assignment_team.name if change.assignment_team_id else None,
        "assignee": change.assignee.get_username() if change.assignee_id else None,
    }


def notify_about(event, change, recipients, *, user, title, body="", data=None):
    """Send ``event`` about ``change`` to ``recipients`` (users; None, inactive users and
    duplicates dropped)."""
    from itom.notifications import notify

    unique = {}
    for person in recipients:
        if person is not None and person.is_active:
            unique.setdefault(person.pk, person)
    notify(
        event,
        change,
        recipients=list(unique.values()),
        actor=user,
        title=title[:200],
        body=body,
        url=_url(change),
        data={**payload(change), **(data or {})},
    )


def requester_and_assignee(change):
    return [change.requester, change.assignee]
