"""Signals the SLA app publishes (DESIGN.md §2: a lower app tells a higher one through signals).

Both are sent after the transaction that recorded them commits, with every clock of the batch::

    sla_warning.send(sender=SLAClock, clocks=[...])    # each clock: .content_type, .object_id,
    sla_breached.send(sender=SLAClock, clocks=[...])   # .metric, .priority, .due_at, .warned_pct …

``sla_warning``: a running clock passed one of its policy's warning thresholds (``warned_pct``,
e.g. 75 then 90). ``sla_breached``: a clock's target passed (``breached_at``); sent once per clock,
by the scan (``slas.services.scan``) or, when a pause or a stop finds the target passed since the
last scan, by ``slas.services.sync_clocks``. Receivers (incidents: timeline entries and
notifications) must not assume the clocks still hold those values: they are the values of the
moment the warning or breach was recorded.
"""

from django.dispatch import Signal

sla_warning = Signal()
sla_breached = Signal()
