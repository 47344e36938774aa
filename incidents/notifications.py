"""Who hears about an incident, and what a notification about one carries.

The services and the SLA wiring send through ``notify_about``; ``itom.notifications.notify``
leaves out the actor and users who turned the event off, and delivers in-app rows, e-mails and
webhooks once the transaction commits.
"""

from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch

from itom.roles import MANAGER

# The events the incidents app sends (registered in ``incidents.wiring``): key → label.
EVENTS = {
    "incident.created": "Incident created",
    "incident.assigned": "Incident assigned to you or your team",
    "incident.state_changed": "Incident state changed",
    "incident.commented": "Incident commented",
    "sla.warning": "SLA warning",
    "sla.breached": "SLA breached",
    "problem.created": "Problem created",
    "problem.workaround": "Workaround posted on a problem",
}


def _url(incident):
    try:
        return incident.get_absolute_url()
    except NoReverseMatch:  # the incident pages are not installed (an API-only deployment)
        return ""


def _name(user):
    return user.get_username() if user is not None else None


def payload(incident):
    """The structured part of an incident notification (webhook bodies carry it)."""
    return {
        "id": incident.pk,
        "number": incident.number,
        "title": incident.title,
        "state": incident.state,
        "priority": incident.priority,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "assignment_team": incident.assignment_team.name if incident.assignment_team_id else None,
        "assignee": _name(incident.assignee) if incident.assignee_id else None,
        "is_major": incident.is_major,
    }


def notify_about(event, incident, recipients, *, user, title, body="", data=None):
    """Send ``event`` about ``incident`` to ``recipients`` (users; None, inactive users and
    duplicates dropped)."""
    from itom.notifications import notify

    unique = {}
    for person in recipients:
        if person is not None and person.is_active:
            unique.setdefault(person.pk, person)
    notify(
        event,
        incident,
        recipients=list(unique.values()),
        actor=user,
        title=title[:200],
        body=body,
        url=_url(incident),
        data={**payload(incident), **(data or {})},
    )


def team_members(team_id):
    if team_id is None:
        return []
    return list(get_user_model()._default_manager.filter(teams=team_id, is_active=True))


def team_lead(team_id):
    if team_id is None:
        return None
    return get_user_model()._default_manager.filter(led_teams=team_id, is_active=True).first()


def team_managers(team_id):
    """The team's members holding the manager role; when it has none, every manager."""
    managers = get_user_model()._default_manager.filter(is_active=True, groups__name=MANAGER)
    own = list(managers.filter(teams=team_id).distinct()) if team_id is not None else []
    return own or list(managers.distinct())


def followers(incident):
    """People who follow what happens to an incident: its caller, opener, assignee, watchers."""
    return [incident.caller, incident.opened_by, incident.assignee, *incident.watchers.all()]
