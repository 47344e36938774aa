"""Core Celery tasks, and ``PortalTask``: the base every task in the project uses.

Tasks are thin: they take primary keys or plain data, re-fetch, call a service and tolerate a
row that has vanished. A task that acts for a person takes ``acting_user_id`` so the audit
trail names them (see ``itom.celery_signals``).
"""

import smtplib
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


# --- Notifications (itom.notifications, itom.webhooks) -----------------------------------------


@shared_task(base=PortalTask, autoretry_for=(DatabaseError, BrokerError, smtplib.SMTPException, OSError))
def deliver_email(recipient_id, event, title, body="", url=""):
    """Send one notification e-mail; SMTP and network errors are retried with backoff (bounded)."""
    from itom.notifications import send_email

    return send_email(recipient_id, event, title, body, url)


@shared_task(base=PortalTask, bind=True)
def deliver_webhook(self, delivery_id):
    """One attempt of a webhook delivery (``itom.webhooks.attempt``). A failed attempt with
    attempts left is queued again, on the queue it came from, after the backoff; the count of
    attempts lives in the delivery row (``WEBHOOK_MAX_ATTEMPTS``), not in Celery's retries."""
    from itom import webhooks

    outcome = webhooks.attempt(delivery_id)
    if outcome is None:
        return None
    if outcome.retry_in is not None:
        queue = (self.request.delivery_info or {}).get("routing_key") or None
        webhooks.enqueue(delivery_id, countdown=outcome.retry_in, queue=queue)
    return outcome.state


@shared_task(base=PortalTask)
def requeue_stalled_webhooks():
    """Hand back to Celery the webhook deliveries a dead worker or a broker outage left behind."""
    from itom import webhooks

    return webhooks.requeue_stalled()


@shared_task(base=PortalTask)
def prune_notifications():
    """Delete in-app notifications older than ``NOTIFICATION_RETENTION_DAYS`` and finished webhook
    deliveries older than ``WEBHOOK_DELIVERY_RETENTION_DAYS``; returns how many of each went."""
    from itom.choices import DeliveryState
    from itom.models import Notification, WebhookDelivery

    now = timezone.now()
    notifications, _ = Notification.objects.filter(
        created_at__lt=now - timedelta(days=settings.NOTIFICATION_RETENTION_DAYS)
    ).delete()
    deliveries, _ = WebhookDelivery.objects.filter(
        created_at__lt=now - timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS),
        state__in=(DeliveryState.SUCCEEDED, DeliveryState.FAILED),
    ).delete()
    return {"notifications": notifications, "deliveries": deliveries}
