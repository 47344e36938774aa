"""Core Celery tasks, and ``PortalTask``: the base every task in the project uses.

Tasks are thin: they take primary keys or plain data, re-fetch, call a service and tolerate a
row that has vanished. A task that acts for a person takes ``acting_user_id`` so the audit
trail names them (see ``itom.celery_signals``).
"""

from datetime import timedelta

from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError


class PortalTask(Task):
    """Late acknowledgement (a task whose worker dies is redelivered) and bounded retries with
    exponential backoff for transient database or broker errors."""

    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (DatabaseError, BrokerError)
    max_retries = 5
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True


@shared_task(base=PortalTask)
def ping():
    """A round trip through the broker; returns ``"pong"``."""
    return "pong"


@shared_task(base=PortalTask)
def prune_audit_log():
    """Delete audit rows older than ``AUDIT_RETENTION_DAYS``; returns how many went."""
    from itom.models import ObjectChange

    cutoff = timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted, _ = ObjectChange.objects.filter(time__lt=cutoff).delete()
    return deleted
