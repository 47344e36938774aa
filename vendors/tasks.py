"""The vendors app's Celery tasks."""

from celery import shared_task
from django.utils import timezone

from itom.tasks import PortalTask


@shared_task(base=PortalTask)
def daily_contract_check():
    """Renew the auto-renew contracts that ended, then send the notice-deadline reminders and
    expiry notices due today (in ``TIME_ZONE``); beat, daily. Safe to repeat: each reminder is
    sent once, a renewed contract no longer ends before today. Returns what it did."""
    from vendors.services.renewals import renew_due, send_reminders

    today = timezone.localdate()
    renewed = renew_due(today)
    sent = send_reminders(today)
    return {"renewed": [contract.number for contract in renewed], "reminders": [f"{n}:{k}" for n, k in sent]}
