"""Shared base models: timestamps, the audit trail, and race-free human numbers."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import F

from itom.choices import ChangeAction, DeliveryState, NotificationChannel, WebhookKind


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ChangeLoggedModel(TimeStampedModel):
    """Base for every domain model: each create, update, delete and m2m change writes an
    ``ObjectChange`` (see ``itom.audit``). ``audit_exclude`` names fields kept out of the log."""

    audit_exclude = ()

    class Meta:
        abstract = True


class ObjectChange(models.Model):
    """One row per change of an audited object: who, when, in which request, before and after."""

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_name = models.CharField(max_length=150, help_text="The user, or the task or system that acted.")
    request_id = models.UUIDField(db_index=True)
    action = models.CharField(max_length=10, choices=ChangeAction.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    prechange_data = models.JSONField(null=True, blank=True)
    postchange_data = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-time"])]

    def __str__(self):
        return f"{self.get_action_display()} {self.object_repr} by {self.user_name}"

    @property
    def diff(self):
        """``{field: (before, after)}`` for the fields this change altered."""
        before = self.prechange_data or {}
        after = self.postchange_data or {}
        keys = sorted(set(before) | set(after))
        return {k: (before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)}


class NumberSequence(models.Model):
    """The last number handed out per prefix (``INC``, ``CHG`` …). See ``next_number``."""

    prefix = models.CharField(max_length=8, primary_key=True)
    last_value = models.BigIntegerField(default=0)

    def __str__(self):
        return f"{self.prefix}: {self.last_value}"


def next_number(prefix, width=7):
    """Allocate the next human reference for ``prefix`` (e.g. ``INC0001234``) without races.

    The increment is one UPDATE, which row-locks the sequence until the surrounding
    transaction commits, so two concurrent callers can never read the same value.
    """
    with transaction.atomic():
        sequences = NumberSequence.objects.filter(prefix=prefix)
        if not sequences.update(last_value=F("last_value") + 1):
            try:
                with transaction.atomic():
                    NumberSequence.objects.create(prefix=prefix, last_value=1)
            except IntegrityError:  # another caller created it first: take the next value
                sequences.update(last_value=F("last_value") + 1)
        value = sequences.values_list("last_value", flat=True).get()
    return f"{prefix}{value:0{width}d}"


class NumberedModel(models.Model):
    """Adds a unique human ``number`` allocated on first save from ``number_prefix``."""

    number_prefix = None
    number = models.CharField(max_length=20, unique=True, editable=False)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self.number:
            self.number = next_number(self.number_prefix)
        super().save(*args, **kwargs)


class Notification(TimeStampedModel):
    """One in-app notification for one user (``itom.notifications.notify`` writes them)."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.CharField(max_length=50)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at"]),
            models.Index(fields=["recipient"], condition=models.Q(read_at__isnull=True), name="itom_notif_unread"),
        ]

    def __str__(self):
        return self.title


class NotificationPreference(models.Model):
    """A user's choice for one event on one channel; without a row the event's default applies."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_prefs")
    event = models.CharField(max_length=50)
    channel = models.CharField(max_length=10, choices=NotificationChannel.choices)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "event", "channel"], name="itom_notification_pref_unique"),
        ]

    def __str__(self):
        return f"{self.user}: {self.event} by {self.channel} {'on' if self.enabled else 'off'}"


class WebhookEndpoint(ChangeLoggedModel):
    """An outgoing webhook: a JSON body signed with HMAC-SHA256, or a chat-compatible message."""

    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(max_length=500)
    kind = models.CharField(max_length=10, choices=WebhookKind.choices, default=WebhookKind.JSON)
    secret = models.CharField(max_length=200, blank=True, help_text="The HMAC-SHA256 key (JSON webhooks).")
    events = models.JSONField(default=list, blank=True, help_text="Event names it receives; empty: all.")
    active = models.BooleanField(default=True)

    audit_exclude = ("secret",)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class WebhookDelivery(TimeStampedModel):
    """One event sent (or being sent) to one endpoint, with the outcome of its last attempt."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=50)
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["endpoint", "-created_at"]),
            # The sweep for deliveries a dead worker left behind reads only the open ones.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state__in=["pending", "retrying"]),
                name="itom_delivery_open_next",
            ),
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint} ({self.state})"
