"""A check's state machine, the way Nagios and Icinga keep it: one pure function, ``step``.

Given a check's runtime fields and the status of one new result it returns the fields after that
result and what to tell the alert service. Nothing here reads or writes the database: the engine
(``monitoring.services.engine``) applies a ``Step`` to a batch of checks in bulk, and a heartbeat
ping goes through the same engine code.

- **Attempts, soft and hard.** A problem result (warning, down, unknown) counts an attempt; the
  problem is *soft* until ``attempt >= max_attempts``, then *hard*. A hard problem stays hard
  through further problem results (down → warning is still a hard problem) until the check has
  recovered.
- **Recovery.** An up result after a hard problem is a *soft* up ("recovering") until
  ``recovery_threshold`` up results in a row, then hard. A problem result while recovering is hard
  again at once: the alert never resolved.
- **Flapping** (Icinga 2): ``history`` keeps the last 21 status codes (20 transitions). The share
  of transitions that changed status, weighted from 0.8 (oldest) to 1.2 (newest), over all 20
  transitions (missing ones count as unchanged, so a new check cannot flap on its second result),
  is ``flap_percent``. Flapping starts above 50 % and stops below 30 % (hysteresis).
- **Overlays.** Under maintenance the state is ``maintenance`` whatever the result; a problem
  while an upstream CI is down is ``unreachable``.
- **Alerts.** ``alert == "problem"`` on every hard problem result (the alert service adds it to
  the firing alert, or fires one); ``"recovered"`` when, not flapping, the up results in a row
  reach ``recovery_threshold`` — or flapping just stopped while the check is up and recovered.
"""

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from monitoring.choices import PROBLEM_STATUSES, STATUS_CODES, CheckState, ResultStatus, StateType

HISTORY_LENGTH = 21  # status codes kept: 20 transitions
FLAP_HIGH = 50.0  # % above which a check starts flapping
FLAP_LOW = 30.0  # % below which a flapping check stops
COUNTER_MAX = 10_000  # attempt / consecutive_ok stop counting here (PositiveSmallIntegerField)

# Transition i of 20 (0 = oldest) weighs 0.8 … 1.2; the weights add up to 20.
FLAP_WEIGHTS = tuple(0.8 + 0.4 * i / (HISTORY_LENGTH - 2) for i in range(HISTORY_LENGTH - 1))
FLAP_WEIGHT_TOTAL = sum(FLAP_WEIGHTS)

PROBLEM_STATE_OF = {
    ResultStatus.WARNING: CheckState.WARNING,
    ResultStatus.DOWN: CheckState.DOWN,
    ResultStatus.UNKNOWN: CheckState.UNKNOWN,
}
_PROBLEMS = frozenset(str(status) for status in PROBLEM_STATUSES)


@dataclass(frozen=True)
class Runtime:
    """The runtime fields of a check the state machine reads (a ``Check`` has them all)."""

    state: str = CheckState.PENDING
    state_type: str = StateType.HARD
    attempt: int = 0
    consecutive_ok: int = 0
    history: str = ""
    flapping: bool = False
    flap_percent: float = 0.0
    last_state_change_at: datetime | None = None


@dataclass(frozen=True)
class Step:
    """A check's runtime fields after one result, and what the alert service is to hear."""

    state: str
    state_type: str
    attempt: int
    consecutive_ok: int
    history: str
    flapping: bool
    flap_percent: float
    last_state_change_at: datetime | None
    alert: str | None  # None, "problem" or "recovered"
    state_changed: bool
    flapping_started: bool
    flapping_stopped: bool

    @property
    def problem(self):
        return self.attempt > 0

    @property
    def hard_problem(self):
        return self.problem and self.state_type == StateType.HARD

    @property
    def soft_problem(self):
        """A problem not yet confirmed: the next run comes after ``retry_interval``."""
        return self.problem and self.state_type == StateType.SOFT

    @property
    def recovered(self):
        """Up, not flapping, and enough up results in a row: a firing alert may resolve."""
        return not self.problem and self.state_type == StateType.HARD and not self.flapping

    # The fields of ``Check`` a step sets.
    FIELDS = (
        "state",
        "state_type",
        "attempt",
        "consecutive_ok",
        "history",
        "flapping",
        "flap_percent",
        "last_state_change_at",
    )

    def apply_to(self, check):
        """Copy the step's fields onto ``check`` (not saved)."""
        for name in self.FIELDS:
            setattr(check, name, getattr(self, name))
        return check


def flap_percent(history):
    """The weighted share (0–100) of status changes among the transitions of ``history`` (status
    codes, oldest first), over ``HISTORY_LENGTH - 1`` transitions."""
    codes = history[-HISTORY_LENGTH:]
    changes = [a != b for a, b in pairwise(codes)]
    # Align the newest transition with the heaviest weight.
    weights = FLAP_WEIGHTS[len(FLAP_WEIGHTS) - len(changes) :]
    weighted = sum(weight for weight, changed in zip(weights, changes, strict=True) if changed)
    return round(100.0 * weighted / FLAP_WEIGHT_TOTAL, 2)


def step(runtime, status, *, at, max_attempts, recovery_threshold, maintenance=False, parent_down=False):
    """The runtime fields of a check (``runtime``: a ``Check`` or a ``Runtime``) after a result
    of ``status`` at ``at``. ``maintenance``: its CI is under maintenance now; ``parent_down``: an
    upstream CI of its CI is down. Unknown statuses count as ``unknown``. Pure."""
    status = str(status) if str(status) in STATUS_CODES else ResultStatus.UNKNOWN
    max_attempts = max(1, int(max_attempts or 1))
    recovery_threshold = max(1, int(recovery_threshold or 1))
    prev_attempt = int(runtime.attempt or 0)
    prev_ok = int(runtime.consecutive_ok or 0)
    prev_hard_problem = prev_attempt > 0 and runtime.state_type == StateType.HARD
    prev_recovering = prev_attempt == 0 and prev_ok > 0 and runtime.state_type == StateType.SOFT

    if status in _PROBLEMS:
        attempt = min(prev_attempt + 1, COUNTER_MAX)
        consecutive_ok = 0
        hard = attempt >= max_attempts or prev_hard_problem or prev_recovering
        base = PROBLEM_STATE_OF[status]
    else:
        attempt = 0
        consecutive_ok = min(prev_ok + 1, COUNTER_MAX)
        # Up after a hard problem: recovering (soft) until enough up results in a row.
        unrecovered = prev_hard_problem or prev_recovering
        hard = not unrecovered or consecutive_ok >= recovery_threshold
        base = CheckState.UP

    history = ((runtime.history or "") + STATUS_CODES[status])[-HISTORY_LENGTH:]
    percent = flap_percent(history)
    was_flapping = bool(runtime.flapping)
    if was_flapping:
        flapping = percent >= FLAP_LOW
    else:
        flapping = percent > FLAP_HIGH

    if maintenance:
        state = CheckState.MAINTENANCE
    elif attempt > 0 and parent_down:
        state = CheckState.UNREACHABLE
    else:
        state = base
    state_changed = state != runtime.state
    flapping_stopped = was_flapping and not flapping

    alert = None
    if attempt > 0:
        if hard:
            alert = "problem"
    elif not flapping and (
        consecutive_ok == recovery_threshold or (flapping_stopped and consecutive_ok >= recovery_threshold)
    ):
        alert = "recovered"

    return Step(
        state=state,
        state_type=StateType.HARD if hard else StateType.SOFT,
        attempt=attempt,
        consecutive_ok=consecutive_ok,
        history=history,
        flapping=flapping,
        flap_percent=percent,
        last_state_change_at=at if state_changed else runtime.last_state_change_at,
        alert=alert,
        state_changed=state_changed,
        flapping_started=flapping and not was_flapping,
        flapping_stopped=flapping_stopped,
    )
