"""Change requests and their approvals, risk questionnaire, standard-change templates, blackout
windows and calendar feeds.

Every state change goes through ``changes.services`` (DESIGN.md §7); the transition tables are
in ``changes.choices``.
"""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from changes.choices import (
    ApproverKind,
    ChangeState,
    ChangeTimelineKind,
    ChangeType,
    CloseCode,
    Decision,
    RiskLevel,
    StageState,
    TemplateState,
)
from cmdb.choices import Environment
from itom.models import ChangeLoggedModel, NumberedModel, TimeStampedModel

# --- risk questionnaire -----------------------------------------------------------------------


class RiskQuestion(ChangeLoggedModel):
    """One question of the risk questionnaire (managers edit it). Each answer carries points."""

    text = models.CharField(max_length=300)
    help_text = models.CharField(max_length=300, blank=True)
    order = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True, help_text="Off: no longer asked; past answers stay.")

    class Meta:
        ordering = ["order", "id"]

    def __str__(self):
        return self.text


class RiskOption(ChangeLoggedModel):
    question = models.ForeignKey(RiskQuestion, on_delete=models.CASCADE, related_name="options")
    label = models.CharField(max_length=200)
    score = models.PositiveSmallIntegerField(default=0, help_text="Points this answer adds to the risk score.")
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["question", "order", "id"]

    def __str__(self):
        return f"{self.label} (+{self.score})"


# --- approval policies ------------------------------------------------------------------------


class ApprovalPolicy(ChangeLoggedModel):
    """Which approval stages a change of a type (and risk level) goes through. The most specific
    active policy wins: one naming the change's risk level over one for any level."""

    name = models.CharField(max_length=100, unique=True)
    change_type = models.CharField(max_length=10, choices=ChangeType.choices)
    risk_level = models.CharField(
        max_length=10, choices=RiskLevel.choices, blank=True, help_text="Empty: any risk level."
    )
    active = models.BooleanField(default=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["change_type", "risk_level", "name"]
        verbose_name_plural = "approval policies"
        constraints = [
            models.UniqueConstraint(
                fields=["change_type", "risk_level"],
                condition=Q(active=True),
                name="changes_one_active_policy_per_type_and_risk",
                violation_error_message="An active policy for this type and risk level already exists.",
            )
        ]

    def __str__(self):
        return self.name


class ApprovalPolicyStage(ChangeLoggedModel):
    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="stages")
    order = models.PositiveSmallIntegerField(default=1)
    name = models.CharField(max_length=100, help_text="e.g. Technical review, CAB, Manager sign-off.")
    approver_kind = models.CharField(max_length=16, choices=ApproverKind.choices, default=ApproverKind.TEAM)
    approver_team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The approver group when the approvers are a team.",
    )
    required_approvals = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    is_cab = models.BooleanField(default=False, help_text="This stage is decided by the change advisory board.")

    class Meta:
        ordering = ["policy", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "order"], name="changes_policy_stage_order_unique"),
            models.CheckConstraint(
                condition=~Q(approver_kind="team") | Q(approver_team__isnull=False),
                name="changes_policy_stage_team_named",
                violation_error_message="A stage approved by a team must name the team.",
            ),
        ]

    def __str__(self):
        return f"{self.policy}: {self.order}. {self.name}"


# --- standard change templates ----------------------------------------------------------------


class StandardChangeTemplate(ChangeLoggedModel):
    """A pre-approved, versioned recipe for a standard change. Revising an approved template
    makes a new draft version; approving it retires the previous version. Changes keep the
    version they were made from."""

    key = models.SlugField(max_length=100, help_text="Identifies the template across its versions.")
    version = models.PositiveIntegerField(default=1)
    state = models.CharField(max_length=10, choices=TemplateState.choices, default=TemplateState.DRAFT)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.ForeignKey(
        "incidents.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="change_templates"
    )
    assignment_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="change_templates"
    )
    implementation_plan = models.TextField()
    backout_plan = models.TextField()
    test_plan = models.TextField(blank=True)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, default=RiskLevel.LOW)
    ci_classes = models.ManyToManyField(
        "cmdb.CIClass", blank=True, related_name="+", help_text="The CI classes it applies to; empty: any."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="changes_template_key_version_unique"),
            models.UniqueConstraint(
                fields=["key"], condition=Q(state="approved"), name="changes_template_one_approved_version"
            ),
        ]

    def __str__(self):
        return f"{self.name} (v{self.version})"

    def get_absolute_url(self):
        return reverse("changes:template_detail", args=[self.pk])


# --- blackout windows -------------------------------------------------------------------------


class BlackoutWindow(ChangeLoggedModel):
    """A freeze: no change may be scheduled into it (unless an emergency justifies it). Global
    when it names no environment, class or service; otherwise it covers changes touching a CI of
    that environment, of those classes (and their subclasses) or impacting those services."""

    name = models.CharField(max_length=200)
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.TextField(blank=True)
    environment = models.CharField(max_length=20, choices=Environment.choices, blank=True)
    ci_classes = models.ManyToManyField("cmdb.CIClass", blank=True, related_name="+", verbose_name="CI classes")
    business_services = models.ManyToManyField(
        "cmdb.CI", blank=True, related_name="+", limit_choices_to={"ci_class__is_business_service": True}
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["start", "end"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="changes_blackout_end_after_start",
                violation_error_message="The end must be after the start.",
            )
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("changes:blackout_detail", args=[self.pk])

    def clean(self):
        super().clean()
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": "The end must be after the start."})


# --- change requests --------------------------------------------------------------------------


class ChangeRequest(NumberedModel, ChangeLoggedModel):
    number_prefix = "CHG"

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    justification = models.TextField(blank=True, help_text="Why the change is needed.")
    type = models.CharField(max_length=10, choices=ChangeType.choices, default=ChangeType.NORMAL)
    category = models.ForeignKey(
        "incidents.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="changes"
    )
    state = models.CharField(max_length=10, choices=ChangeState.choices, default=ChangeState.NEW)
    template = models.ForeignKey(
        StandardChangeTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="changes"
    )
    requester = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="requested_changes"
    )
    assignment_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="changes"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_changes"
    )
    affected_cis = models.ManyToManyField("cmdb.CI", blank=True, related_name="changes", verbose_name="affected CIs")
    # Derived from the CMDB whenever the affected CIs change (``cmdb.selectors.affected_ci_ids``).
    impacted_cis = models.ManyToManyField(
        "cmdb.CI",
        blank=True,
        related_name="impacting_changes",
        verbose_name="impacted CIs",
        help_text="Derived: the CIs downstream of the affected CIs.",
    )
    impacted_services = models.ManyToManyField(
        "cmdb.CI",
        blank=True,
        related_name="service_changes",
        verbose_name="impacted business services",
        help_text="Derived: the business services among the affected and impacted CIs.",
    )
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_end = models.DateTimeField(null=True, blank=True)
    actual_start = models.DateTimeField(null=True, blank=True)
    actual_end = models.DateTimeField(null=True, blank=True)
    implementation_plan = models.TextField(blank=True)
    backout_plan = models.TextField(blank=True)
    test_plan = models.TextField(blank=True)
    emergency_justification = models.TextField(
        blank=True, help_text="Why an emergency change may go ahead inside a blackout window."
    )
    close_code = models.CharField(max_length=24, choices=CloseCode.choices, blank=True)
    close_notes = models.TextField(blank=True)
    review_notes = models.TextField(blank=True, help_text="The post-implementation review.")
    # Risk: computed from the questionnaire and the CIs (``changes.risk``); a manager may override.
    risk_answers = models.ManyToManyField(RiskOption, blank=True, related_name="+")
    risk_score = models.PositiveSmallIntegerField(default=0)
    risk_level = models.CharField(max_length=10, choices=RiskLevel.choices, default=RiskLevel.LOW)
    risk_factors = models.JSONField(default=list, blank=True, help_text="How the score was reached.")
    risk_override = models.CharField(max_length=10, choices=RiskLevel.choices, blank=True)
    risk_override_reason = models.TextField(blank=True)
    risk_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Approvals: the round grows each time the approvals restart (rejection, reset).
    approval_round = models.PositiveIntegerField(default=0)
    approval_requested_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The loop with incidents: incidents waiting for this change, and incidents it caused.
    incidents = models.ManyToManyField("incidents.Incident", blank=True, related_name="changes")
    caused_incidents = models.ManyToManyField("incidents.Incident", blank=True, related_name="caused_by_changes")
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "planned_start", "planned_end"]),
            models.Index(fields=["assignee", "planned_start"]),
            models.Index(fields=["assignment_team", "state"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned_start__isnull=True)
                | Q(planned_end__isnull=True)
                | Q(planned_end__gt=F("planned_start")),
                name="changes_planned_end_after_start",
                violation_error_message="The planned end must be after the planned start.",
            ),
            models.CheckConstraint(
                condition=Q(actual_start__isnull=True)
                | Q(actual_end__isnull=True)
                | Q(actual_end__gte=F("actual_start")),
                name="changes_actual_end_after_start",
                violation_error_message="The actual end must not be before the actual start.",
            ),
        ]

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("changes:change_detail", args=[self.pk])

    def clean(self):
        super().clean()
        if self.planned_start and self.planned_end and self.planned_end <= self.planned_start:
            raise ValidationError({"planned_end": "The planned end must be after the planned start."})

    @property
    def effective_risk(self):
        """The risk level that counts: the manager's override, else the computed one."""
        return self.risk_override or self.risk_level


class ChangeApprovalStage(TimeStampedModel):
    """One stage of a change's approval round, copied from its policy when the round starts."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="approval_stages")
    round = models.PositiveIntegerField()
    order = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=100)
    approver_kind = models.CharField(max_length=16, choices=ApproverKind.choices)
    approver_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    required_approvals = models.PositiveSmallIntegerField(default=1)
    is_cab = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=StageState.choices, default=StageState.WAITING)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["change", "round", "order"]
        constraints = [
            models.UniqueConstraint(fields=["change", "round", "order"], name="changes_stage_unique"),
        ]
        indexes = [models.Index(fields=["state", "is_cab"])]

    def __str__(self):
        return f"{self.change_id} round {self.round}: {self.name} ({self.state})"


class ChangeApproval(models.Model):
    """One approver's decision on one stage. One per approver and stage (approving twice is a 409)."""

    stage = models.ForeignKey(ChangeApprovalStage, on_delete=models.CASCADE, related_name="decisions")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="change_approvals")
    decision = models.CharField(max_length=10, choices=Decision.choices)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["stage", "approver"], name="changes_one_decision_per_approver"),
        ]

    def __str__(self):
        return f"{self.approver} {self.decision} stage {self.stage_id}"


class ChangeTimelineEntry(models.Model):
    """One line of a change's timeline: a work note, a state change, an approval decision, a risk
    assessment or override, a schedule change, a link to an incident."""

    change = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="timeline")
    time = models.DateTimeField()
    kind = models.CharField(max_length=12, choices=ChangeTimelineKind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    author_name = models.CharField(max_length=150, help_text="The user, or the task or system that acted.")
    body = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["time", "id"]
        verbose_name = "change timeline entry"
        verbose_name_plural = "change timeline entries"
        indexes = [models.Index(fields=["change", "time"])]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.change_id} at {self.time:%Y-%m-%d %H:%M}"


# --- calendar subscriptions -------------------------------------------------------------------


def _feed_token():
    return secrets.token_urlsafe(32)


class CalendarFeed(TimeStampedModel):
    """A user's private iCalendar feed of the change calendar; the token in its URL is the
    credential (a mail client can't sign in), so it can be regenerated."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="change_calendar_feed")
    token = models.CharField(max_length=64, unique=True, default=_feed_token)
    last_fetched_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Change calendar feed of {self.user}"

    def regenerate(self):
        self.token = _feed_token()
        self.save(update_fields=["token", "updated_at"])
