"""The notification core: one entry point, ``notify(event, obj, …)``, for every app.

Apps declare the events they send with ``register_event(Event(...))`` in ``AppConfig.ready()``
and call ``notify`` from their services, inside the transaction that made the change:

    notify("incident.assigned", incident, recipients=[assignee], actor=user,
           title=f"{incident.number} assigned to you", body=incident.title)

What it does, all in the caller's transaction (so a rolled-back change notifies nobody):

- an in-app ``Notification`` for each recipient, except the actor and users who turned the
  event off for the portal (``NotificationPreference``; without a row the event's
  ``default_channels`` apply); inactive users are skipped;
- an e-mail task per recipient who wants e-mail and has an address;
- a ``WebhookDelivery`` per active webhook endpoint subscribed to the event (``itom.webhooks``).

E-mails and webhook deliveries are handed to Celery only once the transaction commits
(``transaction.on_commit``); a broker that is down then is logged, never raised into the
request, and pending webhook deliveries are picked up again by ``requeue_stalled_webhooks``.
"""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from itom.choices import NotificationChannel
from itom.models import Notification, NotificationPreference

logger = logging.getLogger(__name__)

CHANNELS = tuple(NotificationChannel.values)
EVENT_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
EVENT_KEY_MAX = Notification._meta.get_field("event").max_length
TITLE_MAX = Notification._meta.get_field("title").max_length
URL_MAX = Notification._meta.get_field("url").max_length


@dataclass(frozen=True)
class Event:
    """Something people can be told about. ``default_channels`` apply to a user who has not
    chosen otherwise on the preferences page."""

    key: str  # "incident.created"
    label: str  # "Incident created"
    default_channels: tuple = ("in_app", "email")

    def __post_init__(self):
        if not EVENT_KEY.match(self.key) or len(self.key) > EVENT_KEY_MAX:
            raise ValueError(
                f"event key {self.key!r}: expected dotted lower-case words (e.g. 'incident.created'), "
                f"at most {EVENT_KEY_MAX} characters"
            )
        if not self.label:
            raise ValueError(f"event {self.key!r} needs a label")
        unknown = set(self.default_channels) - set(CHANNELS)
        if unknown:
            raise ValueError(f"event {self.key!r}: unknown channel(s) {sorted(unknown)}; known: {list(CHANNELS)}")
        object.__setattr__(self, "default_channels", tuple(self.default_channels))

    @property
    def group(self):
        """The part before the first dot (``incident``), to group events on the preferences page."""
        return self.key.split(".", 1)[0]


_events: dict[str, Event] = {}


def register_event(event: Event) -> None:
    """Declare an event (from ``AppConfig.ready()``). Registering the same event again is
    harmless; registering a different one under a taken key is a programming error."""
    if not isinstance(event, Event):
        raise TypeError(f"register_event expects an Event, got {type(event).__name__}")
    existing = _events.get(event.key)
    if existing is not None and existing != event:
        raise ValueError(f"event {event.key!r} is already registered as {existing!r}")
    _events[event.key] = event


def events() -> list[Event]:
    """Every registered event, in the order they were registered."""
    return list(_events.values())


def get_event(key) -> Event:
    try:
        return _events[key]
    except KeyError:
        raise LookupError(f"unknown notification event {key!r}; register it with register_event() first") from None


def notify(event_key, obj, *, recipients=(), actor=None, title="", body="", url="", data=None) -> None:
    """Tell ``recipients`` (users or user ids) and the subscribed webhooks about ``event_key``
    on ``obj`` (any model instance, or None). See the module's docstring for what is sent."""
    from itom import webhooks

    event = get_event(event_key)
    title = (title or default_title(event, obj))[:TITLE_MAX]
    url = (url or object_url(obj))[:URL_MAX]
    users = _recipients(recipients, actor)
    if users:
        wanted = channels_for(users, event)
        rows = [
            Notification(recipient=user, event=event.key, title=title, body=body, url=url)
            for user in users
            if NotificationChannel.IN_APP in wanted[user.pk]
        ]
        Notification.objects.bulk_create(rows)
        for user in users:
            if NotificationChannel.EMAIL in wanted[user.pk] and user.email:
                _on_commit(_send_email_task, user.pk, event.key, title, body, url)
    webhooks.queue_event(event, obj, actor=actor, title=title, body=body, url=url, data=data)


# --- Recipients and preferences --------------------------------------------------------------


def _recipients(recipients, actor):
    """Active users among ``recipients`` (users or ids, duplicates allowed), minus the actor."""
    if recipients is None:
        return []
    if not isinstance(recipients, Iterable) or isinstance(recipients, (str, bytes)):
        recipients = [recipients]
    user_model = get_user_model()
    ids = []
    for recipient in recipients:
        if recipient is None:
            continue
        if isinstance(recipient, int) and not isinstance(recipient, bool):
            ids.append(recipient)
        elif isinstance(recipient, user_model) and recipient.pk is not None:
            ids.append(recipient.pk)
        else:
            raise TypeError(f"notify: a recipient must be a user or a user id, got {recipient!r}")
    actor_pk = getattr(actor, "pk", actor)
    ids = [pk for pk in dict.fromkeys(ids) if pk != actor_pk]
    if not ids:
        return []
    return list(user_model._default_manager.filter(pk__in=ids, is_active=True).order_by("pk"))


def channels_for(users, event) -> dict:
    """``{user id: {channel, …}}``: the channels each user receives ``event`` on (one query)."""
    defaults = set(event.default_channels)
    chosen = {user.pk: set(defaults) for user in users}
    prefs = NotificationPreference.objects.filter(user__in=[u.pk for u in users], event=event.key)
    for user_id, channel, enabled in prefs.values_list("user_id", "channel", "enabled"):
        if enabled:
            chosen[user_id].add(channel)
        else:
            chosen[user_id].discard(channel)
    return chosen


def preferences_of(user) -> list[dict]:
    """Every registered event with the channels ``user`` receives it on:
    ``[{"event": Event, "channels": {"in_app": bool, "email": bool}}]`` (one query)."""
    stored = {
        (event, channel): enabled
        for event, channel, enabled in NotificationPreference.objects.filter(user=user).values_list(
            "event", "channel", "enabled"
        )
    }
    return [
        {
            "event": event,
            "channels": {
                channel: stored.get((event.key, channel), channel in event.default_channels) for channel in CHANNELS
            },
        }
        for event in sorted(events(), key=lambda e: e.key)
    ]


def set_preferences(user, choices) -> None:
    """Store ``user``'s choices: ``{event key: {channel: bool}}`` (unnamed ones stay as they are).
    A choice equal to the event's default removes the row, so later default changes apply.
    Raises ``ValidationError`` naming an unknown event or channel; nothing is written then."""
    from django.core.exceptions import ValidationError

    errors = {}
    for key, channels in choices.items():
        if key not in _events:
            errors.setdefault("event", []).append(f"Unknown event {key!r}.")
            continue
        for channel, enabled in channels.items():
            if channel not in CHANNELS:
                errors.setdefault("channel", []).append(
                    f"Unknown channel {channel!r} for {key!r}; known: {', '.join(CHANNELS)}."
                )
            elif not isinstance(enabled, bool):
                errors.setdefault("enabled", []).append(f"{key} / {channel}: expected true or false.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        for key, channels in choices.items():
            event = _events[key]
            for channel, enabled in channels.items():
                if enabled == (channel in event.default_channels):
                    NotificationPreference.objects.filter(user=user, event=key, channel=channel).delete()
                else:
                    NotificationPreference.objects.update_or_create(
                        user=user, event=key, channel=channel, defaults={"enabled": enabled}
                    )


# --- The in-app list ----------------------------------------------------------------------------


def unread_count(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def mark_read(user, ids=None) -> int:
    """Mark ``user``'s notifications read (those in ``ids``, or all); returns how many changed."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    now = timezone.now()
    return unread.update(read_at=now, updated_at=now)


def mark_unread(user, ids) -> int:
    """Mark ``user``'s notifications in ``ids`` unread again; returns how many changed."""
    read = Notification.objects.filter(recipient=user, pk__in=list(ids), read_at__isnull=False)
    return read.update(read_at=None, updated_at=timezone.now())


# --- Words and links ---------------------------------------------------------------------------


def object_reference(obj) -> str:
    """``INC0001234 Printer on fire`` for numbered objects, else ``str(obj)``."""
    if obj is None:
        return ""
    text = str(obj)
    number = getattr(obj, "number", "") or ""
    if number and not text.startswith(number):
        text = f"{number} {text}"
    return text


def default_title(event, obj) -> str:
    reference = object_reference(obj)
    return f"{event.label}: {reference}" if reference else event.label


def object_url(obj) -> str:
    """The object's page (a path), or "" when it has none."""
    get_url = getattr(obj, "get_absolute_url", None)
    if get_url is None:
        return ""
    try:
        return get_url() or ""
    except Exception:  # a model whose URL needs data it lacks must not break a notification
        logger.warning("notify: no URL for %r", obj, exc_info=True)
        return ""


def absolute_url(path) -> str:
    """``path`` on the portal's public address (``PORTAL_URL``); unchanged when absolute or
    when no address is configured."""
    if not path or path.startswith(("http://", "https://")) or not settings.PORTAL_URL:
        return path or ""
    return urljoin(settings.PORTAL_URL.rstrip("/") + "/", path.lstrip("/"))


# --- E-mail ------------------------------------------------------------------------------------


def send_email(recipient_id, event_key, title, body="", url="") -> bool:
    """Send one notification e-mail (the ``deliver_email`` task calls this). Returns False, sending
    nothing, when the user has gone, was deactivated, has no address, or turned e-mail off for the
    event since it was queued; SMTP errors propagate (the task retries them)."""
    user = get_user_model()._default_manager.filter(pk=recipient_id, is_active=True).first()
    if user is None or not user.email:
        return False
    event = _events.get(event_key)
    if event is not None and NotificationChannel.EMAIL not in channels_for([user], event)[user.pk]:
        return False
    context = {
        "user": user,
        "event": event,
        "event_key": event_key,
        "title": title,
        "body": body,
        "url": absolute_url(url),
        "preferences_url": absolute_url(_preferences_path()),
        "portal_name": settings.PORTAL_NAME,
    }
    subject = " ".join(f"[{settings.PORTAL_NAME}] {title}".split())[:250]
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("itom/notifications/email.txt", context),
        to=[user.email],
        headers={"Auto-Submitted": "auto-generated", "X-ITOM-Event": event_key},
    )
    message.attach_alternative(render_to_string("itom/notifications/email.html", context), "text/html")
    message.send()
    return True


def _preferences_path():
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("itom:notification_preferences")
    except NoReverseMatch:
        return ""


def _send_email_task(*args):
    from itom.tasks import deliver_email

    deliver_email.delay(*args)


def _on_commit(func, *args):
    """Run ``func(*args)`` once the current transaction commits (at once outside one); an error
    (a broker that is down) is logged, never raised into the committed request."""
    transaction.on_commit(lambda: func(*args), robust=True)
