"""Heartbeat checks: a job pings the portal; its silence is the problem.

``ping(uuid, signal)`` takes a ping of ``/ping/<uuid>`` (success), ``/ping/<uuid>/start`` or
``/ping/<uuid>/fail``. A success or a fail is a result like any other: it goes through the
engine's ``apply`` — the same state machine and alert calls as a polled batch — and re-arms the
check: its next evaluation is ``period + grace`` from now. A start only notes the time, so the
next success reports how long the job ran (as the result's latency). The dispatcher claims an
overdue heartbeat like any due check and ``engine.run_batch`` records a ``down`` result ("no ping
since …") without any network.
"""

import uuid as uuidlib

from django.db import transaction
from django.utils import timezone

from monitoring.choices import CheckKind, ResultStatus
from monitoring.models import Check

SIGNALS = ("success", "start", "fail")
BODY_MAX = 10 * 1024  # bytes of a ping's body kept (the first 500 characters become its message)


def _key(value):
    """``value`` as a UUID, or ``Check.DoesNotExist`` (a malformed key names no check)."""
    if isinstance(value, uuidlib.UUID):
        return value
    try:
        return uuidlib.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        raise Check.DoesNotExist("No heartbeat check with this uuid.") from None


def ping(uuid, signal="success", *, body=""):
    """Take a ping of the heartbeat check ``uuid``; returns the check. Unknown, malformed,
    disabled or not a heartbeat: ``Check.DoesNotExist`` (and nothing written)."""
    from monitoring.probes import Outcome
    from monitoring.services import engine

    if signal not in SIGNALS:
        raise ValueError(f"signal must be one of {', '.join(SIGNALS)}")
    key = _key(uuid)
    if isinstance(body, bytes):
        body = body[:BODY_MAX].decode("utf-8", errors="replace")
    body = (body or "")[:BODY_MAX]
    with transaction.atomic():
        check = Check.objects.select_for_update().get(uuid=key, kind=CheckKind.HEARTBEAT, enabled=True)
        now = timezone.now()
        if signal == "start":
            check.last_start_at = now
            check.save(update_fields=["last_start_at"])
            return check
        latency = None
        if signal == "success" and check.last_start_at is not None and check.last_start_at <= now:
            latency = (now - check.last_start_at).total_seconds() * 1000
        if signal == "fail":
            status, message = ResultStatus.DOWN, " ".join(body.split()) or "The job reported a failure."
        else:
            status, message = ResultStatus.UP, " ".join(body.split()) or "Ping received."
        check.last_ping_at = now
        check.last_start_at = None
        rearm = now + engine.heartbeat_period(check)
        engine.apply(
            [check],
            {check.pk: Outcome(status, latency, message, now.timestamp())},
            now=now,
            next_due={check.pk: rearm},
            fields=("last_ping_at", "last_start_at"),
        )
        return check
