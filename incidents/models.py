"""Incidents, their timeline and attachments, problems and known errors, and the priority matrix.

Every state change goes through ``incidents.services`` (DESIGN.md §7); the transition tables
are in ``incidents.choices``.
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericRelation
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from incidents.choices import (
    HoldReason,
    Impact,
    IncidentState,
    Priority,
    ProblemState,
    ProblemTimelineKind,
    ResolutionCode,
    Source,
    TimelineKind,
    Urgency,
)
from itom.models import ChangeLoggedModel, NumberedModel, TimeStampedModel


class PriorityRule(ChangeLoggedModel):
    """One cell of the ITIL priority matrix: impact × urgency → priority. Managers edit it."""

    impact = models.PositiveSmallIntegerField(choices=Impact.choices)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices)

    class Meta:
        ordering = ["impact", "urgency"]
        constraints = [models.UniqueConstraint(fields=["impact", "urgency"], name="incidents_priority_rule_unique")]

    def __str__(self):
        return f"Impact {self.impact} × urgency {self.urgency} → P{self.priority}"


class Category(ChangeLoggedModel):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class Incident(NumberedModel, ChangeLoggedModel):
    number_prefix = "INC"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(max_length=12, choices=IncidentState.choices, default=IncidentState.NEW)
    impact = models.PositiveSmallIntegerField(choices=Impact.choices, default=Impact.LOW)
    urgency = models.PositiveSmallIntegerField(choices=Urgency.choices, default=Urgency.LOW)
    priority = models.PositiveSmallIntegerField(
        choices=Priority.choices,
        default=Priority.PLANNING,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="From the priority matrix (impact × urgency).",
    )
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="incidents")
    caller = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    caller_contact = models.CharField(
        max_length=200, blank=True, help_text="A caller who is not a user: name, e-mail or phone."
    )
    assignment_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_incidents"
    )
    affected_cis = models.ManyToManyField("cmdb.CI", blank=True, related_name="incidents", verbose_name="affected CIs")
    affected_services = models.ManyToManyField(
        "cmdb.CI",
        blank=True,
        related_name="service_incidents",
        verbose_name="affected business services",
        help_text="Derived from the CMDB: the business services that depend on the affected CIs.",
    )
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.MANUAL)
    hold_reason = models.CharField(max_length=20, choices=HoldReason.choices, blank=True)
    resolution_code = models.CharField(max_length=20, choices=ResolutionCode.choices, blank=True)
    resolution_notes = models.TextField(blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    watchers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="watched_incidents")
    is_major = models.BooleanField(default=False, verbose_name="major incident")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="The major incident this one is part of.",
    )
    problem = models.ForeignKey(
        "incidents.Problem", null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    alert_fingerprint = models.CharField(
        max_length=255,
        blank=True,
        default="",
        editable=False,
        help_text="The monitoring problem that opened this incident (one open incident per fingerprint).",
    )
    sla_clocks = GenericRelation("slas.SLAClock", related_query_name="incident")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "priority"]),
            models.Index(fields=["assignment_team", "state"]),
            models.Index(fields=["assignee", "state"]),
            models.Index(fields=["resolved_at"], condition=Q(state="resolved"), name="incidents_resolved_at"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="incidents_incident_not_own_parent"),
            # One open incident per monitoring problem (``services.alerts.open_from_alert``).
            models.UniqueConstraint(
                fields=["alert_fingerprint"],
                condition=~Q(alert_fingerprint="") & Q(state__in=["new", "in_progress", "on_hold"]),
                name="incidents_one_open_per_alert_fingerprint",
            ),
        ]

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("incidents:incident_detail", args=[self.pk])


class Attachment(TimeStampedModel):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="attachments/%Y/%m/")
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return self.name


class TimelineEntry(models.Model):
    """One line of an incident's timeline: a comment or work note, a state change, an
    assignment, an attachment, an SLA event or a major-incident update."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    time = models.DateTimeField(db_index=True)
    kind = models.CharField(max_length=12, choices=TimelineKind.choices)
    public = models.BooleanField(default=False, help_text="Visible to the caller (comments); work notes are not.")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    author_name = models.CharField(max_length=150, help_text="The user, or the task or system that acted.")
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    attachment = models.ForeignKey(Attachment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    origin = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="copies",
        help_text="The parent's entry this one repeats (major incident updates).",
    )

    class Meta:
        ordering = ["time", "id"]
        verbose_name = "timeline entry"
        verbose_name_plural = "timeline entries"
        indexes = [models.Index(fields=["incident", "time"])]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.incident_id} at {self.time:%Y-%m-%d %H:%M}"


class Problem(NumberedModel, ChangeLoggedModel):
    number_prefix = "PRB"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(max_length=20, choices=ProblemState.choices, default=ProblemState.NEW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.MODERATE)
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT, related_name="problems")
    assignment_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="problems"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_problems"
    )
    affected_cis = models.ManyToManyField("cmdb.CI", blank=True, related_name="problems", verbose_name="affected CIs")
    root_cause = models.TextField(blank=True)
    workaround = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "priority"])]

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("incidents:problem_detail", args=[self.pk])


class KnownError(NumberedModel, ChangeLoggedModel):
    """A problem whose root cause and workaround are known, kept so the desk can match new
    incidents to it."""

    number_prefix = "KE"

    title = models.CharField(max_length=200)
    problem = models.ForeignKey(Problem, null=True, blank=True, on_delete=models.SET_NULL, related_name="known_errors")
    symptom = models.TextField()
    root_cause = models.TextField(blank=True)
    workaround = models.TextField(blank=True)
    affected_cis = models.ManyToManyField(
        "cmdb.CI", blank=True, related_name="known_errors", verbose_name="affected CIs"
    )
    active = models.BooleanField(default=True, help_text="Off: retired, no longer suggested.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("incidents:known_error_detail", args=[self.pk])


class ProblemTimelineEntry(models.Model):
    """One line of a problem's timeline: a note, a state change (with its note), a workaround
    posted, incidents linked or unlinked, a known error recorded. Written by
    ``incidents.services.problems`` only."""

    problem = models.ForeignKey(Problem, on_delete=models.CASCADE, related_name="timeline")
    time = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=ProblemTimelineKind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    author_name = models.CharField(max_length=150, help_text="The user, or the task or system that acted.")
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["time", "id"]
        verbose_name = "problem timeline entry"
        verbose_name_plural = "problem timeline entries"
        indexes = [models.Index(fields=["problem", "time"])]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.problem_id} at {self.time:%Y-%m-%d %H:%M}"
