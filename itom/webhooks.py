"""Outgoing webhooks: what is sent, how it is signed, how it is sent and retried, the delivery log.

Two kinds of endpoint (``WebhookEndpoint.kind``):

- ``json``: the event as a JSON object (``build_payload``), signed: the header
  ``X-ITOM-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the endpoint's secret>``
  (GitHub's scheme; check it with ``verify``), plus ``X-ITOM-Event`` and ``X-ITOM-Delivery``
  (the delivery's id: the same on every attempt, so a receiver can drop repeats);
- ``chat``: a Slack-compatible message ``{"text": "…"}`` (Slack, Mattermost, Rocket.Chat
  incoming webhooks).

Every event sent to an endpoint is a ``WebhookDelivery`` row (the log managers read). The
``deliver_webhook`` task calls ``attempt``: it claims the row with one conditional UPDATE (so two
workers never send the same attempt), POSTs the body, and records the outcome. A 2xx answer is
success; anything else (another status, a timeout, a refused connection) is retried after
``backoff(n)`` seconds — ``WEBHOOK_BACKOFF_SECONDS`` doubled after each attempt, at most
``WEBHOOK_BACKOFF_MAX_SECONDS`` — until ``WEBHOOK_MAX_ATTEMPTS`` attempts have failed, and then the
delivery is ``failed``. Redirects are not followed. ``requeue_stalled`` (a beat task) hands back to
Celery the deliveries a dead worker or a broker outage left behind.

URLs must be http or https, and cloud metadata addresses (169.254.0.0/16, fd00:ec2::254) are
refused unless ``WEBHOOK_ALLOW_METADATA_ADDRESSES`` is on: checked when an endpoint is saved, and
again when sending, against every address the host name resolves to. The request then goes to the
address that was checked (the name is kept for the Host header and TLS), so a DNS answer that
changes between the check and the connection cannot redirect it.
"""

import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from itom import net
from itom.audit import jsonable
from itom.choices import DeliveryState, WebhookKind
from itom.models import WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-ITOM-Signature-256"
EVENT_HEADER = "X-ITOM-Event"
DELIVERY_HEADER = "X-ITOM-Delivery"
USER_AGENT = "ITOM-Portal-Webhooks/1.0"
PING_EVENT = "webhook.ping"

OPEN_STATES = (DeliveryState.PENDING, DeliveryState.RETRYING)
RESPONSE_KEEP = 2000  # characters of the receiver's answer kept in the log
ERROR_KEEP = 1000
CHAT_BODY_KEEP = 1500
# A claimed attempt owns its delivery until the request's timeout plus this margin has passed.
LEASE_MARGIN = timedelta(seconds=60)
# A task that arrives this early (clocks of two machines disagree) may still claim its attempt.
EARLY_TOLERANCE = timedelta(seconds=5)
# An open delivery whose attempt is this overdue was lost (dead worker, broker down): requeue it.
STALL_AFTER = timedelta(minutes=5)
REQUEUE_BATCH = 500

METADATA_NETWORKS = net.METADATA_NETWORKS


# --- Signing -------------------------------------------------------------------------------------


def sign(secret, body: bytes) -> str:
    """The ``X-ITOM-Signature-256`` value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret, body: bytes, signature) -> bool:
    """Whether ``signature`` (the header's value) signs ``body`` with ``secret``, in constant time."""
    return bool(secret) and hmac.compare_digest(sign(secret, body), signature or "")


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


# --- Where webhooks may go ---------------------------------------------------------------------


class URLRefused(Exception):
    """The URL may not be called (scheme, or an address the portal refuses to reach)."""


def metadata_refusal(address):
    """Why ``address`` (an IP) may not be called, or None."""
    if settings.WEBHOOK_ALLOW_METADATA_ADDRESSES:
        return None
    ip = net.metadata_address(address)
    if ip is not None:
        return (
            f"{ip} is a cloud metadata address, which webhooks may not call "
            "(an operator may allow it with WEBHOOK_ALLOW_METADATA_ADDRESSES)."
        )
    return None


def _parse(url):
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise URLRefused(f"Not a valid URL: {exc}") from None
    if parsed.scheme not in ("http", "https"):
        raise URLRefused("Use an http:// or https:// URL.")
    if not parsed.host:
        raise URLRefused("The URL needs a host name.")
    return parsed


def _literal_ip(host):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve(url):
    """``(parsed URL, [addresses])`` for ``url``, every address checked. Raises ``URLRefused``
    for a URL that may not be called, ``OSError`` when the name does not resolve (for now)."""
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    literal = _literal_ip(parsed.host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(info[4][0].split("%", 1)[0] for info in infos))
    for address in addresses:
        reason = metadata_refusal(address)
        if reason:
            raise URLRefused(reason)
    return parsed, addresses


def validate_url(url):
    """The check made when an endpoint is saved; raises ``ValidationError`` saying why. A name
    that does not resolve from here is accepted (it may resolve where and when it is sent: the
    check is made again then)."""
    try:
        resolve(url)
    except URLRefused as exc:
        raise ValidationError(str(exc), code="refused") from None
    except (OSError, UnicodeError):
        pass


def validate_events(keys):
    """The event keys an endpoint subscribes to, checked against the registered events:
    a sorted list without repeats; empty means every event."""
    from itom import notifications

    if keys in (None, ""):
        return []
    if not isinstance(keys, (list, tuple)) or not all(isinstance(key, str) for key in keys):
        raise ValidationError("Expected a list of event names.", code="invalid")
    known = {event.key for event in notifications.events()}
    unknown = sorted(set(keys) - known)
    if unknown:
        raise ValidationError(
            f"Unknown event(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}.", code="invalid"
        )
    return sorted(set(keys))


# --- Endpoints ------------------------------------------------------------------------------------


def save_endpoint(endpoint) -> WebhookEndpoint:
    """Validate and save ``endpoint`` (forms, API and admin all come here). A JSON endpoint saved
    without a secret gets a generated one (read it back from ``endpoint.secret``)."""
    errors = {}
    try:
        endpoint.events = validate_events(endpoint.events)
    except ValidationError as exc:
        errors["events"] = exc.messages
    try:
        validate_url(endpoint.url)
    except ValidationError as exc:
        errors["url"] = exc.messages
    if endpoint.kind == WebhookKind.JSON and not endpoint.secret:
        endpoint.secret = generate_secret()
    try:
        endpoint.full_clean()
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(m for m in messages if m not in errors.get(field, []))
    if errors:
        raise ValidationError(errors)
    endpoint.save()
    return endpoint


def subscribed(endpoint, event_key) -> bool:
    return not endpoint.events or event_key in endpoint.events


# --- What is sent ---------------------------------------------------------------------------------


def describe(obj):
    """The object an event is about, as the payload carries it."""
    from itom import notifications

    if obj is None:
        return None
    opts = getattr(obj, "_meta", None)
    return {
        "type": f"{opts.app_label}.{opts.model_name}" if opts else type(obj).__name__,
        "id": jsonable(getattr(obj, "pk", None)),
        "number": getattr(obj, "number", None) or None,
        "display": str(obj),
        "url": notifications.absolute_url(notifications.object_url(obj)) or None,
    }


def describe_actor(actor):
    if actor is None or not getattr(actor, "is_authenticated", True):
        return None
    if isinstance(actor, int):
        return {"id": actor, "username": None, "name": None}
    return {
        "id": actor.pk,
        "username": actor.get_username(),
        "name": actor.get_full_name() or actor.get_username(),
    }


def build_payload(event, obj, *, actor=None, title="", body="", url="", data=None):
    from itom import notifications

    return {
        "event": event.key,
        "label": event.label,
        "occurred_at": timezone.now().isoformat(),
        "title": title,
        "body": body,
        "url": notifications.absolute_url(url) or None,
        "object": describe(obj),
        "actor": describe_actor(actor),
        "data": jsonable(data) if data is not None else {},
        "portal": settings.PORTAL_NAME,
    }


def ping_payload(endpoint, user=None):
    from itom import notifications

    return {
        "event": PING_EVENT,
        "label": "Test delivery",
        "occurred_at": timezone.now().isoformat(),
        "title": f"Test delivery to “{endpoint.name}” from {settings.PORTAL_NAME}",
        "body": "If you can read this, the webhook works.",
        "url": notifications.absolute_url(_endpoint_path(endpoint)) or None,
        "object": {"type": "itom.webhookendpoint", "id": endpoint.pk, "number": None, "display": endpoint.name},
        "actor": describe_actor(user),
        "data": {},
        "portal": settings.PORTAL_NAME,
    }


def _endpoint_path(endpoint):
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("itom:webhookendpoint_detail", args=[endpoint.pk])
    except NoReverseMatch:
        return ""


def _slack_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def chat_text(payload):
    """The chat message for a payload: the title in bold, the body (shortened) and the link."""
    title = payload.get("title") or payload.get("label") or payload.get("event", "")
    lines = [f"*{_slack_escape(title)}*"]
    body = (payload.get("body") or "").strip()
    if body:
        if len(body) > CHAT_BODY_KEEP:
            body = body[: CHAT_BODY_KEEP - 1] + "…"
        lines.append(_slack_escape(body))
    if payload.get("url"):
        lines.append(payload["url"])
    return "\n".join(lines)


def render_body(endpoint, payload) -> bytes:
    """The exact bytes POSTed (and signed) for ``payload`` to ``endpoint``."""
    document = {"text": chat_text(payload)} if endpoint.kind == WebhookKind.CHAT else payload
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def request_headers(endpoint, delivery, body):
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.pk),
    }
    if endpoint.secret:
        headers[SIGNATURE_HEADER] = sign(endpoint.secret, body)
    return headers


# --- Queueing -------------------------------------------------------------------------------------


def queue_event(event, obj, *, actor=None, title="", body="", url="", data=None):
    """A delivery for every active endpoint subscribed to ``event`` (called by ``notify``), each
    handed to Celery after the transaction commits. Returns the deliveries."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(active=True) if subscribed(e, event.key)]
    if not endpoints:
        return []
    payload = build_payload(event, obj, actor=actor, title=title, body=body, url=url, data=data)
    deliveries = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint=endpoint, event=event.key, payload=payload) for endpoint in endpoints]
    )
    for delivery in deliveries:
        enqueue(delivery.pk)
    return deliveries


def send_test(endpoint, user=None) -> WebhookDelivery:
    """Queue a ``webhook.ping`` delivery to ``endpoint`` (sent even when it is inactive)."""
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=PING_EVENT, payload=ping_payload(endpoint, user))
    enqueue(delivery.pk)
    return delivery


def redeliver(delivery) -> WebhookDelivery:
    """Queue a new delivery of the same event and payload to the same endpoint (the log keeps both)."""
    copy = WebhookDelivery.objects.create(endpoint=delivery.endpoint, event=delivery.event, payload=delivery.payload)
    enqueue(copy.pk)
    return copy


def enqueue(delivery_id, countdown=None, queue=None):
    """Hand the delivery to the ``deliver_webhook`` task once the transaction commits."""
    from itom.tasks import deliver_webhook

    options = {}
    if countdown:
        options["countdown"] = countdown
    if queue:
        options["queue"] = queue

    def send():
        deliver_webhook.apply_async((delivery_id,), **options)

    transaction.on_commit(send, robust=True)


# --- Sending and retrying -------------------------------------------------------------------------


def backoff(attempts) -> int:
    """Seconds to wait after the ``attempts``-th failed attempt: the base, doubled each time, capped."""
    return min(settings.WEBHOOK_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), settings.WEBHOOK_BACKOFF_MAX_SECONDS)


def send(endpoint, delivery):
    """POST the delivery to the endpoint once: ``(status, response text)``. Raises ``URLRefused``,
    or ``httpx.HTTPError`` / ``OSError`` when no answer came."""
    parsed, addresses = resolve(endpoint.url)
    body = render_body(endpoint, delivery.payload)
    headers = request_headers(endpoint, delivery, body)
    host = parsed.raw_host.decode("ascii")
    headers["Host"] = parsed.netloc.decode("ascii").rpartition("@")[2]
    target = parsed.copy_with(host=addresses[0])
    extensions = {"sni_hostname": host} if parsed.scheme == "https" else None
    with (
        httpx.Client(timeout=settings.WEBHOOK_TIMEOUT, follow_redirects=False, trust_env=False) as client,
        client.stream("POST", target, content=body, headers=headers, extensions=extensions) as response,
    ):
        kept = bytearray()
        for chunk in response.iter_bytes():
            kept.extend(chunk)
            if len(kept) >= RESPONSE_KEEP * 4:
                break
        text = bytes(kept).decode(response.encoding or "utf-8", errors="replace")[:RESPONSE_KEEP]
        return response.status_code, text


@dataclass(frozen=True)
class Attempt:
    """What one attempt did: the delivery's new state, and when to try again (seconds) if at all."""

    delivery_id: int
    attempts: int
    state: str
    response_status: int | None
    error: str
    retry_in: int | None


def attempt(delivery_id, now=None) -> Attempt | None:
    """Claim the delivery's next attempt, send it, record the outcome. None when there is nothing
    to do: the delivery is gone, finished, not due yet, or another worker holds the attempt."""
    fixed_now = now
    now = now or timezone.now()
    lease_until = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT) + LEASE_MARGIN
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id, state__in=OPEN_STATES)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + EARLY_TOLERANCE))
        .update(attempts=F("attempts") + 1, next_attempt_at=lease_until, updated_at=now)
    )
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:  # deleted with its endpoint while we claimed it
        return None
    endpoint = delivery.endpoint
    status, text, error, final = None, "", "", False
    if not endpoint.active and delivery.event != PING_EVENT:
        error, final = "The endpoint was deactivated before this delivery was sent.", True
    else:
        try:
            status, text = send(endpoint, delivery)
        except URLRefused as exc:
            error, final = f"Refused: {exc}", True
        except (httpx.HTTPError, OSError, UnicodeError) as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    finished = fixed_now or timezone.now()
    succeeded = status is not None and 200 <= status < 300
    if status is not None and not succeeded:
        error = f"The receiver answered HTTP {status}."
    retry_in = None
    if succeeded:
        state = DeliveryState.SUCCEEDED
    elif final or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        state = DeliveryState.FAILED
    else:
        state, retry_in = DeliveryState.RETRYING, backoff(delivery.attempts)
    WebhookDelivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts).update(
        state=state,
        response_status=status,
        response_body=text,
        error=error[:ERROR_KEEP],
        delivered_at=finished if succeeded else None,
        next_attempt_at=finished + timedelta(seconds=retry_in) if retry_in is not None else None,
        updated_at=finished,
    )
    log = logger.info if succeeded else logger.warning
    log(
        "webhook delivery %s (%s → %s) attempt %s: %s%s",
        delivery.pk,
        delivery.event,
        endpoint.name,
        delivery.attempts,
        state,
        f" ({error})" if error else "",
    )
    return Attempt(delivery.pk, delivery.attempts, state, status, error, retry_in)


def requeue_stalled(now=None, limit=REQUEUE_BATCH) -> int:
    """Hand back to Celery the open deliveries whose attempt is overdue by ``STALL_AFTER`` (their
    task was lost: a worker died mid-attempt, or the broker was down when they were queued).
    Rows are claimed with ``SKIP LOCKED`` and moved to now, so two beats never double them."""
    now = now or timezone.now()
    cutoff = now - STALL_AFTER
    overdue = WebhookDelivery.objects.filter(state__in=OPEN_STATES).filter(
        Q(next_attempt_at__lt=cutoff) | Q(next_attempt_at__isnull=True, created_at__lt=cutoff)
    )
    with transaction.atomic():
        ids = list(overdue.order_by("pk").select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=now, updated_at=now)
            for pk in ids:
                enqueue(pk)
    if ids:
        logger.warning("requeued %s stalled webhook deliveries", len(ids))
    return len(ids)
