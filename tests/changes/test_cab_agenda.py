"""The change advisory board's agenda (``changes.services.approvals.cab_agenda``): when the next
meeting is (the weekday and time in the settings, wall-clock time in TIME_ZONE), and what it
discusses — the changes awaiting a CAB decision, the post-implementation reviews, and the changes
starting before the meeting after it."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from changes.models import RiskQuestion
from changes.services import approvals
from changes.services import changes as change_services
from tests.factories import new_change

PLANS = {"implementation_plan": "Upgrade the firmware.", "backout_plan": "Flash the previous image."}
pytestmark = pytest.mark.django_db


@pytest.fixture
def thursdays_at_two(settings):
    settings.TIME_ZONE = "UTC"
    settings.CHANGE_CAB_MEETING_WEEKDAY = 3
    settings.CHANGE_CAB_MEETING_TIME = "14:00"


def utc(*args):
    return datetime(*args, tzinfo=UTC)


# --- when ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "meeting"),
    [
        (utc(2025, 3, 3, 10, 0), utc(2025, 3, 6, 14, 0)),  # Monday: this Thursday
        (utc(2025, 3, 6, 9, 30), utc(2025, 3, 6, 14, 0)),  # Thursday morning: today
        (utc(2025, 3, 6, 14, 0), utc(2025, 3, 6, 14, 0)),  # the meeting starts now
        (utc(2025, 3, 6, 14, 1), utc(2025, 3, 13, 14, 0)),  # it has begun: next week's
        (utc(2025, 3, 8, 23, 0), utc(2025, 3, 13, 14, 0)),  # Saturday: next Thursday
    ],
    ids=["monday", "thursday-morning", "at-the-time", "just-after", "saturday"],
)
def test_the_next_meeting_is_the_coming_meeting_day_at_the_meeting_time(thursdays_at_two, now, meeting):
    agenda = approvals.cab_agenda(now=now)
    assert agenda.meeting_at == meeting
    assert agenda.following_meeting_at == meeting + timedelta(days=7)


def test_the_meeting_keeps_its_wall_clock_time_across_a_daylight_saving_change(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    settings.CHANGE_CAB_MEETING_WEEKDAY = 3
    settings.CHANGE_CAB_MEETING_TIME = "14:00"
    agenda = approvals.cab_agenda(now=utc(2025, 3, 27, 14, 0))  # 15:00 in Berlin (CET): just missed
    assert agenda.meeting_at == utc(2025, 4, 3, 12, 0)  # 14:00 CEST, summer time since 30 March
    assert agenda.following_meeting_at == utc(2025, 4, 10, 12, 0)
    earlier = approvals.cab_agenda(now=utc(2025, 3, 24, 8, 0))
    assert (earlier.meeting_at, earlier.following_meeting_at) == (utc(2025, 3, 27, 13, 0), utc(2025, 4, 3, 12, 0))


def test_another_weekday_and_time_from_the_settings(settings):
    settings.TIME_ZONE = "UTC"
    settings.CHANGE_CAB_MEETING_WEEKDAY = 0
    settings.CHANGE_CAB_MEETING_TIME = "09:15"
    assert approvals.cab_agenda(now=utc(2025, 3, 5, 12, 0)).meeting_at == utc(2025, 3, 10, 9, 15)


# --- what ---------------------------------------------------------------------------------------


@pytest.fixture
def submit(maria, network_team):
    """``submit(requester, risk=, days=, type=)``: a change for the Network team planned ``days``
    from now and moved to ``authorize``."""

    def make(requester, *, risk=None, days=3, type="normal"):
        start = timezone.now() + timedelta(days=days)
        answers = [q.options.order_by("score").first().pk for q in RiskQuestion.objects.filter(active=True)]
        change = new_change(
            requester,
            type=type,
            assignment_team=network_team,
            planned_start=start,
            planned_end=start + timedelta(hours=2),
            risk_answers=answers,
            **PLANS,
        )
        if risk:
            change_services.override_risk(change, user=maria, level=risk, reason="CAB chair's judgement.")
        if type == "normal":
            change_services.transition(change, "assess", user=requester)
        change_services.transition(change, "authorize", user=requester)
        change.refresh_from_db()
        return change

    return make


def test_the_agenda_lists_what_awaits_the_cab_the_reviews_and_the_forward_schedule(
    alice, nina, carol, cab, ecab, submit
):
    at_cab = submit(alice, risk="moderate")
    approvals.decide(at_cab, user=nina, decision="approved")  # technical review done: the CAB's turn
    in_review_first = submit(alice, risk="moderate")  # still in its technical review
    emergency = submit(alice, type="emergency")  # the emergency CAB is a CAB stage too
    soon = submit(alice, days=2)
    approvals.decide(soon, user=nina, decision="approved")
    far = submit(alice, days=40)
    approvals.decide(far, user=nina, decision="approved")
    implementing = submit(alice, days=1)
    approvals.decide(implementing, user=nina, decision="approved")
    change_services.transition(implementing, "implement", user=alice)
    reviewed = submit(alice, days=1)
    approvals.decide(reviewed, user=nina, decision="approved")
    change_services.transition(reviewed, "implement", user=alice)
    change_services.transition(reviewed, "review", user=alice, close_code="unsuccessful")

    agenda = approvals.cab_agenda()

    assert agenda.meeting_at > timezone.now()
    assert [c.pk for c in agenda.awaiting] == [at_cab.pk, emergency.pk]
    assert in_review_first.pk not in {c.pk for c in agenda.awaiting}
    assert [c.pk for c in agenda.reviews] == [reviewed.pk]
    assert [c.pk for c in agenda.forward_schedule] == [implementing.pk, soon.pk]
    assert far.pk not in {c.pk for c in agenda.forward_schedule}


def test_a_change_leaves_the_cab_list_once_the_cab_approves_it(alice, nina, carol, cab, submit):
    change = submit(alice, risk="moderate")
    approvals.decide(change, user=nina, decision="approved")
    assert list(approvals.cab_agenda().awaiting) == [change]
    approvals.decide(change, user=carol, decision="approved")
    assert not approvals.cab_agenda().awaiting.exists()
    assert list(approvals.cab_agenda().forward_schedule) == [change]


def test_an_empty_agenda_has_empty_lists(thursdays_at_two):
    agenda = approvals.cab_agenda(now=utc(2025, 3, 3))
    assert not agenda.awaiting.exists() and not agenda.reviews.exists() and not agenda.forward_schedule.exists()
