"""Choices of monitoring: check kinds and states, result statuses, alert severities."""

from django.db import models


class CheckKind(models.TextChoices):
    ICMP = "icmp", "ICMP ping"
    TCP = "tcp", "TCP port"
    HTTP = "http", "HTTP(S)"
    TLS = "tls", "TLS certificate"
    DNS = "dns", "DNS record"
    HEARTBEAT = "heartbeat", "Heartbeat (push)"


# Kinds the poller runs; a heartbeat is pushed to the portal and only its silence is polled.
POLLED_KINDS = (CheckKind.ICMP, CheckKind.TCP, CheckKind.HTTP, CheckKind.TLS, CheckKind.DNS)


class ResultStatus(models.TextChoices):
    """What one run of a check found (Nagios' OK / WARNING / CRITICAL / UNKNOWN)."""

    UP = "up", "Up"
    WARNING = "warning", "Warning"
    DOWN = "down", "Down"
    UNKNOWN = "unknown", "Unknown"  # the check could not tell (e.g. ICMP forbidden on the worker)


# The one-letter code of each status in a check's recent history string (flapping detection).
STATUS_CODES = {"up": "U", "warning": "W", "down": "D", "unknown": "X"}
PROBLEM_STATUSES = (ResultStatus.WARNING, ResultStatus.DOWN, ResultStatus.UNKNOWN)


class CheckState(models.TextChoices):
    """A check's state (DESIGN.md §4), plus ``warning`` for a degraded service (latency over its
    threshold, a certificate close to expiry): see docs/monitoring.md."""

    PENDING = "pending", "Pending"  # never run yet
    UP = "up", "Up"
    WARNING = "warning", "Warning"
    DOWN = "down", "Down"
    UNKNOWN = "unknown", "Unknown"
    UNREACHABLE = "unreachable", "Unreachable"  # an upstream CI is down
    MAINTENANCE = "maintenance", "Maintenance"  # under a maintenance window or a change in implement


# Worst first: the overview lists problems first in this order.
STATE_ORDER = {
    CheckState.DOWN: 0,
    CheckState.UNKNOWN: 1,
    CheckState.WARNING: 2,
    CheckState.UNREACHABLE: 3,
    CheckState.MAINTENANCE: 4,
    CheckState.PENDING: 5,
    CheckState.UP: 6,
}
PROBLEM_STATES = (CheckState.DOWN, CheckState.UNKNOWN, CheckState.WARNING, CheckState.UNREACHABLE)


class StateType(models.TextChoices):
    SOFT = "soft", "Soft"  # a problem seen fewer than max_attempts times in a row
    HARD = "hard", "Hard"


class Severity(models.TextChoices):
    """How bad a problem is; a check's severity gives its incident's urgency."""

    CRITICAL = "critical", "Critical"
    MAJOR = "major", "Major"
    MINOR = "minor", "Minor"
    WARNING = "warning", "Warning"
    INFO = "info", "Info"


# Severity → incident urgency (1 high … 3 low). Info alerts open no incident.
SEVERITY_URGENCY = {
    Severity.CRITICAL: 1,
    Severity.MAJOR: 1,
    Severity.MINOR: 2,
    Severity.WARNING: 3,
}
# CI criticality (1 critical … 4 low) → incident impact (1 high … 3 low).
CRITICALITY_IMPACT = {1: 1, 2: 1, 3: 2, 4: 3}


class AlertStatus(models.TextChoices):
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class AlertSource(models.TextChoices):
    CHECK = "check", "Check"
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    EVENTS = "events", "Event API"
    METRIC = "metric", "Metric rule"


class Suppression(models.TextChoices):
    """Why a firing alert opened no incident (yet)."""

    NONE = "", "Not suppressed"
    CHANGE = "change", "Change in implementation"
    WINDOW = "window", "Maintenance window"
    PARENT = "parent", "Upstream CI down"


class Recurrence(models.TextChoices):
    ONCE = "once", "One-off"
    WEEKLY = "weekly", "Weekly"


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", "Prometheus Alertmanager"
    EVENTS = "events", "Generic events"
    METRICS = "metrics", "Pushed metrics"


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", "Threshold"
    BASELINE = "baseline", "Baseline (median/MAD anomaly)"


class Operator(models.TextChoices):
    ABOVE = "above", "Above"
    BELOW = "below", "Below"
