"""The poller's engine (DESIGN.md §1): claim due checks, run them in batches, record the results.

- ``claim_due`` claims the checks due within the next dispatch period in ONE statement (an UPDATE
  of a SKIP LOCKED sub-select on PostgreSQL), so two dispatchers never claim the same check. A
  claim is a lease: ``claimed_until`` = the check's due time (or now) + its timeout +
  ``MONITORING_RECLAIM_SECONDS``. A check whose batch died is claimed again once it has expired.
- ``dispatch`` groups the claims by zone, cuts them into batches of ``MONITORING_BATCH_SIZE`` and
  sends each to ``poll.<zone>`` after commit, with the leases it holds.
- ``run_batch`` re-reads the checks still claimed by those leases (a check deleted, disabled or
  claimed again since is left out: a stale batch — one redelivered after its leases were taken
  over — runs and stores nothing), runs the polled ones with ``probes.run_many`` (each starts at
  its due time: start times spread over the dispatch period), evaluates heartbeats for silence
  without any network, then ``record``\\s.
- ``record`` writes a batch in one transaction with a bounded number of queries whatever its
  size: the checks locked in one SELECT (and the lease checked again), the results in one
  INSERT, the state machine (``state.step``) per check, the checks in one UPDATE; then the alert
  service hears about hard problems and recoveries. It never fails on what a probe returned.
"""

import logging
import math
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from monitoring.choices import STATUS_CODES, AlertStatus, CheckKind, ResultStatus
from monitoring.models import Alert, Check, CheckResult, Zone
from monitoring.services import state as states

logger = logging.getLogger(__name__)

CLAIM_LIMIT = 5000  # checks one claim statement takes at most (a dispatch repeats it)
MESSAGE_MAX = 500
LATENCY_MAX = 10**9  # ms; anything larger (or negative, or not a number) is no latency
# The runtime fields ``record`` writes.
RUNTIME_FIELDS = (
    *states.Step.FIELDS,
    "last_checked_at",
    "last_status",
    "last_message",
    "last_latency_ms",
    "next_due_at",
    "claimed_until",
)


class Claim(tuple):
    """A claimed check: unpacks as ``(check_id, zone_name, due_at)``; ``lease`` is the
    ``claimed_until`` the claim set (what its batch must still find to store anything)."""

    def __new__(cls, check_id, zone, due_at, lease):
        claim = super().__new__(cls, (check_id, zone, due_at))
        claim.lease = lease
        return claim

    check_id = property(lambda self: self[0])
    zone = property(lambda self: self[1])
    due_at = property(lambda self: self[2])


def _aware(value):
    """A datetime from what a raw cursor returned (SQLite returns text)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or timezone.is_aware(value) else value.replace(tzinfo=UTC)
    parsed = parse_datetime(str(value))
    return parsed if parsed is None or timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


# --- Claiming and dispatching ---------------------------------------------------------------

_CLAIM_POSTGRESQL = """
UPDATE {table} SET claimed_until = GREATEST(next_due_at, %s) + make_interval(secs => timeout + %s)
WHERE id IN (
    SELECT id FROM {table}
    WHERE enabled AND next_due_at <= %s AND (claimed_until IS NULL OR claimed_until < %s)
    ORDER BY next_due_at LIMIT %s
    FOR UPDATE SKIP LOCKED
)
RETURNING id, zone_id, next_due_at, claimed_until
"""

# SQLite has one writer at a time (no SKIP LOCKED needed) and stores datetimes as UTC text.
_CLAIM_SQLITE = """
UPDATE {table} SET claimed_until = strftime('%%Y-%%m-%%d %%H:%%M:%%f', max(next_due_at, %s),
    '+' || (timeout + %s) || ' seconds')
WHERE id IN (
    SELECT id FROM {table}
    WHERE enabled AND next_due_at <= %s AND (claimed_until IS NULL OR claimed_until < %s)
    ORDER BY next_due_at LIMIT %s
)
RETURNING id, zone_id, next_due_at, claimed_until
"""


def claim_due(now=None, limit=CLAIM_LIMIT):
    """Claim up to ``limit`` enabled checks due by ``now + MONITORING_DISPATCH_SECONDS`` whose
    lease is free (never claimed, or expired), in one statement; returns their ``Claim``\\s
    (``(check_id, zone_name, due_at)``), the soonest due first."""
    now = now or timezone.now()
    horizon = now + timedelta(seconds=settings.MONITORING_DISPATCH_SECONDS)
    sql = _CLAIM_POSTGRESQL if connection.vendor == "postgresql" else _CLAIM_SQLITE
    adapt = connection.ops.adapt_datetimefield_value
    params = [adapt(now), float(settings.MONITORING_RECLAIM_SECONDS), adapt(horizon), adapt(now), int(limit)]
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=connection.ops.quote_name(Check._meta.db_table)), params)
        rows = cursor.fetchall()
    if not rows:
        return []
    zones = dict(Zone.objects.filter(pk__in={row[1] for row in rows}).values_list("pk", "name"))
    claims = [Claim(pk, zones.get(zone_id, "default"), _aware(due), _aware(lease)) for pk, zone_id, due, lease in rows]
    claims.sort(key=lambda claim: (claim.due_at, claim.check_id))
    return claims


def batches(claims, size=None):
    """``[(zone_name, [claim, …]), …]``: the claims by zone, soonest due first, in batches of at
    most ``size`` (``MONITORING_BATCH_SIZE``)."""
    size = max(1, int(size or settings.MONITORING_BATCH_SIZE))
    by_zone = defaultdict(list)
    for claim in sorted(claims, key=lambda claim: (claim.due_at, claim.check_id)):
        by_zone[claim.zone].append(claim)
    return [
        (zone, zone_claims[start : start + size])
        for zone, zone_claims in sorted(by_zone.items())
        for start in range(0, len(zone_claims), size)
    ]


def dispatch(now=None):
    """Claim the due checks and send their batches to their zones' queues (``poll.<zone>``)
    after commit; returns how many checks were claimed."""
    from monitoring import tasks

    now = now or timezone.now()
    claims = []
    while True:
        claimed = claim_due(now)
        claims.extend(claimed)
        if len(claimed) < CLAIM_LIMIT:
            break
    if not claims:
        return 0

    def send():
        for zone, batch in batches(claims):
            tasks.run_check_batch.apply_async(
                args=[[claim.check_id for claim in batch], [claim.lease.isoformat() for claim in batch]],
                queue=f"poll.{zone}",
            )

    transaction.on_commit(send)
    return len(claims)


# --- Running a batch ------------------------------------------------------------------------


def _pk(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _leases(check_ids, leases):
    """``{check_id: lease}`` from a batch's arguments (``leases`` ISO strings, same order)."""
    if leases is None:
        return None
    found = {}
    for pk, lease in zip(check_ids, leases, strict=False):
        try:
            when = _aware(lease) if lease else None
        except ValueError:  # not a date: that check is not this batch's to record
            when = None
        if when is not None and _pk(pk) is not None:
            found[_pk(pk)] = when
    return found


def claimed_checks(check_ids, leases=None):
    """The checks of ``check_ids`` that are enabled and still claimed — by exactly the lease the
    batch was given, when it was given one."""
    ids = sorted({_pk(pk) for pk in check_ids} - {None})
    wanted = _leases(check_ids, leases)
    checks = Check.objects.filter(pk__in=ids, enabled=True, claimed_until__isnull=False).order_by("next_due_at", "pk")
    if wanted is None:
        return list(checks)
    return [check for check in checks if wanted.get(check.pk) == check.claimed_until]


def heartbeat_period(check):
    """A heartbeat check's period + grace (a ``timedelta``)."""
    params = check.params or {}
    return timedelta(seconds=_number(params.get("period"), 0) + _number(params.get("grace"), 0))


def heartbeat_deadline(check):
    """When a heartbeat check is overdue: its last ping (or creation) + period + grace."""
    return (check.last_ping_at or check.created_at or timezone.now()) + heartbeat_period(check)


def heartbeat_silence(check, now):
    """The outcome of a heartbeat check's silence at ``now``: ``down`` when it is overdue, else
    None (nothing to record: its next evaluation is at the deadline)."""
    from monitoring.probes import Outcome

    if heartbeat_deadline(check) >= now:
        return None
    if check.last_start_at and (check.last_ping_at is None or check.last_start_at > check.last_ping_at):
        message = f"Started at {_when(check.last_start_at)} and not finished."
    elif check.last_ping_at:
        message = f"No ping since {_when(check.last_ping_at)}."
    else:
        message = f"No ping since the check was created at {_when(check.created_at or now)}."
    return Outcome(ResultStatus.DOWN, None, message, now.timestamp())


def _when(moment):
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")


def _probe(specs):
    from monitoring import probes

    if not specs:
        return []
    try:
        outcomes = list(probes.run_sync(probes.run_many(specs, concurrency=settings.MONITORING_CONCURRENCY)))
        if len(outcomes) != len(specs):
            raise RuntimeError(f"{len(outcomes)} outcomes for {len(specs)} checks")
        return outcomes
    except Exception as exc:  # the batch's checks get an unknown result: none is lost
        logger.exception("monitoring batch of %d checks failed to run", len(specs))
        started = time.time()
        return [probes.Outcome(ResultStatus.UNKNOWN, None, f"The batch failed to run: {exc}", started) for _ in specs]


def run_batch(check_ids, leases=None):
    """Run the claimed checks ``check_ids`` (leases: the ``claimed_until`` of each, as its
    dispatch sent them) and record their results. Returns the batch's figures."""
    from monitoring.probes import CheckSpec

    check_ids = list(check_ids or [])
    checks = claimed_checks(check_ids, leases)
    now = timezone.now()
    pairs, specs, polled = [], [], []
    for check in checks:
        if check.kind == CheckKind.HEARTBEAT:
            pairs.append((check.pk, heartbeat_silence(check, now)))
        else:
            specs.append(CheckSpec.of(check))
            polled.append(check.pk)
    pairs.extend(zip(polled, _probe(specs), strict=True))
    leased = {check.pk: check.claimed_until for check in checks}
    figures = record(pairs, leases=leased)
    figures["claimed"] = len(check_ids)
    figures["skipped"] = len(check_ids) - figures["recorded"]
    return figures


# --- Recording ------------------------------------------------------------------------------


def _number(value, default=None):
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return number if math.isfinite(number) else default


def _text(value):
    """Remote text as the database takes it: a string, no NUL, valid UTF-8, at most 500 chars."""
    try:
        text = value if isinstance(value, str) else ("" if value is None else str(value))
    except Exception:  # a message that cannot even print itself
        text = "(unprintable message)"
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def clean_outcome(outcome, now):
    """``(status, latency_ms, message, started)`` from whatever a probe returned: an unknown
    status is ``unknown``, a latency that is no number is None, a start time out of reason is
    now. Never raises."""
    status = str(getattr(outcome, "status", "") or "")
    message = _text(getattr(outcome, "message", ""))
    if status not in STATUS_CODES:
        message = _text(f"The check returned no valid status ({status[:40]!r}). {message}".strip())
        status = ResultStatus.UNKNOWN
    latency = _number(getattr(outcome, "latency_ms", None))
    if latency is not None and not 0 <= latency <= LATENCY_MAX:
        latency = None
    started_at = _number(getattr(outcome, "started_at", None))
    started = now
    if started_at is not None and abs(started_at - now.timestamp()) < 86400:
        started = datetime.fromtimestamp(started_at, tz=UTC)
    return str(status), latency, message, started


def record(pairs, *, leases=None, now=None):
    """Record ``pairs`` (``(check or check_id, outcome)``; outcome None = a heartbeat that is not
    overdue: only re-armed) in one transaction. ``leases``: ``{check_id: claimed_until}`` the
    batch holds — a check whose lease changed since (claimed again, released, disabled) is left
    as it is. Returns ``{"recorded", "results", "problems", "recovered"}``."""
    now = now or timezone.now()
    outcomes = {}
    for check, outcome in pairs:
        pk = getattr(check, "pk", check)
        try:
            outcomes[int(pk)] = outcome
        except (TypeError, ValueError):
            continue
    with transaction.atomic():
        locked = Check.objects.select_for_update().filter(pk__in=sorted(outcomes)).order_by("pk")
        checks = [
            check
            for check in locked
            if check.enabled and (leases is None or leases.get(check.pk, check.claimed_until) == check.claimed_until)
        ]
        return apply(checks, outcomes, now=now)


def next_run(check, step, due, started):
    """When ``check`` runs next: one retry interval after this run while a problem is soft;
    otherwise one interval after its due time, keeping its phase — so checks a hiccup bunched
    together spread out again — unless that is already past (then one interval after it ran)."""
    if step.soft_problem:
        return started + timedelta(seconds=max(1, check.retry_interval or 1))
    interval = timedelta(seconds=max(1, check.interval or 1))
    if due is not None and due + interval > started:
        return due + interval
    return started + interval


def apply(checks, outcomes, *, now, next_due=None, fields=()):
    """Write the results of ``checks`` (locked by the caller, in its transaction): ``outcomes``
    ``{check_id: outcome | None}``; ``next_due`` ``{check_id: when}`` overrides the next run
    (a heartbeat ping); ``fields``: more fields of the checks to write. Steps the state machine,
    writes results and checks in bulk, then tells the alert service."""
    from monitoring import selectors

    cleaned = {}
    for check in checks:
        outcome = outcomes.get(check.pk)
        if outcome is not None:
            cleaned[check.pk] = clean_outcome(outcome, now)
    maintenance = selectors.maintenance_for({check.ci_id for check in checks}, at=now) if cleaned else {}
    problem_cis = {check.ci_id for check in checks if check.pk in cleaned and cleaned[check.pk][0] != ResultStatus.UP}
    parents = selectors.down_parents(problem_cis) if problem_cis else {}

    results, steps = [], []
    for check in checks:
        if check.pk not in cleaned:  # a heartbeat that is not overdue: re-armed only
            rearm = heartbeat_deadline(check) if check.kind == CheckKind.HEARTBEAT else now
            check.next_due_at = (next_due or {}).get(check.pk) or max(rearm, now)
            check.claimed_until = None
            continue
        status, latency, message, started = cleaned[check.pk]
        due = check.next_due_at
        step = states.step(
            check,
            status,
            at=started,
            max_attempts=check.max_attempts,
            recovery_threshold=check.recovery_threshold,
            maintenance=check.ci_id in maintenance,
            parent_down=check.ci_id in parents,
        )
        step.apply_to(check)
        check.last_checked_at = started
        check.last_status = status
        check.last_message = message
        check.last_latency_ms = latency
        check.next_due_at = (next_due or {}).get(check.pk) or next_run(check, step, due, started)
        check.claimed_until = None
        lag = (started - due).total_seconds() * 1000 if due is not None and check.pk not in (next_due or {}) else None
        results.append(
            CheckResult(
                monitor_id=check.pk,
                at=started,
                status=status,
                latency_ms=latency,
                message=message,
                lag_ms=round(lag, 3) if lag is not None else None,
                state=step.state,
            )
        )
        steps.append((check, step))

    if results:
        CheckResult.objects.bulk_create(results)
    if checks:
        bulk_update(checks, [*RUNTIME_FIELDS, *fields])
    problems, recovered = _tell_alerts(steps, maintenance, parents)
    return {"recorded": len(checks), "results": len(results), "problems": problems, "recovered": recovered}


def bulk_update(checks, fields):
    """``Check.objects.bulk_update(checks, fields)`` in one statement. On PostgreSQL an ``UPDATE
    … FROM (VALUES …)``: Django's own builds a CASE per field and row, which costs more CPU than
    the rest of a batch together."""
    if connection.vendor != "postgresql":
        Check.objects.bulk_update(checks, fields)
        return
    model_fields = [Check._meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    columns = [quote(field.column) for field in model_fields]
    sets = ", ".join(
        f"{column} = v.{column}::{field.db_type(connection)}"
        for column, field in zip(columns, model_fields, strict=True)
    )
    row = "(" + ", ".join(["%s"] * (len(model_fields) + 1)) + ")"
    params = []
    for check in checks:
        params.append(check.pk)
        params.extend(field.get_db_prep_save(getattr(check, field.attname), connection) for field in model_fields)
    sql = (
        f"UPDATE {quote(Check._meta.db_table)} AS c SET {sets} "  # noqa: S608 — names from the model
        f"FROM (VALUES {', '.join([row] * len(checks))}) AS v (id, {', '.join(columns)}) WHERE c.id = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _tell_alerts(steps, maintenance, parents):
    """Tell the alert service about the hard problems and recoveries of ``steps``; each call in a
    savepoint of its own, so one failing call loses no result. A recovered check resolves its
    firing alert (found in one query), whether or not the step itself saw the recovery edge."""
    from monitoring.services import alerts

    healthy = [check.pk for check, step in steps if step.recovered]
    firing = set()
    if healthy:
        firing = set(
            Alert.objects.filter(status=AlertStatus.FIRING, monitor_id__in=healthy).values_list("monitor_id", flat=True)
        )
    problems = recovered = 0
    for check, step in steps:
        try:
            if step.alert == "problem":
                with transaction.atomic():
                    alerts.check_problem(
                        check,
                        status=check.last_status,
                        message=check.last_message,
                        at=check.last_checked_at,
                        maintenance=maintenance.get(check.ci_id),
                        parent_alert_id=parents.get(check.ci_id),
                    )
                problems += 1
            elif step.recovered and check.pk in firing:
                with transaction.atomic():
                    alerts.check_recovered(check, at=check.last_checked_at)
                recovered += 1
        except Exception:
            logger.exception("monitoring: the alert service failed for check %s", check.pk)
    return problems, recovered
