"""What the change API tests share: URLs, a low-risk questionnaire, and changes made and moved the
way the product does it (``changes.services.changes``)."""

from datetime import timedelta

from django.utils import timezone

from changes.models import RiskQuestion
from changes.services import changes as change_services
from tests.factories import new_change

CHANGES = "/api/v1/changes/"
AGENTS_AND_UP = ("alice", "bob", "maria", "root")
MANAGERS = ("maria", "root")


def url(change, action=""):
    return f"{CHANGES}{change.pk}/{action + '/' if action else ''}"


def lowest_answers():
    """The zero-point option of every active risk question (a low-risk questionnaire)."""
    return [q.options.order_by("score", "order").first().pk for q in RiskQuestion.objects.filter(active=True)]


def window(days=3, hours=2):
    start = (timezone.now() + timedelta(days=days)).replace(microsecond=0)
    return start, start + timedelta(hours=hours)


def ready_change(requester, team, **fields):
    """A normal change ready for approval: plans, a window three days ahead, the questionnaire
    answered with the lowest options (low risk → the team's technical review)."""
    start, end = window()
    fields.setdefault("assignment_team", team)
    fields.setdefault("planned_start", start)
    fields.setdefault("planned_end", end)
    fields.setdefault("implementation_plan", "Upgrade the firmware.")
    fields.setdefault("backout_plan", "Flash the previous image.")
    fields.setdefault("risk_answers", lowest_answers())
    return new_change(requester, **fields)


def submitted_change(requester, team, **fields):
    """``ready_change`` moved to ``authorize`` (its approval round started)."""
    change = ready_change(requester, team, **fields)
    if change.type == "normal":
        change = change_services.transition(change, "assess", user=requester)
    change = change_services.transition(change, "authorize", user=requester)
    change.refresh_from_db()
    return change
