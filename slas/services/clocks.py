"""SLA clocks: which policy times an object, and ``sync_clocks``, the one place a clock starts,
pauses, resumes, is retargeted, stops, reopens or is canceled (see ``slas.services``)."""

import datetime as dt
import logging
from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.utils import timezone

from slas import events
from slas.businesstime import add_business_seconds, business_seconds
from slas.choices import ACTIVE_CLOCK_STATES, ClockEventKind, ClockState, Metric
from slas.models import SLAClock, SLAClockEvent, SLAPolicy, default_pause_states, default_warning_thresholds
from slas.selectors import schedule_for
from slas.states import state_label

logger = logging.getLogger(__name__)

METRIC_ORDER = {Metric.RESPONSE: 0, Metric.RESOLUTION: 1}
# Business seconds of slack when comparing the time counted with a target: due times are stored
# to the microsecond, so a clock stopped exactly at its due time may count a hair more.
EPSILON = 0.001
SIGNAL_BATCH = 500


@dataclass(frozen=True)
class Subject:
    """What a policy matches and what the clocks follow."""

    priority: int  # 1..5
    state: str  # the incident's state ("new", "on_hold", "resolved", ...)
    team_id: int | None
    ci_class_ids: frozenset = frozenset()  # classes of the affected CIs
    business_service_ids: frozenset = frozenset()  # affected business services (CI ids)
    responded: bool = False  # first response given → the response clock stops (met/breached)
    done: bool = False  # resolved or closed → the resolution clock stops
    canceled: bool = False  # → every clock canceled
    pause_reason: str = ""  # words for the timeline, e.g. "On hold: awaiting caller"


# --- policies --------------------------------------------------------------------------------


def _with_ancestors(class_ids):
    """The classes and all their ancestors (a policy for Server covers Linux servers)."""
    if not class_ids:
        return set()
    from cmdb.models import CIClass

    parents = CIClass.objects.parents_by_id()
    found = set()
    for pk in class_ids:
        while pk is not None and pk not in found:
            found.add(pk)
            pk = parents.get(pk)
    return found


def active_policies():
    """Active policies in matching order, with their criteria and targets prefetched."""
    return list(
        SLAPolicy.objects.filter(active=True)
        .select_related("calendar")
        .prefetch_related("targets", "teams", "ci_classes", "business_services")
        .order_by("order", "name", "pk")
    )


def target_minutes(policy, metric, priority):
    for target in policy.targets.all():
        if target.metric == metric and target.priority == priority:
            return target.minutes
    return None


def policy_matches(policy, subject, class_ids=None):
    """Whether ``policy``'s criteria all match ``subject`` (an empty criterion matches anything).
    ``class_ids``: the subject's classes with their ancestors (computed when not given)."""
    if not policy.active:
        return False
    if policy.priorities and subject.priority not in policy.priorities:
        return False
    teams = {team.pk for team in policy.teams.all()}
    if teams and subject.team_id not in teams:
        return False
    classes = {ci_class.pk for ci_class in policy.ci_classes.all()}
    if classes:
        if class_ids is None:
            class_ids = _with_ancestors(subject.ci_class_ids)
        if not classes & set(class_ids):
            return False
    services = {ci.pk for ci in policy.business_services.all()}
    return not (services and not services & set(subject.business_service_ids))


def matching_policy(subject, policies=None):
    """The first active policy whose criteria match ``subject`` and that has a target at its
    priority, or None."""
    policies = active_policies() if policies is None else policies
    class_ids = _with_ancestors(subject.ci_class_ids)
    for policy in policies:
        has_target = any(t.priority == subject.priority for t in policy.targets.all())
        if has_target and policy_matches(policy, subject, class_ids):
            return policy
    return None


# --- clocks ------------------------------------------------------------------------------------


def _minutes(seconds):
    seconds = round(seconds)
    hours, minutes = divmod(seconds // 60, 60)
    if hours and minutes:
        return f"{hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h"
    return f"{minutes} min"


def _iso(value):
    return value.isoformat() if value is not None else None


class _Batch:
    """What one ``sync_clocks`` call changes: the events to write and the breaches to announce."""

    def __init__(self, at):
        self.at = at
        self.events = []
        self.breached = []

    def event(self, clock, kind, reason="", time=None, **data):
        self.events.append(SLAClockEvent(clock=clock, time=time or self.at, kind=kind, reason=reason[:200], data=data))


def _thresholds(clock):
    values = clock.policy.warning_thresholds if clock.policy is not None else default_warning_thresholds()
    return sorted(t for t in values if isinstance(t, int) and 0 < t < 100)


def _pause_states(clock):
    return clock.policy.pause_states if clock.policy is not None else default_pause_states()


def _plan(clock):
    """Set ``due_at`` and the next warning of a running clock from ``running_since`` and the
    business time counted so far (a paused or stopped clock has neither)."""
    if clock.state != ClockState.RUNNING:
        clock.warning_at = clock.warning_pct = None
        if clock.state == ClockState.PAUSED:
            clock.due_at = None
        return
    schedule = schedule_for(clock.calendar)
    remaining = clock.target_seconds - clock.elapsed_seconds
    if clock.breached_at is not None:
        clock.due_at = clock.breached_at
    elif remaining > 0:
        clock.due_at = add_business_seconds(schedule, clock.running_since, remaining)
    else:
        clock.due_at = clock.running_since
    clock.warning_at = clock.warning_pct = None
    if clock.breached_at is None:
        upcoming = [t for t in _thresholds(clock) if t > clock.warned_pct]
        if upcoming:
            pct = upcoming[0]
            clock.warning_pct = pct
            clock.warning_at = add_business_seconds(
                schedule, clock.running_since, pct * clock.target_seconds / 100 - clock.elapsed_seconds
            )


def _fold(clock, at, batch, schedule=None):
    """Add the business time counted since ``running_since`` (on ``schedule``, default the
    clock's calendar) to ``elapsed_seconds``, the clock running on from ``at``; record a breach
    the fold reveals."""
    if clock.state != ClockState.RUNNING or clock.running_since is None:
        return
    since = clock.running_since
    if at > since:
        schedule = schedule or schedule_for(clock.calendar)
        before = clock.elapsed_seconds
        clock.elapsed_seconds = before + business_seconds(schedule, since, at)
        if clock.breached_at is None and clock.elapsed_seconds > clock.target_seconds + EPSILON:
            crossed = add_business_seconds(schedule, since, clock.target_seconds - before) or at
            _mark_breached(clock, min(crossed, at), batch)
    clock.running_since = max(at, since)


def _mark_breached(clock, when, batch):
    clock.breached_at = when
    clock.warning_at = clock.warning_pct = None
    batch.event(
        clock,
        ClockEventKind.BREACHED,
        f"Target of {_minutes(clock.target_seconds)} passed",
        time=when,
        target_seconds=clock.target_seconds,
        priority=clock.priority,
    )
    batch.breached.append(clock)


def _new_clock(obj, content_type, policy, calendar, metric, priority, target_seconds, at):
    """A running clock on ``obj`` from ``at``, planned and saved."""
    clock = SLAClock(
        content_type=content_type,
        object_id=obj.pk,
        policy=policy,
        calendar=calendar,
        metric=metric,
        priority=priority,
        target_seconds=target_seconds,
        state=ClockState.RUNNING,
        started_at=at,
        running_since=at,
    )
    _plan(clock)
    clock.save()
    return clock


def _start(obj, content_type, subject, at, batch):
    policy = matching_policy(subject)
    if policy is None:
        return []
    clocks = []
    for metric in (Metric.RESPONSE, Metric.RESOLUTION):
        minutes = target_minutes(policy, metric, subject.priority)
        if minutes is None:
            continue
        clock = _new_clock(obj, content_type, policy, policy.calendar, metric, subject.priority, minutes * 60, at)
        batch.event(
            clock,
            ClockEventKind.STARTED,
            f"Policy “{policy.name}”: P{subject.priority} {clock.get_metric_display().lower()} target "
            f"{_minutes(clock.target_seconds)} on calendar “{policy.calendar.name}”",
            policy=policy.pk,
            policy_name=policy.name,
            calendar=policy.calendar_id,
            calendar_name=policy.calendar.name,
            priority=subject.priority,
            target_seconds=clock.target_seconds,
            due_at=_iso(clock.due_at),
        )
        clocks.append(clock)
    return clocks


def _retarget(clock, subject, at, batch, policies):
    old_priority, old_target, old_calendar = clock.priority, clock.target_seconds, clock.calendar
    old_policy_id = clock.policy_id
    policy, minutes = None, None
    class_ids = _with_ancestors(subject.ci_class_ids)
    for candidate in policies():
        minutes = target_minutes(candidate, clock.metric, subject.priority)
        if minutes is not None and policy_matches(candidate, subject, class_ids):
            policy = candidate
            break
    if policy is None:
        clock.priority = subject.priority
        batch.event(
            clock,
            ClockEventKind.RETARGETED,
            f"Priority P{old_priority} → P{subject.priority}: no SLA target for P{subject.priority}, "
            f"the {_minutes(old_target)} target still applies",
            from_priority=old_priority,
            to_priority=subject.priority,
            from_target_seconds=old_target,
            to_target_seconds=old_target,
            calendar=clock.calendar_id,
        )
        return
    running = clock.state == ClockState.RUNNING
    new_target = minutes * 60
    # A shorter target may already be behind the clock: it passed when the time counted reached it.
    if clock.breached_at is None and running and clock.running_since is not None:
        since, before = clock.running_since, clock.elapsed_seconds
        if before < new_target:
            crossed = add_business_seconds(schedule_for(old_calendar), since, new_target - before)
            if crossed is not None and crossed < at:
                clock.target_seconds = new_target
                _mark_breached(clock, crossed, batch)
    _fold(clock, at, batch)  # the time so far counts on the calendar it ran on
    clock.target_seconds = new_target
    if clock.breached_at is None and clock.elapsed_seconds > new_target + EPSILON:
        _mark_breached(clock, at, batch)  # paused past the new target: it passes now
    clock.policy = policy
    clock.calendar = policy.calendar
    clock.priority = subject.priority
    percent = 100 * clock.elapsed_seconds / new_target
    passed = [t for t in _thresholds(clock) if t <= percent]
    clock.warned_pct = min(clock.warned_pct, passed[-1] if passed else 0)
    _plan(clock)
    reason = f"Priority P{old_priority} → P{subject.priority}: target {_minutes(old_target)} → {_minutes(new_target)}"
    if policy.pk != old_policy_id or clock.calendar_id != old_calendar.pk:
        reason += f" (policy “{policy.name}”, calendar “{policy.calendar.name}”)"
    batch.event(
        clock,
        ClockEventKind.RETARGETED,
        reason,
        from_priority=old_priority,
        to_priority=subject.priority,
        from_target_seconds=old_target,
        to_target_seconds=new_target,
        policy=policy.pk,
        policy_name=policy.name,
        calendar=clock.calendar_id,
        calendar_name=clock.calendar.name,
        elapsed_seconds=clock.elapsed_seconds,
        due_at=_iso(clock.due_at),
    )


def _stop(clock, at, reason, batch):
    _fold(clock, at, batch)
    breached = clock.breached_at is not None or clock.elapsed_seconds > clock.target_seconds + EPSILON
    clock.state = ClockState.BREACHED if breached else ClockState.MET
    clock.stopped_at = at
    clock.running_since = None
    clock.warning_at = clock.warning_pct = None
    counted = f"{_minutes(clock.elapsed_seconds)} counted of {_minutes(clock.target_seconds)}"
    if breached:
        batch.event(
            clock,
            ClockEventKind.STOPPED,
            f"{reason}: after the target ({counted})",
            outcome=ClockState.BREACHED,
            elapsed_seconds=clock.elapsed_seconds,
        )
    else:
        batch.event(clock, ClockEventKind.MET, f"{reason}: met ({counted})", elapsed_seconds=clock.elapsed_seconds)


def _cancel(clock, at, batch):
    if clock.state == ClockState.RUNNING and clock.running_since is not None and at > clock.running_since:
        clock.elapsed_seconds += business_seconds(schedule_for(clock.calendar), clock.running_since, at)
    clock.state = ClockState.CANCELED
    clock.stopped_at = at
    clock.running_since = None
    clock.warning_at = clock.warning_pct = None
    batch.event(clock, ClockEventKind.CANCELED, "Canceled", elapsed_seconds=clock.elapsed_seconds)


def _pause(clock, subject, at, batch):
    _fold(clock, at, batch)
    clock.state = ClockState.PAUSED
    clock.running_since = None
    _plan(clock)
    reason = subject.pause_reason or f"State “{state_label(subject.state)}” pauses the clock"
    batch.event(clock, ClockEventKind.PAUSED, reason, state=subject.state, elapsed_seconds=clock.elapsed_seconds)


def _resume(clock, subject, at, batch, kind=ClockEventKind.RESUMED, reason=""):
    clock.state = ClockState.RUNNING
    clock.running_since = at
    clock.stopped_at = None
    _plan(clock)
    reason = reason or f"State “{state_label(subject.state)}”: the clock counts again"
    batch.event(clock, kind, reason, state=subject.state, due_at=_iso(clock.due_at))


@transaction.atomic
def sync_clocks(obj, subject, at=None):
    """The one entry point the incident services call (inside their transaction, the incident
    row locked) after every change: start clocks if none (first matching active policy), pause
    when subject.state is in the policy's pause_states, resume otherwise, retarget on a priority
    change (due recomputed), stop response when responded, stop resolution when done (met or
    breached), reopen resolution when no longer done, cancel when canceled. Writes
    SLAClockEvents explaining each step. Returns the object's clocks, response first."""
    at = _aware(at)
    content_type = ContentType.objects.get_for_model(obj)

    def locked():
        return list(
            SLAClock.objects.select_for_update(of=("self",))
            .filter(content_type=content_type, object_id=obj.pk)
            .select_related("policy", "calendar")
        )

    clocks = locked()
    batch = _Batch(at)
    fresh = set()  # clocks started by this call (saved again below whatever else changes)
    if not clocks:
        if subject.canceled or subject.done:
            return []
        try:
            with transaction.atomic():
                clocks = _start(obj, content_type, subject, at, batch)
        except IntegrityError:
            # Another transaction started this object's clocks first (callers normally hold the
            # object's row lock, which rules this out): carry on with its clocks.
            batch = _Batch(at)
            clocks = locked()
        else:
            fresh = {clock.pk for clock in clocks}
    cached = []

    def policies():
        if not cached:
            cached.append(active_policies())
        return cached[0]

    for clock in clocks:
        before = _snapshot(clock)
        if clock.state in ACTIVE_CLOCK_STATES:
            if subject.canceled:
                _cancel(clock, at, batch)
            else:
                if subject.priority != clock.priority:
                    _retarget(clock, subject, at, batch, policies)
                if clock.metric == Metric.RESPONSE and subject.responded:
                    _stop(clock, at, "First response given", batch)
                elif clock.metric == Metric.RESOLUTION and subject.done:
                    _stop(clock, at, f"State “{state_label(subject.state)}”", batch)
        elif (
            clock.metric == Metric.RESOLUTION
            and clock.state in (ClockState.MET, ClockState.BREACHED)
            and not subject.done
            and not subject.canceled
        ):
            _resume(clock, subject, at, batch, ClockEventKind.REOPENED, "Reopened: the clock counts again")
            if subject.priority != clock.priority:
                _retarget(clock, subject, at, batch, policies)
        if clock.state in ACTIVE_CLOCK_STATES:
            paused = subject.state in _pause_states(clock)
            if paused and clock.state == ClockState.RUNNING:
                _pause(clock, subject, at, batch)
            elif not paused and clock.state == ClockState.PAUSED:
                _resume(clock, subject, at, batch)
        if clock.pk in fresh or _snapshot(clock) != before:
            clock.save()
    if batch.events:
        SLAClockEvent.objects.bulk_create(batch.events)
    if batch.breached:
        breached = list(batch.breached)
        transaction.on_commit(lambda: _send(events.sla_breached, breached))
    return sorted(clocks, key=lambda c: METRIC_ORDER.get(c.metric, 9))


# --- clocks with targets given by the caller ---------------------------------------------------


def _object_clocks(obj):
    content_type = ContentType.objects.get_for_model(obj)
    return content_type, SLAClock.objects.select_for_update(of=("self",)).filter(
        content_type=content_type, object_id=obj.pk
    )


def _finish(batch):
    if batch.events:
        SLAClockEvent.objects.bulk_create(batch.events)
    if batch.breached:
        breached = list(batch.breached)
        transaction.on_commit(lambda: _send(events.sla_breached, breached))


@transaction.atomic
def start_fixed_clocks(obj, *, calendar, priority, targets, at=None, reason=""):
    """Start a clock per metric of ``targets`` (``{metric: seconds}``) on ``obj`` with no policy:
    the caller gives the targets and the calendar (a vendor's contract terms and support hours,
    say). A metric that already has a clock, or no target, is left out. The scan warns and
    breaches these clocks like any other; they stop with ``stop_clock``. Returns the clocks
    started."""
    at = _aware(at)
    content_type, existing = _object_clocks(obj)
    have = {clock.metric for clock in existing}
    batch, clocks = _Batch(at), []
    for metric, seconds in targets.items():
        if metric not in Metric.values:
            raise ValueError(f"unknown metric {metric!r}")
        if metric in have or not seconds:
            continue
        clock = _new_clock(obj, content_type, None, calendar, metric, priority, int(seconds), at)
        batch.event(
            clock,
            ClockEventKind.STARTED,
            f"{reason + ': ' if reason else ''}P{priority} {clock.get_metric_display().lower()} target "
            f"{_minutes(clock.target_seconds)} on calendar “{calendar.name}”",
            calendar=calendar.pk,
            calendar_name=calendar.name,
            priority=priority,
            target_seconds=clock.target_seconds,
            due_at=_iso(clock.due_at),
        )
        clocks.append(clock)
    _finish(batch)
    return sorted(clocks, key=lambda c: METRIC_ORDER.get(c.metric, 9))


@transaction.atomic
def stop_clock(obj, metric, *, reason, at=None):
    """Stop ``obj``'s open ``metric`` clock: met if the business time counted is within its
    target, breached otherwise. Returns the clock (None when ``obj`` has no such clock); a clock
    already stopped is returned as it is."""
    at = _aware(at)
    _, clocks = _object_clocks(obj)
    clock = clocks.filter(metric=metric).select_related("calendar").first()
    if clock is None or clock.state not in ACTIVE_CLOCK_STATES:
        return clock
    batch = _Batch(at)
    _stop(clock, at, reason, batch)
    clock.save()
    _finish(batch)
    return clock


@transaction.atomic
def cancel_clocks(obj, *, at=None):
    """Cancel ``obj``'s open clocks (the work they timed was withdrawn). Returns them."""
    at = _aware(at)
    _, clocks = _object_clocks(obj)
    batch, canceled = _Batch(at), []
    for clock in clocks.select_related("calendar"):
        if clock.state in ACTIVE_CLOCK_STATES:
            _cancel(clock, at, batch)
            clock.save()
            canceled.append(clock)
    _finish(batch)
    return canceled


_TRACKED = (
    "policy_id",
    "calendar_id",
    "priority",
    "target_seconds",
    "state",
    "running_since",
    "elapsed_seconds",
    "due_at",
    "warning_at",
    "warning_pct",
    "warned_pct",
    "breached_at",
    "stopped_at",
)


def _aware(instant):
    """``instant`` (default: now) in UTC; a naive datetime is refused (whose time would it be?)."""
    if instant is None:
        return timezone.now().astimezone(dt.UTC)
    if timezone.is_naive(instant):
        raise ValueError(f"{instant!r} is a naive datetime: give an aware one (e.g. timezone.now())")
    return instant.astimezone(dt.UTC)


def _snapshot(clock):
    return tuple(getattr(clock, name) for name in _TRACKED)


def _send(signal, clocks):
    for start in range(0, len(clocks), SIGNAL_BATCH):
        chunk = clocks[start : start + SIGNAL_BATCH]
        for receiver, response in signal.send_robust(sender=SLAClock, clocks=chunk):
            if isinstance(response, Exception):
                error = (type(response), response, response.__traceback__)
                logger.error("SLA signal receiver %r failed", receiver, exc_info=error)


# --- calendar changes -----------------------------------------------------------------------


def replan_clocks(calendar, before, at=None):
    """After a change to what ``calendar`` counts (hours, holidays, time zone, 24 × 7): each clock
    running on it counts the time since it last counted on the old schedule (``before``), then
    its due time and next warning are planned on the new one, and an event says so. Paused
    clocks are planned when they resume. Returns how many clocks were replanned."""
    at = _aware(at)
    batch, changed = _Batch(at), []
    running = SLAClock.objects.select_for_update(of=("self",)).filter(calendar=calendar, state=ClockState.RUNNING)
    for clock in running.select_related("policy").order_by("pk"):
        clock.calendar = calendar
        _fold(clock, at, batch, schedule=before)
        _plan(clock)
        clock.updated_at = timezone.now()
        batch.event(
            clock,
            ClockEventKind.RETARGETED,
            f"Calendar “{calendar.name}” changed: the time so far counted on the old hours, the due time "
            "recomputed on the new",
            calendar=calendar.pk,
            calendar_name=calendar.name,
            elapsed_seconds=clock.elapsed_seconds,
            due_at=_iso(clock.due_at),
        )
        changed.append(clock)
    SLAClock.objects.bulk_update(
        changed,
        ["elapsed_seconds", "running_since", "due_at", "warning_at", "warning_pct", "breached_at", "updated_at"],
        batch_size=1000,
    )
    SLAClockEvent.objects.bulk_create(batch.events, batch_size=1000)
    if batch.breached:
        breached = list(batch.breached)
        transaction.on_commit(lambda: _send(events.sla_breached, breached))
    return len(changed)
