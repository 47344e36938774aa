"""SLA tasks: the scan that marks warnings and breaches (Celery beat, every minute)."""

from celery import shared_task

from itom.tasks import PortalTask


@shared_task(base=PortalTask)
def scan_sla_clocks():
    """Mark the running clocks that passed a warning threshold or their target; returns
    ``{"warned": n, "breached": m}``. Safe to repeat and to run twice at once (rows are claimed
    with a conditional UPDATE; a clock is warned or breached once)."""
    from slas.services import scan

    return scan()
