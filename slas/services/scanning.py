"""The SLA scan (Celery beat, every minute): breaches marked in one statement, warnings claimed
set-based and only the claimed clocks' next threshold computed; ``slas.events`` sent after
commit (see ``slas.services``)."""

from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import F
from django.db.models.base import ModelState

from slas import events
from slas.businesstime import add_business_seconds, business_seconds
from slas.choices import ClockEventKind, ClockState
from slas.models import SLAClock, SLAClockEvent, SLAPolicy, default_warning_thresholds
from slas.selectors import schedule_for
from slas.services.clocks import _aware, _iso, _minutes, _send

# --- the scan ----------------------------------------------------------------------------------

# Every column, in the model's field order: the clocks the scan hands to receivers are whole.
_CLOCK_COLUMNS = tuple(f.column for f in SLAClock._meta.concrete_fields)


_ATTNAMES = tuple(f.attname for f in SLAClock._meta.concrete_fields)


def _clock_from_row(row, content_types=None):
    """An ``SLAClock`` from a row of ``_CLOCK_COLUMNS``, as a query would load it, with its content
    type from Django's cache. Built straight into the instance's ``__dict__`` (what
    ``Model.from_db`` ends up doing field by field, ten times slower): a scan that catches up on
    100,000 breaches builds 100,000 of them."""
    clock = SLAClock.__new__(SLAClock)
    clock.__dict__.update(zip(_ATTNAMES, row, strict=False))
    clock._state = ModelState()
    clock._state.adding = False
    clock._state.db = DEFAULT_DB_ALIAS
    content_type = None if content_types is None else content_types.get(clock.content_type_id)
    if content_type is None:
        content_type = ContentType.objects.get_for_id(clock.content_type_id)
        if content_types is not None:
            content_types[clock.content_type_id] = content_type
    clock._state.fields_cache["content_type"] = content_type
    return clock


def scan(now=None):
    """Mark warnings and breaches of running clocks as of ``now``; returns
    ``{"warned": n, "breached": m}``. Breaches: one UPDATE (their events written by the same
    statement on PostgreSQL). Warnings: the clocks whose next threshold has passed are claimed
    in one UPDATE, then the next threshold is computed for those clocks only. Rows another
    transaction holds locked are skipped (the next scan takes them). ``slas.events`` are sent
    after commit."""
    now = _aware(now)
    with transaction.atomic():
        if _set_based_sql():
            breached = _breach_postgresql(now)
            claimed = _claim_warnings_postgresql(now)
        else:
            breached = _breach_portable(now)
            claimed = _claim_warnings_portable(now)
        warned = _advance_warnings(claimed, now)
        if breached:
            transaction.on_commit(lambda: _send(events.sla_breached, breached))
        if warned:
            transaction.on_commit(lambda: _send(events.sla_warning, warned))
    return {"warned": len(warned), "breached": len(breached)}


def _set_based_sql():
    """PostgreSQL marks breaches and their events in one statement (data-modifying CTEs) and
    skips rows other transactions hold; other databases take the portable path."""
    return connection.vendor == "postgresql"


def _columns(prefix="c."):
    return ", ".join(f"{prefix}{name}" for name in _CLOCK_COLUMNS)


def _breach_postgresql(now):
    clock_table, event_table = SLAClock._meta.db_table, SLAClockEvent._meta.db_table
    sql = f"""
        WITH due AS (
            SELECT id FROM {clock_table}
            WHERE state = %(running)s AND breached_at IS NULL AND due_at < %(now)s
            FOR UPDATE SKIP LOCKED
        ), marked AS (
            UPDATE {clock_table} c
            SET breached_at = c.due_at, warning_at = NULL, warning_pct = NULL, updated_at = %(now)s
            FROM due WHERE c.id = due.id
            RETURNING {_columns()}
        ), logged AS (
            INSERT INTO {event_table} (clock_id, time, kind, reason, data)
            SELECT id, due_at, %(kind)s,
                   'Target of ' || (target_seconds / 60) || ' min passed',
                   jsonb_build_object('target_seconds', target_seconds, 'priority', priority)
            FROM marked
        )
        SELECT {_columns("")} FROM marked
    """  # noqa: S608 - table names from model metadata; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, {"running": ClockState.RUNNING, "now": now, "kind": ClockEventKind.BREACHED})
        content_types = {}
        return [_clock_from_row(row, content_types) for row in cursor.fetchall()]


def _claim_warnings_postgresql(now):
    """``[(clock, crossed_at, pct)]`` for the running clocks whose next threshold (``pct``, due at
    ``crossed_at``) has passed, locked for this transaction (``FOR UPDATE SKIP LOCKED``: rows
    another transaction holds are left to the next scan). ``_write_warnings`` stores the outcome
    with one UPDATE."""
    table = SLAClock._meta.db_table
    sql = f"""
        SELECT {_columns("")} FROM {table}
        WHERE state = %(running)s AND breached_at IS NULL AND warning_at <= %(now)s
        FOR UPDATE SKIP LOCKED
    """  # noqa: S608 - table names from model metadata; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, {"running": ClockState.RUNNING, "now": now})
        content_types = {}
        claimed = [_clock_from_row(row, content_types) for row in cursor.fetchall()]
    return [(clock, clock.warning_at, clock.warning_pct) for clock in claimed]


def _breach_portable(now):
    """The same as ``_breach_postgresql`` for databases without data-modifying CTEs (SQLite,
    where a writing transaction holds the whole database, so nothing else moves meanwhile)."""
    due = SLAClock.objects.filter(state=ClockState.RUNNING, breached_at__isnull=True, due_at__lt=now)
    ids = list(due.values_list("pk", flat=True))
    if not ids:
        return []
    clocks = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        SLAClock.objects.filter(pk__in=chunk, breached_at__isnull=True).update(
            breached_at=F("due_at"), warning_at=None, warning_pct=None, updated_at=now
        )
        clocks.extend(SLAClock.objects.filter(pk__in=chunk).select_related("content_type"))
    SLAClockEvent.objects.bulk_create(
        [
            SLAClockEvent(
                clock=clock,
                time=clock.breached_at,
                kind=ClockEventKind.BREACHED,
                reason=f"Target of {clock.target_seconds // 60} min passed",
                data={"target_seconds": clock.target_seconds, "priority": clock.priority},
            )
            for clock in clocks
        ],
        batch_size=500,
    )
    return clocks


def _claim_warnings_portable(now):
    due = SLAClock.objects.filter(state=ClockState.RUNNING, breached_at__isnull=True, warning_at__lte=now)
    return [(clock, clock.warning_at, clock.warning_pct) for clock in due.select_related("content_type")]


def _advance_warnings(claimed, now):
    """For each claimed clock: the highest threshold passed by ``now`` becomes ``warned_pct`` (a
    clock that passed two thresholds since the last scan is warned once, at the higher), the next
    one (if any) is planned, and a warning event is written. Returns the warned clocks."""
    if not claimed:
        return []
    from slas.selectors import load_calendars

    calendars = load_calendars(clock.calendar_id for clock, _, _ in claimed)
    policies = SLAPolicy.objects.in_bulk({clock.policy_id for clock, _, _ in claimed if clock.policy_id})
    schedules = {pk: schedule_for(calendar) for pk, calendar in calendars.items()}
    default_thresholds = sorted(t for t in default_warning_thresholds() if 0 < t < 100)
    thresholds_of = {
        pk: sorted(t for t in policy.warning_thresholds if isinstance(t, int) and 0 < t < 100)
        for pk, policy in policies.items()
    }
    warned_clocks, rows = [], []
    for clock, crossed_at, pct in claimed:
        schedule = schedules[clock.calendar_id]
        thresholds = thresholds_of.get(clock.policy_id, default_thresholds)
        since, counted, target = clock.running_since, clock.elapsed_seconds, clock.target_seconds
        elapsed = counted + (business_seconds(schedule, since, now) if since is not None and now > since else 0)
        percent = 100 * elapsed / target
        warned = max([clock.warned_pct, pct or 0, *(t for t in thresholds if (pct or 0) < t <= percent + 1e-9)])
        if warned != (pct or 0) and since is not None:
            crossed_at = add_business_seconds(schedule, since, warned * target / 100 - counted) or crossed_at
        upcoming = [t for t in thresholds if t > warned]
        clock.warned_pct = warned
        clock.warning_pct = upcoming[0] if upcoming else None
        clock.warning_at = (
            add_business_seconds(schedule, since, upcoming[0] * target / 100 - counted)
            if upcoming and since is not None
            else None
        )
        warned_clocks.append(clock)
        rows.append((clock, crossed_at or now, f"{warned}% of the {_minutes(target)} target used"))
    _write_warnings(rows, now)
    return warned_clocks


def _write_warnings(rows, now):
    """Store each claimed clock's ``warned_pct`` and next threshold, and its warning event
    (``rows``: ``(clock, crossed at, reason)``). On PostgreSQL one statement does both for all
    the rows (arrays unnested); elsewhere one UPDATE per clock and a bulk insert."""
    if not _set_based_sql():
        clocks = [clock for clock, _, _ in rows]
        for clock in clocks:
            clock.updated_at = now
        SLAClock.objects.bulk_update(clocks, ["warned_pct", "warning_pct", "warning_at", "updated_at"], batch_size=500)
        SLAClockEvent.objects.bulk_create(
            [
                SLAClockEvent(
                    clock_id=clock.pk,
                    time=crossed_at,
                    kind=ClockEventKind.WARNING,
                    reason=reason,
                    data={"pct": clock.warned_pct, "due_at": _iso(clock.due_at)},
                )
                for clock, crossed_at, reason in rows
            ],
            batch_size=500,
        )
        return
    clock_table, event_table = SLAClock._meta.db_table, SLAClockEvent._meta.db_table
    sql = f"""
        WITH v AS (
            SELECT * FROM unnest(%(ids)s::bigint[], %(warned)s::smallint[], %(pct)s::smallint[],
                                 %(at)s::timestamptz[], %(crossed)s::timestamptz[], %(reason)s::text[])
                AS v(id, warned, pct, at, crossed, reason)
        ), updated AS (
            UPDATE {clock_table} c
            SET warned_pct = v.warned, warning_pct = v.pct, warning_at = v.at, updated_at = %(now)s
            FROM v WHERE c.id = v.id
            RETURNING c.id, c.due_at
        )
        INSERT INTO {event_table} (clock_id, time, kind, reason, data)
        SELECT v.id, v.crossed, %(kind)s, v.reason, jsonb_build_object('pct', v.warned, 'due_at', updated.due_at)
        FROM v JOIN updated ON updated.id = v.id
    """  # noqa: S608 - table names from model metadata; every value is a parameter
    params = {
        "ids": [clock.pk for clock, _, _ in rows],
        "warned": [clock.warned_pct for clock, _, _ in rows],
        "pct": [clock.warning_pct for clock, _, _ in rows],
        "at": [clock.warning_at for clock, _, _ in rows],
        "crossed": [crossed for _, crossed, _ in rows],
        "reason": [reason for _, _, reason in rows],
        "kind": ClockEventKind.WARNING,
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
