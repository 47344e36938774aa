"""Contract renewals: automatic renewal, notice-deadline reminders and expiry notices.

- ``renew_due(today)``: every auto-renew contract whose end date has passed is extended by its
  ``renewal_months`` (as many times as needed to reach ``today``); a contract ending on the last
  day of a month keeps ending on the last day of a month (Jan 31 + 1 month = Feb 28 or 29, then
  Mar 31). Its owner is told (``contract.renewed``).
- ``send_reminders(today)``: the owner of a contract whose notice deadline (end date − notice
  days: the last day to give notice) is 90, 60 or 30 days away is reminded
  (``contract.renewal_due``). A day the task did not run is caught up with the nearest threshold
  reached only (never 90 and 60 together); a deadline already passed is not reminded of. A
  contract without auto-renewal that ended in the last ``EXPIRED_LOOKBACK_DAYS`` days is announced
  once (``contract.expired``).

Each reminder sent is a ``ContractReminder`` row (unique per contract, kind and deadline), written
in the transaction that sends it: running the task twice (or twice at once) sends once. Both take
``today`` (a date) so that tests choose the day; the daily task passes today in ``TIME_ZONE``.
"""

import datetime as dt
import logging
from calendar import monthrange

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import DateField, F, Q, Value
from django.db.models.functions import Cast
from django.utils import timezone

from vendors.choices import REMINDER_DAYS, ReminderKind
from vendors.models import Contract, ContractReminder

logger = logging.getLogger(__name__)

EXPIRED_LOOKBACK_DAYS = 30  # expired contracts are announced, and listed as due, this long
REMINDER_HORIZON = max(REMINDER_DAYS.values())


def notice_deadline(contract):
    """The last day to give notice: the end date minus the notice period."""
    return contract.end_date - dt.timedelta(days=contract.notice_days)


def with_notice_by(queryset=None):
    """``queryset`` (default: every contract) annotated with ``notice_by``, the notice deadline
    computed by the database."""
    queryset = Contract.objects.all() if queryset is None else queryset
    return queryset.annotate(
        notice_by=Cast(F("end_date") - F("notice_days") * Value(dt.timedelta(days=1)), DateField())
    )


def renewals_due(today, days=90):
    """Contracts whose notice deadline is at most ``days`` days after ``today`` (passed ones
    included) and that have not ended, plus those that ended in the last
    ``EXPIRED_LOOKBACK_DAYS`` days: soonest deadline first."""
    running = Q(end_date__gte=today, notice_by__lte=today + dt.timedelta(days=days))
    lately_ended = Q(end_date__lt=today, end_date__gte=today - dt.timedelta(days=EXPIRED_LOOKBACK_DAYS))
    return with_notice_by().filter(running | lately_ended).order_by("notice_by", "end_date", "number")


# --- automatic renewal --------------------------------------------------------------------------


def _is_month_end(day):
    return day.day == monthrange(day.year, day.month)[1]


def renewed_end(end, months, today):
    """``end`` moved on by ``months`` as many times as needed to be on or after ``today``
    (month-end aware: a contract ending on a month's last day keeps doing so)."""
    month_end = _is_month_end(end)
    steps = 0
    new_end = end
    while new_end < today:
        steps += 1
        new_end = end + relativedelta(months=months * steps)
        if month_end:
            new_end = new_end.replace(day=monthrange(new_end.year, new_end.month)[1])
    return new_end


def _renew(contract_pk, today):
    """Renew one contract (locked and re-checked); returns it, or None when it needs nothing."""
    from itom.notifications import notify

    contract = (
        Contract.objects.select_for_update(of=("self",))
        .select_related("vendor", "owner")
        .filter(pk=contract_pk)
        .first()
    )
    if contract is None or not contract.auto_renew or contract.end_date >= today:
        return None
    previous = contract.end_date
    contract.end_date = renewed_end(previous, contract.renewal_months, today)
    contract.save(update_fields=["end_date", "updated_at"])
    notify(
        "contract.renewed",
        contract,
        recipients=_owner(contract),
        title=f"{contract.number} {contract.title} renewed until {contract.end_date.isoformat()}",
        body=(
            f"{contract.vendor} · ended {previous.isoformat()}, renewed by {contract.renewal_months} "
            f"month{'s' if contract.renewal_months != 1 else ''} to {contract.end_date.isoformat()}. "
            f"Next notice deadline: {contract.notice_deadline.isoformat()}."
        ),
        data=_payload(contract, previous_end_date=previous.isoformat()),
    )
    return contract


def renew_due(today):
    """Renew every auto-renew contract whose end date is before ``today``; returns those renewed.
    Each contract in a transaction of its own: one that fails is logged, the others renewed."""
    renewed = []
    pks = Contract.objects.filter(auto_renew=True, end_date__lt=today).order_by("end_date", "pk")
    for pk in pks.values_list("pk", flat=True):
        try:
            with transaction.atomic():
                contract = _renew(pk, today)
        except Exception:
            logger.exception("Contract %s could not be renewed", pk)
            continue
        if contract is not None:
            renewed.append(contract)
    return renewed


# --- reminders ----------------------------------------------------------------------------------


def reminder_kind(days_left):
    """The reminder due when the notice deadline is ``days_left`` days away: the nearest threshold
    reached (30 before 60 before 90), or None when more than 90 days or already passed."""
    if days_left < 0:
        return None
    reached = [kind for kind, days in REMINDER_DAYS.items() if days_left <= days]
    return min(reached, key=REMINDER_DAYS.get) if reached else None


def _owner(contract):
    owner = contract.owner
    return [owner] if owner is not None and owner.is_active else []


def _payload(contract, **extra):
    return {
        "contract": contract.number,
        "vendor": contract.vendor.name,
        "end_date": contract.end_date.isoformat(),
        "notice_deadline": contract.notice_deadline.isoformat(),
        "auto_renew": contract.auto_renew,
        **extra,
    }


def _still_due(contract, kind, deadline):
    """Whether the contract, as it is now, still has ``deadline`` for ``kind`` (it may have been
    edited or renewed since it was listed)."""
    if kind == ReminderKind.EXPIRED:
        return not contract.auto_renew and contract.end_date == deadline
    return contract.notice_deadline == deadline


def _send_once(contract_pk, kind, deadline, send):
    """Write the reminder row, then ``send(contract)``, in one transaction; nothing when this
    reminder was sent already (also by a run at the same moment). True when sent."""
    with transaction.atomic():
        contract = Contract.objects.select_related("vendor", "owner").filter(pk=contract_pk).first()
        if contract is None or not _still_due(contract, kind, deadline):
            return False
        if ContractReminder.objects.filter(contract=contract, kind=kind, deadline=deadline).exists():
            return False
        try:
            with transaction.atomic():
                ContractReminder.objects.create(contract=contract, kind=kind, deadline=deadline, sent_at=timezone.now())
        except IntegrityError:  # sent by another run meanwhile
            return False
        send(contract)
    return True


def _send_renewal_due(contract, kind, deadline, days_left):
    from itom.notifications import notify

    when = "today" if days_left == 0 else f"in {days_left} day{'s' if days_left != 1 else ''}"
    action = "or it renews by itself" if contract.auto_renew else "to renew or end it"
    notify(
        "contract.renewal_due",
        contract,
        recipients=_owner(contract),
        title=f"Notice deadline for {contract.number} {contract.title}: {deadline.isoformat()} ({when})",
        body=(
            f"{contract.vendor} · ends {contract.end_date.isoformat()} · {contract.notice_days} days' notice. "
            f"Give notice by {deadline.isoformat()} {action}."
        ),
        data=_payload(contract, reminder=str(kind), days_left=days_left),
    )


def _send_expired(contract):
    from itom.notifications import notify

    notify(
        "contract.expired",
        contract,
        recipients=_owner(contract),
        title=f"{contract.number} {contract.title} expired on {contract.end_date.isoformat()}",
        body=f"{contract.vendor} · the contract ended on {contract.end_date.isoformat()} and does not renew by itself.",
        data=_payload(contract),
    )


def send_reminders(today):
    """Send the notice-deadline reminders and expiry notices due on ``today`` (see the module's
    docstring); returns ``[(contract number, kind)]`` for those sent."""
    sent = []
    horizon = today + dt.timedelta(days=REMINDER_HORIZON)
    upcoming = with_notice_by().filter(notice_by__gte=today, notice_by__lte=horizon).order_by("notice_by", "pk")
    for pk, number, deadline in upcoming.values_list("pk", "number", "notice_by"):
        days_left = (deadline - today).days
        kind = reminder_kind(days_left)
        if kind is None:
            continue
        if _safely(pk, kind, deadline, lambda c, k=kind, d=deadline, n=days_left: _send_renewal_due(c, k, d, n)):
            sent.append((number, kind))
    expired = Contract.objects.filter(
        auto_renew=False,
        end_date__lt=today,
        end_date__gte=today - dt.timedelta(days=EXPIRED_LOOKBACK_DAYS),
    ).order_by("end_date", "pk")
    for pk, number, end_date in expired.values_list("pk", "number", "end_date"):
        if _safely(pk, ReminderKind.EXPIRED, end_date, _send_expired):
            sent.append((number, ReminderKind.EXPIRED))
    return sent


def _safely(pk, kind, deadline, send):
    try:
        return _send_once(pk, kind, deadline, send)
    except Exception:
        logger.exception("Reminder %s of contract %s could not be sent", kind, pk)
        return False
