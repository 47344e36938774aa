"""What the vendors app plugs into the apps below it, from ``VendorsConfig.ready()``:

- the notification events it sends (``itom.notifications.register_event``);
- the CI page's "related objects" panel: the contracts that cover the CI, those in force first
  (``cmdb.related``);
- receivers of ``slas.events`` for the vendor clocks (the SLA clocks of vendor escalations): each
  warning or breach writes a line on the escalated incident's timeline (once per clock and
  threshold);
- the Vendors navigation entry and the incident page's actions (``vendors.views.home``).
"""

import logging
from zoneinfo import ZoneInfo

from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

logger = logging.getLogger(__name__)


def connect():
    connect_events()
    connect_related()
    connect_incident_hooks()
    from vendors.views import home

    home.register()


# The notification events of contracts (sent by ``vendors.services.renewals``).
CONTRACT_EVENTS = {
    "contract.renewal_due": "Contract notice deadline approaching",
    "contract.renewed": "Contract renewed automatically",
    "contract.expired": "Contract expired",
    "vendor.sla_breached": "Vendor missed a response or resolution target",
}


def connect_events():
    """The notification events of contracts (renewals, reminders, expiry)."""
    from itom.notifications import Event, register_event

    for key, label in CONTRACT_EVENTS.items():
        register_event(Event(key=key, label=label))


# --- the CI page ------------------------------------------------------------------------------


def connect_related():
    from cmdb import related

    related.register(
        related.RelatedObjects(
            key="contracts",
            title="Contracts",
            permission="vendors.view_contract",
            queryset=contracts_of,
            list_url=contract_list_url,
            order=40,
        )
    )


def contracts_of(ci):
    from vendors.selectors import covering_contracts

    return covering_contracts(ci)


def contract_list_url(ci):
    try:
        return f"{reverse('vendors:contract_list')}?ci={ci.pk}"
    except NoReverseMatch:  # the vendor pages are not installed
        return None


# --- vendor clock warnings and breaches -------------------------------------------------------


def connect_incident_hooks():
    from slas.events import sla_breached, sla_warning

    sla_warning.connect(on_vendor_clock_warning, dispatch_uid="vendors.wiring.on_vendor_clock_warning")
    sla_breached.connect(on_vendor_clock_breached, dispatch_uid="vendors.wiring.on_vendor_clock_breached")


def _escalation_clocks(clocks):
    """``[(clock, escalation)]`` for the clocks that time vendor escalations (one query)."""
    from django.contrib.contenttypes.models import ContentType

    from vendors.models import VendorEscalation

    content_type = ContentType.objects.get_for_model(VendorEscalation)
    clocks = [clock for clock in clocks if clock.content_type_id == content_type.pk]
    if not clocks:
        return []
    escalations = VendorEscalation.objects.select_related("incident", "vendor", "contract").in_bulk(
        {clock.object_id for clock in clocks}
    )
    return [(clock, escalations[clock.object_id]) for clock in clocks if clock.object_id in escalations]


def _local(moment, clock):
    """``moment`` in the time zone of the clock's calendar (the vendor's support hours)."""
    if moment is None:
        return "—"
    return timezone.localtime(moment, ZoneInfo(clock.calendar.time_zone)).strftime("%Y-%m-%d %H:%M %Z")


def _record(clock, escalation, event, body, **data):
    """One timeline line on the escalation's incident, unless this event of this clock (and
    threshold) is there already (a signal delivered twice)."""
    from incidents.choices import TimelineKind
    from incidents.models import TimelineEntry
    from incidents.timeline import record

    key = {"vendor_clock": clock.pk, "event": event, **data}
    if TimelineEntry.objects.filter(incident_id=escalation.incident_id, kind=TimelineKind.SYSTEM, data__contains=key):
        return False
    ticket = f" (ticket {escalation.vendor_ticket})" if escalation.vendor_ticket else ""
    record(
        escalation.incident,
        TimelineKind.SYSTEM,
        body=f"{escalation.vendor}{ticket} under {escalation.contract.number}: {body}",
        data={**key, "vendor_escalation": escalation.pk, "metric": clock.metric},
    )
    return True


def _each(clocks, handle, what):
    """Each escalation in a transaction of its own: one failure is logged, the others recorded
    (the scan that sent the signal has committed)."""
    for clock, escalation in _escalation_clocks(clocks):
        try:
            with transaction.atomic():
                handle(clock, escalation)
        except Exception:
            logger.exception(
                "Vendor clock %s (%s) of escalation %s could not be recorded", what, clock.pk, escalation.pk
            )


def on_vendor_clock_warning(sender, clocks, **kwargs):
    def handle(clock, escalation):
        metric = clock.get_metric_display().lower()
        _record(
            clock,
            escalation,
            "warning",
            f"{clock.warned_pct}% of the vendor's {metric} time used; due {_local(clock.due_at, clock)}.",
            pct=clock.warned_pct,
        )

    _each(clocks, handle, "warning")


def on_vendor_clock_breached(sender, clocks, **kwargs):
    """A timeline line on the incident, and a notification to the incident's assignee (the team
    lead when nobody is assigned) and the contract's owner, who deal with the vendor."""
    from incidents.notifications import notify_about, team_lead

    def handle(clock, escalation):
        metric = clock.get_metric_display().lower()
        when = _local(clock.breached_at or clock.due_at, clock)
        if _record(clock, escalation, "breached", f"the vendor's {metric} target passed ({when})."):
            incident = escalation.incident
            notify_about(
                "vendor.sla_breached",
                incident,
                [incident.assignee or team_lead(incident.assignment_team_id), escalation.contract.owner],
                user=None,
                title=f"{escalation.vendor} missed its {metric} target on {incident.number}",
                body=f"Under {escalation.contract.number}; the target passed {when}.",
                data={"vendor": escalation.vendor.name, "contract": escalation.contract.number, "metric": clock.metric},
            )

    _each(clocks, handle, "breach")
