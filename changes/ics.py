"""The change calendar as an iCalendar feed (RFC 5545), for subscription from a mail client
(issue 5 item 6). The feed's URL carries the user's ``CalendarFeed`` token; the view serving it
calls ``calendar_feed``.

One VEVENT per change whose planned window overlaps the last ``PAST`` to the next ``AHEAD``:
SUMMARY "CHG0000042 Upgrade the core switch", DESCRIPTION with type, state, risk, team,
assignee and affected CIs, URL to its page, UID ``<number>@itom`` (stable, so a client updates
the event in place), STATUS TENTATIVE until it is approved (new, assess, authorize), CONFIRMED
once scheduled, CANCELLED when canceled — a canceled change stays in the feed, marked so, which
is how RFC 5545 tells a subscriber that an event it shows is called off. One VEVENT per active
blackout window overlapping the same period (SUMMARY "Blackout: <name>", transparent: a freeze
doesn't make anyone busy).
"""

import datetime as dt

from django.urls import NoReverseMatch
from django.utils import timezone
from icalendar import Calendar, Event, vDuration

from changes.choices import ChangeState, RiskLevel
from changes.models import BlackoutWindow, ChangeRequest
from cmdb.choices import Environment
from itom.notifications import absolute_url

PAST = dt.timedelta(days=30)
AHEAD = dt.timedelta(days=365)
PRODID = "-//ITOM Portal//Change calendar//EN"
# How often a client should fetch the feed again (RFC 7986 REFRESH-INTERVAL, and Outlook's
# X-PUBLISHED-TTL, which says the same as text).
REFRESH = dt.timedelta(hours=1)
CI_NAMES = 20  # affected CIs spelled out in an event's description

STATUS = {
    ChangeState.NEW: "TENTATIVE",
    ChangeState.ASSESS: "TENTATIVE",
    ChangeState.AUTHORIZE: "TENTATIVE",
    ChangeState.SCHEDULED: "CONFIRMED",
    ChangeState.IMPLEMENT: "CONFIRMED",
    ChangeState.REVIEW: "CONFIRMED",
    ChangeState.CLOSED: "CONFIRMED",
    ChangeState.CANCELED: "CANCELLED",
}


def _url(obj):
    """The object's page as an absolute URL (a calendar client has no base to resolve a path
    against), or "" without ``PORTAL_URL`` or without the change pages (an API-only deployment)."""
    try:
        url = absolute_url(obj.get_absolute_url())
    except NoReverseMatch:
        return ""
    return url if url.startswith(("http://", "https://")) else ""


def _event(uid, stamp, start, end, summary):
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    return event


def _describe(event, obj, lines):
    """The event's DESCRIPTION: ``lines``, then the object's page (also its URL) when it has one."""
    url = _url(obj)
    if url:
        event.add("url", url)
        lines = [*lines, "", url]
    event.add("description", "\n".join(lines))


def _change_event(change, stamp):
    summary = f"{change.number} {change.title}"
    event = _event(f"{change.number}@itom", stamp, change.planned_start, change.planned_end, summary)
    names = [ci.name for ci in change.affected_cis.all()]
    if len(names) > CI_NAMES:
        names = [*names[:CI_NAMES], f"and {len(names) - CI_NAMES} more"]
    lines = [
        f"{change.get_type_display()} change",
        f"State: {change.get_state_display()}",
        f"Risk: {RiskLevel(change.effective_risk).label}",
        f"Assignment team: {change.assignment_team.name if change.assignment_team_id else '—'}",
        f"Assignee: {change.assignee.get_username() if change.assignee_id else '—'}",
        f"Affected CIs: {', '.join(names) if names else '—'}",
    ]
    _describe(event, change, lines)
    event.add("status", STATUS.get(change.state, "TENTATIVE"))
    event.add("categories", [f"Change: {change.get_type_display()}"])
    event.add("created", change.created_at)
    event.add("last-modified", change.updated_at)
    return event


def _blackout_event(window, stamp):
    event = _event(f"blackout-{window.pk}@itom", stamp, window.start, window.end, f"Blackout: {window.name}")
    scope = []
    if window.environment:
        scope.append(f"Environment: {Environment(window.environment).label}")
    classes = [c.name for c in window.ci_classes.all()]
    if classes:
        scope.append(f"CI classes: {', '.join(classes)}")
    services = [s.name for s in window.business_services.all()]
    if services:
        scope.append(f"Business services: {', '.join(services)}")
    lines = [window.reason] if window.reason else []
    lines.append("Scope: " + ("; ".join(scope) if scope else "every change"))
    _describe(event, window, lines)
    event.add("status", "CONFIRMED")
    event.add("transp", "TRANSPARENT")
    event.add("categories", ["Blackout window"])
    event.add("last-modified", window.updated_at)
    return event


def calendar_feed(user=None, *, now=None):
    """The change calendar around ``now`` as an iCalendar document (bytes). ``user`` is the
    subscriber: every user who may see changes sees them all, so it doesn't narrow the feed today.
    Five queries: the changes (team and assignee joined), their affected CIs, the blackout windows,
    their classes, their services."""
    now = now or timezone.now()
    start, end = now - PAST, now + AHEAD
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "Change calendar")
    calendar.add("x-published-ttl", vDuration(REFRESH).to_ical().decode())
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    changes = (
        ChangeRequest.objects.filter(planned_start__lt=end, planned_end__gt=start)
        .select_related("assignment_team", "assignee")
        .prefetch_related("affected_cis")
        .order_by("planned_start", "id")
    )
    for change in changes:
        calendar.add_component(_change_event(change, now))
    blackouts = (
        BlackoutWindow.objects.filter(active=True, start__lt=end, end__gt=start)
        .prefetch_related("ci_classes", "business_services")
        .order_by("start", "id")
    )
    for window in blackouts:
        calendar.add_component(_blackout_event(window, now))
    return calendar.to_ical()
