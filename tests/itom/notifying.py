"""Fixtures the notification and webhook tests share (import them into a test module).

- ``sample_events``: three events registered for the test and removed after it:
  ``test.created`` (portal and e-mail), ``test.changed`` (portal only by default) and
  ``test.quiet`` (nothing by default).
- ``eager_celery``: tasks run in the calling thread (Celery's own eager mode) for the test, so a
  page or a service that queues a task sees its effect; the broker path has its own test with a
  real worker (``test_webhooks_worker.py``).
- ``receiver``: ``receiver(**options)`` starts a real local HTTP receiver (see ``webhook_receiver``).
"""

from contextlib import ExitStack

import pytest

from itom import notifications
from itom.celery import app as celery_app
from tests.itom.webhook_receiver import Receiver

SAMPLE_EVENTS = (
    notifications.Event("test.created", "Test thing created"),
    notifications.Event("test.changed", "Test thing changed", default_channels=("in_app",)),
    notifications.Event("test.quiet", "Test thing archived", default_channels=()),
)


@pytest.fixture
def sample_events():
    added = [event for event in SAMPLE_EVENTS if event.key not in {e.key for e in notifications.events()}]
    for event in added:
        notifications.register_event(event)
    try:
        yield {event.key: event for event in SAMPLE_EVENTS}
    finally:
        for event in added:
            notifications._events.pop(event.key, None)


@pytest.fixture
def eager_celery():
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    try:
        yield celery_app
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


@pytest.fixture
def receiver():
    with ExitStack() as stack:
        yield lambda **options: stack.enter_context(Receiver(**options))
