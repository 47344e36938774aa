"""Shared helpers of the SLA tests: instants in a zone, subjects, a calendar and policy."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from slas.selectors import forget_schedules
from slas.services import Subject

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def paris(*args):
    return dt.datetime(*args, tzinfo=PARIS)


def subject(priority=3, state="new", team_id=None, **fields):
    return Subject(priority=priority, state=state, team_id=team_id, **fields)


@pytest.fixture(autouse=True)
def _fresh_schedules():
    """Calendars are cached by id and update time: start every test from an empty cache."""
    forget_schedules()
    yield
    forget_schedules()
