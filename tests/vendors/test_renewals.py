"""``vendors.services.renewals`` and the daily task: notice deadlines across month ends and leap
years, automatic renewal (month-end aware), reminders 90, 60 and 30 days before the notice
deadline (each once, a missed day caught up with the nearest one only), expiry announced once, and
the renewals due."""

import datetime as dt

import pytest
from django.utils import timezone

from itom.models import Notification
from itom.notifications import get_event
from tests.factories import UserFactory
from tests.itom.notifying import eager_celery  # noqa: F401
from tests.vendors.factories import ContractFactory
from vendors.models import ContractReminder
from vendors.services import renewals
from vendors.services.renewals import notice_deadline, renew_due, renewals_due, send_reminders
from vendors.tasks import daily_contract_check

D = dt.date


@pytest.fixture
def owner(db):
    return UserFactory(username="olga")


def contract_ending(end, *, notice_days=30, start=None, **fields):
    return ContractFactory(
        start_date=start or end - dt.timedelta(days=365), end_date=end, notice_days=notice_days, **fields
    )


def kinds_sent(contract):
    return sorted(ContractReminder.objects.filter(contract=contract).values_list("kind", flat=True))


def notifications(user, event):
    return list(Notification.objects.filter(recipient=user, event=event).order_by("id").values_list("title", flat=True))


# --- notice deadlines -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "notice_days", "deadline"),
    [
        (D(2026, 3, 31), 30, D(2026, 3, 1)),  # across the end of February
        (D(2024, 3, 31), 31, D(2024, 2, 29)),  # a leap year
        (D(2025, 3, 31), 31, D(2025, 2, 28)),
        (D(2026, 1, 15), 30, D(2025, 12, 16)),  # across the end of a year
        (D(2026, 6, 30), 0, D(2026, 6, 30)),  # no notice: the end date itself
    ],
)
def test_the_notice_deadline_is_the_end_date_minus_the_notice_days(db, end, notice_days, deadline):
    contract = contract_ending(end, notice_days=notice_days)
    assert notice_deadline(contract) == contract.notice_deadline == deadline
    assert renewals.with_notice_by().get(pk=contract.pk).notice_by == deadline


# --- automatic renewal --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("end", "months", "today", "renewed"),
    [
        (D(2026, 1, 31), 1, D(2026, 2, 1), D(2026, 2, 28)),
        (D(2024, 1, 31), 1, D(2024, 2, 1), D(2024, 2, 29)),  # a leap year
        (D(2026, 2, 28), 1, D(2026, 3, 1), D(2026, 3, 31)),  # a month's end stays a month's end
        (D(2024, 2, 29), 12, D(2024, 3, 1), D(2025, 2, 28)),
        (D(2026, 1, 31), 1, D(2026, 6, 15), D(2026, 6, 30)),  # renewed as often as needed
        (D(2026, 1, 15), 12, D(2026, 1, 16), D(2027, 1, 15)),
        (D(2026, 1, 15), 3, D(2026, 8, 1), D(2026, 10, 15)),
    ],
)
def test_an_auto_renew_contract_that_ended_is_extended_by_its_renewal_period(db, end, months, today, renewed):
    contract = contract_ending(end, auto_renew=True, renewal_months=months)
    assert renew_due(today) == [contract]
    contract.refresh_from_db()
    assert contract.end_date == renewed


def test_a_renewal_tells_the_owner_once(owner):
    contract = contract_ending(D(2026, 1, 31), auto_renew=True, renewal_months=1, owner=owner)
    renew_due(D(2026, 2, 1))
    assert renew_due(D(2026, 2, 1)) == []
    assert notifications(owner, "contract.renewed") == [f"{contract.number} {contract.title} renewed until 2026-02-28"]


def test_contracts_that_do_not_renew_by_themselves_or_have_not_ended_are_left_alone(db):
    manual = contract_ending(D(2026, 1, 31))
    running = contract_ending(D(2026, 2, 1), auto_renew=True)
    assert renew_due(D(2026, 2, 1)) == []
    manual.refresh_from_db(), running.refresh_from_db()
    assert (manual.end_date, running.end_date) == (D(2026, 1, 31), D(2026, 2, 1))


# --- reminders ----------------------------------------------------------------------------------


def run_daily(first, last):
    """The reminders as the daily task sends them, twice a day (a retried task): ``{day: kinds}``."""
    sent = {}
    day = first
    while day <= last:
        for _ in range(2):
            for _number, kind in send_reminders(day):
                sent.setdefault(day, []).append(str(kind))
        day += dt.timedelta(days=1)
    return sent


def test_reminders_go_out_90_60_and_30_days_before_the_notice_deadline_once_each(owner):
    contract = contract_ending(D(2026, 3, 31), notice_days=30, owner=owner)  # deadline March 1st
    sent = run_daily(D(2025, 11, 1), D(2026, 3, 10))
    assert sent == {D(2025, 12, 1): ["90"], D(2025, 12, 31): ["60"], D(2026, 1, 30): ["30"]}
    assert kinds_sent(contract) == ["30", "60", "90"]
    titles = notifications(owner, "contract.renewal_due")
    assert len(titles) == 3
    assert titles[-1] == f"Notice deadline for {contract.number} {contract.title}: 2026-03-01 (in 30 days)"


def test_a_missed_day_sends_the_nearest_reminder_reached_only(owner):
    contract = contract_ending(D(2026, 3, 31), notice_days=30, owner=owner)  # deadline March 1st
    assert send_reminders(D(2025, 12, 20)) == [(contract.number, "90")]  # 71 days left
    assert send_reminders(D(2026, 1, 25)) == [(contract.number, "60")]  # 35 days left: the 60 was missed
    assert send_reminders(D(2026, 2, 20)) == [(contract.number, "30")]
    assert kinds_sent(contract) == ["30", "60", "90"]


def test_a_contract_first_seen_close_to_its_deadline_gets_one_reminder(owner):
    contract = contract_ending(D(2026, 3, 31), notice_days=30, owner=owner)
    assert run_daily(D(2026, 2, 19), D(2026, 3, 5)) == {D(2026, 2, 19): ["30"]}
    assert kinds_sent(contract) == ["30"]
    assert len(notifications(owner, "contract.renewal_due")) == 1


def test_no_reminder_once_the_notice_deadline_has_passed_nor_long_before_it(owner):
    contract_ending(D(2026, 3, 31), notice_days=30, owner=owner)
    assert send_reminders(D(2026, 3, 2)) == []
    assert send_reminders(D(2025, 11, 30)) == []  # 91 days before
    assert not ContractReminder.objects.exists()


def test_a_moved_deadline_is_reminded_of_again(owner):
    contract = contract_ending(D(2026, 3, 31), notice_days=30, owner=owner)
    send_reminders(D(2026, 2, 20))
    contract.end_date = D(2026, 4, 30)  # extended by hand: the deadline is March 31st now
    contract.save()
    assert send_reminders(D(2026, 3, 10)) == [(contract.number, "30")]
    assert sorted(ContractReminder.objects.values_list("deadline", flat=True)) == [D(2026, 3, 1), D(2026, 3, 31)]


def test_a_contract_that_ended_without_auto_renewal_is_announced_once(owner):
    ended = contract_ending(D(2026, 3, 31), owner=owner)
    long_gone = contract_ending(D(2025, 1, 31), owner=owner)
    sent = run_daily(D(2026, 3, 31), D(2026, 4, 20))
    assert sent == {D(2026, 4, 1): ["expired"]}
    assert kinds_sent(ended) == ["expired"] and kinds_sent(long_gone) == []
    assert notifications(owner, "contract.expired") == [f"{ended.number} {ended.title} expired on 2026-03-31"]


def test_a_contract_without_owner_is_still_recorded_as_reminded(db):
    contract = contract_ending(D(2026, 3, 31))
    assert send_reminders(D(2026, 2, 20)) == [(contract.number, "30")]
    assert send_reminders(D(2026, 2, 21)) == []


# --- renewals due -------------------------------------------------------------------------------


def test_renewals_due_lists_near_deadlines_and_recent_expiries_soonest_first(db):
    today = D(2026, 6, 1)
    passed = contract_ending(D(2026, 6, 20), notice_days=30)  # deadline May 21st, still running
    soon = contract_ending(D(2026, 7, 1), notice_days=10)  # June 21st
    later = contract_ending(D(2026, 9, 29), notice_days=30)  # August 30th: 90 days away
    contract_ending(D(2026, 9, 30), notice_days=30)  # 91 days away
    expired = contract_ending(D(2026, 5, 10), notice_days=0)  # ended 22 days ago
    contract_ending(D(2026, 4, 30), notice_days=0)  # ended 32 days ago
    assert list(renewals_due(today)) == [expired, passed, soon, later]
    assert list(renewals_due(today, days=30)) == [expired, passed, soon]


# --- the daily task -----------------------------------------------------------------------------


def test_the_contract_events_are_registered(db):
    for key in ("contract.renewal_due", "contract.renewed", "contract.expired"):
        assert get_event(key).key == key


def test_the_daily_task_renews_then_reminds_for_today(owner, eager_celery):  # noqa: F811
    today = timezone.localdate()
    reminded = contract_ending(today + dt.timedelta(days=60), notice_days=30, owner=owner)
    renewed = contract_ending(
        today - dt.timedelta(days=1), auto_renew=True, renewal_months=12, notice_days=330, owner=owner
    )
    expired = contract_ending(today - dt.timedelta(days=1), owner=owner)

    result = daily_contract_check.delay().get()

    renewed.refresh_from_db()
    assert renewed.end_date > today
    assert result["renewed"] == [renewed.number]
    # renewed first: its new notice deadline (330 days before the new end) is about 35 days away
    assert (kinds_sent(reminded), kinds_sent(renewed), kinds_sent(expired)) == (["30"], ["60"], ["expired"])
    assert len(notifications(owner, "contract.renewed")) == 1
    daily_contract_check.delay().get()
    assert ContractReminder.objects.count() == 3


def test_the_daily_task_is_scheduled_and_routed(settings):
    from itom.celery_routes import TASK_ROUTES

    entry = settings.CELERY_BEAT_SCHEDULE["daily-contract-check"]
    assert (entry["task"], entry["schedule"]) == ("vendors.tasks.daily_contract_check", 24 * 3600)
    assert TASK_ROUTES["vendors.tasks.daily_contract_check"] == {"queue": "default"}
