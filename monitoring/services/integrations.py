"""Inbound integrations: senders of alerts (Prometheus Alertmanager), events or metrics, each with a
token of its own and a rate limit.

Tokens look like ``itomi_<prefix>_<secret>``: the prefix finds the row, the whole token's SHA-256
(hex) is what is stored, so a token is shown once — when the integration is made and when it is
rotated — and never again. ``authenticate`` answers the enabled integration a token belongs to.

Rate limit: requests and items (alerts, events or samples) per minute per integration, counted in
``IngestWindow`` rows (one per integration and minute) by one conditional ``UPDATE … SET requests =
requests + 1, items = items + n WHERE requests + 1 <= limit AND items + n <= limit``, so two
processes can't both take the last unit. The minute's row is inserted by whoever comes first (a
concurrent insert loses on the unique constraint and updates instead). A request over either limit
counts nothing and raises ``RateLimited`` (the API answers 429 with ``Retry-After``).
"""

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from itom.locks import lock_row
from itom.roles import is_manager
from itom.validation import refuse_unknown_fields
from monitoring.models import IngestWindow, Integration

KEY_LABEL = "itomi"
FIELDS = ("name", "kind", "enabled", "requests_per_minute", "items_per_minute", "default_severity")
# How often ``last_used_at`` is written for one integration (seconds), and how long the minute
# counters are kept (they matter for the current minute only).
LAST_USED_RESOLUTION = 60
WINDOW_KEEP = timedelta(hours=1)


class RateLimited(Exception):
    """Over ``limit`` (``"requests_per_minute"`` or ``"items_per_minute"``), which allows
    ``allowed``; try again in ``retry_after`` seconds."""

    def __init__(self, limit, allowed, retry_after):
        self.limit, self.allowed, self.retry_after = limit, allowed, retry_after
        what = "requests" if limit == "requests_per_minute" else "items"
        super().__init__(f"Rate limit exceeded: at most {allowed} {what} per minute for this integration.")


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token():
    prefix = secrets.token_hex(4)
    return prefix, f"{KEY_LABEL}_{prefix}_{secrets.token_urlsafe(32)}"


def looks_like_token(value):
    """Whether ``value`` has the shape of an integration token (not of a user's API token)."""
    return value.startswith(f"{KEY_LABEL}_")


def _require_manager(user, what):
    if user is not None and not is_manager(user):
        raise PermissionDenied(f"Only managers may {what}.")


def _save(integration):
    integration.full_clean(exclude=["token_prefix", "token_hash"])
    integration.save()
    return integration


@transaction.atomic
def create_integration(*, user, **fields):
    """``(integration, token)``: a new integration and its token (shown this once)."""
    _require_manager(user, "add integrations")
    refuse_unknown_fields(fields, FIELDS, "an integration")
    prefix, token = _new_token()
    integration = Integration(**fields, token_prefix=prefix, token_hash=hash_token(token), created_by=user)
    return _save(integration), token


@transaction.atomic
def update_integration(integration, *, user, **fields):
    _require_manager(user, "change integrations")
    refuse_unknown_fields(fields, FIELDS, "an integration")
    integration = lock_row(Integration, integration, "integration")
    for name, value in fields.items():
        setattr(integration, name, value)
    return _save(integration)


@transaction.atomic
def delete_integration(integration, *, user):
    """Delete it; its alerts stay (without the integration)."""
    _require_manager(user, "delete integrations")
    lock_row(Integration, integration, "integration").delete()


@transaction.atomic
def rotate_token(integration, *, user):
    """``(integration, token)``: a new token for it; the old one stops working at once."""
    _require_manager(user, "rotate integration tokens")
    integration = lock_row(Integration, integration, "integration")
    integration.token_prefix, token = _new_token()
    integration.token_hash = hash_token(token)
    integration.save(update_fields=["token_prefix", "token_hash", "updated_at"])
    return integration, token


def authenticate(token):
    """The enabled integration ``token`` belongs to, or None. Records its use at most once a
    minute (a plain UPDATE: bookkeeping, not an audited change)."""
    parts = (token or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_LABEL or not parts[1]:
        return None
    candidate = Integration.objects.filter(token_prefix=parts[1], enabled=True).first()
    if candidate is None or not hmac.compare_digest(candidate.token_hash, hash_token(token.strip())):
        return None
    now = timezone.now()
    if candidate.last_used_at is None or (now - candidate.last_used_at).total_seconds() > LAST_USED_RESOLUTION:
        Integration.objects.filter(pk=candidate.pk).update(last_used_at=now)
        candidate.last_used_at = now
    return candidate


# --- rate limit --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What an integration has used in the current minute."""

    requests: int
    items: int


def _retry_after(now, minute):
    return max(1, math.ceil((minute + timedelta(minutes=1) - now).total_seconds()))


def consume(integration, items, now=None):
    """Count one request of ``items`` items against the integration's limits for this minute, or
    raise ``RateLimited`` counting nothing. Returns the minute's ``Usage`` after it. Runs in its
    own statements (not rolled back with the request: what was let through was used)."""
    now = now or timezone.now()
    minute = now.replace(second=0, microsecond=0)
    rpm, ipm = integration.requests_per_minute, integration.items_per_minute
    items = max(0, int(items))
    if items > ipm:
        raise RateLimited("items_per_minute", ipm, _retry_after(now, minute))
    window = IngestWindow.objects.filter(integration_id=integration.pk, minute=minute)
    for _ in range(10):
        taken = window.filter(requests__lte=rpm - 1, items__lte=ipm - items).update(
            requests=F("requests") + 1, items=F("items") + items
        )
        if taken:
            row = window.values("requests", "items").first()
            return Usage(row["requests"], row["items"]) if row else Usage(1, items)
        current = window.values("requests", "items").first()
        if current is None:
            try:
                with transaction.atomic():
                    IngestWindow.objects.create(integration_id=integration.pk, minute=minute, requests=1, items=items)
            except IntegrityError:
                continue  # another request made the minute's row first: count on it
            # The first request of the minute also clears the integration's old counters.
            IngestWindow.objects.filter(integration_id=integration.pk, minute__lt=minute - WINDOW_KEEP).delete()
            return Usage(1, items)
        if current["requests"] + 1 > rpm:
            raise RateLimited("requests_per_minute", rpm, _retry_after(now, minute))
        if current["items"] + items > ipm:
            raise RateLimited("items_per_minute", ipm, _retry_after(now, minute))
        # The row was made between our UPDATE and our read: count again.
    raise RateLimited("requests_per_minute", rpm, _retry_after(now, minute))


def usage(integration, now=None):
    """The integration's ``Usage`` in the current minute."""
    now = now or timezone.now()
    row = (
        IngestWindow.objects.filter(integration_id=integration.pk, minute=now.replace(second=0, microsecond=0))
        .values("requests", "items")
        .first()
    )
    return Usage(row["requests"], row["items"]) if row else Usage(0, 0)
