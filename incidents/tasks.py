"""Celery tasks of the incidents app: thin wrappers around ``incidents.services``."""

from celery import shared_task

from itom.tasks import PortalTask


@shared_task(base=PortalTask)
def auto_close_resolved():
    """Close incidents resolved more than ``INCIDENT_AUTO_CLOSE_DAYS`` days ago (beat, hourly);
    returns how many were closed. Safe to repeat: a closed incident is not resolved any more."""
    from incidents.services.incidents import auto_close_resolved as close

    return close()


@shared_task(base=PortalTask)
def record_sla_events(kind, items):
    """Write the SLA warnings or breaches ``[[clock id, warned pct]]`` the scan found on the
    incidents' timelines and notify (``incidents.wiring.record_sla_events``). Idempotent."""
    from incidents.wiring import record_sla_events as record

    record(kind, items)
