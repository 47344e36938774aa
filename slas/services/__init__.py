"""Every write of the SLA app: the clocks (``sync_clocks``, ``scan``) and the configuration
(calendars with their hours and holidays, policies with their targets).

**Clocks.** An object (an incident) has at most one clock per metric (response, resolution).
The incident services call ``sync_clocks(obj, subject)`` after every change, inside their
transaction with the incident locked; it is the one place a clock changes state:

- no clocks yet: the first active policy (lowest ``order``) whose criteria match the subject and
  that has a target at its priority starts one clock per metric it has a target for;
- ``subject.state`` in the policy's ``pause_states``: running clocks pause (the business time
  counted so far is kept in ``elapsed_seconds``), otherwise paused clocks resume;
- a priority change retargets the open clocks: the first active policy that matches the subject
  now and has a target for the metric at the new priority applies (its calendar from then on;
  the business time counted so far is kept); without one, the clock keeps its target. The due
  time is recomputed;
- ``responded`` stops the response clock, ``done`` the resolution clock: met if the business
  time counted is within the target, breached otherwise; ``done`` turning false again (a reopen)
  reopens the resolution clock; ``canceled`` cancels every open clock.

A clock's ``state`` is running, paused, or its outcome: met, breached (stopped after its
target) or canceled. A running or paused clock whose target has passed carries ``breached_at``
(set by the scan, or by a pause or stop that finds it passed). Each step writes an
``SLAClockEvent`` saying what happened and why: ``slas.explain`` rebuilds the timeline from them.

**The scan** (``scan``, every minute from Celery beat) marks the running clocks whose due time
has passed as breached in one statement, claims the running clocks whose next warning threshold
has passed in another, recomputes the next threshold of the claimed clocks only, and sends
``slas.events`` after commit.

**Clocks with targets given by the caller** (``start_fixed_clocks``, ``stop_clock``,
``cancel_clocks``): no policy — the caller names the calendar and the target per metric (a
vendor's contract terms in its support hours). The scan warns and breaches them like the others.
"""

from slas.services.clocks import (
    Subject,
    active_policies,
    cancel_clocks,
    matching_policy,
    policy_matches,
    replan_clocks,
    start_fixed_clocks,
    stop_clock,
    sync_clocks,
    target_minutes,
)
from slas.services.configuration import (
    add_holiday,
    delete_calendar,
    delete_holiday,
    delete_policy,
    prefill_holidays,
    save_calendar,
    save_policy,
)
from slas.services.scanning import scan

__all__ = [
    "Subject",
    "active_policies",
    "add_holiday",
    "cancel_clocks",
    "delete_calendar",
    "delete_holiday",
    "delete_policy",
    "matching_policy",
    "policy_matches",
    "prefill_holidays",
    "replan_clocks",
    "save_calendar",
    "save_policy",
    "scan",
    "start_fixed_clocks",
    "stop_clock",
    "sync_clocks",
    "target_minutes",
]
