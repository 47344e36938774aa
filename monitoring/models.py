"""Monitoring: zones, checks and their results and hourly rollups, alerts, maintenance windows,
inbound integrations, pushed metrics and the rules that watch them.

A check's runtime state (``state``, ``state_type``, ``attempt``, the lease of the batch that runs
it) lives on the check row itself, so the poller reads and writes one row per check; results are
append-only rows, rolled up per hour and pruned after ``MONITORING_RESULT_RETENTION_DAYS``.
"""

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from itom.models import ChangeLoggedModel, TimeStampedModel
from monitoring.choices import (
    AlertSource,
    AlertStatus,
    CheckKind,
    CheckState,
    IntegrationKind,
    Operator,
    Recurrence,
    ResultStatus,
    RuleKind,
    Severity,
    StateType,
    Suppression,
)


class Zone(ChangeLoggedModel):
    """A network the poller reaches from one place. A zone's checks go to the Celery queue
    ``poll.<name>``; a worker started with ``-Q poll.<name>`` inside that network polls them."""

    name = models.CharField(
        max_length=50,
        unique=True,
        validators=[RegexValidator(r"^[a-z0-9][a-z0-9_-]*$", "Lower-case letters, digits, - and _.")],
    )
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def queue(self):
        return f"poll.{self.name}"


class Check(ChangeLoggedModel):
    """One thing to watch on a CI. ``params`` holds the kind's own settings (validated per kind by
    ``monitoring.params``); the runtime fields below it are written by the poller."""

    # Written by the poller (read-only everywhere else), and with every run: kept out of the audit
    # trail. The admin, the API and the pages list them from here.
    RUNTIME_FIELDS = (
        "state",
        "state_type",
        "attempt",
        "consecutive_ok",
        "history",
        "flapping",
        "flap_percent",
        "last_checked_at",
        "last_status",
        "last_message",
        "last_latency_ms",
        "last_state_change_at",
        "next_due_at",
        "claimed_until",
        "last_ping_at",
        "last_start_at",
    )
    audit_exclude = (*RUNTIME_FIELDS, "updated_at")

    name = models.CharField(max_length=200)
    ci = models.ForeignKey("cmdb.CI", on_delete=models.CASCADE, related_name="checks", verbose_name="CI")
    kind = models.CharField(max_length=10, choices=CheckKind.choices)
    target = models.CharField(
        max_length=500, blank=True, help_text="Host name or IP (ICMP, TCP, TLS, DNS name to query) or URL (HTTP)."
    )
    port = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[
            MinValueValidator(1, "Ports run from 1 to 65535."),
            MaxValueValidator(65535, "Ports run from 1 to 65535."),
        ],
    )
    params = models.JSONField(default=dict, blank=True)
    interval = models.PositiveIntegerField(default=60, help_text="Seconds between runs.")
    timeout = models.FloatField(default=10, help_text="Seconds before a run gives up.")
    max_attempts = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Failures in a row before the problem is hard (and alerts).",
    )
    retry_interval = models.PositiveIntegerField(default=30, help_text="Seconds between runs while a problem is soft.")
    recovery_threshold = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Successes in a row that resolve the alert.",
    )
    auto_resolve = models.BooleanField(
        default=True, help_text="Resolve the incident on recovery when nobody has taken it over."
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    zone = models.ForeignKey(Zone, on_delete=models.PROTECT, related_name="checks")
    enabled = models.BooleanField(default=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="Heartbeat ping key.")

    # --- runtime (the poller's) ---
    state = models.CharField(max_length=12, choices=CheckState.choices, default=CheckState.PENDING, db_index=True)
    state_type = models.CharField(max_length=4, choices=StateType.choices, default=StateType.HARD)
    attempt = models.PositiveSmallIntegerField(default=0, help_text="Problem results in a row.")
    consecutive_ok = models.PositiveSmallIntegerField(default=0)
    history = models.CharField(
        max_length=32, blank=True, default="", help_text="Recent statuses, oldest first (U, W, D, X)."
    )
    flapping = models.BooleanField(default=False)
    flap_percent = models.FloatField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=8, choices=ResultStatus.choices, blank=True)
    last_message = models.CharField(max_length=500, blank=True)
    last_latency_ms = models.FloatField(null=True, blank=True)
    last_state_change_at = models.DateTimeField(null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_ping_at = models.DateTimeField(null=True, blank=True)
    last_start_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The dispatcher's claim: enabled checks by due time.
            models.Index(fields=["next_due_at"], condition=Q(enabled=True), name="monitoring_check_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(port__isnull=True) | Q(port__gte=1, port__lte=65535),
                name="monitoring_check_port_range",
                violation_error_message="Ports run from 1 to 65535.",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("monitoring:check_detail", args=[self.pk])


class CheckResult(models.Model):
    """One run of a check (append-only; pruned after the retention)."""

    # ``check`` would shadow ``Model.check()``: the check a result, rollup or alert belongs to is
    # its ``monitor`` (the API calls it ``check``).
    monitor = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="results")
    at = models.DateTimeField(help_text="When the run started.")
    status = models.CharField(max_length=8, choices=ResultStatus.choices)
    latency_ms = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)
    lag_ms = models.FloatField(null=True, blank=True, help_text="Start after the due time (scheduling lag).")
    state = models.CharField(
        max_length=12, choices=CheckState.choices, blank=True, help_text="The check's state after."
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["monitor", "-at"], name="monitoring_result_check_at"),
            models.Index(fields=["at"]),
        ]

    def __str__(self):
        return f"{self.monitor_id} {self.status} at {self.at:%Y-%m-%d %H:%M:%S}"


class CheckRollup(models.Model):
    """A check's results over one hour: for uptime and latency over months."""

    monitor = models.ForeignKey(Check, on_delete=models.CASCADE, related_name="rollups")
    hour = models.DateTimeField()
    count = models.PositiveIntegerField()
    failures = models.PositiveIntegerField()
    latency_min = models.FloatField(null=True, blank=True)
    latency_avg = models.FloatField(null=True, blank=True)
    latency_p95 = models.FloatField(null=True, blank=True)
    latency_max = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-hour"]
        constraints = [models.UniqueConstraint(fields=["monitor", "hour"], name="monitoring_rollup_unique_hour")]

    def __str__(self):
        return f"{self.monitor_id} {self.hour:%Y-%m-%d %H}:00"


class MaintenanceWindow(ChangeLoggedModel):
    """A period in which the checks of some CIs are recorded but open no incident. It covers its
    CIs, every CI of its classes (and their subclasses) and every CI with one of its tags."""

    name = models.CharField(max_length=200)
    reason = models.TextField(blank=True)
    cis = models.ManyToManyField("cmdb.CI", blank=True, related_name="maintenance_windows", verbose_name="CIs")
    ci_classes = models.ManyToManyField("cmdb.CIClass", blank=True, related_name="+", verbose_name="CI classes")
    tags = models.ManyToManyField("cmdb.Tag", blank=True, related_name="+")
    recurrence = models.CharField(max_length=6, choices=Recurrence.choices, default=Recurrence.ONCE)
    # One-off: the period itself. Weekly: the first and last day the window repeats (end optional).
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    # Weekly: the days (0 = Monday … 6 = Sunday) and times, in TIME_ZONE.
    weekdays = models.JSONField(default=list, blank=True)
    start_time = models.TimeField(null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-start", "id"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("monitoring:maintenance_detail", args=[self.pk])


class Alert(TimeStampedModel):
    """One problem, however many times it is reported: a fingerprint, firing until it resolves.
    At most one firing alert per fingerprint (a partial unique index)."""

    fingerprint = models.CharField(max_length=255, db_index=True)
    source = models.CharField(max_length=12, choices=AlertSource.choices)
    status = models.CharField(max_length=8, choices=AlertStatus.choices, default=AlertStatus.FIRING)
    name = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    ci = models.ForeignKey("cmdb.CI", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    monitor = models.ForeignKey(Check, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    rule = models.ForeignKey(
        "monitoring.MetricRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    integration = models.ForeignKey(
        "monitoring.Integration", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    incident = models.ForeignKey(
        "incidents.Incident", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    suppressed = models.CharField(max_length=8, choices=Suppression.choices, blank=True, default="")
    suppressed_by_change = models.ForeignKey(
        "changes.ChangeRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="suppressed_alerts"
    )
    suppressed_by_window = models.ForeignKey(
        MaintenanceWindow, null=True, blank=True, on_delete=models.SET_NULL, related_name="suppressed_alerts"
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The upstream CI's alert this one is attached to (parent down).",
    )

    class Meta:
        ordering = ["-last_seen", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fingerprint"],
                condition=Q(status=AlertStatus.FIRING),
                name="monitoring_alert_one_firing_per_fingerprint",
            ),
        ]
        indexes = [models.Index(fields=["status", "-last_seen"], name="monitoring_alert_status_seen")]

    def __str__(self):
        return f"{self.name} ({self.fingerprint})"

    def get_absolute_url(self):
        return reverse("monitoring:alert_detail", args=[self.pk])


class Integration(ChangeLoggedModel):
    """A sender of alerts, events or metrics, with a token of its own (stored hashed) and rate
    limits: requests and items per minute."""

    audit_exclude = ("token_hash", "last_used_at", "updated_at")

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=IntegrationKind.choices)
    token_prefix = models.CharField(max_length=12, editable=False, db_index=True)
    token_hash = models.CharField(max_length=64, editable=False)
    enabled = models.BooleanField(default=True)
    requests_per_minute = models.PositiveIntegerField(default=600, validators=[MinValueValidator(1)])
    items_per_minute = models.PositiveIntegerField(
        default=20_000, validators=[MinValueValidator(1)], help_text="Alerts, events or samples per minute."
    )
    default_severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("monitoring:integration_detail", args=[self.pk])


class IngestWindow(models.Model):
    """An integration's use in one minute: the rate limit's counter."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    requests = models.PositiveIntegerField(default=0)
    items = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "minute"], name="monitoring_ingest_window_unique")
        ]

    def __str__(self):
        return f"{self.integration_id} {self.minute:%Y-%m-%d %H:%M}: {self.requests} requests, {self.items} items"


class MetricSample(models.Model):
    """One pushed value of a CI's metric."""

    ci = models.ForeignKey("cmdb.CI", on_delete=models.CASCADE, related_name="metric_samples")
    name = models.CharField(max_length=200)
    value = models.FloatField()
    unit = models.CharField(max_length=20, blank=True)
    time = models.DateTimeField()

    class Meta:
        ordering = ["-time"]
        indexes = [models.Index(fields=["ci", "name", "-time"], name="monitoring_sample_series")]

    def __str__(self):
        return f"{self.name}={self.value}{self.unit}"


class MetricRule(ChangeLoggedModel):
    """A rule over pushed metrics. Threshold: the value above/below ``threshold`` for
    ``for_minutes`` → an alert. Baseline: the latest value more than ``mad_factor`` scaled MADs
    from the median of the last ``window_minutes`` → a warning alert. ``ci`` empty = every CI."""

    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=200)
    ci = models.ForeignKey("cmdb.CI", null=True, blank=True, on_delete=models.CASCADE, related_name="metric_rules")
    kind = models.CharField(max_length=10, choices=RuleKind.choices, default=RuleKind.THRESHOLD)
    operator = models.CharField(max_length=5, choices=Operator.choices, default=Operator.ABOVE)
    threshold = models.FloatField(null=True, blank=True)
    for_minutes = models.PositiveIntegerField(default=5)
    window_minutes = models.PositiveIntegerField(default=60)
    mad_factor = models.FloatField(default=5.0, validators=[MinValueValidator(0.5)])
    min_samples = models.PositiveIntegerField(default=10, validators=[MinValueValidator(3)])
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["metric", "name"]

    def __str__(self):
        return self.name

    def clean(self):
        from monitoring.services.metrics import validate_rule

        validate_rule(self)  # the cross-field rules (a threshold rule needs its threshold, …)

    def get_absolute_url(self):
        return reverse("monitoring:rule_detail", args=[self.pk])
