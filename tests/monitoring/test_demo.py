"""The monitoring part of ``manage.py seed_demo`` (monitoring/demo.py): live checks against the
portal's own port and local ports — one failing on purpose — a heartbeat, a weekly maintenance
window and two metric rules; once, however many times it runs."""

from io import StringIO

import pytest
from django.core.management import call_command

from monitoring.models import Check, MaintenanceWindow, MetricRule
from monitoring.probes import CheckSpec, run_once

pytestmark = pytest.mark.django_db


def seed_demo():
    call_command("seed_demo", stdout=StringIO())


def counts():
    return Check.objects.count(), MaintenanceWindow.objects.count(), MetricRule.objects.count()


def test_the_demo_has_live_checks_on_its_own_port_a_heartbeat_a_window_and_rules(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    seed_demo()
    checks = {check.name: check for check in Check.objects.select_related("ci")}
    assert checks["Portal web page"].target == "http://127.0.0.1:8123/livez"
    assert checks["Portal TCP port"].port == 8123
    assert checks["Nightly backup"].kind == "heartbeat" and checks["Nightly backup"].next_due_at is not None
    assert all(check.enabled and check.next_due_at is not None for check in checks.values())
    weekly = MaintenanceWindow.objects.get(name="Sunday patching")
    assert weekly.recurrence == "weekly" and weekly.weekdays == [6]
    assert set(MetricRule.objects.values_list("kind", flat=True)) == {"threshold", "baseline"}


def test_the_check_that_fails_on_purpose_really_fails():
    seed_demo()
    failing = Check.objects.get(name="Staging shop port (fails on purpose)")
    outcome = run_once(CheckSpec.of(failing))
    assert outcome.status == "down", outcome.message


def test_running_the_demo_twice_changes_nothing():
    seed_demo()
    first = counts()
    seed_demo()
    assert counts() == first
