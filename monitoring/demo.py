"""Demo monitoring for ``manage.py seed_demo``: live checks against the portal's own server and
local ports — one failing on purpose, so the demo shows the loop (check down → alert → incident
for the owner team; start something on the port and the incident resolves by itself) — a
heartbeat, a weekly maintenance window and two metric rules.

Runs last (INSTALLED_APPS order), through the services. Idempotent: a check, window or rule is
looked up by its name; those that exist are left as they are. The portal's port is ``$PORT``
(``make run`` exports it; 8000 otherwise).
"""

import os
from datetime import time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from cmdb.models import CI, CIClass
from monitoring.choices import CheckKind, Operator, RuleKind, Severity
from monitoring.models import Check, MaintenanceWindow, MetricRule
from monitoring.services import checks, maintenance

# The port nothing listens on: the demo's failing check (TCP "discard", unused nowadays).
FAILING_PORT = 9


def _port():
    try:
        return int(os.environ.get("PORT", "8000"))
    except ValueError:
        return 8000


def _demo_checks(port):
    """``(CI name, check name, fields)`` of the demo's checks."""
    return [
        (
            "k8s-prod",
            "Portal web page",
            {
                "kind": CheckKind.HTTP,
                "target": f"http://127.0.0.1:{port}/livez",
                "params": {"expected_status": ["200"], "keyword": "ok", "latency_warning_ms": 500},
                "severity": Severity.CRITICAL,
            },
        ),
        (
            "k8s-prod",
            "Portal TCP port",
            {"kind": CheckKind.TCP, "target": "127.0.0.1", "port": port, "severity": Severity.MAJOR},
        ),
        (
            "hv-01",
            "Loopback ping",
            {"kind": CheckKind.ICMP, "target": "127.0.0.1", "params": {"count": 1}, "severity": Severity.MINOR},
        ),
        (
            "shop-web-stg-01",
            "Staging shop port (fails on purpose)",
            {
                "kind": CheckKind.TCP,
                "target": "127.0.0.1",
                "port": FAILING_PORT,
                "severity": Severity.MAJOR,
                "max_attempts": 2,
                "retry_interval": 15,
            },
        ),
        (
            "stor-01",
            "Nightly backup",
            {"kind": CheckKind.HEARTBEAT, "params": {"period": 24 * 3600, "grace": 3600}, "severity": Severity.MAJOR},
        ),
    ]


def seed(stdout):
    cis = {ci.name: ci for ci in CI.objects.filter(name__in={name for name, _, _ in _demo_checks(0)})}
    if not cis:
        stdout.write("Monitoring: skipped (the demo CIs are missing).")
        return
    manager = get_user_model()._default_manager.filter(username="mia.manager").first()
    made = 0
    for ci_name, name, fields in _demo_checks(_port()):
        ci = cis.get(ci_name)
        if ci is None or Check.objects.filter(ci=ci, name=name).exists():
            continue
        checks.create_check(user=manager, name=name, ci=ci, interval=60, timeout=5, **fields)
        made += 1

    if not MaintenanceWindow.objects.filter(name="Sunday patching").exists():
        windows = list(CIClass.objects.filter(slug="windows-server"))
        targets = {"ci_classes": windows} if windows else {"cis": list(cis.values())[:1]}
        maintenance.create_window(
            user=manager,
            name="Sunday patching",
            reason="Operating system updates and reboots.",
            recurrence="weekly",
            start=timezone.now() - timedelta(days=1),
            weekdays=[6],
            start_time=time(2, 0),
            duration_minutes=180,
            **targets,
        )
        made += 1

    database = CI.objects.filter(name="pg-01").first()
    rules = [
        (
            "Disk almost full",
            {
                "metric": "disk_used_percent",
                "kind": RuleKind.THRESHOLD,
                "operator": Operator.ABOVE,
                "threshold": 90,
                "for_minutes": 10,
                "severity": Severity.MAJOR,
            },
        ),
        (
            "Unusual query latency",
            {"metric": "query_latency_ms", "kind": RuleKind.BASELINE, "ci": database, "severity": Severity.WARNING},
        ),
    ]
    for name, fields in rules:
        if not MetricRule.objects.filter(name=name).exists():
            rule = MetricRule(name=name, **fields)
            rule.full_clean()
            rule.save()
            made += 1
    stdout.write(f"Monitoring: {made} checks, windows and rules added.")
