"""Webhooks through the real machinery: ``notify`` in a transaction, the commit, the Redis broker, a
Celery worker process, a local HTTP receiver that answers 500 twice — retried with backoff on the
queue the delivery came from, until it succeeds; and two workers racing for one attempt.

The worker listens on a queue of its own (``itest.<random>``); this process routes
``deliver_webhook`` there for the test, and the worker queues each retry back to the queue the
attempt came from.
"""

import os
import sys
import threading
import time
import uuid

import pytest
from django.conf import settings
from django.db import connection, transaction

from itom import webhooks
from itom.celery import app as celery_app
from itom.choices import DeliveryState
from itom.models import WebhookDelivery
from itom.notifications import notify
from tests.factories import UserFactory, WebhookEndpointFactory
from tests.integration.processes import BIN, Process
from tests.integration.test_celery_worker import READY_TIMEOUT, _delete_queue, database_url
from tests.itom import notifying

receiver = notifying.receiver
sample_events = notifying.sample_events

SECRET = "s3cret-for-tests"


@pytest.fixture
def webhook_worker(transactional_db):
    """A worker on a fresh queue with a 1-second backoff, and ``deliver_webhook`` routed to it."""
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "this test needs Redis (CELERY_BROKER_URL)"
    assert not celery_app.conf.task_always_eager, "tasks must go through the broker"
    queue = f"itest.{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "WEBHOOK_BACKOFF_SECONDS": "1",
        "WEBHOOK_MAX_ATTEMPTS": "5",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    process = Process(
        [
            str(BIN / "celery"),
            "-A",
            "itom",
            "worker",
            "--queues",
            queue,
            "--pool",
            "solo",
            "-l",
            "INFO",
            "--hostname",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env,
    )
    routes = celery_app.conf.task_routes
    celery_app.conf.task_routes = {**routes, "itom.tasks.deliver_webhook": {"queue": queue}}
    celery_app.amqp.flush_routes()
    celery_app.amqp.router = celery_app.amqp.Router()
    try:
        process.wait_for_output(" ready.", READY_TIMEOUT)
        yield queue
    finally:
        celery_app.conf.task_routes = routes
        celery_app.amqp.flush_routes()
        celery_app.amqp.router = celery_app.amqp.Router()
        process.stop()
        print(f"--- worker output ---\n{process.output}", file=sys.stderr)
        _delete_queue(queue)


@pytest.mark.integration
@pytest.mark.timeout(180)
def test_a_worker_delivers_after_commit_and_retries_a_failing_receiver(webhook_worker, receiver, sample_events):
    hook = receiver(secret=SECRET, statuses=[500, 500])
    endpoint = WebhookEndpointFactory(url=hook.url, secret=SECRET)
    alice = UserFactory(username="alice")

    with transaction.atomic():
        notify("test.created", None, recipients=[alice], title="Printer on fire", body="It smokes.")
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert hook.requests == []  # nothing leaves before the commit

    requests = hook.wait_for(3, timeout=60)
    assert [r.status for r in requests] == [500, 500, 200]
    assert all(r.signature_ok for r in requests)
    assert {r.headers["x-itom-delivery"] for r in requests} == {str(delivery.pk)}
    assert requests[0].json()["title"] == "Printer on fire"
    for _ in range(100):  # the worker records the outcome just after the receiver answered
        delivery.refresh_from_db()
        if delivery.state == DeliveryState.SUCCEEDED:
            break
        time.sleep(0.1)
    assert delivery.state == DeliveryState.SUCCEEDED
    assert delivery.attempts == 3 and delivery.response_status == 200


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_one_attempt_send_it_once(receiver):
    hook = receiver()
    delivery = WebhookDelivery.objects.create(
        endpoint=WebhookEndpointFactory(url=hook.url), event="test.created", payload={"title": "Once"}
    )
    start = threading.Barrier(4)
    outcomes = []

    def worker():
        try:
            start.wait()
            outcomes.append(webhooks.attempt(delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(outcomes) == 4
    assert sum(outcome is not None for outcome in outcomes) == 1
    assert len(hook.requests) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.state == DeliveryState.SUCCEEDED
