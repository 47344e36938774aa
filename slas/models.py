"""Business calendars, SLA policies and targets, and SLA clocks (DESIGN.md §2).

A clock measures one metric (response or resolution) of one object — an incident today, a
vendor escalation later — through a generic relation, so this app never imports the apps above
it (DESIGN.md's import direction). The business-time maths lives in ``slas.businesstime``; every
change to a clock goes through ``slas.services``.
"""

import datetime
import zoneinfo

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from itom.models import ChangeLoggedModel, TimeStampedModel
from slas.choices import ClockEventKind, ClockState, Metric, Weekday

MIDNIGHT = datetime.time(0, 0)


def _hhmm(value):
    """``HH:MM`` of a time (or of the text a time was given as, before it is saved)."""
    return value.strftime("%H:%M") if isinstance(value, datetime.time) else str(value)[:5]


def validate_time_zone(value):
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a time zone name such as Europe/Paris or America/New_York.")


class BusinessCalendar(ChangeLoggedModel):
    """When the clock counts: weekly working hours in a time zone, minus holidays."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    time_zone = models.CharField(max_length=64, default=settings.TIME_ZONE, validators=[validate_time_zone])
    always_open = models.BooleanField(
        default=False, verbose_name="24 × 7", help_text="Every hour counts; working hours and holidays are ignored."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("slas:calendar_detail", args=[self.pk])


class WorkingHours(ChangeLoggedModel):
    """One working interval of a weekday, in the calendar's time zone. An ``end`` of 00:00 means
    midnight at the end of the day."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start = models.TimeField()
    end = models.TimeField(help_text="00:00 means midnight at the end of the day.")

    class Meta:
        ordering = ["calendar", "weekday", "start"]
        verbose_name = "working hours"
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")) | Q(end="00:00:00"), name="slas_hours_end_after_start"
            ),
        ]

    def __str__(self):
        return f"{self.get_weekday_display()} {_hhmm(self.start)}–{_hhmm(self.end)}"

    def clean(self):
        if self.start is not None and self.end is not None and self.end <= self.start and self.end != MIDNIGHT:
            raise ValidationError(
                {"end": "The end must be after the start (00:00 means midnight at the end of the day)."}
            )


class Holiday(ChangeLoggedModel):
    """A whole day the calendar does not count."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["calendar", "date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="slas_holiday_unique_date")]

    def __str__(self):
        return f"{self.date} {self.name}"  # ISO 8601, also before a date given as text is saved


def default_pause_states():
    return ["on_hold"]


def default_warning_thresholds():
    return [75, 90]


class SLAPolicy(ChangeLoggedModel):
    """Which incidents a policy applies to, on which calendar, and its targets per priority.

    An empty criterion matches everything; the active policy with the lowest ``order`` whose
    criteria all match applies."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    order = models.PositiveIntegerField(default=100, help_text="Lower first: the first matching policy applies.")
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="policies")
    priorities = models.JSONField(default=list, blank=True, help_text="Priorities (1–5) it applies to; empty: all.")
    teams = models.ManyToManyField("accounts.Team", blank=True, related_name="sla_policies")
    ci_classes = models.ManyToManyField(
        "cmdb.CIClass", blank=True, related_name="sla_policies", verbose_name="CI classes"
    )
    business_services = models.ManyToManyField(
        "cmdb.CI", blank=True, related_name="sla_policies", limit_choices_to={"ci_class__is_business_service": True}
    )
    pause_states = models.JSONField(
        default=default_pause_states, blank=True, help_text="Incident states in which the clocks stop counting."
    )
    warning_thresholds = models.JSONField(
        default=default_warning_thresholds, blank=True, help_text="Percentages of the target that raise a warning."
    )

    class Meta:
        ordering = ["order", "name"]
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("slas:policy_detail", args=[self.pk])

    def clean(self):
        from slas.states import subject_states

        errors = {}
        priorities = self.priorities if isinstance(self.priorities, list) else None
        if priorities is None or any(
            isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 5 for p in priorities
        ):
            errors["priorities"] = "A list of priorities from 1 to 5 (empty: every priority)."
        elif len(set(priorities)) != len(priorities):
            errors["priorities"] = "Each priority once."
        else:
            self.priorities = sorted(priorities)
        thresholds = self.warning_thresholds if isinstance(self.warning_thresholds, list) else None
        if thresholds is None or any(
            isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= 99 for t in thresholds
        ):
            errors["warning_thresholds"] = "A list of percentages from 1 to 99, such as [75, 90]."
        elif len(set(thresholds)) != len(thresholds):
            errors["warning_thresholds"] = "Each percentage once."
        else:
            self.warning_thresholds = sorted(thresholds)
        states = self.pause_states if isinstance(self.pause_states, list) else None
        known = [value for value, _ in subject_states()]
        if states is None or not all(isinstance(s, str) for s in states):
            errors["pause_states"] = 'A list of state names, such as ["on_hold"].'
        elif unknown := [s for s in states if known and s not in known]:
            errors["pause_states"] = f"Unknown state(s): {', '.join(unknown)}. Known states: {', '.join(known)}."
        elif len(set(states)) != len(states):
            errors["pause_states"] = "Each state once."
        if errors:
            raise ValidationError(errors)


class SLATarget(ChangeLoggedModel):
    """How much business time a metric may take at a priority under a policy."""

    policy = models.ForeignKey(SLAPolicy, on_delete=models.CASCADE, related_name="targets")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    priority = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    minutes = models.PositiveIntegerField(validators=[MinValueValidator(1)], help_text="Business minutes.")

    class Meta:
        ordering = ["policy", "metric", "priority"]
        verbose_name = "SLA target"
        constraints = [
            models.UniqueConstraint(fields=["policy", "metric", "priority"], name="slas_target_unique"),
            models.CheckConstraint(condition=Q(priority__gte=1, priority__lte=5), name="slas_target_priority_range"),
        ]

    def __str__(self):
        return f"{self.policy}: {self.get_metric_display()} P{self.priority} {self.minutes} min"


class SLAClock(TimeStampedModel):
    """One metric of one object, counted in business time.

    ``elapsed_seconds`` is the business time counted up to ``running_since`` (null unless the
    clock runs); ``due_at`` and ``warning_at`` (the next warning, at ``warning_pct``) are the
    wall-clock instants where the target and the next threshold fall, recomputed on every
    pause, resume and target change. Its ``events`` explain it (``slas.explain``)."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.PositiveBigIntegerField()
    subject = GenericForeignKey("content_type", "object_id")
    policy = models.ForeignKey(SLAPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="clocks")
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.PROTECT, related_name="clocks")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    priority = models.PositiveSmallIntegerField()
    target_seconds = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=ClockState.choices, default=ClockState.RUNNING)
    started_at = models.DateTimeField()
    running_since = models.DateTimeField(null=True, blank=True)
    elapsed_seconds = models.FloatField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
    warning_at = models.DateTimeField(null=True, blank=True)
    warning_pct = models.PositiveSmallIntegerField(null=True, blank=True)
    warned_pct = models.PositiveSmallIntegerField(default=0)
    breached_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["content_type", "object_id", "metric"]
        verbose_name = "SLA clock"
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id", "metric"], name="slas_clock_one_per_metric"),
        ]
        indexes = [
            models.Index(fields=["content_type", "object_id"]),
            models.Index(fields=["due_at"], condition=Q(state="running"), name="slas_clock_running_due"),
            models.Index(fields=["warning_at"], condition=Q(state="running"), name="slas_clock_running_warning"),
        ]

    def __str__(self):
        return f"{self.get_metric_display()} clock of {self.content_type.model} {self.object_id}"


class SLAClockEvent(models.Model):
    """What happened to a clock and why: the raw material of the explainable SLA timeline."""

    clock = models.ForeignKey(SLAClock, on_delete=models.CASCADE, related_name="events")
    time = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=ClockEventKind.choices)
    reason = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["clock", "time", "id"]
        verbose_name = "SLA clock event"

    def __str__(self):
        return f"{self.get_kind_display()} at {self.time:%Y-%m-%d %H:%M}"
