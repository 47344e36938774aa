"""The monitoring loop with real processes: a Celery beat (django-celery-beat's database
scheduler, dispatching every second) and a Celery worker (``-Q default,poll.default``, prefork)
on Redis, writing to the test database on PostgreSQL, polling real local listeners.

(a) A listener goes down → the check goes down and one incident opens; it comes back → the alert
    and the incident resolve.
(b) A worker killed with SIGKILL in the middle of a batch: once the batch's leases expire, the
    next dispatch claims its checks again and a new worker runs them — none waits longer than its
    lease (due time + timeout + ``MONITORING_RECLAIM_SECONDS``) plus a dispatch period — and the
    dead batch stores nothing: one result per check, no second incident.

Both use this run's Redis database (the worker consumes the real ``default`` and ``poll.default``
queues, emptied before and after). The processes' output is printed when a test fails.
"""

import contextlib
import importlib
import os
import signal
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.apps import apps as django_apps
from django.conf import settings
from django.utils import timezone

from incidents.models import Incident
from itom.celery import app as celery_app
from monitoring import params as check_params
from monitoring.models import Alert, Check, CheckResult
from monitoring.probes import Outcome
from monitoring.services import engine
from tests.integration.processes import BIN, Process
from tests.integration.test_celery_worker import database_url
from tests.monitoring.factories import CheckFactory, default_zone
from tests.monitoring.servers import HTTPServer, TCPServer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

CELERY = str(BIN / "celery")
READY_TIMEOUT = 60
DISPATCH_SECONDS = 1
RECLAIM_SECONDS = 5
QUEUES = ("default", "poll.default")


# --- processes ------------------------------------------------------------------------------------


def _empty_queues():
    """Drop the queues this test's worker consumes, and unacknowledged messages, from Redis."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        client.delete(*QUEUES, "unacked", "unacked_index", "unacked_mutex")
    finally:
        client.close()


@pytest.fixture
def loop(transactional_db, tmp_path):
    """Starts a beat (``loop.beat()``) and workers (``loop.worker()``) on the test database; stops
    whatever is still running at the end."""
    assert settings.CELERY_BROKER_URL.startswith("redis://"), "this test needs Redis (CELERY_BROKER_URL)"
    assert not celery_app.conf.task_always_eager, "tasks must go through the broker"
    for migration in ("cmdb.migrations.0002_catalogue", "incidents.migrations.0002_priority_matrix"):
        importlib.import_module(migration).seed(django_apps, None)
    default_zone()
    _empty_queues()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MONITORING_DISPATCH_SECONDS": str(DISPATCH_SECONDS),
        "MONITORING_RECLAIM_SECONDS": str(RECLAIM_SECONDS),
        "MONITORING_CONCURRENCY": "50",
    }
    env.pop("CELERY_TASK_ALWAYS_EAGER", None)
    processes = []

    class Loop:
        def beat(self):
            process = Process(
                [CELERY, "-A", "itom", "beat", "-l", "INFO", "--pidfile", str(tmp_path / "beat.pid"),
                 "--schedule", str(tmp_path / "beat-schedule")],
                env,
            )  # fmt: skip
            processes.append(process)
            process.wait_for_output("beat: Starting", READY_TIMEOUT)
            return process

        def worker(self, name):
            process = Process(
                [CELERY, "-A", "itom", "worker", "-Q", ",".join(QUEUES), "--pool", "prefork", "--concurrency", "3",
                 "-l", "INFO", "--hostname", f"{name}-{os.getpid()}@%h",
                 "--without-gossip", "--without-mingle", "--without-heartbeat"],
                env,
            )  # fmt: skip
            processes.append(process)
            process.wait_for_output(" ready.", READY_TIMEOUT)
            return process

    try:
        yield Loop()
    finally:
        for process in reversed(processes):
            process.stop()
        _empty_queues()


def descendants(pid):
    """The pids of ``pid``'s children, grandchildren, … (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def kill_hard(process):
    """SIGKILL a worker and its pool processes at once: nothing of it runs on, nothing is acked."""
    pids = [process.popen.pid, *descendants(process.popen.pid)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.popen.wait(10)


def wait_for(condition, timeout, what, processes=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        for process in processes:
            process.check_running()
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


# --- a listener that can go down and come back on the same port -----------------------------------


class Listener:
    """A TCP port on 127.0.0.1 that accepts connections (and closes them) until ``close()``,
    then refuses them until ``open()`` — on the same port."""

    def __init__(self):
        self.port = 0
        self.open()

    def open(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.close()

    def close(self):
        if not self.stopped.is_set():
            self.stopped.set()
            self.thread.join(5)
            self.sock.close()


# --- (a) down → one incident → back → resolved ---------------------------------------------------


def test_a_listener_going_down_opens_one_incident_and_coming_back_resolves_it(loop):
    listener = Listener()
    try:
        check = CheckFactory(
            name="Router SSH",
            target="127.0.0.1",
            port=listener.port,
            interval=2,
            retry_interval=1,
            timeout=1,
            max_attempts=2,
            recovery_threshold=2,
            next_due_at=timezone.now(),
        )
        fingerprint = f"check:{check.pk}"
        beat = loop.beat()
        worker = loop.worker("monitor")
        running = (beat, worker)

        wait_for(lambda: Check.objects.get(pk=check.pk).state == "up", 30, "the check goes up", running)

        listener.close()
        alert = wait_for(
            lambda: Alert.objects.filter(monitor=check, status="firing", incident__isnull=False).first(),
            30,
            "an incident opens",
            running,
        )
        check.refresh_from_db()
        assert (check.state, check.state_type) == ("down", "hard")
        # It keeps failing: the alert counts the reports, the incident stays the one.
        wait_for(lambda: Alert.objects.get(pk=alert.pk).occurrences >= 3, 30, "more failures are reported", running)
        assert Incident.objects.filter(alert_fingerprint=fingerprint).count() == 1
        assert Alert.objects.filter(fingerprint=fingerprint).count() == 1

        listener.open()
        wait_for(lambda: Alert.objects.get(pk=alert.pk).status == "resolved", 30, "the alert resolves", running)
        incident = Incident.objects.get(alert_fingerprint=fingerprint)
        assert incident.state == "resolved"
        check.refresh_from_db()
        assert (check.state, check.state_type, check.consecutive_ok >= 2) == ("up", "hard", True)
        assert Incident.objects.filter(alert_fingerprint=fingerprint).count() == 1
    finally:
        listener.close()


# --- (b) a worker killed mid-batch -------------------------------------------------------------


def test_a_worker_killed_mid_batch_loses_no_check_beyond_its_lease_and_duplicates_nothing(loop):
    slow = HTTPServer()  # answers /slow after the seconds asked for
    silent = TCPServer(hold=True)  # takes the request and never answers
    try:
        url, _, http = check_params.clean("http", slow.url("/slow?seconds=3"), None, {})
        _, port, tcp = check_params.clean("tcp", "127.0.0.1", silent.port, {"send": "ping\n", "expect": "pong"})
        start_later = timezone.now() + timedelta(hours=1)
        slow_checks = [
            CheckFactory(
                kind="http", target=url, port=None, params=http, timeout=6, interval=300, next_due_at=start_later
            )
            for _ in range(3)
        ]
        failing = [CheckFactory(params=tcp, port=port, timeout=4, interval=300, max_attempts=1) for _ in range(2)]
        checks = slow_checks + failing
        Check.objects.filter(pk__in=[c.pk for c in checks]).update(next_due_at=start_later)
        # The failing ones are down already, with their incident open.
        engine.record([(check, Outcome("down", None, "no answer", time.time() - 60)) for check in failing])
        incidents = {check.pk: Alert.objects.get(monitor=check).incident_id for check in failing}
        assert all(incidents.values())

        beat = loop.beat()
        first = loop.worker("doomed")
        due = timezone.now() + timedelta(seconds=1)
        Check.objects.filter(pk__in=[c.pk for c in checks]).update(next_due_at=due)

        # The batch is running on the first worker (claimed, past its due time, nothing recorded).
        def in_flight():
            rows = Check.objects.filter(pk__in=[c.pk for c in checks])
            return all(c.claimed_until is not None for c in rows) and timezone.now() > due + timedelta(seconds=1)

        wait_for(in_flight, 30, "the batch starts", (beat, first))
        leases = {c.pk: c.claimed_until for c in Check.objects.filter(pk__in=[c.pk for c in checks])}
        kill_hard(first)
        assert not CheckResult.objects.filter(monitor__in=checks, at__gte=due - timedelta(seconds=1)).exists()

        second = loop.worker("rescuer")
        running = (beat, second)

        def all_ran_again():
            return CheckResult.objects.filter(monitor__in=checks, at__gte=due).values("monitor").distinct().count() == 5

        wait_for(all_ran_again, 60, "the checks run again on the new worker", running)
        time.sleep(3 * DISPATCH_SECONDS)  # time for a duplicate to show, if there were one

        for check in checks:
            runs = list(CheckResult.objects.filter(monitor=check, at__gte=due).order_by("at"))
            assert len(runs) == 1, f"{check.name}: {len(runs)} results after the kill"
            # Reclaimed once its lease expired, at the next dispatch: never later than the lease
            # plus a dispatch period (and two seconds for the worker to take the batch and start).
            assert runs[0].at <= leases[check.pk] + timedelta(seconds=DISPATCH_SECONDS + 2)
            assert runs[0].at >= leases[check.pk] - timedelta(seconds=0.5)
        assert {r.status for r in CheckResult.objects.filter(monitor__in=slow_checks, at__gte=due)} == {"up"}
        for check in failing:
            alert = Alert.objects.get(monitor=check)
            assert (alert.status, alert.occurrences, alert.incident_id) == ("firing", 2, incidents[check.pk])
            assert Incident.objects.filter(alert_fingerprint=f"check:{check.pk}").count() == 1
    finally:
        slow.close()
        silent.close()
