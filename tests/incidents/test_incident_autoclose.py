"""Resolved incidents close by themselves ``INCIDENT_AUTO_CLOSE_DAYS`` after they were resolved
(``incidents.tasks.auto_close_resolved``, hourly from beat) — in the service, and through a real
Celery worker on Redis."""

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from incidents.choices import TimelineKind
from incidents.models import Incident
from incidents.services import incidents as services
from incidents.tasks import auto_close_resolved
from itom.celery_routes import TASK_ROUTES
from tests.factories import open_incident
from tests.integration.test_celery_worker import worker  # noqa: F401 (the real-worker fixture)

pytestmark = pytest.mark.django_db


def resolved(user, days_ago):
    incident = open_incident(user)
    services.transition(incident, "resolved", user=user, resolution_code="solved", note="Done.")
    Incident.objects.filter(pk=incident.pk).update(resolved_at=timezone.now() - timedelta(days=days_ago))
    return incident


def test_incidents_resolved_longer_ago_than_the_setting_close_and_say_why(alice, settings):
    settings.INCIDENT_AUTO_CLOSE_DAYS = 7
    old, recent = resolved(alice, days_ago=8), resolved(alice, days_ago=6)
    assert services.auto_close_resolved() == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.state, recent.state) == ("closed", "resolved")
    assert old.closed_at is not None
    line = old.timeline.filter(kind=TimelineKind.STATE).last()
    assert line.body == "Closed automatically 7 days after it was resolved."
    assert line.author is None and line.author_name == "system"


def test_the_delay_is_configurable(alice, settings):
    incident = resolved(alice, days_ago=2)
    settings.INCIDENT_AUTO_CLOSE_DAYS = 3
    assert services.auto_close_resolved() == 0
    settings.INCIDENT_AUTO_CLOSE_DAYS = 1
    assert services.auto_close_resolved() == 1
    incident.refresh_from_db()
    assert incident.state == "closed"


def test_open_reopened_and_closed_incidents_are_left_alone_and_a_second_run_does_nothing(alice):
    reopened = resolved(alice, days_ago=30)
    services.transition(reopened, "in_progress", user=alice)
    open_incident(alice)
    resolved(alice, days_ago=30)
    assert services.auto_close_resolved() == 1
    assert services.auto_close_resolved() == 0
    reopened.refresh_from_db()
    assert reopened.state == "in_progress"


def test_the_task_closes_them_and_is_routed_and_scheduled(alice):
    incident = resolved(alice, days_ago=settings.INCIDENT_AUTO_CLOSE_DAYS + 1)
    assert auto_close_resolved.apply().get() == 1
    incident.refresh_from_db()
    assert incident.state == "closed"
    assert TASK_ROUTES["incidents.tasks.auto_close_resolved"] == {"queue": "default"}
    schedule = settings.CELERY_BEAT_SCHEDULE["auto-close-resolved-incidents"]
    assert schedule["task"] == "incidents.tasks.auto_close_resolved"


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_a_real_worker_closes_them_and_the_timeline_names_the_task(worker):  # noqa: F811
    from tests.factories import UserFactory

    alice = UserFactory(username="alice")
    incident = resolved(alice, days_ago=settings.INCIDENT_AUTO_CLOSE_DAYS + 1)
    auto_close_resolved.apply_async(queue=worker)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        incident.refresh_from_db()
        if incident.state == "closed":
            break
        time.sleep(0.2)
    assert incident.state == "closed"
    line = incident.timeline.filter(kind=TimelineKind.STATE).last()
    assert line.author_name == "task:incidents.tasks.auto_close_resolved"
