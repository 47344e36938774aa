"""What the incidents app plugs into the apps below it, from ``IncidentsConfig.ready()``:

- the notification events it sends (``itom.notifications.register_event``);
- receivers of ``slas.events``: they hand the incidents' clocks to the Celery task
  ``incidents.tasks.record_sla_events`` in chunks (so the scan that sent them stays fast, and a
  worker that dies mid-way is redelivered); for each warning or breach the task writes an SLA
  line on the incident's timeline (once: a redelivered chunk skips what is recorded) and notifies
  people, escalating as it gets worse —
  the first warning goes to the assignee (the team lead when nobody is assigned), later
  warnings to the team lead as well, a breach to the assignee, the team lead and the team's
  managers (members holding the manager role; when it has none, every manager);
- the CI page's "related objects" panel: the open incidents that affect the CI, directly or as
  an affected business service (``cmdb.related``).
"""

import logging

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

logger = logging.getLogger(__name__)


def connect():
    from cmdb import related
    from incidents.notifications import EVENTS
    from itom.notifications import Event, register_event
    from slas.events import sla_breached, sla_warning

    for key, label in EVENTS.items():
        register_event(Event(key=key, label=label))
    sla_warning.connect(on_sla_warning, dispatch_uid="incidents.wiring.on_sla_warning")
    sla_breached.connect(on_sla_breached, dispatch_uid="incidents.wiring.on_sla_breached")
    related.register(
        related.RelatedObjects(
            key="incidents",
            title="Open incidents",
            permission="incidents.view_incident",
            queryset=open_incidents_of,
            list_url=incident_list_url,
            order=10,
        )
    )


# --- the CI page ------------------------------------------------------------------------------


def open_incidents_of(ci):
    from incidents.choices import OPEN_STATES
    from incidents.models import Incident

    through_cis = Incident.affected_cis.through.objects.filter(ci_id=ci.pk).values("incident_id")
    through_services = Incident.affected_services.through.objects.filter(ci_id=ci.pk).values("incident_id")
    return (
        Incident.objects.filter(state__in=OPEN_STATES)
        .filter(Q(pk__in=through_cis) | Q(pk__in=through_services))
        .order_by("priority", "-created_at")
    )


def incident_list_url(ci):
    try:
        return f"{reverse('incidents:incident_list')}?queue=open&ci={ci.pk}"
    except NoReverseMatch:  # the incident pages are not installed
        return None


# --- SLA warnings and breaches ----------------------------------------------------------------


def _incident_clocks(clocks):
    """The clocks that time incidents, with their incidents (one query), as ``[(clock, incident)]``."""
    from incidents.models import Incident

    content_type = ContentType.objects.get_for_model(Incident)
    clocks = [clock for clock in clocks if clock.content_type_id == content_type.pk]
    if not clocks:
        return []
    incidents = Incident.objects.select_related("assignment_team", "assignee").in_bulk(
        {clock.object_id for clock in clocks}
    )
    return [(clock, incidents[clock.object_id]) for clock in clocks if clock.object_id in incidents]


def _local(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z") if moment else "—"


def _metric(clock):
    return clock.get_metric_display()


def _each(pairs, handle, what):
    """Handle each incident in a transaction of its own: one failure is logged and leaves the
    others handled (the scan that sent the signal has already committed)."""
    for clock, incident in pairs:
        try:
            with transaction.atomic():
                handle(clock, incident)
        except Exception:
            logger.exception("SLA %s on %s (clock %s) could not be recorded", what, incident.number, clock.pk)


def _per_team(lookup):
    """``lookup(team_id)`` asked once per team within one chunk of SLA events."""
    answers = {}

    def cached(team_id):
        if team_id not in answers:
            answers[team_id] = lookup(team_id)
        return answers[team_id]

    return cached


def _later_warning(clock, policies, counts):
    """True when ``clock`` has been warned before (a second threshold, e.g. 90% after 75%)."""
    policy = policies.get(clock.policy_id)
    thresholds = sorted(policy.warning_thresholds or []) if policy is not None else []
    if thresholds:
        return clock.warned_pct > thresholds[0]
    return counts.get(clock.pk, 0) > 1


SLA_CHUNK = 100  # clocks per record_sla_events task


def _enqueue(kind, clocks):
    """Queue ``record_sla_events`` for the incident clocks among ``clocks``, SLA_CHUNK at a time.
    The signal comes after the scan committed; if the broker is down the chunk is recorded here,
    in the scan's process, rather than lost."""
    from incidents.models import Incident
    from incidents.tasks import record_sla_events

    content_type = ContentType.objects.get_for_model(Incident)
    items = [[clock.pk, clock.warned_pct] for clock in clocks if clock.content_type_id == content_type.pk]
    for start in range(0, len(items), SLA_CHUNK):
        chunk = items[start : start + SLA_CHUNK]
        try:
            record_sla_events.delay(kind, chunk)
        except Exception:
            logger.exception("Could not queue %s SLA %s event(s); recording them now", len(chunk), kind)
            record_sla_events(kind, chunk)


def on_sla_warning(sender, clocks=(), **kwargs):
    _enqueue("warning", clocks)


def on_sla_breached(sender, clocks=(), **kwargs):
    _enqueue("breached", clocks)


def _recorded(pairs, event):
    """``{(clock id, warned pct)}`` of the SLA lines already on these incidents' timelines."""
    from incidents.choices import TimelineKind
    from incidents.models import TimelineEntry

    rows = TimelineEntry.objects.filter(
        incident__in={incident.pk for _, incident in pairs}, kind=TimelineKind.SLA, data__event=event
    ).values_list("data__clock", "data__warned_pct")
    return {(clock, pct or 0) for clock, pct in rows}


def _clocks_with_pct(items):
    """The clocks of ``[[clock id, warned pct at the scan]]``, each carrying the scan's pct."""
    from slas.models import SLAClock

    clocks = SLAClock.objects.in_bulk([pk for pk, _ in items])
    found = []
    for pk, pct in items:
        clock = clocks.get(pk)
        if clock is not None:
            clock.warned_pct = pct or 0
            found.append(clock)
    return found


def record_sla_events(kind, items):
    """Record SLA ``kind`` ("warning" or "breached") of ``[[clock id, warned pct]]`` on the
    incidents' timelines and notify (the body of ``incidents.tasks.record_sla_events``); what is
    recorded already is skipped, so a redelivered chunk writes nothing twice."""
    clocks = _clocks_with_pct(items)
    if kind == "warning":
        record_sla_warnings(clocks)
    elif kind == "breached":
        record_sla_breaches(clocks)
    else:
        raise ValueError(f"unknown SLA event {kind!r}")


def record_sla_warnings(clocks):
    from django.db.models import Count

    from incidents.choices import TimelineKind
    from incidents.notifications import notify_about, team_lead

    team_lead = _per_team(team_lead)
    from incidents.timeline import record
    from slas.choices import ClockEventKind
    from slas.models import SLAClockEvent, SLAPolicy

    pairs = _incident_clocks(clocks)
    if not pairs:
        return
    done = _recorded(pairs, "warning")
    pairs = [(clock, incident) for clock, incident in pairs if (clock.pk, clock.warned_pct) not in done]
    policies = SLAPolicy.objects.in_bulk({clock.policy_id for clock, _ in pairs if clock.policy_id})
    counts = dict(
        SLAClockEvent.objects.filter(clock__in=[clock.pk for clock, _ in pairs], kind=ClockEventKind.WARNING)
        .values("clock")
        .annotate(n=Count("id"))
        .values_list("clock", "n")
    )

    def handle(clock, incident):
        later = _later_warning(clock, policies, counts)
        lead = team_lead(incident.assignment_team_id)
        recipients = [incident.assignee or lead]
        if later:
            recipients.append(lead)
        body = f"{_metric(clock)} SLA at {clock.warned_pct}%: due {_local(clock.due_at)}."
        record(
            incident,
            TimelineKind.SLA,
            body=body,
            data={
                "event": "warning",
                "clock": clock.pk,
                "metric": clock.metric,
                "warned_pct": clock.warned_pct,
                "due_at": clock.due_at.isoformat() if clock.due_at else None,
                "escalated": later,
            },
        )
        notify_about(
            "sla.warning",
            incident,
            recipients,
            user=None,
            title=f"{incident.number}: {_metric(clock).lower()} SLA at {clock.warned_pct}%",
            body=f"{incident.title}\n{body}",
            data={"metric": clock.metric, "warned_pct": clock.warned_pct, "escalated": later},
        )

    _each(pairs, handle, "warning")


def record_sla_breaches(clocks):
    from incidents.choices import TimelineKind
    from incidents.notifications import notify_about, team_lead, team_managers

    team_lead, team_managers = _per_team(team_lead), _per_team(team_managers)
    from incidents.timeline import record

    def handle(clock, incident):
        team_id = incident.assignment_team_id
        recipients = [incident.assignee, team_lead(team_id), *team_managers(team_id)]
        body = f"{_metric(clock)} SLA breached: it was due {_local(clock.due_at)}."
        record(
            incident,
            TimelineKind.SLA,
            body=body,
            data={
                "event": "breached",
                "clock": clock.pk,
                "metric": clock.metric,
                "due_at": clock.due_at.isoformat() if clock.due_at else None,
                "breached_at": clock.breached_at.isoformat() if clock.breached_at else None,
            },
            time=clock.breached_at,
        )
        notify_about(
            "sla.breached",
            incident,
            recipients,
            user=None,
            title=f"{incident.number}: {_metric(clock).lower()} SLA breached",
            body=f"{incident.title}\n{body}",
            data={"metric": clock.metric},
        )

    pairs = _incident_clocks(clocks)
    done = _recorded(pairs, "breached") if pairs else set()
    _each([(clock, incident) for clock, incident in pairs if (clock.pk, 0) not in done], handle, "breach")
